"""Business lane rules on hand-made event streams."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkguard.events import Block, Message, OptIn, OptOut, Register, Report, TemplateRegister
from bulkguard.policy.business import (GREEN, NO_OPTIN, OPTED_OUT, OUTSIDE_WINDOW_NO_TEMPLATE,
                                       RED, TEMPLATE_DISABLED, TEMPLATE_PAUSED, TIER_LIMIT,
                                       UNKNOWN_TEMPLATE, YELLOW, BusinessConfig, BusinessLane)
from bulkguard.policy.cli import replay

H, D = 3600.0, 86400.0
T0 = 1_699_920_000.0  # a UTC midnight: quality days are UTC days
SAMPLE = Path("/work/shared/spec/sample/events.jsonl")


def make_lane(config: BusinessConfig | None = None, templates=("promo",)) -> BusinessLane:
    lane = BusinessLane(config)
    lane.observe(Register(ts=T0, account="shop", kind="business"), T0)
    for t in templates:
        lane.observe(TemplateRegister(ts=T0, business="shop", template=t, category="marketing"), T0)
    return lane


def send(lane, now, to, template=None, sender="shop"):
    return lane.check_message(Message(ts=now, sender=sender, recipient=to, template=template), now)


def cust(lane, now, who, business="shop"):
    return lane.check_message(Message(ts=now, sender=who, recipient=business), now)


def optin(lane, now, who, business="shop"):
    lane.observe(OptIn(ts=now, business=business, customer=who), now)


def optout(lane, now, who, business="shop"):
    lane.observe(OptOut(ts=now, business=business, customer=who), now)


def block(lane, now, who, business="shop"):
    lane.observe(Block(ts=now, blocker=who, blocked=business), now)


# ---------------------------------------------------------------- sample and basics
@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
def test_sample_only_winter_sale_to_alice_is_refused():
    lane, _, _, refusals = replay(SAMPLE)
    assert {k: v for k, v in refusals.items() if k[0] == "shop"} == {("shop", NO_OPTIN): 1}
    assert lane.violations("shop") == 1
    assert lane.is_business("shop") and not lane.is_business("blaster")


def test_business_detection():
    lane = BusinessLane()
    lane.observe(Register(ts=0, account="p"), 0)
    assert not lane.is_business("p")
    lane.observe(TemplateRegister(ts=1, business="legacy", template="t"), 1)
    assert lane.is_business("legacy")  # existed before the stream; only businesses have templates
    lane.observe(Register(ts=2, account="legacy", kind="personal"), 2)
    assert not lane.is_business("legacy")


def test_customer_to_business_never_refused():
    lane = make_lane()
    assert cust(lane, T0 + 1, "ann") is None
    # even naming a template, and even from another business
    assert lane.check_message(Message(ts=T0, sender="ann", recipient="shop", template="x"), T0) is None
    lane.observe(Register(ts=T0, account="shop2", kind="business"), T0)
    assert lane.check_message(Message(ts=T0, sender="shop2", recipient="shop"), T0) is None
    assert lane.violations("ann") == 0


def test_template_from_non_business_is_unknown():
    lane = make_lane()
    assert send(lane, T0, "bob", template="promo", sender="mallory") == UNKNOWN_TEMPLATE
    assert lane.violations("mallory") == 1
    # plain person-to-person messages are none of the lane's business
    assert send(lane, T0, "bob", sender="mallory") is None


# ---------------------------------------------------------------- customer-service window
def test_window_opens_resets_and_expires():
    lane = make_lane()
    assert send(lane, T0, "ann") == NO_OPTIN
    optin(lane, T0, "ann")
    assert send(lane, T0 + 1, "ann") == OUTSIDE_WINDOW_NO_TEMPLATE
    cust(lane, T0 + 10, "ann")
    assert lane.window_open("shop", "ann", T0 + 10)
    assert send(lane, T0 + 11, "ann") is None
    cust(lane, T0 + 10 + 20 * H, "ann")  # resets the window
    assert send(lane, T0 + 10 + 23 * H, "ann") is None
    assert send(lane, T0 + 10 + 30 * H, "ann") is None
    assert send(lane, T0 + 10 + 44 * H - 1, "ann") is None
    assert send(lane, T0 + 10 + 44 * H, "ann") == OUTSIDE_WINDOW_NO_TEMPLATE  # exactly 24h: closed
    assert send(lane, T0 + 10 + 44 * H, "ann", "promo") is None  # templates still fine
    assert lane.open_windows("shop", T0 + 10 + 44 * H) == 0


def test_window_is_per_customer_and_per_business():
    lane = make_lane()
    lane.observe(Register(ts=T0, account="other", kind="business"), T0)
    cust(lane, T0, "ann", business="other")
    assert send(lane, T0 + 1, "ann") == NO_OPTIN
    assert send(lane, T0 + 1, "ann", sender="other") is None
    cust(lane, T0, "bob")
    assert send(lane, T0 + 1, "ann") == NO_OPTIN
    assert lane.open_windows("shop", T0 + 1) == 1


def test_inside_window_never_refused_for_consent_or_tier():
    lane = make_lane(BusinessConfig(tiers=(1, None)))
    optin(lane, T0, "x")
    assert send(lane, T0, "x", "promo") is None  # uses the whole tier of 1
    optout(lane, T0, "ann")
    cust(lane, T0 + 1, "ann")
    cust(lane, T0 + 1, "bob")
    assert send(lane, T0 + 2, "ann") is None
    assert send(lane, T0 + 2, "bob", "promo") is None
    assert lane.customers_outside_window("shop", T0 + 2) == 1
    # template validity still applies inside a window
    assert send(lane, T0 + 3, "bob", "nope") == UNKNOWN_TEMPLATE


# ---------------------------------------------------------------- consent and precedence
def test_optout_then_optin():
    lane = make_lane()
    optin(lane, T0, "ann")
    assert send(lane, T0 + 1, "ann", "promo") is None
    optout(lane, T0 + 2, "ann")
    assert send(lane, T0 + 3, "ann", "promo") == OPTED_OUT
    optin(lane, T0 + 4, "ann")
    assert send(lane, T0 + 5, "ann", "promo") is None
    assert lane.opted_in("shop") == 1


def test_consent_before_business_is_known():
    lane = BusinessLane()
    optin(lane, T0, "ann", business="late")
    lane.observe(Register(ts=T0 + 1, account="late", kind="business"), T0 + 1)
    lane.observe(TemplateRegister(ts=T0 + 1, business="late", template="t"), T0 + 1)
    assert send(lane, T0 + 2, "ann", "t", sender="late") is None


def test_precedence():
    lane = make_lane()
    optout(lane, T0, "out")
    optin(lane, T0, "in")
    assert send(lane, T0, "out") == OPTED_OUT                 # before no-template
    assert send(lane, T0, "out", "nope") == OPTED_OUT         # before unknown template
    assert send(lane, T0, "stranger") == NO_OPTIN
    assert send(lane, T0, "stranger", "nope") == NO_OPTIN
    assert send(lane, T0, "in") == OUTSIDE_WINDOW_NO_TEMPLATE
    assert send(lane, T0, "in", "nope") == UNKNOWN_TEMPLATE
    assert lane.refusals("shop") == {OPTED_OUT: 2, NO_OPTIN: 2,
                                     OUTSIDE_WINDOW_NO_TEMPLATE: 1, UNKNOWN_TEMPLATE: 1}
    assert lane.violations("shop") == 6


def test_group_messages_from_a_business_check_only_the_template():
    lane = make_lane()
    assert lane.check_message(Message(ts=T0, sender="shop", group="g"), T0) is None
    assert lane.check_message(Message(ts=T0, sender="shop", group="g", template="x"), T0) \
        == UNKNOWN_TEMPLATE


# ---------------------------------------------------------------- quality and template ladder
def deliver(lane, now, n, template="promo", prefix="c"):
    for i in range(n):
        optin(lane, now, f"{prefix}{i}")
        assert send(lane, now, f"{prefix}{i}", template) is None


def test_quality_green_yellow_red_from_blocks_and_decay():
    lane = make_lane(templates=())
    for i in range(100):
        cust(lane, T0, f"c{i}")
        assert send(lane, T0, f"c{i}") is None
    assert lane.quality("shop", T0) == GREEN
    block(lane, T0 + 1, "c0")
    block(lane, T0 + 1, "c0")  # the same message counts once
    block(lane, T0 + 1, "stranger")  # not a recipient: ignored
    assert lane.quality("shop", T0 + 1) == GREEN
    block(lane, T0 + 1, "c1")
    assert lane.quality("shop", T0 + 1) == YELLOW  # 2 / 100
    lane.observe(Report(ts=T0 + 1, reporter="c2", reported="shop", reason="spam"), T0 + 1)
    assert lane.quality("shop", T0 + 1) == YELLOW  # (2 + 2) / 100: a report weighs 2
    block(lane, T0 + 1, "c3")
    assert lane.quality("shop", T0 + 1) == RED
    assert lane.feedback_rate("shop", T0 + 1) == pytest.approx(0.05)
    # weighted towards recent days: three days later the same feedback weighs 4/7 ...
    # ... and so does the volume, but the volume floor (100) keeps the rate down
    assert lane.quality("shop", T0 + 3 * D) == YELLOW
    assert lane.quality("shop", T0 + 8 * D) == GREEN


def test_feedback_after_lookback_is_ignored():
    lane = make_lane(templates=())
    cust(lane, T0, "c")
    send(lane, T0, "c")
    for i in range(10):
        lane.observe(Block(ts=T0 + 7 * D, blocker="c", blocked="shop"), T0 + 7 * D)
    assert lane.quality("shop", T0 + 7 * D) == GREEN


def test_template_pause_ladder_3h_6h_disabled():
    lane = make_lane()
    deliver(lane, T0, 20)
    for i in range(4):
        block(lane, T0 + H, f"c{i}")
    assert lane.quality("shop", T0 + H, "promo") == YELLOW
    assert send(lane, T0 + H, "c19", "promo") is None
    block(lane, T0 + H, "c4")  # 5/100 -> RED -> paused 3h
    t1 = T0 + H
    assert lane.template_status("shop", "promo", t1) == "paused"
    assert send(lane, t1 + 3 * H - 1, "c19", "promo") == TEMPLATE_PAUSED
    block(lane, t1 + 1, "c5")  # feedback during a pause is no new strike
    assert lane.templates("shop")["promo"].strikes == 1
    assert send(lane, t1 + 3 * H, "c19", "promo") is None
    t2 = t1 + 3 * H + 10
    block(lane, t2, "c6")  # still RED -> second strike: paused 6h
    assert send(lane, t2 + 6 * H - 1, "c19", "promo") == TEMPLATE_PAUSED
    assert send(lane, t2 + 6 * H, "c18", "promo") is None
    t3 = t2 + 6 * H + 10
    block(lane, t3, "c7")  # third strike: disabled for good
    assert lane.template_status("shop", "promo", t3) == "disabled"
    assert send(lane, t3 + 30 * D, "c19", "promo") == TEMPLATE_DISABLED
    lane.observe(TemplateRegister(ts=t3, business="shop", template="promo"), t3)
    assert send(lane, t3 + 30 * D, "c19", "promo") == TEMPLATE_DISABLED  # no reset by re-register
    assert lane.refusals("shop") == {TEMPLATE_PAUSED: 2, TEMPLATE_DISABLED: 2}


def test_disabled_and_paused_precedence():
    lane = make_lane()
    deliver(lane, T0, 10)
    for i in range(5):
        block(lane, T0, f"c{i}")
    assert send(lane, T0 + 1, "c9", "nope") == UNKNOWN_TEMPLATE
    assert send(lane, T0 + 1, "c9", "promo") == TEMPLATE_PAUSED
    assert send(lane, T0 + 1, "zz", "promo") == NO_OPTIN  # consent first


# ---------------------------------------------------------------- tiers
NO_GROWTH = BusinessConfig(upgrade_check_every=float("inf"))


def test_tier_limit_at_251st_and_moving_window_release():
    lane = make_lane(NO_GROWTH)
    for i in range(251):
        optin(lane, T0, f"c{i}")
    for i in range(250):
        assert send(lane, T0 + i, f"c{i}", "promo") is None
    assert send(lane, T0 + 300, "c250", "promo") == TIER_LIMIT
    assert send(lane, T0 + 300, "c7", "promo") is None  # already counted: fine
    cust(lane, T0 + 300, "c250")
    assert send(lane, T0 + 301, "c250") is None  # inside a window: no tier
    optin(lane, T0, "c251")
    assert lane.customers_outside_window("shop", T0 + D - 1) == 250
    # c0 was messaged at T0, so at T0 + 24h one slot is free again (c7 was renewed at T0+300)
    assert send(lane, T0 + D, "c251", "promo") is None
    assert send(lane, T0 + D, "c252x", "promo") == NO_OPTIN
    optin(lane, T0 + D, "c252")
    assert send(lane, T0 + D, "c252", "promo") == TIER_LIMIT
    assert send(lane, T0 + D + 1, "c252", "promo") is None  # c1 left the window
    assert lane.refusals("shop")[TIER_LIMIT] == 2


def test_tier_growth_every_6h_and_cap():
    lane = make_lane()  # registered at T0: first growth check at T0 + 6h
    for i in range(2000):
        optin(lane, T0, f"c{i}")
    for i in range(124):
        assert send(lane, T0 + H, f"c{i}", "promo") is None
    assert send(lane, T0 + 6 * H, "c124", "promo") is None  # check: 124 < 125, no growth
    assert lane.tier_limit("shop") == 250
    for i in range(125, 250):
        assert send(lane, T0 + 7 * H, f"c{i}", "promo") is None
    assert send(lane, T0 + 12 * H - 1, "c250", "promo") == TIER_LIMIT  # next check not due yet
    assert send(lane, T0 + 12 * H, "c250", "promo") is None  # check: 250 >= 125 and GREEN
    assert lane.tier_limit("shop") == 2000
    assert lane.tier("shop") == 1


def test_tier_growth_to_unlimited_and_needs_green():
    cfg = BusinessConfig(tiers=(2, 4, None), min_volume=1)
    lane = make_lane(cfg)
    for i in range(50):
        optin(lane, T0, f"c{i}")
    now = T0
    for step in range(2):
        now += 6 * H
        send(lane, now, f"c{2 * step}", "promo")  # the check runs first, then the send counts
        send(lane, now, f"c{2 * step + 1}", "promo")
    now += 6 * H
    assert send(lane, now, "c10", "promo") is None
    assert lane.tier_limit("shop") is None
    for i in range(11, 50):
        assert send(lane, now, f"c{i}", "promo") is None
    now += 6 * H
    send(lane, now, "c0", "promo")
    assert lane.tier_limit("shop") is None  # capped at the last tier

    bad = make_lane(BusinessConfig(tiers=(2, 4, None), min_volume=1))
    for i in range(3):
        optin(bad, T0, f"c{i}")
    send(bad, T0, "c0", "promo")
    send(bad, T0, "c1", "promo")
    block(bad, T0 + 1, "c0")
    assert bad.quality("shop", T0 + 1) == RED
    assert send(bad, T0 + 2 * H, "c2", "promo") == TEMPLATE_PAUSED  # RED template: paused 3h
    assert send(bad, T0 + 6 * H, "c2", "promo") == TIER_LIMIT  # RED business: no growth
    assert bad.tier_limit("shop") == 2


# ---------------------------------------------------------------- state
def test_state_pickles_and_is_swept():
    lane = make_lane()
    deliver(lane, T0, 30)
    cust(lane, T0, "w")
    block(lane, T0, "c1")
    clone = pickle.loads(pickle.dumps(lane))
    assert send(clone, T0 + 1, "c1", "promo") is None
    assert clone.quality("shop", T0 + 1) == lane.quality("shop", T0 + 1)
    st_ = clone.biz["shop"]
    clone.check_message(Message(ts=T0 + 8 * D, sender="shop", group="g"), T0 + 8 * D)
    assert not st_.windows and not st_.last_sent and not st_.recent and not st_.week
    assert not st_.days and not st_.templates["promo"].days
    assert clone.opted_in("shop") == 30  # consent is kept


# ---------------------------------------------------------------- property
steps = st.lists(st.tuples(st.integers(0, 600) | st.integers(0, 30 * 3600), st.integers(0, 5),
                           st.integers(0, 5), st.integers(0, 2)), min_size=20, max_size=150)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_compliant_business_is_never_refused(plan):
    """Only opted-in customers, registered templates, within the tier, or inside a window."""
    cfg = BusinessConfig(tiers=(3, None))
    lane = BusinessLane(cfg)
    lane.observe(Register(ts=T0, account="b", kind="business"), T0)
    now = T0
    consent: dict[str, bool] = {}
    window: dict[str, float] = {}
    recent: dict[str, float] = {}
    registered = {"t0", "t1"}
    for t in registered:
        lane.observe(TemplateRegister(ts=T0, business="b", template=t), T0)
    for dt, op, c, t in plan:
        now += dt
        cust_id, tmpl = f"c{c}", f"t{t}"
        open_ = cust_id in window and now < window[cust_id] + cfg.window
        if op == 0:
            lane.observe(OptIn(ts=now, business="b", customer=cust_id), now)
            consent[cust_id] = True
        elif op == 1:
            lane.observe(OptOut(ts=now, business="b", customer=cust_id), now)
            consent[cust_id] = False
        elif op == 2:
            assert lane.check_message(Message(ts=now, sender=cust_id, recipient="b"), now) is None
            window[cust_id] = now
        elif op == 5:
            lane.observe(TemplateRegister(ts=now, business="b", template=tmpl), now)
            registered.add(tmpl)
        elif op == 4 and open_:
            assert lane.check_message(Message(ts=now, sender="b", recipient=cust_id), now) is None
        elif op == 3 and tmpl in registered:
            if not open_:
                live = {k for k, v in recent.items() if v > now - cfg.tier_period}
                if not consent.get(cust_id) or (cust_id not in live and len(live) >= 3):
                    continue
                recent[cust_id] = now
            ev = Message(ts=now, sender="b", recipient=cust_id, template=tmpl)
            assert lane.check_message(ev, now) is None
    assert lane.violations("b") == 0


# -- late messages (beyond the reorder window) are judged at their own time --------------------

def test_a_late_reply_is_judged_at_its_own_time():
    """A reply written inside the customer-service window but delivered after the clock
    passed its end is not refused for its lateness; one written after the end is."""
    lane = make_lane()
    lane.check_message(Message(ts=T0 + 10, sender="ann", recipient="shop"), T0 + 10)
    now = T0 + 10 + D + 500          # the stream moved on; the replies below come late
    assert lane.check_message(Message(ts=T0 + 10 + D - 5, sender="shop", recipient="ann"),
                              now) is None
    assert lane.check_message(Message(ts=T0 + 10 + D + 1, sender="shop", recipient="ann"),
                              now) == NO_OPTIN
    assert lane.violations("shop") == 1


def test_a_late_customer_message_opens_the_window_from_its_own_time():
    lane = make_lane()
    lane.check_message(Message(ts=T0 + 100, sender="ann", recipient="shop"), T0 + 700)
    assert lane.window_open("shop", "ann", T0 + 100 + D - 1)
    assert not lane.window_open("shop", "ann", T0 + 100 + D + 1)
    # a later message reset it; an older one delivered after it does not shorten it
    lane.check_message(Message(ts=T0 + 5000, sender="ann", recipient="shop"), T0 + 5000)
    lane.check_message(Message(ts=T0 + 4000, sender="ann", recipient="shop"), T0 + 5100)
    assert lane.window_open("shop", "ann", T0 + 5000 + D - 1)
    # in order, nothing changes: the window opens at the clock, which is the message's ts
    lane.check_message(Message(ts=T0 + 9000, sender="bob", recipient="shop"), T0 + 9000)
    assert lane.biz["shop"].windows["bob"] == T0 + 9000
