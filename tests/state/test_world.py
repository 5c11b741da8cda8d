"""World state on event time: sliding windows, replies and non-contacts, feedback, registration
clusters, near-duplicate content families and the memory sweep."""

from __future__ import annotations

import math

from pathlib import Path

import pytest

from bulkguard.engine import Engine
from bulkguard.events import (
    Block, ContactAdd, ContactSync, GroupCreate, GroupJoin, Message, Register, Report,
)
from bulkguard.signals import SIGNALS
from bulkguard.state.windows import DAY, HOUR, MINUTE, BucketCounter, est
from bulkguard.state.world import World

T0 = 1_700_000_040.0   # a whole minute (1_700_000_040 = 28_333_334 * 60)
_ON = {Message: "on_message", Register: "on_register", ContactAdd: "on_contact_add",
       ContactSync: "on_contact_sync", GroupCreate: "on_group_create",
       GroupJoin: "on_group_join", Block: "on_block", Report: "on_report"}


def apply(w: World, *events) -> None:
    """Apply events the way the engine does: the clock never goes back."""
    for ev in events:
        w.now = max(w.now, ev.ts)
        getattr(w, _ON[type(ev)])(ev)


def sig(w: World, name: str, account: str) -> float:
    return SIGNALS[name](w.accounts[account], w)


def msg(ts: float, s: str, r: str, **kw) -> Message:
    return Message(ts=ts, sender=s, recipient=r, **kw)


def tick(w: World, ts: float) -> None:
    """Move the clock with someone else's event."""
    apply(w, msg(ts, "clock", "clock2"))


# -- windows -----------------------------------------------------------------------------------

def test_est_and_bucket_counter():
    assert est(10, 4, 100, 100 * 60, 60) == 14.0
    assert est(10, 4, 100, 100 * 60 + 45, 60) == 11.0
    assert est(10, 4, 99, 100 * 60 + 15, 60) == 7.5
    assert est(10, 4, 98, 100 * 60, 60) == 0.0
    c = BucketCounter()
    for t in range(5):
        c.add(T0 + t)
    assert c.hour(T0 + 10) == 5.0 and c.day(T0 + 10) == 5.0 and c.total == 5
    assert c.hour(T0 + 3 * HOUR) == 0.0 and c.day(T0 + 3 * DAY) == 0.0 and c.total == 5


WINDOWED = {
    MINUTE: ["msgs_1m", "noncontact_1m", "newchats_1m"],
    HOUR: ["msgs_1h", "noncontact_1h", "newchats_1h", "recipients_1h"],
    DAY: ["msgs_1d", "noncontact_1d", "newchats_1d", "recipients_1d"],
}


def test_windows_expire_for_a_dormant_account():
    w = World()
    apply(w, *[msg(T0 + i, "x", f"u{i}") for i in range(10)])
    for names in WINDOWED.values():
        for n in names:
            assert sig(w, n, "x") == 10.0, n
    # half a minute into the next minute bucket, the last minute holds about half
    tick(w, T0 + MINUTE + 30)
    assert sig(w, "msgs_1m", "x") == pytest.approx(5.0)
    for span, names in WINDOWED.items():
        tick(w, T0 + 2 * span + 1)
        for n in names:
            assert sig(w, n, "x") == 0.0, (n, span)
    assert sig(w, "msgs_total", "x") == 10.0  # totals do not expire
    # back after days: windows count only the new traffic
    apply(w, msg(T0 + 3 * DAY, "x", "u0"))
    assert [sig(w, n, "x") for n in ("msgs_1m", "msgs_1h", "msgs_1d")] == [1.0, 1.0, 1.0]


# -- engagement and non-contacts ------------------------------------------------------------

def test_reply_ratio_and_delay():
    w = World()
    apply(w, *[msg(T0 + i, "x", r) for i, r in enumerate("abcd")])
    assert sig(w, "reply_ratio", "x") == 0.0 and sig(w, "unanswered", "x") == 4.0
    apply(w, msg(T0 + 10, "a", "x"), msg(T0 + 31, "b", "x"), msg(T0 + 40, "b", "x"),
          msg(T0 + 50, "q", "x"))   # q was never written to: not an answer
    assert sig(w, "reply_ratio", "x") == 0.5
    assert sig(w, "unanswered", "x") == 2.0
    assert sig(w, "reply_delay", "x") == pytest.approx(((10 - 0) + (31 - 1)) / 2)
    # x answering q raises q's reply ratio
    apply(w, msg(T0 + 60, "x", "q"))
    assert sig(w, "reply_ratio", "q") == 1.0 and sig(w, "reply_delay", "q") == 10.0


