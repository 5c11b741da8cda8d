"""``POST /v1/check`` previews the business lane and the forwarding limits without changing
them: for any history, its answer is what the real check would answer, and the state after
it is unchanged (hypothesis)."""

from __future__ import annotations

import copy
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.events import Block, Message, OptIn, OptOut, Register, Report, TemplateRegister
from bulkguard.policy.business import BusinessConfig, BusinessLane
from bulkguard.policy.forwarding import ForwardConfig, ForwardLimiter
from bulkguard.service.adapter import preview_forward, preview_lane

PEOPLE = ["ann", "bob", "cy", "dee"]
BIZ = ["shop", "bank"]
TEMPLATES = ["promo", "promo", "otp", None]

# small limits, so that tiers, pauses and windows are reached within a few dozen events
CFG = BusinessConfig(window=50.0, tiers=(2, 3, 4, None), tier_period=100.0,
                     upgrade_lookback=300.0, upgrade_fraction=1.0, upgrade_check_every=60.0, min_volume=1.0, pause_ladder=(30.0, 60.0),
                     sweep_every=40.0, day_weights=(1.0, 0.5))

step = st.one_of(
    st.builds(lambda b: ("reg", b), st.sampled_from(BIZ)),
    # weighted towards what reaches tiers, pauses and windows: opt-ins and template sends
    st.builds(lambda c: ("in", "shop", c), st.sampled_from(PEOPLE)),
    st.builds(lambda c, t: ("msg", "shop", c, t), st.sampled_from(PEOPLE),
              st.sampled_from(["promo", "promo", None])),
    st.builds(lambda c, t: ("msg", "shop", c, t), st.sampled_from(PEOPLE),
              st.sampled_from(["promo", "promo", None])),
    st.builds(lambda b, t: ("tpl", b, t), st.sampled_from(BIZ), st.sampled_from(["promo", "otp"])),
    st.builds(lambda b, c: ("in", b, c), st.sampled_from(BIZ), st.sampled_from(PEOPLE)),
    st.builds(lambda b, c: ("out", b, c), st.sampled_from(BIZ), st.sampled_from(PEOPLE)),
    st.builds(lambda s, r, t: ("msg", s, r, t), st.sampled_from(BIZ + PEOPLE),
              st.sampled_from(BIZ + PEOPLE + ["#g"]), st.sampled_from(TEMPLATES)),
    st.builds(lambda c, b: ("neg", c, b), st.sampled_from(PEOPLE), st.sampled_from(BIZ)),
)


def _msg(ts: float, s: str, r: str, t: str | None, fwd: int = 0, digest: str | None = None
         ) -> Message:
    if r == "#g":
        return Message(ts=ts, sender=s, group="g", template=t, forwarded=fwd, digest=digest)
    return Message(ts=ts, sender=s, recipient=r, template=t, forwarded=fwd, digest=digest)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(step, st.integers(0, 15)), max_size=80),
       st.tuples(st.sampled_from(["shop", "shop", *BIZ, *PEOPLE]),
                 st.sampled_from(BIZ + PEOPLE + ["#g"]), st.sampled_from(TEMPLATES),
                 st.integers(0, 60)))
def test_lane_preview_is_the_check_without_its_effects(history, probe) -> None:  # type: ignore[no-untyped-def]
    lane = BusinessLane(CFG)
    lane.observe(Register(ts=0, account="shop", kind="business"), 0.0)
    lane.observe(TemplateRegister(ts=0, business="shop", template="promo"), 0.0)
    now = 0.0
    for s, dt in history:
        now += dt
        kind = s[0]
        if kind == "reg":
            lane.observe(Register(ts=now, account=s[1], kind="business"), now)
        elif kind == "tpl":
            lane.observe(TemplateRegister(ts=now, business=s[1], template=s[2]), now)
        elif kind == "in":
            lane.observe(OptIn(ts=now, business=s[1], customer=s[2]), now)
        elif kind == "out":
            lane.observe(OptOut(ts=now, business=s[1], customer=s[2]), now)
        elif kind == "msg":
            lane.check_message(_msg(now, s[1], s[2], s[3]), now)
        else:
            lane.observe((Block if now % 2 < 1 else Report)(now, s[1], s[2]), now)
    sender, target, template, dt = probe
    when = now + dt
    ev = _msg(when, sender, target, template)
    before = pickle.dumps(lane)
    seen = preview_lane(lane, ev, when)
    assert pickle.dumps(lane) == before                      # nothing recorded
    concerned = ev.template is not None or lane.is_business(sender) or lane.is_business(
        ev.recipient)
    real = copy.deepcopy(lane).check_message(ev, when) if concerned else None
    assert (seen if concerned else None) == real


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PEOPLE + ["#g"]), st.integers(0, 7),
                          st.sampled_from(["d1", "d2"]), st.integers(0, 50)), max_size=40),
       st.tuples(st.sampled_from(PEOPLE + ["#g"]), st.integers(0, 7),
                 st.sampled_from(["d1", "d2", None]), st.integers(0, 120)))
def test_forward_preview_is_the_check_without_its_effects(history, probe) -> None:  # type: ignore[no-untyped-def]
    fl = ForwardLimiter(ForwardConfig(max_chats=3, highly_forwarded=4, max_chats_highly=1, window=100.0,
                                     sweep_every=150.0))
    now = 0.0
    for r, fwd, d, dt in history:
        now += dt
        fl.check(_msg(now, "me", r, None, fwd, d), now)
    r, fwd, d, dt = probe
    ev = _msg(now + dt, "me", r, None, fwd, d)
    before = pickle.dumps(fl)
    seen = preview_forward(fl, ev, now + dt)
    assert pickle.dumps(fl) == before
    assert seen == copy.deepcopy(fl).check(ev, now + dt)


def test_preview_follows_a_business_through_its_tiers() -> None:
    """Scripted: opt-ins, template sends past the tier limit, upgrades, a customer's window."""
    lane = BusinessLane(CFG)
    lane.observe(Register(ts=0, account="shop", kind="business"), 0.0)
    lane.observe(TemplateRegister(ts=0, business="shop", template="promo"), 0.0)
    people = [f"p{i}" for i in range(6)]
    for p in people[:5]:
        lane.observe(OptIn(ts=0, business="shop", customer=p), 0.0)
    seen = []
    now = 0.0
    for i in range(80):
        now += 5
        to = people[i % 6]
        ev = _msg(now, "shop", to, "promo" if i % 7 else None)
        if i % 11 == 0:
            lane.check_message(_msg(now, to, "shop", None), now)   # the customer writes first
        before = pickle.dumps(lane)
        preview = preview_lane(lane, ev, now)
        assert pickle.dumps(lane) == before
        real = lane.check_message(ev, now)
        assert preview == real, (i, preview, real)
        seen.append(real)
    assert {"TIER_LIMIT", "NO_OPTIN", "OUTSIDE_WINDOW_NO_TEMPLATE", None} <= set(seen)
    assert lane.tier("shop") >= 1
