"""Fixtures of the service tests: a runtime on a fresh data directory, an app with keys, and a
PostgreSQL database of its own for each test run (dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from svc_helpers import PG_ADMIN, Keys, make_runtime  # noqa: E402

from bulkguard.service.app import create_app  # noqa: E402
from bulkguard.service.runtime import Runtime  # noqa: E402


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path / "data")
    yield rt
    rt.close()


@pytest.fixture
def keys(runtime: Runtime) -> Keys:
    return Keys(runtime)


@pytest.fixture
def client(runtime: Runtime, keys: Keys) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, dropped at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bulkguard_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # noqa: BLE001
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN} ({type(err).__name__}); "
                    ".ci/run starts it")
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg_fresh(pg_url: str) -> Iterator[str]:
    """A clean schema state in the run's PostgreSQL database for one test."""
    from sqlalchemy import create_engine, text
    eng = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    yield pg_url
