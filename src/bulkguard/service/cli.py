"""Command-line entries of the service: ``serve``, ``keys create``, ``audit verify|head``,
``statements export``. Imported to build the full command line: what the entries need is
imported when they run."""

from __future__ import annotations

import argparse
import sys


def _db(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bulkguard.store.db import Database
    return Database.for_data_dir(args.data, args.db)


def _need_service_deps(cmd: str) -> bool:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        print(f"bulkguard {cmd}: the service needs extra packages ({err.name} is missing): "
              "pip install 'bulkguard[service]'", file=sys.stderr)
        return False
    return True


def serve(args: argparse.Namespace) -> int:
    if not _need_service_deps("serve"):
        return 2
    import logging

    import uvicorn

    from bulkguard.service.app import create_app
    from bulkguard.service.config import ConfigError, load
    from bulkguard.service.runtime import Runtime
    from bulkguard.service.snapshot import SnapshotError
    from bulkguard.store.db import DatabaseError
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load(args.config, data=args.data, db=args.db, host=args.host, port=args.port,
                   rules=args.rules, model=args.model)
        rt = Runtime(cfg)
        logging.getLogger("bulkguard.service").info("%s", rt.resume())
    except (ConfigError, DatabaseError, SnapshotError, ValueError, OSError) as err:
        print(f"bulkguard serve: {err}", file=sys.stderr)
        return 2
    extra = []
    synapse = None
    if cfg.synapse is not None:   # [synapse]: answer a Matrix homeserver (docs/synapse.md)
        from bulkguard.integrations.synapse.service import SynapseIntegration, settings_of
        try:
            synapse = SynapseIntegration(rt, settings_of(cfg.synapse))
        except (ValueError, KeyError, OSError) as err:
            print(f"bulkguard serve: {err}", file=sys.stderr)
            return 2
        extra.append(synapse.router)
    app = create_app(rt, extra_routers=extra)
    # no access log: it would carry client addresses; the service logs no personal data
    uvicorn.run(app, host=cfg.host, port=cfg.port, access_log=False, log_level="info",
                timeout_graceful_shutdown=10)
    if synapse is not None:
        synapse.close()
    rt.close()
    return 0


def keys_create(args: argparse.Namespace) -> int:
    if not _need_service_deps("keys"):
        return 2
    from bulkguard.service.auth import create_key
    from bulkguard.store.db import DatabaseError
    try:
        db = _db(args)
        key_id, key = create_key(db, args.scope)
    except (DatabaseError, ValueError, OSError) as err:
        print(f"bulkguard keys create: {err}", file=sys.stderr)
        return 2
    print(f"created key {key_id} with scope {args.scope}; it is shown once, keep it secret:")
    print(key)
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    if not _need_service_deps("audit"):
        return 2
    from bulkguard.store.audit import verify_engine
    from bulkguard.store.db import DatabaseError
    try:
        db = _db(args)
    except (DatabaseError, OSError) as err:
        print(f"bulkguard audit verify: {err}", file=sys.stderr)
        return 2
    r = verify_engine(db.engine)
    print(r.message, file=sys.stdout if r.ok else sys.stderr)
    return 0 if r.ok else 1


def audit_head(args: argparse.Namespace) -> int:
    if not _need_service_deps("audit"):
        return 2
    from bulkguard.store.audit import head
    n, h = head(_db(args).engine)
    print(f"{n} {h}")
    return 0


def parse_since(text: str) -> float:
    """Unix seconds, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    from datetime import datetime, timezone
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: not Unix seconds or an ISO 8601 date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def statements_export(args: argparse.Namespace) -> int:
    if not _need_service_deps("statements"):
        return 2
    from bulkguard.store.db import DatabaseError
    try:
        since = parse_since(args.since)
        db = _db(args)
    except (DatabaseError, ValueError, OSError) as err:
        print(f"bulkguard statements export: {err}", file=sys.stderr)
        return 2
    import json
    rows = [r["statement"] for r in db.statements_since(since)]
    text = json.dumps({"statements": rows}, indent=1, ensure_ascii=False) + "\n"
    if args.out and args.out != "-":
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{len(rows)} statements written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_parsers(sub: argparse._SubParsersAction, lazy) -> None:  # type: ignore[type-arg,no-untyped-def]
    """The service's subcommands, for ``bulkguard.cli``."""
    from bulkguard.cli import engine_args
    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", default="bulkguard-data",
                       help="data directory (snapshots, SQLite database; default bulkguard-data)")
        p.add_argument("--db", help="database URL instead of SQLite in --data, e.g. "
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/bulkguard")

    s = sub.add_parser("serve", help="run the HTTP service (needs bulkguard[service])")
    s.add_argument("--config", help="TOML config file (docs/service.md)")
    s.add_argument("--data", help="data directory (default bulkguard-data)")
    s.add_argument("--db", help="database URL (default: SQLite DATA/bulkguard.sqlite3)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8080)")
    engine_args(s)
    s.set_defaults(run=lazy("bulkguard.service.cli:serve"))

    k = sub.add_parser("keys", help="API keys of the service")
    ksub = k.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    kc = ksub.add_parser("create", help="create a key; prints it alone on the last line")
    kc.add_argument("--scope", required=True, choices=("ingest", "review", "admin"))
    data_args(kc)
    kc.set_defaults(run=lazy("bulkguard.service.cli:keys_create"))

    a = sub.add_parser("audit", help="the service's append-only audit log")
    asub = a.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    av = asub.add_parser("verify", help="check the hash chain: exit 0 intact, 1 naming the first "
                                        "bad record")
    data_args(av)
    av.set_defaults(run=lazy("bulkguard.service.cli:audit_verify"))
    ah = asub.add_parser("head", help="print the record count and head hash (to publish)")
    data_args(ah)
    ah.set_defaults(run=lazy("bulkguard.service.cli:audit_head"))

    st = sub.add_parser("statements", help="statements of reasons (DSA Art. 17)")
    ssub = st.add_subparsers(dest="statements_command", required=True, metavar="SUBCOMMAND")
    se = ssub.add_parser("export", help="export as DSA Transparency Database JSON")
    se.add_argument("--since", required=True, help="Unix seconds or ISO 8601 date/time (UTC)")
    se.add_argument("--out", help="file to write (default: standard output)")
    data_args(se)
    se.set_defaults(run=lazy("bulkguard.service.cli:statements_export"))
