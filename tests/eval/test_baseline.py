"""The rate-limit baseline writes spec-valid decisions that match a naive reference."""

from __future__ import annotations

import bisect
import json
import random
import subprocess
import sys

from bulkguard.eval.baseline import rate_limit_decisions

CHECK = "/work/shared/tools/check_decisions.py"
SAMPLE = "/work/shared/spec/sample/"


def _check(events, decisions) -> None:
    r = subprocess.run([sys.executable, CHECK, str(events), str(decisions)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sample_stream(tmp_path):
    out = tmp_path / "base.jsonl"
    assert rate_limit_decisions(SAMPLE + "events.jsonl", out) == 1
    d = json.loads(out.read_text())
    # blaster's messages are 2 s apart from line 19: the 21st within a minute is line 40
    assert d == {"line": 40, "ts": 1575677443.0, "account": "blaster", "action": "challenge",
                 "score": 1.0, "reasons": ["RATE_MINUTE"]}
    _check(SAMPLE + "events.jsonl", out)


def test_sample_bad_lines(tmp_path):
    out = tmp_path / "base.jsonl"
    assert rate_limit_decisions(SAMPLE + "bad.jsonl", out, per_minute=0) == 1
    _check(SAMPLE + "bad.jsonl", out)


def _stream(seed: int = 3):
    """Three heavy senders (minute, hour, day limits) among light ones, with late events,
    a bad line and empty lines."""
    rnd = random.Random(seed)
    evs = []
    evs += [(1000 + i * 1.5, "burst") for i in range(30)]               # 40/min
    evs += [(2000 + i * 15.0, "hourly") for i in range(260)]            # 4/min, 240/h
    evs += [(3000 + i * 80.0, "daily") for i in range(1100)]            # 45/h, 1080/day
    evs += [(rnd.uniform(0, 90000), f"h{rnd.randrange(40)}") for _ in range(1500)]
    evs.sort()
    lines = []
    for k, (ts, s) in enumerate(evs):
        if k % 97 == 5:
            ts -= 30  # a late event: the clock does not go back
        lines.append(json.dumps({"type": "message", "ts": ts, "sender": s, "recipient": "r"}))
        if k % 500 == 7:
            lines.append("")
        if k % 700 == 9:
            lines.append('{"type": "message", "ts": "soon"}')
        if k % 300 == 11:
            lines.append(json.dumps({"type": "register", "ts": ts, "account": s}))
    return lines


def _reference(lines, limits):
    """Naive re-count: for each message, the sender's messages in (clock - span, clock]."""
    spans = (("RATE_MINUTE", 60.0), ("RATE_HOUR", 3600.0), ("RATE_DAY", 86400.0))
    seen: dict[str, list[float]] = {}
    done, out, clock = set(), [], float("-inf")
    for n, raw in enumerate(lines, 1):
        try:
            e = json.loads(raw)
            assert isinstance(e["ts"], float)
        except Exception:
            continue
        clock = max(clock, e["ts"])
        if e["type"] != "message" or e["sender"] in done:
            continue
        s = e["sender"]
        seen.setdefault(s, []).append(clock)
        ts_list = seen[s]
        reasons = [c for (c, span), lim in zip(spans, limits)
                   if len(ts_list) - bisect.bisect_right(ts_list, clock - span) > lim]
        if reasons:
            done.add(s)
            out.append((n, s, reasons))
    return out


def test_generated_stream_matches_reference_and_spec(tmp_path):
    lines = _stream()
    ev = tmp_path / "events.jsonl"
    ev.write_text("\n".join(lines) + "\n")
    out = tmp_path / "base.jsonl"
    n = rate_limit_decisions(ev, out)
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert n == len(got)
    assert [(d["line"], d["account"], d["reasons"]) for d in got] == _reference(lines, (20, 200, 1000))
    assert {d["account"]: d["reasons"][0] for d in got} == {
        "burst": "RATE_MINUTE", "hourly": "RATE_HOUR", "daily": "RATE_DAY"}
    assert all(d["action"] == "challenge" and d["score"] == 1.0 for d in got)
    _check(ev, out)
