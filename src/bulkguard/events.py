"""Typed events of the wire contract (``shared/spec/events.md``), JSONL reading and dead letters.

Every event type is a msgspec ``Struct`` tagged by ``type``; decoding a line both parses
and validates it, so a line is either an event or an :class:`EventError` with a reason.

>>> ev = decode_line(b'{"type":"block","ts":1,"blocker":"b","blocked":"a","note":"x"}')
>>> ev.blocker, ev.ts
('b', 1.0)
>>> decode_line(b'{"type":"teleport","ts":1}')
Traceback (most recent call last):
...
bulkguard.events.EventError: unknown event type 'teleport'
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, BinaryIO, Final, Literal, Optional, Union

import msgspec

# `le`/`ge` bounds make msgspec refuse non-finite numbers (JSON has no NaN; 1e999 overflows).
Ts = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
Count = Annotated[int, msgspec.Meta(ge=0)]

# Documented limits (README, "Limits"): what one line may make the engine hold or do.
#: Bytes per input line, its line ending not counted; a longer line is dead-lettered (its
#: first MAX_LINE bytes are kept) and never held whole in memory.
MAX_LINE: Final = 65_536
#: Characters per identifier or other string field (account, group, ip, digest...).
MAX_ID: Final = 256
#: Reported texts the classifier reads per report, and characters it reads of each
#: (``Report.messages``; the rest is ignored, the report itself counts in full).
MAX_TEXTS: Final = 50
MAX_TEXT: Final = 4_096
#: JSON nesting is limited by the decoder (about 990 levels, even inside ignored fields):
#: a deeper line is dead-lettered as "JSON nested too deep".
Id = Annotated[str, msgspec.Meta(max_length=MAX_ID)]

MessageKind = Literal["text", "image", "video", "audio", "document", "link", "other"]
AccountKind = Literal["personal", "business"]
ReportReason = Literal["spam", "abuse", "scam", "other"]
OptinSource = Literal["qr", "link", "web", "chat", "other"]
TemplateCategory = Literal["marketing", "utility", "authentication"]


class Event(msgspec.Struct, tag_field="type", omit_defaults=True, frozen=True, gc=False):
    ts: Ts


class Register(Event, tag="register", frozen=True):
    account: Id
    kind: AccountKind = "personal"
    phone: Optional[Id] = None
    ip: Optional[Id] = None
    device: Optional[Id] = None
    client: Optional[Id] = None
    country: Optional[Id] = None


class Message(Event, tag="message", frozen=True):
    sender: Id
    recipient: Optional[Id] = None
    group: Optional[Id] = None
    kind: Optional[MessageKind] = None
    size: Optional[Count] = None
    forwarded: Count = 0
    digest: Optional[Id] = None
    template: Optional[Id] = None
    typing_ms: Optional[Count] = None
    # "Exactly one of recipient or group" is checked by ``target_error`` in ``decode_line``
    # and by the engine (which refuses such a message), not in ``__post_init__``: a Python
    # call on every message costs replay about 5% of its speed.


def target_error(ev: Event) -> str | None:
    """Why ``ev`` is not a valid event beyond its field types (a message needs exactly one
    of ``recipient`` or ``group``), or None.

    >>> target_error(Message(ts=1, sender="a", recipient="b", group="g"))
    'a message needs exactly one of `recipient` or `group`, it has both'
    """
    if type(ev) is Message and (ev.recipient is None) == (ev.group is None):
        return ("a message needs exactly one of `recipient` or `group`, it has "
                + ("neither" if ev.recipient is None else "both"))
    return None


class ContactAdd(Event, tag="contact_add", frozen=True):
    account: Id
    contact: Id


class ContactSync(Event, tag="contact_sync", frozen=True):
    account: Id
    numbers: Count
    matched: Count


class GroupCreate(Event, tag="group_create", frozen=True):
    account: Id
    group: Id
    size_limit: Optional[Count] = None


class GroupJoin(Event, tag="group_join", frozen=True):
    group: Id
    member: Id
    added_by: Optional[Id] = None


class Report(Event, tag="report", frozen=True):
    reporter: Id
    reported: Id
    reason: Optional[ReportReason] = None
    messages: Optional[list[str]] = None


class Block(Event, tag="block", frozen=True):
    blocker: Id
    blocked: Id


class OptIn(Event, tag="optin", frozen=True):
    business: Id
    customer: Id
    source: Optional[OptinSource] = None


class OptOut(Event, tag="optout", frozen=True):
    business: Id
    customer: Id


class TemplateRegister(Event, tag="template_register", frozen=True):
    business: Id
    template: Id
    category: Optional[TemplateCategory] = None


ReviewAction = Literal["ban", "suspend", "reinstate", "allow"]


class ChallengePassed(Event, tag="challenge_passed", frozen=True):
    """The account passed the challenge it was given (optional contract event)."""

    account: str


class AppealGranted(Event, tag="appeal_granted", frozen=True):
    """An appeal against the action on the account was granted (optional contract event)."""

    account: str
    note: Optional[str] = None


class ReviewerAction(Event, tag="reviewer_action", frozen=True):
    """A reviewer's decision on an account (optional contract event): ``ban`` or
    ``suspend`` it (``until``: the suspension ends at that event time), or ``reinstate``
    or ``allow`` it (both lift any action; ``allow`` after a review found nothing)."""

    account: str
    action: ReviewAction
    until: Optional[Ts] = None
    note: Optional[str] = None


AnyEvent = Union[
    Message, Register, ContactAdd, ContactSync, GroupCreate, GroupJoin,
    Report, Block, OptIn, OptOut, TemplateRegister, ChallengePassed, AppealGranted,
    ReviewerAction,
]
EVENT_TYPES: dict[str, type[Event]] = {
    c.__struct_config__.tag: c for c in AnyEvent.__args__  # type: ignore[attr-defined]
}


class Decision(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One line of the decisions file (spec: Decisions), with optional fields after the
    contract's six: ``note`` (a reviewer's or appeal's note), and the versions of the
    ``rules``, ``model`` and ``engine`` that made it."""

    line: int
    ts: float
    account: Id
    action: Literal["throttle", "challenge", "suspend", "ban", "reinstate", "reject"]
    score: float
    reasons: list[str]
    note: Optional[str] = None
    rules: Optional[str] = None
    model: Optional[str] = None
    engine: Optional[str] = None


