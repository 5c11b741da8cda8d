"""Attacks by someone who knows the rules (issue 15), measured end to end through ``replay``.

usage: python bench/adversarial.py [--out DIR] [--accounts 2000] [--days 2] [--seed 7]

Prints one row per attack: how many attacker actions it took to get the victim stopped
(challenge or higher), or that 50 could not; how many messages an evader got out before
it was stopped (median of five evaders); and for the timestamp attacks, what changed
against the clean, sorted stream of a simulated scenario. The attack generators are
``src/bulkguard/sim/attacks.py``, loaded by path, so that the same bench runs against an
older build (``PYTHONPATH=/path/to/old/src python bench/adversarial.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import statistics
import sys
from pathlib import Path

from bulkguard.eval import evaluate
from bulkguard.ingest.replay import replay
from bulkguard.sim import simulate

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("attacks", ROOT / "src/bulkguard/sim/attacks.py")
assert _spec is not None and _spec.loader is not None
attacks = importlib.util.module_from_spec(_spec)
sys.modules["attacks"] = attacks
_spec.loader.exec_module(attacks)

STOP = {"challenge", "suspend", "ban"}
MAX = 50


def run(lines: list[bytes], d: Path, name: str, window: float | None = None,
        max_window: float | None = None) -> list[dict]:
    d.mkdir(parents=True, exist_ok=True)
    ev = attacks.write(d / f"{name}.jsonl", lines)
    out = d / f"{name}.decisions.jsonl"
    kw = {}
    params = inspect.signature(replay).parameters
    if window is not None and "window" in params:
        kw["window"] = window
    if max_window is not None and "max_window" in params:
        kw["max_window"] = max_window
    replay(ev, str(out), **kw)
    return [json.loads(x) for x in out.read_bytes().splitlines()]


def first_stop(decs: list[dict], account: str) -> int | None:
    return next((d["line"] for d in decs if d["account"] == account and d["action"] in STOP), None)


def first_lines(lines: list[bytes], names: list[str]) -> list[int]:
    """1-based line of each name's first event (as sender, account or reporter)."""
    want, first = set(names), {}
    for i, raw in enumerate(lines, 1):
        e = json.loads(raw)
        for k in ("account", "sender", "reporter"):
            a = e.get(k)
            if a in want and a not in first:
                first[a] = i
    return [first[n] for n in names if n in first]


def victim_row(label: str, events: list[dict], who: dict, d: Path, name: str) -> str:
    lines = attacks.lines_of(events)
    decs = run(lines, d, name)
    stop = first_stop(decs, who["victim"])
    starts = first_lines(lines, who["attackers"])
    ladder = ["none", "throttle", "challenge", "suspend", "ban"]
    worst = max((x["action"] for x in decs if x["account"] == who["victim"]
                 and x["action"] in ladder), key=ladder.index, default="none")
    if stop is None:
        return f"| {label} | not stopped by {len(starts)} (worst action: {worst}) |"
    used = sum(1 for s in starts if s < stop)
    return f"| {label} | stopped after {used} (worst action: {worst}) |"


def evader_row(label: str, d: Path, register: bool, trick: bool) -> str:
    outs = []
    for seed in range(1, 6):
        events, who = attacks.evader(seed, register=register, trick=trick,
                                     rate=1.0 + 0.2 * (seed - 3))
        lines = attacks.lines_of(events)
        decs = run(lines, d, f"evader{seed}{register:d}{trick:d}")
        stop = first_stop(decs, who["evader"])
        msgs = [i for i, x in enumerate(lines, 1) if b'"sender":"%s"' % who["evader"].encode() in x]
        outs.append(len(msgs) if stop is None else sum(1 for i in msgs if i < stop))
    return (f"| {label} | median {statistics.median(outs):g} messages out of 500 "
            f"(each: {', '.join(map(str, outs))}) |")


