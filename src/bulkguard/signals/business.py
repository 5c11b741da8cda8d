"""Business lane: refused messages feed the abuse score.

>>> a = Account(0); a.violations, a.business = 12, True
>>> violations(a, World()), is_business(a, World())
(12.0, 1.0)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.world import World


def violations(a: Account, w: World) -> float:
    """Messages of the account refused by policy (business rules, forwarding limits)."""
    return float(a.violations)


def is_business(a: Account, w: World) -> float:
    """1 for a registered business account."""
    return 1.0 if a.business else 0.0


SIGNALS = (violations, is_business)
