"""Groups: creating groups and filling them with strangers.

Optional family ``groups``. A member added is a *non-contact* when they never wrote to the
adder (behaviour, not address books: see :mod:`bulkguard.signals.velocity`), a *stranger*
when neither ever wrote to the other.

>>> a = Account(0); a.groups_created, a.group_adds, a.group_adds_nc = 2, 40, 38
>>> group_adds_noncontact(a, World()), group_noncontact_share(a, World())
(38.0, 0.95)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.windows import HOUR, est
from bulkguard.state.world import World


def groups_created(a: Account, w: World) -> float:
    """Groups the account created."""
    return float(a.groups_created)


def group_adds(a: Account, w: World) -> float:
    """Members the account added to groups."""
    return float(a.group_adds)


def group_adds_noncontact(a: Account, w: World) -> float:
    """Members added who are not the account's contacts."""
    return float(a.group_adds_nc)


def group_adds_stranger(a: Account, w: World) -> float:
    """Members added who are not contacts and never got a message from the account."""
    return float(a.group_adds_new)


def group_noncontact_share(a: Account, w: World) -> float:
    """Share of added members who are not contacts."""
    return a.group_adds_nc / a.group_adds if a.group_adds else 0.0


def group_adds_noncontact_1h(a: Account, w: World) -> float:
    """Non-contacts added to groups in the last hour.

    >>> a, w = Account(0), World()
    >>> a.ga_b, a.ga_h, w.now = 0, 40, 1800.0
    >>> group_adds_noncontact_1h(a, w)
    40.0
    """
    return est(a.ga_h, a.ga_hp, a.ga_b, w.now, HOUR)


SIGNALS = (group_adds_noncontact_1h, groups_created, group_adds, group_adds_noncontact, group_adds_stranger,
           group_noncontact_share)
