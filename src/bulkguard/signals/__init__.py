"""Abuse signals: one module per family, each signal a small pure function
``f(account, world) -> float`` of state. ``NAMES`` fixes their order: it is the
feature vector of the model and the vocabulary of the rules file."""

from __future__ import annotations

from collections.abc import Callable

from bulkguard.signals import (
    business, content, coordination, discovery, engagement, fanout, feedback, groups,
    registration, timing, velocity,
)
from bulkguard.state.account import Account
from bulkguard.state.world import World

Signal = Callable[[Account, World], float]

FAMILIES = (velocity, fanout, engagement, timing, registration, coordination, discovery, groups,
            feedback, content, business)
SIGNALS: dict[str, Signal] = {f.__name__: f for m in FAMILIES for f in m.SIGNALS}
NAMES: tuple[str, ...] = tuple(SIGNALS)
_FUNCS = tuple(SIGNALS.values())


def vector(a: Account, w: World) -> list[float]:
    """All signals of ``a`` now, in ``NAMES`` order."""
    return [f(a, w) for f in _FUNCS]
