"""A plain sliding-window rate limiter: the baseline bulkguard is compared against.

Per sender it counts ``message`` events over the last minute, hour and day of event
time (the clock never goes back on late events) and ``challenge``\\ s the sender the
first time a limit is exceeded, once per account, with score 1.0 and the exceeded
windows as reasons (``RATE_MINUTE``, ``RATE_HOUR``, ``RATE_DAY``). The output is a
spec-valid decisions file.

>>> import tempfile, os, json
>>> d = tempfile.mkdtemp()
>>> ev = os.path.join(d, "e.jsonl"); out = os.path.join(d, "d.jsonl")
>>> with open(ev, "w") as f:
...     for i in range(4):
...         _ = f.write(json.dumps({"type": "message", "ts": 100 + i, "sender": "s", "recipient": f"r{i}"}) + "\\n")
>>> rate_limit_decisions(ev, out, per_minute=2)
1
>>> d = json.loads(Path(out).read_text())
>>> d["line"], d["reasons"]
(3, ['RATE_MINUTE'])
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

import msgspec

from bulkguard.events import Message, read_events

WINDOWS = (("RATE_MINUTE", 60.0), ("RATE_HOUR", 3600.0), ("RATE_DAY", 86400.0))


class _Out(msgspec.Struct):
    line: int
    ts: float
    account: str
    action: str
    score: float
    reasons: list[str]


def rate_limit_decisions(events_path: str | Path, out_path: str | Path, per_minute: int = 20,
                         per_hour: int = 200, per_day: int = 1000) -> int:
    """Write the rate limiter's decisions for ``events_path`` to ``out_path``; return their count.

    A window holds the sender's messages with event time in ``(now - window, now]``;
    a limit is exceeded when a message makes a window's count larger than the limit.
    """
    limits = (per_minute, per_hour, per_day)
    # per sender: one deque of event times per window
    windows: dict[str, tuple[deque, deque, deque]] = {}
    challenged: set[str] = set()
    enc = msgspec.json.Encoder()
    n_out = 0
    clock = -math.inf
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "wb") as out:
        for n, ev in read_events(events_path):
            if ev.ts > clock:
                clock = ev.ts
            if type(ev) is not Message:
                continue
            s = ev.sender
            if s in challenged:
                continue
            w = windows.get(s)
            if w is None:
                w = windows[s] = (deque(), deque(), deque())
            reasons = []
            for (code, span), limit, dq in zip(WINDOWS, limits, w):
                dq.append(clock)
                edge = clock - span
                while dq[0] <= edge:
                    dq.popleft()
                if len(dq) > limit:
                    reasons.append(code)
            if reasons:
                challenged.add(s)
                del windows[s]
                out.write(enc.encode(_Out(n, ev.ts, s, "challenge", 1.0, reasons)) + b"\n")
                n_out += 1
    return n_out
