"""Velocity: how much an account sends, to non-contacts, and how many chats it opens.

A *non-contact* (a stranger) is a recipient who never wrote to the sender, judged by
behaviour only: ``contact_add`` and contact syncs do not count, because address books are
an optional family (a platform without them, or a user who denies the permission, must
not look any more a stranger-writer). Windows are the last minute, hour and day on event
time.

>>> a, w = Account(0), World()
>>> w.now = 120.0
>>> a.bm, a.m_msg, a.m_nc, a.m_new = 2, 12, 12, 9
>>> msgs_1m(a, w), noncontact_1m(a, w), newchats_1m(a, w)
(12.0, 12.0, 9.0)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.windows import DAY, HOUR, MINUTE, est
from bulkguard.state.world import World


def msgs_1m(a: Account, w: World) -> float:
    """Messages sent in the last minute."""
    return est(a.m_msg, a.m_msg_p, a.bm, w.now, MINUTE)


def msgs_1h(a: Account, w: World) -> float:
    """Messages sent in the last hour."""
    return est(a.h_msg, a.h_msg_p, a.bh, w.now, HOUR)


def msgs_1d(a: Account, w: World) -> float:
    """Messages sent in the last day."""
    return est(a.d_msg, a.d_msg_p, a.bd, w.now, DAY)


def noncontact_1m(a: Account, w: World) -> float:
    """Messages to non-contacts in the last minute."""
    return est(a.m_nc, a.m_nc_p, a.bm, w.now, MINUTE)


def noncontact_1h(a: Account, w: World) -> float:
    """Messages to non-contacts in the last hour."""
    return est(a.h_nc, a.h_nc_p, a.bh, w.now, HOUR)


def noncontact_1d(a: Account, w: World) -> float:
    """Messages to non-contacts in the last day."""
    return est(a.d_nc, a.d_nc_p, a.bd, w.now, DAY)


def newchats_1m(a: Account, w: World) -> float:
    """Chats opened (first message between the two, either way) in the last minute."""
    return est(a.m_new, a.m_new_p, a.bm, w.now, MINUTE)


def newchats_1h(a: Account, w: World) -> float:
    """Chats opened in the last hour."""
    return est(a.h_new, a.h_new_p, a.bh, w.now, HOUR)


def newchats_1d(a: Account, w: World) -> float:
    """Chats opened in the last day."""
    return est(a.d_new, a.d_new_p, a.bd, w.now, DAY)


def noncontact_share(a: Account, w: World) -> float:
    """Share of the account's one-to-one messages that went to non-contacts.

    >>> a = Account(0); a.n_msgs, a.n_nc = 10, 4
    >>> noncontact_share(a, World())
    0.4
    """
    direct = a.n_msgs - a.n_group_msgs
    return int(a.n_nc) / int(direct) if direct > 0 else 0.0


SIGNALS = (msgs_1m, msgs_1h, msgs_1d, noncontact_1m, noncontact_1h, noncontact_1d,
           newchats_1m, newchats_1h, newchats_1d, noncontact_share)
