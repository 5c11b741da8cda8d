"""The HTTP API on the real engine and a real SQLite database (httpx TestClient)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from svc_helpers import Keys, make_runtime
from fastapi.testclient import TestClient

from bulkguard.ingest.replay import replay
from bulkguard.service.app import create_app
from bulkguard.service.runtime import Runtime


def test_secure_by_default_until_a_key_exists(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    rt = make_runtime(tmp_path / "d")
    with caplog.at_level("WARNING"), TestClient(create_app(rt)) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        for method, path in [("post", "/v1/events"), ("post", "/v1/check"), ("get", "/metrics"),
                             ("get", "/openapi.json"), ("get", "/v1/accounts/a"),
                             ("post", "/v1/accounts/a/actions"),
                             ("get", "/v1/accounts/a/statements")]:
            r = getattr(c, method)(path, headers={"Authorization": "Bearer bgk_guess"})
            assert r.status_code == 401, path
            assert "bulkguard keys create --scope ingest" in r.json()["error"]
    assert "bulkguard keys create --scope ingest" in caplog.text
    rt.close()


def test_keys_scopes_401_403(client: TestClient, keys: Keys) -> None:
    ev = b'{"type":"register","ts":1,"account":"a"}'
    assert client.post("/v1/events", content=ev).status_code == 401
    assert client.post("/v1/events", content=ev,
                       headers={"Authorization": "Bearer bgk_nope"}).status_code == 401
    assert client.post("/v1/events", content=ev, headers=keys.h(keys.review)).status_code == 403
    assert client.post("/v1/events", content=ev, headers=keys.h(keys.ingest)).status_code == 200
    assert client.post("/v1/events", content=ev, headers=keys.h(keys.admin)).status_code == 200
    # a third event: stream time starts at the median of the first three (docs/time.md)
    assert client.post("/v1/events", content=ev.replace(b'"ts":1', b'"ts":2'),
                       headers=keys.h(keys.admin)).status_code == 200
    assert client.get("/v1/accounts/a", headers=keys.h(keys.ingest)).status_code == 403
    assert client.get("/v1/accounts/a", headers=keys.h(keys.review)).status_code == 200
    assert client.get("/metrics", headers=keys.h(keys.ingest)).status_code == 200
    spec = client.get("/openapi.json", headers=keys.h(keys.review)).json()
    assert {"/v1/events", "/v1/check", "/v1/accounts/{account}"} <= set(spec["paths"])


def test_cli_key_is_the_last_line_and_works(tmp_path: Path) -> None:
    data = tmp_path / "d"
    r = subprocess.run([sys.executable, "-m", "bulkguard.cli", "keys", "create", "--scope",
                        "ingest", "--data", str(data)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("bgk_") and " " not in key
    raw = (data / "bulkguard.sqlite3").read_bytes()
    assert key.encode() not in raw            # stored hashed, never as is
    rt = make_runtime(data)
    with TestClient(create_app(rt)) as c:
        assert c.post("/v1/check", json={"sender": "a", "recipient": "b"},
                      headers=Keys.h(key)).json()["verdict"] == "deliver"
    rt.close()


def _post_ndjson(c: TestClient, key: str, lines: list[bytes]) -> dict:
    r = c.post("/v1/events", content=b"\n".join(lines) + b"\n",
               headers={**Keys.h(key), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    return r.json()


def test_same_decisions_as_replay(tmp_path: Path, client: TestClient, keys: Keys,
                                  make_stream, runtime: Runtime) -> None:
    lines = make_stream(2500, seed=3, blasters=2, bad_every=120, humans=80)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    # the service applies events as they come: replay without a reorder window does too
    replay(str(events), str(tmp_path / "dec.jsonl"), window=0.0)
    written = [json.loads(x) for x in (tmp_path / "dec.jsonl").read_text().splitlines()]
    # the contract's fields (the database keeps the versions in columns of their own)
    want = [{k: d[k] for k in ("line", "ts", "account", "action", "score", "reasons")}
            for d in written]
    assert any(d["action"] == "ban" for d in want) and any(d["action"] == "reject" for d in want)
    got: list[dict] = []
    # three batches of different sizes: the stream's line numbers run on across requests
    for a, b in [(0, 700), (700, 701), (701, 2500)]:
        got.extend(_post_ndjson(client, keys.ingest, lines[a:b])["decisions"])
    assert got == written
    stored = runtime.db.all_decisions()
    assert [{k: d[k] for k in ("line", "ts", "account", "action", "score", "reasons")}
            for d in stored] == want
    v = runtime.adapter.versions
    assert {(d["rules_version"], d["model_version"], d["engine_version"]) for d in stored} == \
        {(v.rules, v.model, v.engine)}
    assert {(d["rules"], d["model"]) for d in written} == {(v.rules, v.model)}
    client.post("/v1/check", json={"sender": "newcomer", "recipient": "h2"},
                headers=keys.h(keys.ingest))
    m = client.get("/metrics", headers=keys.h(keys.ingest)).text
    bans = sum(d["action"] == "ban" for d in want)
    total = sum(float(x.rsplit(" ", 1)[1]) for x in m.splitlines()
                if x.startswith('bulkguard_decisions_total{action="ban"'))
    assert total == bans
    assert 'bulkguard_events_total{type="message"}' in m
    assert 'bulkguard_request_seconds_count{route="/v1/events"} 3.0' in m
    assert 'bulkguard_request_seconds_count{route="/v1/check"} 1.0' in m
    assert 'bulkguard_checks_total{verdict="deliver"} 1.0' in m


def test_json_array_ids_and_per_item_errors(client: TestClient, keys: Keys) -> None:
    batch = [
        {"id": "e1", "type": "register", "ts": 1, "account": "a"},
        {"id": 2, "type": "message", "ts": 2, "sender": 7, "recipient": "b"},
        {"id": "e3", "type": "message", "ts": 3, "sender": "a"},
        {"id": "e4", "type": "teleport", "ts": 3},
        {"id": "e5", "type": "block", "ts": 4, "blocker": "b", "blocked": "a"},
        [1, 2],
        {"id": "e7", "type": "register", "ts": 5},
    ]
    r = client.post("/v1/events", json=batch, headers=keys.h(keys.ingest))
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["accepted", "rejected", "rejected", "rejected",
                                          "accepted", "rejected", "rejected"]
    assert [x.get("id") for x in res] == ["e1", 2, "e3", "e4", "e5", None, "e7"]
    assert res[1]["field"] == "sender"
    assert res[2]["field"] == "recipient"
    assert "teleport" in res[3]["error"]
    assert res[6]["field"] == "account"
    assert [x["line"] for x in res] == [1, 2, 3, 4, 5, 6, 7]
    # sent again: accepted ids are duplicates, unchanged bad ones too; nothing new is numbered
    again = client.post("/v1/events", json=batch[:5], headers=keys.h(keys.ingest)).json()
    assert [x["status"] for x in again["results"]] == ["duplicate"] * 5
    assert [x["line"] for x in again["results"]] == [1, 2, 3, 4, 5]
    nxt = client.post("/v1/events", json=[{"type": "register", "ts": 6, "account": "c"}],
                      headers=keys.h(keys.ingest)).json()
    assert nxt["results"][0]["line"] == 8


@pytest.mark.parametrize("body,ctype,status", [
    (b"[" + b",".join([b'{"type":"register","ts":1,"account":"a"}'] * 11) + b"]",
     "application/json", 413),
    (b"x" * 5000, "application/x-ndjson", 413),
    (b"<xml/>", "application/xml", 415),
    (b"[1, 2", "application/json", 400),
])
def test_limits_and_bad_bodies(tmp_path: Path, body: bytes, ctype: str, status: int) -> None:
    rt = make_runtime(tmp_path / "d", max_batch=10, max_body_bytes=4096)
    k = Keys(rt)
    with TestClient(create_app(rt)) as c:
        r = c.post("/v1/events", content=body, headers={**k.h(k.ingest), "Content-Type": ctype})
        assert r.status_code == status, r.text
        assert "error" in r.json()
        assert rt.next_seq == 1          # nothing numbered, nothing stored
    rt.close()


def test_check_refuses_without_changing_state(client: TestClient, keys: Keys,
                                              runtime: Runtime) -> None:
    h = keys.h(keys.ingest)
    _post_ndjson(client, keys.ingest, [
        b'{"type":"register","ts":0,"account":"shop","kind":"business"}',
        b'{"type":"template_register","ts":1,"business":"shop","template":"promo"}',
        b'{"type":"register","ts":2,"account":"x","ip":"192.0.2.1"}',
        b'{"type":"contact_sync","ts":3,"account":"x","numbers":5000,"matched":40}',
        *[json.dumps({"type": "message", "ts": 4 + i, "sender": "x", "recipient": f"u{i}",
                      "digest": "ab12"}).encode() for i in range(12)],
    ])
    lane = runtime.adapter.engine.lane
    before = (lane.violations("shop"), dict(lane.refusals("shop")),
              runtime.adapter.engine.events)
    for _ in range(3):
        r = client.post("/v1/check", json={"sender": "shop", "recipient": "ann",
                                           "template": "promo"}, headers=h).json()
        assert r["verdict"] == "refuse" and r["reasons"][0] == "NO_OPTIN"
    assert client.post("/v1/check", json={"sender": "shop", "recipient": "ann"},
                       headers=h).json()["reasons"][0] == "NO_OPTIN"
    assert (lane.violations("shop"), dict(lane.refusals("shop")),
            runtime.adapter.engine.events) == before
    r = client.post("/v1/check", json={"sender": "x", "recipient": "y"}, headers=h).json()
    assert r["verdict"] == "refuse" and r["reasons"][0] == "ACCOUNT_BANNED"
    assert client.post("/v1/check", json={"sender": "nobody", "group": "g"},
                       headers=h).json()["verdict"] == "deliver"
    bad = client.post("/v1/check", json={"sender": "a"}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "recipient"
    bad = client.post("/v1/check", json={"sender": "a", "recipient": "b", "forwarded": -1},
                      headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "forwarded"
    # after an opt-in the same message is delivered
    _post_ndjson(client, keys.ingest, [b'{"type":"optin","ts":30,"business":"shop",'
                                       b'"customer":"ann"}'])
    assert client.post("/v1/check", json={"sender": "shop", "recipient": "ann",
                                          "template": "promo"}, headers=h).json()["verdict"] \
        == "deliver"


def test_review_explain_action_statements(client: TestClient, keys: Keys,
                                          runtime: Runtime) -> None:
    _post_ndjson(client, keys.ingest, [
        b'{"type":"register","ts":1700000000,"account":"acct-7f3e","ip":"192.0.2.1"}',
        b'{"type":"contact_sync","ts":1700000001,"account":"acct-7f3e","numbers":5000,"matched":40}',
        # a third event: stream time starts at the median of the first three (docs/time.md)
        b'{"type":"register","ts":1700000001,"account":"acct-9a01","ip":"192.0.2.2"}',
    ])
    rh = keys.h(keys.review)
    view = client.get("/v1/accounts/acct-7f3e", headers=rh).json()
    assert view["action"] in ("throttle", "challenge", "suspend", "ban")
    assert view["decisions"] and view["decisions"][0]["explain"]
    assert "CONTACT_SWEEP" in [r["code"] for r in view["reasons"]]
    assert "CONTACT_SWEEP" in json.dumps(view["scoring"])     # as `bulkguard explain` shows
    assert client.get("/v1/accounts/nobody", headers=rh).status_code == 404
    r = client.post("/v1/accounts/acct-7f3e/actions", json={"action": "ban", "note": "seen by a person"},
                    headers=rh)
    assert r.status_code == 200, r.text
    assert r.json()["decisions"][0]["action"] == "ban"
    assert client.post("/v1/accounts/acct-7f3e/actions", json={"action": "explode"},
                       headers=rh).status_code == 422
    r = client.post("/v1/accounts/acct-7f3e/actions", json={"action": "reinstate", "note": "appeal ok"},
                    headers=rh)
    # the engine's reinstate: its score counts only evidence after the reinstatement (none
    # yet), the reviewer's note and the versions ride along
    d = r.json()["decisions"][0]
    v = runtime.adapter.versions
    assert d == {"line": 5, "ts": 1700000001.0, "account": "acct-7f3e", "action": "reinstate",
                 "score": 0.0, "reasons": ["REVIEWER_REINSTATE"], "note": "appeal ok",
                 "rules": v.rules, "model": v.model, "engine": d["engine"]}
    acts = runtime.db.reviewer_actions_of("acct-7f3e")
    assert [(a["action"], a["note"]) for a in acts] == [("ban", "seen by a person"),
                                                         ("reinstate", "appeal ok")]
    assert all(a["reviewer"].startswith("bgk_") for a in acts)
    st = client.get("/v1/accounts/acct-7f3e/statements", headers=rh).json()["statements"]
    engine_st = [s for s in st if s["statement"]["automated_decision"] == "AUTOMATED_DECISION_FULLY"]
    human = [s for s in st if s["statement"]["automated_decision"] ==
             "AUTOMATED_DECISION_NOT_AUTOMATED"]
    assert engine_st and len(human) == 1
    s = human[0]["statement"]
    assert s["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
    assert "seen by a person" in s["decision_facts"]
    for x in st:
        body = x["statement"]
        for f in ("decision_ground", "category", "content_type", "decision_facts",
                  "source_type", "automated_detection", "automated_decision", "puid",
                  "application_date", "territorial_scope", "incompatible_content_ground"):
            assert f in body, f
        assert "acct-7f3e" not in json.dumps(body)     # no personal data in a statement
        assert x["redress"]["internal_complaint_handling"]
    assert len({x["puid"] for x in st}) == len(st)


def test_appeals_and_challenges_are_stored_and_audited(client: TestClient, keys: Keys,
                                                       runtime: Runtime) -> None:
    from bulkguard.store.audit import verify_engine
    lines = [b'{"type":"register","ts":1700000000,"account":"z","ip":"192.0.2.9"}',
             b'{"type":"contact_sync","ts":1700000001,"account":"z","numbers":5000,"matched":40}',
             b'{"type":"appeal_granted","ts":1700000100,"account":"z","note":"a real shop"}',
             b'{"type":"challenge_passed","ts":1700000200,"account":"z"}']
    out = _post_ndjson(client, keys.ingest, lines)
    assert [r["status"] for r in out["results"]] == ["accepted"] * 4
    reinstated = [d for d in out["decisions"] if d["action"] == "reinstate"]
    assert [d["reasons"] for d in reinstated] == [["APPEAL_GRANTED"]]
    with runtime.db.engine.connect() as c:
        from sqlalchemy import select

        from bulkguard.store.db import appeals, audit
        rows = c.execute(select(appeals.c.outcome, appeals.c.note)).all()
        kinds = [k for (k,) in c.execute(select(audit.c.kind).order_by(audit.c.seq))]
    assert rows == [("granted", "a real shop"), ("challenge_passed", None)]
    assert kinds.count("appeal") == 2 and "decision" in kinds
    assert verify_engine(runtime.db.engine).ok


def test_deeply_nested_json_is_an_error_not_a_crash(client: TestClient, keys: Keys) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    item = b'{"type":"register","ts":1,"account":"a","x":' + deep + b"}"
    out = _post_ndjson(client, keys.ingest, [item, b'{"type":"register","ts":2,"account":"b"}'])
    assert [r["status"] for r in out["results"]] == ["rejected", "accepted"]
    assert "nested too deep" in out["results"][0]["error"]
    r = client.post("/v1/events", content=b"[" + item + b"]",
                    headers={**keys.h(keys.ingest), "Content-Type": "application/json"})
    assert r.status_code == 400
    r = client.post("/v1/check", content=b'{"sender":"a","recipient":"b","x":' + deep + b"}",
                    headers=keys.h(keys.ingest))
    assert r.status_code == 422
    r = client.post("/v1/accounts/a/actions", content=b'{"action":"ban","x":' + deep + b"}",
                    headers=keys.h(keys.review))
    assert r.status_code == 422


def test_batch_items_meet_the_same_limits_as_replay_lines(client: TestClient, keys: Keys) -> None:
    """One decode path: an item over replay's per-line or per-identifier limit is a
    per-item error, and the rest of the batch goes through."""
    from bulkguard.events import MAX_LINE

    long_line = b'{"type":"register","ts":1,"account":"a","pad":"' + b"x" * MAX_LINE + b'"}'
    long_id = b'{"type":"register","ts":1,"account":"' + b"y" * 300 + b'"}'
    out = _post_ndjson(client, keys.ingest,
                       [long_line, long_id, b'{"type":"register","ts":2,"account":"b"}'])
    assert [r["status"] for r in out["results"]] == ["rejected", "rejected", "accepted"]
    assert str(MAX_LINE) in out["results"][0]["error"]
    assert "account" in out["results"][1]["error"]
