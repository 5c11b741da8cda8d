"""Health (no key), readiness (no key) and metrics (any key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from bulkguard.service.app import authorize, runtime_of

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="State resumed and the database answers")
async def readyz(request: Request) -> Response:
    rt = runtime_of(request)
    if not rt.ready:
        return JSONResponse({"status": "starting"}, status_code=503)

    def ping() -> None:
        with rt.db.engine.connect() as c:
            c.execute(text("SELECT 1"))
    try:
        await run_in_threadpool(ping)
    except Exception as err:  # noqa: BLE001 - any driver error means not ready
        return JSONResponse({"status": "database unavailable", "error": type(err).__name__},
                            status_code=503)
    return JSONResponse({"status": "ready", "line": rt.next_seq - 1, "snapshot_line": rt.snap_seq})


@router.get("/metrics", tags=["health"], summary="Prometheus metrics (any key)")
async def metrics(request: Request) -> Response:
    authorize(request, None)
    from prometheus_client import CONTENT_TYPE_LATEST
    return Response(runtime_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
