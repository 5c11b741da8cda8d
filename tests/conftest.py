"""Shared fixtures for the engine's tests: the shared sample, the decisions checker and a
deterministic generator of realistic event streams (humans, blasters, bad lines)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLE = SHARED / "spec" / "sample"
CHECKER = SHARED / "tools" / "check_decisions.py"
T0 = 1_700_000_000.0


def _need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"shared file not found: {p}")
    return p


@pytest.fixture(scope="session")
def sample_events() -> Path:
    """``shared/spec/sample/events.jsonl``: the valid sample stream."""
    return _need(SAMPLE / "events.jsonl")


@pytest.fixture(scope="session")
def sample_bad() -> Path:
    """``shared/spec/sample/bad.jsonl``: 7 bad lines, 2 valid, 1 empty."""
    return _need(SAMPLE / "bad.jsonl")


def check_decisions(events: str | Path, decisions: str | Path) -> str:
    """Run the shared checker on a decisions file; assert it passes and return its output."""
    _need(CHECKER)
    r = subprocess.run([sys.executable, str(CHECKER), str(events), str(decisions)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"check_decisions.py failed:\n{r.stdout}{r.stderr}"
    return r.stdout


@pytest.fixture(name="check_decisions", scope="session")
def check_decisions_fixture():
    """The :func:`check_decisions` helper, as a fixture (test modules cannot import conftest)."""
    return check_decisions


# -- stream generator --------------------------------------------------------------------

BAD_LINES = [
    b"this is not json",
    b'{"type":"message","ts":1,"sender":"a"}',
    b'{"type":"message","ts":"yesterday","sender":"a","recipient":"b"}',
    b'{"type":"teleport","ts":1,"account":"a"}',
    b'{"type":"register","ts":1,"account":"z","kind":"robot"}',
    b'{"type":"message","ts":1,"sender":"a","recipient":"b","forwarded":-3}',
    b'{"type":"block","ts":NaN,"blocker":"a","blocked":"b"}',
    b'{"type":"block","ts":1e999,"blocker":"a","blocked":"b"}',
    b"[1,2,3]",
    b'{"type":"contact_sync","ts":1,"account":"a","numbers":-1,"matched":0}',
    b'{"type":"block","ts":1,"blocker":"caf\xe9","blocked":"b"}',
]


def _line(type_: str, ts: float, **fields) -> bytes:
    return json.dumps({"type": type_, "ts": round(ts, 3), **fields},
                      separators=(",", ":")).encode()


def gen_stream(n_lines: int, seed: int = 1, *, blasters: int = 3, bad_every: int = 400,
               humans: int = 200) -> list[bytes]:
    """About ``n_lines`` JSONL lines (no newlines): people chatting with their contacts
    (with replies), a business with and without opt-ins, groups, feedback, late events,
    ``blasters`` bulk senders that register and blast one digest to strangers, and a bad
    or empty line every ~``bad_every`` lines."""
    rng = random.Random(seed)
    out: list[bytes] = []
    t = T0
    people = [f"h{i}" for i in range(humans)]
    contacts = {p: rng.sample(people, 6) for p in people}
    for p in people[: humans // 4]:
        out.append(_line("register", t, account=p, phone=f"+49151{rng.randrange(10**7):07d}",
                         ip=f"198.51.100.{rng.randrange(256)}", device=f"d-{p}", country="DE"))
    for p in people:
        for c in contacts[p]:
            out.append(_line("contact_add", t, account=p, contact=c))
    out.append(_line("register", t, account="shop", kind="business"))
    out.append(_line("template_register", t, business="shop", template="promo", category="marketing"))
    out.append(_line("group_create", t, account="h0", group="family", size_limit=50))
    # blaster schedule: start line -> blaster
    starts = sorted(rng.sample(range(n_lines // 10, max(n_lines // 10 + 1, n_lines * 8 // 10)),
                    blasters)) if blasters else []
    active: list[list] = []   # [name, next message index]
    nb = 0
    while len(out) < n_lines:
        t += rng.expovariate(4.0)
        if starts and len(out) >= starts[0]:
            starts.pop(0)
            name = f"blaster{nb}"
            nb += 1
            out.append(_line("register", t, account=name, phone=f"+4915299{nb:07d}",
                             ip="192.0.2.66", device=f"dev-x{nb}", client="android/2.19.3",
                             country="DE"))
            out.append(_line("contact_sync", t + 0.5, account=name, numbers=5000, matched=60))
            active.append([name, 0])
            continue
        if active and rng.random() < 0.25:
            b = rng.choice(active)
            out.append(_line("message", t, sender=b[0], recipient=f"s{b[0]}_{b[1]}", kind="link",
                             size=310, digest="9f3a5c7e11d0b2a4", typing_ms=0))
            b[1] += 1
            if b[1] >= 120:
                active.remove(b)
            continue
        r = rng.random()
        if bad_every and rng.randrange(bad_every) == 0:
            out.append(rng.choice(BAD_LINES) if rng.random() < 0.8 else b"")
        elif r < 0.80:
            a = rng.choice(people)
            c = rng.choice(contacts[a])
            out.append(_line("message", t, sender=a, recipient=c, kind="text",
                             size=rng.randrange(1, 400), typing_ms=rng.randrange(500, 9000)))
            if rng.random() < 0.7:
                out.append(_line("message", t + 1, sender=c, recipient=a, kind="text",
                                 size=rng.randrange(1, 400)))
        elif r < 0.84:
            out.append(_line("message", t - rng.uniform(1, 30), sender=rng.choice(people),
                             group="family", kind="image", size=1000, forwarded=rng.randrange(3)))
        elif r < 0.86:
            out.append(_line("group_join", t, group="family", member=rng.choice(people),
                             **({"added_by": "h0"} if rng.random() < 0.5 else {})))
        elif r < 0.88:
            c = rng.choice(people)
            out.append(_line("optin", t, business="shop", customer=c, source="qr"))
            out.append(_line("message", t + 1, sender="shop", recipient=c, template="promo"))
        elif r < 0.89:
            out.append(_line("message", t, sender="shop", recipient=rng.choice(people),
                             template="promo"))
        elif r < 0.90:
            out.append(_line("optout", t, business="shop", customer=rng.choice(people)))
        elif r < 0.92 and nb:
            victim = f"sblaster{rng.randrange(nb)}_{rng.randrange(40)}"
            out.append(_line(rng.choice(["block", "report"]), t,
                             **({"blocker": victim, "blocked": f"blaster{rng.randrange(nb)}"}
                                if rng.random() < 0.5 else
                                {"reporter": victim, "reported": f"blaster{rng.randrange(nb)}",
                                 "reason": "spam", "messages": ["Win a prize! example.invalid"]})))
        elif r < 0.94:
            out.append(_line("contact_sync", t, account=rng.choice(people), numbers=200,
                             matched=rng.randrange(40, 120)))
        else:
            a = rng.choice(people)
            out.append(_line("message", t, sender=a, recipient=rng.choice(contacts[a]),
                             kind="text", size=20, extra_unknown_field=True))
    return out[:n_lines]


def write_stream(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="session")
def make_stream():
    """``make_stream(n_lines, seed=1, **kw) -> list[bytes]`` (see :func:`gen_stream`)."""
    return gen_stream


@pytest.fixture(scope="session")
def blaster_stream(tmp_path_factory) -> Path:
    """A 3,000-line generated stream with two blasters and some bad lines, on disk."""
    return write_stream(tmp_path_factory.mktemp("gen") / "events.jsonl",
                        gen_stream(3000, seed=7, blasters=2, bad_every=150, humans=60))
