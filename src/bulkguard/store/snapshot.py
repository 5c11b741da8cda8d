"""The engine's state on disk, in a format that cannot execute code (no pickle).

Used by ``bulkguard replay --state`` for its checkpoints; any other process that keeps an
engine (the HTTP service) saves and loads its state with the same four calls:
:func:`dumps`/:func:`loads` (bytes) and :func:`save`/:func:`load` (a file, written
atomically with mode 0600).

A snapshot is one header line and a body::

    bulkguard-state 2 <body length> <sha256 of the body, hex>\\n<body>

The body is MessagePack (msgspec) of plain values only -- nil, booleans, integers, floats,
strings, arrays and maps -- so decoding it builds nothing but those. Integers beyond 64
bits (an absurd event time makes some) are extension type 1 holding their decimal digits.
Loading checks the header, the length and the checksum before it decodes anything, then
the shape and type of every record while it rebuilds the state: a truncated, damaged,
foreign or hand-made file is refused with :class:`SnapshotError`, never half-loaded.

Version 2 (the account record with 32-bit counters and a side record) reads version 1
files too: their account records are converted (three fields no signal read are dropped).

What is saved is the engine's mutable state: the world (accounts, pairs, clusters,
families, groups, the id map), the business lane's and the forwarding limiter's state and
the event count. Rules, model, classifiers and policy configuration are not state: the
engine that loads a snapshot brings its own. ``meta`` carries the caller's own plain
values (replay stores its input line and output offsets there).

>>> from bulkguard.engine import Engine
>>> from bulkguard.events import Message
>>> eng = Engine()
>>> eng.handle(Message(ts=5.0, sender="a", recipient="b"), 1)
()
>>> blob = dumps(eng, {"line": 1})
>>> blob[:17]
b'bulkguard-state 2'
>>> other = Engine()
>>> loads(blob, other)
{'line': 1}
>>> other.world.accounts["a"].n_msgs, dumps(other, {"line": 1}) == blob
(1, True)
>>> loads(blob[:-1], other)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bulkguard.store.snapshot.SnapshotError: <bytes>: truncated or extended (body ... bytes, header says ...)
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from bulkguard.events import EventError, decode_line, encode_event
from bulkguard.policy.business import BusinessLane, BusinessState, TemplateState
from bulkguard.policy.forwarding import ForwardLimiter
from bulkguard.state.account import _FIELDS as ACCOUNT_FIELDS
from bulkguard.state.account import _I32 as ACCOUNT_I32
from bulkguard.state.account import I32_MAX, PER_MESSAGE, Account
from bulkguard.state.idmap import from_names
from bulkguard.state.pairtable import from_items
from bulkguard.state.windows import BucketCounter
from bulkguard.state.world import Cluster, Family, World

MAGIC = b"bulkguard-state"
VERSION = 2
READS = (1, 2)   # versions this bulkguard loads (1: converted, see _V1_ACCOUNT)
_HEADER_MAX = 200
_BIG = 1   # extension type of an integer beyond 64 bits
Plain = object   # nil, bool, int, float, str, list and dict of those (what MessagePack holds)


class SnapshotError(ValueError):
    """A snapshot that cannot be loaded (truncated, damaged, foreign, another version) or
    state that cannot be saved; the message names the file and what is wrong."""


if TYPE_CHECKING:
    from bulkguard.ingest.reorder import Held
    from bulkguard.types import InputEvent
    from bulkguard.engine import Engine as EngineState   # what a snapshot saves and restores


# -- encoding --------------------------------------------------------------------------------
_enc = msgspec.msgpack.Encoder()


def _box(x: object) -> object:
    """``x`` with every integer beyond 64 bits as extension ``_BIG`` (the slow path)."""
    if type(x) is int and not -(1 << 63) <= x < (1 << 64):
        return msgspec.msgpack.Ext(_BIG, str(x).encode())
    if type(x) is list:
        return [_box(v) for v in x]
    if type(x) is dict:
        return {k: _box(v) for k, v in x.items()}
    return x


def _unbox(code: int, data: memoryview) -> int:
    text = bytes(data)
    if code != _BIG or not text.lstrip(b"-").isdigit() or len(text) > 400:
        raise SnapshotError(f"unknown MessagePack extension {code}")
    return int(text)


def dumps(engine: EngineState, meta: Mapping[str, Plain] | None = None) -> bytes:
    """The snapshot of ``engine``'s state (and ``meta``) as bytes."""
    return encode(engine.snapshot(), meta)  # type: ignore[arg-type]


