"""Issue 14, input: every reproduced bad input ends in a clean exit naming the file and line,
never a traceback, and the documented limits (README, "Limits") hold."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from bulkguard.cli import main
from bulkguard.events import (
    MAX_ID, MAX_LINE, MAX_TEXT, MAX_TEXTS, DeadLetters, EventError, InputError, ReadStats,
    decode_line, read_events,
)

OK = b'{"type":"block","ts":2,"blocker":"a","blocked":"c"}'
BIZ = [b'{"type":"register","ts":0,"account":"shop","kind":"business"}',
       b'{"type":"template_register","ts":0,"business":"shop","template":"t"}']


def deep(depth: int = 994) -> bytes:
    """A valid event with an unknown field nested ``depth`` deep (the decoder skips it)."""
    return (b'{"type":"block","ts":1,"blocker":"a","blocked":"b","x":' + b"[" * depth
            + b"]" * depth + b"}")


def run_cli(*args: str, stdin: bytes | None = None, close_stdin: bool = False,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bulkguard.cli", *args]
    if close_stdin:   # fd 0 closed, as `bulkguard replay - <&-`
        return subprocess.run(["bash", "-c", 'exec "$@" <&-', "-", *cmd], capture_output=True,
                              timeout=120, cwd=cwd)
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, cwd=cwd)


def labels(tmp_path: Path) -> Path:
    p = tmp_path / "labels.jsonl"
    p.write_text('{"account":"a","label":"legit"}\n')
    return p


# -- JSON nested too deep -----------------------------------------------------------------
@pytest.mark.parametrize("depth", [994, 5_000, 30_000])
def test_deep_json_is_a_dead_letter_in_replay(tmp_path, depth, capsys) -> None:
    ev = tmp_path / "deep.jsonl"
    ev.write_bytes(deep(depth) + b"\n" + OK + b"\n")
    rc = main(["replay", str(ev), "--out", str(tmp_path / "d.jsonl"), "--quiet",
               "--rejected", str(tmp_path / "bad.jsonl")])
    assert rc == 0
    assert "read 2 lines: 1 accepted, 1 rejected" in capsys.readouterr().out
    dead = [json.loads(x) for x in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [(d["line"], d["reason"]) for d in dead] == [(1, "JSON nested too deep")]


def test_deep_json_with_state_is_no_poison_pill(tmp_path, capsys) -> None:
    ev = tmp_path / "deep.jsonl"
    ev.write_bytes(OK + b"\n" + deep() + b"\n" + OK + b"\n")
    args = ["replay", str(ev), "--out", str(tmp_path / "d.jsonl"), "--quiet",
            "--state", str(tmp_path / "st"), "--checkpoint-every", "1"]
    assert main(args) == 0
    assert main(args) == 0   # a restart goes on past the line too
    assert "read 3 lines: 2 accepted, 1 rejected" in capsys.readouterr().out


def test_deep_json_strict_exits_2_naming_the_line(tmp_path) -> None:
    ev = tmp_path / "deep.jsonl"
    ev.write_bytes(OK + b"\n" + deep() + b"\n")
    p = run_cli("replay", str(ev), "--out", str(tmp_path / "d.jsonl"), "--strict")
    assert p.returncode == 2, p.stderr
    assert b"line 2: JSON nested too deep" in p.stderr and str(ev).encode() in p.stderr
    assert b"Traceback" not in p.stderr


def test_deep_json_in_business_status_and_evaluate(tmp_path, capsys) -> None:
    ev = tmp_path / "deep.jsonl"
    ev.write_bytes(b"\n".join([*BIZ, deep(), OK]) + b"\n")
    assert main(["business", "status", "shop", "--events", str(ev)]) == 0
    assert "3 events, 1 bad lines skipped" in capsys.readouterr().out
    dec = tmp_path / "dec.jsonl"
    dec.write_bytes(b'{"line":1,"ts":0,"account":"a","action":"ban","score":1,"reasons":[],"x":'
                    + b"[" * 2000 + b"]" * 2000 + b"}\n")
    assert main(["evaluate", "--events", str(ev), "--labels", str(labels(tmp_path)),
                 "--decisions", str(dec)]) == 0
    assert "decision 1: JSON nested too deep" in capsys.readouterr().out
    with pytest.raises(EventError, match="JSON nested too deep"):
        decode_line(deep())


# -- gzip: truncated, corrupt, CRC failure, on stdin ------------------------------------------
def _gz(tmp_path: Path, kind: str) -> Path:
    lines = b"".join(OK.replace(b'"c"', f'"c{i}"'.encode()) + b"\n" for i in range(3000))
    data = bytearray(gzip.compress(lines))
    if kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "corrupt":   # garbage in the middle of the deflate stream
        mid = len(data) // 2
        data[mid:mid + 40] = b"\xff" * 40
    elif kind == "crc":       # the stored CRC does not match
        data[-8] ^= 0xFF
    p = tmp_path / f"{kind}.jsonl.gz"
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("kind", ["truncated", "corrupt", "crc"])
def test_broken_gzip_is_a_clean_error_naming_the_file(tmp_path, kind, capsys) -> None:
    gz = _gz(tmp_path, kind)
    rc = main(["replay", str(gz), "--out", str(tmp_path / "d.jsonl"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(gz) in err and "cannot read after line" in err, err
    assert main(["business", "status", "shop", "--events", str(gz)]) == 2
    err = capsys.readouterr().err
    assert str(gz) in err and "cannot read after line" in err, err
    dec = tmp_path / "dec.jsonl"
    dec.write_text("")
    assert main(["evaluate", "--events", str(gz), "--labels", str(labels(tmp_path)),
                 "--decisions", str(dec)]) == 2
    err = capsys.readouterr().err
    assert str(gz) in err and "line" in err, err
    with pytest.raises(InputError, match=r"cannot read after line \d+"):
        list(read_events(gz))


def test_broken_gzip_in_a_subprocess_has_no_traceback(tmp_path) -> None:
    gz = _gz(tmp_path, "crc")
    p = run_cli("replay", str(gz), "--out", str(tmp_path / "d.jsonl"))
    assert p.returncode == 2 and b"Traceback" not in p.stderr
    assert str(gz).encode() in p.stderr and b"CRC" in p.stderr


def test_gzip_on_stdin_is_recognised(tmp_path) -> None:
    lines = b"\n".join([*BIZ, OK]) + b"\n"
    p = run_cli("replay", "-", "--out", str(tmp_path / "d.jsonl"), stdin=gzip.compress(lines))
    assert p.returncode == 0, p.stderr
    assert b"read 3 lines: 3 accepted, 0 rejected" in p.stdout
    p = run_cli("business", "status", "shop", "--events", "-", stdin=gzip.compress(lines))
    assert p.returncode == 0 and b"3 events, 0 bad lines" in p.stdout, p.stderr


def test_closed_stdin_is_a_clean_error(tmp_path) -> None:
    p = run_cli("replay", "-", "--out", str(tmp_path / "d.jsonl"), close_stdin=True)
    assert p.returncode == 2, p.stderr
    assert b"standard input is closed" in p.stderr and b"Traceback" not in p.stderr
    p = run_cli("business", "status", "x", "--events", "-", close_stdin=True)
    assert p.returncode == 2 and b"standard input is closed" in p.stderr


# -- documented limits -------------------------------------------------------------------
def test_overlong_line_is_dead_lettered_cut_and_never_held(tmp_path) -> None:
    long_ok = OK[:-1] + b',"pad":"' + b"x" * (MAX_LINE - len(OK) - 9) + b'"}'
    assert len(long_ok) == MAX_LINE
    huge = b'{"type":"block","ts":1,"blocker":"a","blocked":"b","pad":"' + b"y" * 3_000_000 + b'"}'
    ev = tmp_path / "long.jsonl"
    ev.write_bytes(b"\r\n".join([long_ok, huge, OK, long_ok + b" ", OK]) + b"\r\n")
    stats = ReadStats()
    dead = DeadLetters(tmp_path / "bad.jsonl")
    got = [n for n, _ in read_events(ev, dead=dead, stats=stats)]
    dead.close()
    assert got == [1, 3, 5]   # line numbers stay right after an overlong line
    recs = [json.loads(x) for x in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [r["line"] for r in recs] == [2, 4]
    assert all(r["reason"].startswith("line too long: over 65536 bytes") for r in recs)
    assert all(r["truncated"] is True and len(r["raw"]) == MAX_LINE for r in recs)


def test_overlong_line_in_replay(tmp_path, capsys) -> None:
    huge = b'{"type":"block","ts":1,"blocker":"a","blocked":"b","pad":"' + b"y" * 200_000 + b'"}'
    ev = tmp_path / "long.jsonl"
    ev.write_bytes(b"\n".join([OK, huge, OK]) + b"\n")
    rc = main(["replay", str(ev), "--out", str(tmp_path / "d.jsonl"), "--quiet",
               "--rejected", str(tmp_path / "bad.jsonl")])
    assert rc == 0
    assert "read 3 lines: 2 accepted, 1 rejected" in capsys.readouterr().out
    rec = json.loads((tmp_path / "bad.jsonl").read_text())
    assert rec["line"] == 2 and rec["reason"].startswith("line too long")
    assert main(["replay", str(ev), "--out", str(tmp_path / "d2.jsonl"), "--strict"]) == 2
    assert "line 2: line too long" in capsys.readouterr().err


@pytest.mark.parametrize("field", ["blocker", "blocked"])
def test_identifiers_over_the_limit_are_dead_lettered(field) -> None:
    ok = {"type": "block", "ts": 1, "blocker": "a", "blocked": "b", field: "é" * MAX_ID}
    assert decode_line(json.dumps(ok).encode())
    bad = dict(ok, **{field: "x" * (MAX_ID + 1)})
    with pytest.raises(EventError, match=f"length <= {MAX_ID} - at `\\$.{field}`"):
        decode_line(json.dumps(bad).encode())


def test_every_string_field_is_limited() -> None:
    long = "x" * (MAX_ID + 1)
    cases = [
        {"type": "register", "ts": 1, "account": "a", "ip": long},
        {"type": "register", "ts": 1, "account": "a", "device": long},
        {"type": "register", "ts": 1, "account": "a", "phone": long},
        {"type": "message", "ts": 1, "sender": "a", "recipient": long},
        {"type": "message", "ts": 1, "sender": "a", "group": "g", "digest": long},
        {"type": "message", "ts": 1, "sender": "a", "group": "g", "template": long},
        {"type": "group_join", "ts": 1, "group": "g", "member": "m", "added_by": long},
        {"type": "optin", "ts": 1, "business": long, "customer": "c"},
        {"type": "contact_add", "ts": 1, "account": "a", "contact": long},
    ]
    for c in cases:
        with pytest.raises(EventError, match=f"length <= {MAX_ID}"):
            decode_line(json.dumps(c).encode())


def test_report_texts_are_read_up_to_the_limits() -> None:
    from bulkguard.scoring.text import TextClassifier
    clf = TextClassifier.load_default()
    spam = "WINNER!! You have won a £1000 prize. Call 09061701461 now to claim"
    assert clf.score_messages([spam]) > 0.5
    # the 51st text is not read; nor is what follows the first 4,096 characters of one
    assert clf.score_messages(["ok see you"] * MAX_TEXTS + [spam]) < 0.5
    filler = "ok see you " * (MAX_TEXT // 11 + 1)
    assert clf.score_messages([filler + spam]) == clf.spam_probability(filler[:MAX_TEXT])
    assert clf.spam_probability(filler + spam) != clf.spam_probability(filler[:MAX_TEXT])
    assert clf.score_messages(["ok see you"] * (MAX_TEXTS - 1) + [spam]) > 0.5


def test_a_report_quoting_megabytes_costs_little(tmp_path) -> None:
    """The review's case: 3,000 distinct 100 KB texts in one report took 252 s. Now a line
    holds at most 64 KiB and a report is read up to 50 texts of 4 KiB."""
    import time

    from bulkguard.engine import Engine
    from bulkguard.scoring.text import TextClassifier
    texts = [f"t{i} " + " ".join(f"w{i}x{j}" for j in range(200)) for i in range(3000)]
    ev = {"type": "report", "ts": 1, "reporter": "r", "reported": "s", "messages": texts}
    line = json.dumps(ev).encode()
    with pytest.raises(EventError, match="line too long"):
        decode_line(line)
    eng = Engine(text=TextClassifier.load_default())
    from bulkguard.events import Report
    t0 = time.perf_counter()
    for i in range(20):
        eng.handle(Report(ts=1, reporter=f"r{i}", reported="s", messages=texts), i + 1)
    assert time.perf_counter() - t0 < 5.0


def test_zlib_errors_are_read_errors() -> None:
    from bulkguard.events import READ_ERRORS
    assert issubclass(zlib.error, READ_ERRORS) and issubclass(EOFError, READ_ERRORS)
