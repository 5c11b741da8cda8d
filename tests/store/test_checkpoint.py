"""The checkpoint store: save(state, position) / load(), tied to one run, locked, no pickle."""

from __future__ import annotations

import os
import pickle
import stat

import pytest

from bulkguard.engine import Engine
from bulkguard.events import ContactSync, Message, Register
from bulkguard.store.checkpoint import Position, RunIdentity, StateCheckpoints
from bulkguard.store.snapshot import SnapshotError


def _pos(line: int) -> Position:
    return Position(line=line, out_pos=10 * line, dead_pos=0,
                    stats={"read": line, "accepted": line, "rejected": 0, "empty": 0},
                    decisions={"ban": 1})


def _ident(tmp_path, **kw) -> RunIdentity:
    ev = tmp_path / "e.jsonl"
    if not ev.exists():
        ev.write_text('{"type":"register","ts":1,"account":"a"}\n' * 100)
    base = dict(input=str(ev), rules="r", model="m", outputs=("d.jsonl", "", ""), options="")
    return RunIdentity(**{**base, **kw})


def test_round_trip_restores_an_engine_that_goes_on_identically(tmp_path):
    evs = [Register(ts=0.0, account="x", ip="192.0.2.1"),
           ContactSync(ts=1.0, account="x", numbers=5000, matched=40)] + [
        Message(ts=2.0 + i, sender="x", recipient=f"u{i}", digest="ab12") for i in range(12)]
    a, b = Engine(), Engine()
    for n, ev in enumerate(evs[:4], 1):
        a.handle(ev, n)
    store = StateCheckpoints(tmp_path / "state", _ident(tmp_path), a, lambda: 500)
    store.save(a.snapshot(), _pos(4))
    store.close()
    again = StateCheckpoints(tmp_path / "state", _ident(tmp_path), b)
    loaded = again.load()
    again.close()
    assert loaded is not None
    state, pos = loaded
    assert pos == _pos(4)
    b.restore(state)
    rest_a = [d for n, ev in enumerate(evs[4:], 5) for d in a.handle(ev, n)]
    rest_b = [d for n, ev in enumerate(evs[4:], 5) for d in b.handle(ev, n)]
    assert rest_a == rest_b
    assert [d.action for d in rest_b] == ["suspend", "ban"]   # challenged at its sweep (line 2)


@pytest.mark.parametrize("change, says", [
    ({"rules": "r2"}, "the rules differ"), ({"model": "none"}, "the model differ"),
    ({"outputs": ("e.jsonl", "", "")}, "output paths"),
    ({"outputs": ("d.jsonl", "other.rejected.jsonl", "")}, "output paths"),
    ({"options": "window=0"}, "options"),
])
def test_another_runs_checkpoint_is_refused_naming_the_difference(tmp_path, change, says):
    store = StateCheckpoints(tmp_path / "s", _ident(tmp_path), Engine(), lambda: 100)
    assert store.load() is None
    store.save(Engine().snapshot(), _pos(1))
    store.close()
    assert not list((tmp_path / "s").glob("*.tmp"))   # written through a temporary file
    other = StateCheckpoints(tmp_path / "s", _ident(tmp_path, **change), Engine())
    with pytest.raises(SnapshotError, match=f"belongs to another run: .*{says}"):
        other.load()
    other.close()


def test_input_content_is_checked_at_the_checkpoint_offset(tmp_path):
    ident = _ident(tmp_path)
    store = StateCheckpoints(tmp_path / "s", ident, Engine(), lambda: 1000)
    store.save(Engine().snapshot(), _pos(1))
    store.close()
    ev = tmp_path / "e.jsonl"
    with open(ev, "ab") as f:   # grown after the checkpoint: the same run
        f.write(b'{"type":"register","ts":2,"account":"b"}\n')
    s = StateCheckpoints(tmp_path / "s", ident, Engine())
    assert s.load() is not None
    s.close()
    data = bytearray(ev.read_bytes())
    data[500] ^= 1   # changed before it: another input
    ev.write_bytes(bytes(data))
    s = StateCheckpoints(tmp_path / "s", ident, Engine())
    with pytest.raises(SnapshotError, match="input file's content differs in its first 1000 bytes"):
        s.load()
    s.close()


def test_state_files_are_private_and_no_pickle_is_loaded(tmp_path):
    d = tmp_path / "s"
    d.mkdir(mode=0o755)
    store = StateCheckpoints(d, _ident(tmp_path), Engine(), lambda: 10)
    store.save(Engine().snapshot(), _pos(1))
    store.close()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "checkpoint.state").stat().st_mode) == 0o600
    # an old pickle checkpoint (or a crafted one) is never unpickled
    os.remove(d / "checkpoint.state")

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))
    (d / "checkpoint.pkl").write_bytes(pickle.dumps(Boom()))
    s = StateCheckpoints(d, _ident(tmp_path), Engine())
    with pytest.raises(SnapshotError, match="older bulkguard .*not loaded"):
        s.load()
    s.close()
    assert not (tmp_path / "pwned").exists()


def test_a_second_run_on_the_same_directory_is_refused_naming_the_holder(tmp_path):
    first = StateCheckpoints(tmp_path / "s", _ident(tmp_path), Engine())
    with pytest.raises(SnapshotError, match=rf"in use by pid {os.getpid()} on host"):
        StateCheckpoints(tmp_path / "s", _ident(tmp_path), Engine())
    first.close()
    StateCheckpoints(tmp_path / "s", _ident(tmp_path), Engine()).close()   # free again