def encode(state: Mapping[str, object], meta: Mapping[str, Plain] | None = None) -> bytes:
    """The snapshot of an engine's ``snapshot()`` (world, events, lane, forward and,
    from replay, a reorder stage's ``reorder``) and ``meta``, as bytes."""
    extra = set(state) - _STATE_KEYS
    if extra:
        raise SnapshotError(f"engine state has parts the snapshot format does not know: "
                            f"{', '.join(sorted(extra))}")
    world, lane, fwd = state["world"], state.get("lane"), state.get("forward")
    reorder = state.get("reorder")
    doc = {"meta": dict(meta or {}), "events": state["events"],
           "seen": dict(state.get("seen") or {}), "typed": state.get("typed", 0),  # type: ignore[call-overload]
           "amnesty": [[i, am.baseline, am.at, am.msgs_at, am.fresh, am.relief_until, am.until]
                       for i, am in (state.get("amnesty") or {}).items()],  # type: ignore[attr-defined]
           "world": _world(world),  # type: ignore[arg-type]
           "lane": _lane(lane) if lane is not None else None,  # type: ignore[arg-type]
           "forward": _forward(fwd) if fwd is not None else None,  # type: ignore[arg-type]
           "reorder": _reorder(reorder) if reorder is not None else None}
    try:
        body = _enc.encode(doc)
    except OverflowError:
        body = _enc.encode(_box(doc))
    except TypeError as err:
        raise SnapshotError(f"engine state holds something a snapshot cannot keep: {err}") from None
    head = b"%s %d %d %s\n" % (MAGIC, VERSION, len(body), hashlib.sha256(body).hexdigest().encode())
    return head + body


def _known(obj: object, names: tuple[str, ...], what: str) -> None:
    """Refuse to save an object with attributes the format does not know (a new field must
    be added here, or it would be silently lost on resume)."""
    try:
        have = set(vars(obj))
    except TypeError:   # compiled (mypyc) or slotted: no __dict__ to look at
        return
    extra = have - set(names)
    if extra:
        raise SnapshotError(f"{what} has state the snapshot format does not know: "
                            f"{', '.join(sorted(extra))}")


_STATE_KEYS = {"world", "events", "lane", "forward", "seen", "typed", "reorder", "amnesty"}
_WORLD_ATTRS = ("now", "ids", "names", "accounts", "by_id", "pairs", "by_ip", "by_device",
                "by_block", "families", "bands", "groups", "next_family", "last_sweep",
                "grown", "due", "next_due", "renumbered",   # renumbered: transient, not kept
                "openers", "lockstep")


_CLUSTER_SLOTS = ("counter", "members", "flagged", "times", "stopped")


def _world(w: World) -> dict:
    _known(w, _WORLD_ATTRS, "World")
    if getattr(Cluster, "__slots__", _CLUSTER_SLOTS) != _CLUSTER_SLOTS:
        raise SnapshotError("Cluster has state the snapshot format does not know")
    return {
        "now": w.now, "last_sweep": w.last_sweep, "next_family": w.next_family,
        "names": w.names,
        "accounts": [[getattr(a, f) for f in ACCOUNT_FIELDS] for a in w.accounts.values()],
        # a dict (kept in its order), or the compiled build's C table, whose order depends on
        # its history: sorted, so that the same state gives the same bytes
        "pairs": dict(w.pairs) if isinstance(w.pairs, dict) else dict(sorted(w.pairs.items())),
        "clusters": [[[k, [getattr(c.counter, f) for f in _COUNTER], c.members, c.flagged,
                       c.times, c.stopped]
                      for k, c in table.items()] for table in (w.by_ip, w.by_device, w.by_block)],
        "families": [[g, f.simhash, f.accounts, f.sends, f.last, f.members, f.flagged]
                     for g, f in w.families.items()],
        "grown": w.grown, "due": [list(d) for d in w.due], "next_due": w.next_due,
        "bands": w.bands,
        "groups": [[k, *g] for k, g in w.groups.items()],
        "openers": w.openers, "lockstep": w.lockstep,
    }


_COUNTER = ("bh", "h", "hp", "bd", "d", "dp", "total", "last")
_BIZ = ("created", "last", "tier", "last_tier_check", "templates", "consent", "windows",
        "recent", "recent_log", "week", "week_log", "last_sent", "days", "refusals")