class Label(msgspec.Struct, frozen=True):
    account: Id
    label: Literal["legit", "abusive"]
    archetype: str = ""


class EventError(ValueError):
    """A line that is not a valid event; the message says why."""


class OutputError(OSError):
    """An output that could not be written (a full disk...); the message names the file.
    (Here, not in the compiled ``store.decisions``: mypyc cannot subclass a builtin.)"""


class DeadLetterError(OSError):
    """The dead-letter file could not be written; the message names it (not a read error)."""


class InputError(ValueError):
    """An input that cannot be read on (corrupt or truncated compression, a closed standard
    input, a read error); the message names the file and the line reached."""


#: Decodes and validates one JSON line into an event (the hot path of every source).
EVENT_DECODER = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder()
#: What a decoder raises on a bad line (msgspec raises RecursionError on deep nesting,
#: even inside a field it skips).
DECODE_ERRORS: Final = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError,
                        RecursionError)
#: What reading a file may raise: I/O errors, truncated (EOFError) or corrupt gzip.
READ_ERRORS: Final = (OSError, EOFError, zlib.error)
TOO_DEEP: Final = "JSON nested too deep"


def explain_error(err: Exception, line: bytes) -> str:
    """The dead-letter reason for a line that ``EVENT_DECODER`` (or UTF-8) refused."""
    msg = str(err)
    if isinstance(err, UnicodeDecodeError):
        return f"not valid UTF-8 (byte {err.start})"
    if isinstance(err, RecursionError):
        return TOO_DEEP
    if not isinstance(err, msgspec.ValidationError):
        return msg
    if "at `$.type`" in msg and msg.startswith("Invalid value"):
        return "unknown event type " + msg.removeprefix("Invalid value ").split(" - ")[0]
    if msg == "Object missing required field `type`":
        return "missing required field `type`"
    if msg.startswith("Expected `object`"):
        return "not a JSON object" + msg.removeprefix("Expected `object`")
    return msg


