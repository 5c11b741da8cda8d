"""The account record (``state.account``): 32-bit counters that saturate alike in both builds,
and a side record that only the accounts using its fields get."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.events import Block, ContactSync, Register, Report
from bulkguard.signals import vector
from bulkguard.state.account import _CORE, _I32, _SIDE, I32_MAX, PER_MESSAGE, Account, sat
from bulkguard.state.windows import DAY, HOUR, MINUTE
from bulkguard.state.world import FAMILY_HAMMING, World

T0 = 1_700_000_040.0   # a whole minute

# the counters one message to a stranger (a new chat, no digest, typed, a link) adds 1 to
PER_MESSAGE_TESTED = ("n_msgs", "m_msg", "h_msg", "d_msg", "h_dist", "d_dist", "n_recip",
               "n_opened", "m_new", "h_new", "d_new", "n_nc", "m_nc", "h_nc", "d_nc",
               "n_typed", "n_notype", "link_msgs", "n_fwd", "n_fwd_high", "gap_n")


@given(st.integers(0, 1 << 70))
def test_sat_caps_at_the_largest_i32(v: int) -> None:
    assert sat(v) == min(v, I32_MAX)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(I32_MAX - 40, I32_MAX), k=st.integers(1, 30))
def test_message_counters_saturate(start: int, k: int) -> None:
    """Counters one message short of the limit, or at it, stop there: the compiled build
    (32-bit fields, whose adds would wrap) ends where Python's unbounded ints do."""
    w = World()
    w.now = T0
    a = w.account("s")
    a.bm, a.bh, a.bd = math.floor(T0) // MINUTE, math.floor(T0) // HOUR, math.floor(T0) // DAY
    for f in PER_MESSAGE_TESTED:
        setattr(a, f, start)
    a.last_send = T0 - 1.0
    for i in range(k):
        w.message("s", f"r{i}", "link", 5, None, 0)
    for f in PER_MESSAGE_TESTED:
        assert getattr(a, f) == min(start + k, I32_MAX), f
    # a recipient who answers counts it for the sender (answers, two-way chats)
    a.n_answered = a.n_twoway = a.n_senders = start
    w.account("r0")
    w.message("r0", "s", "text", 0, None, None)   # r0 answers s
    w.message("s", "r0", "text", 0, None, None)
    assert a.n_answered == min(start + 1, I32_MAX) and a.n_twoway == min(start + 1, I32_MAX)
    v = vector(a, w)   # every signal reads saturated counters without error
    assert len(v) > 50 and all(isinstance(x, float) for x in v)


def test_counters_of_own_messages_never_pass_n_msgs_and_stop_with_it() -> None:
    assert set(PER_MESSAGE) <= set(_I32) and "n_msgs" not in PER_MESSAGE
    assert set(PER_MESSAGE) >= set(PER_MESSAGE_TESTED) - {"n_msgs"}
    w = World()
    w.now = T0
    a = w.account("s")
    for i in range(50):
        w.message("s", f"r{i % 7}" if i % 3 else None, "link", i % 6, f"{i:016x}", i % 2)
        w.now += 7.0
        assert all(getattr(a, f) <= a.n_msgs for f in PER_MESSAGE)
    a.n_msgs = I32_MAX
    before = {f: getattr(a, f) for f in PER_MESSAGE}
    w.message("s", "new-one", "link", 9, None, 0)
    assert a.n_msgs == I32_MAX and {f: getattr(a, f) for f in PER_MESSAGE} == before


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, I32_MAX), adds=st.lists(st.integers(0, 1 << 40), max_size=5))
def test_side_counters_saturate_in_their_setters(start: int, adds: list[int]) -> None:
    a = Account(0)
    a.sync_numbers = start
    total = start
    for n in adds:
        a.sync_numbers += n
        total += n
    assert a.sync_numbers == min(total, I32_MAX)


