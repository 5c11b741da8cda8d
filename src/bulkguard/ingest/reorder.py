"""The stream's clock and its reorder window: between an event source and the engine.

Two jobs, both O(1) per event on the common path (an event that arrives in order joins
a queue; only one that arrives out of order goes through a heap):

**A robust clock.** Stream time is the *third largest* ``ts`` accepted so far, so one
event (or two) from a broken or hostile producer cannot move time for everyone. An event
more than ``max_ahead`` seconds ahead of stream time is held as a *suspect*:

* a ``ts`` that is the stream time in milliseconds, microseconds or nanoseconds is
  dead-lettered at once, with the unit named in the reason;
* otherwise it waits: if ``confirm`` consecutive events all arrive that far ahead, from
  ``confirm_actors`` different accounts (a burst from one account never confirms itself),
  the stream really moved on (a quiet night, a paused producer) and they are accepted;
  once ``confirm`` in-time events have arrived after it, it is dead-lettered with the
  reason ``ts too far ahead of the stream``. So is a suspect still waiting when the
  input ends.

**A reorder window** (a watermark). Accepted events wait until stream time has
passed their ``ts`` by ``window`` seconds, and leave in ``(ts, line)`` order: ties keep
file order. With ``window`` 0 they are not reordered: each leaves as it comes. A stream
whose events arrive up to ``window`` seconds late is applied exactly as its sorted version
would be. The window grows toward the lateness seen (1.25 times the third largest of the
last one to two hours of stream time) up to ``max_window``, and shrinks back when events
stop coming late. An event that arrives after later events were already released is
*late*: it is released at once and counted (the engine applies it at its clock, which
never goes back; the business lane judges it at its own ``ts``).

The stage knows nothing about event types: it takes a line number, a ``ts``, the event
and its raw bytes (kept for a dead letter), and hands back what is ready, so a file
replay and a network service can put it in front of the same engine.

>>> r: Reorder[str] = Reorder(window=10.0, max_ahead=3600.0, confirm=2)
>>> stream = [100.0, 95.0, 101.0, 1e308, 103.0, 112.0, 125.0, 90.0, 130.0, 97.0]
>>> for line, ts in enumerate(stream, 1):
...     r.push(line, ts, f"e{line}", b"")
>>> r.clock, [e.ts for e in r.ready]   # in ts order up to 10 s behind stream time; 97 came late
(112.0, [90.0, 95.0, 100.0, 101.0, 97.0])
>>> r.late, [(d[1], d[4]) for d in r.dead]
(1, [(4, 'ts too far ahead of the stream: 1e+308 is 1e+308 s ahead of the stream time 100 (limit 3600 s; not confirmed by the 2 events after it)')])
>>> r.flush(); [e.ts for e in r.ready][5:]
[103.0, 112.0, 125.0, 130.0]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import msgspec
from msgspec.structs import astuple

from bulkguard.events import (
    AppealGranted, ChallengePassed, Message, ReviewerAction, target_error,
)
from bulkguard.ingest.fastdecode import message_ts

if TYPE_CHECKING:
    from bulkguard.ingest.sources import LineSource
    from bulkguard.types import InputEvent

E = TypeVar("E")

DEFAULT_WINDOW: Final = 60.0        # seconds of event time an event may arrive late and still be reordered
MAX_WINDOW: Final = 3600.0          # the contract's bound on a reorder window
DEFAULT_MAX_AHEAD: Final = 3600.0   # seconds ahead of stream time before an event must be confirmed
DEFAULT_CONFIRM: Final = 8          # consecutive far-ahead events that confirm a jump of the stream
DEFAULT_CONFIRM_ACTORS: Final = 3   # ... coming from at least this many different accounts
MAX_SUSPECTS: Final = 65_536        # suspects held at most (the oldest is refused beyond)
DEFAULT_MAX_WINDOW: Final = 900.0   # the window grows up to this when events come later
GROWTH_MARGIN: Final = 1.25         # the window grows to this times the observed lateness
LATENESS_PERIOD: Final = 3600.0     # lateness is remembered for one to two such periods
UNIT_SLACK: Final = 86_400.0        # ts / 1000 within a day of stream time: a ts in milliseconds
UNITS: Final = ((1e3, "milliseconds"), (1e6, "microseconds"), (1e9, "nanoseconds"))
NEG_INF: Final = -math.inf
_MESSAGE: Final = Message
_ASTUPLE: Final = astuple
_MESSAGE_TS: Final = message_ts()
NO_RAW: Final = b""


class Held(Generic[E]):
    """An event the stage holds: its ``ts``, input ``line``, the event and its ``raw`` line
    (kept only while it may still become a dead letter). Ordered by ``(ts, line)``.

    A small object rather than a tuple: compiled, a ``tuple[float, int, E, bytes]`` is a C
    struct that is boxed into a new tuple (and a new float and int) each time it goes into
    a list and unboxed each time it comes out; an event passes through three lists."""

    __slots__ = ("ts", "line", "ev", "raw")

    def __init__(self, ts: float, line: int, ev: E, raw: bytes) -> None:
        self.ts = ts
        self.line = line
        self.ev = ev
        self.raw = raw

    def __lt__(self, other: Held[E]) -> bool:
        return self.ts < other.ts or (self.ts == other.ts and self.line < other.line)

    def __reduce__(self) -> tuple[type, tuple[float, int, E, bytes]]:
        return Held, (self.ts, self.line, self.ev, self.raw)

    def __repr__(self) -> str:
        return f"Held({self.ts!r}, {self.line!r}, {self.ev!r}, {self.raw!r})"


class Reorder(Generic[E]):
    """Robust clock plus reorder window; see the module docstring.

    After each ``push`` (and after ``flush``) the caller takes ``ready`` (:class:`Held`
    events in the order to apply them; their ``raw`` is mostly empty) and
    ``dead`` (entries ``(ts, line, event, raw, reason)``) and clears both lists.

    ``window`` is the reorder window's floor; it grows up to ``max_window`` (default 900 s;
    equal to ``window``: a fixed window) when events arrive later than it. ``actor_of``
    names who an event is from (an account); a jump of the clock must be confirmed by
    suspects from ``confirm_actors`` different ones (without it, every event counts as
    its own).
    """

    def __init__(self, window: float = DEFAULT_WINDOW, max_ahead: float = DEFAULT_MAX_AHEAD,
                 confirm: int = DEFAULT_CONFIRM, max_window: float | None = None,
                 confirm_actors: int = DEFAULT_CONFIRM_ACTORS,
                 actor_of: Callable[[E], object] | None = None) -> None:
        if not 0.0 <= window <= MAX_WINDOW:
            raise ValueError(f"reorder window {window:g} s: must be between 0 and {MAX_WINDOW:g} s")
        if max_window is None:
            max_window = default_max_window(window)
        if not window <= max_window <= MAX_WINDOW or (window == 0.0 and max_window > 0.0):
            raise ValueError(f"max reorder window {max_window:g} s: must be between the "
                             f"window ({window:g} s) and {MAX_WINDOW:g} s, and 0 when the "
                             "window is 0")
        if not max_ahead >= max_window:
            raise ValueError(f"max ahead {max_ahead:g} s: must be at least the reorder window "
                             f"({max_window:g} s)")
        if confirm < 1:
            raise ValueError(f"confirm {confirm}: must be at least 1")
        if confirm_actors < 1:
            raise ValueError(f"confirm actors {confirm_actors}: must be at least 1")
        self.window = window            # the window now: between base and cap
        self.base = window
        self.cap = max_window
        self.max_ahead = max_ahead
        self.confirm = confirm
        self.confirm_actors = min(confirm_actors, confirm)
        self.actor_of = actor_of
        self.ready: list[Held[E]] = []
        self.dead: list[tuple[float, int, E, bytes, str]] = []
        # held events: those that came in order in a queue (no sorting needed), the others
        # in a heap; both leave in (ts, line) order
        # (a list read from ``head`` on, cut back now and then: compiled, list operations
        # are direct, a deque's are generic calls)
        self.tail: list[Held[E]] = []
        self.head = 0
        self.tail_ts = NEG_INF          # largest ts in the queue so far
        self.heap: list[Held[E]] = []
        # the three largest accepted ts; stream time is the third (-inf until there are three)
        self.t1 = self.t2 = self.t3 = NEG_INF
        self.clock = NEG_INF
        self.limit = math.inf           # clock + max_ahead: beyond it an event is a suspect
        self.mark = NEG_INF             # clock - window: events before it leave the heap
        self.released = NEG_INF         # ts of the last event released in order
        # lateness: events more than ``base`` behind stream time (ts < ``watch``); the
        # three largest delays of this period and the third of the one before
        self.watch = NEG_INF
        self.d1 = self.d2 = self.d3 = 0.0
        self.p3 = 0.0
        self.period_end = NEG_INF
        self.widest = window            # the widest the window has been
        # suspects: [entry, in-time events seen since]; run: consecutive suspects
        self.suspects: list[tuple[Held[E], list[int]]] = []
        self.run = 0
        self.first: list[Held[E]] = []   # before stream time exists
        self.late = 0
        self.too_far = 0
        self.jumps = 0

    def __len__(self) -> int:
        """Events held (in the window or as suspects)."""
        return (len(self.tail) - self.head + len(self.heap) + len(self.suspects)
                + len(self.first))

    def push(self, line: int, ts: float, ev: E, raw: bytes) -> None:
        """Take one event (``ts`` finite, as the decoder guarantees). ``raw`` is kept only
        while the event may still become a dead letter (a suspect, or one of the first
        three): the window holds many events, and their raw lines would only cost memory."""
        if ts <= self.limit and self.clock != NEG_INF:
            if self.suspects:
                self._in_time()
            self._accept(Held(ts, line, ev, NO_RAW))
        elif self.clock == NEG_INF:
            self._start(Held(ts, line, ev, raw))
        else:
            self._suspect(Held(ts, line, ev, raw))

    def _start(self, e: Held[E]) -> None:
        """The first events: stream time starts at the median of the first three, so a
        stream that opens with a poisoned ts is not fooled either."""
        first = self.first
        first.append(e)
        if len(first) < 3:
            return
        self.first = []
        med = sorted(x.ts for x in first)[1]
        self.t1 = self.t2 = self.t3 = med
        self._advance(med)
        for x in first:
            if x.ts <= self.limit:
                self._accept(x)
            else:
                self._suspect(x)

    def _advance(self, clock: float) -> None:
        """Stream time moved on to ``clock``."""
        self.clock = clock
        self.limit = clock + self.max_ahead
        self.watch = clock - self.base
        if clock >= self.period_end:
            self._new_period()
        self.mark = clock - self.window

    def _new_period(self) -> None:
        """Forget the lateness of the period before last: the window shrinks back toward
        ``base`` once events stop coming late (after one to two periods)."""
        clock = self.clock
        self.p3 = self.d3 if clock < self.period_end + LATENESS_PERIOD else 0.0
        self.d1 = self.d2 = self.d3 = 0.0
        self.period_end = clock + LATENESS_PERIOD
        self._fit()

    def _fit(self) -> None:
        """The window: the third largest lateness of this period or the last one, with a
        margin, between ``base`` and ``cap`` (the third: one or two events from a broken
        producer do not widen it for everyone)."""
        w = GROWTH_MARGIN * max(self.d3, self.p3)
        w = min(self.cap, max(self.base, w))
        self.window = w
        if w > self.widest:
            self.widest = w
        self.mark = self.clock - w

    def _delayed(self, d: float) -> None:
        """An event ``d`` seconds behind stream time (more than ``base``)."""
        if d <= self.d3:
            return
        if d > self.d2:
            self.d3 = self.d2
            if d > self.d1:
                self.d2 = self.d1
                self.d1 = d
            else:
                self.d2 = d
        else:
            self.d3 = d
        if GROWTH_MARGIN * self.d3 > self.window and self.window < self.cap:
            self._fit()

    def push_now(self, line: int, ts: float, ev: E, raw: bytes) -> None:
        """Take an event that must not wait (a person's decision: a reviewer's action, an
        appeal): every held event up to its ``ts`` is released, in order, then it. On a
        sorted stream that is exactly its place in the order; events that arrive after it
        with an earlier ``ts`` are late. Before stream time exists, or far ahead of it, it
        is taken as any other event."""
        if self.clock == NEG_INF or ts > self.limit:
            self.push(line, ts, ev, raw)
            return
        if self.suspects:
            self._in_time()
        self._see(ts)
        if self.window != 0.0:
            self._release(math.nextafter(ts, math.inf))
        if ts < self.released:
            self.late += 1
        else:
            self.released = ts
        self.ready.append(Held(ts, line, ev, NO_RAW))

    def _see(self, ts: float) -> None:
        """The clock and the lateness measure see ``ts``."""
        if ts > self.t3:
            if ts > self.t2:
                self.t3 = self.t2
                if ts > self.t1:
                    self.t2 = self.t1
                    self.t1 = ts
                else:
                    self.t2 = ts
            else:
                self.t3 = ts
            if self.t3 > self.clock:
                self._advance(self.t3)
        elif ts < self.watch:
            self._delayed(self.clock - ts)

    def _accept(self, e: Held[E]) -> None:
        ts = e.ts
        self._see(ts)
        if ts < self.released:
            self.late += 1   # its place in the order was passed: apply it now
            self.ready.append(e)
            return
        if self.window == 0.0:   # no reordering: applied as it comes (the clock check stays)
            self.released = ts
            self.ready.append(e)
            return
        if ts < self.mark and self.head == len(self.tail) and not self.heap:
            # the watermark already passed it and nothing is held: straight through
            self.released = ts
            self.ready.append(e)
            return
        if ts >= self.tail_ts:
            self.tail.append(e)
            self.tail_ts = ts
        else:
            heapq.heappush(self.heap, e)
        self._release(self.mark)

    def _release(self, mark: float) -> None:
        """Hand every held event before ``mark`` to ``ready``, in (ts, line) order."""
        tail = self.tail
        heap = self.heap
        ready = self.ready
        h = self.head
        while True:
            if h < len(tail) and tail[h].ts < mark:
                if heap and heap[0] < tail[h]:
                    x = heapq.heappop(heap)
                else:
                    x = tail[h]
                    h += 1
            elif heap and heap[0].ts < mark:
                x = heapq.heappop(heap)
            else:
                break
            self.released = x.ts
            ready.append(x)
        if h >= 256 and h * 2 >= len(tail):
            # amortised O(1): each event is moved at most once; and soon, so that released
            # events are freed while still in the cache
            del tail[:h]
            h = 0
        self.head = h

    def _suspect(self, e: Held[E]) -> None:
        ts = e.ts
        unit = self._unit(ts)
        if unit:
            self.too_far += 1
            self.dead.append((ts, e.line, e.ev, e.raw, unit))
            return
        self.suspects.append((e, [0]))
        self.run += 1
        if self.run >= self.confirm and self._actors(self.run) >= self.confirm_actors:
            self._jump()
        elif len(self.suspects) > MAX_SUSPECTS:
            old, _ = self.suspects.pop(0)
            self.run = min(self.run, len(self.suspects))
            self._refute(old, f"not confirmed by events from {self.confirm_actors} different "
                              f"accounts among the {MAX_SUSPECTS} held after it")

    def _actors(self, n: int) -> int:
        """How many different accounts the last ``n`` suspects came from (at most
        ``confirm_actors``: counting stops there)."""
        actor_of = self.actor_of
        if actor_of is None:
            return n
        want = self.confirm_actors
        seen: set[object] = set()
        for e, _ in reversed(self.suspects[-n:]):
            seen.add(actor_of(e.ev))
            if len(seen) >= want:
                break
        return len(seen)

    def _in_time(self) -> None:
        """An in-time event arrived: every suspect is one event closer to being refuted."""
        self.run = 0
        keep = []
        for e, seen in self.suspects:
            seen[0] += 1
            if seen[0] >= self.confirm:
                self._refute(e, f"not confirmed by the {self.confirm} events after it")
            else:
                keep.append((e, seen))
        self.suspects = keep

    def _jump(self) -> None:
        """``confirm`` consecutive events far ahead, from ``confirm_actors`` accounts: the
        stream moved on. Accept the run (in ts order), then whatever older suspect the new
        stream time now covers."""
        self.jumps += 1
        n = self.run
        self.run = 0
        held, run = self.suspects[:-n], self.suspects[-n:]
        self.suspects = []
        self.limit = math.inf
        for e, _ in sorted(run, key=lambda s: (s[0].ts, s[0].line)):
            self._accept(e)
        self.limit = self.clock + self.max_ahead
        for e, seen in held:
            if e.ts <= self.limit:
                self._accept(e)
            else:
                self.suspects.append((e, seen))

    def _refute(self, e: Held[E], why: str) -> None:
        self.too_far += 1
        ts = e.ts
        self.dead.append((ts, e.line, e.ev, e.raw,
                          f"ts too far ahead of the stream: {ts:.15g} is {ts - self.clock:.15g} s ahead "
                          f"of the stream time {self.clock:.0f} (limit {self.max_ahead:g} s; {why})"))

    def _unit(self, ts: float) -> str:
        """The dead-letter reason for a ts in the wrong unit, or "" if it is not one."""
        c = self.clock
        if c <= 0.0:
            return ""
        slack = max(self.max_ahead, UNIT_SLACK)
        for mult, unit in UNITS:
            if abs(ts / mult - c) <= slack:
                return (f"ts too far ahead of the stream: {ts:.15g} looks like {unit} "
                        f"(ts / {mult:g} = {ts / mult:.0f} is near the stream time {c:.0f}; "
                        "ts is in seconds)")
        return ""

    def flush(self) -> None:
        """End of input: suspects still waiting are dead letters; the window empties in order."""
        for x in self.first:   # fewer than three events in all: nothing to compare them with
            if self.window == 0.0:
                self.ready.append(x)
            else:
                heapq.heappush(self.heap, x)
        self.first = []
        for e, _ in self.suspects:
            self._refute(e, "the input ended before later events confirmed it")
        self.suspects = []
        self.run = 0
        self._release(math.inf)

    def summary(self) -> str:
        """One line for the replay summary."""
        grew = f" (grew up to {self.widest:.0f} s)" if self.widest > self.base else ""
        return (f"reorder window {self.base:g} s{grew}: {self.late} late events, "
                f"{self.too_far} too far ahead")


def default_max_window(window: float) -> float:
    """How far the window grows by default: 900 s (or ``window`` if larger); a window of 0
    (no reordering) stays 0."""
    return max(window, DEFAULT_MAX_WINDOW) if window > 0.0 else 0.0


def first_actor(ev: object) -> object:
    """Who an event is from, for confirming a jump of the clock: its first field after
    ``ts`` (the sender, the account, the reporter, the blocker, the business...)."""
    return _ASTUPLE(ev)[1]  # type: ignore[arg-type]


#: Event types applied as soon as they come (``Reorder.push_now``): a person's decision
#: takes effect when it is made, not when the reorder window has passed it.
URGENT: Final = frozenset({ReviewerAction, AppealGranted, ChallengePassed})
_REVIEWER_ACTION: Final = ReviewerAction
_APPEAL_GRANTED: Final = AppealGranted
_CHALLENGE_PASSED: Final = ChallengePassed


def offer(stage: Reorder[InputEvent], line: int, ev: InputEvent, raw: bytes) -> str | None:
    """Put one decoded event into ``stage``: the one front door of the engine, for replay
    (:class:`ReorderedSource`) and the service alike. Returns the reason it is refused at
    once (a message without exactly one target: refused in input order rather than when
    the window releases it), or None; what is ready and dead is then in ``stage``."""
    t = type(ev)
    if t is _MESSAGE:   # (compiled, an identity test; isinstance is a generic call)
        # its ts if it has exactly one target: compiled, one C call reading the slots
        # (each attribute of a msgspec struct would be a generic look-up)
        ts = _MESSAGE_TS(ev)
        if ts is None:
            return target_error(ev) or ""
        stage.push(line, ts, ev, raw)
        return None
    if t is _REVIEWER_ACTION or t is _APPEAL_GRANTED or t is _CHALLENGE_PASSED:   # URGENT
        stage.push_now(line, ev.ts, ev, raw)
        return None
    stage.push(line, ev.ts, ev, raw)
    return None


class ReorderedSource:
    """An event source in front of a :class:`~bulkguard.ingest.sources.LineSource`: the
    same events, clock-checked and in ``ts`` order (the ``EventSource`` protocol).

    Events the stage refuses (too far ahead) go to the inner source's dead letters, raw
    line and all. ``consumed`` is the last input line taken from the inner source: a
    checkpoint taken between two events yielded here records it with ``state()``, the
    events still held. ``on_end`` is called once the input is exhausted, before the window
    is emptied (``replay`` writes its last checkpoint there, so that a run resumed after
    more input was appended goes on as one run would have).

    >>> from bulkguard.ingest.sources import LineSource, MemoryDeadLetters
    >>> lines = [b'{"type":"block","ts":%d,"blocker":"b","blocked":"a"}' % t
    ...          for t in (1_700_000_100, 1_700_000_095, 1_700_000_101, 1_700_000_102_000,
    ...                    1_700_000_104)]
    >>> dead = MemoryDeadLetters()
    >>> src = ReorderedSource(LineSource(lines, dead), Reorder(window=60.0))
    >>> [(n, ev.ts - 1_700_000_000) for n, ev in src]
    [(2, 95.0), (1, 100.0), (3, 101.0), (5, 104.0)]
    >>> [(n, reason[:69]) for n, _, reason in dead.letters]
    [(4, 'ts too far ahead of the stream: 1700000102000 looks like milliseconds')]
    """

    def __init__(self, inner: LineSource, stage: Reorder[InputEvent],
                 on_end: Callable[[], None] | None = None,
                 state: ReorderState | None = None) -> None:
        self.inner = inner
        self.stage = stage
        self.on_end = on_end
        self.consumed = inner.start
        self.ended = False
        # events released but not yet yielded: ``pending[pos:]`` (a list read by index:
        # compiled, direct; the stage's ``ready`` list is swapped in whole, not copied)
        self.pending: list[Held[InputEvent]] = []
        self.pos = 0
        self._raw = b""
        self._ev: InputEvent | None = None
        if state is not None:
            self.stage = state.stage
            self.pending.extend(state.pending)
        if self.stage.actor_of is None:   # a jump is confirmed by several accounts
            self.stage.actor_of = first_actor

    def state(self) -> ReorderState:
        """What a checkpoint keeps: the stage and the events released but not yet yielded."""
        return ReorderState(self.stage, self.pending[self.pos:])

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        stage = self.stage
        inner = self.inner
        if len(self.pending) > self.pos:   # released before the checkpoint this run resumed from
            yield from self._drain()
        for n, ev in inner:
            refused = offer(stage, n, ev, inner.last_raw)
            if refused is not None:
                inner.dead_letter(n, inner.last_raw, refused)
                continue
            self.consumed = n
            if stage.dead:
                self._dead()
            ready = stage.ready
            if ready:
                if len(ready) == 1:   # the common case: one in, one out
                    e = ready.pop()
                    self._raw = e.raw
                    self._ev = e.ev
                    yield e.line, e.ev
                else:
                    # several: they become ``pending`` (the stage gets the empty list
                    # back), yielded here rather than through a nested generator
                    stage.ready = self.pending
                    self.pending = ready
                    i = 0
                    while i < len(ready):
                        e = ready[i]
                        i += 1
                        self.pos = i
                        self._raw = e.raw
                        self._ev = e.ev
                        yield e.line, e.ev
                    ready.clear()
                    self.pos = 0
        if self.on_end is not None:
            self.on_end()
        self.ended = True
        stage.flush()
        self._dead()
        yield from self._drain()

    def _drain(self) -> Iterator[tuple[int, InputEvent]]:
        """Yield the released events (and any a checkpoint had left to yield)."""
        stage = self.stage
        pending = self.pending
        if stage.ready:
            pending.extend(stage.ready)
            stage.ready.clear()
        while self.pos < len(pending):
            e = pending[self.pos]
            self.pos += 1
            self._raw = e.raw
            self._ev = e.ev
            yield e.line, e.ev
        pending.clear()
        self.pos = 0

    def _dead(self) -> None:
        dead = self.stage.dead
        for d in dead:
            raw = d[3]
            self.inner.dead_letter(d[1], raw[:-1] if raw.endswith(b"\n") else raw, d[4])
        dead.clear()

    def reject(self, line: int, reason: str) -> None:
        """Dead-letter the event last yielded (``line``): the engine refused it. (Its raw
        line is no longer kept; the event is written as JSON. Messages without exactly one
        target, the one refusal the engine makes, never get this far.)"""
        self.inner.dead_letter(line, self._raw or msgspec.json.encode(self._ev), reason)


class ReorderState:
    """A reorder stage's part of a checkpoint (plain picklable objects)."""

    __slots__ = ("stage", "pending")

    def __init__(self, stage: Reorder[InputEvent],
                 pending: list[Held[InputEvent]]) -> None:
        self.stage = stage
        self.pending = pending

    def __reduce__(self) -> tuple[type, tuple[Reorder[InputEvent], list[Held[InputEvent]]]]:
        return ReorderState, (self.stage, self.pending)
