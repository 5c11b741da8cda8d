"""Engagement: do the people an account writes to first ever answer, and how fast?

Answers are counted over the chats the account *opened* (wrote to someone who had not
written to it): replying once to many people who wrote first (a victim of a partner
brigade, a shop answering customers) is not writing to people who never answer.

>>> a = Account(0); a.n_recip = a.n_opened = 10; a.n_answered, a.reply_delay_sum = 8, 800.0
>>> reply_ratio(a, World()), unanswered(a, World()), reply_delay(a, World())
(0.8, 2.0, 100.0)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.windows import HOUR, est
from bulkguard.state.world import World


def reply_ratio(a: Account, w: World) -> float:
    """Share of the chats it opened whose recipient ever answered (1.0 while there are none)."""
    return min(1.0, int(a.n_answered) / int(a.n_opened)) if a.n_opened else 1.0


def unanswered(a: Account, w: World) -> float:
    """Chats it opened whose recipient never answered."""
    return float(max(0, a.n_opened - a.n_answered))


def reply_delay(a: Account, w: World) -> float:
    """Mean seconds from the account's message to the recipient's first answer (-1: none)."""
    return a.reply_delay_sum / int(a.n_answered) if a.n_answered else -1.0


def inbound_ratio(a: Account, w: World) -> float:
    """Distinct people who wrote to the account per distinct recipient (0 when it wrote to none).

    >>> a = Account(0); a.n_recip, a.n_senders = 4, 2
    >>> inbound_ratio(a, World())
    0.5
    """
    return int(a.n_senders) / int(a.n_recip) if a.n_recip else 0.0


def recipients_settled(a: Account, w: World) -> float:
    """Chats it opened more than about an hour ago (their recipients had time to answer)."""
    return max(0.0, int(a.n_opened) - est(a.h_new, a.h_new_p, a.bh, w.now, HOUR))


def reply_ratio_settled(a: Account, w: World) -> float:
    """Reply ratio over settled recipients: an announcement sent a minute ago is not yet
    unanswered (1.0 while there are none).

    >>> a, w = Account(0), World()
    >>> a.n_opened, a.n_answered, a.h_new, a.bh = 50, 5, 45, 0
    >>> reply_ratio_settled(a, w)
    1.0
    """
    settled = recipients_settled(a, w)
    return min(1.0, int(a.n_answered) / settled) if settled >= 1.0 else 1.0


SIGNALS = (reply_ratio, unanswered, reply_delay, inbound_ratio, recipients_settled,
           reply_ratio_settled)
