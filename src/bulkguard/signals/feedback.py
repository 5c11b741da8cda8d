"""Negative feedback: blocks and reports by distinct accounts, weighed by who sends them.

Reports from people the account actually wrote to count more than reports from
strangers (a brigade of strangers must not ban a legitimate account).

>>> a = Account(0); a.n_recip, a.blocks, a.reports, a.reports_partner = 20, 3, 5, 2
>>> feedback_rate(a, World()), reports_stranger(a, World())
(0.25, 3.0)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.world import World


def blocks(a: Account, w: World) -> float:
    """Distinct accounts that blocked this one."""
    return float(a.blocks)


def reports(a: Account, w: World) -> float:
    """Distinct accounts that reported this one."""
    return float(a.reports)


def reports_partner(a: Account, w: World) -> float:
    """Reports from accounts this one had written to."""
    return float(a.reports_partner)


def reports_stranger(a: Account, w: World) -> float:
    """Reports from accounts this one never wrote to."""
    return float(a.reports - a.reports_partner)


def feedback_rate(a: Account, w: World) -> float:
    """Blocks and partner reports per distinct recipient."""
    return (a.blocks + a.reports_partner) / max(a.n_recip, 1)


def report_text(a: Account, w: World) -> float:
    """Highest spam probability of reported message text (0 without text)."""
    return a.report_text


def reports_filed(a: Account, w: World) -> float:
    """Reports this account filed against others."""
    return float(a.filed)


def reports_filed_stranger(a: Account, w: World) -> float:
    """Reports this account filed against accounts that never wrote to it (brigading).

    >>> a = Account(0); a.filed, a.filed_stranger = 3, 3
    >>> reports_filed_stranger(a, World())
    3.0
    """
    return float(a.filed_stranger)


SIGNALS = (blocks, reports, reports_partner, reports_stranger, feedback_rate, report_text,
           reports_filed, reports_filed_stranger)
