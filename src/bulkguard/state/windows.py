"""Sliding windows on event time from two fixed buckets.

A window of ``span`` seconds keeps the count of the current bucket and of the one
before it; the sliding estimate weights the previous bucket by the share of it that
still lies inside the window. Two small ints per stat instead of a deque of
timestamps: constant memory, no allocation for counts under 257, and a dormant
account's windows expire on their own (a bucket two spans old counts as zero).

>>> est(cur=10, prev=0, bucket=100, now=100 * 60 + 30, span=60)
10.0
>>> est(cur=10, prev=0, bucket=99, now=100 * 60 + 30, span=60)   # last bucket is now previous
5.0
>>> est(cur=7, prev=3, bucket=50, now=100 * 60, span=60)          # long dormant
0.0
"""

from __future__ import annotations

import math
from typing import Final

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86400
WEEK: Final = 7 * DAY


def est(cur: int, prev: int, bucket: int, now: float, span: int) -> float:
    """Sliding-window estimate at ``now`` of a two-bucket counter last touched in ``bucket``."""
    b = math.floor(now) // span
    if b == bucket:
        return cur + prev * (1.0 - (now - b * span) / span)
    if b == bucket + 1:
        return cur * (1.0 - (now - b * span) / span)
    return 0.0


_COUNTER_FIELDS = ("bh", "h", "hp", "bd", "d", "dp", "total", "last")


class BucketCounter:
    """A keyed two-bucket counter (per IP, device, number block...), hour and day windows.

    >>> c = BucketCounter()
    >>> for t in (0, 10, 20): c.add(t)
    >>> c.hour(30), c.day(30), c.total
    (3.0, 3.0, 3)
    >>> c.hour(3 * 3600)
    0.0
    """

    __slots__ = _COUNTER_FIELDS

    def __init__(self) -> None:
        self.bh = self.h = self.hp = self.bd = self.d = self.dp = self.total = 0
        self.last = 0.0

    def add(self, now: float) -> None:
        b = math.floor(now) // HOUR
        if b != self.bh:
            self.hp = self.h if b == self.bh + 1 else 0
            self.h = 0
            self.bh = b
        self.h += 1
        b = math.floor(now) // DAY
        if b != self.bd:
            self.dp = self.d if b == self.bd + 1 else 0
            self.d = 0
            self.bd = b
        self.d += 1
        self.total += 1
        self.last = now

    def hour(self, now: float) -> float:
        return est(self.h, self.hp, self.bh, now, HOUR)

    def day(self, now: float) -> float:
        return est(self.d, self.dp, self.bd, now, DAY)

    def __getstate__(self) -> tuple:
        # explicit names: a compiled (mypyc) class has no ``__slots__`` attribute to read
        return tuple(getattr(self, s) for s in _COUNTER_FIELDS)

    def __setstate__(self, st: tuple) -> None:
        for s, v in zip(_COUNTER_FIELDS, st):
            setattr(self, s, v)
