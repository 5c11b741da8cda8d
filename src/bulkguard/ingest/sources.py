"""Where events come from: sources that yield ``(line, event)`` and dead-letter bad input.

* :class:`LineSource` decodes raw JSON lines from any iterable of bytes: the shape of an
  HTTP batch (the lines of a request body) or a message bus (one payload per message).
* :class:`FileSource` is a ``LineSource`` over a file, ``.gz`` file or stdin, with a
  progress bar and a start line for resuming.
* :class:`StaticSource` yields events already in memory (tests, embedding).

Every source follows the ``EventSource`` protocol of :mod:`bulkguard.types`: a bad item
(not UTF-8, not JSON, not an event of the contract) goes to the source's dead letters
and never reaches the engine; an event the engine refuses comes back through
``reject(line, reason)`` and is dead-lettered the same way. With ``strict`` the first
bad item raises :class:`StrictStop` instead.

>>> dead = MemoryDeadLetters()
>>> src = LineSource([b'{"type":"block","ts":1,"blocker":"b","blocked":"a"}', b"",
...                   b'{"type":"teleport","ts":1}'], dead)
>>> [(n, type(ev).__name__) for n, ev in src]
[(1, 'Block')]
>>> dead.letters
[(3, b'{"type":"teleport","ts":1}', "unknown event type 'teleport'")]
>>> src.stats.summary()
'read 3 lines: 1 accepted, 1 rejected, 1 empty skipped'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import msgspec

from bulkguard.events import (
    EVENT_DECODER, MAX_LINE, DeadLetterError, READ_ERRORS, TOO_LONG, ReadStats, after_bom, explain_error,
    open_input, overlong, read_error, skip_lines,
)
from bulkguard.ingest.fastdecode import decoder, lines as file_lines
from bulkguard.types import DeadLetterSink, InputEvent

__all__ = ["FileSource", "LineSource", "MemoryDeadLetters", "StaticSource", "StrictStop"]

PROGRESS_EVERY = 65_536   # lines between progress-bar updates


class StrictStop(Exception):
    """The first bad item of a strict source: its line and reason."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def dead_letter(dead: DeadLetterSink, strict: bool, line: int, raw: bytes, reason: str) -> None:
    """Dead-letter ``raw`` (from ``line``; without its newline), or with ``strict`` raise
    :class:`StrictStop`: what every source does with a line it or the engine refused (the
    caller counts it)."""
    if strict:
        raise StrictStop(line, reason)
    dead.write(line, raw[:-1] if raw.endswith(b"\n") else raw, reason)


class MemoryDeadLetters:
    """Dead letters kept in a list of ``(line, raw, reason)`` (an HTTP batch answers with them)."""

    def __init__(self) -> None:
        self.letters: list[tuple[int, bytes, str]] = []

    def write(self, line_no: int, raw: bytes, reason: str) -> None:
        self.letters.append((line_no, raw, reason))


class LineSource:
    """Events decoded from raw JSON lines (with or without their newline).

    ``start`` is the number of lines already done: the first line of ``lines`` is line
    ``start + 1``. A UTF-8 byte order mark is allowed on line 1 only; empty lines are
    skipped and counted. ``stats`` (read, accepted, rejected, empty) is complete once the
    iteration has ended.
    """

    def __init__(self, lines: Iterable[bytes], dead: DeadLetterSink, *, strict: bool = False,
                 start: int = 0, stats: ReadStats | None = None) -> None:
        self.lines = lines
        self.dead = dead
        self.strict = strict
        self.start = start
        self.stats = stats if stats is not None else ReadStats()
        self.last_raw = b""     # the last line yielded, for ``reject`` (and a reorder stage)
        self.name = "<lines>"   # what the input is called in a read error

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        return self._decode(self.lines, None)

    def reject(self, line: int, reason: str) -> None:
        """Dead-letter the last line yielded (``line``): the engine refused its event."""
        self.dead_letter(line, self.last_raw, reason)

    def dead_letter(self, line: int, raw: bytes, reason: str) -> None:
        """Count ``raw`` (from ``line``) as rejected and dead-letter it (``strict``: raise)."""
        self.stats.rejected += 1
        dead_letter(self.dead, self.strict, line, raw, reason)

    def _tick(self, line: int) -> None:
        """Called every ``PROGRESS_EVERY`` lines (a file source moves its progress bar)."""

    def _overlong(self, raw: bytes) -> bool:
        """Whether a line over ``MAX_LINE`` bytes (with its ending) is over the limit."""
        return len(raw.rstrip(b"\n").removesuffix(b"\r")) > MAX_LINE

    def _decode(self, lines: Iterable[bytes],
                closing: BinaryIO | None) -> Iterator[tuple[int, InputEvent]]:
        decode = EVENT_DECODER.decode
        # the edge's fast path (compiled build): plain lines of the commonest types, names
        # interned; None for any other line, which msgspec decodes (or refuses) as before
        fast = decoder()
        stats = self.stats
        n = self.start
        next_tick = n + PROGRESS_EVERY
        try:
            for n, raw in enumerate(lines, self.start + 1):
                try:
                    if len(raw) > MAX_LINE and self._overlong(raw):   # documented limit
                        raise msgspec.DecodeError(TOO_LONG)
                    got = fast(raw) if fast is not None else None
                    if got is not None:
                        ev = got   # an all-ASCII line: nothing left to check
                    else:
                        ev = decode(raw)
                        if not raw.isascii():  # msgspec skips unknown fields unchecked
                            raw.decode("utf-8")
                except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
                    if not raw.strip():
                        stats.empty += 1
                        continue
                    bom = after_bom(raw) if n == 1 else None
                    if bom is None:
                        self.dead_letter(n, raw, explain_error(
                            err, raw[:-1] if raw.endswith(b"\n") else raw))
                        continue
                    ev = bom
                self.last_raw = raw
                yield n, ev
                if n >= next_tick:
                    next_tick = n + PROGRESS_EVERY
                    self._tick(n)
        except DeadLetterError:
            raise
        except READ_ERRORS as err:   # truncated or corrupt gzip, a read error: name file and line
            raise read_error(self.name, n, err) from None
        finally:
            # every line up to n was read: accepted is what is left
            stats.read = n
            stats.accepted = n - stats.rejected - stats.empty
            if closing is not None:
                closing.close()


