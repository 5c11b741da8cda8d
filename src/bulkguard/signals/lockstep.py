"""Lockstep: accounts that reach the same strangers at the same time.

Farms that register days apart from their own IPs, devices and numbers, and vary their text
(or send no digest at all), still share what a campaign needs: a list of people to reach,
worked through together. This is CopyCatch / SynchroTrap on the account x stranger x time
graph, made streaming and bounded (``World._opened``): when an account in a burst of new
chats (its second or later this hour) opens a chat with a stranger, it *shares* that
stranger with the last account that did so within an hour; three shared strangers make the
two *lockstep peers*. Memory: one entry per stranger reached in a burst within the hour,
and at most four counters per account. Messages only: every platform has them.

Sharing strangers is no abuse by itself (two organisers of one event write to the same
guests); the rules use it together with silence (few of the strangers answer) and, as for
content families, a stop of one peer raises the others, never an established account.

>>> from bulkguard.events import Message
>>> w = World()
>>> for k, acct in enumerate(("f1", "f2", "f3")):
...     for i in range(4):
...         w.now = 60.0 * k + i
...         _ = w.on_message(Message(ts=w.now, sender=acct, recipient=f"t{i}"))
>>> lockstep_peers(w.accounts["f1"], w), lockstep_peers(w.accounts["f2"], w)
(1.0, 2.0)
>>> w.accounts["f1"].level = 2   # stopped (challenge)
>>> lockstep_flagged(w.accounts["f2"], w), lockstep_flagged(w.accounts["f3"], w)
(1.0, 0.0)
"""

from __future__ import annotations

from bulkguard.state.account import CHALLENGE, Account
from bulkguard.state.world import World


def lockstep_peers(a: Account, w: World) -> float:
    """Accounts that opened chats with 3+ of the same strangers as this one, each within an
    hour of it, both in bursts of new chats (of the four it tracks)."""
    return float(len(w.peers_of(a.id)))


def lockstep_flagged(a: Account, w: World) -> float:
    """Stopped accounts among its lockstep peers; 0 for an established account (two-way
    chats with 3+ people), as for registration clusters and content families."""
    if w.established(a):
        return 0.0
    n = 0
    by_id = w.by_id
    for p in w.peers_of(a.id):
        b = by_id[p]
        if b is not None and b.level >= CHALLENGE:
            n += 1
    return float(n)


SIGNALS = (lockstep_peers, lockstep_flagged)
