"""The ``bulkguard`` command line: ``replay`` summary, bad input, strict mode, errors."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bulkguard.cli import build_parser, main


def test_replay_prints_summary(sample_events, tmp_path, capsys, check_decisions):
    rc = main(["replay", str(sample_events), "--out", str(tmp_path / "d.jsonl"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "read 60 lines: 60 accepted, 0 rejected, 0 empty skipped" in out
    m = re.search(r"events 60 in [\d.]+ s \(([\d,]+) events/s\), accounts (\d+), decisions: (.*)",
                  out)
    assert m, out
    assert int(m.group(1).replace(",", "")) > 0 and int(m.group(2)) >= 5
    acts = dict(x.split(" ") for x in m.group(3).split(", "))
    assert int(acts["reject"]) == 1 and int(acts["ban"]) == 1
    assert set(acts) <= {"throttle", "challenge", "suspend", "ban", "reinstate", "reject"}
    n = len((tmp_path / "d.jsonl").read_text().splitlines())
    assert sum(int(v) for v in acts.values()) == n
    check_decisions(sample_events, tmp_path / "d.jsonl")


def test_replay_bad_sample_summary_and_dead_letters(sample_bad, tmp_path, capsys,
                                                    check_decisions):
    rc = main(["replay", str(sample_bad), "--out", str(tmp_path / "d.jsonl"),
               "--rejected", str(tmp_path / "bad.jsonl"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "read 10 lines: 2 accepted, 7 rejected, 1 empty skipped" in out
    assert "decisions: none" in out
    assert len((tmp_path / "bad.jsonl").read_text().splitlines()) == 7
    check_decisions(sample_bad, tmp_path / "d.jsonl")


def test_strict_exits_2_naming_the_line(sample_bad, tmp_path, capsys, check_decisions):
    rc = main(["replay", str(sample_bad), "--out", str(tmp_path / "d.jsonl"), "--strict",
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "line 2" in err and "JSON is malformed" in err and "--strict" in err
    if (tmp_path / "d.jsonl").exists():
        check_decisions(sample_bad, tmp_path / "d.jsonl")


def test_strict_in_a_subprocess(sample_bad, tmp_path):
    p = subprocess.run([sys.executable, "-m", "bulkguard.cli", "replay", str(sample_bad),
                        "--out", str(tmp_path / "d.jsonl"), "--strict"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "line 2: " in p.stderr and "malformed" in p.stderr
    assert "Traceback" not in p.stderr


def test_strict_passes_a_clean_file(sample_events, tmp_path, capsys, check_decisions):
    assert main(["replay", str(sample_events), "--out", str(tmp_path / "d.jsonl"), "--strict",
                 "--quiet"]) == 0
    check_decisions(sample_events, tmp_path / "d.jsonl")


def test_missing_events_file_exits_2(tmp_path, capsys):
    rc = main(["replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "d.jsonl")])
    assert rc == 2
    assert "events file not found" in capsys.readouterr().err


def test_out_dash_writes_decisions_to_stdout(sample_events, tmp_path, check_decisions):
    p = subprocess.run([sys.executable, "-m", "bulkguard.cli", "replay", str(sample_events),
                        "--out", "-", "--rejected", str(tmp_path / "r.jsonl")],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert '"action":"reject"' in p.stdout and "read 60 lines" in p.stderr
    assert "read 60 lines" not in p.stdout
    (tmp_path / "d.jsonl").write_text(p.stdout)
    check_decisions(sample_events, tmp_path / "d.jsonl")


def test_the_command_ends_at_once_with_everything_written(sample_events, tmp_path, capsys):
    """``bulkguard replay`` (``cli.entry``) ends the process as soon as replay returns,
    without the interpreter's teardown: decisions, scores and the summary are all out, the
    same as an in-process run's, and errors keep their exit code."""
    cmd = [sys.executable, "-m", "bulkguard", "replay", str(sample_events)]
    p = subprocess.run([*cmd, "--out", str(tmp_path / "a.jsonl"), "--scores",
                        str(tmp_path / "a.scores")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "read 60 lines: 60 accepted" in p.stdout and "families seen" in p.stdout
    assert main(["replay", str(sample_events), "--out", str(tmp_path / "b.jsonl"), "--scores",
                 str(tmp_path / "b.scores"), "--quiet"]) == 0
    capsys.readouterr()
    for ext in ("jsonl", "scores"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()
    p = subprocess.run([*cmd[:-1], str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "events file not found" in p.stderr


def test_usage_errors():
    with pytest.raises(SystemExit) as ei:
        build_parser().parse_args(["replay", "x.jsonl"])   # --out is required
    assert ei.value.code == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["replay", "x", "--out", "d", "--checkpoint-every", "many"])


def test_model_none_and_rules_options(sample_events, tmp_path, capsys, check_decisions):
    rc = main(["replay", str(sample_events), "--out", str(tmp_path / "d.jsonl"),
               "--model", "none", "--quiet"])
    assert rc == 0 and "read 60 lines" in capsys.readouterr().out
    check_decisions(sample_events, tmp_path / "d.jsonl")
    rc = main(["replay", str(sample_events), "--out", str(tmp_path / "d.jsonl"),
               "--rules", str(tmp_path / "missing.toml"), "--quiet"])
    assert rc == 2 and "cannot read rules file" in capsys.readouterr().err


def test_decisions_piped_to_standard_output_are_complete(tmp_path, capsys):
    """``--out -`` through a pipe, with far more than a pipe's buffer of decisions: the
    command's early exit (``cli.entry``) loses none of them."""
    from bulkguard.sim import simulate
    simulate(tmp_path / "scn", seed=3, accounts=300, days=0.5)
    events = tmp_path / "scn" / "events.jsonl"
    p = subprocess.run([sys.executable, "-m", "bulkguard", "replay", str(events), "--out", "-",
                        "--quiet"], capture_output=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert b"read " in p.stderr and b"families seen" in p.stderr   # the summary, on stderr
    assert main(["replay", str(events), "--out", str(tmp_path / "d.jsonl"), "--quiet"]) == 0
    capsys.readouterr()
    want = (tmp_path / "d.jsonl").read_bytes()
    assert len(want) > 1 << 17 and p.stdout == want
