"""The C pair table behaves as the dict it replaces (compiled build only; the pure build
uses a dict and has no C table to test)."""

from __future__ import annotations

import pickle
import sys

import pytest
from hypothesis import given, settings, strategies as st

from bulkguard.state import pairtable

pytestmark = pytest.mark.skipif(not pairtable.NATIVE, reason="pure-Python build: pairs are a dict")

# many collisions among small keys; keys and values beyond int64 go to the side dict
KEYS = st.integers(0, (1 << 62) - 1) | st.integers(0, 40) | st.integers(-(1 << 70), 1 << 70)
VALUES = st.integers(-(1 << 63), (1 << 63) - 1) | st.integers(-(1 << 80), 1 << 80)
OPS = st.lists(st.tuples(st.sampled_from(["set", "del", "get"]), KEYS, VALUES), max_size=400)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_table_matches_a_dict(ops: list[tuple[str, int, int]]) -> None:
    t, d = pairtable.new_table(), {}
    for op, k, v in ops:
        if op == "set":
            t[k] = v
            d[k] = v
        elif op == "del":
            if k in d:
                del t[k]
                del d[k]
            else:
                with pytest.raises(KeyError):
                    del t[k]
        assert t.get(k, 0) == d.get(k, 0) == t[k]   # a pair it does not hold reads as 0
        assert t.get(k) == d.get(k)
        assert (k in t) == (k in d)
        assert len(t) == len(d)
    assert sorted(t.items()) == sorted(d.items())
    assert sorted(t.keys()) == sorted(d) == sorted(t)
    assert sorted(t.values()) == sorted(d.values())
    assert dict(t) == d
    back = pickle.loads(pickle.dumps(t))
    assert type(back) is type(t) and back == t and dict(back) == d


def test_growth_deletion_and_reuse() -> None:
    t = pairtable.new_table()
    n = 100_000
    for i in range(n):
        t[i << 32 | (i * 7)] = i
    assert len(t) == n and all(t[i << 32 | (i * 7)] == i for i in range(0, n, 997))
    for i in range(0, n, 2):
        del t[i << 32 | (i * 7)]
    assert len(t) == n // 2
    for i in range(n):   # deleted slots are reused, live ones overwritten
        t[i << 32 | (i * 7)] = -i
    assert len(t) == n and t.get(5 << 32 | 35) == -5
    assert sys.getsizeof(t) < 45 * n   # flat: at least 3/8 full, 16 bytes a slot (a dict: ~100)
    t.clear()
    assert len(t) == 0 and t.get(1, 7) == 7


def test_what_does_not_fit_int64_is_kept_exactly() -> None:
    """A timestamp far in the future makes a value beyond int64: kept like a dict keeps it."""
    t = pairtable.new_table()
    t[5] = 1 << 70
    t[-1] = 3
    t[1 << 62] = 4
    assert t[5] == 1 << 70 and t.get(-1) == 3 and t.get(1 << 62, 0) == 4 and len(t) == 3
    t[5] = 7   # back into the flat slots
    assert t[5] == 7 and len(t) == 3
    del t[-1]
    assert -1 not in t and len(t) == 2
    assert pickle.loads(pickle.dumps(t)) == t


def test_non_ints_are_refused() -> None:
    t = pairtable.new_table()
    for bad in ("x", 1.5):
        with pytest.raises(TypeError):
            t[bad] = 1
    with pytest.raises(TypeError):
        t[1] = "x"
    assert t[5] == 0 and 5 not in t and len(t) == 0   # read as 0, not added
    assert "x" not in t and -3 not in t and t.get(-3, 0) == 0
    with pytest.raises(TypeError):
        hash(t)
