"""Where decisions go: a JSON Lines file and an in-memory twin, both ``DecisionSink``s
(:mod:`bulkguard.types`); later stores (SQLite, PostgreSQL) implement the same three methods."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import msgspec

from bulkguard.events import Decision, OutputError
from bulkguard.types import DecisionSink

__all__ = ["DecisionSink", "JsonlSink", "MemorySink"]


class MemorySink:
    """Keeps decisions in a list (tests, embedding).

    >>> s = MemorySink(); s.write_many([Decision(1, 0.0, "a", "ban", 1.0, ["X"])]); s.position()
    1
    """

    def __init__(self) -> None:
        self.decisions: list[Decision] = []

    def write_many(self, decisions: Sequence[Decision]) -> None:
        self.decisions.extend(decisions)

    def position(self) -> int:
        return len(self.decisions)

    def close(self) -> None:
        pass


class JsonlSink:
    """Appends decisions as JSON Lines; ``resume_at`` truncates to a checkpointed byte offset."""

    def __init__(self, path: str | Path, resume_at: int | None = None) -> None:
        self.path = str(path)
        self._enc = msgspec.json.Encoder()
        self._buf = bytearray()
        self.count = 0
        if self.path == "-":
            self._f: BinaryIO = os.fdopen(os.dup(1), "wb")
            self._pos = 0
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # unbuffered: this class buffers whole lines itself, so that a failed write (a full
        # disk) can be cut back to the last whole line
        if resume_at is None:
            self._f = open(self.path, "wb", buffering=0)
            self._pos = 0
        else:
            if not os.path.isfile(self.path) or os.path.getsize(self.path) < resume_at:
                raise ValueError(f"decisions file {self.path} is shorter than the checkpoint "
                                 f"({resume_at} bytes): refusing to pad it")
            self._f = open(self.path, "r+b", buffering=0)
            self._f.truncate(resume_at)
            self._f.seek(resume_at)
            self._pos = resume_at

    def write_many(self, decisions: Sequence[Decision]) -> None:
        enc = self._enc.encode_into
        buf = self._buf
        for d in decisions:
            enc(d, buf, -1)
            buf.extend(b"\n")
        self.count += len(decisions)
        if len(buf) > 1 << 16:
            self._drain()

    def _drain(self) -> None:
        if not self._buf:
            return
        data = bytes(self._buf)
        try:
            done = 0
            while done < len(data):
                n = self._f.write(data[done:])
                done += n if n is not None else len(data) - done
        except OSError as err:
            self._cut_back()
            raise OutputError(err.errno or 0, f"cannot write decisions to {self.path}: "
                                              f"{err.strerror or err}") from None
        self._pos += len(data)
        self._buf.clear()

    def _cut_back(self) -> None:
        """After a failed write: end the file at the last whole line written."""
        if self.path == "-":
            return
        try:
            self._f.truncate(self._pos)
            self._f.seek(self._pos)
        except OSError:
            pass

    def flush(self, sync: bool = False) -> None:
        self._drain()
        self._f.flush()
        if sync and self.path != "-":
            os.fsync(self._f.fileno())

    def position(self) -> int:
        """Byte offset of everything written so far (after a flush)."""
        self._drain()
        return self._pos

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._f.close()
