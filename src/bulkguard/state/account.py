"""Per-account state: a flat record of small counters, updated on event time.

One record per active account, touched by every message, so it is kept small: compiled
(mypyc), its counters are 32-bit (``i32``: 4 bytes instead of 8) and the ~27 fields few
accounts ever use (registration metadata, contact sync, groups, feedback, business) live
in a :class:`Side` record allocated on first use. Properties of the same names read them
(the default when there is no side record) and write them, so the signals and the writers
do not care where a field lives.

Compiled ``i32`` arithmetic wraps silently where Python's grows, so every counter
**saturates** at ``I32_MAX`` in both builds, and the two stay byte-identical for any input.
The counters of an account's own messages (``PER_MESSAGE``) grow by at most one a message,
as ``n_msgs`` does, so they never pass it: all of them stop when ``n_msgs`` reaches
``I32_MAX`` (one test a message). The others check before each increment, and the side
record's setters clamp. ``bulkguard.state.windows.est`` turns a
bucket pair into a sliding count; the signals read these fields and never write them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:   # mypyc compiles an ``i32`` field to 4 bytes; at run time it is an int
    from mypy_extensions import i32, i64

from bulkguard.state.windows import DAY, HOUR, MINUTE

# Level of the account's current action: what the ladder has done to it.
NONE: Final = 0
THROTTLE: Final = 1
CHALLENGE: Final = 2
SUSPEND: Final = 3
BAN: Final = 4
LEVEL_NAMES = ("none", "throttle", "challenge", "suspend", "ban")
# The value of a signal computed from something the stream did not show (an event family the
# platform does not provide, a field absent from an event): unknown, never evidence. Rule
# conditions on it are false; the model sends it down the side LightGBM learned for missing.
MISSING: Final = math.nan
#: Where every counter of a record stops (the largest ``i32``).
I32_MAX: Final = 2_147_483_647
_BIT63: Final = 1 << 63
_BIT64: Final = 1 << 64


def sat(v: int) -> int:
    """``v`` capped at ``I32_MAX``: what a counter holds (the same in both builds).

    >>> sat(5), sat(I32_MAX + 1)
    (5, 2147483647)
    """
    return v if v <= I32_MAX else I32_MAX


# The record's own fields, in the order of its memory: 8-byte fields (ids, bucket numbers,
# times, pointers) around a run of 4-byte counters, with what every message touches first,
# so that a message touches a few adjacent cache lines of its sender's record.
_CORE = (
    # every message: identity, clock, timing, the first content family (hash, global id)
    "id", "bm", "bh", "bd", "reg_ts", "last_ts", "last_send", "gap_mean", "gap_var",
    "f_hash", "f_fam",
    # counters (i32): ladder, the first content family's sends (new chats), minute windows,
    # hour and day windows, totals
    "level", "since_score", "f_sends", "f_new",
    "m_msg", "m_msg_p", "m_nc", "m_nc_p", "m_new", "m_new_p",
    "h_msg", "h_nc", "h_new", "h_dist", "d_msg", "d_nc", "d_new", "d_dist",
    "n_msgs", "n_group_msgs", "n_nc", "n_recip", "n_opened", "gap_n", "n_notype", "n_typed",
    "fam_max", "fam_new_max", "n_fwd", "n_fwd_high", "link_msgs",
    # previous hour and day buckets (on a new hour or day)
    "h_msg_p", "h_nc_p", "h_new_p", "h_dist_p", "d_msg_p", "d_nc_p", "d_new_p", "d_dist_p",
    # the recipient's side: answers and first contacts received
    "n_answered", "n_senders", "n_twoway",
    # answers, ladder, more content families and the side record
    "reply_delay_sum", "score", "peak", "reasons", "fams_more", "side",
)
# Fields of the side record, in its memory order: 8-byte fields, then i32, then bool.
_SIDE = (
    "reg_ip", "reg_device", "reg_block", "ga_b", "report_text", "filed_target", "piled_on",
    # registration, discovery, groups (ga_*: non-contact adds, hour window)
    "early_msgs", "sync_n", "sync_numbers", "sync_matched", "sync_max",
    "groups_created", "group_adds", "group_adds_nc", "group_adds_new", "ga_h", "ga_hp",
    # feedback (distinct accounts), policy
    "blocks", "reports", "reports_partner", "filed", "filed_stranger", "violations",
    "business", "country_mismatch", "counted",
)
# Counters of the account's own messages: each grows by at most one a message, so none
# passes n_msgs (World.message counts them only while n_msgs < I32_MAX; snapshots check it).
PER_MESSAGE = (
    "m_msg", "m_msg_p", "m_nc", "m_nc_p", "m_new", "m_new_p",
    "h_msg", "h_nc", "h_new", "h_dist", "d_msg", "d_nc", "d_new", "d_dist",
    "h_msg_p", "h_nc_p", "h_new_p", "h_dist_p", "d_msg_p", "d_nc_p", "d_new_p", "d_dist_p",
    "n_group_msgs", "n_nc", "n_recip", "n_opened", "gap_n", "n_notype", "n_typed",
    "n_fwd", "n_fwd_high", "link_msgs",
)
# Every field of an account as the signals and snapshots see it (the side ones and
# ``fams`` through the properties below), and its 32-bit counters.
_STORAGE = ("f_hash", "f_fam", "f_sends", "f_new", "fams_more", "side")
_FIELDS = tuple("fams" if f == "f_hash" else f for f in _CORE if f not in _STORAGE[1:]) + _SIDE
_I32 = tuple(f for f in _CORE[_CORE.index("level"):_CORE.index("n_twoway") + 1]
             if f not in _STORAGE) + _SIDE[_SIDE.index("early_msgs"):_SIDE.index("violations") + 1]


def signed64(h: int) -> int:
    """A 64-bit SimHash (0 <= h < 2**64) as the signed 64-bit int that holds its bits.

    >>> signed64(5), signed64((1 << 64) - 1), unsigned64(signed64((1 << 64) - 1)) == (1 << 64) - 1
    (5, -1, True)
    """
    return h - _BIT64 if h >= _BIT63 else h


def unsigned64(s: int) -> int:
    """The inverse of :func:`signed64`."""
    return s + _BIT64 if s < 0 else s


class Side:
    """The fields of an :class:`Account` that few accounts use, allocated on first write."""

    __slots__ = _SIDE

    def __init__(self) -> None:
        # assigned in _SIDE order: compiled (mypyc), this order is the memory layout
        self.reg_ip: str | None = None
        self.reg_device: str | None = None
        self.reg_block: str | None = None
        self.ga_b = 0
        self.report_text = 0.0
        self.filed_target = -1  # id of the last account it reported that never wrote to it
        self.piled_on: list[int] | None = None  # first 64 strangers who reported this account
        self.early_msgs: i32 = 0
        self.sync_n: i32 = 0
        self.sync_numbers: i32 = 0
        self.sync_matched: i32 = 0
        self.sync_max: i32 = 0
        self.groups_created: i32 = 0
        self.group_adds: i32 = 0
        self.group_adds_nc: i32 = 0
        self.group_adds_new: i32 = 0
        self.ga_h: i32 = 0
        self.ga_hp: i32 = 0
        self.blocks: i32 = 0
        self.reports: i32 = 0
        self.reports_partner: i32 = 0
        self.filed: i32 = 0   # reports this account filed
        self.filed_stranger: i32 = 0   # ... against strangers
        self.violations: i32 = 0
        self.business = False
        self.country_mismatch = False
        self.counted = False  # stopped siblings were counted in this account's clusters


class Account:
    """State of one account. ``reg_ts`` is ``-1.0`` for an account that existed before the stream.

    >>> a = Account(7)
    >>> a.id, a.level, a.n_msgs, a.blocks, a.side
    (7, 0, 0, 0, None)
    >>> a.blocks += 1; a.blocks, a.side is not None
    (1, True)
    """

    __slots__ = _CORE

    def __init__(self, aid: int) -> None:
        # assigned in _CORE order: compiled (mypyc), this order is the memory layout
        self.id = aid
        self.bm = self.bh = self.bd = 0
        self.reg_ts = -1.0
        self.last_ts = 0.0
        self.last_send = -1e18  # no send yet: the first gap is huge
        self.gap_mean = self.gap_var = 0.0
        # content families (see ``fams``): the first in the record, no family while f_sends is 0
        self.f_hash: i64 = 0   # its SimHash, as signed64
        self.f_fam = -1   # its global family (World.families), -1: none yet
        self.level: i32 = NONE
        self.since_score: i32 = 0
        self.f_sends: i32 = 0
        self.f_new: i32 = 0
        self.m_msg: i32 = 0
        self.m_msg_p: i32 = 0
        self.m_nc: i32 = 0
        self.m_nc_p: i32 = 0
        self.m_new: i32 = 0
        self.m_new_p: i32 = 0
        self.h_msg: i32 = 0
        self.h_nc: i32 = 0
        self.h_new: i32 = 0
        self.h_dist: i32 = 0
        self.d_msg: i32 = 0
        self.d_nc: i32 = 0
        self.d_new: i32 = 0
        self.d_dist: i32 = 0
        self.n_msgs: i32 = 0
        self.n_group_msgs: i32 = 0
        self.n_nc: i32 = 0
        self.n_recip: i32 = 0
        self.n_opened: i32 = 0  # distinct recipients it wrote to first (chats it opened)
        self.gap_n: i32 = 0
        self.n_notype: i32 = 0
        self.n_typed: i32 = 0
        self.fam_max: i32 = 0
        self.fam_new_max: i32 = 0
        self.n_fwd: i32 = 0
        self.n_fwd_high: i32 = 0
        self.link_msgs: i32 = 0
        self.h_msg_p: i32 = 0
        self.h_nc_p: i32 = 0
        self.h_new_p: i32 = 0
        self.h_dist_p: i32 = 0
        self.d_msg_p: i32 = 0
        self.d_nc_p: i32 = 0
        self.d_new_p: i32 = 0
        self.d_dist_p: i32 = 0
        self.n_answered: i32 = 0
        self.n_senders: i32 = 0
        self.n_twoway: i32 = 0   # people it has a two-way chat with (both wrote)
        self.reply_delay_sum = 0.0
        self.score = 0.0
        self.peak = 0.0  # highest score so far (for evaluation curves)
        self.reasons: tuple[str, ...] = ()
        self.fams_more: list[list[int]] | None = None   # the others: [simhash, sends, new, family]
        self.side: Side | None = None

    def roll(self, now: float) -> None:
        """Move the window buckets to ``now`` (only when a bucket boundary was crossed)."""
        b = math.floor(now) // MINUTE
        if b != self.bm:
            if b == self.bm + 1:
                self.m_msg_p, self.m_nc_p, self.m_new_p = self.m_msg, self.m_nc, self.m_new
            else:
                self.m_msg_p = self.m_nc_p = self.m_new_p = 0
            self.m_msg = self.m_nc = self.m_new = 0
            self.bm = b
            b = math.floor(now) // HOUR
            if b != self.bh:
                if b == self.bh + 1:
                    self.h_msg_p, self.h_nc_p = self.h_msg, self.h_nc
                    self.h_new_p, self.h_dist_p = self.h_new, self.h_dist
                else:
                    self.h_msg_p = self.h_nc_p = self.h_new_p = self.h_dist_p = 0
                self.h_msg = self.h_nc = self.h_new = self.h_dist = 0
                self.bh = b
                b = math.floor(now) // DAY
                if b != self.bd:
                    if b == self.bd + 1:
                        self.d_msg_p, self.d_nc_p = self.d_msg, self.d_nc
                        self.d_new_p, self.d_dist_p = self.d_new, self.d_dist
                    else:
                        self.d_msg_p = self.d_nc_p = self.d_new_p = self.d_dist_p = 0
                    self.d_msg = self.d_nc = self.d_new = self.d_dist = 0
                    self.bd = b

    @property
    def fams(self) -> list[list[int]] | None:
        """The content families it repeats, ``[simhash, sends, new-chat sends, family id]``
        each (``World._family``), or None: a copy (set the whole list to change them).
        The first lives in the record (most accounts have one), the others in a list."""
        if self.f_sends == 0:
            return None
        first = [unsigned64(self.f_hash), int(self.f_sends), int(self.f_new), self.f_fam]
        more = self.fams_more
        return [first] + [list(f) for f in more] if more else [first]

    @fams.setter
    def fams(self, v: list[list[int]] | None) -> None:
        if not v:
            self.f_hash = self.f_sends = self.f_new = 0
            self.f_fam = -1
            self.fams_more = None
            return
        h, sends, new, fam = v[0]
        self.f_hash = signed64(h)
        self.f_sends = sat(sends)
        self.f_new = sat(new)
        self.f_fam = fam
        self.fams_more = [list(f) for f in v[1:]] or None

    def _side(self) -> Side:
        s = self.side
        if s is None:
            s = self.side = Side()
        return s

    # -- the side record's fields: a default until written; a write of the default
    # allocates nothing; counters saturate at I32_MAX --------------------------------------
    @property
    def early_msgs(self) -> int:
        s = self.side
        return s.early_msgs if s is not None else 0

    @early_msgs.setter
    def early_msgs(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().early_msgs = sat(v)

    @property
    def reg_ip(self) -> str | None:
        s = self.side
        return s.reg_ip if s is not None else None

    @reg_ip.setter
    def reg_ip(self, v: str | None) -> None:
        if v is not None or self.side is not None:
            self._side().reg_ip = v

    @property
    def reg_device(self) -> str | None:
        s = self.side
        return s.reg_device if s is not None else None

    @reg_device.setter
    def reg_device(self, v: str | None) -> None:
        if v is not None or self.side is not None:
            self._side().reg_device = v

    @property
    def reg_block(self) -> str | None:
        s = self.side
        return s.reg_block if s is not None else None

    @reg_block.setter
    def reg_block(self, v: str | None) -> None:
        if v is not None or self.side is not None:
            self._side().reg_block = v

    @property
    def business(self) -> bool:
        s = self.side
        return s.business if s is not None else False

    @business.setter
    def business(self, v: bool) -> None:
        if v != False or self.side is not None:
            self._side().business = v

    @property
    def country_mismatch(self) -> bool:
        s = self.side
        return s.country_mismatch if s is not None else False

    @country_mismatch.setter
    def country_mismatch(self, v: bool) -> None:
        if v != False or self.side is not None:
            self._side().country_mismatch = v

    @property
    def sync_n(self) -> int:
        s = self.side
        return s.sync_n if s is not None else 0

    @sync_n.setter
    def sync_n(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().sync_n = sat(v)

    @property
    def sync_numbers(self) -> int:
        s = self.side
        return s.sync_numbers if s is not None else 0

    @sync_numbers.setter
    def sync_numbers(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().sync_numbers = sat(v)

    @property
    def sync_matched(self) -> int:
        s = self.side
        return s.sync_matched if s is not None else 0

    @sync_matched.setter
    def sync_matched(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().sync_matched = sat(v)

    @property
    def sync_max(self) -> int:
        s = self.side
        return s.sync_max if s is not None else 0

    @sync_max.setter
    def sync_max(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().sync_max = sat(v)

    @property
    def groups_created(self) -> int:
        s = self.side
        return s.groups_created if s is not None else 0

    @groups_created.setter
    def groups_created(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().groups_created = sat(v)

    @property
    def group_adds(self) -> int:
        s = self.side
        return s.group_adds if s is not None else 0

    @group_adds.setter
    def group_adds(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().group_adds = sat(v)

    @property
    def group_adds_nc(self) -> int:
        s = self.side
        return s.group_adds_nc if s is not None else 0

    @group_adds_nc.setter
    def group_adds_nc(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().group_adds_nc = sat(v)

    @property
    def group_adds_new(self) -> int:
        s = self.side
        return s.group_adds_new if s is not None else 0

    @group_adds_new.setter
    def group_adds_new(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().group_adds_new = sat(v)

    @property
    def ga_b(self) -> int:
        s = self.side
        return s.ga_b if s is not None else 0

    @ga_b.setter
    def ga_b(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().ga_b = v

    @property
    def ga_h(self) -> int:
        s = self.side
        return s.ga_h if s is not None else 0

    @ga_h.setter
    def ga_h(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().ga_h = sat(v)

    @property
    def ga_hp(self) -> int:
        s = self.side
        return s.ga_hp if s is not None else 0

    @ga_hp.setter
    def ga_hp(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().ga_hp = sat(v)

    @property
    def blocks(self) -> int:
        s = self.side
        return s.blocks if s is not None else 0

    @blocks.setter
    def blocks(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().blocks = sat(v)

    @property
    def reports(self) -> int:
        s = self.side
        return s.reports if s is not None else 0

    @reports.setter
    def reports(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().reports = sat(v)

    @property
    def reports_partner(self) -> int:
        s = self.side
        return s.reports_partner if s is not None else 0

    @reports_partner.setter
    def reports_partner(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().reports_partner = sat(v)

    @property
    def report_text(self) -> float:
        s = self.side
        return s.report_text if s is not None else 0.0

    @report_text.setter
    def report_text(self, v: float) -> None:
        if v != 0.0 or self.side is not None:
            self._side().report_text = v

    @property
    def filed(self) -> int:
        s = self.side
        return s.filed if s is not None else 0

    @filed.setter
    def filed(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().filed = sat(v)

    @property
    def filed_stranger(self) -> int:
        s = self.side
        return s.filed_stranger if s is not None else 0

    @filed_stranger.setter
    def filed_stranger(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().filed_stranger = sat(v)

    @property
    def filed_target(self) -> int:
        s = self.side
        return s.filed_target if s is not None else -1

    @filed_target.setter
    def filed_target(self, v: int) -> None:
        if v != -1 or self.side is not None:
            self._side().filed_target = v

    @property
    def piled_on(self) -> list[int] | None:
        s = self.side
        return s.piled_on if s is not None else None

    @piled_on.setter
    def piled_on(self, v: list[int] | None) -> None:
        if v is not None or self.side is not None:
            self._side().piled_on = v

    @property
    def violations(self) -> int:
        s = self.side
        return s.violations if s is not None else 0

    @violations.setter
    def violations(self, v: int) -> None:
        if v != 0 or self.side is not None:
            self._side().violations = sat(v)

    @property
    def counted(self) -> bool:
        s = self.side
        return s.counted if s is not None else False

    @counted.setter
    def counted(self, v: bool) -> None:
        if v != False or self.side is not None:
            self._side().counted = v

    def __reduce__(self) -> tuple:
        # (class, constructor args, state): a compiled (mypyc) class is built through
        # ``__init__``, so pickle must pass its argument
        return Account, (self.id,), self.__getstate__()

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in _FIELDS)

    def __setstate__(self, st: tuple) -> None:
        for s, v in zip(_FIELDS, st):
            setattr(self, s, v)
