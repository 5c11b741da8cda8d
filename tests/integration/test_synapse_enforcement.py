"""The Admin API enforcer and the feedback paths against a real Synapse homeserver."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bulkguard.events import Block, Decision, Message, Register, Report
from tests.integration.conftest import NEED_EXTRA

pytestmark = [pytest.mark.slow, pytest.mark.synapse, NEED_EXTRA]


def _decision(account: str, action: str) -> Decision:
    return Decision(0, 0.0, account, action, 0.99, ["TEST_DECISION"])  # type: ignore[arg-type]


def _user(tb, name: str, ip: str):
    from bulkguard.integrations.synapse.testbed import MatrixUser

    return MatrixUser(tb.url, tb.server_name, name, ip, agent=f"TestClient/{name}")


def test_ladder_and_reinstate_through_the_admin_api(synapse_bed, caplog: pytest.LogCaptureFixture) -> None:
    from bulkguard.integrations.synapse.admin import Enforcer, EnforcementConfig
    from bulkguard.integrations.synapse.testbed import MatrixError

    tb = synapse_bed
    caplog.set_level(logging.DEBUG)
    async def scenario() -> None:
        a, b = _user(tb, "ladder-a", "10.20.0.1"), _user(tb, "ladder-b", "10.20.0.2")
        try:
            await steps(a, b)
        finally:
            for u in (a, b):
                await u.close()

    async def steps(a, b) -> None:
        await a.register()
        await b.register()
        room = await a.open_dm(b.user_id)
        await a.send(room, "before")
        enf = tb.enforcer
        assert enf.apply(_decision(a.user_id, "throttle")) == ["ratelimit"]
        assert tb.admin._call("GET", f"/v1/users/{a.user_id}/override_ratelimit") == {
            "messages_per_second": 1, "burst_count": 3}
        assert enf.apply(_decision(a.user_id, "suspend")) == ["suspend"]
        assert tb.admin.user(a.user_id)["suspended"] is True
        with pytest.raises(MatrixError) as err:
            await a.send(room, "while suspended")
        assert err.value.errcode == "M_USER_SUSPENDED"
        with pytest.raises(MatrixError):
            await a.open_dm("@someone-else:" + tb.server_name)
        assert enf.apply(_decision(a.user_id, "ban")) == ["shadow_ban"]
        info = tb.admin.user(a.user_id)
        assert info["suspended"] is True and info["shadow_banned"] is True
        # reinstate undoes exactly what was done, newest first
        assert enf.apply(_decision(a.user_id, "reinstate")) == ["shadow_ban", "suspend", "ratelimit"]
        info = tb.admin.user(a.user_id)
        assert info["suspended"] is False and info["shadow_banned"] is False
        assert tb.admin._call("GET", f"/v1/users/{a.user_id}/override_ratelimit") == {}
        await a.send(room, "after reinstate")
        # ban as deactivation, on another account
        deact = Enforcer(tb.admin, EnforcementConfig(ban_as="deactivate", challenge_as="none"))
        assert deact.apply(_decision(b.user_id, "challenge")) == []
        assert deact.apply(_decision(b.user_id, "ban")) == ["ratelimit", "suspend", "deactivate"]
        assert tb.admin.user(b.user_id)["deactivated"] is True
        assert deact.apply(_decision(b.user_id, "reinstate")) == ["deactivate", "suspend", "ratelimit"]
        info = tb.admin.user(b.user_id)
        assert info["suspended"] is False
        # Synapse 1.163 on SQLite fails to reactivate (its profile upsert raises "ON CONFLICT
        # clause does not match"); the enforcer records the failed step instead of hiding it
        assert info["deactivated"] is False or (
            len(deact.errors) == 1 and "undo deactivate" in deact.errors[0] and "500" in deact.errors[0])
        assert enf.errors == []
        # remote accounts are not acted on; an unknown local one fails, logged, without the token
        assert enf.apply(_decision("federated-user", "ban")) == []
        enf.apply(_decision("@nobody:" + tb.server_name, "suspend"))
        assert enf.errors and "404" in enf.errors[-1]

    asyncio.run(scenario())
    token = tb.admin._http.headers["authorization"].split()[-1]
    assert len(token) > 10
    assert all(token not in r.getMessage() for r in caplog.records)
    assert token not in repr(tb.admin.__dict__)


def test_registrations_ignores_reports_and_encrypted_messages_become_events(synapse_bed) -> None:
    from bulkguard.integrations.synapse.admin import ReportPoller

    tb = synapse_bed
    poller = ReportPoller(tb.admin)
    poller.poll()   # reports from earlier tests in the module are not this test's
    start = len(tb.gate.events)

    async def scenario() -> None:
        a, b = _user(tb, "feed-a", "10.21.0.1"), _user(tb, "feed-b", "10.21.0.2")
        try:
            await steps(a, b)
        finally:
            for u in (a, b):
                await u.close()

    async def steps(a, b) -> None:
        await a.register()
        await b.register()
        room = await a.open_dm(b.user_id)
        spam = await a.send(room, "Cheap watches at https://watch.example/x")
        await b.join(room)
        await b.report(room, spam, "spam, obviously")
        await b.ignore([a.user_id])
        # an encrypted message: the homeserver sees only ciphertext
        await a._raw("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.encrypted/t1",
                     {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnAC", "sender_key": "k",
                      "session_id": "s", "device_id": "D"})

    asyncio.run(scenario())
    events = tb.gate.events[start:]
    regs = [e for e in events if isinstance(e, Register)]
    assert [(r.account, r.ip, r.client) for r in regs] == [
        ("@feed-a:" + tb.server_name, "10.21.0.1", "TestClient/feed-a"),
        ("@feed-b:" + tb.server_name, "10.21.0.2", "TestClient/feed-b")]
    msgs = [e for e in events if isinstance(e, Message)]
    assert [(m.recipient is not None, m.digest is not None, m.kind) for m in msgs] == [
        (True, False, None),      # the invite: a first message without content
        (True, True, "link"),     # the text
        (True, False, None),      # the encrypted message: no digest, kind unknown
    ]
    assert [(e.blocker, e.blocked) for e in events if isinstance(e, Block)] == [
        ("@feed-b:" + tb.server_name, "@feed-a:" + tb.server_name)]
    reports = poller.poll()
    assert [(r.reporter, r.reported, r.reason, r.messages) for r in reports if isinstance(r, Report)] == [
        ("@feed-b:" + tb.server_name, "@feed-a:" + tb.server_name, "spam",
         ["Cheap watches at https://watch.example/x"])]
    assert poller.poll() == []   # read once