def test_non_contact_logic():
    """A stranger is someone who never wrote to the sender: behaviour, not address books
    (contacts are an optional family; they must not make anyone look less of a stranger)."""
    w = World()
    apply(w, ContactAdd(ts=T0, account="x", contact="friend"),      # x added friend
          ContactAdd(ts=T0, account="friend", contact="x"),         # ... and friend added x back
          ContactAdd(ts=T0, account="x", contact="evaded"),         # x alone added "evaded"
          ContactAdd(ts=T0, account="fan", contact="x"),            # fan added x
          msg(T0 + 1, "pen", "x"))                                  # pen wrote to x first
    assert w.is_contact(w.ids["x"], w.ids["friend"]) and w.is_contact(w.ids["x"], w.ids["fan"])
    assert w.is_contact(w.ids["x"], w.ids["pen"])
    assert not w.is_contact(w.ids["x"], w.ids.get("stranger", w.id_of("stranger")))
    # a contact_add comes from the adder's own client: alone it makes no contact
    assert not w.is_contact(w.ids["x"], w.ids["evaded"])
    assert w.is_contact(w.ids["evaded"], w.ids["x"])   # (x did something: for evaded, x is one)
    apply(w, msg(T0 + 2, "x", "pen"))
    assert sig(w, "noncontact_1m", "x") == 0.0       # pen wrote first
    for i, r in enumerate(["friend", "fan", "evaded"]):
        apply(w, msg(T0 + 3 + i, "x", r))
        assert sig(w, "noncontact_1m", "x") == 1.0 + i, r   # contacts or not, never wrote
    apply(w, msg(T0 + 6, "x", "stranger"))
    assert sig(w, "noncontact_1m", "x") == 4.0
    assert sig(w, "noncontact_share", "x") == 0.8
    # the stranger answering makes the chat ordinary: x's next message is not to a stranger
    apply(w, msg(T0 + 7, "stranger", "x"), msg(T0 + 8, "x", "stranger"))
    assert sig(w, "noncontact_1m", "x") == 4.0
    # group messages are not one-to-one messages to strangers
    apply(w, Message(ts=T0 + 9, sender="x", group="g"))
    assert sig(w, "noncontact_share", "x") == pytest.approx(4 / 6)


def test_contacts_change_no_core_signal():
    """The same messages with and without contact events give the same core signals."""
    from bulkguard.signals import NAMES, REQUIRES, vector
    evs = [msg(T0 + i, "x", f"r{i % 4}") for i in range(12)] + [msg(T0 + 20, "r1", "x")]
    w1, w2 = World(), World()
    apply(w1, *[ContactAdd(ts=T0, account="x", contact=f"r{i}") for i in range(4)], *evs)
    apply(w2, *evs)
    v1, v2 = vector(w1.accounts["x"], w1), vector(w2.accounts["x"], w2)
    core = [i for i, n in enumerate(NAMES) if n not in REQUIRES]
    assert [v1[i] for i in core] == [v2[i] for i in core]


# -- feedback ------------------------------------------------------------------------------------

def test_same_person_blocking_or_reporting_twice_counts_once():
    w = World()
    apply(w, msg(T0, "spammer", "b"))
    apply(w, Block(ts=T0 + 1, blocker="b", blocked="spammer"),
          Block(ts=T0 + 2, blocker="b", blocked="spammer"))
    assert sig(w, "blocks", "spammer") == 1.0
    apply(w, Block(ts=T0 + 3, blocker="c", blocked="spammer"))
    assert sig(w, "blocks", "spammer") == 2.0
    for i in range(3):
        apply(w, Report(ts=T0 + 4 + i, reporter="b", reported="spammer", reason="spam"))
    assert sig(w, "reports", "spammer") == 1.0
    assert sig(w, "reports_partner", "spammer") == 1.0       # spammer had written to b
    apply(w, Report(ts=T0 + 9, reporter="c", reported="spammer"),
          Report(ts=T0 + 9, reporter="c", reported="spammer"))
    assert sig(w, "reports", "spammer") == 2.0
    assert sig(w, "reports_partner", "spammer") == 1.0       # c never got a message
    assert sig(w, "reports_stranger", "spammer") == 1.0


# -- registration clusters -----------------------------------------------------------------

