"""Engine-state snapshots of the service: ``DIR/engine.snapshot``.

Layout: a magic line, one line of JSON header, then the payload. The header names the
engine version (:data:`~bulkguard.service.adapter.ENGINE_VERSION`), the last line the state
includes, the database it belongs to, the payload's length and an HMAC-SHA256 of header and
payload under a key kept in ``DIR/snapshot.key`` (mode 0600). Everything is checked before
the payload is decoded: a snapshot of another engine version, another database, a truncated
or altered file is refused with a message that says so.

The payload is the engine state in :mod:`bulkguard.store.snapshot`'s format (the one
``replay --state`` checkpoints use): plain MessagePack values behind its own header and
SHA-256, so nothing in a snapshot can run code, whoever wrote it. The HMAC on top says
that this service wrote it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bulkguard.store import snapshot as state_format
from bulkguard.types import StateSnapshot

if TYPE_CHECKING:
    from bulkguard.engine import Engine

MAGIC = b"BULKGUARD-SNAPSHOT 1\n"
NAME = "engine.snapshot"
KEY_NAME = "snapshot.key"


class SnapshotError(ValueError):
    """A snapshot that cannot be used; the message says which file and why."""


@dataclass
class Snapshot:
    seq: int                 # every event up to this line is in the state
    engine_version: str
    database: str            # instance id of the database the events are in
    state: StateSnapshot


def _key(data_dir: Path) -> bytes:
    p = data_dir / KEY_NAME
    try:
        key = p.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
    if len(key) < 32:
        raise SnapshotError(f"{p}: snapshot key is shorter than 32 bytes; delete it and the "
                            "snapshot to start afresh")
    return key


def write(data_dir: str | os.PathLike[str], snap: Snapshot) -> Path:
    """Write atomically (temporary file, fsync, rename), mode 0600."""
    d = Path(data_dir)
    key = _key(d)
    try:
        payload = state_format.encode(snap.state)
    except state_format.SnapshotError as err:
        raise SnapshotError(f"{d / NAME}: {err}") from None
    header = {"engine_version": snap.engine_version, "seq": snap.seq, "database": snap.database,
              "length": len(payload)}
    head = json.dumps(header, sort_keys=True).encode()
    mac = hmac.new(key, head + b"\n" + payload, hashlib.sha256).hexdigest()
    header["hmac"] = mac
    tmp = d / (NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(MAGIC)
        f.write(json.dumps(header, sort_keys=True).encode() + b"\n")
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    path = d / NAME
    os.replace(tmp, path)
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return path


def read(data_dir: str | os.PathLike[str], engine_version: str, database: str,
         engine: Engine) -> Snapshot | None:
    """The snapshot in ``data_dir``, or None if there is none; :class:`SnapshotError` if it
    cannot be used. ``engine`` gives the policy configurations the state is rebuilt with;
    it is not changed."""
    d = Path(data_dir)
    path = d / NAME
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    if not blob.startswith(MAGIC):
        raise SnapshotError(f"{path}: not a bulkguard service snapshot")
    nl = blob.find(b"\n", len(MAGIC))
    if nl < 0:
        raise SnapshotError(f"{path}: truncated snapshot (no header)")
    try:
        header = json.loads(blob[len(MAGIC):nl])
        mac = str(header.pop("hmac"))
        seq, version, db = int(header["seq"]), str(header["engine_version"]), str(header["database"])
        length = int(header["length"])
    except (ValueError, KeyError, TypeError) as err:
        raise SnapshotError(f"{path}: unreadable snapshot header ({err})") from None
    if version != engine_version:
        raise SnapshotError(
            f"{path}: snapshot written by engine {version}, this is {engine_version}; the state "
            "layouts differ, so it is refused. Move the snapshot away to start from empty "
            "state (decisions already stored are kept), or run the engine version that wrote it")
    if db != database:
        raise SnapshotError(f"{path}: snapshot belongs to another database (instance {db}, this "
                            f"database is {database}); use the data directory and --db it was "
                            "written with, or move it away")
    payload = blob[nl + 1:]
    if len(payload) != length:
        raise SnapshotError(f"{path}: truncated snapshot ({len(payload)} of {length} bytes)")
    head = json.dumps(header, sort_keys=True).encode()
    want = hmac.new(_key(d), head + b"\n" + payload, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        raise SnapshotError(f"{path}: snapshot checksum does not match (altered, or written "
                            f"with another {KEY_NAME}); refused")
    try:
        state, _ = state_format.decode(payload, engine, str(path))
    except state_format.SnapshotError as err:
        raise SnapshotError(str(err)) from None
    return Snapshot(seq, version, db, cast("StateSnapshot", state))
