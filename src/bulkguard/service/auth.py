"""API keys: ``bulkguard keys create --scope SCOPE`` makes one, the service checks
``Authorization: Bearer KEY``.

A key is ``bgk_`` + 32 random bytes (URL-safe base64): high entropy, so storing its SHA-256
is enough (no salt or slow hash needed: nothing to brute-force). The database keeps only the
hash, the scope and a short id (``bgk_`` + 8 hex) that logs and the audit log name.

Scopes: ``ingest`` (POST /v1/events, /v1/check), ``review`` (accounts, actions, statements),
``admin`` (everything). /metrics and /openapi.json take any valid key; /healthz and /readyz none.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from bulkguard.store.db import Database

SCOPES = ("ingest", "review", "admin")
PREFIX = "bgk_"


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(db: Database, scope: str) -> tuple[str, str]:
    """A new key of ``scope``: ``(key id, key)``. The key itself is shown once, never stored."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    key_id = PREFIX + secrets.token_hex(4)
    db.add_key(key_id, hash_key(key), scope, time.time())
    return key_id, key


class KeyRing:
    """Live keys by hash, cached; a miss re-reads the keys when they changed in the database
    (a key made by the CLI while the service runs works at once)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys: dict[str, tuple[str, str]] = {}
        self._version: str | None = None
        self.refresh()

    def refresh(self) -> None:
        from sqlalchemy import select

        from bulkguard.store.db import api_keys
        version = self.db.get_meta("keys_changed")
        with self.db.engine.connect() as c:
            rows = c.execute(select(api_keys.c.key_hash, api_keys.c.id, api_keys.c.scope)
                             .where(api_keys.c.revoked_at.is_(None))).all()
        self._keys = {str(h): (str(i), str(s)) for h, i, s in rows}
        self._version = version

    @property
    def empty(self) -> bool:
        return not self._keys

    def lookup(self, key: str) -> tuple[str, str] | None:
        h = hash_key(key)
        hit = self._keys.get(h)
        if hit is None and self.db.get_meta("keys_changed") != self._version:
            self.refresh()
            hit = self._keys.get(h)
        return hit

    def authorize(self, header: str | None, scope: str | None) -> str:
        """The key id for a request with ``Authorization: header`` needing ``scope`` (None:
        any valid key); :class:`AuthError` 401 or 403 otherwise."""
        if self.empty:
            self.refresh()
            if self.empty:
                raise AuthError(401, "no API key exists yet: create one with "
                                     "`bulkguard keys create --scope ingest --data DIR`")
        if not header or not header.startswith("Bearer "):
            raise AuthError(401, "missing API key: send `Authorization: Bearer KEY`")
        key = header[7:].strip()
        hit = self.lookup(key)
        if hit is None:   # looked up by SHA-256: timing reveals nothing about the key
            raise AuthError(401, "unknown or revoked API key")
        key_id, have = hit
        if scope is not None and have != "admin" and have != scope:
            raise AuthError(403, f"this key's scope is {have!r}; this endpoint needs {scope!r}")
        return key_id