#: The dead-letter reason of a line over :data:`MAX_LINE` bytes.
TOO_LONG: Final = f"line too long: over {MAX_LINE} bytes (the limit per line)"


def decode_line(line: bytes) -> AnyEvent:
    """Decode and validate one JSON line; raise :class:`EventError` naming the problem."""
    if len(line) > MAX_LINE:
        raise EventError(TOO_LONG)
    try:
        ev = EVENT_DECODER.decode(line)
        if not line.isascii():  # msgspec skips unknown fields without checking their UTF-8
            line.decode("utf-8")
    except DECODE_ERRORS as err:
        raise EventError(explain_error(err, line)) from None
    why = target_error(ev)
    if why is not None:
        raise EventError(why)
    return ev


def encode_event(ev: Event) -> bytes:
    """Encode an event as one JSON line (without newline); optional fields left out."""
    return _encoder.encode(ev)


@dataclass(slots=True)
class ReadStats:
    read: int = 0       # physical lines seen (including empty and bad)
    accepted: int = 0
    rejected: int = 0
    empty: int = 0

    def summary(self) -> str:
        return (f"read {self.read} lines: {self.accepted} accepted, "
                f"{self.rejected} rejected, {self.empty} empty skipped")


GZIP_MAGIC: Final = b"\x1f\x8b"
CHUNK: Final = MAX_LINE + 2   # what one read of a line may return


def open_input(path: str | Path) -> BinaryIO:
    """Open an events file: a path, a ``.gz`` path, or ``-`` for standard input; gzip is
    recognised by its magic bytes too (also on standard input)."""
    if str(path) == "-":
        stdin = sys.stdin
        buf = getattr(stdin, "buffer", None) if stdin is not None else None
        if buf is None or buf.closed:
            raise InputError("standard input is closed (give a file, or pipe events in)")
        try:
            head = buf.peek(2)[:2] if hasattr(buf, "peek") else b""
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read standard input: {err}") from None
        if head == GZIP_MAGIC:
            return gzip.GzipFile(fileobj=buf, mode="rb")  # type: ignore[return-value]
        return buf  # type: ignore[no-any-return]
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"events file not found: {p}")
    f = open(p, "rb")
    if p.suffix == ".gz" or f.peek(2)[:2] == GZIP_MAGIC:
        f.close()
        return gzip.open(p, "rb")  # type: ignore[return-value]
    return f


def raw_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The stream's lines, each cut at ``MAX_LINE + 2`` bytes (room for ``\\r\\n``), so
    that a line without end is never held whole. A chunk of that size without a newline
    is the start of an overlong line: pass it to :func:`skip_rest` before reading on."""
    return iter(partial(stream.readline, CHUNK), b"")


def skip_rest(stream: BinaryIO, head: bytes) -> int:
    """Consume the rest of the overlong line that began with ``head``; return its length
    (a lower bound if it was cut by the end of the input)."""
    size = len(head)
    chunk = head
    while chunk and not chunk.endswith(b"\n"):
        chunk = stream.readline(1 << 20)
        size += len(chunk)
    return size


def skip_lines(stream: BinaryIO, count: int) -> int:
    """Read past ``count`` lines (an overlong one counts once); return how many there were."""
    n = 0
    for raw in raw_lines(stream):
        if len(raw) >= CHUNK and not raw.endswith(b"\n"):
            skip_rest(stream, raw)
        n += 1
        if n >= count:
            break
    return n


def overlong(stream: BinaryIO, raw: bytes) -> bool:
    """For a chunk over ``MAX_LINE`` bytes (the hot path tests only its length): whether
    its line is over the limit, the rest of it consumed if so."""
    if len(raw) >= CHUNK and not raw.endswith(b"\n"):
        skip_rest(stream, raw)
        return True
    return len(raw.rstrip(b"\n").removesuffix(b"\r")) > MAX_LINE


def read_error(path: str | Path, line: int, err: BaseException) -> InputError:
    """An :class:`InputError` naming the file and the last line read before ``err``."""
    what = "standard input" if str(path) == "-" else str(path)
    why = str(err) or type(err).__name__
    if isinstance(err, EOFError):
        why = f"truncated compressed input ({why})"
    elif isinstance(err, zlib.error):
        why = f"corrupt compressed data ({why})"
    return InputError(f"{what}: cannot read after line {line}: {why}")


def iter_lines(stream: BinaryIO, start_line: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line_without_newline)``, 1-based, skipping ``start_line``
    lines. An overlong line is yielded cut to ``MAX_LINE + 2`` bytes (so that
    :func:`decode_line` refuses it) and the rest of it is skipped."""
    n = 0
    for raw in raw_lines(stream):
        n += 1
        if len(raw) >= CHUNK and not raw.endswith(b"\n"):
            skip_rest(stream, raw)
        if n <= start_line:
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        yield n, raw