def test_registration_clusters_by_ip_device_and_number_block():
    w = World()
    for i in range(5):
        apply(w, Register(ts=T0 + i * 60, account=f"f{i}", ip="192.0.2.9",
                          device="dev-shared" if i < 3 else f"dev-{i}",
                          phone=f"+4915112340{i:03d}"))
    apply(w, Register(ts=T0 + 400, account="other", ip="198.51.100.1", device="dev-o",
                      phone="+4915199990001"))
    assert sig(w, "reg_ip_1h", "f4") == 5.0 and sig(w, "reg_ip_1d", "f4") == 5.0
    assert sig(w, "reg_device_1d", "f0") == 3.0 and sig(w, "reg_device_1d", "f4") == 1.0
    assert sig(w, "reg_block_1d", "f2") == 5.0
    assert [sig(w, n, "other") for n in ("reg_ip_1h", "reg_device_1d", "reg_block_1d")] \
        == [1.0, 1.0, 1.0]
    assert sig(w, "registered", "f0") == 1.0
    apply(w, msg(T0 + 500, "old", "f0"))
    # an account first seen without `register` existed before the stream: no cluster, and
    # its registration signals are unknown (NaN), not "alone on its IP"
    assert sig(w, "registered", "old") == 0.0 and math.isnan(sig(w, "reg_ip_1h", "old"))
    assert math.isnan(sig(w, "account_age_h", "old")) and math.isnan(sig(w, "early_msgs", "old"))
    assert math.isnan(sig(w, "cluster_size_1d", "old"))
    tick(w, T0 + 3 * HOUR)
    assert sig(w, "reg_ip_1h", "f4") == 0.0 and sig(w, "reg_ip_1d", "f4") > 4.0
    tick(w, T0 + 3 * DAY)
    assert sig(w, "reg_ip_1d", "f4") == 0.0 and sig(w, "reg_block_1d", "f4") == 0.0


def test_country_mismatch():
    w = World()
    apply(w, Register(ts=T0, account="de", phone="+4915112345678", country="DE"),
          Register(ts=T0, account="us", phone="+4915112345679", country="US"))
    assert sig(w, "country_mismatch", "de") == 0.0
    assert sig(w, "country_mismatch", "us") == 1.0


# -- content families ---------------------------------------------------------------------------

H = 0x9F3A5C7E11D0B2A4


def d(h: int) -> str:
    return f"{h:016x}"


def test_near_duplicates_join_one_family_and_distance_6_does_not():
    w = World()
    near = [H, H ^ 0b111, H ^ (1 << 63), H ^ 0b1011 << 40]   # distances 0, 3, 1, 3 from H
    apply(w, *[msg(T0 + i, "x", f"u{i}", digest=d(h)) for i, h in enumerate(near)])
    assert sig(w, "digest_repeat", "x") == 4.0
    assert sig(w, "digest_fanout", "x") == 4.0
    far = H ^ 0b111111                                          # distance 6
    apply(w, *[msg(T0 + 10 + i, "x", f"v{i}", digest=d(far)) for i in range(2)])
    assert sig(w, "digest_repeat", "x") == 4.0    # a second family of 2, not 6 in one
    assert len(w.accounts["x"].fams) == 2
    # not hex: ignored, not an error
    apply(w, msg(T0 + 20, "x", "z", digest="not-a-simhash"))
    assert sig(w, "digest_repeat", "x") == 4.0


def test_copies_spun_from_one_text_are_one_family_though_4_bits_apart():
    """Copies each 2 bits off one text are up to 4 bits apart from each other: one account
    sending them reaches one family, as the cross-account join (radius 5) already says."""
    w = World()
    spun = [H ^ 0b11, H ^ 0b1100, H ^ 0b110000, H ^ 0b11000000, H ^ 0b1100000000]
    apply(w, *[msg(T0 + i, "x", f"u{i}", digest=d(h)) for i, h in enumerate(spun)])
    assert sig(w, "digest_repeat", "x") == 5.0
    assert sig(w, "digest_fanout", "x") == 5.0
    assert len(w.accounts["x"].fams) == 1


def test_families_across_accounts():
    w = World()
    for k, acct in enumerate(["a", "b", "c"]):
        h = H ^ (1 << (10 * k))   # pairwise distance <= 2
        apply(w, *[msg(T0 + 10 * k + i, acct, f"{acct}{i}", digest=d(h)) for i in range(3)])
    assert sig(w, "digest_accounts", "c") == 3.0
    far = H ^ 0xF0F0                                  # distance 8: another family
    apply(w, *[msg(T0 + 100 + i, "e", f"e{i}", digest=d(far)) for i in range(3)])
    assert sig(w, "digest_accounts", "e") == 1.0
    assert sig(w, "digest_accounts", "a") == 3.0


