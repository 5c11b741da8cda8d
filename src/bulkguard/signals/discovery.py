"""Contact discovery: address-book sweeps that ask about thousands of numbers, few of
which are registered, are how bulk senders find targets.

Optional family ``contacts``: a user who never syncs (no permission, or a platform without
address-book upload) has counts 0 and no match rate (NaN); not syncing is never evidence.

>>> a = Account(0); a.sync_n, a.sync_numbers, a.sync_matched, a.sync_max = 1, 5000, 60, 5000
>>> sync_numbers(a, World()), sync_match_rate(a, World())
(5000.0, 0.012)
"""

from __future__ import annotations

from bulkguard.state.account import MISSING, Account
from bulkguard.state.world import World


def sync_numbers(a: Account, w: World) -> float:
    """Phone numbers asked about in all of the account's contact syncs."""
    return float(a.sync_numbers)


def sync_max(a: Account, w: World) -> float:
    """Largest single contact sync."""
    return float(a.sync_max)


def sync_match_rate(a: Account, w: World) -> float:
    """Share of asked numbers that were registered (NaN before any sync: unknown)."""
    return a.sync_matched / a.sync_numbers if a.sync_numbers else MISSING


def sync_count(a: Account, w: World) -> float:
    """Number of contact syncs."""
    return float(a.sync_n)


SIGNALS = (sync_numbers, sync_max, sync_match_rate, sync_count)
