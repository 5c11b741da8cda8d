"""The pump: engine between an injected source and sink, checkpoints on schedule."""

from __future__ import annotations

from collections import Counter

from bulkguard.components import build_engine
from bulkguard.engine import Engine
from bulkguard.events import ContactSync, Message, Register, read_events
from bulkguard.ingest.pump import pump
from bulkguard.ingest.replay import replay
from bulkguard.ingest.sources import StaticSource
from bulkguard.store.decisions import JsonlSink, MemorySink


def _blast() -> list:
    evs = [Register(ts=0.0, account="x", ip="192.0.2.1"),
           ContactSync(ts=1.0, account="x", numbers=5000, matched=40)]
    return evs + [Message(ts=2.0 + i, sender="x", recipient=f"u{i}", digest="ab12")
                  for i in range(12)]


def test_static_source_to_memory_sink_with_tally_and_checkpoints():
    sink, tally, marks = MemorySink(), Counter(), []
    last = pump(StaticSource(_blast()), Engine(), sink, tally, marks.append, every=5)
    assert last == 14
    assert [(d.line, d.action) for d in sink.decisions] == \
           [(2, "challenge"), (10, "suspend"), (12, "ban")]   # a new account's sweep: challenged
    assert tally == Counter(challenge=1, suspend=1, ban=1)
    assert marks == [5, 10]


def test_pump_over_the_sample_equals_replay(sample_events, tmp_path):
    """The same engine fed by a static source into a JSONL sink writes replay's bytes."""
    replay(str(sample_events), str(tmp_path / "replay.jsonl"))
    src = StaticSource(ev for _, ev in read_events(sample_events))
    sink = JsonlSink(tmp_path / "pump.jsonl")
    pump(src, build_engine(), sink)
    sink.close()
    assert (tmp_path / "pump.jsonl").read_bytes() == (tmp_path / "replay.jsonl").read_bytes()
    assert (tmp_path / "pump.jsonl").stat().st_size > 0


def test_handle_returns_a_fresh_list_each_time():
    eng = Engine()
    evs = _blast()
    assert eng.handle(evs[0], 1) == ()   # nothing to say: an empty tuple (no allocation)
    first = eng.handle(evs[1], 2)
    assert isinstance(first, list) and [d.action for d in first] == ["challenge"]
    first.append(first[0])   # the caller owns what it got
    assert eng.handle(evs[2], 3) == () and len(first) == 2
    assert [d.line for d in eng.handle(evs[3], 4)] == []
