"""The checkpoint store: save(state, position) / load(), tied to one run."""

from __future__ import annotations

import pytest

from bulkguard.engine import Engine
from bulkguard.events import ContactSync, Message, Register
from bulkguard.store.checkpoint import PickleCheckpoints, Position, fingerprint


def _pos(line: int) -> Position:
    return Position(line=line, out_pos=10 * line, dead_pos=0,
                    stats={"read": line, "accepted": line, "rejected": 0, "empty": 0},
                    decisions={"ban": 1})


def test_round_trip_restores_an_engine_that_goes_on_identically(tmp_path):
    evs = [Register(ts=0.0, account="x", ip="192.0.2.1"),
           ContactSync(ts=1.0, account="x", numbers=5000, matched=40)] + [
        Message(ts=2.0 + i, sender="x", recipient=f"u{i}", digest="ab12") for i in range(12)]
    a, b = Engine(), Engine()
    for n, ev in enumerate(evs[:4], 1):
        a.handle(ev, n)
    store = PickleCheckpoints(tmp_path / "state", "run")
    store.save(a.snapshot(), _pos(4))
    loaded = PickleCheckpoints(tmp_path / "state", "run").load()
    assert loaded is not None
    state, pos = loaded
    assert pos == _pos(4)
    b.restore(state)
    rest_a = [d for n, ev in enumerate(evs[4:], 5) for d in a.handle(ev, n)]
    rest_b = [d for n, ev in enumerate(evs[4:], 5) for d in b.handle(ev, n)]
    assert rest_a == rest_b
    assert [d.action for d in rest_b] == ["suspend", "ban"]   # challenged at its sweep (line 2)


def test_missing_checkpoint_is_none_and_another_runs_is_refused(tmp_path):
    assert PickleCheckpoints(tmp_path, "a").load() is None
    PickleCheckpoints(tmp_path, "a").save(Engine().snapshot(), _pos(1))
    with pytest.raises(ValueError, match="belongs to another run"):
        PickleCheckpoints(tmp_path, "b").load()
    assert not list(tmp_path.glob("*.tmp"))   # written through a temporary file, renamed


def test_fingerprint_changes_with_input_rules_model_and_output(tmp_path):
    ev = tmp_path / "e.jsonl"
    ev.write_text('{"type":"register","ts":1,"account":"a"}\n')
    base = fingerprint(str(ev), "r", None, "d.jsonl")
    assert base == fingerprint(str(ev), "r", None, "d.jsonl")
    assert base != fingerprint(str(ev), "r2", None, "d.jsonl")
    assert base != fingerprint(str(ev), "r", "none", "d.jsonl")
    assert base != fingerprint(str(ev), "r", None, "e.jsonl")
    ev.write_text('{"type":"register","ts":2,"account":"a"}\n')
    assert base != fingerprint(str(ev), "r", None, "d.jsonl")
