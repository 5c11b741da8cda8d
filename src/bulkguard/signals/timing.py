"""Timing: automation is regular, fast after registration, and does not type.

>>> a, w = Account(0), World()
>>> a.gap_n, a.gap_mean, a.gap_var = 20, 2.0, 0.04
>>> round(gap_cv(a, w), 3)
0.1
>>> a.n_typed, a.n_notype = 10, 9
>>> notype_share(a, w)
0.9
"""

from __future__ import annotations

import math
from typing import Final

from bulkguard.state.account import MISSING, Account
from bulkguard.state.world import World

MIN_GAPS: Final = 5  # fewer gaps say nothing about regularity


def gap_cv(a: Account, w: World) -> float:
    """Coefficient of variation of the gaps between sends (recency-weighted); 1.0 if too few."""
    if a.gap_n < MIN_GAPS or a.gap_mean <= 0.0:
        return 1.0
    return math.sqrt(a.gap_var) / a.gap_mean


def gap_mean(a: Account, w: World) -> float:
    """Typical gap in seconds between sends inside a session (-1 if too few)."""
    return a.gap_mean if a.gap_n >= MIN_GAPS else -1.0


def notype_share(a: Account, w: World) -> float:
    """Share of sends with a known ``typing_ms`` that had no typing at all (NaN: no send
    carried ``typing_ms``, the platform does not report typing)."""
    return int(a.n_notype) / int(a.n_typed) if a.n_typed else MISSING


def early_msgs(a: Account, w: World) -> float:
    """Messages sent in the first 10 minutes after registration (NaN: no ``register`` seen)."""
    return float(a.early_msgs) if a.reg_ts >= 0.0 else MISSING


def account_age_h(a: Account, w: World) -> float:
    """Hours since registration; NaN for an account first seen without a ``register`` event:
    it existed before the stream, of unknown age, so no age evidence for or against it.

    >>> a, w = Account(0), World()
    >>> a.reg_ts, w.now = 0.0, 7200.0
    >>> account_age_h(a, w)
    2.0
    >>> a.reg_ts = -1.0
    >>> account_age_h(a, w)
    nan
    """
    if a.reg_ts < 0.0:
        return MISSING
    return (w.now - a.reg_ts) / 3600.0


SIGNALS = (gap_cv, gap_mean, notype_share, early_msgs, account_age_h)