_TEMPLATE = ("category", "strikes", "paused_until", "disabled", "days")
_LANE_ATTRS = ("config", "biz", "_pending_consent", "_pending_last", "_violations",
               "_violations_last", "_next_sweep")
_FORWARD_ATTRS = ("config", "_sent", "_violations", "_violations_last", "_next_sweep")


def _days(days: dict[int, list[float]]) -> list:
    return [[d, *v] for d, v in days.items()]   # day keys may exceed 64 bits: not map keys


def _lane(lane: BusinessLane) -> dict:
    _known(lane, _LANE_ATTRS, "BusinessLane")
    if tuple(f.name for f in fields(BusinessState)) != _BIZ or \
            tuple(f.name for f in fields(TemplateState)) != _TEMPLATE:
        raise SnapshotError("BusinessState or TemplateState has fields the snapshot format "
                            "does not know")
    biz = []
    for name, st in lane.biz.items():
        biz.append([name, st.created, st.last, st.tier, st.last_tier_check,
                    [[t, ts.category, ts.strikes, ts.paused_until, ts.disabled, _days(ts.days)]
                     for t, ts in st.templates.items()],
                    st.consent, st.windows, st.recent, [list(e) for e in st.recent_log],
                    st.week, [list(e) for e in st.week_log], st.last_sent, _days(st.days),
                    st.refusals])
    return {"biz": biz, "pending": lane._pending_consent, "pending_last": lane._pending_last,
            "violations": lane._violations, "violations_last": lane._violations_last,
            "next_sweep": lane._next_sweep}


def _forward(fwd: ForwardLimiter) -> dict:
    _known(fwd, _FORWARD_ATTRS, "ForwardLimiter")
    return {"sent": [[s, d, chats] for (s, d), chats in fwd._sent.items()],
            "violations": fwd._violations, "violations_last": fwd._violations_last,
            "next_sweep": fwd._next_sweep}


_STAGE_NUMS = ("window", "max_ahead", "tail_ts", "t1", "t2", "t3", "clock", "limit", "mark",
               "released", "base", "cap", "watch", "d1", "d2", "d3", "p3", "period_end",
               "widest")
_STAGE_INTS = ("confirm", "head", "run", "late", "too_far", "jumps", "confirm_actors")
_STAGE_LISTS = ("ready", "tail", "heap", "first")


def _entry(e: object) -> list:
    """A held event ``(ts, line, event, raw)``: the event as its JSON line (decoded and
    validated again on load)."""
    return [e.ts, e.line, encode_event(e.ev), e.raw]  # type: ignore[attr-defined]


def _reorder(rs: object) -> dict:
    stage = rs.stage  # type: ignore[attr-defined]
    _known(stage, _STAGE_NUMS + _STAGE_INTS + _STAGE_LISTS + ("dead", "suspects", "actor_of"),
           "Reorder")
    return {**{k: getattr(stage, k) for k in _STAGE_NUMS + _STAGE_INTS},
            **{k: [_entry(e) for e in getattr(stage, k)] for k in _STAGE_LISTS},
            "dead": [[d[0], d[1], encode_event(d[2]), d[3], d[4]] for d in stage.dead],
            "suspects": [[_entry(e), seen] for e, seen in stage.suspects],
            "pending": [_entry(e) for e in rs.pending]}  # type: ignore[attr-defined]


# -- decoding --------------------------------------------------------------------------------
def _check_header(data: bytes, where: str) -> tuple[int, bytes]:
    """The format version and body of a snapshot, after checking its header, length and
    checksum."""
    end = data.find(b"\n", 0, _HEADER_MAX)
    parts = data[:end].split(b" ") if end > 0 else []
    if len(parts) != 4 or parts[0] != MAGIC:
        raise SnapshotError(f"{where}: not a bulkguard state file"
                            + (" (empty)" if not data else ""))
    if parts[1] not in {str(v).encode() for v in READS}:
        raise SnapshotError(f"{where}: state format version {parts[1].decode(errors='replace')}, "
                            f"this bulkguard reads versions "
                            f"{', '.join(map(str, READS))}")
    if not parts[2].isdigit() or len(parts[3]) != 64:
        raise SnapshotError(f"{where}: damaged header")
    body = data[end + 1:]
    if len(body) != int(parts[2]):
        raise SnapshotError(f"{where}: truncated or extended (body {len(body)} bytes, "
                            f"header says {int(parts[2])})")
    if hashlib.sha256(body).hexdigest().encode() != parts[3]:
        raise SnapshotError(f"{where}: checksum mismatch (the file is damaged)")
    return int(parts[1]), body