def clock_rows(d: Path, accounts: int, days: float, seed: int) -> list[str]:
    sd = d / "background"
    simulate(sd, seed=seed, accounts=accounts, days=days)
    lines = (sd / "events.jsonl").read_bytes().splitlines(keepends=True)
    labels = str(sd / "labels.jsonl")

    def measure(name: str, ls: list[bytes], window: float | None = None,
                max_window: float | None = None) -> tuple[list[dict], object]:
        decs = run(ls, d, name, window, max_window)
        m = evaluate(str(d / f"{name}.jsonl"), labels, str(d / f"{name}.decisions.jsonl"))
        return decs, m

    clean, mc = measure("sorted", lines)

    def key(x: dict) -> tuple:
        return (x["ts"], x["account"], x["action"], x["score"], tuple(x["reasons"]))

    ref = sorted(map(key, clean))

    def row(label: str, decs: list[dict], m: object, skip: str | None = None) -> str:
        mine = sorted(key(x) for x in decs if x["account"] != skip)
        base = [k for k in ref if k[1] != skip]
        changed = len(set(mine) ^ set(base))
        accts = len({k[1] for k in set(mine) ^ set(base)})
        return (f"| {label} | {'same decisions' if mine == base else f'{changed} decisions differ, on {accts} accounts'}; "
                f"active legit stopped {m.fpr_active:.4f} (sorted {mc.fpr_active:.4f}); "  # type: ignore[attr-defined]
                f"compliant business msgs refused {m.business_compliant_reject_share:.4f} "  # type: ignore[attr-defined]
                f"(sorted {mc.business_compliant_reject_share:.4f}) |")  # type: ignore[attr-defined]

    # a message in the middle of the stream, from an account with nothing else at stake
    mid = len(lines) // 2
    while b'"type":"message"' not in lines[mid]:
        mid += 1
    sender = json.loads(lines[mid])["sender"]
    out = []
    for label, kw in (("one event with ts 1e308", {"ts": 1e308}),
                      ("one event with ts in milliseconds", {"scale": 1000.0})):
        decs, m = measure(label.replace(" ", "_"), attacks.poison(lines, mid, **kw))
        out.append(row(label, decs, m, skip=sender))
    # a burst far ahead from one account, in a stream delivered up to 60 s late: had it
    # moved stream time, the window would hold nothing after it
    j60 = attacks.jitter(lines, 60.0, seed)
    jmid = j60.index(lines[mid])
    for n in (8, 50):
        e = json.loads(lines[mid])
        burst = [json.dumps(dict(e, ts=e["ts"] + 365 * 86_400 + k, recipient=f"x{k}"),
                            separators=(",", ":")).encode() + b"\n" for k in range(n)]
        label = f"{n} consecutive events a year ahead from one sender, in 60 s of jitter"
        decs, m = measure(f"burst{n}", j60[:jmid] + burst + j60[jmid:])
        out.append(row(label, decs, m, skip=sender))
    j600 = attacks.jitter(lines, 600.0, seed)
    params = inspect.signature(replay).parameters
    for label, ls, window, cap in (("jitter 60 s", attacks.jitter(lines, 60.0, seed), None, None),
                                   ("jitter 600 s (default)", j600, None, None),
                                   ("jitter 600 s, fixed 60 s window", j600, None, 60.0),
                                   ("jitter 600 s, --window 600", j600, 600.0, None),
                                   ("jitter 1200 s (default)", attacks.jitter(lines, 1200.0, seed),
                                    None, None),
                                   ("full shuffle", attacks.shuffle(lines, seed), None, None)):
        if (window is not None and "window" not in params) or \
                (cap is not None and "max_window" not in params):
            continue
        name = label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
        decs, m = measure(name, ls, window, cap)
        out.append(row(label, decs, m))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/out/adversarial")
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-clock", action="store_true", help="only the account-level attacks")
    args = ap.parse_args()
    d = Path(args.out)
    print("| attack | outcome |\n|---|---|")
    for kind, victim in (("personal", "established user (two-way chats with 5)"),
                         ("business", "business with 234 two-way chats")):
        for device in (False, True):
            what = "IP + number block" + (" + device" if device else "")
            ev, who = attacks.framing(args.seed, MAX, device=device, kind=kind)
            print(victim_row(f"framing ({what}), {victim}: throwaways", ev, who, d,
                             f"framing_{kind}_{device:d}"), flush=True)
    ev, who = attacks.brigade(args.seed, MAX)
    print(victim_row("partner brigade, established user: partners answered once", ev, who, d,
                     "brigade"), flush=True)
    for register, trick, label in ((True, True, "contact-add evader, new account"),
                                   (False, True, "contact-add evader, account from before the stream"),
                                   (True, False, "same sender without contact_add, new account"),
                                   (False, False, "same sender without contact_add, account from before")):
        print(evader_row(label, d, register, trick), flush=True)
    if not args.skip_clock:
        for r in clock_rows(d, args.accounts, args.days, args.seed):
            print(r, flush=True)


if __name__ == "__main__":
    main()
