"""Helpers of the adversarial suite: write a scenario, replay it, read its decisions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bulkguard.ingest.replay import replay
from bulkguard.sim import attacks

Run = Callable[..., list[dict]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """``run(lines, name="x", **replay_kwargs)``: replay the lines, return the decisions."""
    def go(lines: list[bytes], name: str = "events", **kw: object) -> list[dict]:
        ev = attacks.write(tmp_path / f"{name}.jsonl", lines)
        out = tmp_path / f"{name}.decisions.jsonl"
        replay(ev, str(out), **kw)  # type: ignore[arg-type]
        return [json.loads(x) for x in out.read_bytes().splitlines()]
    return go
