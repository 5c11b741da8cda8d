"""Helpers of the service tests (imported by conftest and the test modules)."""

from __future__ import annotations

import os
from pathlib import Path

from bulkguard.service.auth import create_key
from bulkguard.service.config import load
from bulkguard.service.runtime import Runtime

PG_ADMIN = os.environ.get("BULKGUARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_runtime(data: Path, **kw) -> Runtime:  # type: ignore[no-untyped-def]
    return Runtime(load(None, data=str(data), **kw))


class Keys:
    def __init__(self, rt: Runtime) -> None:
        self.ingest = create_key(rt.db, "ingest")[1]
        self.review = create_key(rt.db, "review")[1]
        self.admin = create_key(rt.db, "admin")[1]

    @staticmethod
    def h(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}
