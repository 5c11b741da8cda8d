"""A whole protected homeserver on loopback, for the integration tests and ``make synapse-demo``.

:func:`testbed` starts, in order: bulkguard's antispam router (uvicorn in a thread, on a
free port), a Synapse homeserver configured with ``synapse-http-antispam`` and this
package's module pointing at it, an admin account (registered with the shared secret)
whose token the Admin API enforcer uses; and stops all of it afterwards.
:class:`MatrixUser` drives one account with matrix-nio, each from its own address
(``X-Forwarded-For``, which the homeserver trusts on its loopback listener).
With ``service=True`` bulkguard runs as ``bulkguard serve`` does, with ``[synapse]`` set.
Needs the ``synapse`` extra.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import aiohttp
import httpx
import msgspec
import uvicorn
from fastapi import FastAPI
from nio import AsyncClient  # type: ignore[import-untyped]

from bulkguard.engine import Engine
from bulkguard.events import Decision
from bulkguard.integrations.synapse.admin import AdminApi, EnforcementConfig, Enforcer, Secret
from bulkguard.integrations.synapse.homeserver import (
    Homeserver, HomeserverConfig, free_port,
)
from bulkguard.integrations.synapse.router import Gate, Level, LocalGate, SynapseAntispam
from bulkguard.integrations.synapse.service import SynapseIntegration, SynapseSettings
from bulkguard.service.runtime import Runtime

PREFIX: Final = "/v1/synapse"
CALLBACKS: Final = [   # what synapse-http-antispam 0.5 forwards that Synapse 1.163 accepts
    "user_may_invite", "user_may_join_room", "user_may_create_room", "check_event_for_spam",
    "check_login_for_spam", "federated_user_may_invite",
]


def antispam_modules(base_url: str, secret: str) -> list[dict[str, object]]:
    """The ``modules:`` entries of homeserver.yaml (docs/synapse.md explains each)."""
    return [
        {"module": "synapse_http_antispam.HTTPAntispam",
         "config": {"base_url": base_url, "authorization": secret, "do_ping": True,
                    "enabled_callbacks": CALLBACKS,
                    "fail_open": {c: True for c in CALLBACKS}}},
        {"module": "bulkguard.integrations.synapse.module.BulkguardForwarder",
         "config": {"base_url": base_url, "authorization": secret}},
    ]


class ThreadedServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: FastAPI, port: int, lifespan: Literal["on", "off"] = "off") -> None:
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan=lifespan))
        self.thread = threading.Thread(target=self.server.run, name="bulkguard-antispam", daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("antispam server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def register_admin(base_url: str, shared_secret: str, user: str = "bulkguard-admin") -> str:
    """Register a server admin with the shared secret (Synapse's admin register API); its token."""
    url = base_url + "/_synapse/admin/v1/register"
    with httpx.Client(timeout=30) as http:
        nonce = http.get(url).json()["nonce"]
        password = secrets.token_urlsafe(16)
        mac = hmac.new(shared_secret.encode(), b"\x00".join(
            [nonce.encode(), user.encode(), password.encode(), b"admin"]), hashlib.sha1).hexdigest()
        r = http.post(url, json={"nonce": nonce, "username": user, "password": password,
                                 "admin": True, "mac": mac})
        r.raise_for_status()
        return str(r.json()["access_token"])


@dataclass
class Testbed:
    homeserver: Homeserver
    antispam: SynapseAntispam
    gate: Gate
    enforcer: Enforcer
    admin: AdminApi
    admin_user: str
    server_url: str                          # bulkguard's HTTP server
    decisions: list[Decision] = field(default_factory=list)   # every decision, in order
    runtime: Runtime | None = None           # the service's, when `bulkguard serve` runs it
    review_key: str | None = None
    integration: SynapseIntegration | None = None

    @property
    def url(self) -> str:
        return self.homeserver.cfg.base_url

    @property
    def server_name(self) -> str:
        return self.homeserver.cfg.server_name

    def settle(self) -> None:
        """Wait until every decision so far was enforced through the Admin API."""
        self.enforcer.wait()

    def level(self, account: str) -> int:
        return self.gate.level(account)

    def reinstate(self, account: str, note: str = "appeal granted") -> list[Decision]:
        """Lift any action on ``account`` the way a reviewer does: through the service's
        ``POST /v1/accounts/{id}/actions`` when it runs, else through the in-process engine."""
        if self.runtime is None:
            assert isinstance(self.gate, LocalGate)
            d = self.gate.reinstate(account, "APPEAL_GRANTED")
            return [d] if d is not None else []
        r = httpx.post(f"{self.server_url}/v1/accounts/{urllib.parse.quote(account, safe='')}/actions",
                       json={"action": "reinstate", "note": note},
                       headers={"Authorization": f"Bearer {self.review_key}"}, timeout=30)
        r.raise_for_status()
        return [msgspec.convert(d, Decision) for d in r.json()["decisions"]]

    def audit_records(self) -> list[dict[str, object]]:
        """The service's audit log (every record), or [] without the service."""
        if self.runtime is None:
            return []
        from sqlalchemy import select

        from bulkguard.store.db import audit
        with self.runtime.db.engine.connect() as c:
            return [dict(r) for r in c.execute(select(audit).order_by(audit.c.seq)).mappings()]

    def statements(self, account: str) -> list[dict[str, object]]:
        """The service's statements of reasons for ``account`` (``GET .../statements``)."""
        r = httpx.get(f"{self.server_url}/v1/accounts/{urllib.parse.quote(account, safe='')}/statements",
                      headers={"Authorization": f"Bearer {self.review_key}"}, timeout=30)
        r.raise_for_status()
        out = r.json()
        return list(out.get("statements", [])) if isinstance(out, dict) else []


@contextmanager
def testbed(root: Path, *, engine: Engine | None = None, service: bool = False,
            refuse_from: Level = "suspend", enforcement: EnforcementConfig | None = None,
            clock: Callable[[], float] = time.time, origin_ts: bool = True,
            report_poll_seconds: float = 0.0) -> Iterator[Testbed]:
    """Everything started under ``root`` (see the module docstring); stopped on exit.

    ``service``: bulkguard runs as ``bulkguard serve`` does (the service runtime, its SQLite
    store, audit log and statements, API keys; the router mounted through ``[synapse]``);
    otherwise as a bare router over an in-process engine (``engine``, default rules only)."""
    decisions: list[Decision] = []
    runtime: Runtime | None = None
    integration: SynapseIntegration | None = None
    review_key: str | None = None
    if service:
        from bulkguard.service.app import create_app
        from bulkguard.service.auth import create_key
        from bulkguard.service.config import ServiceConfig

        runtime = Runtime(ServiceConfig(data=str(root / "bulkguard")))
        runtime.listeners.append(decisions.append)
        secret = create_key(runtime.db, "ingest")[1]
        review_key = create_key(runtime.db, "review")[1]
        integration = SynapseIntegration(runtime, SynapseSettings(
            prefix=PREFIX, refuse_from=refuse_from, origin_ts=origin_ts,
            enforcement=enforcement or EnforcementConfig(),
            report_poll_seconds=report_poll_seconds), clock=clock)
        antispam = integration.antispam
        gate: Gate = antispam.gate
        app = create_app(runtime, extra_routers=[integration.router])
        lifespan: Literal["on", "off"] = "on"
    else:
        secret = secrets.token_urlsafe(24)
        gate = LocalGate(engine, listeners=[decisions.append])
        antispam = SynapseAntispam(gate, Secret(secret), refuse_from=refuse_from, clock=clock,
                                   origin_ts=origin_ts)
        app = FastAPI()
        app.include_router(antispam.router, prefix=PREFIX)
        lifespan = "off"
    server = ThreadedServer(app, free_port(), lifespan=lifespan)
    server.start()
    hs: Homeserver | None = None
    enforcer: Enforcer | None = None
    try:
        base = f"http://127.0.0.1:{server.port}{PREFIX}"
        hs = Homeserver(HomeserverConfig(root=root / "synapse", port=free_port(),
                                         modules=antispam_modules(base, secret)))
        hs.start()
        admin_user = "bulkguard-admin"
        token = Secret(register_admin(hs.cfg.base_url, hs.cfg.registration_secret, admin_user))
        admin = AdminApi(hs.cfg.base_url, token)
        if integration is not None:
            enforcer = integration.enforce_with(admin)
        else:
            enforcer = Enforcer(admin, enforcement)
            assert isinstance(gate, LocalGate)
            gate.listeners.append(enforcer.submit)
        yield Testbed(hs, antispam, gate, enforcer, admin, f"@{admin_user}:{hs.cfg.server_name}",
                      f"http://127.0.0.1:{server.port}", decisions, runtime, review_key, integration)
    finally:
        if integration is not None:
            integration.close()
        elif enforcer is not None:
            enforcer.close()
        if hs is not None:
            hs.stop()
        server.stop()
        if runtime is not None:
            runtime.close()


class MatrixError(RuntimeError):
    """A client call the homeserver refused; ``errcode`` is Matrix's (M_FORBIDDEN, ...)."""

    def __init__(self, what: str, status: int, errcode: str, message: str) -> None:
        super().__init__(f"{what}: {status} {errcode} {message}")
        self.status = status
        self.errcode = errcode


class MatrixUser:
    """One account driven by matrix-nio, its requests coming from ``ip``. Like Matrix clients,
    it waits and retries when the homeserver answers 429 (rate limited)."""

    def __init__(self, homeserver: str, server_name: str, name: str, ip: str,
                 agent: str = "bulkguard-testbed/1.0") -> None:
        self.name = name
        self.user_id = f"@{name}:{server_name}"
        self.ip = ip
        self.client = AsyncClient(homeserver, self.user_id)
        # nio builds its session lazily; one made here carries this person's address and agent
        self.client.client_session = aiohttp.ClientSession(
            headers={"X-Forwarded-For": ip, "X-Forwarded-Proto": "http", "User-Agent": agent})
        self.rate_limited = 0   # 429 answers waited out
        self.refused: list[str] = []   # errcodes of the calls the homeserver refused

    async def register(self) -> None:
        r = await self.client.register(self.name, "pw-" + secrets.token_hex(8), device_name="phone")
        if not getattr(r, "access_token", None):
            raise RuntimeError(f"register {self.name}: {r}")

    async def _raw(self, method: str, path: str, body: dict[str, object],
                   retries: int = 60) -> dict[str, object]:
        for _ in range(retries):
            resp = await self.client.send(method, path, json.dumps(body), headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.client.access_token}"})
            data = await resp.json(content_type=None)
            if not isinstance(data, dict):
                data = {}
            if resp.status == 429:
                self.rate_limited += 1
                wait = data.get("retry_after_ms")
                await asyncio.sleep(min(float(wait) / 1000.0, 5.0) if isinstance(wait, int) else 1.0)
                continue
            if resp.status >= 300:
                self.refused.append(str(data.get("errcode")))
                raise MatrixError(f"{method} {path.split('?')[0]}", resp.status,
                                  str(data.get("errcode")), str(data.get("error")))
            return data
        raise MatrixError(f"{method} {path}", 429, "M_LIMIT_EXCEEDED", f"still limited after {retries} tries")

    async def open_dm(self, other: str) -> str:
        """Create a direct-message room inviting ``other``; its room id (MatrixError if refused)."""
        data = await self._raw("POST", "/_matrix/client/v3/createRoom", {
            "is_direct": True, "preset": "trusted_private_chat", "invite": [other]})
        return str(data["room_id"])

    async def create_room(self, name: str, invite: Sequence[str] = ()) -> str:
        data = await self._raw("POST", "/_matrix/client/v3/createRoom", {
            "name": name, "preset": "private_chat", "invite": list(invite)})
        return str(data["room_id"])

    async def invite(self, room_id: str, user_id: str) -> None:
        await self._raw("POST", f"/_matrix/client/v3/rooms/{room_id}/invite", {"user_id": user_id})

    async def join(self, room_id: str) -> None:
        await self._raw("POST", f"/_matrix/client/v3/join/{room_id}", {})

    async def send(self, room_id: str, text: str) -> str:
        txn = secrets.token_hex(8)
        data = await self._raw("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}",
                               {"msgtype": "m.text", "body": text})
        return str(data.get("event_id"))

    async def ignore(self, user_ids: Sequence[str]) -> None:
        await self._raw("PUT", f"/_matrix/client/v3/user/{self.user_id}/account_data/m.ignored_user_list",
                        {"ignored_users": {u: {} for u in user_ids}})

    async def report(self, room_id: str, event_id: str, reason: str) -> None:
        await self._raw("POST", f"/_matrix/client/v3/rooms/{room_id}/report/{event_id}",
                        {"reason": reason})

    async def close(self) -> None:
        await self.client.close()
