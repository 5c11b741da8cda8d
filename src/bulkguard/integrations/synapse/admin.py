"""Enforcement on a Synapse homeserver through its Admin API, and event reports read from it.

The ladder maps to what Synapse offers (configurable in :class:`EnforcementConfig`):

============  =====================================================================
decision      Admin API call
============  =====================================================================
throttle      ``POST /_synapse/admin/v1/users/<id>/override_ratelimit`` (messages/s, burst)
challenge     as ``challenge_as`` says: a suspension (default), the throttle, or nothing
suspend       ``PUT /_synapse/admin/v1/suspend/<id>`` ``{"suspend": true}``
ban           suspension plus ``POST .../users/<id>/shadow_ban`` (default) or
              ``POST /_synapse/admin/v1/deactivate/<id>`` (``ban_as = "deactivate"``)
reject        nothing here: the antispam router refuses the invite or event itself
reinstate     undoes exactly what was done to that account, newest first
============  =====================================================================

Matrix has no re-verification step for a challenge, so by default a challenge stops
sending (a suspension) until a reviewer or an appeal lifts it. Synapse's rate-limit
override takes whole messages per second, so the strongest throttle is 1 message/s
after a burst; it limits events (messages, room creation), not invites.
Deactivation cannot be fully undone: Synapse removes the account's password, sessions
and room memberships, and reactivating it does not bring them back; hence the
reversible shadow-ban is the default for ``ban``.

The admin token is read from a file or an environment variable, held in a
:class:`Secret` whose ``repr`` hides it, sent only in the Authorization header, and
never logged.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import httpx
import msgspec

from bulkguard.events import Decision
from bulkguard.integrations.synapse.mapping import ContractEvent, EventReport, on_report

log = logging.getLogger("bulkguard.synapse")

ADMIN: Final = "/_synapse/admin"
Step = Literal["ratelimit", "suspend", "shadow_ban", "deactivate"]


class Secret:
    """A credential that never shows itself in logs, reprs or tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("empty secret")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    @classmethod
    def load(cls, *, file: str | Path | None = None, env: str | None = None) -> Secret:
        """From a file (first choice) or an environment variable; the error names which is missing."""
        if file:
            p = Path(file)
            if not p.is_file():
                raise FileNotFoundError(f"secret file not found: {p}")
            return cls(p.read_text())
        if env:
            v = os.environ.get(env)
            if not v:
                raise KeyError(f"environment variable {env} is not set")
            return cls(v)
        raise ValueError("no secret configured: give a file or an environment variable")


class EnforcementConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[synapse.enforcement]`` of the config file; every field optional."""

    challenge_as: Literal["suspend", "throttle", "none"] = "suspend"
    ban_as: Literal["shadow_ban", "deactivate"] = "shadow_ban"
    throttle_messages_per_second: int = 1
    throttle_burst_count: int = 3

    def __post_init__(self) -> None:
        if self.throttle_messages_per_second < 1:
            # Synapse reads 0 as "no rate limit at all"
            raise ValueError("throttle_messages_per_second must be >= 1 (0 would lift every limit)")
        if self.throttle_burst_count < 0:
            raise ValueError("throttle_burst_count must be >= 0")

    def steps(self, action: str) -> list[Step]:
        """Admin API steps that bring an account to ``action`` (cumulative up the ladder)."""
        throttle: list[Step] = ["ratelimit"]
        suspend: list[Step] = ["ratelimit", "suspend"]
        if action == "throttle":
            return throttle
        if action == "challenge":
            return {"suspend": suspend, "throttle": throttle, "none": []}[self.challenge_as]
        if action == "suspend":
            return suspend
        if action == "ban":
            return [*suspend, self.ban_as]
        return []


class AdminError(RuntimeError):
    """An Admin API call failed; the message names the call, never the token."""


class AdminApi:
    """The few Admin API calls bulkguard needs (synchronous, one connection pool)."""

    def __init__(self, base_url: str, token: Secret, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token.reveal()}"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, object] | None = None,
              params: dict[str, str | int] | None = None) -> dict[str, object]:
        try:
            r = self._http.request(method, ADMIN + path, json=body, params=params)
        except httpx.HTTPError as err:
            raise AdminError(f"{method} {path}: {type(err).__name__}: {err}") from None
        if r.status_code >= 300:
            raise AdminError(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
        data = r.json() if r.content else {}
        if not isinstance(data, dict):
            raise AdminError(f"{method} {path}: not a JSON object")
        return data

    @staticmethod
    def _user(user_id: str) -> str:
        return urllib.parse.quote(user_id, safe="")

    def user(self, user_id: str) -> dict[str, object]:
        return self._call("GET", f"/v2/users/{self._user(user_id)}")

    def set_ratelimit(self, user_id: str, per_second: int, burst: int) -> None:
        self._call("POST", f"/v1/users/{self._user(user_id)}/override_ratelimit",
                   {"messages_per_second": per_second, "burst_count": burst})

    def clear_ratelimit(self, user_id: str) -> None:
        self._call("DELETE", f"/v1/users/{self._user(user_id)}/override_ratelimit")

    def suspend(self, user_id: str, on: bool) -> None:
        self._call("PUT", f"/v1/suspend/{self._user(user_id)}", {"suspend": on})

    def shadow_ban(self, user_id: str, on: bool) -> None:
        self._call("POST" if on else "DELETE", f"/v1/users/{self._user(user_id)}/shadow_ban", {})

    def deactivate(self, user_id: str) -> None:
        self._call("POST", f"/v1/deactivate/{self._user(user_id)}", {"erase": False})

    def reactivate(self, user_id: str) -> None:
        self._call("PUT", f"/v2/users/{self._user(user_id)}", {"deactivated": False})

    def event_reports(self, start: int, limit: int = 100) -> tuple[list[EventReport], int | None]:
        """Reports oldest first from offset ``start``; the next offset, or None at the end."""
        data = self._call("GET", "/v1/event_reports",
                          params={"from": start, "limit": limit, "dir": "f"})
        items = msgspec.convert(data.get("event_reports", []), list[EventReport])
        nxt = data.get("next_token")
        return items, nxt if isinstance(nxt, int) else None

    def reported_text(self, report_id: int) -> str | None:
        """The body of a reported event when it is unencrypted text, else None."""
        data = self._call("GET", f"/v1/event_reports/{report_id}")
        ev = data.get("event_json")
        if not isinstance(ev, dict) or ev.get("type") != "m.room.message":
            return None
        content = ev.get("content")
        if not isinstance(content, dict) or content.get("msgtype") not in ("m.text", "m.notice", "m.emote"):
            return None
        body = content.get("body")
        return body if isinstance(body, str) and body else None


@dataclass
class Applied:
    """What the enforcer did to one account, in order, so that reinstate can undo exactly that."""

    steps: list[Step] = field(default_factory=list)


class Enforcer:
    """Turns decisions into Admin API calls, in decision order, on one worker thread.

    ``submit`` never blocks the caller (the antispam router answers Synapse first);
    ``wait`` lets tests and shutdown wait until everything submitted is done.
    A failed call is logged with the account and the step, and the next decision goes on.
    """

    def __init__(self, api: AdminApi, config: EnforcementConfig | None = None,
                 local: Callable[[str], bool] | None = None) -> None:
        self.api = api
        self.config = config or EnforcementConfig()
        self.local = local or (lambda account: account.startswith("@"))
        self.applied: dict[str, Applied] = {}
        self.errors: list[str] = []
        self._q: queue.Queue[Decision | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, decision: Decision) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="bulkguard-synapse-enforcer",
                                                daemon=True)
                self._worker.start()
        self._q.put(decision)

    def wait(self) -> None:
        """Block until every submitted decision was applied (or failed)."""
        self._q.join()

    def close(self) -> None:
        if self._worker is not None:
            self._q.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self.api.close()

    def _run(self) -> None:
        while True:
            d = self._q.get()
            try:
                if d is None:
                    return
                self.apply(d)
            finally:
                self._q.task_done()

    def apply(self, d: Decision) -> list[Step]:
        """Apply one decision now; the steps newly taken (for reinstate: the steps undone)."""
        if not self.local(d.account):
            return []   # remote accounts are not ours to suspend; their events are refused in-band
        done = self.applied.setdefault(d.account, Applied())
        if d.action == "reinstate":
            undone = list(reversed(done.steps))
            for step in undone:
                self._undo(d.account, step)
            done.steps.clear()
            return undone
        new = [s for s in self.config.steps(d.action) if s not in done.steps]
        for step in new:
            if self._do(d.account, step):
                done.steps.append(step)
        return new

    def _do(self, user: str, step: Step) -> bool:
        c = self.config
        try:
            if step == "ratelimit":
                self.api.set_ratelimit(user, c.throttle_messages_per_second, c.throttle_burst_count)
            elif step == "suspend":
                self.api.suspend(user, True)
            elif step == "shadow_ban":
                self.api.shadow_ban(user, True)
            else:
                self.api.deactivate(user)
        except AdminError as err:
            self.errors.append(f"{user} {step}: {err}")
            log.error("synapse enforcement failed: %s %s: %s", user, step, err)
            return False
        log.info("synapse enforcement: %s %s", step, user)
        return True

    def _undo(self, user: str, step: Step) -> None:
        try:
            if step == "ratelimit":
                self.api.clear_ratelimit(user)
            elif step == "suspend":
                self.api.suspend(user, False)
            elif step == "shadow_ban":
                self.api.shadow_ban(user, False)
            else:
                self.api.reactivate(user)
        except AdminError as err:
            self.errors.append(f"{user} undo {step}: {err}")
            log.error("synapse reinstatement failed: %s undo %s: %s", user, step, err)
            return
        log.info("synapse enforcement: undo %s %s", step, user)


class ReportPoller:
    """Reads new event reports from the Admin API (Synapse has no module callback for them)."""

    def __init__(self, api: AdminApi, start: int = 0) -> None:
        self.api = api
        self.offset = start   # reports before this offset were read already

    def poll(self) -> list[ContractEvent]:
        out: list[ContractEvent] = []
        while True:
            items, nxt = self.api.event_reports(self.offset)
            for rep in items:
                text = self.api.reported_text(rep.id) if rep.sender else None
                out.extend(on_report(rep, text))
            self.offset += len(items)
            if nxt is None or not items:
                return out
