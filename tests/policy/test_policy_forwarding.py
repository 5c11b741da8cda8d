"""Forwarding limits."""

from __future__ import annotations

import pickle

from bulkguard.events import Message
from bulkguard.engine import Engine
from bulkguard.policy.business import BusinessLane
from bulkguard.policy.forwarding import FORWARD_LIMIT, ForwardConfig, ForwardLimiter

T0 = 1_699_920_000.0


def fwd(fl, now, to=None, group=None, n=1, digest="d", sender="a"):
    return fl.check(Message(ts=now, sender=sender, recipient=to, group=group,
                            forwarded=n, digest=digest), now)


def test_sixth_chat_refused_same_chat_fine():
    fl = ForwardLimiter()
    assert [fwd(fl, T0 + i, to=f"u{i}") for i in range(5)] == [None] * 5
    assert fwd(fl, T0 + 5, group="g1") == FORWARD_LIMIT
    assert fwd(fl, T0 + 6, to="u9") == FORWARD_LIMIT
    assert fwd(fl, T0 + 7, to="u3") is None  # a chat that already has it
    assert fwd(fl, T0 + 8, to="u9", digest="other") is None  # other content
    assert fwd(fl, T0 + 8, to="u9", sender="b") is None  # other account
    assert fl.violations("a") == 2 and fl.violations("b") == 0


def test_highly_forwarded_one_chat_at_a_time():
    fl = ForwardLimiter()
    assert fwd(fl, T0, to="u1", n=5) is None
    assert fwd(fl, T0 + 1, to="u1", n=7) is None
    assert fwd(fl, T0 + 2, group="g", n=5) == FORWARD_LIMIT
    assert fwd(fl, T0 + 3600, group="g", n=5) == FORWARD_LIMIT  # u1 had it at T0 + 1
    assert fwd(fl, T0 + 3601, group="g", n=5) is None  # window over
    assert fwd(fl, T0 + 3602, to="u1", n=5) == FORWARD_LIMIT


def test_window_expiry_and_group_chats():
    fl = ForwardLimiter(ForwardConfig(window=600))
    for i in range(5):
        assert fwd(fl, T0, group=f"g{i}") is None
    assert fwd(fl, T0 + 599, group="g5") == FORWARD_LIMIT
    assert fwd(fl, T0 + 600, group="g5") is None
    assert fwd(fl, T0 + 600, group="g0") is None
    assert fwd(fl, T0 + 600, group="x") is None
    # a group and an account of the same name are different chats
    assert fwd(fl, T0 + 601, to="g5") is None
    assert fwd(fl, T0 + 601, to="g6") is None
    assert fwd(fl, T0 + 601, to="g7") == FORWARD_LIMIT


def test_originals_and_undigested_pass_and_state_is_bounded():
    fl = ForwardLimiter()
    for i in range(20):
        assert fwd(fl, T0, to=f"u{i}", n=0) is None
        assert fwd(fl, T0, to=f"u{i}", digest=None) is None
        assert fwd(fl, T0, to="u0", digest=f"d{i}") is None
    assert len(fl) == 20
    fl = pickle.loads(pickle.dumps(fl))
    assert fwd(fl, T0 + 2 * 3600, to="u0", digest="new") is None
    assert len(fl) == 1


def test_engine_routes_lane_first_then_forwards():
    """The engine's routing (the one ``business status`` counts): lane, then forward limits."""
    lane, fl = BusinessLane(), ForwardLimiter()
    eng = Engine(lane=lane, forward=fl)

    def refusal(ev: Message, line: int) -> str | None:
        rejects = [d for d in eng.handle(ev, line) if d.action == "reject"]
        return rejects[0].reasons[0] if rejects else None

    ev = Message(ts=T0, sender="a", recipient="b", template="t", forwarded=1, digest="d")
    assert refusal(ev, 1) == "UNKNOWN_TEMPLATE"
    assert len(fl) == 0  # refused by the lane: not a forwarded chat
    for i in range(5):
        assert refusal(Message(ts=T0, sender="a", recipient=f"u{i}", forwarded=2,
                               digest="d"), 2 + i) is None
    assert refusal(Message(ts=T0, sender="a", recipient="z", forwarded=2, digest="d"),
                   7) == FORWARD_LIMIT
