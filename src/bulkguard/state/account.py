"""Per-account state: a flat record of small counters, updated on event time.

Kept flat (``__slots__``, ints that mostly stay under 257 and so are shared by
CPython) because there is one per active account and the hot path touches it on
every message. ``bulkguard.state.windows.est`` turns a bucket pair into a sliding
count; the signals read these fields and never write them.
"""

from __future__ import annotations

import math
from typing import Final

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

# In the order of the record's memory: what every message reads or writes comes first, so
# that a message touches a few adjacent cache lines of its sender's record, not all of it.
_FIELDS = (
    # every message: identity, ladder, clock, minute windows, totals, timing, content
    "id", "level", "since_score", "reg_ts", "last_ts", "bm", "bh", "bd",
    "m_msg", "m_msg_p", "m_nc", "m_nc_p", "m_new", "m_new_p",
    "h_msg", "h_nc", "h_new", "h_dist", "d_msg", "d_nc", "d_new", "d_dist",
    "n_msgs", "n_group_msgs", "n_nc", "n_recip", "n_opened",
    "last_send", "gap_n", "gap_mean", "gap_var", "n_notype", "n_typed", "early_msgs",
    "fams", "fam_max", "fam_new_max", "n_fwd", "n_fwd_high", "link_msgs",
    # previous hour and day buckets (on a new hour or day)
    "h_msg_p", "h_nc_p", "h_new_p", "h_dist_p", "d_msg_p", "d_nc_p", "d_new_p", "d_dist_p",
    # the recipient's side: answers and first contacts received
    "n_answered", "reply_delay_sum", "n_received", "n_senders", "n_twoway",
    # registration
    "business", "reg_ip", "reg_device", "reg_block", "country_mismatch", "first_ts",
    # discovery
    "sync_n", "sync_numbers", "sync_matched", "sync_max",
    # groups
    "groups_created", "group_adds", "group_adds_nc", "group_adds_new", "ga_b", "ga_h", "ga_hp",
    # content across accounts
    "cross_max",
    # feedback (distinct accounts)
    "blocks", "reports", "reports_partner", "report_text", "filed", "filed_stranger", "filed_target",
    "piled_on",
    # coordination: stopped siblings were counted in this account's clusters
    "counted",
    # policy and ladder
    "violations", "score", "peak", "reasons",
)


class Account:
    """State of one account. ``reg_ts`` is ``-1.0`` for an account that existed before the stream.

    >>> a = Account(7)
    >>> a.id, a.level, a.n_msgs
    (7, 0, 0)
    """

    __slots__ = _FIELDS

    def __init__(self, aid: int) -> None:
        # assigned in _FIELDS order: compiled (mypyc), this order is the memory layout
        self.id = aid
        self.level = NONE
        self.since_score = 0
        self.reg_ts = -1.0
        self.last_ts = 0.0
        self.bm = self.bh = self.bd = 0
        self.m_msg = self.m_msg_p = self.m_nc = self.m_nc_p = self.m_new = self.m_new_p = 0
        self.h_msg = self.h_nc = self.h_new = self.h_dist = 0
        self.d_msg = self.d_nc = self.d_new = self.d_dist = 0
        self.n_msgs = self.n_group_msgs = self.n_nc = self.n_recip = 0
        self.n_opened = 0  # distinct recipients it wrote to first (chats it opened)
        self.last_send = -1e18  # no send yet: the first gap is huge
        self.gap_n = 0
        self.gap_mean = self.gap_var = 0.0
        self.n_notype = self.n_typed = self.early_msgs = 0
        self.fams: list[list[int]] | None = None  # [simhash, sends, new-chat sends, family id]
        self.fam_max = self.fam_new_max = self.n_fwd = self.n_fwd_high = self.link_msgs = 0
        self.h_msg_p = self.h_nc_p = self.h_new_p = self.h_dist_p = 0
        self.d_msg_p = self.d_nc_p = self.d_new_p = self.d_dist_p = 0
        self.n_answered = 0
        self.reply_delay_sum = 0.0
        self.n_received = self.n_senders = 0
        self.n_twoway = 0   # people it has a two-way chat with (both wrote)
        self.business = False
        self.reg_ip: str | None = None
        self.reg_device: str | None = None
        self.reg_block: str | None = None
        self.country_mismatch = False
        self.first_ts = 0.0
        self.sync_n = self.sync_numbers = self.sync_matched = self.sync_max = 0
        self.groups_created = self.group_adds = self.group_adds_nc = self.group_adds_new = 0
        self.ga_b = self.ga_h = self.ga_hp = 0  # non-contact adds, hour window
        self.cross_max = 0
        self.blocks = self.reports = self.reports_partner = 0
        self.report_text = 0.0
        self.filed = self.filed_stranger = 0  # reports this account filed / against strangers
        self.filed_target = -1  # id of the last account it reported that never wrote to it
        self.piled_on: list[int] | None = None  # first 64 strangers who reported this account
        self.counted = False
        self.violations = 0
        self.score = 0.0
        self.peak = 0.0  # highest score so far (for evaluation curves)
        self.reasons: tuple[str, ...] = ()

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

    def __reduce__(self) -> tuple:
        # (class, constructor args, state): a compiled (mypyc) class is built through
        # ``__init__``, so pickle must pass its argument
        return Account, (self.id,), self.__getstate__()

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in _FIELDS)

    def __setstate__(self, st: tuple) -> None:
        for s, v in zip(_FIELDS, st):
            setattr(self, s, v)
