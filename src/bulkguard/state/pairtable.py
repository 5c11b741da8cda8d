"""The pair graph's table: a flat C table of int64 keys and values where the compiled build
has it (``_pairtable.c``, about 30 bytes a pair), a dict otherwise (about 100 bytes a pair).

Both behave alike for what :class:`~bulkguard.state.world.World` does with them, and both
pickle as their items, so a checkpoint written by one build loads in the other. A pair
neither holds reads as 0 (``t[key]``: no flags, no time): the engine's one look-up per
message is a subscript, which compiled code calls directly where ``get`` is a method
look-up by name.

>>> t = new_table()
>>> t[3 << 32 | 9] = 5
>>> t[3 << 32 | 9], t[1], t.get(1, 0), len(t), 1 in t
(5, 0, 0, 1, False)
>>> sorted(from_items([(1, 2), (3, 4)]).items())
[(1, 2), (3, 4)]
"""

from __future__ import annotations

from typing import Any

class PairDict(dict[int, int]):
    """The pure-Python pair table: a dict whose missing pairs read as 0."""

    def __missing__(self, key: int) -> int:
        return 0


_Table: type | None
try:
    from bulkguard.state._pairtable import PairTable
    _Table = PairTable
except ImportError:   # the pure-Python build: no C extensions
    _Table = None

NATIVE = _Table is not None


def new_table() -> Any:
    """An empty pair table: the C table when built, else a dict."""
    return _Table() if _Table is not None else PairDict()


def from_items(items: list[tuple[int, int]]) -> Any:
    """A pair table holding ``items`` (how both kinds of table are unpickled)."""
    t = new_table()
    for k, v in items:
        t[k] = v
    return t
