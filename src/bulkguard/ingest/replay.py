"""``bulkguard replay``: a file of events in, a file of decisions out.

Resumable: with ``--state DIR`` the run checkpoints the engine, the input line and
the byte offsets of both output files every N events (atomically, after an fsync of
the outputs). A run killed at any moment and started again with the same arguments
truncates its outputs to the last checkpoint, skips the input lines it had done and
goes on, so the decisions file ends identical to an uninterrupted run's.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec

from bulkguard.engine import Engine
from bulkguard.events import (
    DeadLetters, EventError, ReadStats, _decoder, _explain, after_bom, open_input,
)
from bulkguard.scoring.rules import Rules, RulesError
from bulkguard.store.decisions import JsonlSink

CHECKPOINT = "checkpoint.pkl"
FORMAT = 3   # of checkpoints: 3 since pair records count turns and clusters keep times


@dataclass
class ReplayResult:
    stats: ReadStats
    decisions: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    accounts: int = 0
    resumed_from: int = 0

    @property
    def rate(self) -> float:
        return (self.stats.accepted / self.seconds) if self.seconds > 0 else 0.0


def default_rejected(out: str) -> str:
    """Dead-letter path next to the decisions file: ``d.jsonl`` -> ``d.rejected.jsonl``."""
    if out == "-":
        return "rejected.jsonl"
    p = Path(out)
    stem = p.name[:-len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return str(p.with_name(stem + ".rejected.jsonl"))


def build_engine(rules_path: str | None = None, model_path: str | None = None) -> Engine:
    """The engine with its shipped (or given) rules, model and policies."""
    from bulkguard.components import load_components
    rules = Rules.load(rules_path)
    return Engine(rules, **load_components(model_path))


def _fingerprint(events: str, rules: Rules, model: str | None, out: str) -> str:
    """Identity of a run: input (path and its first 64 KiB, so a regenerated file at the
    same path is not mistaken for the old one; appending is fine), rules, model, output."""
    src = os.path.abspath(events) if events != "-" else "-"
    h = hashlib.sha256(f"{FORMAT}|{src}|{rules.digest}|{model}|{os.path.abspath(out)}".encode())
    if events != "-":
        with open_input(events) as f:
            h.update(f.read(1 << 16))
    return h.hexdigest()


class StrictStop(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def replay(events: str, out: str, *, rejected: str | None = None, strict: bool = False,
           rules_path: str | None = None, model_path: str | None = None,
           state_dir: str | None = None, checkpoint_every: int = 200_000,
           progress: bool = False, engine: Engine | None = None,
           scores_path: str | None = None) -> ReplayResult:
    """Replay ``events`` into the decisions file ``out``; see the module docstring."""
    eng = engine or build_engine(rules_path, model_path)
    rejected = rejected or default_rejected(out)
    stats = ReadStats()
    result = ReplayResult(stats)
    ckpt_path = Path(state_dir) / CHECKPOINT if state_dir else None
    fp = _fingerprint(events, eng.rules, model_path, out)
    skip, out_pos, dead_pos = 0, None, 0
    if ckpt_path is not None and ckpt_path.exists():
        with open(ckpt_path, "rb") as fh:
            ck = pickle.load(fh)
        if ck.get("fingerprint") != fp:
            raise ValueError(f"{ckpt_path}: checkpoint belongs to another run (different events, "
                             "rules, model or output); use another --state directory or delete it")
        eng.restore(ck["engine"])
        skip, out_pos, dead_pos = ck["line"], ck["out_pos"], ck["dead_pos"]
        for k, v in ck["stats"].items():
            setattr(stats, k, v)
        result.decisions.update(ck["decisions"])
        result.resumed_from = skip
    # A fresh run starts the dead letters afresh; a resumed one cuts them back to the checkpoint.
    if os.path.exists(rejected):
        with open(rejected, "r+b") as fw:
            fw.truncate(dead_pos)
    dead = DeadLetters(rejected)
    sink = JsonlSink(out, resume_at=out_pos)

    def checkpoint(line: int) -> None:
        sink.flush(sync=True)
        dead.flush()
        dpos = os.path.getsize(rejected) if os.path.exists(rejected) else 0
        tmp = ckpt_path.with_suffix(".tmp")  # type: ignore[union-attr]
        with open(tmp, "wb") as fc:
            pickle.dump({"fingerprint": fp, "engine": eng.snapshot(), "line": line,
                         "out_pos": sink.position(), "dead_pos": dpos,
                         "stats": {"read": line,
                                   "accepted": line - stats.rejected - stats.empty,
                                   "rejected": stats.rejected, "empty": stats.empty},
                         "decisions": dict(result.decisions)}, fc, protocol=pickle.HIGHEST_PROTOCOL)
            fc.flush()
            os.fsync(fc.fileno())
        os.replace(tmp, ckpt_path)  # type: ignore[arg-type]

    if ckpt_path is not None:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)

    bar = _Progress(events, enabled=progress)
    decode = _decoder.decode
    out_list = eng.out
    tally = result.decisions
    n = skip
    next_ckpt = skip + checkpoint_every if ckpt_path is not None else -1
    next_tick = skip + 65_536
    next_mark = min(next_tick, next_ckpt) if next_ckpt > 0 else next_tick
    t0 = time.perf_counter()
    # The state holds no reference cycles: the collector would only spend time looking.
    gc_was = gc.isenabled()
    gc.disable()
    try:
        with open_input(events) as f:
            for n, raw in enumerate(islice(f, skip, None), skip + 1):
                reason: str | None = None
                try:
                    ev = decode(raw)
                    if not raw.isascii():  # msgspec skips unknown fields unchecked
                        raw.decode("utf-8")
                except (msgspec.DecodeError, UnicodeDecodeError) as err:
                    if not raw.strip():
                        stats.empty += 1
                        continue
                    bom = after_bom(raw) if n == 1 else None
                    if bom is None:
                        reason = _explain(err, raw[:-1] if raw.endswith(b"\n") else raw)
                    else:
                        ev = bom
                if reason is None:
                    try:
                        eng.handle(n, ev)
                    except EventError as bad:   # a message with neither or both targets
                        reason = str(bad)
                if reason is not None:
                    stats.rejected += 1
                    if strict:
                        raise StrictStop(n, reason) from None
                    dead.write(n, raw[:-1] if raw.endswith(b"\n") else raw, reason)
                    continue
                if out_list:
                    for d in out_list:
                        tally[d.action] += 1
                    sink.write_many(out_list)
                    out_list.clear()
                if n >= next_mark:
                    if n >= next_tick:
                        next_tick = n + 65_536
                        bar.update(n, f)
                    if 0 < next_ckpt <= n:
                        next_ckpt = n + checkpoint_every
                        checkpoint(n)
                    next_mark = min(next_tick, next_ckpt) if next_ckpt > 0 else next_tick
        if ckpt_path is not None:
            checkpoint(n)
    finally:
        if gc_was:
            gc.enable()
        result.seconds = time.perf_counter() - t0
        stats.read = n  # every physical line up to n was read: accepted is what is left
        stats.accepted = n - stats.rejected - stats.empty
        bar.close()
        sink.close()
        dead.close()
    result.accounts = len(eng.world.accounts)
    if scores_path:
        write_scores(eng, scores_path)
    return result


def write_scores(eng: Engine, path: str) -> None:
    """Each account's highest score, one JSON object a line (for threshold curves)."""
    enc = msgspec.json.Encoder()
    names = eng.world.names
    with open(path, "wb") as f:
        for a in eng.world.accounts.values():
            f.write(enc.encode({"account": names[a.id], "max_score": round(a.peak, 4)}) + b"\n")


