"""``replay --workers 2``: the input read in one process, the engine run in another.

One replay is a pipeline of two stages of about equal cost: the *edge* (read, decode and
validate each line, the stream clock and reorder window, dead letters) and the *engine*
(state, signals, scores, decisions). With two processes, a forked child runs the edge,
exactly as one process would (:class:`~bulkguard.ingest.sources.FileSource` into a
:class:`~bulkguard.ingest.reorder.ReorderedSource`), and hands the events the window
releases, in the order it releases them, to the parent through a pipe as compact
records (``_frames.c``: a double, an integer or a string per field; a name once, then by
id). The parent turns each record back into the same event and runs the engine on it, so
the engine sees the same events, in the same order, with the same line numbers as in one
process: the decisions are the same, byte for byte.

The dead letters are the same too, in the same order: those of the edge (bad lines,
events too far ahead) travel as notes in their place among the events, and the parent
writes them and the engine's own refusals into one file, in the order one process would
have. A strict run stops at the same line with the same message. The child's read error
(a corrupt ``.gz``) is raised again in the parent with its message. If the child dies
without its end record, the parent says so and fails (exit 2): never a silent short
output. If the parent stops (an error, Ctrl-C), it closes the pipe and ends the child.

Not with ``--state``: a checkpoint would have to hold both processes' state at one
point of the stream. ``replay`` refuses the combination.

The records need the compiled build's ``_frames`` extension; :func:`available` says
whether it is there (the pure-Python build replays in one process).
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, get_args

import msgspec
import msgspec.inspect as mi

from bulkguard.events import EVENT_DECODER, ContactAdd, DeadLetters, InputError, Message, ReadStats
from bulkguard.ingest.fastdecode import NAMES
from bulkguard.ingest.reorder import Reorder, ReorderedSource
from bulkguard.ingest.sources import FileSource, StrictStop, dead_letter
from bulkguard.types import InputEvent

if TYPE_CHECKING:
    from bulkguard.engine import Engine
    from bulkguard.ingest._frames import Encoder
    from bulkguard.store.decisions import JsonlSink

__all__ = ["EdgeError", "PipedSource", "auto_workers", "available", "run_edge", "start", "type_table"]

#: Bytes of records written to the pipe at a time (the pipe is enlarged to match).
CHUNK: Final = 256 * 1024
#: The names the edge keeps ids for; beyond, the table starts again (bounded memory).
MAX_NAMES: Final = 1 << 20
F_SETPIPE_SZ: Final = 1031   # Linux fcntl: a pipe's buffer size


class EdgeError(OSError):
    """The reading process failed or died: the run is incomplete."""


def available() -> bool:
    """Whether this build can run the two-process pipeline (the compiled build, with
    ``fork``)."""
    if not hasattr(os, "fork"):
        return False
    try:
        from bulkguard.ingest import _frames  # noqa: F401
    except ImportError:
        return False
    return True


def auto_workers(events: str, state_dir: str | None) -> int:
    """``--workers auto`` (the command's default): 2 where the pipeline can run and has a
    core of its own (the compiled build, two usable CPUs, an input file, no ``--state``),
    else 1. The decisions are the same either way."""
    if state_dir is not None or events == "-" or not available():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 2 if cpus >= 2 else 1


def type_table() -> tuple[tuple[type, tuple[str, ...], tuple[bool, ...]], ...]:
    """Each event type of the contract with its fields in positional order and which of
    them are sent by id (names of accounts and groups, and literals: few distinct values)."""
    out = []
    for cls in get_args(InputEvent):
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        names = tuple(f.name for f in info.fields)
        flags = []
        for f in info.fields:
            t = f.type
            if isinstance(t, mi.UnionType):
                rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
                t = rest[0] if len(rest) == 1 else t
            flags.append(f.name in NAMES or isinstance(t, mi.LiteralType))
        out.append((cls, names, tuple(flags)))
    return tuple(out)


_END: Final = msgspec.msgpack.Encoder()
# Packed records (events the fixed layout cannot carry: a report's quoted messages, an
# integer beyond 64 bits) are the event as JSON, decoded as the input was.
_PACK: Final = msgspec.json.Encoder()
_UNPACK: Final = EVENT_DECODER


class _Notes:
    """The edge's dead letters: notes among the records, written by the parent."""

    def __init__(self, enc: Encoder) -> None:
        self.enc = enc

    def write(self, line_no: int, raw: bytes, reason: str) -> None:
        self.enc.add_record(NOTE, line_no, raw, reason.encode("utf-8", "surrogatepass"))


try:
    from bulkguard.ingest._frames import END, NOTE
except ImportError:   # the pure-Python build: no pipeline
    END, NOTE = 4, 3


def run_edge(fd: int, events: str, stage: Reorder[InputEvent], *, strict: bool,
             progress: bool) -> int:
    """The child's whole work: every event of ``events`` through the reorder stage into
    records on ``fd``, then the end record (counts, or the error that stopped it).
    Returns the exit status (1: the parent had gone)."""
    from bulkguard.ingest._frames import Encoder
    enc = Encoder(type_table(), MAX_NAMES)
    stats = ReadStats()
    source = FileSource(events, _Notes(enc), strict=strict, stats=stats, progress=progress)
    ordered = ReorderedSource(source, stage)
    end: dict[str, object]
    try:
        try:
            enc.run(ordered, fd, _PACK.encode, CHUNK)
        finally:
            source.close()
        end = {"read": stats.read, "rejected": stats.rejected, "empty": stats.empty,
               "late": ordered.stage.late, "widest": ordered.stage.widest,
               "too_far": ordered.stage.too_far}
    except BrokenPipeError:
        return 1
    except StrictStop as stop:
        end = {"strict": [stop.line, stop.reason]}
    except BaseException as err:   # the parent raises it again: a read error, Ctrl-C...
        end = {"error": type(err).__name__, "message": str(err)}
    try:
        enc.add_record(END, 0, b"", _END.encode(end))
        enc.flush(fd)
    except OSError:
        return 1
    return 0


class PipedSource:
    """The parent's event source (the ``EventSource`` protocol): the events of the
    records on ``fd``; the edge's dead letters and the engine's refusals into ``dead``."""

    def __init__(self, fd: int, dead: DeadLetters, *, strict: bool) -> None:
        from bulkguard.ingest._frames import Decoder
        self.dead = dead
        self.strict = strict
        self.rejected = 0   # by the engine (the edge counts its own)
        table = type_table()
        # messages and contact adds come as (line, *fields): the engine takes them so
        # (pump_records)
        types = [cls for cls, _, _ in table]
        flat = (types.index(Message), types.index(ContactAdd))
        self.decoder = Decoder(fd, table, _UNPACK.decode, self._note, flat=flat)

    def _note(self, line: int, raw: bytes, reason: bytes) -> None:
        self.dead.write(line, raw, reason.decode("utf-8", "surrogatepass"))

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        """(line, event); ``records`` as they come, messages and contact adds as fields."""
        for rec in self.decoder:
            if len(rec) == 2:
                yield rec[0], rec[1]
            else:
                yield rec[0], (ContactAdd if len(rec) == 4 else Message)(*rec[1:])

    def records(self) -> Iterator[tuple[Any, ...]]:
        """``(line, event)``, or ``(line, *fields)`` for a message or a contact add
        (``pump_records``)."""
        return self.decoder

    def reject(self, line: int, reason: str) -> None:
        """The engine refused the last event: as ``ReorderedSource.reject`` would."""
        self.rejected += 1
        dead_letter(self.dead, self.strict, line,
                    self.decoder.last_raw or msgspec.json.encode(self.decoder.last_event), reason)


class Edge:
    """The forked reading process, seen from the parent."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.status: int | None = None

    def stop(self) -> None:
        """Close the pipe and end the child if it is still running; wait for it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.status is None:
            try:
                pid, st = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    os.kill(self.pid, signal.SIGTERM)
                    pid, st = os.waitpid(self.pid, 0)
                self.status = st
            except ChildProcessError:
                self.status = 0

    def wait(self) -> str:
        """Wait for the child's exit; how it ended, in words."""
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        st = self.status
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            return f"was killed by signal {name}"
        return f"exited with status {os.WEXITSTATUS(st)}"


def start(events: str, stage: Reorder[InputEvent], *, strict: bool,
          progress: bool) -> Edge:
    """Fork the reading process; its records come on ``Edge.fd``."""
    r, w = os.pipe()
    try:
        import fcntl
        fcntl.fcntl(w, F_SETPIPE_SZ, CHUNK * 4)
    except (ImportError, OSError):
        pass   # a smaller pipe: more switches, same records
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # the child: never returns into the parent's code
        code = 1
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)   # Ctrl-C: the parent reports it
            code = run_edge(w, events, stage, strict=strict, progress=progress)
        finally:
            os._exit(code)
    os.close(w)
    return Edge(pid, r)


