"""The arithmetic of a re-score: the model's calibration (margin -> probability), evidence
-> score and score -> ladder level.

A module of its own so that the compiled build makes it native: the engine calls these at
every re-score, and from compiled code each call into an interpreted function costs a
frame (about a thousand instructions). ``scoring.model`` and ``scoring.rules`` use the same
functions, so both builds compute the same numbers the same way.

>>> s = Scorer(lambda v: v[0], "platt", a=2.0, b=-1.0)
>>> round(s.probability([0.5]), 6), round(sigmoid(0.0), 6), to_score(0.0)
(0.5, 0.5, 0.0)
>>> ladder_level((0.4, 0.6, 0.8, 0.95), 0.7)
2
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import Final

PLATT: Final = 1
ISOTONIC: Final = 2
SIGMOID: Final = 3
KINDS: Final = {"platt": PLATT, "isotonic": ISOTONIC, "sigmoid": SIGMOID}


def sigmoid(m: float) -> float:
    if m >= 0:
        return 1.0 / (1.0 + math.exp(-m))
    e = math.exp(m)
    return e / (1.0 + e)


def isotonic(xs: list[float], ys: list[float], m: float) -> float:
    """Piecewise-linear interpolation of ``m`` through the points (xs, ys), flat outside."""
    k = bisect_right(xs, m)
    if k == 0:
        return ys[0]
    if k >= len(xs):
        return ys[-1]
    x0, x1 = xs[k - 1], xs[k]
    y0 = ys[k - 1]
    return y0 + (ys[k] - y0) * (m - x0) / (x1 - x0) if x1 > x0 else y0


class Scorer:
    """A model's probability for a signal vector: its ``margin`` function, then its
    calibration (``kind``: "platt" with ``a``, ``b``; "isotonic" through ``xs``, ``ys``;
    "sigmoid")."""

    def __init__(self, margin: Callable[[list[float]], float], kind: str, a: float = 0.0,
                 b: float = 0.0, xs: list[float] | None = None,
                 ys: list[float] | None = None) -> None:
        self.margin = margin   # the shipped model's: its generated module (model._shipped)
        self.kind = KINDS[kind]
        self.a = a
        self.b = b
        self.xs: list[float] = xs if xs is not None else []
        self.ys: list[float] = ys if ys is not None else []

    def probability(self, v: list[float]) -> float:
        m = self.margin(v)
        if self.kind == PLATT:
            return sigmoid(self.a * m + self.b)
        if self.kind == ISOTONIC:
            return isotonic(self.xs, self.ys, m)
        return sigmoid(m)


def to_score(evidence: float) -> float:
    """Evidence (summed weights) to a score in 0..1.

    >>> to_score(0.0), round(to_score(1.0), 3), to_score(-2.0)
    (0.0, 0.632, 0.0)
    """
    return 1.0 - math.exp(-evidence) if evidence > 0.0 else 0.0


def round4(x: float) -> float:
    """``round(x, 4)``, the same float, without its decimal-string round trip (a decision's
    score; compiled, ``round`` with digits is a generic call of about 2,600 instructions).

    For 0 < x < 10**4, ``y = x * 10**4`` is within 2e-8 of the exact product, so unless that
    is within 1e-4 of a half (a tie or close: ``round`` decides), the nearest integer ``n``
    is the one ``round`` finds, and ``n / 10**4`` is correctly rounded, as ``round``'s result
    is. Zero, negatives, NaN and large values go to ``round`` (the sign of a zero, ties).

    >>> xs = (0.123456, 0.99995, 0.03125, 0.0, -0.00001, 0.7, 0.00015)
    >>> [round4(x) for x in xs]
    [0.1235, 1.0, 0.0312, 0.0, -0.0, 0.7, 0.0001]
    """
    if 0.0 < x < 10_000.0:
        y = x * 10_000.0
        n = math.floor(y)
        r = y - n
        if r < 0.4999:
            return n / 10_000.0
        if r > 0.5001:
            return (n + 1) / 10_000.0
    return round(x, 4)


def ladder_level(thresholds: tuple[float, ...], score: float) -> int:
    """Ladder level for a score: how many of the ascending ``thresholds`` it reaches in a row
    (0 none, 1 throttle, 2 challenge, 3 suspend, 4 ban)."""
    lv = 0
    for t in thresholds:
        if score >= t:
            lv += 1
        else:
            break
    return lv