class _Progress:
    """A rich progress bar over the input's bytes, only on a terminal."""

    def __init__(self, path: str, enabled: bool) -> None:
        self.p = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        size = os.path.getsize(path) if path != "-" and os.path.exists(path) else None
        self.p = Progress(TextColumn("replay"), BarColumn(), TextColumn("{task.fields[lines]} lines"),
                          TimeRemainingColumn(), transient=True)
        self.task = self.p.add_task("replay", total=size, lines=0)
        self.p.start()

    def update(self, lines: int, f: Any) -> None:
        if self.p is not None:
            try:
                pos = f.fileobj.tell() if hasattr(f, "fileobj") else f.tell()
            except (OSError, ValueError, AttributeError):
                pos = None
            self.p.update(self.task, completed=pos, lines=lines)

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()


def summary(r: ReplayResult) -> str:
    acts = ", ".join(f"{k} {v}" for k, v in sorted(r.decisions.items())) or "none"
    resumed = f" (resumed after line {r.resumed_from})" if r.resumed_from else ""
    return (f"{r.stats.summary()}{resumed}\n"
            f"events {r.stats.accepted} in {r.seconds:.2f} s ({r.rate:,.0f} events/s), "
            f"accounts {r.accounts}, decisions: {acts}")


def run(args: Any) -> int:
    """CLI entry: ``bulkguard replay``."""
    progress = not args.quiet and sys.stderr.isatty()
    report = sys.stderr if args.out == "-" else sys.stdout
    try:
        r = replay(args.events, args.out, rejected=args.rejected, strict=args.strict,
                   rules_path=args.rules, model_path=args.model, state_dir=args.state,
                   checkpoint_every=args.checkpoint_every, progress=progress,
                   scores_path=args.scores)
    except StrictStop as stop:   # (names differ: compiled, one name has one type)
        print(f"bulkguard replay: {args.events}: {stop} (--strict)", file=sys.stderr)
        return 2
    except (RulesError, FileNotFoundError, ValueError, OSError) as err:
        print(f"bulkguard replay: {err}", file=sys.stderr)
        return 2
    print(summary(r), file=report)
    return 0