_ERRORS: Final[dict[str, Callable[[str], BaseException]]] = {
    "InputError": InputError, "FileNotFoundError": FileNotFoundError,
    "PermissionError": PermissionError, "IsADirectoryError": IsADirectoryError,
    "ValueError": ValueError, "OSError": OSError, "KeyboardInterrupt": lambda _m: KeyboardInterrupt(),
}


def finish(edge: Edge, source: PipedSource, stats: ReadStats,
           line: int) -> dict[str, Any]:
    """After the engine has taken every event: the edge's end record (its counts, added
    to ``stats``), or the error it ended with, raised here; a child that died without one
    is an :class:`EdgeError`."""
    raw = source.decoder.end
    if raw is None:
        how = edge.wait()
        raise EdgeError(f"the reading process (pid {edge.pid}) {how} before the end of the "
                        f"input: the decisions up to input line {line} are written, the "
                        "rest of the input was not replayed")
    edge.wait()
    end: dict[str, Any] = msgspec.msgpack.decode(raw)
    if "strict" in end:
        n, reason = end["strict"]
        raise StrictStop(n, reason)
    if "error" in end:
        make = _ERRORS.get(end["error"])
        if make is None:
            raise EdgeError(f"the reading process failed: {end['error']}: {end['message']}")
        raise make(end["message"])
    stats.read = end["read"]
    stats.empty = end["empty"]
    stats.rejected = end["rejected"] + source.rejected   # (``accepted``: replay's _finish)
    return end


def replay_piped(events: str, eng: Engine, sink: JsonlSink, dead: DeadLetters,
                 stage: Reorder[InputEvent], stats: ReadStats, tally: Counter[str], *,
                 strict: bool, progress: bool) -> dict[str, Any]:
    """Run ``events`` through the two processes; the edge's end record."""
    from bulkguard.ingest.pump import pump_records
    edge = start(events, stage, strict=strict, progress=progress)
    try:
        source = PipedSource(edge.fd, dead, strict=strict)
        line = pump_records(source.records(), source.reject, eng, sink, tally)
        return finish(edge, source, stats, line)
    finally:
        edge.stop()
