"""The smallest Synapse module for what ``synapse-http-antispam`` does not forward.

``synapse-http-antispam`` forwards the spam-checker callbacks about invites, joins, room
creation, events and logins, but deliberately not ``check_registration_for_spam``, and
Synapse has no spam-checker callback for ignoring a user at all. Detection needs both:
registrations (clusters of accounts made from one address, sends in the first minutes of an
account) and ignores (the Matrix form of a block). This module forwards exactly those two,
in the antispam module's protocol (POST ``<base_url>/<name>`` with a JSON body and
``Authorization: Bearer <authorization>``):

* ``user_registered`` ``{"user_id", "request_info": [[user_agent, ip], ...]}`` once the
  account exists (Synapse's ``on_user_registration``; the user agent and address come from
  ``check_registration_for_spam``, which runs earlier in the same registration and which this
  module always answers "allow"). It is awaited, so the engine hears of the account before
  the account can send anything.
* ``ignored_users`` ``{"user_id", "ignored": [user_id, ...]}`` whenever a user's
  ``m.ignored_user_list`` account data changes.

Both fail open: if bulkguard cannot be reached, Synapse goes on and the module logs it.

homeserver.yaml::

    modules:
      - module: bulkguard.integrations.synapse.module.BulkguardForwarder
        config:
          base_url: http://127.0.0.1:8080/v1/synapse
          authorization_path: /etc/bulkguard/antispam_secret   # or `authorization: ...`

It imports only Synapse's module API, and only inside Synapse.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Collection, Final

if TYPE_CHECKING:   # Synapse is imported only when Synapse loads the module
    from synapse.module_api import ModuleApi
    from synapse.spam_checker_api import RegistrationBehaviour

log = logging.getLogger(__name__)

MAX_PENDING: Final = 10_000   # registrations between the spam check and the account's creation
IGNORED: Final = "m.ignored_user_list"


class BulkguardForwarder:
    """Forwards registrations and ignore lists to bulkguard's antispam router."""

    def __init__(self, config: dict[str, object], api: ModuleApi) -> None:
        self._api = api
        base = config.get("base_url")
        if not isinstance(base, str) or not base:
            raise ValueError("bulkguard module: `base_url` is required")
        self._url = base.rstrip("/")
        auth = config.get("authorization")
        path = config.get("authorization_path")
        if not auth and isinstance(path, str):
            with open(path) as f:
                auth = f.read().strip()
        if not isinstance(auth, str) or not auth:
            raise ValueError("bulkguard module: `authorization` or `authorization_path` is required")
        self._headers = {"Authorization": [f"Bearer {auth}"]}
        # localpart -> (user agent, ip) pairs, from the spam check until the account exists
        self._pending: OrderedDict[str, list[tuple[str | None, str | None]]] = OrderedDict()
        api.register_spam_checker_callbacks(check_registration_for_spam=self.check_registration_for_spam)
        api.register_account_validity_callbacks(on_user_registration=self.on_user_registration)
        api.register_account_data_callbacks(on_account_data_updated=self.on_account_data_updated)

    async def check_registration_for_spam(
        self, email_threepid: dict[str, str] | None, username: str | None,
        request_info: Collection[tuple[str | None, str | None]],
        auth_provider_id: str | None = None,
    ) -> RegistrationBehaviour:
        from synapse.spam_checker_api import RegistrationBehaviour

        if username is not None:
            self._pending[username] = [(ua, ip) for ua, ip in request_info]
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return RegistrationBehaviour.ALLOW

    async def on_user_registration(self, user_id: str) -> None:
        local = user_id[1:].split(":", 1)[0]
        info = self._pending.pop(local, [])
        await self._post("user_registered", {"user_id": user_id,
                                             "request_info": [list(p) for p in info]})

    async def on_account_data_updated(self, user_id: str, room_id: str | None,
                                      account_data_type: str, content: dict[str, object]) -> None:
        if room_id is not None or account_data_type != IGNORED or not self._api.is_mine(user_id):
            return
        users = content.get("ignored_users")
        ignored = sorted(u for u in users if isinstance(u, str)) if isinstance(users, dict) else []
        await self._post("ignored_users", {"user_id": user_id, "ignored": ignored})

    async def _post(self, name: str, body: dict[str, object]) -> None:
        try:
            await self._api.http_client.post_json_get_json(f"{self._url}/{name}", body, self._headers)
        except Exception as err:   # fail open: never stop a registration or an ignore
            log.warning("bulkguard: POST %s/%s failed: %s", self._url, name, type(err).__name__)
