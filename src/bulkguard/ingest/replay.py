"""``bulkguard replay``: a file of events in, a file of decisions out.

A short composition of separate pieces: a :class:`~bulkguard.ingest.sources.FileSource`
(decoding, dead letters, progress), the engine, a
:class:`~bulkguard.store.decisions.JsonlSink` and a checkpoint store
(:mod:`bulkguard.store.checkpoint`), run by :func:`~bulkguard.ingest.pump.pump`.

Between the source and the engine sits the stream clock and reorder window
(:mod:`bulkguard.ingest.reorder`, docs/time.md): events up to ``window`` seconds late are
applied in ``ts`` order, an event too far ahead of the stream is dead-lettered.

Resumable: with ``--state DIR`` the run checkpoints the engine, the events the reorder
window holds, the input line and the byte offsets of both output files every N events
(atomically, after an fsync of the outputs). A run killed at any moment and started again with the same arguments
truncates its outputs to the last checkpoint, skips the input lines it had done and
goes on, so the decisions file ends identical to an uninterrupted run's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from bulkguard.components import build_engine
from bulkguard.engine import Engine
from bulkguard.events import DeadLetters, ReadStats
from bulkguard.ingest import pipeline
from bulkguard.ingest.pump import pump
from bulkguard.ingest.reorder import (
    DEFAULT_MAX_AHEAD, DEFAULT_WINDOW, Reorder, ReorderedSource, default_max_window,
    first_actor,
)
from bulkguard.ingest.sources import FileSource, StrictStop
from bulkguard.scoring.rules import RulesError
from bulkguard.store.decisions import JsonlSink
from bulkguard.types import InputEvent, Position

if TYPE_CHECKING:   # checkpoints are imported by a run with --state only (start-up)
    from bulkguard.store.checkpoint import RunIdentity, StateCheckpoints

__all__ = ["ReplayResult", "StrictStop", "default_rejected", "replay", "run",
           "summary", "write_scores"]


@dataclass
class ReplayResult:
    stats: ReadStats
    decisions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    accounts: int = 0
    resumed_from: int = 0
    window: float = DEFAULT_WINDOW
    widest: float = DEFAULT_WINDOW   # the widest the window grew to (events came later)
    late: int = 0        # events applied late (after later ones, beyond the reorder window)
    too_far: int = 0     # events dead-lettered as too far ahead of the stream
    families: dict[str, int] = field(default_factory=dict)   # optional family -> events seen
    provides: frozenset[str] = frozenset()                   # what [platform] says is provided

    @property
    def rate(self) -> float:
        return (self.stats.accepted / self.seconds) if self.seconds > 0 else 0.0


def default_rejected(out: str) -> str | None:
    """Dead-letter path next to the decisions file: ``d.jsonl`` -> ``d.rejected.jsonl``.
    None for ``--out -``: decisions on standard output keep no file unless ``--rejected``
    names one (a fixed default would truncate whatever ``./rejected.jsonl`` was)."""
    if out == "-":
        return None
    p = Path(out)
    stem = p.name[:-len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return str(p.with_name(stem + ".rejected.jsonl"))


def replay(events: str, out: str, *, rejected: str | None = None, strict: bool = False,
           rules_path: str | None = None, model_path: str | None = None,
           state_dir: str | None = None, checkpoint_every: int = 200_000,
           progress: bool = False, engine: Engine | None = None,
           scores_path: str | None = None, window: float = DEFAULT_WINDOW,
           max_ahead: float = DEFAULT_MAX_AHEAD,
           max_window: float | None = None, workers: int = 1) -> ReplayResult:
    """Replay ``events`` into the decisions file ``out``; see the module docstring.

    ``window``: seconds of event time an event may arrive late and still be applied in
    order (0..3600); it grows up to ``max_window`` (default 900 s; 0 with ``window`` 0)
    while events arrive later than it; ``max_ahead``: seconds ahead of stream time beyond
    which an event needs confirmation by the events after it (docs/time.md).

    ``workers``: 2 reads the input in a second process (``ingest.pipeline``: the same
    decisions and dead letters, not with ``state_dir``); 1 (and the pure-Python build,
    which has no pipeline) replays in this process."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: must be at least 1")
    if workers > 1 and state_dir is not None:
        raise ValueError("--state with --workers 2: a checkpoint holds one process's state; "
                         "use --workers 1 for a resumable run")
    if max_window is None:
        max_window = default_max_window(window)
    stage: Reorder[InputEvent] = Reorder(window, max(max_ahead, max_window),
                                         max_window=max_window,
                                         actor_of=first_actor)   # validates all three
    eng = engine or build_engine(rules_path, model_path)
    rejected = rejected or default_rejected(out)
    _check_paths(events, out, rejected, scores_path, state_dir)
    stats = ReadStats()
    result = ReplayResult(stats, window=window, widest=window)
    source_box: list[FileSource] = []
    store: StateCheckpoints | None = None
    if state_dir:
        from bulkguard.store.checkpoint import StateCheckpoints
        store = StateCheckpoints(state_dir, _identity(events, eng, model_path, out, rejected,
                                                      scores_path, window, max_ahead, max_window),
                                 eng, lambda: source_box[0].bytes_read())
    try:
        saved = store.load() if store is not None else None
        pos: Position | None = None
        held = None
        if saved is not None:
            state, pos = saved
            _check_outputs(store.path, out, pos["out_pos"], rejected, pos["dead_pos"])  # type: ignore[union-attr]
            held = state.pop("reorder", None)
            eng.restore(state)
            for k, v in pos["stats"].items():
                setattr(stats, k, v)
            result.decisions.update(pos["decisions"])
            result.resumed_from = pos["line"]
    except BaseException:
        if store is not None:
            store.close()
        raise
    skip = pos["line"] if pos is not None else 0
    # A fresh run starts the dead letters afresh; a resumed one cuts them back to the checkpoint.
    if rejected is not None and os.path.exists(rejected):
        with open(rejected, "r+b") as fw:
            fw.truncate(pos["dead_pos"] if pos is not None else 0)
    dead = DeadLetters(rejected)
    if workers > 1 and pipeline.available():
        return _replay_piped(events, eng, result, dead, stage, strict=strict,
                             progress=progress, out=out, scores_path=scores_path)
    sink = JsonlSink(out, resume_at=pos["out_pos"] if pos is not None else None)
    source = FileSource(events, dead, strict=strict, start=skip, stats=stats, progress=progress)
    source_box.append(source)

    def save(line: int) -> None:
        assert store is not None
        sink.flush(sync=True)
        dead.flush()
        dpos = os.path.getsize(rejected) if rejected is not None and os.path.exists(rejected) else 0
        snap = eng.snapshot()
        snap["reorder"] = ordered.state()
        store.save(snap, Position(
            line=line, out_pos=sink.position(), dead_pos=dpos,
            stats={"read": line, "accepted": line - stats.rejected - stats.empty,
                   "rejected": stats.rejected, "empty": stats.empty},
            decisions=dict(result.decisions)))

    def checkpoint(_line: int) -> None:
        # the input is done up to the last line the reorder stage took, not the line of the
        # event just applied; once the input has ended the last checkpoint is written
        if not ordered.ended:
            save(ordered.consumed)

    def at_end() -> None:
        # before the window empties: resumed after more input, the run goes on as one
        if store is not None:
            save(stats.read)

    ordered = ReorderedSource(source, stage, at_end, held)
    t0 = time.perf_counter()
    try:
        pump(ordered, eng, sink, result.decisions, checkpoint if store is not None else None,
             checkpoint_every, skip)
    finally:
        result.seconds = time.perf_counter() - t0
        source.close()
        try:
            sink.close()
        finally:
            dead.close()
            if store is not None:
                store.close()
    st = ordered.stage
    return _finish(result, eng, st.late, st.widest, st.too_far, scores_path)


