"""The engine between an injected source and an injected sink (as Osprey's rules sink).

:func:`pump` feeds every event of an ``EventSource`` to the engine, hands the decisions
to a ``DecisionSink``, gives refused events back to the source's dead letters and calls
``checkpoint(line)`` every ``every`` lines. ``ingest.replay`` composes it with a file
source, a JSONL sink and a checkpoint store; a test composes it with in-memory ones:

>>> from bulkguard.engine import Engine
>>> from bulkguard.events import ContactSync, Message, Register
>>> from bulkguard.ingest.sources import StaticSource
>>> from bulkguard.store.decisions import MemorySink
>>> src = StaticSource([Register(ts=0, account="x"), Message(ts=1, sender="x"),
...                     ContactSync(ts=2, account="x", numbers=5000, matched=40)])
>>> sink = MemorySink()
>>> pump(src, Engine(), sink)
3
>>> [(d.line, d.action) for d in sink.decisions], src.rejected
([(3, 'challenge')], [(2, 'a message needs exactly one of `recipient` or `group`, it has neither')])
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from typing import Any, cast

from bulkguard.engine import Engine
from bulkguard.events import EventError
from bulkguard.types import DecisionSink, EventSource


def pump(source: EventSource, engine: Engine, sink: DecisionSink,
         tally: Counter[str] | None = None, checkpoint: Callable[[int], None] | None = None,
         every: int = 0, start: int = 0) -> int:
    """Run ``source`` through ``engine`` into ``sink``; return the last line handled.

    ``tally`` counts the decisions written by action; ``checkpoint(line)`` is called
    after line ``start + every``, ``start + 2 * every``... once its decisions are in the sink.
    """
    n = start
    next_ckpt = start + every if checkpoint is not None and every > 0 else -1
    tally = tally if tally is not None else Counter()
    it = iter(source)
    # The state holds no reference cycles: the collector would only spend time looking.
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for n, ev in it:
            try:
                out = engine.handle(ev, n)
            except EventError as bad:   # a message with neither or both targets
                source.reject(n, str(bad))
                continue
            if out:
                for d in out:
                    tally[d.action] += 1
                sink.write_many(out)
            if 0 < next_ckpt <= n and checkpoint is not None:
                next_ckpt = n + every
                checkpoint(n)
    finally:
        if isinstance(it, Generator):
            it.close()   # the source's own clean-up (stats, files) runs now, not at collection
        if gc_was:
            gc.enable()
    return n


def pump_records(records: Iterator[tuple[Any, ...]], reject: Callable[[int, str], None],
                 engine: Engine, sink: DecisionSink, tally: Counter[str]) -> int:
    """``pump`` for records that are ``(line, event)``, or ``(line, *fields)`` for a message
    or a contact add (``engine.MESSAGE_FIELDS``, ``engine.CONTACT_ADD_FIELDS`` order; told
    apart by their length): ``replay --workers 2``'s, where these go to
    ``Engine.message_fields`` and ``Engine.contact_add_fields`` without an event made and
    taken apart again. ``reject`` as ``EventSource.reject``; return the last line handled."""
    n = 0
    gc_was = gc.isenabled()
    gc.disable()   # as in ``pump``
    try:
        for rec in records:
            n = cast(int, rec[0])   # not Any: compiled, an Any line is boxed again for each call
            try:
                size = len(rec)
                if size == 2:
                    out = engine.handle(rec[1], n)
                elif size == 4:
                    out = engine.contact_add_fields(n, rec[1], rec[2], rec[3])
                else:
                    out = engine.message_fields(n, rec[1], rec[2], rec[3], rec[4], rec[5], rec[6],
                                                rec[7], rec[8], rec[9], rec[10])
            except EventError as bad:   # a message with neither or both targets
                reject(n, str(bad))
                continue
            if out:
                for d in out:
                    tally[d.action] += 1
                sink.write_many(out)
    finally:
        if gc_was:
            gc.enable()
    return n
