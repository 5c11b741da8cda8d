"""Coordination: accounts that share registration infrastructure act as one.

An account's *clusters* are the registrations sharing its IP, its device or its phone
number block. When a member is stopped, every sibling's ``cluster_flagged`` rises and
the engine re-scores them at once (SynchroTrap-style guilt by shared infrastructure,
made streaming); shared content families are in :mod:`bulkguard.signals.fanout`.

>>> from bulkguard.events import Register
>>> w = World(); w.now = 10.0
>>> for i in range(4):
...     _ = w.on_register(Register(ts=10.0, account=f"f{i}", ip="192.0.2.9"))
>>> a = w.accounts["f0"]
>>> cluster_size_1d(a, w), cluster_flagged(a, w)
(4.0, 0.0)
>>> w.by_ip["192.0.2.9"].flagged = 2
>>> cluster_flagged(a, w)
2.0
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.world import World


def cluster_size_1d(a: Account, w: World) -> float:
    """Largest of the account's clusters by registrations in the last day (0: no registration)."""
    best = 0.0
    for c in w.clusters_of(a):
        n = c.counter.day(w.now)
        if n > best:
            best = n
    return best


def cluster_flagged(a: Account, w: World) -> float:
    """Most stopped members in one of the account's clusters, not counting itself."""
    best = 0
    for c in w.clusters_of(a):
        n = c.flagged - (1 if a.counted else 0)
        if n > best:
            best = n
    return float(best)


SIGNALS = (cluster_size_1d, cluster_flagged)
