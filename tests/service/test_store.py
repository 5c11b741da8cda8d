"""The database store on real SQLite and real PostgreSQL: migrations, the batch transaction,
the audit chain against tampering, statements export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from svc_helpers import make_runtime

from bulkguard.service.runtime import Runtime
from bulkguard.store.audit import verify_engine

STREAM = [
    b'{"type":"register","ts":1700000000,"account":"x","ip":"192.0.2.1"}',
    b'{"type":"contact_sync","ts":1700000001,"account":"x","numbers":5000,"matched":40}',
    *[json.dumps({"type": "message", "ts": 1700000002 + i, "sender": "x", "recipient": f"u{i}",
                  "digest": "ab12"}).encode() for i in range(12)],
    b'{"type":"register","ts":1700000020,"account":"y","ip":"192.0.2.1"}',
]


def _filled(data: Path, db: str | None = None) -> Runtime:
    rt = make_runtime(data, db=db)
    rt.resume()
    out = rt.ingest_blocking(STREAM)
    assert len(out.decisions) >= 2
    rt.ingest_blocking([b'{"type":"reviewer_action","ts":1700000030,"account":"x",'
                        b'"action":"reinstate","note":"checked"}'], actor="bgk_test")
    return rt


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bulkguard.cli", *args], capture_output=True,
                          text=True, timeout=120)


def _tamper_cases(rt: Runtime, where: list[str]) -> None:
    """Edit, delete (middle and last) and insert audit records; each is named."""
    eng = rt.db.engine
    r = verify_engine(eng)
    assert r.ok, r.message
    n = r.records
    assert n >= 4
    rows = {}
    with eng.connect() as c:
        for row in c.execute(text("SELECT * FROM audit ORDER BY seq")).mappings():
            rows[int(row["seq"])] = dict(row)

    def restore(seq: int) -> None:
        with eng.begin() as c:
            c.execute(text("DELETE FROM audit WHERE seq = :s"), {"s": seq})
            c.execute(text("INSERT INTO audit (seq, at, kind, subject, body, prev_hash, hash) "
                           "VALUES (:seq, :at, :kind, :subject, :body, :prev_hash, :hash)"),
                      rows[seq])
        assert verify_engine(eng).ok

    # edited: a decision's score changed
    with eng.begin() as c:
        c.execute(text("UPDATE audit SET body = REPLACE(body, :a, :b) WHERE seq = 2"),
                  {"a": '"score":0.', "b": '"score":0.1'})
    res = _cli("audit", "verify", *where)
    assert res.returncode == 1 and "audit record 2" in res.stderr and "edited" in res.stderr
    restore(2)
    # deleted in the middle
    with eng.begin() as c:
        c.execute(text("DELETE FROM audit WHERE seq = 3"))
    r = verify_engine(eng)
    assert not r.ok and r.bad_seq == 3 and "missing" in r.message
    restore(3)
    # deleted at the end
    with eng.begin() as c:
        c.execute(text("DELETE FROM audit WHERE seq = :s"), {"s": n})
    r = verify_engine(eng)
    assert not r.ok and r.bad_seq == n and "missing" in r.message
    restore(n)
    # inserted: records renumbered to make room for a forged one
    with eng.begin() as c:
        for s in range(n, 2, -1):
            c.execute(text("UPDATE audit SET seq = seq + 1 WHERE seq = :s"), {"s": s})
        c.execute(text("INSERT INTO audit (seq, at, kind, subject, body, prev_hash, hash) "
                       "VALUES (3, 0, 'decision', 'x', '{}', :p, :h)"),
                  {"p": rows[2]["hash"], "h": "0" * 64})
    r = verify_engine(eng)
    assert not r.ok and r.bad_seq == 3, r.message
    # appended at the end, even with a correct hash: the head says where the log ends
    with eng.begin() as c:
        c.execute(text("DELETE FROM audit WHERE seq = 3"))
        for s in range(3, n + 2):
            c.execute(text("UPDATE audit SET seq = seq - 1 WHERE seq = :s"), {"s": s})
    assert verify_engine(eng).ok
    from bulkguard.store.audit import record_hash
    h = record_hash(rows[n]["hash"], n + 1, 1.0, "decision", "x", "{}")
    with eng.begin() as c:
        c.execute(text("INSERT INTO audit (seq, at, kind, subject, body, prev_hash, hash) "
                       "VALUES (:s, 1.0, 'decision', 'x', '{}', :p, :h)"),
                  {"s": n + 1, "p": rows[n]["hash"], "h": h})
    res = _cli("audit", "verify", *where)
    assert res.returncode == 1 and f"audit record {n + 1} was inserted" in res.stderr


def test_decisions_table_is_checked_against_the_chain(tmp_path: Path) -> None:
    rt = _filled(tmp_path / "d")
    eng = rt.db.engine
    assert verify_engine(eng).ok
    with eng.connect() as c:
        action = c.execute(text("SELECT action FROM decisions WHERE id = 2")).scalar()
    with eng.begin() as c:
        c.execute(text("UPDATE decisions SET action = 'throttle' WHERE id = 2"))
    r = verify_engine(eng)
    assert not r.ok and "decisions row 2" in r.message and "action" in r.message
    with eng.begin() as c:
        c.execute(text("UPDATE decisions SET action = :a WHERE id = 2"), {"a": action})
    assert verify_engine(eng).ok
    with eng.begin() as c:
        c.execute(text("INSERT INTO decisions (id, line, ts, account, action, score, reasons, "
                       "rules_version, model_version, engine_version, source, decided_at) "
                       "SELECT 1000, line, ts, account, 'ban', score, reasons, rules_version, "
                       "model_version, engine_version, source, decided_at FROM decisions "
                       "WHERE id = 1"))
    r = verify_engine(eng)
    assert not r.ok and "decisions row 1000" in r.message and "inserted" in r.message, r.message
    with eng.begin() as c:
        c.execute(text("DELETE FROM decisions WHERE id = 1000"))
        c.execute(text("DELETE FROM decisions WHERE id = 2"))
    r = verify_engine(eng)
    assert not r.ok and "missing from the decisions table" in r.message, r.message
    rt.close()


def test_sqlite_audit_chain_names_tampering(tmp_path: Path) -> None:
    data = tmp_path / "d"
    rt = _filled(data)
    assert (data / "bulkguard.sqlite3").exists()
    ok = _cli("audit", "verify", "--data", str(data))
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    _tamper_cases(rt, ["--data", str(data)])
    rt.close()


@pytest.mark.slow
def test_postgresql_store_and_audit(tmp_path: Path, pg_fresh: str) -> None:
    rt = _filled(tmp_path / "d", db=pg_fresh)
    assert not (tmp_path / "d" / "bulkguard.sqlite3").exists()
    # NUL (which PostgreSQL text cannot hold) and bytes that are not UTF-8: rejected, stored
    out = rt.ingest_blocking([b'{"type":"register","ts":1,"account":"a\\u0000b"}',
                              b'{"type":"register","ts":1,"account":"a\x00b"}',
                              b'{"type":"block","ts":1,"blocker":"caf\xe9","blocked":"b"}'])
    assert [r["status"] for r in out.results] == ["rejected"] * 3
    counts = rt.db.counts()
    assert counts["events"] == len(STREAM) + 1 and counts["decisions"] >= 3
    assert counts["rejected"] == 3
    assert _cli("audit", "verify", "--db", pg_fresh).returncode == 0
    _tamper_cases(rt, ["--db", pg_fresh])
    rt.close()


def test_batch_is_all_or_nothing(tmp_path: Path) -> None:
    """A failing write stores nothing of the batch, answers 'retry', and the engine is rebuilt
    from the store: the retried batch gets the same lines and decisions."""
    from bulkguard.service.runtime import ServiceUnavailable
    rt = make_runtime(tmp_path / "d")
    rt.resume()
    rt.ingest_blocking(STREAM[:2])
    real = rt.db.commit_batch

    def broken(*a, **kw):  # type: ignore[no-untyped-def]
        raise OSError("disk full")
    rt.db.commit_batch = broken  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        rt.ingest_blocking(STREAM[2:])
    rt.db.commit_batch = real  # type: ignore[method-assign]
    assert rt.db.counts()["events"] == 2 and rt.next_seq == 3
    real_known = rt.db.known_ids
    rt.db.known_ids = broken  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailable):
        rt.ingest_blocking([b'{"id":"x","type":"register","ts":9,"account":"q"}'])
    rt.db.known_ids = real_known  # type: ignore[method-assign]
    out = rt.ingest_blocking(STREAM[2:])
    ref = make_runtime(tmp_path / "ref")
    ref.resume()
    ref.ingest_blocking(STREAM[:2])
    assert out.decisions == ref.ingest_blocking(STREAM[2:]).decisions
    rt.close()
    ref.close()


def test_statements_export(tmp_path: Path) -> None:
    data = tmp_path / "d"
    rt = _filled(data)
    rt.close()
    r = _cli("statements", "export", "--since", "2000-01-01", "--data", str(data))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    acts = {s.get("decision_account") or s.get("decision_provision") for s in doc["statements"]}
    assert acts & {"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
    assert all(s["automated_decision"] == "AUTOMATED_DECISION_FULLY" for s in doc["statements"])
    later = _cli("statements", "export", "--since", "2999-01-01T00:00:00", "--data", str(data))
    assert json.loads(later.stdout) == {"statements": []}
    bad = _cli("statements", "export", "--since", "yesterday", "--data", str(data))
    assert bad.returncode == 2 and "--since" in bad.stderr