def test_side_record_only_for_accounts_that_use_it() -> None:
    w = World()
    w.now = T0
    w.message("a", "b", "text", 0, "00ff00ff00ff00ff", 1200)
    w.message("b", "a", "text", 0, None, 900)
    assert w.accounts["a"].side is None and w.accounts["b"].side is None
    # writing a default allocates nothing; reading gives the default
    a = w.accounts["a"]
    a.blocks = 0
    a.reg_ip = None
    assert a.side is None and a.blocks == 0 and a.filed_target == -1 and a.reg_ip is None
    w.on_register(Register(ts=T0, account="n", ip="192.0.2.1"))
    w.on_contact_sync(ContactSync(ts=T0, account="c", numbers=10**30, matched=3))
    w.on_block(Block(ts=T0, blocker="a", blocked="b"))
    w.on_report(Report(ts=T0, reporter="x", reported="y"))
    assert w.accounts["n"].reg_ip == "192.0.2.1"
    assert w.accounts["c"].sync_numbers == I32_MAX   # an absurd count saturates
    assert w.accounts["b"].blocks == 1 and w.accounts["y"].reports == 1
    assert w.accounts["x"].filed == 1 and w.accounts["x"].filed_target == w.ids["y"]
    for name in ("n", "c", "b", "y", "x"):
        assert w.accounts[name].side is not None
    assert w.accounts["a"].side is None   # blocking someone is not a field of the blocker


def test_fields_are_split_between_record_and_side_record() -> None:
    assert not set(_CORE) & set(_SIDE)
    assert set(_I32) <= set(_CORE) | set(_SIDE)
    fresh = Account(0)
    assert all(getattr(fresh, f) == 0 for f in _I32)


@pytest.mark.parametrize("field", ["n_msgs", "blocks"])
def test_counter_reads_back_what_was_written_up_to_the_limit(field: str) -> None:
    a = Account(0)
    setattr(a, field, I32_MAX)
    assert getattr(a, field) == I32_MAX


def _reference_family(fams: list[list[int]] | None, h: int, to_new: bool,
                      join) -> tuple[list[list[int]], int]:
    """The content-family slots as one list (how they were kept before the first moved into
    the record), for comparison."""
    if fams is None:
        return [[h, 1, int(to_new), -1]], 1
    spare = None
    for f in fams:
        if (f[0] ^ h).bit_count() <= FAMILY_HAMMING:
            f[1] += 1
            if to_new:
                f[2] += 1
            if f[3] < 0:
                f[3] = join(f[0])
            return fams, f[1]
        if f[1] == 1 and spare is None:
            spare = f
    if spare is not None:
        spare[0], spare[2], spare[3] = h, int(to_new), -1
    elif len(fams) < 4:
        fams.append([h, 1, int(to_new), -1])
    else:
        for f in fams:
            f[1] -= 1
    return fams, 1


# a few SimHashes, some within 3 bits of each other, with the top bit set or not
_HASHES = [0, 1, 7, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFF0, 0x8000_0000_0000_0000,
           0x8000_0000_0000_000F, 0x7FFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_HASHES) | st.integers(0, (1 << 64) - 1),
                          st.booleans()), max_size=60))
def test_content_family_slots_match_one_list(sends: list[tuple[int, bool]]) -> None:
    """The first family in the record, the others in a list: the same slots, counts and
    order as one list of four (Misra-Gries), whatever the SimHashes."""
    w = World()
    w.now = T0
    a = w.account("s")
    ref: list[list[int]] | None = None
    joined: dict[int, int] = {}
    most = 0
    for h, to_new in sends:
        n = w._family(a, f"{h:016x}", to_new, T0)
        ref, want = _reference_family(ref, h, to_new, lambda h0: joined.setdefault(h0, -2))
        assert n == want
        most = max(most, want if want > 1 else 0)   # a repeat's count
        got = a.fams
        assert got is not None and len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g[:3] == r[:3]
            assert (g[3] >= 0) == (r[3] != -1)   # joined a global family at the same send
    assert a.fam_max == most
    # the property reads back what it was set to, and sets the same slots
    b = Account(1)
    b.fams = a.fams
    assert b.fams == a.fams and b.f_hash == a.f_hash and b.f_sends == a.f_sends