def _finish(result: ReplayResult, eng: Engine, late: int, widest: float, too_far: int,
            scores_path: str | None) -> ReplayResult:
    """What a replay reports once its input is done (one process or two)."""
    s = result.stats   # refusals after the input had ended (the engine's, the window's) count
    s.accepted = s.read - s.rejected - s.empty
    result.late = late
    result.widest = widest
    result.too_far = too_far
    result.accounts = len(eng.world.accounts)
    result.families = eng.families_seen()
    result.provides = eng.rules.provides
    if scores_path:
        write_scores(eng, scores_path)
    return result


def _replay_piped(events: str, eng: Engine, result: ReplayResult, dead: DeadLetters,
                  stage: Reorder[InputEvent], *, strict: bool, progress: bool, out: str,
                  scores_path: str | None) -> ReplayResult:
    """``replay`` with the input read in a second process (``ingest.pipeline``)."""
    try:
        sink = JsonlSink(out)
    except BaseException:
        dead.close()
        raise
    t0 = time.perf_counter()
    try:
        end = pipeline.replay_piped(events, eng, sink, dead, stage, result.stats,
                                    result.decisions, strict=strict, progress=progress)
    finally:
        result.seconds = time.perf_counter() - t0
        try:
            sink.close()
        finally:
            dead.close()
    return _finish(result, eng, end["late"], end["widest"], end["too_far"], scores_path)


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _check_paths(events: str, out: str, rejected: str | None, scores: str | None,
                 state_dir: str | None) -> None:
    """Refuse outputs that would destroy the input or each other, and resumable runs that
    cannot be checked (standard input) or cut back (standard output)."""
    outs = [(flag, p) for flag, p in (("--out", out), ("--rejected", rejected),
                                      ("--scores", scores)) if p is not None and p != "-"]
    if events != "-":
        for flag, p in outs:
            if _same(p, events):
                raise ValueError(f"{flag} {p} is the input file: refusing to overwrite it")
    for i, (flag, p) in enumerate(outs):
        for flag2, p2 in outs[i + 1:]:
            if _same(p, p2):
                raise ValueError(f"{flag} and {flag2} are the same file ({p})")
    if state_dir is not None:
        if events == "-":
            raise ValueError("--state needs an input file: standard input cannot be checked "
                             "again when the run resumes")
        if out == "-":
            raise ValueError("--state needs --out FILE: standard output cannot be cut back "
                             "to a checkpoint")


