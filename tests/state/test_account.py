"""The account record (``state.account``): 32-bit counters that saturate alike in both builds,
and a side record that only the accounts using its fields get."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.events import Block, ContactSync, Register, Report
from bulkguard.signals import vector
from bulkguard.state.account import _CORE, _I32, _SIDE, I32_MAX, Account, sat
from bulkguard.state.windows import DAY, HOUR, MINUTE
from bulkguard.state.world import World

T0 = 1_700_000_040.0   # a whole minute

# the counters one message to a stranger (a new chat, no digest, typed, a link) adds 1 to
PER_MESSAGE = ("n_msgs", "m_msg", "h_msg", "d_msg", "h_dist", "d_dist", "n_recip",
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
    for f in PER_MESSAGE:
        setattr(a, f, start)
    a.last_send = T0 - 1.0
    for i in range(k):
        w.message("s", f"r{i}", "link", 5, None, 0)
    for f in PER_MESSAGE:
        assert getattr(a, f) == min(start + k, I32_MAX), f
    # a recipient who answers counts it for the sender (answers, two-way chats)
    a.n_answered = a.n_twoway = a.n_senders = start
    w.account("r0")
    w.message("r0", "s", "text", 0, None, None)   # r0 answers s
    w.message("s", "r0", "text", 0, None, None)
    assert a.n_answered == min(start + 1, I32_MAX) and a.n_twoway == min(start + 1, I32_MAX)
    v = vector(a, w)   # every signal reads saturated counters without error
    assert len(v) > 50 and all(isinstance(x, float) for x in v)


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
