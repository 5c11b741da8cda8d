"""The HTTP side of ``synapse-http-antispam``: a FastAPI router answering Synapse's callbacks.

The module in Synapse POSTs ``<base_url>/<callback>`` with the callback's arguments as
JSON and ``Authorization: Bearer <secret>``. Any 2xx answer means "not spam"; any other
status refuses the action, and the JSON body (``errcode``, ``error``) goes back to the
client. ``ping`` must echo its ``id`` with ``"status": "ok"``. This package's own module
(``module.py``) posts ``user_registered`` and ``ignored_users`` to the same base URL.

Each callback becomes contract events (``mapping.py``), which go to a :class:`Gate`: the
engine, in this process or behind ``bulkguard serve``. The router refuses an invite,
message, room creation or join when the account's current action is at or above
``refuse_from`` (default ``suspend``) or when the event itself was rejected, and hands
every decision to the listeners (the Admin API enforcer, the service's store).

``SynapseAntispam(gate, secret).router`` is an ``APIRouter``; mount it in any FastAPI app,
e.g. ``app.include_router(antispam.router, prefix="/v1/synapse")``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, TypeVar

import msgspec
from fastapi import APIRouter, Request, Response

from bulkguard.engine import Engine
from bulkguard.events import Decision
from bulkguard.integrations.synapse.admin import Secret
from bulkguard.integrations.synapse.mapping import (
    Body, CheckEventForSpam, CheckLoginForSpam, ContractEvent, FederatedUserMayInvite,
    IgnoredUsers, Ping, Rooms, UserMayCreateRoom, UserMayInvite, UserMayJoinRoom, UserRegistered,
    on_create_room, on_event, on_federated_invite, on_ignored, on_invite, on_join, on_registered,
)

log = logging.getLogger("bulkguard.synapse")

Level = Literal["throttle", "challenge", "suspend", "ban"]
LEVELS: Final[tuple[str, ...]] = ("none", "throttle", "challenge", "suspend", "ban")
B = TypeVar("B", bound=Body)


class Gate(Protocol):
    """What the router needs from the engine, wherever it runs."""

    async def submit(self, events: Sequence[ContractEvent]) -> list[Decision]:
        """Apply ``events`` in order (stored, if the gate stores); the decisions they caused."""
        ...

    def level(self, account: str) -> int:
        """The account's current ladder level: 0 none, 1 throttle, 2 challenge, 3 suspend, 4 ban."""
        ...


DecisionListener = Callable[[Decision], None]
# None when the request may call the router, else why not (the 401's message)
Authorizer = Callable[[Request], "str | None"]


def bearer(secret: Secret) -> Authorizer:
    """Requests must carry ``Authorization: Bearer <secret>`` (compared in constant time)."""
    expected = ("Bearer " + secret.reveal()).encode()

    def check(request: Request) -> str | None:
        got = request.headers.get("authorization", "").encode()
        return None if hmac.compare_digest(got, expected) else "missing or wrong antispam secret"
    return check


class LocalGate:
    """A :class:`Gate` over an in-process :class:`~bulkguard.engine.Engine`.

    Events get consecutive line numbers (the contract's ``line``: here the position in the
    stream the homeserver produced). Every decision also goes to ``listeners`` and is kept
    in ``decisions``. Thread-safe: one lock around the engine.
    """

    def __init__(self, engine: Engine | None = None,
                 listeners: Sequence[DecisionListener] = ()) -> None:
        self.engine = engine if engine is not None else Engine()
        self.listeners = list(listeners)
        self.decisions: list[Decision] = []
        self.events: list[ContractEvent] = []
        self.line = 0
        self._lock = threading.Lock()

    async def submit(self, events: Sequence[ContractEvent]) -> list[Decision]:
        return self.submit_now(events)

    def submit_now(self, events: Sequence[ContractEvent]) -> list[Decision]:
        """:meth:`submit` without an event loop."""
        out: list[Decision] = []
        with self._lock:
            eng = self.engine
            for ev in events:
                self.line += 1
                self.events.append(ev)
                out.extend(eng.handle(ev, self.line))
            self.decisions.extend(out)
        self._tell(out)
        return out

    def level(self, account: str) -> int:
        with self._lock:
            a = self.engine.world.accounts.get(account)
            return int(a.level) if a is not None else 0

    def reinstate(self, account: str, reason: str = "APPEAL_GRANTED") -> Decision | None:
        """Lift any action on ``account`` (an appeal or a reviewer), told to the listeners."""
        with self._lock:
            self.line += 1
            d = self.engine.reinstate(account, self.line, self.engine.world.now, reason)
            if d is not None:
                self.decisions.append(d)
        if d is not None:
            self._tell([d])
        return d

    def _tell(self, decisions: list[Decision]) -> None:
        for d in decisions:
            for listener in self.listeners:
                listener(d)


_REFUSE_ERROR: Final = {
    "user_may_invite": "Invites from this account are paused: it looks like bulk messaging.",
    "check_event_for_spam": "Messages from this account are paused: it looks like bulk messaging.",
    "user_may_create_room": "Room creation by this account is paused: it looks like bulk messaging.",
    "user_may_join_room": "Joining rooms is paused for this account: it looks like bulk messaging.",
}


