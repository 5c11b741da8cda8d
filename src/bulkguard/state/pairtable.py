"""The pair graph's table: a flat C table of int64 keys and values where the compiled build
has it (``_pairtable.c``, about 30 bytes a pair), a dict otherwise (about 100 bytes a pair).

Both behave alike for what :class:`~bulkguard.state.world.World` does with them, and both
pickle as their items, so a checkpoint written by one build loads in the other.

>>> t = new_table()
>>> t[3 << 32 | 9] = 5
>>> t.get(3 << 32 | 9, 0), t.get(1, 0), len(t)
(5, 0, 1)
>>> sorted(from_items([(1, 2), (3, 4)]).items())
[(1, 2), (3, 4)]
"""

from __future__ import annotations

from typing import Any

_Table: type | None
try:
    from bulkguard.state._pairtable import PairTable
    _Table = PairTable
except ImportError:   # the pure-Python build: no C extensions
    _Table = None

NATIVE = _Table is not None


def new_table() -> Any:
    """An empty pair table: the C table when built, else a dict."""
    return _Table() if _Table is not None else {}


def from_items(items: list[tuple[int, int]]) -> Any:
    """A pair table holding ``items`` (how both kinds of table are unpickled)."""
    t = new_table()
    for k, v in items:
        t[k] = v
    return t
