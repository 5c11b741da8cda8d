"""Coordination: accounts that act as one.

Two kinds of group, and a stop of one member raises the others at once (the engine
re-scores them; SynchroTrap-style guilt by association, made streaming and bounded):

* *registration clusters* (optional family ``register``): the registrations sharing an IP,
  a device or a phone number block. Without a ``register`` event (or its fields) an account
  is in no cluster and its cluster signals are missing (NaN), never 0 as evidence;
* *content families* (behaviour, every platform): accounts that each send one near-duplicate
  content family to 3+ new recipients. ``family_flagged`` counts stopped members of such a
  family; it needs no registration, IP or device, so farms that register days apart from
  their own phones are still linked by what they send.
* *report brigades* (optional family ``reports``): accounts that do nothing but report an
  account that never wrote to them, together with many others.

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

from collections.abc import Callable

from bulkguard.state.account import CHALLENGE, MISSING, Account
from bulkguard.state.windows import DAY
from bulkguard.state.world import World


def cluster_size_1d(a: Account, w: World) -> float:
    """Largest of the account's clusters by registrations in the last day that came within a
    day of the account's own (NaN: no registration metadata, so no cluster: unknown, not
    "alone")."""
    cs = w.clusters_of(a)
    if not cs:
        return MISSING
    best = 0.0
    for c in cs:
        n = w.reg_count(c, a, DAY, c.counter.day(w.now))
        if n > best:
            best = n
    return best


def cluster_flagged(a: Account, w: World) -> float:
    """Most stopped members in one of the account's clusters, registered within a day of it,
    not counting itself; 0 for an established account (two-way chats with 3+ people); NaN in
    no cluster."""
    cs = w.clusters_of(a)
    if not cs:
        return MISSING
    best = 0
    for c in cs:
        if c.stopped:   # none stopped: none near (and two bisections saved)
            n = w.stopped_near(c, a)
            if n > best:
                best = n
    return float(best)


def family_flagged(a: Account, w: World) -> float:
    """Most stopped accounts in one content family that this account sent to 3+ new
    recipients, not counting itself; 0 for an established account (two-way chats with 3+
    people), as for registration clusters.

    >>> from bulkguard.events import Message
    >>> w = World()
    >>> for i in range(6):
    ...     _ = w.on_message(Message(ts=float(i), sender="f1", recipient=f"r{i}", digest="9f3a5c7e11d0b2a4"))
    >>> a = w.accounts["f1"]
    >>> family_flagged(a, w)
    0.0
    >>> w.families_of(a)[0].flagged = 2
    >>> family_flagged(a, w)
    2.0
    """
    if w.established(a):
        return 0.0   # two-way chats with 3+ people: copying its text cannot frame it
    best = 0
    for fam in w.families_of(a):
        n = fam.flagged - (1 if a.counted else 0)
        if n > best:
            best = n
    return float(best)


def content_flagged(a: Account, w: World) -> float:
    """Most stopped accounts in one content family this account sent, even once, not
    counting itself; 0 for an established account. Unlike ``family_flagged`` it sees a
    first message: content that got accounts stopped for sending it to strangers, sent by an
    account nobody talks with (World.content_flagged).

    >>> from bulkguard.events import Message
    >>> w = World()
    >>> for i in range(3):
    ...     _ = w.on_message(Message(ts=float(i), sender=f"f{i}", recipient=f"r{i}", digest="9f3a5c7e11d0b2a4"))
    ...     _ = w.on_message(Message(ts=float(i), sender=f"f{i}", recipient=f"q{i}", digest="9f3a5c7e11d0b2a4"))
    >>> _ = w.on_message(Message(ts=5.0, sender="new", recipient="x", digest="9f3a5c7e11d0b2a5"))
    >>> content_flagged(w.accounts["new"], w)
    0.0
    >>> w.families[0].flagged = 2
    >>> content_flagged(w.accounts["new"], w), family_flagged(w.accounts["new"], w)
    (2.0, 0.0)
    """
    return float(w.content_flagged(a))


def brigade_size(a: Account, w: World) -> float:
    """Reports from strangers (accounts it never wrote to) against the last account that
    this one reported without ever getting a message from it; 0 if it reported none.

    >>> from bulkguard.events import Report
    >>> w = World()
    >>> for i in range(4):
    ...     _ = w.on_report(Report(ts=1.0, reporter=f"b{i}", reported="victim"))
    >>> brigade_size(w.accounts["b0"], w)
    4.0
    """
    if a.filed_target < 0:
        return 0.0
    t = w.by_id[a.filed_target]
    if t is None or t.level >= CHALLENGE:
        # reporting an account stopped on its own evidence (a group spammer that added you,
        # spam seen in a group) is agreeing with it, not piling on: a brigade's target is
        # someone nothing else says is abusive
        return 0.0
    return float(t.reports - t.reports_partner)


SIGNALS = (cluster_size_1d, cluster_flagged, family_flagged, brigade_size)
# added after the shipped model was trained: placed after every other signal in ``NAMES``
LATE_SIGNALS: tuple[Callable[[Account, World], float], ...] = (content_flagged,)
