"""Hand-made scenario for the evaluator; every expected number is worked out in test_metrics.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# (type, ts, fields) — line numbers are the 1-based positions in this list
EVENTS = [
    ("register", 1, {"account": "a1"}),                                   # 1
    ("message", 10, {"sender": "a1", "recipient": "r1"}),                  # 2
    ("message", 11, {"sender": "a1", "recipient": "r2"}),                  # 3  rejected
    ("message", 12, {"sender": "a1", "recipient": "r3"}),                  # 4
    ("message", 13, {"sender": "a1", "recipient": "r4"}),                  # 5  a1 challenged
    ("group_join", 14, {"group": "g1", "member": "m1", "added_by": "a1"}),  # 6
    ("group_join", 15, {"group": "g1", "member": "m2", "added_by": "a1"}),  # 7
    ("report", 16, {"reporter": "r1", "reported": "a1", "reason": "spam"}),  # 8
    ("message", 20, {"sender": "a1", "recipient": "r5"}),                  # 9
    ("group_create", 21, {"account": "a2", "group": "g2"}),               # 10
    ("group_join", 22, {"group": "g2", "member": "m3", "added_by": "a2"}),  # 11
    ("group_join", 23, {"group": "g2", "member": "m4", "added_by": "a2"}),  # 12
    ("group_join", 24, {"group": "g2", "member": "m5", "added_by": "a2"}),  # 13
    ("message", 25, {"sender": "a2", "group": "g2"}),                     # 14
    ("report", 26, {"reporter": "r2", "reported": "a2"}),                 # 15
    ("message", 27, {"sender": "a2", "group": "g2"}),                     # 16 a2 banned
    ("register", 30, {"account": "a3"}),                                  # 17 a3 suspended
    ("message", 31, {"sender": "a3", "recipient": "r6"}),                  # 18
    ("message", 32, {"sender": "a3", "recipient": "r7"}),                  # 19
    ("register", 40, {"account": "a4", "kind": "business"}),              # 20
    ("message", 41, {"sender": "a4", "recipient": "r8", "template": "t"}),  # 21 rejected
    ("message", 42, {"sender": "a4", "recipient": "r9", "template": "t"}),  # 22 rejected
    ("message", 43, {"sender": "a4", "recipient": "r10", "template": "t"}),  # 23
    ("message", 50, {"sender": "l1", "recipient": "l2"}),                  # 24 l1 throttled
    ("block", 51, {"blocker": "l3", "blocked": "a1"}),                    # 25 l2 challenged
    ("contact_add", 52, {"account": "l3", "contact": "l1"}),              # 26 l3 banned
    ("register", 60, {"account": "l4", "kind": "business"}),              # 27
    ("message", 61, {"sender": "l4", "recipient": "c1"}),                  # 28
    ("message", 62, {"sender": "l4", "recipient": "c2"}),                  # 29 rejected
    ("message", 63, {"sender": "l4", "recipient": "c3"}),                  # 30
    ("message", 64, {"sender": "l4", "recipient": "c4"}),                  # 31
    ("register", 70, {"account": "l5"}),                                  # 32 x9 challenged
]

LABELS = [
    ("a1", "abusive", "blaster"), ("a2", "abusive", "grouper"), ("a3", "abusive", "blaster"),
    ("a4", "abusive", "spam_business"),
    ("l1", "legit", "human"), ("l2", "legit", "human"), ("l3", "legit", "human"),
    ("l4", "legit", "business"), ("l5", "legit", "new_user"),
]

# (line, account, action, score)
DECISIONS = [
    (3, "a1", "reject", 0.3), (5, "a1", "challenge", 0.8), (16, "a2", "ban", 0.95),
    (17, "a3", "suspend", 0.7), (21, "a4", "reject", 0.4), (22, "a4", "reject", 0.4),
    (24, "l1", "throttle", 0.5), (25, "l2", "challenge", 0.6), (26, "l3", "ban", 0.9),
    (29, "l4", "reject", 0.1), (32, "x9", "challenge", 0.6),
]


def write_jsonl(path: Path, rows) -> Path:
    with open(path, "w") as f:
        for r in rows:
            f.write(r if isinstance(r, str) else json.dumps(r))
            f.write("\n")
    return path


def decision(line: int, account: str, action: str, score: float = 0.5, ts=None, reasons=("X",)):
    return {"line": line, "ts": EVENTS[line - 1][1] if ts is None else ts, "account": account,
            "action": action, "score": score, "reasons": list(reasons)}


@pytest.fixture()
def scenario(tmp_path: Path):
    ev = write_jsonl(tmp_path / "events.jsonl",
                     [{"type": t, "ts": ts, **f} for t, ts, f in EVENTS])
    lab = write_jsonl(tmp_path / "labels.jsonl",
                      [{"account": a, "label": lb, "archetype": ar} for a, lb, ar in LABELS])
    dec = write_jsonl(tmp_path / "decisions.jsonl",
                      [decision(ln, a, act, s) for ln, a, act, s in DECISIONS])
    return ev, lab, dec


@pytest.fixture()
def h():
    """Helpers for tests (test modules do not import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(EVENTS=EVENTS, decision=decision, write_jsonl=write_jsonl)
