"""Settings of ``bulkguard serve``: defaults, a TOML file (``--config``), then flags.

Every key is optional; with none the service runs on embedded defaults: state in memory,
snapshots and SQLite in the data directory.

```toml
[service]
data = "bulkguard-data"          # snapshots, snapshot key, bulkguard.sqlite3
db = "postgresql+psycopg://postgres@127.0.0.1:5432/bulkguard"   # default: SQLite in data
host = "127.0.0.1"
port = 8080
rules = "my-rules.toml"          # default: the shipped rules
model = "none"                   # default: the shipped model
max_body_bytes = 8388608         # larger requests: 413
max_batch = 10000                # more events in one request: 413
max_line_bytes = 65536           # a longer event is rejected (per item)
snapshot_every_events = 100000
snapshot_every_seconds = 300
window = 0                       # reorder window, s (docs/time.md); 0: applied as they come
# max_window = 900              # how far the window may grow (default: 900 if window > 0)
max_ahead = 3600                 # an event further ahead of stream time needs confirming

[statements]
terms_ground = "Terms of Service, section 4: no bulk or automated messaging"
terms_url = "https://example.invalid/terms#4"
territorial_scope = ["DE", "FR"]

[synapse]                        # optional: protect a Matrix homeserver (docs/synapse.md)
homeserver_url = "http://127.0.0.1:8008"
admin_token_file = "/etc/bulkguard/synapse_admin_token"
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bulkguard.store.statements import StatementConfig


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class ServiceConfig:
    data: str = "bulkguard-data"
    db: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    rules: str | None = None
    model: str | None = None
    max_body_bytes: int = 8 << 20
    max_batch: int = 10_000
    max_line_bytes: int = 64 << 10
    snapshot_every_events: int = 100_000
    snapshot_every_seconds: float = 300.0
    # the clock stage (docs/time.md): reorder window (0: events applied as they come, no
    # decision waits), how far it may grow, how far ahead an event needs confirmation
    window: float = 0.0
    max_window: float | None = None
    max_ahead: float = 3600.0
    statements: StatementConfig = field(default_factory=StatementConfig)
    # [synapse]: protect a Matrix homeserver (bulkguard.integrations.synapse.service checks it)
    synapse: dict[str, Any] | None = None


_INTS = {"port", "max_body_bytes", "max_batch", "max_line_bytes", "snapshot_every_events"}
_STRS = {"data", "db", "host", "rules", "model"}


def load(path: str | None, **overrides: Any) -> ServiceConfig:
    """Defaults, then the file at ``path`` (if any), then non-None ``overrides``."""
    cfg = ServiceConfig(data=os.environ.get("BULKGUARD_DATA", "bulkguard-data"))
    if path:
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as err:
            raise ConfigError(f"{p}: not a valid TOML file: {err}") from None
        unknown = set(doc) - {"service", "statements", "synapse"}
        if unknown:
            raise ConfigError(f"{p}: unknown section(s) {sorted(unknown)}")
        svc = doc.get("service", {})
        known = {f.name for f in fields(ServiceConfig)} - {"statements", "synapse"}
        values: dict[str, Any] = {}
        for k, v in svc.items():
            if k not in known:
                raise ConfigError(f"{p}: unknown key [service].{k}")
            if k in _INTS and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise ConfigError(f"{p}: [service].{k} must be a positive integer")
            if k in _STRS and not isinstance(v, str):
                raise ConfigError(f"{p}: [service].{k} must be a string")
            if k == "snapshot_every_seconds" and (not isinstance(v, (int, float)) or v <= 0):
                raise ConfigError(f"{p}: [service].{k} must be a positive number")
            if k in ("window", "max_window", "max_ahead"):
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1e9:
                    raise ConfigError(f"{p}: [service].{k} must be a number of seconds >= 0")
                v = float(v)
            values[k] = v
        st = doc.get("statements", {})
        sknown = {f.name for f in fields(StatementConfig)}
        for k in st:
            if k not in sknown:
                raise ConfigError(f"{p}: unknown key [statements].{k}")
        if "territorial_scope" in st:
            st = {**st, "territorial_scope": tuple(st["territorial_scope"])}
        syn = doc.get("synapse")
        if syn is not None and not isinstance(syn, dict):
            raise ConfigError(f"{p}: [synapse] must be a table")
        cfg = replace(cfg, **values, statements=StatementConfig(**st), synapse=syn)
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