class _Bad(Exception):
    """A record that does not have the expected shape (turned into SnapshotError)."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def _ids(x: object, n: int) -> bool:
    return type(x) is list and all(type(m) is int and 0 <= m < n for m in x)


def _is_num(x: object) -> bool:
    return type(x) is float or type(x) is int


def _str_map(x: object, check: Callable[[object], bool], what: str) -> dict:
    _need(type(x) is dict and all(type(k) is str and check(v) for k, v in x.items()), what)
    return x  # type: ignore[return-value]


def _float_map(x: object, what: str) -> dict[str, float]:
    """A map of str to numbers, as floats (compiled, a float slot takes no int)."""
    _need(type(x) is dict and all(type(k) is str and _is_num(v) for k, v in x.items()), what)
    return {k: float(v) for k, v in x.items()}  # type: ignore[attr-defined]


def loads(data: bytes, engine: EngineState, where: str = "<bytes>") -> dict:
    """Restore ``engine``'s state from a snapshot; return its ``meta``.

    Nothing of ``engine`` changes unless the whole snapshot is valid."""
    state, meta = decode(data, engine, where)
    state.pop("reorder", None)
    engine.restore(state)  # type: ignore[arg-type]   # checked while decoded
    return meta


def decode(data: bytes, engine: EngineState, where: str = "<bytes>") -> tuple[dict, dict]:
    """The state (for ``engine.restore``; with ``reorder`` if one was saved) and ``meta``
    of a snapshot. ``engine`` gives the lane and forwarding configurations; it is not
    changed."""
    version, body = _check_header(bytes(data), where)
    try:
        doc = msgspec.msgpack.decode(body, ext_hook=_unbox)
    except (msgspec.DecodeError, SnapshotError, RecursionError, ValueError) as err:
        raise SnapshotError(f"{where}: not a valid state body ({err})") from None
    try:
        _need(type(doc) is dict and set(doc) == {"meta", "events", "world", "lane", "forward",
                                                 "reorder", "seen", "typed", "amnesty"},
              "top-level keys")
        _need(type(doc["typed"]) is int, "typed")
        _need(type(doc["meta"]) is dict and type(doc["events"]) is int, "meta or events")
        world = _load_world(doc["world"], version)
        lane = forward = None
        if doc["lane"] is not None:
            _need(engine.lane is not None, "a business lane the engine does not have")
            lane = _load_lane(doc["lane"], engine.lane.config)  # type: ignore[union-attr]
        if doc["forward"] is not None:
            _need(engine.forward is not None, "forwarding limits the engine does not have")
            forward = _load_forward(doc["forward"], engine.forward.config)  # type: ignore[union-attr]
        seen = _str_map(doc["seen"], lambda v: type(v) is int, "families seen")
        state: dict = {"world": world, "events": doc["events"], "seen": seen,
                       "typed": doc["typed"], "amnesty": _load_amnesty(doc["amnesty"], world),
                       "lane": lane if lane is not None else engine.lane,
                       "forward": forward if forward is not None else engine.forward}
        if doc["reorder"] is not None:
            state["reorder"] = _load_reorder(doc["reorder"])
    except _Bad as bad:
        raise SnapshotError(f"{where}: malformed state ({bad})") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
        raise SnapshotError(f"{where}: malformed state ({type(err).__name__}: {err})") from None
    return state, doc["meta"]


def _floats(x: object) -> bool:
    return type(x) is list and all(map(_is_num, x))


def _load_amnesty(rows: object, w: World) -> dict:
    from bulkguard.policy.appeals import Amnesty
    _need(type(rows) is list, "amnesty")
    out = {}
    for r in rows:  # type: ignore[attr-defined]
        _need(type(r) is list and len(r) == 7 and type(r[0]) is int and 0 <= r[0] < len(w.names)
              and (r[1] is None or _floats(r[1])) and _is_num(r[2]) and _is_num(r[3])
              and _floats(r[4]) and _is_num(r[5]) and (r[6] is None or _is_num(r[6])),
              "an amnesty")
        out[r[0]] = Amnesty(None if r[1] is None else [float(x) for x in r[1]], float(r[2]),
                            float(r[3]), [float(x) for x in r[4]], float(r[5]),
                            None if r[6] is None else float(r[6]))
    return out


def _load_entry(e: object) -> Held[InputEvent]:
    _need(type(e) is list and len(e) == 4 and _is_num(e[0]) and type(e[1]) is int  # type: ignore[arg-type,index]
          and type(e[2]) is bytes and type(e[3]) is bytes, "a held event")  # type: ignore[index]
    try:
        ev = decode_line(e[2])  # type: ignore[index]
    except EventError as err:
        raise _Bad(f"a held event: {err}") from None
    from bulkguard.ingest.reorder import Held   # replay's, above the store
    return Held(float(e[0]), e[1], ev, e[3])  # type: ignore[index]


def _load_reorder(d: object) -> object:
    from bulkguard.ingest.reorder import Reorder, ReorderState   # replay's, above the store
    _need(type(d) is dict, "reorder stage")
    for k in _STAGE_NUMS:
        _need(k in d and _is_num(d[k]), f"reorder {k}")  # type: ignore[index,operator]
    for k in _STAGE_INTS:
        _need(k in d and type(d[k]) is int, f"reorder {k}")  # type: ignore[index,operator]
    try:
        stage: Reorder = Reorder(float(d["base"]), float(d["max_ahead"]), d["confirm"],  # type: ignore[index]
                                 max_window=float(d["cap"]),  # type: ignore[index]
                                 confirm_actors=d["confirm_actors"])  # type: ignore[index]
    except ValueError as err:
        raise _Bad(f"reorder stage: {err}") from None
    for k in _STAGE_NUMS:
        setattr(stage, k, float(d[k]))  # type: ignore[index]
    for k in _STAGE_INTS:
        setattr(stage, k, d[k])  # type: ignore[index]
    for k in _STAGE_LISTS:
        setattr(stage, k, [_load_entry(e) for e in d[k]])  # type: ignore[index]
    dead = []
    for row in d["dead"]:  # type: ignore[index]
        _need(type(row) is list and len(row) == 5 and type(row[4]) is str, "a dead held event")
        h = _load_entry(row[:4])
        dead.append((h.ts, h.line, h.ev, h.raw, row[4]))
    stage.dead = dead
    suspects = []
    for row in d["suspects"]:  # type: ignore[index]
        _need(type(row) is list and len(row) == 2 and type(row[1]) is list
              and all(type(x) is int for x in row[1]), "a suspect")
        suspects.append((_load_entry(row[0]), row[1]))
    stage.suspects = suspects
    return ReorderState(stage, [_load_entry(e) for e in d["pending"]])  # type: ignore[index]


# The account record of format version 1, field by field (version 2 dropped n_received,
# cross_max and first_ts, which no signal read, and changed the order).
_V1_ACCOUNT = (
    "id", "level", "since_score", "reg_ts", "last_ts", "bm", "bh", "bd",
    "m_msg", "m_msg_p", "m_nc", "m_nc_p", "m_new", "m_new_p",
    "h_msg", "h_nc", "h_new", "h_dist", "d_msg", "d_nc", "d_new", "d_dist",
    "n_msgs", "n_group_msgs", "n_nc", "n_recip", "n_opened",
    "last_send", "gap_n", "gap_mean", "gap_var", "n_notype", "n_typed", "early_msgs",
    "fams", "fam_max", "fam_new_max", "n_fwd", "n_fwd_high", "link_msgs",
    "h_msg_p", "h_nc_p", "h_new_p", "h_dist_p", "d_msg_p", "d_nc_p", "d_new_p", "d_dist_p",
    "n_answered", "reply_delay_sum", "n_received", "n_senders", "n_twoway",
    "business", "reg_ip", "reg_device", "reg_block", "country_mismatch", "first_ts",
    "sync_n", "sync_numbers", "sync_matched", "sync_max",
    "groups_created", "group_adds", "group_adds_nc", "group_adds_new", "ga_b", "ga_h", "ga_hp",
    "cross_max",
    "blocks", "reports", "reports_partner", "report_text", "filed", "filed_stranger",
    "filed_target", "piled_on", "counted", "violations", "score", "peak", "reasons",
)
_V1_TO_V2 = tuple(_V1_ACCOUNT.index(f) for f in ACCOUNT_FIELDS)


def _field_kinds() -> tuple[tuple[type, ...], ...]:
    """Types each account field may hold, from a fresh record (None-able ones by name)."""
    fresh = Account(0)
    kinds: list[tuple[type, ...]] = []
    for f in ACCOUNT_FIELDS:
        t = type(getattr(fresh, f))
        if f in ("reg_ip", "reg_device", "reg_block"):
            kinds.append((str, type(None)))
        elif f in ("fams", "piled_on"):
            kinds.append((list, type(None)))
        elif f == "reasons":
            kinds.append((list,))
        elif t is float:
            kinds.append((float, int))
        else:
            kinds.append((t,))
    return tuple(kinds)


_KINDS = _field_kinds()
_REASONS = ACCOUNT_FIELDS.index("reasons")
_FLOATS = tuple(i for i, k in enumerate(_KINDS) if k == (float, int))
_FAMS = ACCOUNT_FIELDS.index("fams")
_PILED = ACCOUNT_FIELDS.index("piled_on")
_COUNTERS = tuple(ACCOUNT_FIELDS.index(f) for f in ACCOUNT_I32)
_PER_MESSAGE = tuple(ACCOUNT_FIELDS.index(f) for f in PER_MESSAGE)
_N_MSGS = ACCOUNT_FIELDS.index("n_msgs")


def _load_account(st: object, seen: set[tuple[type, ...]], version: int = VERSION) -> Account:
    if version == 1:
        _need(type(st) is list and len(st) == len(_V1_ACCOUNT), "an account record's length")
        st = [st[i] for i in _V1_TO_V2]  # type: ignore[index]
    _need(type(st) is list and len(st) == len(ACCOUNT_FIELDS), "an account record's length")
    types = tuple(map(type, st))  # type: ignore[call-overload]
    if types not in seen:   # each combination of types is checked once
        _need(all(t in k for t, k in zip(types, _KINDS)), "an account field's type")
        seen.add(types)
    # counters are 32-bit (compiled) and never negative: anything else is no saved state
    _need(all(0 <= st[i] <= I32_MAX for i in _COUNTERS),  # type: ignore[index]
          "an account counter out of range")
    # ... and those of its own messages at most n_msgs (how they saturate, see state.account)
    _need(all(st[i] <= st[_N_MSGS] for i in _PER_MESSAGE),  # type: ignore[index]
          "an account counter above its messages")
    reasons, fams = st[_REASONS], st[_FAMS]  # type: ignore[index]
    _need(all(type(r) is str for r in reasons), "an account's reasons")
    if fams is not None:
        _need(all(type(f) is list and len(f) == 4 and all(type(x) is int for x in f)
                  and 0 <= f[0] < 1 << 64 and 1 <= f[1] <= I32_MAX and 0 <= f[2] <= I32_MAX
                  for f in fams),
              "an account's content families")
    piled = st[_PILED]  # type: ignore[index]
    if piled is not None:
        _need(all(type(x) is int for x in piled), "an account's report pile-on")
    vals = list(st)  # type: ignore[call-overload]
    vals[_REASONS] = tuple(reasons)
    for i in _FLOATS:   # compiled (mypyc), a float field takes no int
        if type(vals[i]) is int:
            vals[i] = float(vals[i])
    a = Account(vals[0])
    for f, v in zip(ACCOUNT_FIELDS, vals):
        setattr(a, f, v)
    return a


def _load_world(d: object, version: int = VERSION) -> World:
    _need(type(d) is dict, "world")
    w = World()
    names = d["names"]  # type: ignore[index]
    _need(type(names) is list and all(type(n) is str for n in names), "names")
    w.names = names
    w.ids = from_names(names)   # the kind of identity map this build uses
    _need(len(w.ids) == len(names), "names unique")
    w.by_id = [None] * len(names)
    seen: set[tuple[type, ...]] = set()
    for st in d["accounts"]:  # type: ignore[index]
        a = _load_account(st, seen, version)
        _need(0 <= a.id < len(names) and w.by_id[a.id] is None, "an account's id")
        w.by_id[a.id] = a
    for key in ("now", "last_sweep"):
        _need(_is_num(d[key]), key)  # type: ignore[index]
    w.now, w.last_sweep = float(d["now"]), float(d["last_sweep"])  # type: ignore[index]
    _need(type(d["next_family"]) is int, "next_family")  # type: ignore[index]
    w.next_family = d["next_family"]  # type: ignore[index]
    pairs = d["pairs"]  # type: ignore[index]
    _need(type(pairs) is dict, "pairs")
    n = len(names)
    for k, v in pairs.items():
        _need(type(k) is int and type(v) is int and 0 <= k >> 32 < n
              and 0 <= k & 0xFFFFFFFF < n, "a pair")
    w.pairs = from_items(list(pairs.items()))   # the kind of table this build uses
    clusters = d["clusters"]  # type: ignore[index]
    _need(type(clusters) is list and len(clusters) == 3, "clusters")
    for table, rows in zip((w.by_ip, w.by_device, w.by_block), clusters):
        for key, counter, members, flagged, times, stopped in rows:
            _need(type(key) is str and type(counter) is list and len(counter) == len(_COUNTER)
                  and all(type(x) is int for x in counter[:-1]) and _is_num(counter[-1])
                  and type(members) is list and all(type(m) is int and 0 <= m < n
                                                    for m in members)
                  and type(flagged) is int and type(times) is list
                  and len(times) == len(members) and all(map(_is_num, times))
                  and type(stopped) is list and all(map(_is_num, stopped)),
                  "a registration cluster")
            c = Cluster()
            bc = BucketCounter()
            for f, v in zip(_COUNTER, counter):
                setattr(bc, f, v)
            bc.last = float(counter[-1])
            c.counter, c.members, c.flagged = bc, members, flagged
            c.times, c.stopped = [float(t) for t in times], [float(t) for t in stopped]
            table[key] = c
    for g, simhash, accounts, sends, last, members, flagged in d["families"]:  # type: ignore[index]
        _need(all(type(x) is int for x in (g, simhash, accounts, sends, flagged))
              and _is_num(last) and _ids(members, n), "a content family")
        fam = Family(simhash, float(last))
        fam.accounts, fam.sends, fam.members, fam.flagged = accounts, sends, members, flagged
        w.families[g] = fam
    grown, due = d["grown"], d["due"]  # type: ignore[index]
    _need(type(grown) is list and all(_ids(g, n) for g in grown), "grown groups")
    _need(type(due) is list and all(type(x) is list and len(x) == 2 and _is_num(x[0])
                                    and type(x[1]) is int and 0 <= x[1] < n for x in due),
          "follow-ups")
    _need(_is_num(d["next_due"]), "next follow-up")  # type: ignore[index]
    w.grown = grown
    w.due = [(float(t), m) for t, m in due]
    w.next_due = float(d["next_due"])  # type: ignore[index]
    for a in w.accounts.values():
        _need(-1 <= a.filed_target < n and (a.piled_on is None or _ids(a.piled_on, n)),
              "an account's report ids")
    bands = d["bands"]  # type: ignore[index]
    _need(type(bands) is dict and all(type(k) is int and type(v) is list
                                      and all(type(x) is int for x in v)
                                      for k, v in bands.items()), "content bands")
    w.bands = bands
    for row in d["groups"]:  # type: ignore[index]
        _need(type(row) is list and len(row) == 5 and type(row[0]) is str
              and all(type(x) is int for x in row[1:4]) and _is_num(row[4])
              and -1 <= row[1] < n, "a group")
        w.groups[row[0]] = [*row[1:4], float(row[4])]
    # lockstep (absent from snapshots written before it existed: nothing shared yet)
    openers, lockstep = d.get("openers", {}), d.get("lockstep", {})  # type: ignore[attr-defined]
    _need(type(openers) is dict and all(type(k) is int and type(v) is int and 0 <= k < n
                                        and 0 <= v < 1 << 63 and (v & 0xFFFFFFFF) < n
                                        for k, v in openers.items()), "lockstep openers")
    _need(type(lockstep) is dict and all(type(x) is int and 0 <= x < n and type(s) is list
                                         and len(s) % 2 == 0 and _ids(s[::2], n)
                                         and all(type(c) is int and 0 < c < 1 << 62 for c in s[1::2])
                                         for x, s in lockstep.items()), "lockstep counts")
    w.openers, w.lockstep = openers, lockstep
    return w


def _load_days(rows: object) -> dict[int, list[float]]:
    _need(type(rows) is list, "day buckets")
    out: dict[int, list[float]] = {}
    for r in rows:  # type: ignore[attr-defined]
        _need(type(r) is list and len(r) == 3 and type(r[0]) is int
              and _is_num(r[1]) and _is_num(r[2]), "a day bucket")
        out[r[0]] = [float(r[1]), float(r[2])]
    return out


def _log(rows: object) -> deque:
    _need(type(rows) is list and all(type(r) is list and len(r) == 2 and _is_num(r[0])
                                     and type(r[1]) is str for r in rows), "a customer log")
    return deque((float(r[0]), r[1]) for r in rows)  # type: ignore[attr-defined]


def _is_sent(v: object) -> bool:
    return (type(v) is list and len(v) == 4 and _is_num(v[0])
            and (v[1] is None or type(v[1]) is str) and type(v[2]) is bool and type(v[3]) is bool)


def _load_lane(d: object, config: object) -> BusinessLane:
    _need(type(d) is dict, "business lane")
    lane = BusinessLane(config)  # type: ignore[arg-type]
    for row in d["biz"]:  # type: ignore[index]
        _need(type(row) is list and len(row) == 1 + len(_BIZ) and type(row[0]) is str,
              "a business")
        (name, created, last, tier, check, templates, consent, windows, recent, recent_log,
         week, week_log, last_sent, days, refusals) = row
        _need(_is_num(created) and _is_num(last) and type(tier) is int
              and 0 <= tier < len(lane.config.tiers) and _is_num(check), "a business's numbers")
        st = BusinessState(created=float(created), last=float(last), tier=tier,
                           last_tier_check=float(check))
        for t in templates:
            _need(type(t) is list and len(t) == 6 and type(t[0]) is str
                  and (t[1] is None or type(t[1]) is str) and type(t[2]) is int
                  and _is_num(t[3]) and type(t[4]) is bool, "a template")
            st.templates[t[0]] = TemplateState(t[1], t[2], float(t[3]), t[4], _load_days(t[5]))
        st.consent = _str_map(consent, lambda v: type(v) is bool, "consents")
        st.windows = _float_map(windows, "windows")
        st.recent = _float_map(recent, "recent customers")
        st.recent_log = _log(recent_log)
        st.week = _float_map(week, "customers of the week")
        st.week_log = _log(week_log)
        st.last_sent = {k: [float(v[0]), *v[1:]]
                        for k, v in _str_map(last_sent, _is_sent, "last messages").items()}
        st.days = _load_days(days)
        st.refusals = _str_map(refusals, lambda v: type(v) is int, "refusals")
        lane.biz[name] = st
    lane._pending_consent = _str_map(
        d["pending"], lambda v: type(v) is dict and all(type(k) is str and type(x) is bool  # type: ignore[index]
                                                        for k, x in v.items()),  # type: ignore[attr-defined]
        "pending consents")
    lane._pending_last = _float_map(d["pending_last"], "pending consent times")  # type: ignore[index]
    lane._violations = _str_map(d["violations"], lambda v: type(v) is int, "refusal counts")  # type: ignore[index]
    lane._violations_last = _float_map(d["violations_last"], "refusal times")  # type: ignore[index]
    _need(_is_num(d["next_sweep"]), "next sweep")  # type: ignore[index]
    lane._next_sweep = float(d["next_sweep"])  # type: ignore[index]
    return lane


def _load_forward(d: object, config: object) -> ForwardLimiter:
    _need(type(d) is dict, "forwarding limits")
    fwd = ForwardLimiter(config)  # type: ignore[arg-type]
    for row in d["sent"]:  # type: ignore[index]
        _need(type(row) is list and len(row) == 3 and type(row[0]) is str
              and type(row[1]) is str, "a forwarded content")
        fwd._sent[(row[0], row[1])] = _float_map(row[2], "forwarded chats")
    fwd._violations = _str_map(d["violations"], lambda v: type(v) is int, "refusal counts")  # type: ignore[index]
    fwd._violations_last = _float_map(d["violations_last"], "refusal times")  # type: ignore[index]
    _need(_is_num(d["next_sweep"]), "next sweep")  # type: ignore[index]
    fwd._next_sweep = float(d["next_sweep"])  # type: ignore[index]
    return fwd


# -- files -------------------------------------------------------------------------------------
def save(path: str | Path, engine: EngineState, meta: Mapping[str, Plain] | None = None) -> None:
    """Write a snapshot atomically: a temporary file (mode 0600) beside ``path``, fsync,
    rename. The directory is created with mode 0700."""
    write(path, dumps(engine, meta))


def write(path: str | Path, data: bytes) -> None:
    """Write snapshot bytes to ``path`` as :func:`save` does."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.with_name(p.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)   # an older temporary file may have had other bits
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except OSError as err:
        raise SnapshotError(f"cannot write the state file {p}: {err.strerror or err}") from None


def load(path: str | Path, engine: EngineState) -> dict:
    """Restore ``engine`` from the snapshot file at ``path``; return its ``meta``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise SnapshotError(f"cannot read the state file {p}: {err.strerror or err}") from None
    return loads(data, engine, str(p))
