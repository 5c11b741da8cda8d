"""Content without content: forwarding counts and message kinds.

>>> a = Account(0); a.n_msgs, a.n_fwd, a.n_fwd_high, a.link_msgs = 10, 6, 5, 8
>>> forwarded_high(a, World()), link_share(a, World())
(5.0, 0.8)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.world import World


def forwarded(a: Account, w: World) -> float:
    """Messages the account forwarded (``forwarded`` > 0)."""
    return float(a.n_fwd)


def forwarded_high(a: Account, w: World) -> float:
    """Messages of highly forwarded content (``forwarded`` >= 5)."""
    return float(a.n_fwd_high)


def link_share(a: Account, w: World) -> float:
    """Share of the account's messages that are links."""
    return int(a.link_msgs) / int(a.n_msgs) if a.n_msgs else 0.0


def msgs_total(a: Account, w: World) -> float:
    """Messages sent since the account was first seen."""
    return float(a.n_msgs)


SIGNALS = (forwarded, forwarded_high, link_share, msgs_total)
