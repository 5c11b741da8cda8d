"""The signal registry: ``vector`` spells out every signal, in ``NAMES`` order."""

from __future__ import annotations

import ast
import math
from pathlib import Path

from bulkguard import signals
from bulkguard.events import ContactSync, Message, Register
from bulkguard.engine import Engine


def test_vector_calls_every_signal_in_names_order() -> None:
    src = Path(signals.__file__).with_name("__init__.py").read_text("utf-8")
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == "vector")
    calls = [f"{c.func.value.id}.{c.func.attr}" for c in ast.walk(fn)
             if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)]
    expected = [f"{m.__name__.rsplit('.', 1)[1]}.{f.__name__}" for m in signals.FAMILIES
                for f in m.SIGNALS]
    expected += [f"{f.__module__.rsplit('.', 1)[1]}.{f.__name__}" for f in signals.LATE]
    assert calls == expected
    assert tuple(c.rsplit(".", 1)[1] for c in calls) == signals.NAMES


def test_vector_equals_each_signal() -> None:
    eng = Engine()
    eng.handle(Register(ts=0.0, account="x", ip="192.0.2.1"), 1)
    eng.handle(ContactSync(ts=1.0, account="x", numbers=500, matched=40), 2)
    for i in range(30):
        eng.handle(Message(ts=2.0 + i * 7, sender="x", recipient=f"u{i % 9}", digest="ab12"), 3 + i)
    w = eng.world
    a = w.accounts["x"]
    v = signals.vector(a, w)
    # NaN (unknown) is equal to NaN here; compiled, each NaN is a new float object
    assert [_key(x) for x in v] == [_key(signals.SIGNALS[n](a, w)) for n in signals.NAMES]
    assert len(v) == len(signals.NAMES) and any(x != 0.0 for x in v)


def _key(x: float) -> object:
    return "nan" if math.isnan(x) else x


def test_every_signal_is_a_documented_unit_with_an_example() -> None:
    """Each signal is a small documented function; each family module shows a runnable
    example (its doctests run with the suite), and each signal's family is known. Read from
    the sources: compiled (mypyc) functions carry no docstrings."""
    src = Path(__file__).resolve().parents[1] / "src" / "bulkguard" / "signals"
    for m in signals.FAMILIES:
        name = m.__name__.rsplit(".", 1)[1]
        tree = ast.parse((src / f"{name}.py").read_text("utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and ">>>" in doc, name
        funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for f in m.SIGNALS:
            fdoc = ast.get_docstring(funcs[f.__name__])
            assert fdoc and fdoc.strip(), f"{name}.{f.__name__}"
    assert set(signals.REQUIRES) <= set(signals.NAMES)
    assert all(fs and set(fs) <= set(signals.OPTIONAL) for fs in signals.REQUIRES.values())


def test_an_account_without_optional_data_has_unknown_not_zero() -> None:
    """An account seen only through messages: every ratio or age of an optional family is
    NaN (unknown), every count of one is 0 or NaN, never evidence."""
    eng = Engine()
    for i in range(5):
        eng.handle(Message(ts=float(i), sender="x", recipient=f"u{i}"), 1 + i)
    a, w = eng.world.accounts["x"], eng.world
    v = dict(zip(signals.NAMES, signals.vector(a, w)))
    for n in ("account_age_h", "early_msgs", "reg_ip_1h", "reg_device_1d", "reg_block_1d",
              "cluster_size_1d", "cluster_flagged", "country_mismatch", "sync_match_rate",
              "notype_share"):
        assert math.isnan(v[n]), n
    for n in signals.REQUIRES:
        assert math.isnan(v[n]) or v[n] == 0.0, n
