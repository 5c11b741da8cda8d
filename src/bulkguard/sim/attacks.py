"""Attacks by someone who knows the rules, as small deterministic event generators.

Used by ``tests/adversarial`` (each attack with its expected outcome) and
``bench/adversarial.py`` (how many attacker actions it takes to stop a victim, how many
messages an evader gets out). Offline, like the rest of ``sim/``: the engine never
imports it, and it imports nothing of the engine, so the bench can run it against an
older build too.

Every generator returns ``(events, who)``: plain event dicts (any order; ``write`` sorts
them by ``ts``, ties in the order given) and the names that matter to the outcome.

* ``framing``: a victim with an established two-way history; throwaway accounts
  register one by one on its IP and phone-number block (and device) and get themselves
  stopped by blasting strangers.
* ``brigade``: accounts each write to the victim, get one polite reply ("who is this?"),
  then report and block it.
* ``evader``: an account writes to 500 strangers at one message a second, adding each as a
  contact just before, with random digests and typing times.
* ``poison``, ``jitter``, ``shuffle``: a broken or hostile producer's timestamps on an
  existing stream (lines of JSON).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

T0 = 1_700_000_000.0
DAY = 86_400.0
VICTIM_IP = "198.51.100.7"
VICTIM_PHONE = "+4915112345678"
VICTIM_DEVICE = "dev-victim-1"

Event = dict[str, object]
STOP = ("challenge", "suspend", "ban")   # the actions that stop an account


def stopped(decisions: Iterable[dict]) -> set[str]:
    """Accounts a list of decisions (dicts) stopped."""
    return {d["account"] for d in decisions if d["action"] in STOP}


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def _msg(ts: float, s: str, r: str, rng: random.Random, typing: bool = True) -> Event:
    return {"type": "message", "ts": round(ts, 3), "sender": s, "recipient": r, "kind": "text",
            "size": rng.randint(10, 200), "digest": _hex(rng),
            "typing_ms": rng.randint(1500, 9000) if typing else 0}


def _chat(ev: list[Event], rng: random.Random, a: str, b: str, t: float, turns: int) -> float:
    """A conversation of ``turns`` messages, ``a`` first; returns the time of the last."""
    for k in range(turns):
        t += rng.uniform(20, 600)
        ev.append(_msg(t, a if k % 2 == 0 else b, b if k % 2 == 0 else a, rng))
    return t


def established_victim(rng: random.Random, kind: str, register: bool = True,
                       friends: int = 5) -> tuple[list[Event], str, list[str]]:
    """A victim registered at ``T0`` that spends two days in two-way chats: with
    ``friends`` people (``kind="personal"``), or, for a business, with 234 customers who
    opted in and wrote to it (its answers are within the 24-hour window)."""
    v = "victim"
    ev: list[Event] = []
    if register:
        ev.append({"type": "register", "ts": T0, "account": v, "kind": kind, "ip": VICTIM_IP,
                   "phone": VICTIM_PHONE, "device": VICTIM_DEVICE, "country": "DE",
                   "client": "app/2.1"})
    partners = [f"friend{i}" for i in range(friends)] if kind == "personal" else \
        [f"customer{i}" for i in range(234)]
    for i, p in enumerate(partners):
        t = T0 + 600 + i * (2 * DAY - 3600) / len(partners)
        if kind == "personal":
            ev.append({"type": "contact_add", "ts": t, "account": v, "contact": p})
            ev.append({"type": "contact_add", "ts": t + 5, "account": p, "contact": v})
            for day in range(2):
                _chat(ev, rng, v if day == 0 else p, p if day == 0 else v, t + day * 40_000, 6)
        else:
            ev.append({"type": "optin", "ts": t, "business": v, "customer": p, "source": "qr"})
            _chat(ev, rng, p, v, t + 10, 4)
    return ev, v, partners


def _blast(ev: list[Event], rng: random.Random, who: str, t: float, n: int, tag: str) -> None:
    """``who`` sends one spam text to ``n`` strangers within a minute, pasted."""
    dg = _hex(rng)
    for k in range(n):
        ev.append({"type": "message", "ts": round(t + k * 2.0, 3), "sender": who,
                   "recipient": f"{tag}-target{k}", "kind": "link", "digest": dg, "typing_ms": 0})


def framing(seed: int, n: int, device: bool = False, kind: str = "personal"
            ) -> tuple[list[Event], dict[str, object]]:
    """Up to ``n`` throwaways register on the victim's IP and number block (and device),
    two days after the victim, and get themselves stopped. The victim goes on living its
    life: after every fifth throwaway it writes to someone new, who answers."""
    rng = random.Random(seed)
    ev, v, _ = established_victim(rng, kind)
    start = T0 + 2 * DAY + 3600
    block = VICTIM_PHONE[:-3]
    throwaways = []
    for i in range(n):
        a = f"throwaway{i}"
        throwaways.append(a)
        t = start + i * 300.0
        reg: Event = {"type": "register", "ts": t, "account": a, "ip": VICTIM_IP,
                      "phone": f"{block}{rng.randrange(1000):03d}", "country": "DE",
                      "client": "app/2.1"}
        if device:
            reg["device"] = VICTIM_DEVICE
        ev.append(reg)
        _blast(ev, rng, a, t + 30, 25, a)
        if i % 5 == 4:
            nb = f"acquaintance{i}"
            if kind == "personal":
                ev.append(_msg(t + 200, v, nb, rng))
                ev.append(_msg(t + 260, nb, v, rng))
            else:   # a new customer opts in and writes; the business answers
                ev.append({"type": "optin", "ts": t + 190, "business": v, "customer": nb,
                           "source": "qr"})
                ev.append(_msg(t + 200, nb, v, rng))
                ev.append(_msg(t + 260, v, nb, rng))
    return ev, {"victim": v, "attackers": throwaways}


def brigade(seed: int, n: int, kind: str = "personal") -> tuple[list[Event], dict[str, object]]:
    """``n`` accounts each write to the victim, get one polite reply, then report (with
    the victim's reply as the reported text) and block it."""
    rng = random.Random(seed)
    ev, v, _ = established_victim(rng, kind)
    start = T0 + 2 * DAY + 3600
    members = []
    for j in range(n):
        p = f"partner{j}"
        members.append(p)
        t = start + j * 240.0
        ev.append(_msg(t, p, v, rng))
        ev.append(_msg(t + rng.uniform(30, 120), v, p, rng))   # "who is this?"
        ev.append({"type": "report", "ts": t + 150, "reporter": p, "reported": v,
                   "reason": "spam", "messages": ["who is this?"]})
        ev.append({"type": "block", "ts": t + 151, "blocker": p, "blocked": v})
    return ev, {"victim": v, "attackers": members}


def evader(seed: int, n: int = 500, register: bool = True, trick: bool = True,
           rate: float = 1.0) -> tuple[list[Event], dict[str, object]]:
    """An account writes to ``n`` strangers at ``rate`` messages a second, each with a
    random digest and typing time; with ``trick`` it adds each stranger as a contact just
    before writing. Nobody answers."""
    rng = random.Random(seed)
    e = f"evader{seed}"
    ev: list[Event] = []
    start = T0 + 3600
    if register:
        ev.append({"type": "register", "ts": start - 1800, "account": e,
                   "ip": f"203.0.113.{seed % 250}", "phone": f"+4917{seed:09d}",
                   "device": f"dev-evader-{seed}", "country": "DE", "client": "app/2.1"})
    for k in range(n):
        t = start + k / rate
        s = f"stranger{seed}-{k}"
        if trick:
            ev.append({"type": "contact_add", "ts": round(t - 0.4, 3), "account": e, "contact": s})
        ev.append({"type": "message", "ts": round(t, 3), "sender": e, "recipient": s,
                   "kind": "text", "size": rng.randint(40, 400), "digest": _hex(rng),
                   "typing_ms": rng.randint(800, 6000)})
    return ev, {"evader": e}


def lines_of(events: Iterable[Event]) -> list[bytes]:
    """Events as JSON lines sorted by ts (ties keep the given order)."""
    return [json.dumps(x, separators=(",", ":")).encode() + b"\n"
            for x in sorted(events, key=lambda x: float(x["ts"]))]  # type: ignore[arg-type]


def write(path: str | Path, lines: Iterable[bytes]) -> str:
    with open(path, "wb") as f:
        f.writelines(lines)
    return str(path)


def replay_lines(lines: list[bytes], path: str | Path, **kw: object) -> list[dict]:
    """Write ``lines`` to ``path``, replay them (``kw`` for ``replay``) and return the
    decisions as dicts. (The engine is imported here, not above: see the module docstring.)"""
    from bulkguard.ingest.replay import replay
    ev = write(path, lines)
    out = Path(f"{path}.decisions.jsonl")
    replay(ev, str(out), **kw)  # type: ignore[arg-type]
    return [json.loads(x) for x in out.read_bytes().splitlines()]


def _ts(line: bytes) -> float:
    return float(json.loads(line)["ts"])


def poison(lines: list[bytes], at: int, ts: float | None = None, scale: float = 1.0) -> list[bytes]:
    """A copy of ``lines`` where line ``at`` (0-based) carries ``ts`` (or its own ts times
    ``scale``, e.g. 1000 for milliseconds)."""
    e = json.loads(lines[at])
    e["ts"] = ts if ts is not None else e["ts"] * scale
    out = list(lines)
    out[at] = json.dumps(e, separators=(",", ":")).encode() + b"\n"
    return out


def jitter(lines: list[bytes], seconds: float, seed: int) -> list[bytes]:
    """``lines`` as delivered by producers late by up to ``seconds`` each (uniform): the
    order of ``ts + delay``; ``ts`` itself is unchanged."""
    rng = random.Random(seed)
    keyed = [(_ts(x) + rng.uniform(0, seconds), i) for i, x in enumerate(lines)]
    keyed.sort()
    return [lines[i] for _, i in keyed]


def shuffle(lines: list[bytes], seed: int) -> list[bytes]:
    out = list(lines)
    random.Random(seed).shuffle(out)
    return out
