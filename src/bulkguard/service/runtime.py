"""The service's core: numbers events, applies them through the engine, persists a batch
with everything it caused before acknowledging it, snapshots and resumes.

Order of a batch (under one lock, so batches never interleave):

1. every item gets the next line number (``seq``), as a line of one long input stream: a
   stream sent through ``POST /v1/events`` gets the decisions ``bulkguard replay`` gives for
   the same file; an item whose ``id`` was already accepted is a duplicate and gets none;
2. bad items become dead letters (``rejected``) with a reason naming the field; good ones go
   through :meth:`EngineAdapter.apply`;
3. events, dead letters, decisions (with rules/model/engine versions), statements of
   reasons, reviewer actions, appeals, audit records and the next line number are written
   in one transaction; only then is the batch answered.

A process killed before step 3 committed has acknowledged nothing of the batch; its state
is rebuilt on start from the last snapshot plus the accepted events after it (their
decisions are already stored, so replaying them writes nothing), and the batch, sent
again, gets the same line numbers. A batch committed but not answered, sent again with its
ids, is recognised as duplicates: no event is applied twice, no decision written twice.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import msgspec

from bulkguard.events import Decision, EventError
from bulkguard.service import snapshot
from bulkguard.service.adapter import (
    ENGINE_VERSION, AppealGranted, ChallengePassed, EngineAdapter, Offered, ReviewerAction,
    decode_event, encode_event,
)
from bulkguard.service.config import ServiceConfig
from bulkguard.service.metrics import Metrics
from bulkguard.store.db import Batch, Database, DecisionRow, _set_meta, meta
from bulkguard.store.statements import RESTRICTIONS, statement

log = logging.getLogger("bulkguard.service")

ClientId = Union[str, int, None]


class _WithId(msgspec.Struct):
    id: ClientId = None


_id_decoder = msgspec.json.Decoder(_WithId)
_FIELD = re.compile(r"`\$\.([A-Za-z_][A-Za-z0-9_]*)|field `([A-Za-z_][A-Za-z0-9_]*)`|"
                    r"one of `([a-z_]+)`")
_dec_encoder = msgspec.json.Encoder()


def field_of(reason: str) -> str | None:
    """The field a decoder message names (``Expected `str`, got `int` - at `$.sender``` ->
    ``sender``)."""
    m = _FIELD.search(reason)
    if not m:
        return None
    return next(g for g in m.groups() if g)


@dataclass
class Outcome:
    results: list[dict] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


class ServiceUnavailable(RuntimeError):
    """The store failed; the batch was not acknowledged (retry it)."""


class Runtime:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.data = Path(cfg.data)
        self.data.mkdir(parents=True, exist_ok=True)
        self.db = Database.for_data_dir(self.data, cfg.db)
        self.instance = self._instance_id()
        self.adapter = self._new_adapter()
        self.metrics = Metrics()
        self.lock = asyncio.Lock()
        self.next_seq = self.db.next_seq()
        self.snap_seq = 0
        self.snap_time = time.monotonic()
        self.ready = False
        # told every stored decision, in order, once its batch is committed (e.g. the Synapse
        # Admin API enforcer); a listener must not block (hand the work to a thread)
        self.listeners: list[Callable[[Decision], None]] = []

    def _new_adapter(self) -> EngineAdapter:
        c = self.cfg
        return EngineAdapter(c.rules, c.model, window=c.window, max_window=c.max_window,
                             max_ahead=c.max_ahead)

    def _instance_id(self) -> str:
        v = self.db.get_meta("instance")
        if v is None:
            v = uuid.uuid4().hex
            with self.db.engine.begin() as c:
                _set_meta(c, "instance", v)
        return v

    # -- start ---------------------------------------------------------------------------------
    def resume(self) -> str:
        """Load the last snapshot and replay the accepted events after it (writes nothing)."""
        snap = snapshot.read(self.data, ENGINE_VERSION, self.instance, self.adapter.engine)
        start = 0
        if snap is not None:
            if snap.seq > self.next_seq - 1:
                raise snapshot.SnapshotError(
                    f"{self.data / snapshot.NAME}: snapshot is at line {snap.seq} but the "
                    f"database ends at line {self.next_seq - 1}; refused")
            self.adapter.restore(snap.state)
            start = snap.seq
        n = 0
        for seq, body in self.db.events_after(start):
            # through the clock stage as when it came (its decisions and dead letters are
            # stored already): the stage ends holding what it held
            raw = body.encode()
            try:
                got = self.adapter.offer(seq, decode_event(raw), raw)
            except EventError as err:   # cannot happen for a stored event; say so if it does
                log.error("stored event at line %d no longer applies: %s", seq, err)
            else:
                if got.refused is not None:
                    log.error("stored event at line %d no longer applies: %s", seq, got.refused)
            n += 1
        self.snap_seq = start
        self.metrics.snapshot_line.set(start)
        self.metrics.line.set(self.next_seq - 1)
        self.ready = True
        # The engine state has no reference cycles: keep the collector from walking it (a
        # full collection over millions of records is a pause every request would feel).
        gc.freeze()
        where = f"snapshot at line {start}" if snap is not None else "empty state"
        return f"resumed from {where}, replayed {n} stored events; next line {self.next_seq}"

    # -- batches ---------------------------------------------------------------------------------
    def _prepare(self, raws: list[bytes], known: dict[str, tuple[int, str | None]],
                 actor: str | None) -> tuple[Batch, Outcome]:
        """Apply a batch to the engine and collect what must be stored (nothing stored yet)."""
        b = Batch()
        out = Outcome()
        seq = self.next_seq
        seen: dict[str, int] = {}
        mine: dict[int, dict] = {}   # this batch's results by line
        adapter = self.adapter
        limit = self.cfg.max_line_bytes
        for i, raw in enumerate(raws):
            res: dict = {"index": i}
            cid: ClientId = None
            if b'"id"' in raw:
                try:
                    cid = _id_decoder.decode(raw).id
                except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                    cid = None   # the event decoder below says what is wrong
            key = None if cid is None else str(cid)
            if cid is not None:
                res["id"] = cid
            if key is not None:
                prev = known.get(key)
                if prev is not None and (prev[1] is None or prev[1] == _text(raw)):
                    res.update(status="duplicate", line=prev[0])
                    out.results.append(res)
                    self.metrics.duplicates.inc()
                    continue
                if key in seen:
                    res.update(status="duplicate", line=seen[key])
                    out.results.append(res)
                    self.metrics.duplicates.inc()
                    continue
            res["line"] = seq
            if not raw.strip():
                # an empty line is a line (numbers stay those of the file), never a bad one
                res["status"] = "empty"
                out.results.append(res)
                seq += 1
                continue
            reason: str | None = None
            ev = None
            got: Offered | None = None
            mine[seq] = res
            if len(raw) > limit:
                reason = f"event longer than {limit} bytes"
            elif key is not None and len(key) > 256:
                reason = "`id` longer than 256 characters"
            elif b"\x00" in raw or b"\\u0000" in raw:
                # PostgreSQL text cannot hold NUL: refused here rather than failing the batch
                reason = "NUL character in the event (not storable)"
            else:
                try:
                    ev = decode_event(raw)
                    got = adapter.offer(seq, ev, raw)
                    reason = got.refused
                except EventError as err:
                    reason = str(err)
                except Exception:   # noqa: BLE001 - never a 500 for one event; log without content
                    log.exception("internal error on the event at line %d", seq)
                    reason = "internal error while applying this event (logged)"
                else:
                    # the clock stage refused it at once (a ts in milliseconds...): not accepted
                    for line, _, why in got.dead:
                        if line == seq:
                            reason = why
            if reason is not None or ev is None:
                reason = reason or "not an event"
                res.update(status="rejected", error=reason)
                f = field_of(reason)
                if f:
                    res["field"] = f
                b.rejected.append({"seq": seq, "client_id": key, "reason": reason,
                                   "raw": _text(raw)})
                self.metrics.rejected.inc()
            else:
                res["status"] = "accepted"
                tag = type(ev).__struct_config__.tag
                b.events.append({"seq": seq, "client_id": key, "type": tag, "ts": ev.ts,
                                 "body": encode_event(ev).decode()})
                self.metrics.events.labels(str(tag)).inc()
                self._record_side_effects(b, seq, ev, actor)
            if got is not None:
                # what the stage released now (this event or earlier ones, in ts order) and
                # what it refused of earlier ones (held far ahead, never confirmed)
                for line, e, decisions in got.applied:
                    for d in decisions:
                        self._record_decision(b, d, e)
                    out.decisions.extend(decisions)
                for line, draw, why in got.dead:
                    if line == seq:
                        continue
                    b.rejected.append({"seq": line, "client_id": None, "reason": why,
                                       "raw": _text(draw)})
                    self.metrics.rejected.inc()
                    if line in mine:
                        mine[line].update(status="rejected", error=why)
                got = None
            if key is not None:
                seen[key] = seq
            out.results.append(res)
            seq += 1
        b.next_seq = seq
        return b, out

    def _record_side_effects(self, b: Batch, seq: int, ev: object, actor: str | None) -> None:
        t = type(ev)
        if t is ReviewerAction:
            assert isinstance(ev, ReviewerAction)
            b.reviewer_actions.append({"line": seq, "ts": ev.ts, "account": ev.account,
                                       "action": ev.action, "until": ev.until, "note": ev.note,
                                       "reviewer": actor})
            b.audit.append(("reviewer_action", ev.account,
                            {"line": seq, "ts": ev.ts, "action": ev.action, "until": ev.until,
                             "note": ev.note, "reviewer": actor}))
        elif t is AppealGranted or t is ChallengePassed:
            assert isinstance(ev, (AppealGranted, ChallengePassed))
            outcome = "granted" if t is AppealGranted else "challenge_passed"
            note = ev.note if isinstance(ev, AppealGranted) else None
            b.appeals.append({"line": seq, "ts": ev.ts, "account": ev.account,
                              "outcome": outcome, "note": note})
            b.audit.append(("appeal", ev.account, {"line": seq, "ts": ev.ts, "outcome": outcome,
                                                   "note": note, "by": actor}))

    def _record_decision(self, b: Batch, d: Decision, ev: object) -> None:
        reviewer = isinstance(ev, ReviewerAction)
        source = "reviewer" if reviewer else \
            "appeal" if isinstance(ev, (AppealGranted, ChallengePassed)) else "engine"
        b.decisions.append(DecisionRow(d.line, d.ts, d.account, d.action, d.score,
                                       list(d.reasons), source))
        v = self.adapter.versions
        b.audit.append(("decision", d.account,
                        {"line": d.line, "ts": d.ts, "action": d.action, "score": d.score,
                         "reasons": list(d.reasons), "source": source, "rules": v.rules,
                         "model": v.model, "engine": v.engine}))
        self.metrics.decisions.labels(d.action, d.reasons[0] if d.reasons else "").inc()
        if d.action in RESTRICTIONS:
            explain = {c: self.adapter.reason_text(c) for c in d.reasons}
            note = ev.note if isinstance(ev, ReviewerAction) else None
            until = ev.until if isinstance(ev, ReviewerAction) else None
            puid = f"bg-{self.instance[:12]}-{d.line}-{secrets.token_hex(4)}"
            body = statement(d.action, d.ts, list(d.reasons), puid, explain=explain,
                             automated=not reviewer, business=self.adapter.is_business(d.account),
                             until=until, note=note, earlier_automated=reviewer,
                             config=self.cfg.statements)
            b.statements.append({"puid": puid, "account": d.account, "line": d.line,
                                 "action": d.action, "body": msgspec.json.encode(body).decode()})

    def _known(self, raws: list[bytes]) -> dict[str, tuple[int, str | None]]:
        ids: list[str] = []
        for raw in raws:
            if b'"id"' in raw:
                try:
                    cid = _id_decoder.decode(raw).id
                except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                    continue
                if cid is not None:
                    ids.append(str(cid))
        return self.db.known_ids(ids) if ids else {}

    def _commit(self, b: Batch) -> None:
        t0 = time.perf_counter()
        self.db.commit_batch(b, self.adapter.versions, time.time())
        self.metrics.commit.observe(time.perf_counter() - t0)

    def _finish(self, b: Batch, out: Outcome) -> None:
        self.next_seq = b.next_seq
        self.metrics.line.set(self.next_seq - 1)
        self.metrics.batch.observe(len(out.results))
        for d in out.decisions:
            for listener in self.listeners:
                try:
                    listener(d)
                except Exception:   # noqa: BLE001 - a listener never fails a stored batch
                    log.exception("decision listener %r failed", listener)

    def _recover(self) -> None:
        """After a failed write the engine is ahead of the store: rebuild it from the store.
        Until that succeeds the service is not ready and refuses batches (503)."""
        log.error("database write failed; rebuilding the engine state from the last snapshot")
        self.ready = False
        try:
            self.adapter = self._new_adapter()
            self.next_seq = self.db.next_seq()
            self.resume()
        except Exception as err:  # noqa: BLE001 - the database may still be away: retry later
            log.error("rebuild failed (%s); will retry on the next batch", type(err).__name__)

    def _batch(self, raws: list[bytes], known: dict[str, tuple[int, str | None]],
               actor: str | None) -> tuple[Batch, Outcome]:
        if not self.ready:
            self._recover()
            if not self.ready:
                raise ServiceUnavailable("the engine state is being rebuilt from the database")
        try:
            return self._prepare(raws, known, actor)
        except Exception as err:   # a bug, not bad input (that is per item): state is suspect
            log.exception("batch failed while being applied")
            self._recover()
            raise ServiceUnavailable(f"batch failed: {type(err).__name__}") from err

    def ingest_blocking(self, raws: list[bytes], actor: str | None = None) -> Outcome:
        """Process and store a batch (no event loop: tools and tests)."""
        try:
            known = self._known(raws)
        except Exception as err:
            raise ServiceUnavailable(f"database read failed: {type(err).__name__}") from err
        b, out = self._batch(raws, known, actor)
        try:
            self._commit(b)
        except Exception as err:
            self._recover()
            raise ServiceUnavailable(f"database write failed: {type(err).__name__}") from err
        self._finish(b, out)
        self.maybe_snapshot()
        return out

    async def ingest(self, raws: list[bytes], actor: str | None = None) -> Outcome:
        """Process and store a batch; the engine runs on the event loop (so reads never see a
        half-applied event), the database write in a worker thread."""
        from starlette.concurrency import run_in_threadpool
        async with self.lock:
            try:
                known = await run_in_threadpool(self._known, raws)
            except Exception as err:
                raise ServiceUnavailable(f"database read failed: {type(err).__name__}") from err
            b, out = self._batch(raws, known, actor)
            try:
                await run_in_threadpool(self._commit, b)
            except Exception as err:
                self._recover()
                raise ServiceUnavailable(f"database write failed: {type(err).__name__}") from err
            self._finish(b, out)
            self.maybe_snapshot()
        return out

    # -- snapshots --------------------------------------------------------------------------------
    def maybe_snapshot(self, force: bool = False) -> bool:
        due_events = self.next_seq - 1 - self.snap_seq >= self.cfg.snapshot_every_events
        due_time = time.monotonic() - self.snap_time >= self.cfg.snapshot_every_seconds
        if not (force or due_events or (due_time and self.next_seq - 1 > self.snap_seq)):
            return False
        self.snapshot_now()
        return True

    def snapshot_now(self) -> None:
        """Write a snapshot of the state as of the last stored line (call under the lock)."""
        seq = self.next_seq - 1
        t0 = time.perf_counter()
        snapshot.write(self.data, snapshot.Snapshot(seq, ENGINE_VERSION, self.instance,
                                                     self.adapter.state()))
        self.snap_seq = seq
        self.snap_time = time.monotonic()
        gc.freeze()   # the state grown since the last freeze (see ``resume``)
        self.metrics.snapshot_line.set(seq)
        log.info("snapshot at line %d written in %.3f s", seq, time.perf_counter() - t0)

    async def snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.cfg.snapshot_every_seconds))
            async with self.lock:
                try:
                    self.maybe_snapshot()
                except Exception as err:  # noqa: BLE001 - keep serving; the next one may work
                    log.error("snapshot failed: %s: %s", type(err).__name__, err)

    def close(self) -> None:
        self.db.close()


def _text(raw: bytes) -> str:
    """The raw item as text for the database: UTF-8, or hex when it is not (or holds NUL)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + raw.hex()
    return "hex:" + raw.hex() if "\x00" in text else text


def encode_decisions(ds: list[Decision]) -> list[dict]:
    return [msgspec.to_builtins(d) for d in ds]


__all__ = ["Runtime", "Outcome", "ServiceUnavailable", "field_of", "meta"]
