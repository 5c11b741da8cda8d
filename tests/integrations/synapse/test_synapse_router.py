"""The antispam router: synapse-http-antispam's protocol answered over a real engine."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bulkguard.engine import Engine
from bulkguard.events import Decision, Message, Register
from bulkguard.integrations.synapse.admin import Secret
from bulkguard.integrations.synapse.router import LocalGate, SynapseAntispam

SECRET = "s3cret-token"
AUTH = {"Authorization": f"Bearer {SECRET}"}


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def setup() -> tuple[TestClient, LocalGate, SynapseAntispam, list[Decision]]:
    told: list[Decision] = []
    gate = LocalGate(Engine(), listeners=[told.append])
    antispam = SynapseAntispam(gate, Secret(SECRET), clock=Clock(), origin_ts=False)
    app = FastAPI()
    app.include_router(antispam.router, prefix="/v1/synapse")
    return TestClient(app), gate, antispam, told


def post(client: TestClient, name: str, body: dict, auth: dict | None = None) -> tuple[int, dict]:
    r = client.post(f"/v1/synapse/{name}", json=body, headers=AUTH if auth is None else auth)
    return r.status_code, r.json()


def test_secret_is_required(setup) -> None:
    client, gate, _, _ = setup
    assert post(client, "ping", {"id": "x"}, auth={})[0] == 401
    code, body = post(client, "user_may_invite", {"inviter": "@a:hs", "invitee": "@b:hs", "room_id": "!r"},
                      auth={"Authorization": "Bearer wrong"})
    assert (code, body["errcode"]) == (401, "M_UNAUTHORIZED")
    assert gate.events == []


def test_ping_echoes_its_id(setup) -> None:
    client, *_ = setup
    assert post(client, "ping", {"id": "abc123"}) == (200, {"id": "abc123", "status": "ok"})


def test_a_bad_body_is_a_400_naming_the_field(setup) -> None:
    client, gate, _, _ = setup
    code, body = post(client, "user_may_invite", {"inviter": "@a:hs", "room_id": 5})
    assert code == 400 and body["errcode"] == "M_BAD_JSON"
    assert "room_id" in body["error"] or "invitee" in body["error"]
    r = client.post("/v1/synapse/check_event_for_spam", content=b"{not json", headers=AUTH)
    assert r.status_code == 400
    assert gate.events == []


def test_people_are_answered_ok_and_their_activity_becomes_events(setup) -> None:
    client, gate, antispam, _ = setup
    assert post(client, "user_registered", {"user_id": "@a:hs", "request_info": [["Element", "10.0.0.1"]]}) == (200, {})
    assert post(client, "user_may_create_room", {"user_id": "@a:hs"}) == (200, {})
    assert post(client, "user_may_invite", {"inviter": "@a:hs", "invitee": "@b:hs", "room_id": "!dm"}) == (200, {})
    ev = {"type": "m.room.message", "room_id": "!dm", "sender": "@a:hs", "event_id": "$1",
          "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "hi b"}, "unsigned": {}}
    assert post(client, "check_event_for_spam", {"event": ev}) == (200, {})
    assert post(client, "check_login_for_spam", {"user_id": "@a:hs", "device_id": "D", "initial_display_name": None,
                                                 "request_info": [["ua", "10.0.0.1"]], "auth_provider_id": None}) == (200, {})
    kinds = [type(e) for e in gate.events]
    assert kinds == [Register, Message, Message]
    assert gate.events[2].recipient == "@b:hs" and gate.events[2].digest is not None
    assert antispam.stats.refused == {}


def test_a_blaster_is_refused_once_stopped_and_reinstating_lifts_it(setup) -> None:
    client, gate, antispam, told = setup
    post(client, "user_registered", {"user_id": "@bot:hs", "request_info": [["python", "10.6.6.6"]]})
    first_refusal = None
    for i in range(60):
        room = f"!dm{i}"
        code, body = post(client, "user_may_create_room", {"user_id": "@bot:hs"})
        if code == 200:
            code, body = post(client, "user_may_invite",
                              {"inviter": "@bot:hs", "invitee": f"@u{i}:hs", "room_id": room})
        if code == 403:
            assert body["errcode"] == "M_FORBIDDEN"
            first_refusal = i
            break
        ev = {"type": "m.room.message", "room_id": room, "sender": "@bot:hs",
              "content": {"msgtype": "m.text", "body": f"Hi u{i}, cheap pills at https://x.example/{i}"}}
        post(client, "check_event_for_spam", {"event": ev})
    assert first_refusal is not None, "the engine never stopped the blaster"
    actions = [d.action for d in told if d.account == "@bot:hs"]
    assert {"suspend", "ban"} & set(actions)
    assert told == gate.decisions       # every decision reached the listeners
    # stopped: room creation and joins are refused too; logins are not
    assert post(client, "user_may_create_room", {"user_id": "@bot:hs"})[0] == 403
    assert post(client, "user_may_join_room", {"user": "@bot:hs", "room": "!pub", "is_invited": False})[0] == 403
    assert post(client, "check_login_for_spam", {"user_id": "@bot:hs"})[0] == 200
    # an appeal lifts it: the listeners hear the reinstate, and the next room creation passes
    refused = dict(antispam.stats.refused)
    d = gate.reinstate("@bot:hs")
    assert d is not None and told[-1] == d and d.action == "reinstate"
    assert post(client, "user_may_create_room", {"user_id": "@bot:hs"}) == (200, {})
    assert antispam.stats.refused == refused
