"""``replay --workers 2`` (``ingest.pipeline``): the same decisions, dead letters and counts
as one process, byte for byte; failures of either process reported, never a hang.

The pipeline needs the compiled build's ``_frames`` extension: in the pure-Python build
these tests check that ``--workers 2`` replays in one process (same outputs); the
compiled build runs the suite again (tests/test_compiled.py), with the pipeline."""

from __future__ import annotations

import gc
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from bulkguard.events import InputError
from bulkguard.ingest import pipeline
from bulkguard.ingest.replay import StrictStop, replay, summary

PIPED = pipeline.available()
T0 = 1_700_000_000.0


def _jittered(lines: list[bytes], seed: int) -> list[bytes]:
    """``lines`` with some moved later in the file (late within and beyond the window),
    events far ahead of the stream and in milliseconds, a reviewer's action and an appeal
    (applied at once), names that are not ASCII, and a few bad lines."""
    rng = random.Random(seed)
    out = list(lines)
    for _ in range(len(out) // 50):   # swap nearby lines: late within the window
        i = rng.randrange(len(out) - 20)
        j = i + rng.randrange(1, 20)
        out[i], out[j] = out[j], out[i]
    for _ in range(len(out) // 400):   # far back: late beyond the window
        i = rng.randrange(len(out) // 2)
        out.insert(min(len(out), i + rng.randrange(2000, 5000)), out.pop(i))
    ts = []
    for x in out:
        try:
            t = json.loads(x)["ts"]
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(t, (int, float)) and T0 / 10 < t < T0 * 10:
            ts.append(t)
    mid = sorted(ts)[len(ts) // 2]
    extra = [
        b'{"type":"block","ts":%d,"blocker":"far","blocked":"h1"}' % int(mid + 10 * 86_400),
        b'{"type":"block","ts":%d,"blocker":"ms","blocked":"h1"}' % int(mid * 1000),
        b'{"type":"message","ts":%.3f,"sender":"\xc3\xa9l\xc3\xa8ve","recipient":"h2",'
        b'"kind":"text","size":3}' % mid,
        b'{"type":"message","ts":%.3f,"sender":"h2","recipient":"\xc3\xa9l\xc3\xa8ve",'
        b'"digest":"\xe2\x98\x83"}' % (mid + 1),
        b'{"type":"reviewer_action","ts":%.3f,"account":"blaster0","action":"suspend",'
        b'"until":%.3f,"note":"n"}' % (mid, mid + 3600),
        b'{"type":"appeal_granted","ts":%.3f,"account":"blaster0"}' % (mid + 100),
        b'{"type":"message","ts":%.3f,"sender":"a","recipient":"b","group":"g"}' % mid,
        b'{"type":"message","ts":%.3f,"sender":"a","recipient":"b","size":99999999999999999999}'
        % mid,
        b"",
        b"not json",
    ]
    for x in extra:
        out.insert(rng.randrange(len(out) // 4, len(out)), x)
    return out


def _run(events: Path, d: Path, workers: int, **kw: object) -> tuple[str, bytes, bytes, bytes]:
    d.mkdir(exist_ok=True)
    out, rej, scores = d / "d.jsonl", d / "rej.jsonl", d / "scores.jsonl"
    r = replay(str(events), str(out), rejected=str(rej), scores_path=str(scores),
               workers=workers, **kw)  # type: ignore[arg-type]
    text = summary(r).split("\n")
    text[1] = text[1].split(" in ")[0] + text[1][text[1].index(", accounts"):]   # no timing
    return ("\n".join(text), out.read_bytes(), rej.read_bytes() if rej.exists() else b"",
            scores.read_bytes())


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory, make_stream) -> list[Path]:
    """A generated stream with bad and late lines, jittered; and a simulator stream
    (dev seed 301), jittered."""
    from bulkguard.sim import simulate
    d = tmp_path_factory.mktemp("piped")
    gen = d / "gen.jsonl"
    gen.write_bytes(b"\n".join(_jittered(make_stream(12_000, seed=5, bad_every=120), 1)) + b"\n")
    simulate(d / "scn", seed=301, accounts=300, days=0.5)
    lines = (d / "scn" / "events.jsonl").read_bytes().splitlines()
    sim = d / "sim.jsonl"
    sim.write_bytes(b"\n".join(_jittered(lines, 2)) + b"\n")
    return [gen, sim]


@pytest.mark.parametrize("window", [60.0, 0.0])
def test_two_processes_write_what_one_does(streams, sample_events, sample_bad, tmp_path,
                                           window) -> None:
    for i, events in enumerate([*streams, sample_events, sample_bad]):
        one = _run(events, tmp_path / f"one{i}", 1, window=window)
        two = _run(events, tmp_path / f"two{i}", 2, window=window)
        assert two == one, events
        assert one[1] or events == sample_bad


def test_the_jittered_stream_exercises_every_path(streams, tmp_path) -> None:
    """The comparison above covers late events, dead letters of both kinds and packed
    records (a report's messages, a number beyond 64 bits)."""
    summary_, _, rej, _ = _run(streams[0], tmp_path / "x", 2)
    assert "events applied late" in summary_ and " 0 events applied late" not in summary_
    reasons = [json.loads(x)["reason"] for x in rej.splitlines()]
    assert any("too far ahead" in r for r in reasons)
    assert any("milliseconds" in r for r in reasons)
    assert any("exactly one of" in r for r in reasons)
    assert any("JSON" in r for r in reasons)


def test_gzip_input_and_the_cli(streams, tmp_path) -> None:
    gz = tmp_path / "e.jsonl.gz"
    gz.write_bytes(gzip.compress(streams[0].read_bytes()))
    outs = []
    for w in ("1", "2"):
        out = tmp_path / f"d{w}.jsonl"
        r = subprocess.run([sys.executable, "-m", "bulkguard", "replay", str(gz), "--out",
                            str(out), "--quiet", "--workers", w],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append((out.read_bytes(), (tmp_path / f"d{w}.rejected.jsonl").read_bytes(),
                     r.stdout.split("\n")[0]))
    assert outs[0] == outs[1]


def test_strict_stops_at_the_same_line(streams, tmp_path) -> None:
    got = []
    for w in (1, 2):
        out = tmp_path / f"s{w}.jsonl"
        with pytest.raises(StrictStop) as stop:
            replay(str(streams[0]), str(out), strict=True, workers=w)
        got.append((str(stop.value), out.read_bytes()))
        del stop
    assert got[0] == got[1]
    # the one-process run's input file is closed once its generators are collected (the
    # stop's traceback holds them): collect now, not in a later test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_read_error_same_message(streams, tmp_path) -> None:
    gz = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(streams[0].read_bytes())
    gz.write_bytes(data[: len(data) // 2])
    msgs = []
    for w in (1, 2):
        with pytest.raises(InputError) as err:
            replay(str(gz), str(tmp_path / f"c{w}.jsonl"), workers=w)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1] and "truncated" in msgs[0]
    with pytest.raises(FileNotFoundError):
        replay(str(tmp_path / "missing.jsonl"), str(tmp_path / "m.jsonl"), workers=2)


def test_state_refused_with_two_workers(streams, tmp_path) -> None:
    with pytest.raises(ValueError, match="--workers 1"):
        replay(str(streams[0]), str(tmp_path / "d.jsonl"), state_dir=str(tmp_path / "st"),
               workers=2)
    with pytest.raises(ValueError, match="at least 1"):
        replay(str(streams[0]), str(tmp_path / "d.jsonl"), workers=0)


def _no_child_left() -> bool:
    """No child process of this one, running or unreaped."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_reading_process_killed_is_reported(streams, tmp_path, monkeypatch) -> None:
    """The child dies half-way (SIGKILL): the run fails naming it and the last line done,
    the decisions before it are written, and nothing is left running."""
    real = pipeline.run_edge

    def dying(fd: int, events: str, stage, *, strict: bool, progress: bool) -> int:
        half = tmp_path / "half.jsonl"
        lines = Path(events).read_bytes().splitlines()
        half.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
        from bulkguard.ingest import _frames
        enc = _frames.Encoder(pipeline.type_table())
        from bulkguard.ingest.reorder import ReorderedSource
        from bulkguard.ingest.sources import FileSource
        src = ReorderedSource(FileSource(str(half), pipeline._Notes(enc)), stage)
        enc.run(src, fd, pipeline._PACK.encode, pipeline.CHUNK)
        enc.flush(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        return real(fd, events, stage, strict=strict, progress=progress)

    monkeypatch.setattr(pipeline, "run_edge", dying)
    out = tmp_path / "d.jsonl"
    with pytest.raises(pipeline.EdgeError, match="killed by signal SIGKILL") as err:
        replay(str(streams[0]), str(out), workers=2)
    assert "decisions up to input line" in str(err.value)
    assert out.stat().st_size > 0
    assert _no_child_left()


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_engine_side_failure_ends_the_reading_process(tmp_path, make_stream) -> None:
    """The parent stops early (its decisions file cannot be written): the child, blocked
    on a full pipe, is ended; the run fails at once with the parent's error."""
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"\n".join(make_stream(40_000, seed=3, bad_every=0) * 5) + b"\n")
    t = time.perf_counter()
    with pytest.raises(OSError):
        replay(str(big), "/dev/full", workers=2)
    assert time.perf_counter() - t < 60
    assert _no_child_left()


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_records_round_trip_every_event_type(sample_events, streams) -> None:
    """Every event of the streams, through an encoder and decoder with a tiny name table
    (it starts again every few events): the same events back, names one object each."""
    from bulkguard.events import EVENT_DECODER
    from bulkguard.ingest import _frames
    evs = []
    for path in [sample_events, *streams]:
        for raw in path.read_bytes().splitlines():
            try:
                evs.append(EVENT_DECODER.decode(raw))
            except Exception:
                pass
    assert len({type(e) for e in evs}) >= 12
    r, w = os.pipe()
    enc = _frames.Encoder(pipeline.type_table(), max_names=40)
    notes: list[tuple[int, bytes, bytes]] = []
    dec = _frames.Decoder(r, pipeline.type_table(), pipeline._UNPACK.decode,
                          lambda *a: notes.append(a))
    got = []
    for start in range(0, len(evs), 500):
        for i, ev in enumerate(evs[start:start + 500], start):
            if not enc.add(i, ev, b"raw" if i % 7 == 0 else b""):
                enc.add_record(_frames.PACKED, i, b"raw" if i % 7 == 0 else b"",
                                  pipeline._PACK.encode(ev))
            if i % 100 == 0:
                enc.add_record(_frames.NOTE, i, b"x", b"why")
        enc.flush(w)
        for _ in range(len(evs[start:start + 500])):
            got.append(next(dec))
            assert dec.last_raw == (b"raw" if got[-1][0] % 7 == 0 else b"")
    enc.add_record(_frames.END, 0, b"", b"end")
    enc.flush(w)
    os.close(w)
    assert list(dec) == [] and dec.end == b"end"
    os.close(r)
    assert got == list(enumerate(evs))
    assert [type(e) for _, e in got] == [type(e) for e in evs]
    assert len(notes) == len(range(0, len(evs), 100)) and notes[0] == (0, b"x", b"why")
    events, packed, _ = enc.stats()
    assert packed > 0 and events + packed == len(evs)


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_field_values_at_the_edges_round_trip() -> None:
    """Integers around one CPython digit (2**30) and 64 bits, strings ASCII or not, empty,
    long, and with a lone surrogate (packed): each comes back as it went; ``add`` refuses
    exactly what the fixed layout cannot carry."""
    from bulkguard.events import Message
    from bulkguard.ingest import _frames
    # (negative counts are not valid input, but a record carries them)
    ints = [0, 1, 255, 256, 2**30 - 1, 2**30, 2**31, 2**62, 2**63 - 1, 2**63, 2**64,
            -1, -(2**30) + 1, -(2**30), -(2**31), -(2**63)]
    names = ["a", "", "x" * 256, "\xe9l\xe8ve", "\u2603" * 40, "\U0001f600", "\ud800"]
    k = len(names)
    evs = [Message(ts=float(i), sender=names[i % k], recipient=names[(i + 3) % k], size=x,
                   typing_ms=x // 3 if i % 2 else None, digest=names[(i + 1) % k] + "d")
           for i, x in enumerate(ints * 2)]
    r, w = os.pipe()
    enc = _frames.Encoder(pipeline.type_table())
    dec = _frames.Decoder(r, pipeline.type_table(), pipeline._UNPACK.decode, print)
    fits = []
    for i, ev in enumerate(evs):
        ok = enc.add(i, ev, b"")
        fits.append(ok)
        if not ok and "\ud800" not in ev.sender + (ev.recipient or "") + (ev.digest or ""):
            enc.add_record(_frames.PACKED, i, b"", pipeline._PACK.encode(ev))   # as run() does
    enc.add_record(_frames.END, 0, b"", b"end")
    enc.flush(w)
    os.close(w)
    got = list(dec)
    os.close(r)
    expect = [all(-(2**63) <= v < 2**63 for v in (ev.size, ev.typing_ms or 0))
              and "\ud800" not in ev.sender + (ev.recipient or "") + (ev.digest or "")
              for ev in evs]
    assert fits == expect and True in fits and False in fits
    sent = [(i, ev) for i, ev in enumerate(evs)
            if "\ud800" not in ev.sender + (ev.recipient or "") + (ev.digest or "")]
    assert got == sent and all(type(back.size) is int for _, back in got)


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_messages_come_as_their_fields(sample_events, streams) -> None:
    """A decoder with ``flat`` (the engine's): messages and contact adds come as
    ``(line, *fields)``, the fields the event has; ``last_event`` makes the event itself when
    asked; the other events and ``PipedSource`` iteration are as before."""
    from msgspec.structs import astuple

    from bulkguard.events import EVENT_DECODER, ContactAdd, DeadLetters, Message
    from bulkguard.ingest import _frames
    evs = []
    for path in [sample_events, streams[0]]:
        for raw in path.read_bytes().splitlines()[:3000]:
            try:
                evs.append(EVENT_DECODER.decode(raw))
            except Exception:
                pass
    evs.append(Message(ts=1.0, sender="x", recipient="y", group="g"))   # refused later
    r, w = os.pipe()
    enc = _frames.Encoder(pipeline.type_table(), max_names=40)
    types = [c for c, _, _ in pipeline.type_table()]
    flat = (types.index(Message), types.index(ContactAdd))
    with pytest.raises(ValueError, match="flat"):
        _frames.Decoder(r, pipeline.type_table(), pipeline._UNPACK.decode, print, flat=(99,))
    dec = _frames.Decoder(r, pipeline.type_table(), pipeline._UNPACK.decode, print, flat=flat)
    assert sum(type(e) is ContactAdd for e in evs) > 10
    for i, ev in enumerate(evs):
        if not enc.add(i, ev, b"raw" if i % 5 == 0 else b""):
            enc.add_record(_frames.PACKED, i, b"raw" if i % 5 == 0 else b"",
                           pipeline._PACK.encode(ev))
        enc.flush(w)
        rec = next(dec)
        if type(ev) in (Message, ContactAdd):
            assert rec == (i, *astuple(ev)) and len(rec) == (11 if type(ev) is Message else 4)
            assert type(rec[1]) is float and all(a is b for a, b in zip(rec[1:], astuple(dec.last_event)))
            assert dec.last_event == ev and type(dec.last_event) is type(ev)
            assert dec.last_event is dec.last_event   # made once
        else:
            assert rec == (i, ev)
        assert dec.last_raw == (b"raw" if i % 5 == 0 else b"")
    enc.add_record(_frames.END, 0, b"", b"end")
    enc.flush(w)
    os.close(w)
    assert list(dec) == [] and dec.end == b"end"
    os.close(r)
    # PipedSource: the EventSource protocol, events made back from the fields
    r, w = os.pipe()
    enc = _frames.Encoder(pipeline.type_table())
    for i, ev in enumerate(evs[:500]):
        if not enc.add(i, ev, b""):
            enc.add_record(_frames.PACKED, i, b"", pipeline._PACK.encode(ev))
    enc.add_record(_frames.END, 0, b"", b"end")
    enc.flush(w)
    os.close(w)
    src = pipeline.PipedSource(r, DeadLetters(None), strict=False)
    assert list(src) == list(enumerate(evs[:500]))
    os.close(r)


@pytest.mark.skipif(not PIPED, reason="the pure-Python build replays in one process")
def test_corrupt_records_are_refused(tmp_path) -> None:
    from bulkguard.ingest import _frames
    r, w = os.pipe()
    os.write(w, (6).to_bytes(4, sys.byteorder) + b"\x01\x00\x00\x00\x00\x00")   # cut record
    os.close(w)
    dec = _frames.Decoder(r, pipeline.type_table(), pipeline._UNPACK.decode, print)
    with pytest.raises(ValueError, match="corrupt"):
        next(dec)
    os.close(r)


def test_auto_takes_two_processes_only_where_they_can_run(monkeypatch) -> None:
    from bulkguard.ingest import pipeline
    monkeypatch.setattr(pipeline, "available", lambda: True)
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0, 1})
    assert pipeline.auto_workers("e.jsonl", None) == 2
    assert pipeline.auto_workers("e.jsonl", "state") == 1   # a checkpoint is one process's
    assert pipeline.auto_workers("-", None) == 1
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0})
    assert pipeline.auto_workers("e.jsonl", None) == 1
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(pipeline, "available", lambda: False)   # the pure-Python build
    assert pipeline.auto_workers("e.jsonl", None) == 1


def test_the_cli_default_is_auto_and_says_what_workers_takes(streams, tmp_path) -> None:
    outs = []
    for w in ([], ["--workers", "auto"], ["--workers", "1"]):
        out = tmp_path / f"d{len(outs)}.jsonl"
        r = subprocess.run([sys.executable, "-m", "bulkguard", "replay", str(streams[1]),
                            "--out", str(out), "--quiet", *w],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    for bad in ("0", "two", "-1"):
        r = subprocess.run([sys.executable, "-m", "bulkguard", "replay", str(streams[1]),
                            "--out", str(tmp_path / "x.jsonl"), "--workers", bad],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "--workers" in r.stderr and "auto" in r.stderr, r.stderr
