"""Checkpoints of a run: the engine's state and how far input and outputs had got.

A store has two methods, ``save(state, position)`` and ``load()`` (the ``Checkpoints``
protocol of :mod:`bulkguard.types`); ``ingest.replay`` decides when to save and what
the position is. A checkpoint is tied to one run by a fingerprint (format, input,
rules, model, output): loading another run's checkpoint is refused.

This store pickles into ``DIR/checkpoint.pkl``, written atomically (a temporary file,
fsync, rename).

>>> import tempfile
>>> from bulkguard.engine import Engine
>>> tmp = tempfile.TemporaryDirectory(); d = tmp.name
>>> store = PickleCheckpoints(d, "run-1")
>>> store.load() is None
True
>>> pos = Position(line=3, out_pos=0, dead_pos=0, decisions={},
...                stats={"read": 3, "accepted": 3, "rejected": 0, "empty": 0})
>>> store.save(Engine().snapshot(), pos)
>>> state, back = store.load()
>>> back["line"], state["events"]
(3, 0)
>>> PickleCheckpoints(d, "run-2").load()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: ...checkpoint.pkl: checkpoint belongs to another run (different events, ...
>>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from bulkguard.events import open_input
from bulkguard.types import Position, StateSnapshot

__all__ = ["CHECKPOINT", "FORMAT", "PickleCheckpoints", "Position", "fingerprint"]

CHECKPOINT = "checkpoint.pkl"
FORMAT = 5   # of checkpoints: 5 since they keep the events a reorder window holds, pair records
             # count turns, clusters keep times, and accounts and content families gained fields


def fingerprint(events: str, rules_digest: str, model: str | None, out: str,
                options: str = "") -> str:
    """Identity of a run: input (path and its first 64 KiB, so a regenerated file at the
    same path is not mistaken for the old one; appending is fine), rules, model, output
    and ``options`` (e.g. the reorder window)."""
    src = os.path.abspath(events) if events != "-" else "-"
    h = hashlib.sha256(
        f"{FORMAT}|{src}|{rules_digest}|{model}|{os.path.abspath(out)}|{options}".encode())
    if events != "-":
        with open_input(events) as f:
            h.update(f.read(1 << 16))
    return h.hexdigest()


class PickleCheckpoints:
    """Checkpoints of one run (``fingerprint``) in ``directory``."""

    def __init__(self, directory: str | Path, fingerprint: str) -> None:
        self.path = Path(directory) / CHECKPOINT
        self.fingerprint = fingerprint

    def load(self) -> tuple[StateSnapshot, Position] | None:
        """The last checkpoint of this run, None if there is none; ValueError if the
        directory holds another run's."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as fh:
            ck = pickle.load(fh)
        if ck.get("fingerprint") != self.fingerprint:
            raise ValueError(f"{self.path}: checkpoint belongs to another run (different events, "
                             "rules, model or output); use another --state directory or delete it")
        position = Position(line=ck["line"], out_pos=ck["out_pos"], dead_pos=ck["dead_pos"],
                            stats=ck["stats"], decisions=ck["decisions"])
        state: StateSnapshot = ck["engine"]
        return state, position

    def save(self, state: StateSnapshot, position: Position) -> None:
        """Write a checkpoint atomically (the outputs it points into must be synced first)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fc:
            pickle.dump({"fingerprint": self.fingerprint, "engine": state,
                         "line": position["line"], "out_pos": position["out_pos"],
                         "dead_pos": position["dead_pos"], "stats": position["stats"],
                         "decisions": position["decisions"]}, fc, protocol=pickle.HIGHEST_PROTOCOL)
            fc.flush()
            os.fsync(fc.fileno())
        os.replace(tmp, self.path)
