"""The engine end to end: the sample stream, speed of decision, late events, robustness on
generated streams and causality (a decision depends only on lines at or before it)."""

from __future__ import annotations

import json
import math
import random
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkguard.engine import Engine
from bulkguard.events import Block, Message, Register, decode_line, encode_event
from bulkguard.components import build_engine
from bulkguard.ingest.replay import replay
from test_events import any_event  # the per-type strategies (tests/ is on sys.path)

STOP = {"challenge", "suspend", "ban"}


def check_engine_out(tmp: Path, events: list, out: list, check) -> None:
    """Write events (line i = events[i-1]) and an engine's decisions to files; run the checker."""
    (tmp / "ev.jsonl").write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    (tmp / "out.jsonl").write_bytes(b"".join(msgspec.json.encode(d) + b"\n" for d in out))
    check(tmp / "ev.jsonl", tmp / "out.jsonl")
ORDER = ["throttle", "challenge", "suspend", "ban"]


def run(events: Path, out_dir: Path, name: str = "d") -> list[dict]:
    out = out_dir / f"{name}.jsonl"
    replay(str(events), str(out), rejected=str(out_dir / f"{name}.rejected.jsonl"))
    return [json.loads(x) for x in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def sample_run(sample_events, tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    decisions = run(sample_events, d)
    return decisions, d / "d.jsonl"


def test_sample_decisions_pass_checker(sample_run, sample_events, check_decisions):
    check_decisions(sample_events, sample_run[1])


def test_sample_stops_blaster_and_nobody_else(sample_run):
    decisions, _ = sample_run
    stopped = {d["account"] for d in decisions if d["action"] in STOP}
    assert stopped == {"blaster"}
    assert not [d for d in decisions if d["account"] in {"alice", "bob", "carol", "shop"}
                and d["action"] in STOP]
    # the ladder only climbs, and the first stop comes during the blast (before the report)
    bl = [d for d in decisions if d["account"] == "blaster"]
    assert [ORDER.index(d["action"]) for d in bl] == sorted(ORDER.index(d["action"]) for d in bl)
    first_stop = min(d["line"] for d in bl if d["action"] in STOP)
    assert first_stop < 47


def test_sample_rejects_winter_sale_without_optin(sample_run):
    decisions, _ = sample_run
    rejects = [d for d in decisions if d["action"] == "reject"]
    assert [(d["line"], d["account"]) for d in rejects] == [(16, "shop")]
    assert rejects[0]["reasons"][0] == "NO_OPTIN"


@pytest.mark.parametrize("digest", [None, "9f3a5c7e11d0b2a4"])
@pytest.mark.parametrize("kind", ["text", "link"])
def test_new_account_blast_stopped_within_20_messages(digest, kind, tmp_path, check_decisions):
    eng = build_engine()
    t0 = 1_700_000_000.0
    events = [Register(ts=t0, account="x", phone="+4915112340001", ip="192.0.2.1",
                       device="dx", country="DE"),
              # some ordinary traffic around it, so the engine is not looking at one account
              Message(ts=t0 + 100, sender="p", recipient="q"),
              Message(ts=t0 + 110, sender="q", recipient="p")]
    events += [Message(ts=t0 + 300 + i * 0.15, sender="x", recipient=f"stranger{i}", kind=kind,
                       size=120, digest=digest) for i in range(100)]   # 100 in 15 s
    first_stop = None
    out = []
    for n, ev in enumerate(events, 1):
        out += eng.handle(ev, n)
        if first_stop is None and any(d.account == "x" and d.action in STOP for d in out):
            first_stop = n - 3
    assert first_stop is not None and first_stop <= 20, first_stop
    assert not [d for d in out if d.account in ("p", "q")]
    check_engine_out(tmp_path, events, out, check_decisions)


def test_model_weight_zero_gives_no_model_reasons(sample_events):
    """Regression: MODEL_* reasons were listed when the model weight was 0."""
    from bulkguard.scoring.rules import Rules
    base = Rules.default()
    rules = Rules.from_toml(
        "[actions]\nthrottle = 0.4\nchallenge = 0.6\nsuspend = 0.8\nban = 0.95\n"
        "[model]\nweight = 0\n[[rule]]\ncode = \"SENT_ANYTHING\"\n"
        "when = [\"msgs_total >= 1\"]\nweight = 0.6\n")
    eng = build_engine()
    if eng.model is None:
        pytest.skip("no shipped model")
    eng.rules = rules
    assert base.rules != rules.rules
    out = []
    for n, raw in enumerate(sample_events.read_bytes().splitlines(), 1):
        out += eng.handle(decode_line(raw), n)
    reasons = [r for d in out for r in d.reasons]
    assert "SENT_ANYTHING" in reasons
    assert not [r for r in reasons if r.startswith("MODEL_")]


def test_late_event_accepted_clock_does_not_go_back(tmp_path, check_decisions):
    eng = Engine()
    eng.handle(Block(ts=100.0, blocker="a", blocked="b"), 1)
    eng.handle(Block(ts=50.0, blocker="c", blocked="b"), 2)
    assert eng.world.now == 100.0
    assert eng.world.accounts["b"].blocks == 2
    eng.handle(Message(ts=120.0, sender="a", recipient="z"), 3)
    assert eng.world.now == 120.0
    # through replay: the late line is accepted and its decisions carry its own ts
    lines = [encode_event(Register(ts=1000.0, account="x"))]
    lines += [encode_event(Message(ts=1001.0 + i, sender="x", recipient=f"u{i}", digest="ab12"))
              for i in range(10)]
    lines.append(encode_event(Message(ts=900.0, sender="x", recipient="late", digest="ab12")))
    lines += [encode_event(Message(ts=1011.0 + i, sender="x", recipient=f"v{i}", digest="ab12"))
              for i in range(10)]
    p = tmp_path / "late.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    r = replay(str(p), str(tmp_path / "d.jsonl"))
    assert (r.stats.read, r.stats.accepted, r.stats.rejected) == (22, 22, 0)
    check_decisions(p, tmp_path / "d.jsonl")


def test_empty_account_id_never_gets_a_bad_decision(tmp_path, check_decisions):
    """Regression: the engine acted on account \"\" (refused by check_decisions.py)."""
    lines = [b'{"type":"register","ts":0,"account":""}',
             b'{"type":"contact_sync","ts":1,"account":"","numbers":5000,"matched":40}']
    lines += [b'{"type":"message","ts":%d,"sender":"","recipient":"u%d","digest":"ab12"}'
              % (2 + i, i) for i in range(15)]
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    replay(str(p), str(tmp_path / "d.jsonl"))
    check_decisions(p, tmp_path / "d.jsonl")


# -- generated streams: never crash, every line accounted for --------------------------------

ids = st.sampled_from([f"a{i}" for i in range(12)])
ts = st.floats(min_value=0, max_value=5000, allow_nan=False)
valid_event = st.one_of(
    st.builds(Message, ts=ts, sender=ids, recipient=ids, digest=st.sampled_from(
        [None, "9f3a5c7e11d0b2a4", "9f3a5c7e11d0b2a5", "0000000000000000", "zz"]),
        forwarded=st.integers(0, 9), typing_ms=st.none() | st.integers(0, 5000),
        template=st.none() | st.just("t")),
    st.builds(Message, ts=ts, sender=ids, group=st.sampled_from(["g1", "g2"])),
    st.builds(Register, ts=ts, account=ids, kind=st.sampled_from(["personal", "business"]),
              phone=st.none() | st.sampled_from(["+4915112340001", "+12", "+15550100"]),
              ip=st.none() | st.just("192.0.2.1"), device=st.none() | st.just("d"),
              country=st.none() | st.sampled_from(["DE", "US", "zz"])),
)


def _garbage():
    return st.one_of(st.binary(max_size=40), st.text(max_size=40).map(str.encode),
                     st.sampled_from([b"[]", b"{}", b'{"type":"message"}', b"NaN", b"  "]))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_streams_never_crash(data, check_decisions):
    pieces = data.draw(st.lists(st.one_of(
        valid_event.map(encode_event), any_event.map(encode_event), valid_event.map(encode_event),
        _garbage(), st.just(b"")), max_size=60))
    # a line never contains a raw newline: split garbage on it
    lines = [p.replace(b"\n", b" ").replace(b"\r", b" ") for p in pieces]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "in.jsonl"
        p.write_bytes(b"".join(x + b"\n" for x in lines))
        r = replay(str(p), str(Path(d) / "d.jsonl"))
        s = r.stats
        assert s.read == len(lines)
        assert s.accepted + s.rejected + s.empty == s.read
        assert s.empty == sum(1 for x in lines if not x.strip())
        dead = [json.loads(x) for x in (Path(d) / "d.rejected.jsonl").read_bytes().splitlines()] \
            if (Path(d) / "d.rejected.jsonl").exists() else []
        assert len(dead) == s.rejected
        for rec in dead:
            raw = lines[rec["line"] - 1]
            assert (bytes.fromhex(rec["raw"]) if rec.get("raw_encoding") == "hex"
                    else rec["raw"].encode()) == raw
        dead_lines = {rec["line"] for rec in dead}
        # valid events far ahead of the stream's time are refused by the clock (docs/time.md)
        too_far = {rec["line"] for rec in dead
                   if rec["reason"].startswith("ts too far ahead of the stream")}
        for i, x in enumerate(lines, 1):   # accepted exactly when the decoder accepts
            if x.strip():
                try:
                    decode_line(x)
                    ok = True
                except ValueError:
                    ok = False
                assert ok == (i not in dead_lines) or (ok and i in too_far), (i, x)
        # every decision names an accepted line, at or after the lines before it
        decs = [json.loads(x) for x in (Path(d) / "d.jsonl").read_bytes().splitlines()]
        assert all(dd["line"] not in dead_lines and 0 <= dd["score"] <= 1 for dd in decs)
        # lines go back only inside the reorder window (60 s of event time by default; it
        # grows while events arrive later, up to --max-window: the widest it was is the bound)
        last, top = 0, -math.inf
        assert 60.0 <= r.widest <= 900.0
        for dd in decs:
            assert dd["line"] >= last or dd["ts"] >= top - r.widest, (dd, last, top, r.widest)
            last, top = max(last, dd["line"]), max(top, dd["ts"])
        if decs:
            check_decisions(p, Path(d) / "d.jsonl")


def test_random_streams_with_a_blaster_pass_checker(tmp_path, make_stream, check_decisions):
    for seed in (11, 12):
        p = tmp_path / f"s{seed}.jsonl"
        p.write_bytes(b"\n".join(make_stream(2500, seed=seed, blasters=2, bad_every=60,
                                             humans=40)) + b"\n")
        decisions = run(p, tmp_path, f"d{seed}")
        check_decisions(p, tmp_path / f"d{seed}.jsonl")
        stopped = {d["account"] for d in decisions if d["action"] in STOP}
        assert {"blaster0", "blaster1"} <= stopped


# -- causality -------------------------------------------------------------------------------

def _prefix_matches(events: Path, tmp_path: Path, ns: list[int], check) -> None:
    full = run(events, tmp_path, "full")
    check(events, tmp_path / "full.jsonl")
    raw = events.read_bytes().split(b"\n")
    for n in ns:
        p = tmp_path / f"prefix{n}.jsonl"
        p.write_bytes(b"\n".join(raw[:n]) + b"\n")
        part = run(p, tmp_path, f"part{n}")
        assert part == [d for d in full if d["line"] <= n], f"prefix of {n} lines differs"
        check(p, tmp_path / f"part{n}.jsonl")


def test_causality_sample(sample_events, tmp_path, check_decisions):
    _prefix_matches(sample_events, tmp_path, [1, 16, 17, 18, 23, 26, 28, 40, 59],
                    check_decisions)


def test_causality_generated(blaster_stream, tmp_path, check_decisions):
    full = run(blaster_stream, tmp_path, "check")
    check_decisions(blaster_stream, tmp_path / "check.jsonl")
    lines = sorted({d["line"] for d in full})
    rng = random.Random(5)
    ns = sorted({lines[0], lines[0] - 1, lines[len(lines) // 2], lines[-1], 2999,
                 *rng.sample(range(1, 3000), 3)})
    _prefix_matches(blaster_stream, tmp_path, ns, check_decisions)


def test_message_fields_unpack_in_struct_order():
    # Engine._message unpacks msgspec.structs.astuple(message) positionally
    from bulkguard.engine import CONTACT_ADD_FIELDS, MESSAGE_FIELDS
    from bulkguard.events import ContactAdd
    assert Message.__struct_fields__ == MESSAGE_FIELDS
    assert ContactAdd.__struct_fields__ == CONTACT_ADD_FIELDS
    # replay --workers 2 tells their records apart by length (pump.pump_records)
    assert len(MESSAGE_FIELDS) + 1 == 11 and len(CONTACT_ADD_FIELDS) + 1 == 4


def test_a_message_as_its_fields_decides_as_the_message(sample_events, blaster_stream):
    """``Engine.message_fields`` and ``contact_add_fields`` (``replay --workers 2``) against
    ``handle`` of the same events, business lane and forwarding limits included: the same
    decisions, errors, counts and state, event by event."""
    from msgspec.structs import astuple

    from bulkguard.components import build_engine
    from bulkguard.events import EVENT_DECODER, ContactAdd, EventError
    evs = []
    for path in (sample_events, blaster_stream):
        for raw in path.read_bytes().splitlines():
            try:
                evs.append(EVENT_DECODER.decode(raw))
            except Exception:
                pass
    t = max(e.ts for e in evs)
    evs += [Message(ts=t + 1, sender="acme", recipient="ann", template="promo", size=3),
            Message(ts=t + 2, sender="fw", recipient="bob", forwarded=9, kind="text"),
            Message(ts=t + 3, sender="x"), Message(ts=t + 4, sender="x", recipient="y", group="g"),
            Message(ts=t + 5, sender="fw", group="g", forwarded=9, digest="ab12", typing_ms=40)]
    evs += [Message(ts=t + 6 + k, sender="fw", recipient=f"r{k}", forwarded=9, digest="cd34")
            for k in range(12)]   # past the forwarding limit
    assert sum(type(e) is Message for e in evs) > 1000 and ContactAdd in map(type, evs)
    as_event, as_fields = build_engine(), build_engine()
    assert as_event.lane is not None and as_event.forward is not None

    def outcome(call):
        try:
            return [msgspec.json.encode(d) for d in call()]
        except EventError as err:
            return str(err)

    errors, rejects = 0, set()
    for i, ev in enumerate(evs, 1):
        want = outcome(lambda: as_event.handle(ev, i))
        if type(ev) is Message:
            got = outcome(lambda: as_fields.message_fields(i, *astuple(ev)))
        elif type(ev) is ContactAdd:
            got = outcome(lambda: as_fields.contact_add_fields(i, *astuple(ev)))
        else:
            got = outcome(lambda: as_fields.handle(ev, i))
        assert got == want, (i, ev)
        if isinstance(want, str):
            errors += 1
        else:
            rejects |= {d["reasons"][0] for d in map(json.loads, want) if d["action"] == "reject"}
    assert errors == 2 and {"NO_OPTIN", "FORWARD_LIMIT"} <= rejects   # the lane's, forwarding's
    assert (as_fields.events, as_fields.typed, as_fields.families_seen(), as_fields.rescored) \
        == (as_event.events, as_event.typed, as_event.families_seen(), as_event.rescored)
    assert sorted(as_fields.world.accounts) == sorted(as_event.world.accounts)
    assert dict(as_fields.world.pairs) == dict(as_event.world.pairs)


@pytest.mark.parametrize("target", [{}, {"recipient": "b", "group": "g"}])
def test_message_without_exactly_one_target_is_refused_and_changes_nothing(target):
    from bulkguard.events import EventError
    eng = Engine()
    eng.handle(Message(ts=5.0, sender="a", recipient="b"), 1)
    before = (eng.events, eng.world.now, len(eng.world.accounts), dict(eng.world.pairs))
    with pytest.raises(EventError, match="exactly one of `recipient` or `group`"):
        eng.handle(Message(ts=9.0, sender="c", **target), 2)
    assert (eng.events, eng.world.now, len(eng.world.accounts), dict(eng.world.pairs)) == before


def _announcement(answering: float, model: str | None) -> tuple[list, Engine]:
    """An account that existed before the stream sends one text to 50 people it never wrote
    to, 3-15 s apart (the first typed, the rest pasted); ``answering`` of them answer 5-45
    minutes later, and it answers back. Someone else's message two hours later moves the
    clock past the follow-up. Returns the decisions and the engine."""
    from bulkguard.components import load_components
    from bulkguard.scoring.rules import Rules
    eng = Engine(Rules.default(), **load_components(model))
    t0 = 1_700_000_000.0
    rng = random.Random(9)
    evs: list[tuple[float, Message]] = []
    t = t0
    for i in range(50):
        t += rng.uniform(3.0, 15.0)
        evs.append((t, Message(ts=t, sender="org", recipient=f"p{i}", kind="text", size=420,
                               digest="5e1f0c2a9b7d3346", typing_ms=60_000 if i == 0 else 0)))
        if i < 50 * answering:
            ta = t + rng.uniform(300, 2700)
            evs.append((ta, Message(ts=ta, sender=f"p{i}", recipient="org", typing_ms=3000)))
            evs.append((ta + 90, Message(ts=ta + 90, sender="org", recipient=f"p{i}",
                                         typing_ms=2500)))
    evs.append((t0 + 7200, Message(ts=t0 + 7200, sender="a", recipient="b")))
    out: list = []
    for line, (_, ev) in enumerate(sorted(evs, key=lambda x: x[0]), 1):
        out += eng.handle(ev, line)
    return out, eng


@pytest.mark.parametrize("model", [None, "none"], ids=["rules+model", "rules"])
def test_an_announcement_is_judged_once_the_recipients_could_answer(model: str | None) -> None:
    """One text to 50 strangers within eight minutes looks the same from a person announcing
    an event and from a spammer; what tells them apart is whether the people answer. So the
    burst alone at most throttles, and the follow-up an hour later stops it only if most of
    them did not answer (issue 9: organisers, teachers, announcers were challenged mid-burst)."""
    out, eng = _announcement(0.8, model)
    assert not [d for d in out if d.account == "org" and d.action in STOP], out
    out, eng = _announcement(0.0, model)   # the same burst, nobody answers
    stops = [d for d in out if d.account == "org" and d.action in STOP]
    assert stops, out
    assert stops[0].ts >= 1_700_000_000.0 + 3600, stops[0]   # at the follow-up
