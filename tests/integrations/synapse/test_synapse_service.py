"""The antispam router inside `bulkguard serve` (`[synapse]`): service keys, the store, the
audit log, decision listeners. A real runtime and SQLite; no homeserver (tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bulkguard.events import Decision
from bulkguard.integrations.synapse.service import SynapseIntegration, SynapseSettings, settings_of
from bulkguard.service.app import create_app
from bulkguard.service.auth import create_key
from bulkguard.service.config import ConfigError, load
from bulkguard.service.runtime import Runtime


def test_the_synapse_section_of_the_service_config(tmp_path: Path) -> None:
    f = tmp_path / "bulkguard.toml"
    f.write_text('[service]\nport = 9000\n[synapse]\nrefuse_from = "challenge"\n'
                 '[synapse.enforcement]\nban_as = "deactivate"\n')
    cfg = load(str(f))
    s = settings_of(cfg.synapse or {})
    assert (s.refuse_from, s.enforcement.ban_as, s.prefix) == ("challenge", "deactivate", "/v1/synapse")
    assert load(None).synapse is None
    with pytest.raises(ValueError, match=r"\[synapse\].*refuse_from"):
        settings_of({"refuse_from": "maybe"})
    with pytest.raises(ValueError, match=r"unknown field `homeserver`"):
        settings_of({"homeserver": "http://x"})
    f.write_text('synapse = 3\n')
    with pytest.raises(ConfigError, match=r"\[synapse\] must be a table"):
        load(str(f))


def test_enforcement_needs_its_admin_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rt = Runtime(load(None, data=str(tmp_path / "d")))
    monkeypatch.delenv("BULKGUARD_SYNAPSE_ADMIN_TOKEN", raising=False)
    try:
        with pytest.raises(KeyError, match="BULKGUARD_SYNAPSE_ADMIN_TOKEN"):
            SynapseIntegration(rt, SynapseSettings(homeserver_url="http://127.0.0.1:8008"))
        monkeypatch.setenv("BULKGUARD_SYNAPSE_ADMIN_TOKEN", "syt_secret")
        integ = SynapseIntegration(rt, SynapseSettings(homeserver_url="http://127.0.0.1:8008"))
        assert integ.enforcer is not None and integ.poller is not None
        assert rt.listeners == [integ.enforcer.submit]
        integ.close()
    finally:
        rt.close()


def test_callbacks_go_through_the_service_path(tmp_path: Path) -> None:
    rt = Runtime(load(None, data=str(tmp_path / "d")))
    told: list[Decision] = []
    rt.listeners.append(told.append)
    ingest = create_key(rt.db, "ingest")[1]
    review = create_key(rt.db, "review")[1]
    integ = SynapseIntegration(rt, SynapseSettings())
    assert integ.enforcer is None and integ.poller is None   # no homeserver_url: answers only
    with TestClient(create_app(rt, extra_routers=[integ.router])) as c:
        def post(name: str, body: dict, key: str = ingest) -> int:
            return c.post(f"/v1/synapse/{name}", json=body,
                          headers={"Authorization": f"Bearer {key}"}).status_code

        assert post("ping", {"id": "p"}, key="bgk_wrong") == 401
        r = c.post("/v1/synapse/ping", json={"id": "p"}, headers={"Authorization": f"Bearer {review}"})
        assert r.status_code == 401 and "needs 'ingest'" in r.json()["error"]
        assert c.post("/v1/synapse/ping", json={"id": "p"},
                      headers={"Authorization": f"Bearer {ingest}"}).json() == {"id": "p", "status": "ok"}
        assert post("user_registered", {"user_id": "@bot:hs", "request_info": [["py", "10.6.6.6"]]}) == 200
        codes = []
        for i in range(40):
            codes.append(post("user_may_create_room", {"user_id": "@bot:hs"}))
            codes.append(post("user_may_invite", {"inviter": "@bot:hs", "invitee": f"@u{i}:hs",
                                                  "room_id": f"!r{i}"}))
            codes.append(post("check_event_for_spam", {"event": {
                "type": "m.room.message", "room_id": f"!r{i}", "sender": "@bot:hs",
                "content": {"msgtype": "m.text", "body": f"Hi u{i}! cheap pills https://x.example/{i}"}}}))
            if codes[-1] == 403:
                break
        assert 403 in codes, "never stopped"
        # stored like POST /v1/events: events, decisions, the audit log; the listeners heard them
        stored = rt.db.decisions_of("@bot:hs")
        assert [d["action"] for d in stored] == [d.action for d in told] != []
        assert rt.db.counts()["events"] >= 3
        # a reviewer reinstates through the service; the listeners hear that too
        r = c.post("/v1/accounts/@bot:hs/actions", json={"action": "reinstate", "note": "appeal"},
                   headers={"Authorization": f"Bearer {review}"})
        assert r.status_code == 200 and told[-1].action == "reinstate"
        assert post("user_may_create_room", {"user_id": "@bot:hs"}) == 200
    integ.close()
    rt.close()
