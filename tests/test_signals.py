"""The signal registry: ``vector`` spells out every signal, in ``NAMES`` order."""

from __future__ import annotations

import ast
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
    assert v == [signals.SIGNALS[n](a, w) for n in signals.NAMES]
    assert len(v) == len(signals.NAMES) and any(x != 0.0 for x in v)