# -- memory ------------------------------------------------------------------------------------

def test_sweep_forgets_dormant_accounts_only():
    w = World()
    apply(w, msg(T0, "dormant", "friend"), ContactAdd(ts=T0, account="dormant", contact="pal"),
          msg(T0, "stopped", "victim"))
    w.accounts["stopped"].level = 3
    apply(w, msg(T0 + 20 * DAY, "recent", "friend"))
    assert w.sweep() == 0 and "dormant" in w.accounts
    apply(w, msg(T0 + 31 * DAY, "recent", "friend"))
    forgotten = w.sweep()
    assert forgotten == 1 and "dormant" not in w.accounts
    assert {"stopped", "recent"} <= set(w.accounts)
    assert w.is_contact(w.ids["pal"], w.ids["dormant"])       # contacts outlive the sweep
    # a forgotten account coming back starts fresh and works
    apply(w, msg(T0 + 32 * DAY, "dormant", "someone"))
    assert sig(w, "msgs_total", "dormant") == 1.0


def test_an_account_that_only_reports_is_kept_from_when_it_was_first_seen():
    """No message, no registration (a cold start): a reporter is kept ``KEEP_DAYS`` after
    it was first seen, so a report brigade whose last member reports after a sweep is still
    one brigade (its members were forgotten at the next sweep)."""
    w = World()
    apply(w, *[Report(ts=T0 + i, reporter=f"b{i}", reported="victim") for i in range(4)])
    tick(w, T0 + 2 * HOUR)
    w.sweep()
    assert {f"b{i}" for i in range(4)} <= set(w.accounts)
    apply(w, Report(ts=T0 + 3 * HOUR, reporter="b4", reported="victim"))
    assert sig(w, "brigade_size", "b0") == 5.0
    tick(w, T0 + 31 * DAY)
    w.sweep()
    assert not {f"b{i}" for i in range(5)} & set(w.accounts)


def test_engine_sweeps_on_event_time():
    eng = Engine()
    eng.handle(msg(T0, "once", "x"), 1)
    for day in range(1, 40):
        eng.handle(msg(T0 + day * DAY, "daily", "y"), 1 + day)
    assert "once" not in eng.world.accounts and "x" not in eng.world.accounts
    assert "daily" in eng.world.accounts
    assert eng.world.now == T0 + 39 * DAY


def test_account_init_assigns_fields_in_layout_order():
    # compiled, the first-assignment order in __init__ is the record's memory layout, and
    # __slots__ follow _CORE (the record) and _SIDE (the side record): they must agree
    import re

    from bulkguard.state import account
    src = Path(account.__file__).with_name("account.py").read_text("utf-8")
    for cls, fields in (("Side", account._SIDE), ("Account", account._CORE)):
        start = src.index(f"class {cls}:")
        init = src[src.index("    def __init__", start):src.index("\n    def ", src.index("    def __init__", start) + 1)]
        order = list(dict.fromkeys(re.findall(r"self\.(\w+)", init)))
        assert tuple(order) == fields, cls
    # what signals and snapshots see: the record's fields but the storage of ``fams`` and
    # the side record, then the side record's fields
    assert account._FIELDS == tuple(
        "fams" if f == "f_hash" else f for f in account._CORE
        if f not in account._STORAGE[1:]) + account._SIDE
    assert set(account._FIELDS) == (set(account._CORE) - set(account._STORAGE)
                                    | {"fams"} | set(account._SIDE))


def test_records_by_id_follow_the_accounts_through_a_sweep():
    eng = Engine()
    for i in range(40):
        eng.handle(Message(ts=1_700_000_000.0 + i, sender=f"s{i % 7}", recipient=f"r{i}"), i + 1)
    eng.handle(Register(ts=1_700_000_100.0, account="late"), 41)
    w = eng.world
    w.now += 40 * 86_400.0
    w.sweep()
    eng.handle(Message(ts=w.now, sender="s1", recipient="r1"), 42)
    assert len(w.by_id) == len(w.names) == len(w.ids)
    for i, name in enumerate(w.names):
        assert w.by_id[i] is w.accounts.get(name)
    assert "s1" in w.accounts and "s2" not in w.accounts
