"""bulkguard against a naive rate limiter on the same stream, in the same run.

usage: python bench/peer.py [--events FILE ...] [--fast DIR] [--runs N] [--accounts N]
                            [--shared DIR] [--workers N]

The peer is what a platform could write in an afternoon: stdlib ``json`` per line, a dict
of per-sender deques, 20 messages per minute and 200 per hour, a ``throttle`` decision when
a sender goes over and a ``reinstate`` when it is back under. bulkguard is ``bulkguard
replay`` (read, validate, state, 60 signals, rules, model, business lane, write).

Every replay is a fresh process timed from start to exit (imports and model loading
included, for both), and the contenders take turns: each round runs the peer, the pure
build and, with ``--fast DIR`` (a compiled build installed with ``pip install --target``),
the compiled build, rotating who goes first. This machine's speed drifts by a fifth from
minute to minute, so the figure that counts is the ratio within a round; the median ratio
over the rounds is printed with its spread.

Without ``--events`` two streams are generated: the simulator's (~1 M events, 3 days) and
one with a real background (the simulator inside CollegeMsg, SNAP, from ``--shared``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

PER_MINUTE = 20
PER_HOUR = 200


def naive_rate_limiter(events: str, out: str) -> int:
    """The peer: per-sender sliding windows over event time; returns decisions written."""
    minute: dict[str, deque[float]] = {}
    hour: dict[str, deque[float]] = {}
    throttled: set[str] = set()
    written = 0
    with open(events, "rb") as f, open(out, "w", encoding="utf-8") as o:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(e, dict) or e.get("type") != "message":
                continue
            s = e["sender"]
            ts = float(e["ts"])
            m = minute.get(s)
            if m is None:
                m = minute[s] = deque()
                h = hour[s] = deque()
            else:
                h = hour[s]
            m.append(ts)
            h.append(ts)
            while m[0] <= ts - 60.0:
                m.popleft()
            while h[0] <= ts - 3600.0:
                h.popleft()
            over = len(m) > PER_MINUTE or len(h) > PER_HOUR
            if over != (s in throttled):
                if over:
                    throttled.add(s)
                    reasons = ["RATE_MINUTE"] if len(m) > PER_MINUTE else ["RATE_HOUR"]
                else:
                    throttled.discard(s)
                    reasons = ["RATE_RECOVERED"]
                o.write(json.dumps({"line": line_no, "ts": ts, "account": s,
                                    "action": "throttle" if over else "reinstate",
                                    "score": 1.0 if over else 0.0, "reasons": reasons}) + "\n")
                written += 1
    return written


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process, start to exit."""
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _env(pythonpath: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def compare(events: str, tmp: str, runs: int, fast: str | None, workers: int) -> dict:
    """Alternating rounds on one stream: rates per contender and bulkguard/peer ratios."""
    n = sum(1 for line in open(events, "rb") if line.strip())
    contenders: list[tuple[str, list[str], dict[str, str]]] = [
        ("peer", [sys.executable, __file__, "--peer-child", events, os.path.join(tmp, "peer.jsonl")],
         _env(None))]
    extra = ["--workers", str(workers)] if workers > 1 else []
    for name, path in (("pure", None), ("compiled", fast)):
        if name == "compiled" and not fast:
            continue
        out = os.path.join(tmp, f"{name}.jsonl")
        contenders.append((name, [sys.executable, "-m", "bulkguard", "replay", events, "--out", out,
                                  "--quiet", *extra], _env(path)))
    rates: dict[str, list[float]] = {c[0]: [] for c in contenders}
    ratios: dict[str, list[float]] = {c[0]: [] for c in contenders[1:]}
    for r in range(runs):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        got = {name: n / _timed(cmd, env) for name, cmd, env in order}
        for name, rate in got.items():
            rates[name].append(rate)
            if name != "peer":
                ratios[name].append(rate / got["peer"])
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in got.items()), flush=True)
    same = None
    if fast:
        same = Path(tmp, "pure.jsonl").read_bytes() == Path(tmp, "compiled.jsonl").read_bytes()
    return {"events": n, "rates": rates, "ratios": ratios, "pure_equals_compiled": same}


def _make_streams(tmp: str, accounts: int, shared: str) -> list[tuple[str, str]]:
    sim = os.path.join(tmp, "sim")
    bg = os.path.join(tmp, "bg")
    college = os.path.join(shared, "data", "collegemsg", "CollegeMsg.txt.gz")
    run = [sys.executable, "-m", "bulkguard", "simulate"]
    subprocess.run([*run, "--out", sim, "--seed", "2", "--accounts", str(accounts), "--days", "3"],
                   check=True, stdout=subprocess.DEVNULL)
    streams = [("simulator", os.path.join(sim, "events.jsonl"))]
    if os.path.exists(college):
        subprocess.run([*run, "--out", bg, "--seed", "3", "--accounts", str(accounts), "--days", "3",
                        "--background", college], check=True, stdout=subprocess.DEVNULL)
        streams.append(("simulator + CollegeMsg", os.path.join(bg, "events.jsonl")))
    else:
        print(f"no {college}: the real-background stream is skipped", file=sys.stderr)
    return streams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", nargs="*", help="events files (default: generate two streams)")
    ap.add_argument("--fast", help="directory of a compiled build (pip install --target DIR .)")
    ap.add_argument("--runs", type=int, default=5, help="alternating rounds per stream (default 5)")
    ap.add_argument("--accounts", type=int, default=17_000,
                    help="simulated humans per generated stream (default 17000: ~1 M events)")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"),
                    help="the shared directory with data/collegemsg (default ../shared)")
    ap.add_argument("--workers", type=int, default=1, help="bulkguard replay --workers N")
    ap.add_argument("--peer-child", nargs=2, help=argparse.SUPPRESS)   # internal: run the peer once
    args = ap.parse_args()
    if args.peer_child:
        naive_rate_limiter(*args.peer_child)
        return
    tmp = tempfile.mkdtemp(prefix="bulkguard-peer-")
    streams = ([(str(Path(*Path(e).parts[-2:])), e) for e in args.events] if args.events
               else _make_streams(tmp, args.accounts, args.shared))
    rows = []
    for label, path in streams:
        print(f"{label}: {path}", flush=True)
        res = compare(path, tmp, max(1, args.runs), args.fast, args.workers)
        rows.append((label, res))
        if res["pure_equals_compiled"] is False:
            print("  WARNING: the pure and compiled builds wrote different decisions", flush=True)
    print()
    print("| stream | events | contender | events/s (median) | spread | ratio to peer (median) | ratio spread |")
    print("|---|---|---|---|---|---|---|")
    for label, res in rows:
        for name, rs in res["rates"].items():
            ratio = res["ratios"].get(name)
            rtxt = (f"{statistics.median(ratio):.2f}x | {min(ratio):.2f}-{max(ratio):.2f}"
                    if ratio else "1 | -")
            print(f"| {label} | {res['events']:,} | {name} | {statistics.median(rs):,.0f} | "
                  f"{min(rs):,.0f}-{max(rs):,.0f} | {rtxt} |")
    if not args.events:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
