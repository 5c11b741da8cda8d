"""Fan-out: distinct recipients, and the same (or nearly the same) content to many.

Content is a client-side digest; digests whose 64-bit SimHashes differ in at most
5 bits are one *family* (spun text). Families are counted per account and, once a
family repeats, across accounts.

>>> a, w = Account(0), World()
>>> a.fams = [[0x9F3A5C7E11D0B2A4, 30, 28, -1]]
>>> a.fam_max, a.fam_new_max = 30, 28
>>> digest_repeat(a, w), digest_fanout(a, w), digest_accounts(a, w)
(30.0, 28.0, 1.0)
"""

from __future__ import annotations

from bulkguard.state.account import Account
from bulkguard.state.windows import DAY, HOUR, est
from bulkguard.state.world import Family, World


def recipients_1h(a: Account, w: World) -> float:
    """Distinct one-to-one recipients in the last hour."""
    return est(a.h_dist, a.h_dist_p, a.bh, w.now, HOUR)


def recipients_1d(a: Account, w: World) -> float:
    """Distinct one-to-one recipients in the last day."""
    return est(a.d_dist, a.d_dist_p, a.bd, w.now, DAY)


def recipients_total(a: Account, w: World) -> float:
    """Distinct one-to-one recipients ever."""
    return float(a.n_recip)


def digest_repeat(a: Account, w: World) -> float:
    """Most sends of one content family (chats and groups)."""
    return float(a.fam_max)


def digest_fanout(a: Account, w: World) -> float:
    """Most distinct recipients (per day) reached with one content family."""
    return float(a.fam_new_max)


def digest_accounts(a: Account, w: World) -> float:
    """Largest number of accounts that repeat a content family this account repeats.

    >>> a, w = Account(0), World()
    >>> digest_accounts(a, w)
    0.0
    """
    if a.f_sends == 0:   # no family (``a.fams`` is None)
        return 0.0
    # the slots read in place: ``a.fams`` builds a copy of each (this runs at every re-score)
    fams = w.families
    best = _accounts(fams, a.f_fam, a.f_sends, 0)
    more = a.fams_more
    if more is not None:
        for f in more:
            best = _accounts(fams, f[3], f[1], best)
    return float(best)


def _accounts(fams: dict[int, Family], gid: int, sends: int, best: int) -> int:
    """``digest_accounts`` over one family slot (global family ``gid``, ``sends`` sends): the
    larger of ``best`` and the accounts repeating it (1 for a repeat not yet joined)."""
    if gid >= 0:
        fam = fams.get(gid)
        if fam is not None and fam.accounts > best:
            return fam.accounts
    elif sends > 1 and best < 1:
        return 1
    return best


SIGNALS = (recipients_1h, recipients_1d, recipients_total, digest_repeat, digest_fanout,
           digest_accounts)
