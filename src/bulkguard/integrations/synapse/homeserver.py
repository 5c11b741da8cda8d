"""A throw-away Synapse homeserver on loopback: config, start, readiness, stop.

Used by the integration tests and by ``make synapse-demo``; nothing here is needed to
protect a production homeserver (docs/synapse.md has the snippet for that). The
homeserver listens on 127.0.0.1 only, keeps its state in SQLite under ``root`` and has
federation, URL previews, presence and stats reporting off, so it reaches nothing
outside the machine.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SERVER_NAME = "bulkguard.test"
# Rate limits are lifted in the test homeserver so that the tests measure what bulkguard
# stops, not what Synapse's own limits stop (a spammer here sends 50 invites in seconds).
_RELAXED = {"per_second": 1000, "burst_count": 10000}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HomeserverConfig:
    """What varies between test homeservers; everything else is fixed in :func:`render`."""

    root: Path
    port: int
    modules: list[dict[str, object]] = field(default_factory=list)
    server_name: str = SERVER_NAME
    registration_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    relaxed_rate_limits: bool = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.root / "homeserver.yaml"


def render(cfg: HomeserverConfig) -> dict[str, object]:
    """The homeserver.yaml content for ``cfg`` (JSON is valid YAML, so it is written as JSON)."""
    root = cfg.root
    conf: dict[str, object] = {
        "server_name": cfg.server_name,
        "public_baseurl": cfg.base_url + "/",
        "pid_file": str(root / "homeserver.pid"),
        "listeners": [{
            "port": cfg.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            # behind a reverse proxy the client address comes from X-Forwarded-For; the
            # tests use it to give each simulated person their own address
            "x_forwarded": True,
            "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
        "log_config": str(root / "log.yaml"),
        "media_store_path": str(root / "media"),
        "signing_key_path": str(root / "signing.key"),
        "registration_shared_secret": cfg.registration_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        # the cheapest password hashing bcrypt allows: tests register hundreds of accounts
        "bcrypt_rounds": 4,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "federation_domain_whitelist": [],
        "enable_metrics": False,
        "user_directory": {"enabled": True, "search_all_users": True},
        "modules": cfg.modules,
    }
    if cfg.relaxed_rate_limits:
        conf.update({
            "rc_message": _RELAXED, "rc_registration": _RELAXED, "rc_room_creation": _RELAXED,
            "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
            "rc_joins": {"local": _RELAXED, "remote": _RELAXED}, "rc_joins_per_room": _RELAXED,
            "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
            "rc_reports": _RELAXED, "rc_presence": {"per_user": _RELAXED},
        })
    return conf


_LOG_YAML = """version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {path}
root:
  level: WARNING
  handlers: [file]
loggers:
  synapse_http_antispam: {{level: INFO}}
  bulkguard: {{level: INFO}}
disable_existing_loggers: false
"""


def write_config(cfg: HomeserverConfig) -> Path:
    """Write homeserver.yaml, the log config and a signing key under ``cfg.root``."""
    from signedjson.key import generate_signing_key, write_signing_keys  # from matrix-synapse

    cfg.root.mkdir(parents=True, exist_ok=True)
    (cfg.root / "media").mkdir(exist_ok=True)
    (cfg.root / "log.yaml").write_text(_LOG_YAML.format(path=cfg.root / "homeserver.log"))
    key_path = cfg.root / "signing.key"
    if not key_path.exists():
        with open(key_path, "w") as f:
            write_signing_keys(f, [generate_signing_key("a_" + secrets.token_hex(2))])
    cfg.config_path.write_text(json.dumps(render(cfg), indent=1))
    return cfg.config_path


class Homeserver:
    """A Synapse process started from :class:`HomeserverConfig`; a context manager."""

    def __init__(self, cfg: HomeserverConfig, python: str = sys.executable) -> None:
        self.cfg = cfg
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        write_config(self.cfg)
        out = open(self.cfg.root / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [self.python, "-m", "synapse.app.homeserver", "--config-path", str(self.cfg.config_path)],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.cfg.root)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited with code {self.proc.returncode}; "
                                   f"see {self.cfg.root / 'homeserver.log'}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.cfg.base_url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"synapse not ready after {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("homeserver.log", "stdout.log"):
            p = self.cfg.root / name
            if p.exists():
                text += "\n".join(p.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def __enter__(self) -> Homeserver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
