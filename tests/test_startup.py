"""Start-up of ``bulkguard replay`` (issue 13): the command imports what a replay uses and
builds the command line of that command only, with the same parser as the full one."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bulkguard.cli import COMMANDS, build_parser

# What a replay without --state never uses: the service and its stack, the other commands,
# checkpoints (--state only).
NOT_IMPORTED = ("bulkguard.service.cli", "bulkguard.service", "bulkguard.store.checkpoint",
                "bulkguard.sim", "bulkguard.eval", "bulkguard.qr", "bulkguard.explain",
                "bulkguard.scoring.train", "fastapi", "sqlalchemy", "uvicorn", "logging",
                "socket", "difflib",
                # the shipped files are read by path, hashed without OpenSSL, decoded by msgspec
                "importlib.resources", "hashlib", "_hashlib", "json",
                # the shipped rules come parsed (shipped_rules.doc)
                "tomllib")


def _modules_after_replay(tmp_path: Path, *extra: str) -> set[str]:
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"type": "message", "ts": 1, "sender": "a",
                                  "recipient": "b"}) + "\n")
    code = ("import sys\nfrom bulkguard.cli import main\n"
            f"rc = main(['replay', {str(events)!r}, '--out', 'd.jsonl', '--quiet', *{extra!r}])\n"
            "mods = sorted(sys.modules)\nimport json\nprint(json.dumps([rc, mods]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rc, mods = json.loads(r.stdout.splitlines()[-1])
    assert rc == 0 and (tmp_path / "d.jsonl").exists()
    return set(mods)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_replay_imports_neither_the_service_nor_other_commands(tmp_path: Path,
                                                               workers: str) -> None:
    mods = _modules_after_replay(tmp_path, "--workers", workers)
    assert "bulkguard.engine" in mods           # (the probe ran a replay)
    assert sorted(m for m in mods for x in NOT_IMPORTED if m == x or m.startswith(x + ".")) == []


def test_replay_with_state_still_checkpoints(tmp_path: Path) -> None:
    mods = _modules_after_replay(tmp_path, "--state", str(tmp_path / "st"), "--workers", "1")
    assert "bulkguard.store.checkpoint" in mods
    assert (tmp_path / "st").is_dir()


def _help(parser: argparse.ArgumentParser, args: list[str],
          capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        parser.parse_args(args)
    return capsys.readouterr().out


def test_commands_lists_every_command() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert tuple(sub.choices) == COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_one_command_parser_is_the_full_ones(command: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``main`` builds only the command it runs: its help (all its options, defaults and
    usage) and what it parses are those of the full command line."""
    assert _help(build_parser(command), [command, "--help"], capsys) == \
        _help(build_parser(), [command, "--help"], capsys)
    sub = next(a for a in build_parser(command)._actions
               if isinstance(a, argparse._SubParsersAction))
    assert tuple(sub.choices) == ((command,) if command not in ("serve", "keys", "audit",
                                                                 "statements")
                                  else ("serve", "keys", "audit", "statements"))


def test_one_command_parses_as_the_full_parser() -> None:
    argv = ["replay", "in.jsonl", "--out", "d.jsonl", "--workers", "2", "--window", "30"]
    a, b = build_parser("replay").parse_args(argv), build_parser().parse_args(argv)
    assert {k: v for k, v in vars(a).items() if k != "run"} == \
        {k: v for k, v in vars(b).items() if k != "run"}


def test_an_unknown_command_gets_the_full_parser_error(capsys: pytest.CaptureFixture[str]) -> None:
    from bulkguard.cli import main
    with pytest.raises(SystemExit) as e:
        main(["replya", "x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'replya'" in err and "'replay'" in err and "'serve'" in err


@pytest.mark.parametrize("name", ["model.json", "text_model.json"])
def test_shipped_json_decodes_as_json_loads_does(name: str) -> None:
    """The shipped model and text model are decoded with msgspec at start-up: the very same
    objects json.loads gives (types, key order, every float's bits)."""
    import msgspec

    from bulkguard.scoring import shipped
    text = shipped.read_text(name)
    assert repr(msgspec.json.decode(text)) == repr(json.loads(text))


def test_shipped_files_and_digest_as_importlib_and_hashlib_give_them() -> None:
    import hashlib
    from importlib import resources

    from bulkguard.scoring import shipped
    pkg = resources.files("bulkguard.scoring")
    for name in ("model.json", "rules.toml", "text_model.json"):
        text = shipped.read_text(name)
        assert text == pkg.joinpath(name).read_text("utf-8")
        assert shipped.sha256_hex(text.encode()) == hashlib.sha256(text.encode()).hexdigest()
    assert shipped.sha256_hex(b"") == hashlib.sha256(b"").hexdigest()
    with pytest.raises(FileNotFoundError):
        shipped.read_text("no-such-file.json")


def test_the_shipped_model_still_uses_its_compiled_margin() -> None:
    """The digest check still matches: the shipped model's margin is the generated module's
    (not compiled again from the trees)."""
    from bulkguard.scoring import shipped_margin
    from bulkguard.scoring.model import Model
    assert Model.load(None)._margin is shipped_margin.margin


def test_shipped_rules_table_is_what_tomllib_reads() -> None:
    """The shipped rules are not parsed at start-up: ``shipped_rules.doc()`` (generated with
    the module, used while the digest matches) is the table tomllib reads from rules.toml,
    a new one each call; the same file read by tomllib (another digest) gives the same rules."""
    import dataclasses
    import tomllib

    from bulkguard.scoring import shipped, shipped_rules
    from bulkguard.scoring.rules import Rules
    text = shipped.read_text("rules.toml")
    assert repr(shipped_rules.doc()) == repr(tomllib.loads(text))
    assert shipped_rules.doc() is not shipped_rules.doc()
    a, b = Rules.default(), Rules.from_toml(text + "\n# parsed by tomllib\n")
    assert a.digest == shipped_rules.RULES_SHA256 != b.digest
    for f in dataclasses.fields(Rules):
        if f.name != "digest":
            assert getattr(a, f.name) == getattr(b, f.name), f.name


def test_shipped_text_model_weights_as_the_delta_loop_gives_them() -> None:
    from bulkguard.scoring import shipped
    from bulkguard.scoring.text import TextClassifier
    doc = json.loads(shipped.read_text("text_model.json"))
    weights: dict[int, float] = {}
    pos = 0
    for delta, w in zip(doc["index_deltas"], doc["values"]):
        pos += delta
        weights[pos] = float(w)
    got = TextClassifier.load_default().weights
    assert list(got.items()) == list(weights.items()) and len(got) > 1000
