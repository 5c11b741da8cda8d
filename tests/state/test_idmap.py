"""The identity map: the C table (compiled build) and the dict (pure build) behave alike."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.state import idmap
from bulkguard.state.world import World

KINDS = [idmap.IdDict] + ([idmap._Map] if idmap._Map is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_it_does_not_hold_reads_as_minus_one(kind):
    m = kind()
    assert m["x"] == -1 and "x" not in m and len(m) == 0 and m.get("x") is None
    m["x"] = 0
    m["y"] = 1
    m["x"] = 0
    assert (m["x"], m["y"], m["z"], len(m)) == (0, 1, -1, 2)
    assert m.get("y", 9) == 1 and m.get("z", 9) == 9 and "y" in m and 5 not in m
    assert list(m.items()) == [("x", 0), ("y", 1)] and list(m) == ["x", "y"]
    assert list(pickle.loads(pickle.dumps(m)).items()) == [("x", 0), ("y", 1)]


def test_the_c_table_refuses_what_the_engine_never_does():
    if idmap._Map is None:
        pytest.skip("pure-Python build: the identity map is a dict")
    m = idmap._Map()
    with pytest.raises(TypeError):
        m[1] = 0
    with pytest.raises(ValueError):
        m["a"] = -1
    with pytest.raises(TypeError):
        del m["a"]
    assert type(World().ids) is idmap._Map   # what the compiled build uses
    a, b = "".join(["na", "me"]), "".join(["nam", "e"])
    m["k"] = 0
    m[a] = 1
    assert m[b] == 1 and [k for k in m if k == "name"][0] is a   # one object per name: the first


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), st.integers(0, 2**40)), max_size=300))
def test_any_sequence_of_sets_reads_back_as_a_dict_would(ops):
    ref: dict[str, int] = {}
    maps = [k() for k in KINDS]
    for name, v in ops:
        ref[name] = v
        for m in maps:
            m[name] = v
    for m in maps:
        assert len(m) == len(ref)
        for name, v in ref.items():
            assert m[name] == v and name in m
        assert m["never, longer than any name drawn"] == -1
        assert sorted(m.items()) == sorted(ref.items())


def test_equal_names_of_different_objects_are_one_name():
    for kind in KINDS:
        m = kind()
        a = "".join(["na", "me"])
        b = "".join(["nam", "e"])
        assert a is not b
        m[a] = 3
        assert m[b] == 3 and len(m) == 1


def test_from_names_numbers_in_order():
    m = idmap.from_names(["b", "a", "c"])
    assert (m["b"], m["a"], m["c"], m["d"]) == (0, 1, 2, -1)