class FileSource(LineSource):
    """Events of a file, a ``.gz`` file or ``-`` (stdin), from line ``start + 1`` on; bad
    lines to ``dead`` (a file of dead letters). ``progress`` shows a bar on the terminal."""

    def __init__(self, path: str, dead: DeadLetterSink, *, strict: bool = False,
                 start: int = 0, stats: ReadStats | None = None, progress: bool = False) -> None:
        super().__init__((), dead, strict=strict, start=start, stats=stats)
        self.path = path
        self.name = path
        self._bar = _Progress(path, enabled=progress)
        self._file: BinaryIO | None = None

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        f = self._file = open_input(self.path)
        if self.start:
            try:
                skip_lines(f, self.start)
            except READ_ERRORS as err:
                f.close()
                raise read_error(self.path, 0, err) from None
        # lines cut at MAX_LINE + 2 bytes: an overlong line is never held whole
        return self._decode(file_lines(f), f)

    def _overlong(self, raw: bytes) -> bool:
        assert self._file is not None
        return overlong(self._file, raw)

    def _tick(self, line: int) -> None:
        if self._file is not None:
            self._bar.update(line, self._file)

    def bytes_read(self) -> int:
        """Bytes of the file read so far (of a ``.gz`` file: compressed bytes), at least up
        to the end of the last line yielded: the part a checkpoint vouches for."""
        f = self._file
        if f is None:
            return 0
        if f.closed:   # read to its end
            try:
                return os.path.getsize(self.path)
            except OSError:
                return 0
        inner = getattr(f, "fileobj", None)   # a gzip file: the compressed position
        try:
            return int((inner if inner is not None else f).tell())
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        """Take the progress bar off the terminal."""
        self._bar.close()


class StaticSource:
    """Events already in memory, numbered from 1 (an Osprey-style static stream for tests).

    >>> from bulkguard.events import Register
    >>> src = StaticSource([Register(ts=0, account="a"), Register(ts=1, account="b")])
    >>> [(n, ev.account) for n, ev in src]
    [(1, 'a'), (2, 'b')]
    >>> src.reject(2, "no reason"); src.rejected
    [(2, 'no reason')]
    """

    def __init__(self, events: Iterable[InputEvent]) -> None:
        self.events = list(events)
        self.rejected: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        return iter(list(enumerate(self.events, 1)))

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append((line, reason))


class _Progress:
    """A rich progress bar over the input's bytes, only on a terminal."""

    def __init__(self, path: str, enabled: bool) -> None:
        self.p = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        size = os.path.getsize(path) if path != "-" and os.path.exists(path) else None
        self.p = Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.fields[lines]} lines"),
                          TimeRemainingColumn(), transient=True)
        self.task = self.p.add_task("replay", total=size, lines=0)
        self.p.start()

    def update(self, lines: int, f: BinaryIO) -> None:
        if self.p is not None:
            try:
                inner = getattr(f, "fileobj", None)   # a gzip file: the compressed position
                pos: int | None = (inner if inner is not None else f).tell()
            except (OSError, ValueError, AttributeError):
                pos = None
            self.p.update(self.task, completed=pos, lines=lines)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
