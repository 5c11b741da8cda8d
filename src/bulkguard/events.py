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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO, Literal, Optional, Union

import msgspec

# `le`/`ge` bounds make msgspec refuse non-finite numbers (JSON has no NaN; 1e999 overflows).
Ts = Annotated[float, msgspec.Meta(ge=-sys.float_info.max, le=sys.float_info.max)]
Count = Annotated[int, msgspec.Meta(ge=0)]

MessageKind = Literal["text", "image", "video", "audio", "document", "link", "other"]
AccountKind = Literal["personal", "business"]
ReportReason = Literal["spam", "abuse", "scam", "other"]
OptinSource = Literal["qr", "link", "web", "chat", "other"]
TemplateCategory = Literal["marketing", "utility", "authentication"]


class Event(msgspec.Struct, tag_field="type", omit_defaults=True, frozen=True, gc=False):
    ts: Ts


class Register(Event, tag="register", frozen=True):
    account: str
    kind: AccountKind = "personal"
    phone: Optional[str] = None
    ip: Optional[str] = None
    device: Optional[str] = None
    client: Optional[str] = None
    country: Optional[str] = None


class Message(Event, tag="message", frozen=True):
    sender: str
    recipient: Optional[str] = None
    group: Optional[str] = None
    kind: Optional[MessageKind] = None
    size: Optional[Count] = None
    forwarded: Count = 0
    digest: Optional[str] = None
    template: Optional[str] = None
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
    account: str
    contact: str


class ContactSync(Event, tag="contact_sync", frozen=True):
    account: str
    numbers: Count
    matched: Count


class GroupCreate(Event, tag="group_create", frozen=True):
    account: str
    group: str
    size_limit: Optional[Count] = None


class GroupJoin(Event, tag="group_join", frozen=True):
    group: str
    member: str
    added_by: Optional[str] = None


class Report(Event, tag="report", frozen=True):
    reporter: str
    reported: str
    reason: Optional[ReportReason] = None
    messages: Optional[list[str]] = None


class Block(Event, tag="block", frozen=True):
    blocker: str
    blocked: str


class OptIn(Event, tag="optin", frozen=True):
    business: str
    customer: str
    source: Optional[OptinSource] = None


class OptOut(Event, tag="optout", frozen=True):
    business: str
    customer: str


class TemplateRegister(Event, tag="template_register", frozen=True):
    business: str
    template: str
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
    account: str
    action: Literal["throttle", "challenge", "suspend", "ban", "reinstate", "reject"]
    score: float
    reasons: list[str]
    note: Optional[str] = None
    rules: Optional[str] = None
    model: Optional[str] = None
    engine: Optional[str] = None


class Label(msgspec.Struct, frozen=True):
    account: str
    label: Literal["legit", "abusive"]
    archetype: str = ""


class EventError(ValueError):
    """A line that is not a valid event; the message says why."""


#: Decodes and validates one JSON line into an event (the hot path of every source).
EVENT_DECODER = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder()


def explain_error(err: Exception, line: bytes) -> str:
    """The dead-letter reason for a line that ``EVENT_DECODER`` (or UTF-8) refused."""
    msg = str(err)
    if isinstance(err, UnicodeDecodeError):
        return f"not valid UTF-8 (byte {err.start})"
    if not isinstance(err, msgspec.ValidationError):
        return msg
    if "at `$.type`" in msg and msg.startswith("Invalid value"):
        return "unknown event type " + msg.removeprefix("Invalid value ").split(" - ")[0]
    if msg == "Object missing required field `type`":
        return "missing required field `type`"
    if msg.startswith("Expected `object`"):
        return "not a JSON object" + msg.removeprefix("Expected `object`")
    return msg


def decode_line(line: bytes) -> AnyEvent:
    """Decode and validate one JSON line; raise :class:`EventError` naming the problem."""
    try:
        ev = EVENT_DECODER.decode(line)
        if not line.isascii():  # msgspec skips unknown fields without checking their UTF-8
            line.decode("utf-8")
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as err:
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


def open_input(path: str | Path) -> BinaryIO:
    """Open an events file: a path, a ``.gz`` path, or ``-`` for standard input."""
    if str(path) == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"events file not found: {p}")
    f = open(p, "rb")
    if p.suffix == ".gz" or f.peek(2)[:2] == b"\x1f\x8b":
        f.close()
        return gzip.open(p, "rb")  # type: ignore[return-value]
    return f


def iter_lines(stream: BinaryIO, start_line: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line_without_newline)``, 1-based, skipping ``start_line`` lines."""
    n = 0
    for raw in stream:
        n += 1
        if n <= start_line:
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        yield n, raw


class DeadLetters:
    """Writes each bad line unchanged, with its line number and reason, as one JSON object."""

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
        # The raw bytes may not be UTF-8; keep them exact via surrogateescape-free latin-1 when needed.
        try:
            text, enc = raw.decode("utf-8"), None
        except UnicodeDecodeError:
            text, enc = raw.hex(), "hex"
        rec = {"line": line_no, "reason": reason, "raw": text}
        if enc:
            rec["raw_encoding"] = enc
        self._f.write(_encoder.encode(rec) + b"\n")

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
    line number (``strict``). Empty lines are skipped and counted.
    """
    stats = stats if stats is not None else ReadStats()
    with open_input(path) as f:
        for n, raw in iter_lines(f):
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
