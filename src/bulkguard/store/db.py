"""The service's database: decisions, reviewer actions, appeals, statements of reasons,
the accepted-event log, API keys and the audit chain (SQLAlchemy 2 Core).

SQLite (``DIR/bulkguard.sqlite3``) by default, PostgreSQL when a URL says so
(``postgresql+psycopg://user@host/db``). The schema is created and upgraded by the Alembic
migrations shipped in ``bulkguard/store/migrations``, run by :func:`open_db` on every start.

One write transaction per batch (:meth:`Database.commit_batch`) holds everything a batch
caused: its events, dead letters, decisions, statements, reviewer actions, appeals, audit
records and the next line number. A batch is acknowledged only after it committed, so a
crash loses nothing acknowledged and never records half a batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text, create_engine,
    event, func, select, update,
)
from sqlalchemy.engine import Connection, Engine

SQLITE_NAME = "bulkguard.sqlite3"

metadata = MetaData()

# key -> value: next_seq (next line number), audit_n / audit_head (the chain's head)
meta = Table("meta", metadata,
             Column("key", String(64), primary_key=True),
             Column("value", Text, nullable=False))

# Every accepted event, in line order: on restart the tail after the snapshot is replayed.
events = Table("events", metadata,
               Column("seq", BigInteger, primary_key=True, autoincrement=False),
               Column("client_id", String(256), nullable=True, unique=True),
               Column("type", String(32), nullable=False),
               Column("ts", Float, nullable=False),
               Column("body", Text, nullable=False),
               Column("received_at", Float, nullable=False))

# Bad items (the service's dead letters): line number, reason, the raw item.
rejected = Table("rejected", metadata,
                 Column("seq", BigInteger, primary_key=True, autoincrement=False),
                 Column("client_id", String(256), nullable=True),
                 Column("reason", Text, nullable=False),
                 Column("raw", Text, nullable=False),
                 Column("received_at", Float, nullable=False))

decisions = Table("decisions", metadata,
                  Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                         autoincrement=True),
                  Column("line", BigInteger, nullable=False),
                  Column("ts", Float, nullable=False),
                  Column("account", String(256), nullable=False),
                  Column("action", String(16), nullable=False),
                  Column("score", Float, nullable=False),
                  Column("reasons", Text, nullable=False),        # JSON list
                  Column("rules_version", String(80), nullable=False),
                  Column("model_version", String(80), nullable=False),
                  Column("engine_version", String(80), nullable=False),
                  Column("source", String(16), nullable=False),   # engine | reviewer | appeal
                  Column("decided_at", Float, nullable=False),
                  Index("ix_decisions_account", "account"),
                  Index("ix_decisions_line", "line"))

reviewer_actions = Table("reviewer_actions", metadata,
                         Column("id", BigInteger().with_variant(Integer, "sqlite"),
                                primary_key=True, autoincrement=True),
                         Column("line", BigInteger, nullable=False),
                         Column("ts", Float, nullable=False),
                         Column("account", String(256), nullable=False),
                         Column("action", String(16), nullable=False),
                         Column("until", Float, nullable=True),
                         Column("note", Text, nullable=True),
                         Column("reviewer", String(64), nullable=True),   # key id, never the key
                         Column("acted_at", Float, nullable=False),
                         Index("ix_reviewer_actions_account", "account"))

appeals = Table("appeals", metadata,
                Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                       autoincrement=True),
                Column("line", BigInteger, nullable=False),
                Column("ts", Float, nullable=False),
                Column("account", String(256), nullable=False),
                Column("outcome", String(32), nullable=False),   # granted | challenge_passed
                Column("note", Text, nullable=True),
                Column("recorded_at", Float, nullable=False),
                Index("ix_appeals_account", "account"))

statements = Table("statements", metadata,
                   Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                          autoincrement=True),
                   Column("puid", String(128), nullable=False, unique=True),
                   Column("account", String(256), nullable=False),
                   Column("line", BigInteger, nullable=False),
                   Column("action", String(16), nullable=False),
                   Column("body", Text, nullable=False),      # JSON, DSA Transparency DB fields
                   Column("created_at", Float, nullable=False),
                   Index("ix_statements_account", "account"),
                   Index("ix_statements_created", "created_at"))

api_keys = Table("api_keys", metadata,
                 Column("id", String(32), primary_key=True),
                 Column("key_hash", String(64), nullable=False, unique=True),
                 Column("scope", String(16), nullable=False),
                 Column("created_at", Float, nullable=False),
                 Column("revoked_at", Float, nullable=True))

# Append-only, hash-chained (bulkguard.store.audit).
audit = Table("audit", metadata,
              Column("seq", BigInteger, primary_key=True, autoincrement=False),
              Column("at", Float, nullable=False),
              Column("kind", String(32), nullable=False),
              Column("subject", String(256), nullable=False),
              Column("body", Text, nullable=False),
              Column("prev_hash", String(64), nullable=False),
              Column("hash", String(64), nullable=False))


class DatabaseError(RuntimeError):
    """A database that cannot be opened or migrated; the message names it."""


def sqlite_url(data_dir: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / SQLITE_NAME}"


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported as such
        return "<unparsable database URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed (acknowledged) batch survives a power cut, not only a killed process
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine for ``url`` with this project's settings."""
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 10})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def migrate(eng: Engine) -> None:
    """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class DecisionRow:
    line: int
    ts: float
    account: str
    action: str
    score: float
    reasons: list[str]
    source: str = "engine"


@dataclass
class Batch:
    """Everything one request caused, written in one transaction."""

    events: list[dict] = field(default_factory=list)        # rows of ``events``
    rejected: list[dict] = field(default_factory=list)      # rows of ``rejected``
    decisions: list[DecisionRow] = field(default_factory=list)
    statements: list[dict] = field(default_factory=list)    # {puid, account, line, action, body}
    reviewer_actions: list[dict] = field(default_factory=list)
    appeals: list[dict] = field(default_factory=list)
    audit: list[tuple[str, str, dict]] = field(default_factory=list)   # (kind, subject, body)
    next_seq: int = 1


@dataclass(frozen=True)
class Versions:
    rules: str
    model: str
    engine: str


class Database:
    """The store behind the service; one instance per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            migrate(self.engine)
        except Exception as err:   # noqa: BLE001 - any driver error: say which database
            raise DatabaseError(f"cannot open database {redact_url(url)}: "
                                f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                                ) from err

        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_events = ("INSERT INTO events (seq, client_id, type, ts, body, received_at) "
                               f"VALUES ({', '.join([mark] * 6)})")

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str], url: str | None = None) -> Database:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        return cls(url or sqlite_url(data_dir))

    def close(self) -> None:
        self.engine.dispose()

    # -- meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.engine.connect() as c:
            v = c.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
        return default if v is None else str(v)

    def next_seq(self) -> int:
        return int(self.get_meta("next_seq", "1") or 1)

    # -- the batch -------------------------------------------------------------------------------
    def commit_batch(self, b: Batch, versions: Versions, now: float) -> None:
        """Write ``b`` in one transaction (all or nothing)."""
        from bulkguard.store import audit as audit_log
        with self.engine.begin() as c:
            # first statement takes the write lock (SQLite) / row lock (PostgreSQL) that
            # serialises every writer of the audit chain, the CLI's included
            _set_meta(c, "next_seq", str(b.next_seq))
            if b.events:
                # the bulk of a batch: straight to the driver (SQLAlchemy's per-row parameter
                # processing took a third of the write)
                c.exec_driver_sql(self._insert_events, [
                    (e["seq"], e["client_id"], e["type"], e["ts"], e["body"], now)
                    for e in b.events])
            if b.rejected:
                c.execute(rejected.insert(), [{**r, "received_at": now} for r in b.rejected])
            if b.decisions:
                c.execute(decisions.insert(), [
                    {"line": d.line, "ts": d.ts, "account": d.account, "action": d.action,
                     "score": d.score, "reasons": json.dumps(d.reasons), "source": d.source,
                     "rules_version": versions.rules, "model_version": versions.model,
                     "engine_version": versions.engine, "decided_at": now}
                    for d in b.decisions])
            if b.statements:
                c.execute(statements.insert(), [{**s, "created_at": now} for s in b.statements])
            if b.reviewer_actions:
                c.execute(reviewer_actions.insert(),
                          [{**r, "acted_at": now} for r in b.reviewer_actions])
            if b.appeals:
                c.execute(appeals.insert(), [{**a, "recorded_at": now} for a in b.appeals])
            if b.audit:
                audit_log.append(c, b.audit, now)

    def known_ids(self, ids: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """Client ids seen before: id -> (line, None) if accepted, (line, raw item) if it was
        rejected (a rejected item sent again unchanged is a duplicate; changed, it is new)."""
        out: dict[str, tuple[int, str | None]] = {}
        uniq = list(dict.fromkeys(ids))
        with self.engine.connect() as c:
            for i in range(0, len(uniq), 500):
                chunk = uniq[i:i + 500]
                for cid, seq, raw in c.execute(select(rejected.c.client_id, rejected.c.seq,
                                                      rejected.c.raw)
                                               .where(rejected.c.client_id.in_(chunk))
                                               .order_by(rejected.c.seq)):
                    out[cid] = (int(seq), str(raw))
                for cid, seq in c.execute(select(events.c.client_id, events.c.seq)
                                          .where(events.c.client_id.in_(chunk))):
                    out[cid] = (int(seq), None)
        return out

    def events_after(self, seq: int, chunk: int = 5000) -> Iterator[tuple[int, str]]:
        """``(seq, body)`` of accepted events after line ``seq``, in order."""
        last = seq
        while True:
            with self.engine.connect() as c:
                rows = c.execute(select(events.c.seq, events.c.body).where(events.c.seq > last)
                                 .order_by(events.c.seq).limit(chunk)).all()
            if not rows:
                return
            for s, body in rows:
                yield int(s), str(body)
            last = int(rows[-1][0])

    def prune_events(self, upto: int) -> int:
        """Forget accepted events at or before line ``upto`` (covered by a snapshot)."""
        with self.engine.begin() as c:
            return c.execute(events.delete().where(events.c.seq <= upto)).rowcount or 0

    # -- reads -------------------------------------------------------------------------------------
    def decisions_of(self, account: str, limit: int = 100) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(decisions).where(decisions.c.account == account)
                             .order_by(decisions.c.id.desc()).limit(limit)).mappings().all()
        return [_decision_dict(r) for r in reversed(rows)]

    def all_decisions(self) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(decisions).order_by(decisions.c.id)).mappings().all()
        return [_decision_dict(r) for r in rows]

    def reviewer_actions_of(self, account: str, limit: int = 100) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(reviewer_actions).where(reviewer_actions.c.account == account)
                             .order_by(reviewer_actions.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in reversed(rows)]

    def statements_of(self, account: str, limit: int = 100) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(statements).where(statements.c.account == account)
                             .order_by(statements.c.id.desc()).limit(limit)).mappings().all()
        return [_statement_dict(r) for r in reversed(rows)]

    def statements_since(self, since: float) -> Iterator[dict]:
        with self.engine.connect() as c:
            for r in c.execute(select(statements).where(statements.c.created_at >= since)
                               .order_by(statements.c.id)).mappings():
                yield _statement_dict(r)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            return {t.name: int(c.execute(select(func.count()).select_from(t)).scalar() or 0)
                    for t in (events, rejected, decisions, statements, audit)}

    # -- keys ----------------------------------------------------------------------------------------
    def add_key(self, key_id: str, key_hash: str, scope: str, now: float) -> None:
        from bulkguard.store import audit as audit_log
        with self.engine.begin() as c:
            _set_meta(c, "keys_changed", repr(now))
            c.execute(api_keys.insert().values(id=key_id, key_hash=key_hash, scope=scope,
                                               created_at=now))
            audit_log.append(c, [("key_created", key_id, {"scope": scope})], now)

    def key_by_hash(self, key_hash: str) -> tuple[str, str] | None:
        """``(key id, scope)`` of a live key."""
        with self.engine.connect() as c:
            row = c.execute(select(api_keys.c.id, api_keys.c.scope)
                            .where(api_keys.c.key_hash == key_hash,
                                   api_keys.c.revoked_at.is_(None))).first()
        return (str(row[0]), str(row[1])) if row else None

    def has_keys(self) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None))
                             .limit(1)).first() is not None


def _set_meta(c: Connection, key: str, value: str) -> None:
    if c.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount == 0:
        c.execute(meta.insert().values(key=key, value=value))


def _decision_dict(r) -> dict:  # type: ignore[no-untyped-def]
    return {"line": int(r["line"]), "ts": float(r["ts"]), "account": r["account"],
            "action": r["action"], "score": float(r["score"]), "reasons": json.loads(r["reasons"]),
            "rules_version": r["rules_version"], "model_version": r["model_version"],
            "engine_version": r["engine_version"], "source": r["source"],
            "decided_at": float(r["decided_at"])}


def _statement_dict(r) -> dict:  # type: ignore[no-untyped-def]
    return {"id": int(r["id"]), "puid": r["puid"], "account": r["account"], "line": int(r["line"]),
            "action": r["action"], "created_at": float(r["created_at"]),
            "statement": json.loads(r["body"])}
