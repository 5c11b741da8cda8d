"""Event sources: lines, files and static lists give the same events and dead letters."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.engine import Engine
from bulkguard.events import Block, DeadLetters, ReadStats, Register, encode_event, read_events
from bulkguard.ingest.sources import (
    FileSource, LineSource, MemoryDeadLetters, StaticSource, StrictStop,
)
from bulkguard.ingest.pump import pump
from bulkguard.store.decisions import MemorySink
from test_events import any_event  # the per-type strategies (tests/ is on sys.path)


def test_file_source_and_engine_on_the_bad_sample(sample_bad, tmp_path):
    """The source dead-letters what the decoder refuses; a message without exactly one
    target passes it (checking costs every message) and the engine refuses it."""
    dead = DeadLetters(tmp_path / "rej.jsonl")
    src = FileSource(str(sample_bad), dead)
    sink = MemorySink()
    pump(src, Engine(), sink)
    dead.close()
    stats = ReadStats()
    list(read_events(sample_bad, stats=stats))
    assert (src.stats.read, src.stats.accepted, src.stats.rejected, src.stats.empty) == \
           (stats.read, stats.accepted, stats.rejected, stats.empty) == (10, 2, 7, 1)
    recs = (tmp_path / "rej.jsonl").read_bytes().splitlines()
    assert len(recs) == 7 and b'"line":3' in recs[1]


def test_line_source_numbers_from_start_and_rejects_what_the_engine_refuses():
    dead = MemoryDeadLetters()
    lines = [encode_event(Register(ts=1, account="a")) + b"\n",
             b'{"type":"message","ts":2,"sender":"a"}\n']
    src = LineSource(lines, dead, start=40)
    it = iter(src)
    assert next(it)[0] == 41
    n, _ = next(it)   # the decoder lets a target-less message through; the engine refuses it
    src.reject(n, "no target")
    assert list(it) == []
    assert dead.letters == [(42, b'{"type":"message","ts":2,"sender":"a"}', "no target")]
    # the lines before ``start`` count as read (a resumed run restores its stats first)
    assert (src.stats.read, src.stats.rejected) == (42, 1)


def test_strict_source_stops_at_the_first_bad_line():
    src = LineSource([b'{"type":"register","ts":1,"account":"a"}', b"[]"], MemoryDeadLetters(),
                     strict=True)
    with pytest.raises(StrictStop) as stop:
        list(src)
    assert stop.value.line == 2 and "not a JSON object" in stop.value.reason
    assert src.stats.rejected == 1


def test_bom_only_on_the_first_line():
    line = encode_event(Block(ts=1, blocker="a", blocked="b"))
    dead = MemoryDeadLetters()
    got = list(LineSource([b"\xef\xbb\xbf" + line, b"\xef\xbb\xbf" + line], dead))
    assert [n for n, _ in got] == [1]
    assert [n for n, _, _ in dead.letters] == [2]


def test_gzip_file_source(tmp_path: Path):
    p = tmp_path / "e.jsonl.gz"
    with gzip.open(p, "wb") as f:
        f.write(encode_event(Register(ts=1, account="a")) + b"\n")
    assert [ev for _, ev in FileSource(str(p), MemoryDeadLetters())] == [Register(ts=1, account="a")]


def test_file_source_closes_its_file_when_the_consumer_stops(tmp_path: Path):
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"".join(encode_event(Register(ts=i, account=f"a{i}")) + b"\n" for i in range(5)))
    src = FileSource(str(p), MemoryDeadLetters())
    it = iter(src)
    next(it)
    it.close()   # type: ignore[attr-defined]
    assert src._file is not None and src._file.closed
    assert src.stats.read == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(any_event.map(encode_event),
                          st.binary(max_size=30), st.just(b""), st.just(b"  ")), max_size=25))
def test_line_source_agrees_with_read_events(tmp_path_factory, lines):
    """Every line is an event, an empty line or a dead letter, exactly as ``read_events`` says."""
    lines = [x.replace(b"\n", b" ").replace(b"\r", b" ") for x in lines]
    p = tmp_path_factory.mktemp("src") / "e.jsonl"
    p.write_bytes(b"".join(x + b"\n" for x in lines))
    dead = MemoryDeadLetters()
    src = LineSource(lines, dead)
    got = list(src)
    stats = ReadStats()
    want = list(read_events(p, stats=stats))
    # read_events also refuses a message without exactly one target; the engine does that here
    got = [(n, ev) for n, ev in got if n in {m for m, _ in want}]
    assert got == want
    assert src.stats.read == stats.read == len(lines)
    assert src.stats.empty == stats.empty
    assert src.stats.accepted + src.stats.rejected == stats.accepted + stats.rejected


def test_static_source():
    evs = [Register(ts=0, account="a"), Block(ts=1, blocker="a", blocked="b")]
    src = StaticSource(evs)
    assert list(src) == [(1, evs[0]), (2, evs[1])]
    assert list(src) == list(src)   # a static stream can be read again
