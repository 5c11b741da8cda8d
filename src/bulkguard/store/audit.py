"""The append-only audit log: table ``audit``, each record chained to the one before.

A record is ``(seq, at, kind, subject, body)``; its ``hash`` is
``sha256(prev_hash + "\\n" + seq|at|kind|subject|body)`` and ``prev_hash`` is the previous
record's hash (64 zeros for the first). The head (record count and last hash) is kept in
``meta`` and moved in the same transaction, so a record edited, inserted, or deleted —
the last one included — breaks the chain at a place :func:`verify` names.

A keyless chain proves the log was not changed by anyone who did not also recompute every
later hash and the head; publish :func:`head` (``bulkguard audit head``) somewhere else
to anchor it against that too.

>>> from sqlalchemy import create_engine
>>> from bulkguard.store.db import metadata, meta
>>> eng = create_engine("sqlite://")
>>> metadata.create_all(eng)
>>> with eng.begin() as c:
...     append(c, [("key_created", "bgk_0001", {"scope": "ingest"})], 1.0)
>>> verify_engine(eng).ok
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from bulkguard.store.db import audit, decisions, meta

GENESIS = "0" * 64


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def record_hash(prev: str, seq: int, at: float, kind: str, subject: str, body: str) -> str:
    text = f"{prev}\n{seq}|{at!r}|{kind}|{subject}|{body}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_head(c: Connection, lock: bool) -> tuple[int, str]:
    q = select(meta.c.value).where(meta.c.key == "audit_head")
    if lock:
        q = q.with_for_update()
    v = c.execute(q).scalar()
    if v is None:
        return 0, GENESIS
    n, _, h = str(v).partition(":")
    return int(n), h


def append(c: Connection, records: list[tuple[str, str, dict[str, Any]]], at: float) -> None:
    """Append ``(kind, subject, body)`` records inside the caller's transaction."""
    if not records:
        return
    n, prev = _read_head(c, lock=True)
    if c.execute(select(meta.c.key).where(meta.c.key == "audit_head")).first() is None:
        c.execute(meta.insert().values(key="audit_head", value=f"0:{GENESIS}"))
    rows = []
    for kind, subject, body in records:
        n += 1
        text = _canonical(body)
        h = record_hash(prev, n, at, kind, subject, text)
        rows.append({"seq": n, "at": at, "kind": kind, "subject": subject, "body": text,
                     "prev_hash": prev, "hash": h})
        prev = h
    c.execute(audit.insert(), rows)
    c.execute(update(meta).where(meta.c.key == "audit_head").values(value=f"{n}:{prev}"))


@dataclass
class VerifyResult:
    ok: bool
    records: int
    message: str
    bad_seq: int | None = None


def verify(c: Connection) -> VerifyResult:
    """Walk the chain; name the first edited, inserted or deleted record."""
    n_head, h_head = _read_head(c, lock=False)
    prev = GENESIS
    expected = 1
    q = select(audit.c.seq, audit.c.at, audit.c.kind, audit.c.subject, audit.c.body,
               audit.c.prev_hash, audit.c.hash).order_by(audit.c.seq)
    for seq, at, kind, subject, body, prev_hash, h in c.execute(q):
        seq = int(seq)
        if seq != expected:
            if seq > expected:
                return VerifyResult(False, expected - 1,
                                    f"audit record {expected} is missing (deleted): "
                                    f"record {seq} follows record {expected - 1}", expected)
            return VerifyResult(False, expected - 1, f"audit record {seq} is out of order", seq)
        own = record_hash(str(prev_hash), seq, float(at), str(kind), str(subject), str(body))
        if own != h:
            return VerifyResult(False, seq - 1,
                                f"audit record {seq} ({kind} {subject}) was edited: "
                                "its hash does not match its content", seq)
        if prev_hash != prev:
            return VerifyResult(False, seq - 1,
                                f"audit record {seq} ({kind} {subject}) was inserted or the "
                                f"record before it changed: it does not chain to record {seq - 1}",
                                seq)
        prev = str(h)
        expected += 1
    count = expected - 1
    if count < n_head:
        return VerifyResult(False, count,
                            f"audit record {count + 1} is missing (deleted): the log ends at "
                            f"record {count} but its head says {n_head} records", count + 1)
    if count > n_head:
        return VerifyResult(False, n_head,
                            f"audit record {n_head + 1} was inserted: the head says the log "
                            f"ends at record {n_head}", n_head + 1)
    if count and prev != h_head:
        return VerifyResult(False, count, f"audit record {count}: the chain's head hash does not "
                            "match the last record (head or last record edited)", count)
    bad = _check_decisions(c)
    if bad is not None:
        return VerifyResult(False, count, bad)
    return VerifyResult(True, count, f"audit log intact: {count} records, head {prev[:16]}; "
                                     "decisions table matches it")


def _check_decisions(c: Connection) -> str | None:
    """The ``decisions`` table against the (verified) chain: every decision has its audit
    record, in the same order, with the same content."""
    recs = [(int(seq), subject, json.loads(body)) for seq, subject, body in c.execute(
        select(audit.c.seq, audit.c.subject, audit.c.body)
        .where(audit.c.kind == "decision").order_by(audit.c.seq))]
    rows = c.execute(select(decisions.c.id, decisions.c.line, decisions.c.ts, decisions.c.account,
                            decisions.c.action, decisions.c.score, decisions.c.reasons,
                            decisions.c.source).order_by(decisions.c.id)).all()
    want = [{"line": b.get("line"), "ts": b.get("ts"), "account": subject,
             "action": b.get("action"), "score": b.get("score"), "reasons": b.get("reasons"),
             "source": b.get("source")} for _, subject, b in recs]
    have = [{"line": int(r[1]), "ts": float(r[2]), "account": r[3], "action": r[4],
             "score": float(r[5]), "reasons": json.loads(r[6]), "source": r[7]} for r in rows]
    i = j = 0
    while i < len(want) or j < len(have):
        if i < len(want) and j < len(have) and want[i] == have[j]:
            i, j = i + 1, j + 1
            continue
        if j >= len(have) or (i + 1 < len(want) and want[i + 1] == have[j]):
            return (f"the decision of audit record {recs[i][0]} (line {want[i]['line']}, "
                    f"{recs[i][1]}) is missing from the decisions table (deleted)")
        if i >= len(want) or (j + 1 < len(have) and have[j + 1] == want[i]):
            return (f"decisions row {rows[j][0]} (line {rows[j][1]}, {rows[j][3]}) has no audit "
                    "record (inserted)")
        diff = sorted(k for k in have[j] if have[j][k] != want[i][k])
        return (f"decisions row {rows[j][0]} (line {rows[j][1]}) was edited: {', '.join(diff)} "
                f"differ from audit record {recs[i][0]}")
    return None


def verify_engine(eng: Engine) -> VerifyResult:
    with eng.connect() as c:
        return verify(c)


def head(eng: Engine) -> tuple[int, str]:
    with eng.connect() as c:
        return _read_head(c, lock=False)
