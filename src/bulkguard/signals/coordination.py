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
>>> for _ in range(2): w.by_ip["192.0.2.9"].stop(10.0)
>>> cluster_flagged(a, w)
2.0
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.windows import DAY
from bulkguard.state.world import World


def cluster_size_1d(a: Account, w: World) -> float:
    """Largest of the account's clusters by registrations in the last day that came within a
    day of the account's own (0: no registration)."""
    best = 0.0
    for c in w.clusters_of(a):
        n = w.reg_count(c, a, DAY, c.counter.day(w.now))
        if n > best:
            best = n
    return best


def cluster_flagged(a: Account, w: World) -> float:
    """Most stopped members in one of the account's clusters, registered within a day of it,
    not counting itself; 0 for an established account (two-way chats with 3+ people)."""
    best = 0
    for c in w.clusters_of(a):
        n = w.stopped_near(c, a)
        if n > best:
            best = n
    return float(best)


SIGNALS = (cluster_size_1d, cluster_flagged)
