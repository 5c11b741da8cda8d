"""The types every seam of bulkguard uses, in one small module (as ``starlette/types.py``).

The engine sits between an injected :class:`EventSource` and a :class:`DecisionSink`;
its collaborators (model, text scorer, business lane, forwarding limits) are the
protocols below, so a test, the replay command and the HTTP service can each plug in
their own. Nothing here is ``Any``: mypy checks every seam (``make test`` runs it).

``InputEvent`` is the closed union of the contract's event types: ``Engine.handle``
dispatches over it with ``typing.assert_never``, so a new event type without a handler
is a mypy error, not a run-time surprise.

>>> from bulkguard.store.decisions import MemorySink
>>> isinstance(MemorySink(), DecisionSink)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NotRequired, Protocol, TypedDict, runtime_checkable

from bulkguard.events import AnyEvent, Decision, Event, Message

if TYPE_CHECKING:  # the state's classes, for annotations only (no import cycle at run time)
    from bulkguard.ingest.reorder import ReorderState
    from bulkguard.policy.appeals import Amnesty
    from bulkguard.state.world import World

#: The closed union of contract event types (``events.AnyEvent``; one name for the seams).
InputEvent = AnyEvent


class Model(Protocol):
    """A trained scorer of signal vectors (``scoring.model.Model``)."""

    def probability(self, v: list[float]) -> float:
        """Calibrated probability that the account behind ``v`` is abusive."""
        ...

    def reasons(self, v: list[float], p: float) -> list[tuple[float, str]]:
        """``(weight, "MODEL_<FEATURE>")`` for its largest positive contributions."""
        ...


class TextScorer(Protocol):
    """Spam probability of the message texts a report quotes (``scoring.text``)."""

    def score_messages(self, messages: Iterable[str]) -> float: ...


class LanePolicy(Protocol):
    """The business lane (``policy.business.BusinessLane``)."""

    @property
    def biz(self) -> Mapping[str, object]:
        """The business accounts it knows (the engine looks here on every message)."""
        ...

    def observe(self, ev: Event, now: float) -> None:
        """Take in a register, template, consent, block or report event."""
        ...

    def check_message(self, ev: Message, now: float) -> str | None:
        """The refusal code for ``ev`` (a message that involves a business), or None."""
        ...


class ForwardPolicy(Protocol):
    """Forwarding limits (``policy.forwarding.ForwardLimiter``)."""

    def check(self, ev: Message, now: float) -> str | None:
        """``"FORWARD_LIMIT"`` when a forwarded message goes to too many chats, else None."""
        ...


class Observer(Protocol):
    """Called at every re-score with the account, its signal vector and the events so far
    (training collects its rows this way)."""

    def __call__(self, account: str, v: list[float], events: int, /) -> None: ...


class StateSnapshot(TypedDict):
    """Everything an engine changes while it runs (rules, model and classifiers are
    reloaded, not saved): what a checkpoint stores."""

    world: World
    events: int
    lane: LanePolicy | None
    forward: ForwardPolicy | None
    seen: dict[str, int]    # optional event family -> events seen (what replay reports)
    typed: int              # messages that carried typing_ms
    reorder: NotRequired[ReorderState]   # events a reorder stage held (replay adds it)
    amnesty: NotRequired[dict[int, Amnesty]]   # reinstated accounts (absent in older states)


@runtime_checkable
class DecisionSink(Protocol):
    """Where decisions go: a JSON Lines file, a list in memory, later a database."""

    def write_many(self, decisions: Sequence[Decision]) -> None: ...

    def position(self) -> int:
        """How much is durably written (bytes of a file, rows of a table): a checkpoint
        stores it, and a resumed run cuts the sink back to it."""
        ...

    def close(self) -> None: ...


class DeadLetterSink(Protocol):
    """Where bad input goes, unchanged, with its position and the reason
    (``events.DeadLetters`` writes a file; ``ingest.sources.MemoryDeadLetters`` keeps a list)."""

    def write(self, line_no: int, raw: bytes, reason: str) -> None: ...


class EventSource(Protocol):
    """Where events come from: a file, a list in memory, an HTTP batch, a message bus.

    Iterating yields ``(line, event)`` for each valid event, in order; ``line`` is the
    event's position in the input (the physical line of a file, 1-based), which decisions
    carry. A bad item never reaches the caller: the source writes it to its dead letters.
    When the engine refuses an event the source let through (``EventError``), the caller
    hands it back with :meth:`reject`, so that it is dead-lettered like any bad line.
    """

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]: ...

    def reject(self, line: int, reason: str) -> None:
        """Dead-letter the item at ``line`` (the last one yielded) for ``reason``."""
        ...


class Checkpoints(Protocol):
    """A store of the engine state and the input/output positions it corresponds to."""

    def save(self, state: StateSnapshot, position: Position) -> None: ...

    def load(self) -> tuple[StateSnapshot, Position] | None:
        """The last saved state and position, or None when there is none."""
        ...


class Position(TypedDict):
    """How far a run had got when its state was saved."""

    line: int                  # input lines done
    out_pos: int               # the decision sink's position()
    dead_pos: int              # bytes of the dead-letter file
    stats: dict[str, int]      # read, accepted, rejected, empty
    decisions: dict[str, int]  # decisions written, by action
