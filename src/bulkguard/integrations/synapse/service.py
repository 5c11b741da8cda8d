"""The Synapse integration inside ``bulkguard serve``: the ``[synapse]`` config section.

```toml
[synapse]
prefix = "/v1/synapse"                 # where the antispam router is mounted (base_url's path)
refuse_from = "suspend"                # refuse invites/messages of accounts at this level or above
homeserver_url = "http://127.0.0.1:8008"   # enables Admin API enforcement and report polling
admin_token_file = "/etc/bulkguard/synapse_admin_token"   # or the env variable below
admin_token_env = "BULKGUARD_SYNAPSE_ADMIN_TOKEN"
report_poll_seconds = 10.0             # 0: do not read event reports
origin_ts = true                       # a message's time is Synapse's origin_server_ts

[synapse.enforcement]                  # see bulkguard.integrations.synapse.admin
challenge_as = "suspend"
ban_as = "shadow_ban"
throttle_messages_per_second = 1
throttle_burst_count = 3
```

Synapse's two modules authenticate with a service API key of scope ``ingest`` (``bulkguard
keys create --scope ingest``) as their ``authorization``. Callbacks become events through
``Runtime.ingest`` (the path of ``POST /v1/events``: stored, audited, statements of reasons
written), and every stored decision, reviewers' and appeals' included, reaches the Admin API
enforcer through the runtime's listeners.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal, Optional

import msgspec
from fastapi import APIRouter, Depends, Request

from bulkguard.events import Decision, encode_event
from bulkguard.integrations.synapse.admin import (
    AdminApi, AdminError, EnforcementConfig, Enforcer, ReportPoller, Secret,
)
from bulkguard.integrations.synapse.mapping import ContractEvent
from bulkguard.integrations.synapse.router import Authorizer, SynapseAntispam
from bulkguard.service.auth import AuthError, KeyRing
from bulkguard.service.runtime import Runtime

log = logging.getLogger("bulkguard.synapse")


class SynapseSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[synapse]`` of the service config (every key optional)."""

    prefix: str = "/v1/synapse"
    refuse_from: Literal["throttle", "challenge", "suspend", "ban"] = "suspend"
    homeserver_url: Optional[str] = None
    admin_token_file: Optional[str] = None
    admin_token_env: Optional[str] = "BULKGUARD_SYNAPSE_ADMIN_TOKEN"
    report_poll_seconds: float = 10.0
    origin_ts: bool = True
    enforcement: EnforcementConfig = EnforcementConfig()


def settings_of(raw: dict[str, object], where: str = "[synapse]") -> SynapseSettings:
    """Validated settings; a :class:`ValueError` naming the key otherwise."""
    try:
        return msgspec.convert(raw, SynapseSettings)
    except (msgspec.ValidationError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None


class ServiceGate:
    """A :class:`~bulkguard.integrations.synapse.router.Gate` over the service runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def submit(self, events: Sequence[ContractEvent]) -> list[Decision]:
        out = await self.rt.ingest([encode_event(ev) for ev in events], actor="synapse")
        return out.decisions

    def level(self, account: str) -> int:
        a = self.rt.adapter.engine.world.accounts.get(account)
        return int(a.level) if a is not None else 0


def key_auth(scope: str = "ingest") -> Authorizer:
    """Requests must carry a service API key with ``scope`` (as every other service route)."""
    def check(request: Request) -> str | None:
        keys: KeyRing = request.app.state.keys
        try:
            keys.authorize(request.headers.get("authorization"), scope)
        except AuthError as err:
            return err.message
        return None
    return check


class SynapseIntegration:
    """What ``serve`` mounts: the router (``router``), the enforcer and the report poller."""

    def __init__(self, rt: Runtime, settings: SynapseSettings, token: Secret | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.rt = rt
        self.settings = settings
        self.antispam = SynapseAntispam(ServiceGate(rt), key_auth("ingest"),
                                        refuse_from=settings.refuse_from,
                                        origin_ts=settings.origin_ts, clock=clock)
        self.enforcer: Enforcer | None = None
        self.poller: ReportPoller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        if settings.homeserver_url:
            token = token or Secret.load(file=settings.admin_token_file, env=settings.admin_token_env)
            self.enforce_with(AdminApi(settings.homeserver_url, token))
        # the poll loop needs the server's event loop: it starts with the first callback
        # (synapse-http-antispam pings when Synapse starts)
        self.router = APIRouter(prefix=settings.prefix, dependencies=[Depends(self._start)])
        self.router.include_router(self.antispam.router)

    def enforce_with(self, api: AdminApi) -> Enforcer:
        """Enforce every stored decision through ``api`` from now on, and read its reports."""
        self.enforcer = Enforcer(api, self.settings.enforcement)
        self.rt.listeners.append(self.enforcer.submit)
        if self.settings.report_poll_seconds > 0:
            self.poller = ReportPoller(api)
        return self.enforcer

    async def _start(self) -> None:
        self.start_polling()

    def start_polling(self) -> None:
        if self.poller is not None and self._poll_task is None:
            self._poll_task = asyncio.get_running_loop().create_task(self._poll_forever())

    async def poll_once(self) -> int:
        """Read new event reports and ingest them; how many report events went in."""
        assert self.poller is not None
        from starlette.concurrency import run_in_threadpool
        events = await run_in_threadpool(self.poller.poll)
        if events:
            await self.rt.ingest([encode_event(ev) for ev in events], actor="synapse-reports")
        return len(events)

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except AdminError as err:
                log.warning("reading event reports failed: %s", err)
            await asyncio.sleep(self.settings.report_poll_seconds)

    def close(self) -> None:
        """Stop the poll loop (from any thread) and the enforcer (after its pending calls)."""
        task, self._poll_task = self._poll_task, None
        if task is not None and not task.done():
            loop = task.get_loop()
            if not loop.is_closed():   # a closed loop (asyncio.run ended) cancelled it already
                loop.call_soon_threadsafe(task.cancel)
        if self.enforcer is not None:
            self.enforcer.close()
