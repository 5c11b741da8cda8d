"""The edge's fast path: the commonest event lines decoded in C, names interned.

Where the compiled build has it (``_fastdecode.c``), :func:`decoder` gives a function that
decodes a line of plain shape (``type`` first, each known field once, ASCII strings without
escapes, plain numbers) of a message, contact add, group join or block into the very event
``EVENT_DECODER`` would make of it, and returns None for any other line, which then goes
through msgspec as before (so every error, dead letter and limit stays msgspec's).
Identifiers of repeated names come out as the same ``str`` object (a bounded cache of
recent names): the engine's identity map then matches them by pointer, with their hash
already computed. The pure-Python build has no fast path (:func:`decoder` gives None).

What each field may hold is read from the event classes themselves (``msgspec.inspect``),
so the fast path follows the contract; a field of a kind it does not know leaves its type
to msgspec alone.

>>> from bulkguard.events import EVENT_DECODER
>>> fast = decoder()
>>> line = b'{"type":"message","ts":1.5,"sender":"a","recipient":"b","typing_ms":0}'
>>> fast is None or fast(line) == EVENT_DECODER.decode(line)
True
>>> fast is None or fast(b'{"ts":1.5,"type":"message","sender":"a","recipient":"b"}') is None
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final

import msgspec.inspect as mi

from bulkguard.events import CHUNK, MAX_ID, Block, ContactAdd, Event, GroupJoin, Message, raw_lines
from bulkguard.types import InputEvent

#: The event types the fast path decodes (the commonest: most of a stream's lines).
TYPES: Final = (Message, ContactAdd, GroupJoin, Block)
#: Fields that name an account or a group: interned. Others (content digests, rarely
#: repeated by one person) are decoded as fresh strings.
NAMES: Final = frozenset({"sender", "recipient", "group", "template", "account", "contact",
                          "member", "added_by", "blocker", "blocked"})
#: The intern cache: 2**CACHE_BITS slots of 16 bytes (1 MiB), direct-mapped by a hash of
#: the name; a name whose slot was taken by another is simply made again.
CACHE_BITS: Final = 16
K_TS, K_ID, K_STR, K_LITERAL, K_COUNT = range(5)

Field = tuple[str, int, bool, bool, object, "tuple[str, ...] | None"]


def _kind(name: str, t: mi.Type) -> tuple[int, tuple[str, ...] | None] | None:
    """The fast path's kind of a field of type ``t`` (``Optional`` stripped), or None."""
    if isinstance(t, mi.UnionType):
        rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(rest) != 1:
            return None
        t = rest[0]
    if isinstance(t, mi.FloatType):
        # any finite double: the bounds that only refuse inf and nan (JSON has neither)
        ok = (t.ge in (None, -sys.float_info.max) and t.le in (None, sys.float_info.max)
              and t.gt is None and t.lt is None and t.multiple_of is None)
        return (K_TS, None) if ok else None
    if isinstance(t, mi.StrType):
        if t.max_length != MAX_ID or t.min_length is not None or t.pattern is not None:
            return None
        return (K_ID if name in NAMES else K_STR), None
    if isinstance(t, mi.LiteralType):
        if not all(isinstance(v, str) and v.isascii() for v in t.values):
            return None
        return K_LITERAL, tuple(str(v) for v in t.values)
    if isinstance(t, mi.IntType):
        ok = (t.ge == 0 and t.gt is None and t.le is None and t.lt is None
              and t.multiple_of is None)
        return (K_COUNT, None) if ok else None
    return None


def spec_of(cls: type[Event]) -> tuple[str, type, tuple[Field, ...]] | None:
    """What the C decoder needs of ``cls`` (its tag, and its fields in positional order), or
    None when a field is of a kind the fast path leaves to msgspec."""
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType) or info.tag_field != "type" \
            or not isinstance(info.tag, str) or info.array_like or info.forbid_unknown_fields:
        return None
    fields: list[Field] = []
    for f in info.fields:
        k = _kind(f.name, f.type)
        if k is None or f.encode_name != f.name or f.default_factory is not mi.NODEFAULT:
            return None
        default = None if f.required else f.default
        fields.append((f.name, k[0], f.required, k[0] == K_ID, default, k[1]))
    return info.tag, cls, tuple(fields)


_decode: Callable[[bytes], InputEvent | None] | None = None
_made = False


def decoder() -> Callable[[bytes], InputEvent | None] | None:
    """The fast path's ``decode(line) -> event or None`` (one per process, so that its
    cache of names is shared by every source), or None in the pure-Python build."""
    global _decode, _made
    if not _made:
        _made = True
        try:
            from bulkguard.ingest._fastdecode import Decoder
        except ImportError:   # the pure-Python build: no C extensions
            return None
        specs = tuple(s for s in (spec_of(c) for c in TYPES) if s is not None)
        if specs:
            _decode = Decoder(specs, MAX_ID, CACHE_BITS).decode
    return _decode


def lines(stream: BinaryIO) -> Iterator[bytes]:
    """:func:`bulkguard.events.raw_lines` of ``stream`` (``readline(CHUNK)`` until it gives
    ``b""``), by the C iterator where it is built: the same calls of ``readline``, without
    a ``partial`` call and a generic comparison with ``b""`` per line."""
    try:
        from bulkguard.ingest._fastdecode import Lines
    except ImportError:   # the pure-Python build
        return raw_lines(stream)
    return Lines(stream.readline, CHUNK)


def _message_ts(ev: Message) -> float | None:
    """``ev.ts`` if the message has exactly one target (recipient or group), else None."""
    return ev.ts if (ev.recipient is None) is not (ev.group is None) else None


def message_ts() -> Callable[[Any], float | None]:
    """``f(message) -> its ts, or None`` if it has no target or both (the reorder stage's
    question about each message): by ``_fastdecode.OneOf`` where it is built, which reads
    the three slots in place (no tuple of all the fields, no attribute look-ups)."""
    try:
        from bulkguard.ingest._fastdecode import OneOf
    except ImportError:   # the pure-Python build
        return _message_ts
    return OneOf(Message, "ts", "recipient", "group").get


def cache_stats() -> tuple[int, int] | None:
    """(hits, misses) of the name cache so far, or None without the fast path."""
    d = decoder()
    owner = getattr(d, "__self__", None)
    return owner.stats() if owner is not None else None


__all__ = ["TYPES", "cache_stats", "decoder", "lines", "message_ts", "spec_of"]