@dataclass
class Stats:
    """Calls answered per callback, and of those refused."""

    calls: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


class SynapseAntispam:
    """The antispam router and what it keeps: ``router`` to mount, ``rooms`` (the mapping's
    book), ``stats``. ``auth`` checks each request: a :class:`Secret` that Synapse sends as
    its Bearer token, or any :data:`Authorizer` (the service's API keys); ``clock`` gives
    event time to callbacks that carry none (invites, joins, registrations), and to messages
    too when ``origin_ts`` is False (a scenario that runs on its own clock)."""

    def __init__(self, gate: Gate, auth: Secret | Authorizer, *, refuse_from: Level = "suspend",
                 rooms: Rooms | None = None, clock: Callable[[], float] = time.time,
                 origin_ts: bool = True) -> None:
        self.origin_ts = origin_ts
        self.gate = gate
        self.rooms = rooms if rooms is not None else Rooms()
        self.threshold = LEVELS.index(refuse_from)
        self.clock = clock
        self.stats = Stats()
        self._auth = bearer(auth) if isinstance(auth, Secret) else auth
        self.router = self._build()

    async def _parse(self, request: Request, kind: type[B]) -> B | Response:
        why = self._auth(request)
        if why is not None:
            return _error(401, "M_UNAUTHORIZED", why)
        raw = await request.body()
        try:
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            return _error(400, "M_BAD_JSON", f"{request.url.path}: {err}")

    async def answer(self, callback: str, account: str, events: list[ContractEvent]) -> Response:
        """Submit ``events``; refuse when the account is stopped or its event was rejected."""
        st = self.stats
        st.calls[callback] = st.calls.get(callback, 0) + 1
        decisions = await self.gate.submit(events) if events else []
        rejected = any(d.account == account and d.action == "reject" for d in decisions)
        if callback in _REFUSE_ERROR and (rejected or self.gate.level(account) >= self.threshold):
            st.refused[callback] = st.refused.get(callback, 0) + 1
            log.info("refused %s by %s", callback, account)
            return _error(403, "M_FORBIDDEN", _REFUSE_ERROR[callback])
        return Response(b"{}", media_type="application/json")

    def _build(self) -> APIRouter:
        router = APIRouter(tags=["synapse"])
        rooms, clock, parse, answer = self.rooms, self.clock, self._parse, self.answer

        @router.post("/ping")
        async def ping(request: Request) -> Response:
            body = await parse(request, Ping)
            if isinstance(body, Response):
                return body
            return Response(msgspec.json.encode({"id": body.id, "status": "ok"}),
                            media_type="application/json")

        @router.post("/user_may_invite")
        async def user_may_invite(request: Request) -> Response:
            body = await parse(request, UserMayInvite)
            if isinstance(body, Response):
                return body
            return await answer("user_may_invite", body.inviter, on_invite(rooms, body, clock()))

        @router.post("/federated_user_may_invite")
        async def federated_user_may_invite(request: Request) -> Response:
            body = await parse(request, FederatedUserMayInvite)
            if isinstance(body, Response):
                return body
            return await answer("user_may_invite", body.event.sender,
                          on_federated_invite(rooms, body, clock()))

        @router.post("/user_may_join_room")
        async def user_may_join_room(request: Request) -> Response:
            body = await parse(request, UserMayJoinRoom)
            if isinstance(body, Response):
                return body
            return await answer("user_may_join_room", body.user, on_join(rooms, body, clock()))

        @router.post("/user_may_create_room")
        async def user_may_create_room(request: Request) -> Response:
            body = await parse(request, UserMayCreateRoom)
            if isinstance(body, Response):
                return body
            return await answer("user_may_create_room", body.user_id,
                          on_create_room(rooms, body, clock()))

        @router.post("/check_event_for_spam")
        async def check_event_for_spam(request: Request) -> Response:
            body = await parse(request, CheckEventForSpam)
            if isinstance(body, Response):
                return body
            return await answer("check_event_for_spam", body.event.sender,
                          on_event(rooms, body, clock(), self.origin_ts))

        @router.post("/check_login_for_spam")
        async def check_login_for_spam(request: Request) -> Response:
            # Logins are allowed: a stopped person must still be able to read and appeal.
            body = await parse(request, CheckLoginForSpam)
            if isinstance(body, Response):
                return body
            return await answer("check_login_for_spam", body.user_id, [])

        @router.post("/user_registered")
        async def user_registered(request: Request) -> Response:
            body = await parse(request, UserRegistered)
            if isinstance(body, Response):
                return body
            return await answer("user_registered", body.user_id, on_registered(body, clock()))

        @router.post("/ignored_users")
        async def ignored_users(request: Request) -> Response:
            body = await parse(request, IgnoredUsers)
            if isinstance(body, Response):
                return body
            return await answer("ignored_users", body.user_id, on_ignored(rooms, body, clock()))

        return router


def _error(status: int, errcode: str, error: str) -> Response:
    return Response(msgspec.json.encode({"errcode": errcode, "error": error}), status_code=status,
                    media_type="application/json")
