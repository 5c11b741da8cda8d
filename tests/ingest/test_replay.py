"""``replay``: dead letters, strict mode, gzip and stdin input, and resume after a kill."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkguard.ingest.replay import StrictStop, default_rejected, replay, summary

N_LINES = 30_000
EVERY = "500"


def cli(*args: str, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bulkguard.cli", "replay", *args, "--quiet"],
                          input=input, capture_output=True, timeout=timeout)


def test_default_rejected_path():
    assert default_rejected("out/d.jsonl") == "out/d.rejected.jsonl"
    assert default_rejected("d.txt") == "d.txt.rejected.jsonl"


def test_sample_bad_via_replay(sample_bad, tmp_path, check_decisions):
    out, rej = tmp_path / "d.jsonl", tmp_path / "rej.jsonl"
    r = replay(str(sample_bad), str(out), rejected=str(rej))
    s = r.stats
    assert (s.read, s.accepted, s.rejected, s.empty) == (10, 2, 7, 1)
    assert "read 10 lines: 2 accepted, 7 rejected, 1 empty skipped" in summary(r)
    check_decisions(sample_bad, out)
    raw = sample_bad.read_bytes().split(b"\n")
    recs = [json.loads(x) for x in rej.read_bytes().splitlines()]
    assert len(recs) == 7
    assert [x["line"] for x in recs] == [2, 3, 4, 5, 6, 7, 10]
    for x in recs:
        assert x["raw"].encode() == raw[x["line"] - 1]
    reasons = {x["line"]: x["reason"] for x in recs}
    assert "JSON" in reasons[2]
    assert "`recipient`" in reasons[3] and "neither" in reasons[3]
    assert "`$.ts`" in reasons[4]
    assert "teleport" in reasons[5]
    assert "both" in reasons[6]
    assert "'robot'" in reasons[7] and "`$.kind`" in reasons[7]
    assert "`$.forwarded`" in reasons[10]


def test_fresh_run_replaces_old_dead_letters(sample_bad, tmp_path):
    out = tmp_path / "d.jsonl"
    for _ in range(2):
        replay(str(sample_bad), str(out))
    assert len((tmp_path / "d.rejected.jsonl").read_bytes().splitlines()) == 7


def test_strict_stops_at_first_bad_line(sample_bad, tmp_path):
    with pytest.raises(StrictStop) as ei:
        replay(str(sample_bad), str(tmp_path / "d.jsonl"), strict=True)
    assert ei.value.line == 2 and "JSON" in ei.value.reason


def test_gzip_input(sample_events, tmp_path, check_decisions):
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(sample_events.read_bytes()))
    replay(str(sample_events), str(tmp_path / "plain.jsonl"))
    r = replay(str(gz), str(tmp_path / "gz.jsonl"))
    assert r.stats.accepted == 60
    assert (tmp_path / "gz.jsonl").read_bytes() == (tmp_path / "plain.jsonl").read_bytes()
    check_decisions(gz, tmp_path / "gz.jsonl")


def test_stdin_input(sample_events, tmp_path, check_decisions):
    replay(str(sample_events), str(tmp_path / "file.jsonl"))
    p = cli("-", "--out", str(tmp_path / "stdin.jsonl"), input=sample_events.read_bytes())
    assert p.returncode == 0, p.stderr
    assert b"read 60 lines: 60 accepted" in p.stdout
    assert (tmp_path / "stdin.jsonl").read_bytes() == (tmp_path / "file.jsonl").read_bytes()
    check_decisions(sample_events, tmp_path / "stdin.jsonl")


def test_crlf_and_no_final_newline(sample_events, tmp_path, check_decisions):
    data = sample_events.read_bytes().rstrip(b"\n").replace(b"\n", b"\r\n")
    p = tmp_path / "crlf.jsonl"
    p.write_bytes(data)
    replay(str(sample_events), str(tmp_path / "a.jsonl"))
    r = replay(str(p), str(tmp_path / "b.jsonl"))
    assert (r.stats.read, r.stats.accepted) == (60, 60)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    check_decisions(p, tmp_path / "b.jsonl")


# -- resume after kill ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_stream(tmp_path_factory, make_stream) -> Path:
    p = tmp_path_factory.mktemp("big") / "events.jsonl"
    p.write_bytes(b"\n".join(make_stream(N_LINES, seed=2024, blasters=5, bad_every=300))
                  + b"\n")
    return p


@pytest.fixture(scope="module")
def reference(big_stream, tmp_path_factory) -> tuple[bytes, bytes, bytes]:
    """An uninterrupted run (no --state): decisions, dead letters, summary's first line."""
    d = tmp_path_factory.mktemp("ref")
    p = cli(str(big_stream), "--out", str(d / "d.jsonl"))
    assert p.returncode == 0, p.stderr
    dec, dead = (d / "d.jsonl").read_bytes(), (d / "d.rejected.jsonl").read_bytes()
    assert dec.count(b"\n") > 20 and dead.count(b"\n") > 20
    return dec, dead, p.stdout.splitlines()[0]


def test_reference_passes_checker(big_stream, reference, tmp_path, check_decisions):
    (tmp_path / "d.jsonl").write_bytes(reference[0])
    check_decisions(big_stream, tmp_path / "d.jsonl")


