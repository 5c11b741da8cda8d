"""The identity map (names to account ids): a flat C table where the compiled build has it
(``_idmap.c``: name, hash and id in one slot, one place in memory per look-up), a dict
otherwise. Both read a name they do not hold as -1 (``ids[name]``: the one look-up the
engine makes per name; compiled, a subscript is a direct call where ``get`` is a method
look-up), and pickle as their names in id order.

>>> m = new_map()
>>> m["a"] = 0
>>> m["b"] = 1
>>> m["a"], m["zed"], m.get("zed", 7), "b" in m, len(m)
(0, -1, 7, True, 2)
>>> list(from_names(["x", "y"]).items())
[('x', 0), ('y', 1)]
"""

from __future__ import annotations

from typing import Any


class IdDict(dict[str, int]):
    """The pure-Python identity map: a dict whose missing names read as -1."""

    def __missing__(self, key: str) -> int:
        return -1

    def __reduce__(self) -> tuple[Any, ...]:
        return from_names, (list(self),)


_Map: type | None
try:
    from bulkguard.state._idmap import IdMap
    _Map = IdMap
except ImportError:   # the pure-Python build: no C extensions
    _Map = None

NATIVE = _Map is not None


def new_map() -> Any:
    """An empty identity map: the C table when built, else an :class:`IdDict`."""
    return _Map() if _Map is not None else IdDict()


def from_names(names: list[str]) -> Any:
    """The identity map of ``names``: the i-th name has id i."""
    m = new_map()
    for i, n in enumerate(names):
        m[n] = i
    return m
