"""Issue 14, replay: checkpoints that cannot run code, runs identified by content, outputs
never destroyed, one run per state directory, full disks named."""

from __future__ import annotations

import errno
import os
import pickle
import stat
import subprocess
import sys

import pytest

from bulkguard.cli import main
from bulkguard.store.checkpoint import RunIdentity, StateCheckpoints
from bulkguard.events import OutputError
from bulkguard.store.decisions import JsonlSink


def _args(ev, tmp_path, *extra):
    return ["replay", str(ev), "--out", str(tmp_path / "d.jsonl"), "--quiet",
            "--state", str(tmp_path / "st"), *extra]


@pytest.fixture()
def events(blaster_stream, tmp_path):
    ev = tmp_path / "events.jsonl"
    ev.write_bytes(blaster_stream.read_bytes())
    return ev


def test_a_crafted_pickle_in_the_state_directory_runs_nothing(events, tmp_path, capsys):
    st = tmp_path / "st"
    st.mkdir()

    class Boom:
        def __reduce__(self):
            return (os.system, (f"id > {tmp_path / 'pwned'}",))
    (st / "checkpoint.pkl").write_bytes(pickle.dumps({"fingerprint": "x", "engine": Boom()}))
    assert main(_args(events, tmp_path)) == 2
    assert "not loaded" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("content", [b"", b"bulkguard-state 1 10 " + b"0" * 64 + b"\nshort",
                                     b"\x80\x04garbage", b"bulkguard-state 1 5 xyz\n12345"])
def test_empty_truncated_or_foreign_checkpoint_is_a_clean_error(events, tmp_path, content, capsys):
    st = tmp_path / "st"
    st.mkdir()
    (st / "checkpoint.state").write_bytes(content)
    assert main(_args(events, tmp_path)) == 2
    err = capsys.readouterr().err
    assert str(st / "checkpoint.state") in err and "Traceback" not in err


def test_state_is_private(events, tmp_path):
    (tmp_path / "st").mkdir(mode=0o755)
    assert main(_args(events, tmp_path, "--checkpoint-every", "500")) == 0
    assert stat.S_IMODE((tmp_path / "st").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "st" / "checkpoint.state").stat().st_mode) == 0o600


@pytest.mark.parametrize("flag", ["--out", "--rejected", "--scores"])
def test_an_output_equal_to_the_input_is_refused(events, tmp_path, flag, capsys):
    before = events.read_bytes()
    args = ["replay", str(events), "--out", str(tmp_path / "d.jsonl"), "--quiet"]
    if flag == "--out":
        args[3] = str(events)
    else:
        args += [flag, str(events)]
    assert main(args) == 2
    assert "is the input file" in capsys.readouterr().err
    assert events.read_bytes() == before


def test_out_stdout_leaves_rejected_jsonl_alone(sample_bad, tmp_path):
    keep = tmp_path / "rejected.jsonl"
    keep.write_text("precious\n")
    p = subprocess.run([sys.executable, "-m", "bulkguard.cli", "replay", str(sample_bad),
                        "--out", "-"], capture_output=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    assert keep.read_text() == "precious\n"


def test_resume_with_another_rejected_path_is_refused_and_truncates_nothing(events, tmp_path, capsys):
    assert main(_args(events, tmp_path, "--checkpoint-every", "500")) == 0
    other = tmp_path / "other.jsonl"
    other.write_text("precious\n")
    assert main(_args(events, tmp_path, "--rejected", str(other))) == 2
    assert "output paths" in capsys.readouterr().err
    assert other.read_text() == "precious\n"


def test_decisions_deleted_before_resume_is_refused_never_padded(events, tmp_path, capsys):
    assert main(_args(events, tmp_path, "--checkpoint-every", "500")) == 0
    (tmp_path / "d.jsonl").unlink()
    assert main(_args(events, tmp_path)) == 2
    err = capsys.readouterr().err
    assert "decisions file" in err and "is missing" in err
    assert not (tmp_path / "d.jsonl").exists()


def test_a_different_input_with_the_same_start_is_refused(events, tmp_path, capsys):
    assert main(_args(events, tmp_path, "--checkpoint-every", "500")) == 0
    data = bytearray(events.read_bytes())
    assert len(data) > 1 << 17
    data[-100] = ord("X") if data[-100] != ord("X") else ord("Y")   # far past the first 64 KiB
    events.write_bytes(bytes(data))
    assert main(_args(events, tmp_path)) == 2
    assert "input file's content differs" in capsys.readouterr().err


def test_the_model_is_identified_by_content(events, tmp_path, capsys):
    from importlib import resources
    model = tmp_path / "model.json"
    model.write_bytes(resources.files("bulkguard.scoring").joinpath("model.json").read_bytes())
    assert main(_args(events, tmp_path, "--model", str(model))) == 0
    model.write_bytes(model.read_bytes().replace(b'"base"', b'"base" ', 1))
    assert main(_args(events, tmp_path, "--model", str(model))) == 2
    assert "the model differ" in capsys.readouterr().err


def test_state_with_stdin_or_stdout_is_refused(events, tmp_path, capsys):
    assert main(["replay", "-", "--out", str(tmp_path / "d.jsonl"), "--state",
                 str(tmp_path / "st")]) == 2
    assert "--state needs an input file" in capsys.readouterr().err
    assert main(["replay", str(events), "--out", "-", "--state", str(tmp_path / "st")]) == 2
    assert "--state needs --out FILE" in capsys.readouterr().err


def test_a_second_run_on_one_state_directory_is_refused_naming_the_holder(events, tmp_path, capsys):
    from bulkguard.engine import Engine
    holder = StateCheckpoints(tmp_path / "st", RunIdentity("x", "r", "m", (), ""), Engine())
    try:
        assert main(_args(events, tmp_path)) == 2
        assert f"in use by pid {os.getpid()} on host" in capsys.readouterr().err
    finally:
        holder.close()
    assert main(_args(events, tmp_path)) == 0


def test_disk_full_names_the_path(events, tmp_path, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    assert main(["replay", str(events), "--out", "/dev/full", "--quiet",
                 "--rejected", str(tmp_path / "bad.jsonl")]) == 2
    assert "cannot write decisions to /dev/full" in capsys.readouterr().err


def test_a_failed_write_leaves_no_partial_line(tmp_path):
    from bulkguard.events import Decision
    sink = JsonlSink(tmp_path / "d.jsonl")
    sink.write_many([Decision(1, 0.0, "a", "ban", 1.0, ["X"])])
    sink.flush()
    real = sink._f

    class HalfFull:
        def write(self, data):
            real.write(bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(real, name)
    sink._f = HalfFull()
    sink.write_many([Decision(2, 0.0, f"acct{i}", "ban", 1.0, ["X"]) for i in range(50)])
    with pytest.raises(OutputError, match="cannot write decisions to .*d.jsonl: No space left"):
        sink.flush()
    real.close()
    data = (tmp_path / "d.jsonl").read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 1