def _identity(events: str, eng: Engine, model_path: str | None, out: str,
              rejected: str | None, scores: str | None, window: float,
              max_ahead: float, max_window: float) -> RunIdentity:
    from bulkguard.store.checkpoint import RunIdentity, content_digest
    if model_path == "none":
        model = "none"
    elif model_path is None:
        import hashlib
        from importlib import resources
        res = resources.files("bulkguard.scoring").joinpath("model.json")
        model = "shipped " + (hashlib.sha256(res.read_bytes()).hexdigest()
                              if res.is_file() else "none")
    else:
        model = content_digest(model_path)
    return RunIdentity(input=os.path.abspath(events), rules=eng.rules.digest, model=model,
                       outputs=tuple(os.path.abspath(p) if p is not None else ""
                                     for p in (out, rejected, scores)),
                       options=f"window={window:g}|ahead={max_ahead:g}|max-window={max_window:g}")


def _check_outputs(ckpt: Path, out: str, out_pos: int, rejected: str | None,
                   dead_pos: int) -> None:
    """The outputs a checkpoint points into must still hold what it counted: never pad a
    deleted or shortened file with zeros."""
    for flag, p, pos in (("decisions", out, out_pos), ("dead-letter", rejected, dead_pos)):
        if p is None or pos == 0:
            continue
        size = os.path.getsize(p) if os.path.isfile(p) else -1
        if size < pos:
            what = "is missing" if size < 0 else f"has {size} bytes"
            raise ValueError(f"{ckpt}: the {flag} file {p} {what}, the checkpoint counted "
                             f"{pos}: it was changed since; delete the --state directory to "
                             "start afresh")


def write_scores(eng: Engine, path: str) -> None:
    """Each account's highest score, one JSON object a line (for threshold curves)."""
    enc = msgspec.json.Encoder()
    names = eng.world.names
    with open(path, "wb") as f:
        for a in eng.world.accounts.values():
            f.write(enc.encode({"account": names[a.id], "max_score": round(a.peak, 4)}) + b"\n")


def families_line(r: ReplayResult) -> str:
    """Which optional event families the run saw, and how they compare with ``provides``.

    >>> r = ReplayResult(ReadStats(), families={"register": 3, "typing": 10},
    ...                  provides=frozenset({"register", "contacts"}))
    >>> families_line(r)
    'families seen: register 3, typing 10 (not provided: ignored); provided, not seen: contacts'
    """
    from bulkguard.signals import OPTIONAL
    seen = [f"{f} {r.families[f]}" + ("" if f in r.provides else " (not provided: ignored)")
            for f in OPTIONAL if r.families.get(f)]
    unseen = [f for f in OPTIONAL if f in r.provides and not r.families.get(f)]
    return ("families seen: " + (", ".join(seen) or "none (messages only)")
            + (f"; provided, not seen: {', '.join(unseen)}" if unseen else ""))


def summary(r: ReplayResult) -> str:
    acts = ", ".join(f"{k} {v}" for k, v in sorted(r.decisions.items())) or "none"
    resumed = f" (resumed after line {r.resumed_from})" if r.resumed_from else ""
    return (f"{r.stats.summary()}{resumed}\n"
            f"events {r.stats.accepted} in {r.seconds:.2f} s ({r.rate:,.0f} events/s), "
            f"accounts {r.accounts}, decisions: {acts}\n"
            f"reorder window {r.window:g} s"
            + (f" (grew up to {r.widest:.0f} s)" if r.widest > r.window else "")
            + f": {r.late} events applied late, "
            f"{r.too_far} too far ahead of the stream (dead-lettered)"
            f"\n{families_line(r)}")


def run(args: argparse.Namespace) -> int:
    """CLI entry: ``bulkguard replay``."""
    progress = not args.quiet and sys.stderr.isatty()
    report = sys.stderr if args.out == "-" else sys.stdout
    try:
        r = replay(args.events, args.out, rejected=args.rejected, strict=args.strict,
                   rules_path=args.rules, model_path=args.model, state_dir=args.state,
                   checkpoint_every=args.checkpoint_every, progress=progress,
                   scores_path=args.scores, window=args.window, max_ahead=args.max_ahead,
                   max_window=args.max_window,
                   workers=(pipeline.auto_workers(args.events, args.state)
                            if args.workers == "auto" else args.workers))
    except StrictStop as stop:   # (names differ: compiled, one name has one type)
        print(f"bulkguard replay: {args.events}: {stop} (--strict)", file=sys.stderr)
        return 2
    except (RulesError, FileNotFoundError, ValueError, OSError) as err:
        print(f"bulkguard replay: {err}", file=sys.stderr)
        return 2
    print(summary(r), file=report)
    return 0