def _start(events: Path, d: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bulkguard.cli", "replay", str(events),
                             "--out", str(d / "d.jsonl"), "--state", str(d / "state"),
                             "--checkpoint-every", EVERY, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 60) -> bool:
    """Poll until ``ready()`` (or the process ends), then SIGKILL; True if it was killed."""
    end = time.monotonic() + timeout
    while proc.poll() is None and not ready() and time.monotonic() < end:
        time.sleep(0.001)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=timeout)
    return proc.returncode == -signal.SIGKILL


def _finish(events: Path, d: Path) -> subprocess.CompletedProcess:
    return cli(str(events), "--out", str(d / "d.jsonl"), "--state", str(d / "state"),
               "--checkpoint-every", EVERY)


def _assert_same(d: Path, reference) -> None:
    assert (d / "d.jsonl").read_bytes() == reference[0]
    assert (d / "d.rejected.jsonl").read_bytes() == reference[1]


def test_resume_after_kill_at_first_checkpoint(big_stream, reference, tmp_path):
    ck = tmp_path / "state" / "checkpoint.state"
    killed = _kill_when(_start(big_stream, tmp_path), ck.exists)
    assert killed, "the run ended before it could be killed"
    assert ck.exists()
    p = _finish(big_stream, tmp_path)
    assert p.returncode == 0, p.stderr
    assert b"resumed after line" in p.stdout
    assert p.stdout.splitlines()[0].startswith(reference[2])   # same read/accepted/rejected
    _assert_same(tmp_path, reference)
    # rerunning a completed run leaves its files unchanged
    p = _finish(big_stream, tmp_path)
    assert p.returncode == 0, p.stderr
    _assert_same(tmp_path, reference)


def test_resume_after_kill_mid_run_with_decisions_written(big_stream, reference, tmp_path):
    out = tmp_path / "d.jsonl"
    ck = tmp_path / "state" / "checkpoint.state"
    half = len(reference[0]) // 3

    def ready() -> bool:
        return ck.exists() and out.exists() and out.stat().st_size >= half

    assert _kill_when(_start(big_stream, tmp_path), ready), "the run ended before the kill"
    # kill the resumed run too, at once, then finish
    proc = _start(big_stream, tmp_path)
    time.sleep(0.3)
    _kill_when(proc, lambda: True)
    p = _finish(big_stream, tmp_path)
    assert p.returncode == 0, p.stderr
    _assert_same(tmp_path, reference)


@pytest.mark.parametrize("seed", [1, 2])
def test_resume_after_kill_at_random_early_time(big_stream, reference, tmp_path, seed):
    delay = random.Random(seed).uniform(0.02, 0.5)
    proc = _start(big_stream, tmp_path)
    t = time.monotonic()
    _kill_when(proc, lambda: time.monotonic() - t >= delay)
    p = _finish(big_stream, tmp_path)
    assert p.returncode == 0, p.stderr
    _assert_same(tmp_path, reference)


def test_checkpoint_from_other_events_file_refused(big_stream, sample_events, tmp_path):
    p = _finish(sample_events, tmp_path)
    assert p.returncode == 0, p.stderr
    before = (tmp_path / "d.jsonl").read_bytes()
    p = _finish(big_stream, tmp_path)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert "checkpoint belongs to another run" in err and "--state" in err
    assert (tmp_path / "d.jsonl").read_bytes() == before
    with pytest.raises(ValueError, match="checkpoint belongs to another run"):
        replay(str(big_stream), str(tmp_path / "d.jsonl"), state_dir=str(tmp_path / "state"))


def test_checkpoint_from_rewritten_events_file_refused(sample_events, blaster_stream, tmp_path):
    """Regression: the fingerprint covered only the path, so a regenerated file resumed."""
    ev = tmp_path / "events.jsonl"
    ev.write_bytes(sample_events.read_bytes())
    replay(str(ev), str(tmp_path / "d.jsonl"), state_dir=str(tmp_path / "state"))
    ev.write_bytes(blaster_stream.read_bytes())            # same path, different stream
    with pytest.raises(ValueError, match="checkpoint"):
        replay(str(ev), str(tmp_path / "d.jsonl"), state_dir=str(tmp_path / "state"))


def test_utf8_byte_order_mark_on_the_first_line_is_ignored(tmp_path) -> None:
    from bulkguard.ingest.replay import replay
    ev = tmp_path / "bom.jsonl"
    ev.write_bytes(b'\xef\xbb\xbf{"type":"block","ts":1,"blocker":"a","blocked":"b"}\n'
                   b'\xef\xbb\xbf{"type":"block","ts":2,"blocker":"c","blocked":"b"}\n')
    r = replay(str(ev), str(tmp_path / "d.jsonl"))
    assert (r.stats.accepted, r.stats.rejected) == (1, 1)  # only line 1 may carry a BOM


def test_resume_after_the_input_grew_equals_one_run(big_stream, reference, tmp_path):
    """A run that ended (checkpointed at its last line) and is started again after more
    lines were appended goes on from the checkpoint: the whole state goes through the snapshot format.
    Unlike the kill tests this needs no timing, so the compiled build runs it too."""
    lines = big_stream.read_bytes().splitlines(keepends=True)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(lines[: len(lines) * 3 // 5]))
    p = _finish(events, tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "state" / "checkpoint.state").exists()
    with open(events, "ab") as f:
        f.write(b"".join(lines[len(lines) * 3 // 5:]))
    p = _finish(events, tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"resumed after line {len(lines) * 3 // 5}".encode() in p.stdout
    _assert_same(tmp_path, reference)
