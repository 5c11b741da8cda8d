"""``round4``: the same float as ``round(x, 4)`` (a decision's score), in both builds."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.scoring.calibration import round4


def _same(x: float) -> bool:
    a, b = round4(x), round(x, 4)
    if math.isnan(b):
        return math.isnan(a)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@settings(max_examples=2000)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_round4_is_round(x: float) -> None:
    assert _same(x)


@settings(max_examples=2000)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_round4_is_round_on_scores(x: float) -> None:
    assert _same(x)


def test_round4_near_ties() -> None:
    # halves of the fourth decimal and their neighbours: where a fast path could go wrong
    for k in range(0, 100_000, 7):
        h = (k + 0.5) / 10_000
        for x in (h, math.nextafter(h, 0.0), math.nextafter(h, 1e9), h + 3e-13, h - 3e-13):
            assert _same(x), x