class DeadLetters:
    """Writes each bad line unchanged, with its line number and reason, as one JSON object
    (an overlong line: its first :data:`MAX_LINE` bytes, with ``"truncated": true``)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._f: io.BufferedWriter | None = None
        self.count = 0

    def write(self, line_no: int, raw: bytes, reason: str) -> None:
        self.count += 1
        if self.path is None:
            return
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "ab")
        cut = len(raw) > MAX_LINE
        if cut:
            raw = raw[:MAX_LINE]
        # The raw bytes may not be UTF-8; keep them exact as hex then.
        try:
            text, enc = raw.decode("utf-8"), None
        except UnicodeDecodeError:
            text, enc = raw.hex(), "hex"
        rec: dict[str, object] = {"line": line_no, "reason": reason, "raw": text}
        if enc:
            rec["raw_encoding"] = enc
        if cut:
            rec["truncated"] = True
        try:
            self._f.write(_encoder.encode(rec) + b"\n")
        except OSError as err:
            raise DeadLetterError(err.errno or 0, f"cannot write dead letters to {self.path}: "
                                                  f"{err.strerror or err}") from None

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_events(path: str | Path, *, strict: bool = False,
                dead: DeadLetters | None = None,
                stats: ReadStats | None = None) -> Iterator[tuple[int, AnyEvent]]:
    """Yield ``(line_number, event)`` for the valid lines of a file.

    Bad lines go to ``dead`` (default mode) or raise :class:`EventError` with the
    line number (``strict``). Empty lines are skipped and counted. A file that cannot be
    read on (corrupt gzip...) raises :class:`InputError` naming it and the line.
    """
    stats = stats if stats is not None else ReadStats()
    with open_input(path) as f:
        lines = iter_lines(f)
        n = 0
        while True:
            try:
                item = next(lines, None)
            except READ_ERRORS as err:
                raise read_error(path, n, err) from None
            if item is None:
                break
            n, raw = item
            stats.read = n
            ev: AnyEvent | None
            try:
                ev = decode_line(raw)
            except EventError as err:
                if not raw.strip():
                    stats.empty += 1
                    continue
                ev = after_bom(raw) if n == 1 else None
                if ev is None:
                    stats.rejected += 1
                    if strict:
                        raise EventError(f"line {n}: {err}") from None
                    if dead is not None:
                        dead.write(n, raw, str(err))
                    continue
            stats.accepted += 1
            yield n, ev


def after_bom(raw: bytes) -> AnyEvent | None:
    """The event on a first line that starts with a UTF-8 byte order mark (RFC 8259 lets a
    reader ignore it), or None."""
    if not raw.startswith(b"\xef\xbb\xbf"):
        return None
    try:
        return decode_line(raw[3:])
    except EventError:
        return None
