"""The engine's whole state: accounts, the directed pair graph, registration clusters,
content families and groups, all updated on event time.

Every ``on_*`` method applies one event and returns the account whose score may
have moved enough to be worth recomputing (or ``None``); the engine does the rest.
``store.snapshot`` saves and restores all of it.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:   # mypyc compiles an ``i64`` to a machine int; at run time it is an int
    from mypy_extensions import i64

from bulkguard.events import (
    Block, ContactAdd, ContactSync, GroupCreate, GroupJoin, Message, Register, Report,
)
from bulkguard.state.account import _BIT63, _BIT64, CHALLENGE, I32_MAX, Account, sat, unsigned64
from bulkguard.state.countries import phone_country
from bulkguard.state.idmap import from_names, new_map
from bulkguard.state.pairtable import from_items, new_table
from bulkguard.state.windows import DAY, HOUR, MINUTE, BucketCounter

# The pair graph: one int per unordered pair {lo, hi} (lo < hi), key ``lo << 32 | hi``, so a
# message costs one lookup. Bits 0-4 hold the flags of direction lo -> hi, bits 5-9 those of
# hi -> lo, bit 10 says the last message came from hi, bits 11-13 count the turns (how often
# the writer changed, at most 7: with the last writer they tell who wrote first), and the
# rest is the last message's Unix second.
# Flags of direction a -> b:
CONTACT: Final = 1      # a added b as a contact
MSG: Final = 2          # a has messaged b
ANSWERED: Final = 4     # b answered a (b messaged a after a messaged b)
BLOCKED: Final = 8      # b blocked a
REPORTED: Final = 16    # b reported a
FLAGS: Final = 31
LAST_BY_HI: Final = 1 << 10
TURN_SHIFT: Final = 11
TURN: Final = 1 << TURN_SHIFT
TURNS: Final = 7 << TURN_SHIFT
TS_SHIFT: Final = 14
KEEP_FLAGS: Final = (CONTACT | BLOCKED | REPORTED) * 33   # either direction


def pair_key(a: int, b: int) -> tuple[int, int, int]:
    """Key of the pair and the bit offsets of a's and b's direction flags.

    >>> pair_key(3, 9), pair_key(9, 3)
    ((12884901897, 0, 5), (12884901897, 5, 0))
    """
    if a < b:
        return a << 32 | b, 0, 5
    return b << 32 | a, 5, 0


_MAX_STAMP: Final = (1 << (62 - TS_SHIFT)) - 1


def stamped(v: int, now: float) -> int:
    """Pair record ``v`` with ``now`` as its time when neither side ever wrote (the time is
    read only after a message, so this changes nothing but how long the pair is kept).

    >>> stamped(CONTACT, 100.0) >> TS_SHIFT, stamped(MSG | 5 << TS_SHIFT, 100.0) >> TS_SHIFT
    (100, 5)
    """
    if v & (MSG | MSG << 5):
        return v
    # at most what fits 64 bits (the compiled build's pair table): an absurd clock is capped
    return (v & ((1 << TS_SHIFT) - 1)) | min(int(now), _MAX_STAMP) << TS_SHIFT


# near-duplicate digests: SimHash Hamming distance <= 5. Copies spun k bits off one text are
# up to 2k apart from each other, and an account's family is centred on its first copy, so
# the radius within an account is the cross-account join's (it was 3: a farm member sending
# five copies each 2 bits off its text could keep five families of one message each)
FAMILY_HAMMING: Final = 5
FAMILY_SLOTS: Final = 4        # content families tracked per account (Misra-Gries)
CLUSTER_MEMBERS: Final = 64    # registrations remembered per IP / device / number block
FAMILY_MEMBERS: Final = 64     # accounts remembered per cross-account content family
FAMILY_JOIN_HAMMING: Final = 5  # an account's family joins a global one this near (spun copies)
# a family (or a report pile-on) re-scores its members when it reaches these sizes: members
# that sent early are judged again, as a group, once the group shows
REGROUP_AT: Final = frozenset((3, 5, 8, 12, 16, 24, 32, 48, 64))
# An account that opens this many chats in an hour is looked at again FOLLOW_UP_AFTER
# seconds later, whether or not it sends anything more: by then its recipients have had
# time to answer (a burst to strangers that nobody answers is judged even if it was the last)
FOLLOW_UP_CHATS: Final = 10
FOLLOW_UP_AFTER: Final = 3900.0
EARLY_SECONDS: Final = 600     # "first minutes after registration"
NEAR_SECONDS: Final = 86_400   # stopped siblings weigh on accounts registered this close to them
ESTABLISHED_PARTNERS: Final = 3   # two-way chats that make an account established
# Lockstep (CopyCatch / SynchroTrap on the account x stranger x time graph, streamed): two
# accounts that each open a chat with the same stranger within LOCKSTEP_MINUTES, both in a
# burst of new chats, share that stranger; LOCKSTEP_SHARED shared strangers make them peers
LOCKSTEP_MINUTES: Final = 60
LOCKSTEP_SHARED: Final = 3
LOCKSTEP_SLOTS: Final = 4        # accounts tracked per account (confirmed peers are kept)
LOCKSTEP_BURST: Final = 2        # the sender's new chats this hour, this one included
_MAX_MINUTE: Final = (1 << 31) - 1
_ID_MASK: Final = 0xFFFFFFFF
RESCORE_EVERY: Final = 16      # an ordinary message re-scores the sender at most this often
KEEP_DAYS: Final = 30.0        # retention of dormant records without an action (see ``sweep``)
ACTION_KEEP_DAYS: Final = 365.0  # retention of actioned accounts and of contact/block/report pairs


def simhash_of(digest: str) -> int:
    """The first 64 bits of a hex digest as an int (the SimHash); -1 if not hex.

    >>> simhash_of("9f3a5c7e11d0b2a4") ^ simhash_of("9f3a5c7e11d0b2a5")
    1
    >>> simhash_of("not hex")
    -1
    """
    try:
        return int(digest[:16], 16)
    except ValueError:
        return -1


def _bits32(v: i64) -> i64:
    """Set bits of ``v`` (0 <= v < 2**32): SWAR, no intermediate past 2**57."""
    v = v - ((v >> 1) & 0x55555555)
    v = (v & 0x33333333) + ((v >> 2) & 0x33333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F
    return ((v * 0x01010101) & 0xFFFFFFFF) >> 24


def bits64(x: i64) -> i64:
    """Set bits of the 64-bit two's complement of ``x`` (a SimHash as ``signed64``). Compiled,
    native arithmetic; ``int.bit_count`` would be a generic method call on a boxed int.

    >>> bits64(0), bits64(0b1011), bits64(-1), bits64(-(1 << 63)), bits64((1 << 63) - 1)
    (0, 3, 64, 1, 63)
    """
    return _bits32(x & 0xFFFFFFFF) + _bits32((x >> 32) & 0xFFFFFFFF)


def number_block(phone: str) -> str:
    """Phone-number block: the number without its last 3 digits.

    >>> number_block("+4915112340001")
    '+4915112340'
    """
    return phone[:-3]


class Cluster:
    """Registrations sharing one IP, device or number block.

    ``times`` are the registration times of ``members`` (non-decreasing: the clock never
    goes back) and ``stopped`` those of the members stopped, so that a cluster's evidence
    can be limited to accounts registered close in time to each other: an attacker who
    registers throwaways on a victim's IP, device or number block today builds no
    cluster with an account registered last month.
    """

    __slots__ = ("counter", "members", "flagged", "times", "stopped")

    def __init__(self) -> None:
        self.counter = BucketCounter()
        self.members: list[int] = []
        self.flagged = 0  # members stopped (challenge or higher)
        self.times: list[float] = []
        self.stopped: list[float] = []

    def add(self, aid: int, now: float) -> None:
        self.counter.add(now)
        self.members.append(aid)
        self.times.append(now)
        if len(self.members) > CLUSTER_MEMBERS:
            del self.members[0]
            del self.times[0]

    def stop(self, reg_ts: float) -> None:
        """A member registered at ``reg_ts`` was stopped."""
        self.flagged += 1
        insort(self.stopped, reg_ts)
        if len(self.stopped) > CLUSTER_MEMBERS:
            del self.stopped[0]

    def between(self, lo: float, hi: float) -> int:
        """Registrations remembered with a time in [lo, hi]."""
        return bisect_right(self.times, hi) - bisect_left(self.times, lo)

    def stopped_between(self, lo: float, hi: float) -> int:
        """Stopped members registered in [lo, hi]."""
        return bisect_right(self.stopped, hi) - bisect_left(self.stopped, lo)

    def __getstate__(self) -> tuple:
        return self.counter, self.members, self.flagged, self.times, self.stopped

    def __setstate__(self, st: tuple) -> None:
        self.counter, self.members, self.flagged, self.times, self.stopped = st


class Family:
    """A near-duplicate content family seen from more than one send, across accounts.

    ``members`` are the accounts that repeat it (the last ``FAMILY_MEMBERS``), ``flagged``
    how many of them were stopped: a campaign run from many accounts is stopped as a group,
    whatever (if anything) is known about their registrations."""

    __slots__ = ("simhash", "accounts", "sends", "last", "members", "flagged")

    def __init__(self, simhash: int, now: float) -> None:
        self.simhash = simhash
        self.accounts = 0
        self.sends = 0
        self.last = now
        self.members: list[int] = []
        self.flagged = 0

    def add(self, aid: int) -> bool:
        """Count account ``aid`` in; True when the family just reached a REGROUP_AT size."""
        self.accounts += 1
        self.members.append(aid)
        if len(self.members) > FAMILY_MEMBERS:
            del self.members[0]
        return self.accounts in REGROUP_AT

    def __reduce__(self) -> tuple:
        return Family, (self.simhash, self.last), self.__getstate__()   # see Account.__reduce__

    def __getstate__(self) -> tuple:
        return self.simhash, self.accounts, self.sends, self.last, self.members, self.flagged

    def __setstate__(self, st: tuple) -> None:
        self.simhash, self.accounts, self.sends, self.last, self.members, self.flagged = st


class World:
    """All state. ``now`` is the event-time clock: the latest ``ts`` seen, never going back."""

    def __init__(self) -> None:
        self.now = 0.0
        # name -> id; a name it does not hold reads as -1 (a flat C table in the compiled
        # build, a dict otherwise: bulkguard.state.idmap)
        self.ids: Any = new_map()
        self.names: list[str] = []
        # the records by id (None: no record): a message finds both its accounts with the one
        # look-up per name in ``ids`` that it needs anyway
        self.by_id: list[Account | None] = []
        # the same by name: a view through ``ids`` (no dict of its own)
        self.accounts = Accounts(self)
        # int -> int, dict-like, a pair never seen reading as 0: a flat C table in the compiled
        # build, a dict otherwise (bulkguard.state.pairtable)
        self.pairs: Any = new_table()
        self.by_ip: dict[str, Cluster] = {}
        self.by_device: dict[str, Cluster] = {}
        self.by_block: dict[str, Cluster] = {}
        self.families: dict[int, Family] = {}
        self.bands: dict[int, list[int]] = {}
        # group -> [creator id, members, non-contact adds, last create or join (event time)]
        self.groups: dict[str, list] = {}
        self.next_family = 0
        self.last_sweep = 0.0
        # groups that just grew (content families, report pile-ons): the engine re-scores
        # their members and empties this list
        self.grown: list[list[int]] = []
        # follow-ups: (due time, account id), a heap; ``next_due`` is its first time (or inf)
        self.due: list[tuple[float, int]] = []
        self.next_due = math.inf
        # after a sweep that renumbered ids: old id -> new id (-1: dropped), else None
        self.renumbered: list[int] | None = None
        # lockstep: stranger id -> (minute << 32 | id of the last account that reached it in a
        # burst of new chats, that minute); account id -> [other id, strangers shared, ...]
        self.openers: dict[int, int] = {}
        self.lockstep: dict[int, list[int]] = {}

    # -- identities -------------------------------------------------------------------
    def id_of(self, name: str) -> int:
        i: int = self.ids[name]
        if i < 0:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
            self.by_id.append(None)
        return i

    def account(self, name: str) -> Account:
        """The record of ``name``, made if it has none."""
        i = self.id_of(name)
        a = self.by_id[i]
        if a is None:
            a = self.by_id[i] = Account(i)
            # kept KEEP_DAYS from now, message or not (an account that only reports or syncs)
            a.last_ts = self.now
        return a

    def is_contact(self, a: int, b: int) -> bool:
        """True if ``b`` added ``a`` as a contact or wrote to ``a`` before: something ``b``
        did. ``a`` adding ``b`` alone makes no contact (a ``contact_add`` comes from the
        adder's own client: a sender who adds every stranger before writing stays a
        sender to strangers)."""
        k, _, sb = pair_key(a, b)
        v: int = self.pairs[k]
        return bool((v >> sb) & (CONTACT | MSG))

    def flags(self, a: int, b: int) -> int:
        """Flags of direction a -> b (see CONTACT, MSG, ...)."""
        k, sa, _ = pair_key(a, b)
        v: int = self.pairs[k]
        return (v >> sa) & FLAGS

    # -- events -----------------------------------------------------------------------
    def on_message(self, ev: Message) -> Account | None:
        return self.message(ev.sender, ev.recipient, ev.kind, ev.forwarded, ev.digest,
                            ev.typing_ms)

    def message(self, sender: str, r: str | None, kind: str | None, forwarded: int,
                digest: str | None, typing_ms: int | None) -> Account | None:
        """``on_message`` on the message's fields (the engine unpacks them in one call)."""
        now = self.now
        by_id = self.by_id
        sid: int = self.ids[sender]
        a = by_id[sid] if sid >= 0 else None
        if a is None:
            a = self.account(sender)
        if math.floor(now) // MINUTE != a.bm:
            a.roll(now)
        a.last_ts = now
        # Counters saturate at I32_MAX (compiled, they are 32-bit; see state.account). Each
        # counter of the sender's own messages grows by at most one a message, as n_msgs
        # does, so none passes n_msgs (PER_MESSAGE): all stop when n_msgs reaches I32_MAX,
        # with one test a message.
        room = a.n_msgs < I32_MAX
        if room:
            a.n_msgs += 1
            a.m_msg += 1
            a.h_msg += 1
            a.d_msg += 1
        dirty = False
        daily_first = False
        chatting = False
        if r is not None:
            pairs = self.pairs
            rid: int = self.ids[r]
            if rid < 0:
                rid = self.id_of(r)
            aid = a.id
            if aid < rid:
                k = aid << 32 | rid
                sa, sb, by_a = 0, 5, 0
            else:
                k = rid << 32 | aid
                sa, sb, by_a = 5, 0, LAST_BY_HI
            key: Any = k   # boxed once: compiled, each use of a machine int as a key boxes it
            v: int = pairs[key]   # 0 for a pair never seen (a subscript: a direct call)
            fa = (v >> sa) & FLAGS
            fb = (v >> sb) & FLAGS
            last = v >> TS_SHIFT
            turns = v & TURNS
            if (v & LAST_BY_HI) != by_a and (fa | fb) & MSG and turns != TURNS:
                turns += TURN   # the other one wrote last: the conversation turned
            # a distinct recipient of this hour (day) unless the two already talked in it
            if not fa & MSG or last < a.bh * HOUR:
                if room:
                    a.h_dist += 1
                if not fa & MSG or last < a.bd * DAY:
                    daily_first = True
                    if room:
                        a.d_dist += 1
            if fb & MSG:
                chatting = bool(fa & MSG)  # both have written: an established conversation
                if not fb & ANSWERED:  # a answers b: b's reply ratio goes up
                    fb |= ANSWERED
                    b = by_id[rid]
                    if b is not None:
                        if b.n_answered < I32_MAX:
                            b.n_answered += 1
                        b.reply_delay_sum += now - last
                if not fa & MSG:
                    if room:
                        a.n_recip += 1
                    self._two_way(a, by_id[rid])
            else:
                if not fa & MSG:
                    if room:
                        a.n_recip += 1
                        a.n_opened += 1
                        a.m_new += 1
                        a.h_new += 1
                        a.d_new += 1
                    b = by_id[rid]
                    if b is not None and b.n_senders < I32_MAX:
                        b.n_senders += 1
                    dirty = a.h_new >= 3
                    if a.h_new >= LOCKSTEP_BURST and self._opened(aid, rid, now):
                        dirty = True
                    if a.h_new == FOLLOW_UP_CHATS:
                        self._follow_up(a.id, now)
                # b never wrote to a: a stranger, whatever the address books say (contacts are
                # an optional family: they must not make anyone look more or less a stranger;
                # and a one-sided contact_add, by either side, proves no relationship)
                if room:
                    a.n_nc += 1
                    a.m_nc += 1
                    a.h_nc += 1
                    a.d_nc += 1
                # one stranger is ordinary; a run of them (or a new account) is worth a look
                dirty = dirty or a.h_nc >= 3 or a.d_nc >= 10 or a.reg_ts >= 0.0
            pairs[key] = ((fa | MSG) << sa) | (fb << sb) | by_a | turns | (int(now) << TS_SHIFT)
        elif room:
            a.n_group_msgs += 1
        # timing: recency-weighted mean and variance of gaps inside sessions
        gap = now - a.last_send
        if gap < HOUR:
            if a.gap_n:
                d = gap - a.gap_mean
                a.gap_mean += 0.1 * d
                a.gap_var = 0.9 * (a.gap_var + 0.1 * d * d)
            else:
                a.gap_mean = gap
            if room:
                a.gap_n += 1
        a.last_send = now
        t = typing_ms
        if t is not None and room:
            a.n_typed += 1
            if not t:
                a.n_notype += 1
        if a.reg_ts >= 0.0 and now - a.reg_ts <= EARLY_SECONDS:
            a.early_msgs += 1   # the side record's counters saturate in their setters
            dirty = True
        if kind == "link" and room:
            a.link_msgs += 1
        if forwarded:
            if room:
                a.n_fwd += 1
            if forwarded >= 5:
                if room:
                    a.n_fwd_high += 1
                dirty = True
        elif digest is not None and not chatting:
            # content fan-out is about reaching many; a running conversation reaches one
            if self._family(a, digest, daily_first, now) >= 3:
                dirty = True
        if dirty:
            return a
        if not chatting:  # a running conversation changes no abuse evidence worth a re-score
            a.since_score += 1
            if a.since_score >= RESCORE_EVERY:
                return a
        return None

    def _two_way(self, a: Account, b: Account | None) -> None:
        """``a`` answered ``b`` for the first time: a two-way chat for both. Not between two
        accounts registered on the same IP, device or number block (a farm talking to
        itself establishes nothing)."""
        if b is None:
            return
        if a.reg_ts >= 0.0 and b.reg_ts >= 0.0 and (
                (a.reg_ip is not None and a.reg_ip == b.reg_ip)
                or (a.reg_device is not None and a.reg_device == b.reg_device)
                or (a.reg_block is not None and a.reg_block == b.reg_block)):
            return
        if a.n_twoway < I32_MAX:
            a.n_twoway += 1
        if b.n_twoway < I32_MAX:
            b.n_twoway += 1

    def _opened(self, aid: int, rid: int, now: float) -> bool:
        """Account ``aid``, in a burst of new chats, opened one with stranger ``rid``: it shares
        ``rid`` with the last account that did so within ``LOCKSTEP_MINUTES``. True when that
        made ``aid`` a lockstep peer of that account (worth a re-score); the other one is queued
        for a re-score too (``grown``). One look-up and one store per such message; a stranger
        remembers one account (a farm reaching a shared list links member to member)."""
        m = min(max(int(now) // 60, 0), _MAX_MINUTE)
        openers = self.openers
        prev = openers.get(rid)
        openers[rid] = m << 32 | aid
        if prev is None:
            return False
        b = prev & _ID_MASK
        if b == aid or m - (prev >> 32) > LOCKSTEP_MINUTES:
            return False
        if self._share(b, aid) == LOCKSTEP_SHARED:
            self.grown.append([b])
        return self._share(aid, b) == LOCKSTEP_SHARED

    def _share(self, x: int, y: int) -> int:
        """One more stranger ``x`` reached in lockstep with ``y``; the count now (0: not kept).

        Up to ``LOCKSTEP_SLOTS`` accounts per account. When all are taken, the counts of those
        not yet peers drop by one and the ones at zero make room (Misra-Gries); peers stay.

        >>> w = World()
        >>> [w._share(0, 9) for _ in range(3)], w.peers_of(0), w.peers_of(9)
        ([1, 2, 3], [9], [])
        >>> [w._share(0, p) for p in (1, 2, 3, 4)], w.lockstep[0]
        ([1, 1, 1, 0], [9, 3])
        """
        slots = self.lockstep.get(x)
        if slots is None:
            self.lockstep[x] = [y, 1]
            return 1
        n = len(slots)
        for i in range(0, n, 2):
            if slots[i] == y:
                c = slots[i + 1] + 1
                slots[i + 1] = c
                return c
        if n < 2 * LOCKSTEP_SLOTS:
            slots.append(y)
            slots.append(1)
            return 1
        kept: list[int] = []
        for i in range(0, n, 2):
            c = slots[i + 1]
            if c >= LOCKSTEP_SHARED:
                kept.append(slots[i])
                kept.append(c)
            elif c > 1:
                kept.append(slots[i])
                kept.append(c - 1)
        self.lockstep[x] = kept
        return 0

    def peers_of(self, aid: int) -> list[int]:
        """Ids of the accounts that reached ``LOCKSTEP_SHARED``+ of the same strangers as
        account ``aid``, each within ``LOCKSTEP_MINUTES`` of it (of those it tracks)."""
        slots = self.lockstep.get(aid)
        if slots is None:
            return []
        return [slots[i] for i in range(0, len(slots), 2) if slots[i + 1] >= LOCKSTEP_SHARED]

    def _follow_up(self, aid: int, now: float) -> None:
        """Look at account ``aid`` again FOLLOW_UP_AFTER seconds from ``now`` (scheduled when
        an hour's new chats reach FOLLOW_UP_CHATS, and again while the burst goes on)."""
        heapq.heappush(self.due, (now + FOLLOW_UP_AFTER, aid))
        self.next_due = self.due[0][0]

    def due_now(self) -> list[int]:
        """Ids of the accounts whose follow-up time has come (removed from the queue). One
        that kept sending since the follow-up was set is followed up again an hour after its
        last send, so a burst is judged once all its recipients had time to answer."""
        out = []
        due = self.due
        while due and due[0][0] <= self.now:
            t, aid = heapq.heappop(due)
            out.append(aid)
            a = self.by_id[aid]
            if a is not None and a.last_send > t - FOLLOW_UP_AFTER + MINUTE:
                heapq.heappush(due, (a.last_send + FOLLOW_UP_AFTER, aid))
        self.next_due = due[0][0] if due else math.inf
        return out

    def _family(self, a: Account, digest: str, to_new: bool, now: float) -> int:
        """Count the message in the sender's near-duplicate families; return its family's sends.

        Up to ``FAMILY_SLOTS`` families per account, in order: the first in the record
        (``f_*``), the others in ``fams_more``. A new family takes the slot of the first seen
        only once; when all repeat, every count drops by one (Misra-Gries), so a family that
        keeps coming back is never pushed out by one-off content.
        """
        h = simhash_of(digest)
        if h < 0:
            return 0
        new = 1 if to_new else 0
        if a.f_sends == 0:   # its first family
            a.f_hash = h - _BIT64 if h >= _BIT63 else h
            a.f_sends = 1
            a.f_new = new
            return 1
        hs = h - _BIT64 if h >= _BIT63 else h   # signed64(h), inline
        if bits64(a.f_hash ^ hs) <= FAMILY_HAMMING:   # the bits that differ
            if a.f_sends < I32_MAX:
                a.f_sends += 1
            n: int = a.f_sends
            if to_new:
                if a.f_new < I32_MAX:
                    a.f_new += 1
                if a.f_new > a.fam_new_max:
                    a.fam_new_max = a.f_new
            if n > a.fam_max:
                a.fam_max = n
            if a.f_fam < 0:
                a.f_fam = self._join_family(unsigned64(a.f_hash), a.id, now)
            fam = self.families.get(a.f_fam)
            if fam is not None:
                fam.sends += 1
                fam.last = now
            return n
        more = a.fams_more
        spare = None
        if more is not None:
            for f in more:
                if (f[0] ^ h).bit_count() <= FAMILY_HAMMING:
                    n = f[1] = sat(f[1] + 1)   # below I32_MAX, as fam_max is
                    if to_new:
                        f[2] = sat(f[2] + 1)
                        if f[2] > a.fam_new_max:
                            a.fam_new_max = f[2]
                    if n > a.fam_max:
                        a.fam_max = n
                    if f[3] < 0:
                        f[3] = self._join_family(f[0], a.id, now)
                    fam = self.families.get(f[3])
                    if fam is not None:
                        fam.sends += 1
                        fam.last = now
                    return n
                if f[1] == 1 and spare is None:
                    spare = f
        # reuse a slot seen once in place (the first such, in order): no allocation on the
        # common path
        if a.f_sends == 1:
            a.f_hash = hs
            a.f_new = new
            a.f_fam = -1
        elif spare is not None:
            spare[0] = h
            spare[2] = new
            spare[3] = -1
        elif more is None:
            a.fams_more = [[h, 1, new, -1]]
        elif len(more) < FAMILY_SLOTS - 1:
            more.append([h, 1, new, -1])
        else:
            a.f_sends -= 1
            for f in more:
                f[1] -= 1
        return 1

    def _join_family(self, h: int, aid: int, now: float) -> int:
        """Find or create the global family of SimHash ``h`` (LSH on four 16-bit bands) and
        count account ``aid`` in it (once: an account joins when it first repeats it)."""
        gid = self.find_family(h)
        if gid >= 0:
            fam = self.families[gid]
            if fam.add(aid):
                self.grown.append(fam.members)
            return gid
        gid = self.next_family
        self.next_family += 1
        fam = self.families[gid] = Family(h, now)
        fam.add(aid)
        for i in range(4):
            self.bands.setdefault(i << 16 | (h >> (16 * i)) & 0xFFFF, []).append(gid)
        return gid

    def find_family(self, h: int) -> int:
        """The id of the global family within ``FAMILY_JOIN_HAMMING`` of SimHash ``h`` (LSH on
        four 16-bit bands), or -1: a look-up that joins nothing."""
        fams = self.families
        for i in range(4):
            key = i << 16 | (h >> (16 * i)) & 0xFFFF
            for gid in self.bands.get(key, ()):
                fam = fams.get(gid)
                if fam is not None and (fam.simhash ^ h).bit_count() <= FAMILY_JOIN_HAMMING:
                    return gid
        return -1

    def content_flagged(self, a: Account) -> int:
        """Most stopped accounts in a global content family that ``a`` sent, even once, not
        counting itself; 0 for an established account (``family_flagged`` counts only the
        families it repeated to 3+ new recipients; this one also sees a first message)."""
        if a.n_twoway >= ESTABLISHED_PARTNERS or a.f_sends == 0:   # (no family: ``fams`` None)
            return 0
        # the slots read in place: ``a.fams`` builds a copy of each (this runs at every re-score)
        counted = a.counted
        best = self._flagged(a.f_fam, unsigned64(a.f_hash), a.f_new, counted, 0)
        more = a.fams_more
        if more is not None:
            for f in more:
                best = self._flagged(f[3], f[0], f[2], counted, best)
        return best

    def _flagged(self, gid: int, h: int, new: int, counted: bool, best: int) -> int:
        """``content_flagged`` over one family slot (global family ``gid``, SimHash ``h``,
        ``new`` new-chat sends): the larger of ``best`` and its stopped senders."""
        g = gid if gid >= 0 else self.find_family(h)
        if g >= 0:
            fam = self.families.get(g)
            if fam is not None:
                # its own stop counted in the families ``families_of`` gives
                n = fam.flagged - (1 if counted and gid >= 0 and new >= 3 else 0)
                if n > best and not self._common(fam):
                    return n
        return best

    def _common(self, fam: Family) -> bool:
        """True if an established account that is not stopped repeats ``fam``: content that
        people with conversations of their own send too ("hi", a greeting card, a viral
        image) is nobody's campaign, even after a spammer was stopped for sending it."""
        by_id = self.by_id
        for m in fam.members:
            b = by_id[m] if 0 <= m < len(by_id) else None   # -1: dropped by a sweep
            if b is not None and b.n_twoway >= ESTABLISHED_PARTNERS and b.level < CHALLENGE:
                return True
        return False

    def on_register(self, ev: Register) -> Account:
        now = self.now
        a = self.account(ev.account)
        a.reg_ts = now
        a.business = ev.kind == "business"
        if ev.ip:
            a.reg_ip = ev.ip
            self.by_ip.setdefault(ev.ip, Cluster()).add(a.id, now)
        if ev.device:
            a.reg_device = ev.device
            self.by_device.setdefault(ev.device, Cluster()).add(a.id, now)
        if ev.phone and len(ev.phone) > 6:
            a.reg_block = number_block(ev.phone)
            self.by_block.setdefault(a.reg_block, Cluster()).add(a.id, now)
            if ev.country:
                c = phone_country(ev.phone)
                a.country_mismatch = c is not None and ev.country.upper() not in c
        return a

    def on_contact_add(self, ev: ContactAdd) -> None:
        self.set_contact(ev.account, ev.contact, True)

    def set_contact(self, account: str, contact: str, on: bool) -> None:
        """Mark (or unmark) ``contact`` as a contact of ``account``."""
        # pair_key inline (no tuple), the key boxed once: a contact_add is the commonest
        # event after a message
        i = self.id_of(account)
        j = self.id_of(contact)
        bit = CONTACT if i < j else CONTACT << 5
        key: Any = i << 32 | j if i < j else j << 32 | i
        pairs = self.pairs
        v: int = stamped(pairs[key], self.now)
        pairs[key] = (v | bit) if on else (v & ~bit)

    def on_contact_sync(self, ev: ContactSync) -> Account:
        a = self.account(ev.account)
        a.sync_n += 1
        a.sync_numbers += ev.numbers
        a.sync_matched += min(ev.matched, ev.numbers)
        if ev.numbers > a.sync_max:
            a.sync_max = ev.numbers
        return a

    def on_group_create(self, ev: GroupCreate) -> Account:
        a = self.account(ev.account)
        a.groups_created += 1
        self.groups[ev.group] = [a.id, 1, 0, self.now]
        return a

    def on_group_join(self, ev: GroupJoin) -> Account | None:
        g = self.groups.get(ev.group)
        if g is None:
            g = self.groups[ev.group] = [-1, 0, 0, self.now]
        g[1] += 1
        g[3] = self.now
        if ev.added_by is None:
            return None
        a = self.account(ev.added_by)
        a.group_adds += 1
        # both directions of the pair from one look-up: ``flags(m, a.id)``, ``flags(a.id, m)``
        m = self.id_of(ev.member)
        k, sm, sa = pair_key(m, a.id)
        if m == a.id:
            sa = sm   # as ``flags`` reads a pair of one account with itself, both ways
        v: int = self.pairs[k]
        if not (v >> sm) & MSG:   # the member never wrote to the adder: a stranger
            a.group_adds_nc += 1
            g[2] += 1
            b = math.floor(self.now) // HOUR
            if b != a.ga_b:
                a.ga_hp = a.ga_h if b == a.ga_b + 1 else 0
                a.ga_h = 0
                a.ga_b = b
            a.ga_h += 1
            if not (v >> sa) & MSG:   # nor the adder to the member
                a.group_adds_new += 1
        return a

    def _feedback(self, source: str, target: str, flag: int) -> tuple[Account | None, int]:
        """Record ``source`` blocking/reporting ``target``; the target (None if a repeat) and
        the pair record of target -> source before it."""
        t = self.account(target)
        k, st, ss = pair_key(t.id, self.id_of(source))
        pv: int = self.pairs[k]
        v = (pv >> st) & FLAGS   # direction target -> source
        if v & flag:
            return None, v  # the same person blocking or reporting twice counts once
        self.pairs[k] = stamped(pv, self.now) | flag << st
        if flag == BLOCKED:
            t.blocks += 1
        else:
            t.reports += 1
            if v & MSG and self._drove(pv, st, ss):
                t.reports_partner += 1
        return t, v

    @staticmethod
    def _drove(pv: int, st: int, ss: int) -> bool:
        """Whether the target (flags at offset ``st``) started or sustained the conversation
        with the source (offset ``ss``) in pair record ``pv``: it wrote first, or the
        conversation turned at least three times. A reporter who wrote first and got one
        polite reply ("who is this?") is no conversation partner.

        >>> v = MSG | (MSG << 5) | LAST_BY_HI | TURN   # lo wrote first, hi answered once
        >>> World._drove(v, 5, 0), World._drove(v, 0, 5)
        (False, True)
        >>> World._drove(v | 2 * TURN, 5, 0)            # ... and the two went on talking
        True
        """
        if not (pv >> ss) & MSG:
            return True   # only the target wrote
        turns = (pv & TURNS) >> TURN_SHIFT
        if turns >= 3:
            return True
        target_last = bool(pv & LAST_BY_HI) == (st == 5)
        return target_last == (turns % 2 == 0)

    def on_block(self, ev: Block) -> Account | None:
        return self._feedback(ev.blocker, ev.blocked, BLOCKED)[0]

    def on_report(self, ev: Report) -> tuple[Account | None, Account]:
        """Returns the reported account (None for a repeated report) and the reporter."""
        t, v = self._feedback(ev.reporter, ev.reported, REPORTED)
        r = self.account(ev.reporter)
        if t is not None:
            r.filed += 1
            if not v & MSG:  # reporting someone who never wrote to you
                r.filed_stranger += 1
                r.filed_target = t.id
                piled = t.piled_on
                if piled is None:
                    piled = t.piled_on = []
                if len(piled) < FAMILY_MEMBERS:
                    piled.append(r.id)
                if t.reports - t.reports_partner in REGROUP_AT:
                    self.grown.append(piled)
        return t, r

    def established(self, a: Account) -> bool:
        """Two-way chats with at least ``ESTABLISHED_PARTNERS`` people (none of them
        registered on its own IP, device or number block)."""
        return a.n_twoway >= ESTABLISHED_PARTNERS

    def reg_count(self, c: Cluster, a: Account, span: float, estimate: float) -> float:
        """Registrations in cluster ``c`` within the last ``span`` seconds that also came
        within ``span`` of ``a``'s own registration. ``estimate`` is the cluster's sliding
        count of the last ``span``, used as is while ``a`` itself registered in it."""
        if a.reg_ts < 0.0:
            return 0.0
        now = self.now
        if now - a.reg_ts <= span:
            return estimate
        return float(c.between(now - span, a.reg_ts + span))

    def stopped_near(self, c: Cluster, a: Account) -> int:
        """Stopped members of ``c`` registered within ``NEAR_SECONDS`` of ``a``, not counting
        ``a``; 0 for an established account or one without a registration."""
        if a.reg_ts < 0.0 or a.n_twoway >= ESTABLISHED_PARTNERS:
            return 0
        n = c.stopped_between(a.reg_ts - NEAR_SECONDS, a.reg_ts + NEAR_SECONDS)
        return n - 1 if a.counted else n

    def families_of(self, a: Account) -> list[Family]:
        """The cross-account content families ``a`` repeats and sent to 3+ new recipients."""
        out: list[Family] = []
        if a.f_sends == 0:   # no family (``a.fams`` is None)
            return out
        # read in place: ``a.fams`` builds a copy of every slot (this runs at every re-score)
        fams = self.families
        if a.f_fam >= 0 and a.f_new >= 3:
            fam = fams.get(a.f_fam)
            if fam is not None:
                out.append(fam)
        more = a.fams_more
        if more is not None:
            for f in more:
                if f[3] >= 0 and f[2] >= 3:
                    fam = fams.get(f[3])
                    if fam is not None:
                        out.append(fam)
        return out

    def clusters_of(self, a: Account) -> list[Cluster]:
        """The registration clusters (IP, device, number block) ``a`` belongs to."""
        out: list[Cluster] = []
        s = a.side   # the registration metadata lives there: none without it
        if s is None:
            return out
        if s.reg_ip is not None:
            c = self.by_ip.get(s.reg_ip)
            if c is not None:
                out.append(c)
        if s.reg_device is not None:
            c = self.by_device.get(s.reg_device)
            if c is not None:
                out.append(c)
        if s.reg_block is not None:
            c = self.by_block.get(s.reg_block)
            if c is not None:
                out.append(c)
        return out

    # -- bounded memory ------------------------------------------------------------------
    # Retention, all on event time (README, "Retention"); the engine sweeps once a day.
    def sweep(self, keep_days: float = KEEP_DAYS) -> int:
        """Forget what the retention rules let go; return the number of accounts forgotten.

        * an account without an action: ``keep_days`` after its last message (or the time
          its record was made: an account that only reports or syncs has no message) and its
          registration; an account with an action: ``ACTION_KEEP_DAYS`` after them;
        * a pair: ``3 * keep_days`` after its last message; a pair holding a contact, block
          or report: ``ACTION_KEEP_DAYS`` after its last message, or after the flag was first
          set when the two never wrote;
        * lockstep: a stranger's last opener ``LOCKSTEP_MINUTES`` after it (it can link
          no one later); an account's lockstep counts while both accounts have a record;
        * content families: 2 days after their last send; registration clusters:
          ``keep_days`` after their last registration; groups: ``keep_days`` after their last
          create or join;
        * an identifier no record refers to any more leaves the id map (the ids of the rest
          are renumbered in order once more than half of them are unused).
        """
        now = self.now
        cut = now - keep_days * DAY
        long_cut = now - ACTION_KEEP_DAYS * DAY
        # ``last_ts``: the last message, or when the record was made (``account``): a
        # reporter without a message was forgotten at the next sweep, and a report brigade
        # whose last member reported after it was no longer one brigade
        dead = [a.id for a in self.accounts.values()
                if (a.last_ts < cut and a.reg_ts < cut and a.level == 0)
                or (a.last_ts < long_cut and a.reg_ts < long_cut)]
        for i in dead:
            self.by_id[i] = None
        old = [g for g, f in self.families.items() if f.last < now - 2 * DAY]
        for g in old:
            del self.families[g]
        if old:
            live = self.families
            self.bands = {k: v for k, v in ((k, [g for g in v if g in live])
                                            for k, v in self.bands.items()) if v}
        pcut = int(now - 3 * keep_days * DAY) << TS_SHIFT
        kcut = int(long_cut) << TS_SHIFT
        stale = [k for k, v in self.pairs.items()
                 if v < pcut and (not v & KEEP_FLAGS or v < kcut)]
        for k in stale:
            del self.pairs[k]
        for table in (self.by_ip, self.by_device, self.by_block):
            for key in [k for k, c in table.items() if c.counter.last < cut]:
                del table[key]
        # lockstep: strangers reached too long ago to link anyone; accounts without a record
        mcut = min(max(int(now) // 60, 0), _MAX_MINUTE) - LOCKSTEP_MINUTES
        self.openers = {k: v for k, v in self.openers.items() if v >> 32 >= mcut}
        by_id = self.by_id
        lockstep: dict[int, list[int]] = {}
        for x, slots in self.lockstep.items():
            if by_id[x] is not None:
                kept = [v for i in range(0, len(slots), 2) if by_id[slots[i]] is not None
                        for v in (slots[i], slots[i + 1])]
                if kept:
                    lockstep[x] = kept
        self.lockstep = lockstep
        for key in [k for k, g in self.groups.items() if g[3] < cut]:
            del self.groups[key]
        self.last_sweep = now
        self.renumbered = None
        self.compact_ids()
        return len(dead)

    def compact_ids(self, force: bool = False) -> int:
        """Renumber the identifiers still referred to (records, pairs, clusters, groups,
        content families, follow-ups, report pile-ons, lockstep)
        0, 1, 2... in their old order, dropping the rest from the id map; only when more
        than half are unused (or ``force``). The order is kept, so every pair keeps its
        key's direction bits. Returns the number of identifiers dropped."""
        names = self.names
        live = bytearray(len(names))
        for a in self.accounts.values():
            live[a.id] = 1
        for k in self.pairs:
            live[k >> 32] = 1
            live[k & 0xFFFFFFFF] = 1
        for table in (self.by_ip, self.by_device, self.by_block):
            for c in table.values():
                for m in c.members:
                    live[m] = 1
        for g in self.groups.values():
            if g[0] >= 0:
                live[g[0]] = 1
        for f in self.families.values():
            for m in f.members:
                live[m] = 1
        for grown in self.grown:
            for m in grown:
                live[m] = 1
        for _, m in self.due:
            live[m] = 1
        for k, v in self.openers.items():
            live[k] = 1
            live[v & _ID_MASK] = 1
        for x, slots in self.lockstep.items():
            live[x] = 1
            for i in range(0, len(slots), 2):
                live[slots[i]] = 1
        for a in self.accounts.values():
            if a.filed_target >= 0:
                live[a.filed_target] = 1
            if a.piled_on is not None:
                for m in a.piled_on:
                    live[m] = 1
        unused = len(names) - sum(live)
        if not unused or (not force and unused * 2 <= len(names)):
            return 0
        new_of = [-1] * len(names)
        kept: list[str] = []
        for i, name in enumerate(names):
            if live[i]:
                new_of[i] = len(kept)
                kept.append(name)
        by_id: list[Account | None] = [None] * len(kept)
        for a in self.accounts.values():
            a.id = new_of[a.id]
            by_id[a.id] = a
        self.pairs = from_items([(new_of[k >> 32] << 32 | new_of[k & 0xFFFFFFFF], v)
                                 for k, v in self.pairs.items()])   # the same kind of table
        for table in (self.by_ip, self.by_device, self.by_block):
            for c in table.values():
                c.members = [new_of[m] for m in c.members]
        for g in self.groups.values():
            if g[0] >= 0:
                g[0] = new_of[g[0]]
        for f in self.families.values():
            f.members = [new_of[m] for m in f.members]
        self.grown = [[new_of[m] for m in grown] for grown in self.grown]
        self.due = [(t, new_of[m]) for t, m in self.due]   # the order (a heap) is kept
        self.openers = {new_of[k]: (v >> 32) << 32 | new_of[v & _ID_MASK]
                        for k, v in self.openers.items()}
        self.lockstep = {new_of[x]: [new_of[v] if i % 2 == 0 else v for i, v in enumerate(s)]
                         for x, s in self.lockstep.items()}
        for a in self.accounts.values():
            if a.filed_target >= 0:
                a.filed_target = new_of[a.filed_target]
            if a.piled_on is not None:
                a.piled_on = [new_of[m] for m in a.piled_on]
        self.renumbered = new_of   # old id -> new id (-1: dropped), for ids kept elsewhere
        self.names = kept
        self.ids = from_names(kept)
        self.by_id = by_id
        return unused


class Accounts:
    """The account records by name, as a read-only mapping: a view of ``World.by_id``
    through the id map (a dict of its own would cost ~32 bytes per active account).
    Iterates in id order.

    >>> w = World()
    >>> _ = w.account("b"); _ = w.id_of("x"); _ = w.account("a")
    >>> len(w.accounts), list(w.accounts), "x" in w.accounts, w.accounts.get("x")
    (2, ['b', 'a'], False, None)
    >>> w.accounts["a"].id
    2
    """

    __slots__ = ("world",)

    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, name: str) -> Account | None:
        w = self.world
        i: int = w.ids[name]   # -1: a name the id map does not hold
        return w.by_id[i] if i >= 0 else None

    def __getitem__(self, name: str) -> Account:
        a = self.get(name)
        if a is None:
            raise KeyError(name)
        return a

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        n = 0
        for a in self.world.by_id:
            if a is not None:
                n += 1
        return n

    def values(self) -> list[Account]:
        return [a for a in self.world.by_id if a is not None]

    def items(self) -> list[tuple[str, Account]]:
        names = self.world.names
        return [(names[a.id], a) for a in self.world.by_id if a is not None]

    def keys(self) -> list[str]:
        names = self.world.names
        return [names[a.id] for a in self.world.by_id if a is not None]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())
