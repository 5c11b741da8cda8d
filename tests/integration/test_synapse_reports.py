"""Event reports read from Synapse's Admin API by `bulkguard serve`'s poll loop, stored as
`report` events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.integration.conftest import NEED_EXTRA

pytestmark = [pytest.mark.slow, pytest.mark.synapse, NEED_EXTRA]


def test_reports_reach_the_service_through_the_poll_loop(tmp_path: Path) -> None:
    from sqlalchemy import select

    from bulkguard.integrations.synapse.testbed import MatrixUser, testbed
    from bulkguard.store.db import events

    with testbed(tmp_path, service=True, report_poll_seconds=0.5) as tb:
        async def scenario() -> None:
            a = MatrixUser(tb.url, tb.server_name, "rep-a", "10.30.0.1")
            b = MatrixUser(tb.url, tb.server_name, "rep-b", "10.30.0.2")
            try:
                await a.register()
                await b.register()
                room = await a.open_dm(b.user_id)
                spam = await a.send(room, "Crypto doubling, DM me https://coin.example/x")
                await b.join(room)
                await b.report(room, spam, "scam")
            finally:
                await a.close()
                await b.close()

        asyncio.run(scenario())
        assert tb.runtime is not None and tb.integration is not None
        assert tb.integration.poller is not None
        deadline = time.monotonic() + 20
        rows: list = []
        while time.monotonic() < deadline and not rows:
            with tb.runtime.db.engine.connect() as c:
                rows = c.execute(select(events.c.body).where(events.c.type == "report")).all()
            time.sleep(0.2)
        assert len(rows) == 1, "the report never reached the service"
        body = rows[0][0]
        assert '"reporter":"@rep-b:' in body and '"reported":"@rep-a:' in body
        assert '"reason":"scam"' in body and "coin.example" in body
