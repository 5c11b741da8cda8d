"""The seams are checked by mypy: a new event type without a handler in the engine is a
type error (``assert_never``), and the shipped parts satisfy the protocols."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bulkguard.components import load_components
from bulkguard.ingest.sources import FileSource, LineSource, StaticSource
from bulkguard.store.decisions import JsonlSink, MemorySink
from bulkguard.types import DecisionSink

SRC = Path(__file__).resolve().parents[1] / "src"


def _mypy(root: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--strict",
                           "--follow-imports=silent", "--config-file", "/dev/null", *files],
                          cwd=root, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_an_event_type_without_a_handler_fails_in_mypy(tmp_path: Path) -> None:
    shutil.copytree(SRC / "bulkguard", tmp_path / "bulkguard")
    ok = _mypy(tmp_path, "bulkguard/engine.py")
    assert ok.returncode == 0, ok.stdout
    events = tmp_path / "bulkguard" / "events.py"
    text = events.read_text()
    assert "AnyEvent = Union[\n" in text
    events.write_text(text.replace(
        "AnyEvent = Union[\n",
        'class Teleport(Event, tag="teleport", frozen=True):\n    account: str\n\n\n'
        "AnyEvent = Union[\n    Teleport,\n"))
    bad = _mypy(tmp_path, "bulkguard/engine.py")
    assert bad.returncode == 1
    assert "engine.py" in bad.stdout and "assert_never" in bad.stdout and "Teleport" in bad.stdout


def test_shipped_parts_are_what_the_seams_expect(tmp_path: Path) -> None:
    parts = load_components("none")
    assert parts["lane"] is not None and parts["forward"] is not None
    assert isinstance(MemorySink(), DecisionSink)
    sink = JsonlSink(tmp_path / "d.jsonl")
    assert isinstance(sink, DecisionSink)
    sink.close()
    for src in (FileSource, LineSource, StaticSource):
        assert callable(getattr(src, "reject")) and callable(getattr(src, "__iter__"))
