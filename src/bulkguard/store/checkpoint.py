"""Checkpoints of a run: the engine's state and how far input and outputs had got.

A store has two methods, ``save(state, position)`` and ``load()`` (the ``Checkpoints``
protocol of :mod:`bulkguard.types`); ``ingest.replay`` decides when to save and what
the position is.

The file is ``DIR/checkpoint.state`` in the format of :mod:`bulkguard.store.snapshot`:
nothing in it can run code, and its header, length and checksum are verified before
anything is decoded. It is written atomically with mode 0600; ``DIR`` is made 0700.

A checkpoint belongs to one run, and loading it for another is refused, naming what
differs (:class:`RunIdentity`): the input file's content (the SHA-256 of its bytes up to
where the checkpoint had read them, checked again on resume: a different file at the same
path, or one edited before that point, is refused; one that grew after it is fine), the
rules' and the model's content, every output path, and the options that change decisions.

While a store is open it holds an exclusive lock on ``DIR/lock`` naming its holder (pid and
host): a second run on the same directory is refused at once.

>>> import tempfile
>>> from bulkguard.engine import Engine
>>> tmp = tempfile.TemporaryDirectory(); d = tmp.name
>>> ident = RunIdentity(input="-", rules="r", model="m", outputs=("d.jsonl",), options="")
>>> store = StateCheckpoints(d, ident, Engine())
>>> store.load() is None
True
>>> pos = Position(line=3, out_pos=0, dead_pos=0, decisions={},
...                stats={"read": 3, "accepted": 3, "rejected": 0, "empty": 0})
>>> store.save(Engine().snapshot(), pos)
>>> store.close()
>>> again = StateCheckpoints(d, ident, Engine())
>>> state, back = again.load()
>>> back["line"], state["events"]
(3, 0)
>>> again.close()
>>> StateCheckpoints(d, ident._replace(rules="r2"), Engine()).load()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bulkguard.store.snapshot.SnapshotError: ...checkpoint.state: checkpoint belongs to another run: the rules differ...
>>> tmp.cleanup()
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, NamedTuple

from bulkguard.store import snapshot
from bulkguard.store.snapshot import SnapshotError
from bulkguard.types import Position, StateSnapshot

if TYPE_CHECKING:
    from bulkguard.engine import Engine

__all__ = ["CHECKPOINT", "FORMAT", "Position", "RunIdentity", "StateCheckpoints",
           "content_digest"]

CHECKPOINT = "checkpoint.state"
OLD_CHECKPOINT = "checkpoint.pkl"   # a pickle of an older bulkguard: never loaded
LOCK = "lock"
FORMAT = 6   # of checkpoints: 6 is the snapshot format (no pickle); 5 and before were pickles
_CHUNK = 1 << 20


class RunIdentity(NamedTuple):
    """What makes a run this run (each compared on resume, the first difference named)."""

    input: str                  # absolute path of the events file
    rules: str                  # digest of the rules' text
    model: str                  # digest of the model's content ("none" without one)
    outputs: tuple[str, ...]    # absolute paths: decisions, dead letters, scores
    options: str                # options that change decisions (reorder window...)


_NAMES = {"input": "the input file", "rules": "the rules", "model": "the model",
          "outputs": "the output paths (--out, --rejected, --scores)",
          "options": "the options (--window, --max-ahead)"}


def content_digest(path: str | Path) -> str:
    """SHA-256 of a file's content (rules, model)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class StateCheckpoints:
    """Checkpoints of one run (``identity``) in ``directory``, locked while open.

    ``offset()`` (optional) gives how many bytes of the input file have been read; the
    input's content up to there is part of each checkpoint. ``engine`` gives the policy
    configurations a loaded state is rebuilt with."""

    def __init__(self, directory: str | Path, identity: RunIdentity, engine: Engine,
                 offset: Callable[[], int] | None = None) -> None:
        self.dir = Path(directory)
        self.path = self.dir / CHECKPOINT
        self.identity = identity
        self.engine = engine
        self.offset = offset
        self._hash = hashlib.sha256()
        self._hashed = 0
        self._input: BinaryIO | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.dir, 0o700)   # state is private, also in a directory made before
        except OSError as err:
            raise SnapshotError(f"state directory {self.dir}: {err.strerror or err}") from None
        self._lock = self._take_lock()

    # -- the lock ------------------------------------------------------------------------------
    def _take_lock(self) -> int:
        path = self.dir / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise SnapshotError(f"cannot lock the state directory {self.dir}: "
                                f"{err.strerror or err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise SnapshotError(f"state directory {self.dir} is in use by {holder}; "
                                "wait for that run or use another --state directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode(), 0)
        return fd

    def close(self) -> None:
        """Release the lock (the checkpoint stays)."""
        if self._lock >= 0:
            os.close(self._lock)   # closing the descriptor releases the flock
            self._lock = -1
        if self._input is not None:
            self._input.close()
            self._input = None

    # -- the input's content ---------------------------------------------------------------------
    def _hash_to(self, upto: int) -> str:
        """SHA-256 of the input's first ``upto`` bytes (incrementally: each byte once)."""
        if upto < self._hashed:
            self._hash, self._hashed = hashlib.sha256(), 0
            if self._input is not None:
                self._input.seek(0)
        if self._input is None:
            self._input = open(self.identity.input, "rb")
        while self._hashed < upto:
            chunk = self._input.read(min(_CHUNK, upto - self._hashed))
            if not chunk:
                break
            self._hash.update(chunk)
            self._hashed += len(chunk)
        return self._hash.hexdigest() if self._hashed == upto else ""

    # -- the protocol ------------------------------------------------------------------------------
    def load(self) -> tuple[StateSnapshot, Position] | None:
        """The last checkpoint of this run, None if there is none; :class:`SnapshotError`
        (a ValueError) if it is damaged, foreign or another run's."""
        if not self.path.exists():
            if (self.dir / OLD_CHECKPOINT).exists():
                raise SnapshotError(
                    f"{self.dir / OLD_CHECKPOINT}: a checkpoint of an older bulkguard (a pickle, "
                    "which could run code): it is not loaded; delete it to start afresh")
            return None
        data = self.path.read_bytes() if self.path.is_file() else b""
        state, meta = snapshot.decode(data, self.engine, str(self.path))
        run = meta.get("run")
        if not isinstance(run, dict) or run.get("format") != FORMAT:
            raise SnapshotError(f"{self.path}: checkpoint of another bulkguard version; "
                                "use another --state directory or delete it")
        for name, now in self.identity._asdict().items():
            plain = list(now) if isinstance(now, tuple) else now
            was = run.get(name)
            if plain != was:
                raise SnapshotError(
                    f"{self.path}: checkpoint belongs to another run: {_NAMES[name]} differ "
                    f"(was {was!r}, now {plain!r}); use another --state directory or delete it")
        upto, digest = meta.get("input_bytes"), meta.get("input_sha256")
        if not isinstance(upto, int) or not isinstance(digest, str):
            raise SnapshotError(f"{self.path}: malformed checkpoint (input position)")
        if self.identity.input != "-" and self._hash_to(upto) != digest:
            raise SnapshotError(
                f"{self.path}: checkpoint belongs to another run: the input file's content "
                f"differs in its first {upto} bytes (another file at the same path?); use "
                "another --state directory or delete it")
        pos = meta.get("position")
        if not isinstance(pos, dict):
            raise SnapshotError(f"{self.path}: malformed checkpoint (position)")
        ok = (isinstance(pos, dict) and all(isinstance(pos.get(k), int)
                                            for k in ("line", "out_pos", "dead_pos"))
              and all(isinstance(pos.get(k), dict) for k in ("stats", "decisions")))
        if not ok:
            raise SnapshotError(f"{self.path}: malformed checkpoint (position)")
        position = Position(line=pos["line"], out_pos=pos["out_pos"], dead_pos=pos["dead_pos"],
                            stats=pos["stats"], decisions=pos["decisions"])
        return state, position  # type: ignore[return-value]

    def save(self, state: StateSnapshot, position: Position) -> None:
        """Write a checkpoint atomically (the outputs it points into must be synced first)."""
        upto = self.offset() if self.offset is not None else 0
        digest = self._hash_to(upto) if self.identity.input != "-" else ""
        run = {k: (list(v) if isinstance(v, tuple) else v)
               for k, v in self.identity._asdict().items()}
        run["format"] = FORMAT
        meta = {"run": run, "input_bytes": upto, "input_sha256": digest,
                "position": dict(position)}
        snapshot.write(self.path, snapshot.encode(state, meta))
