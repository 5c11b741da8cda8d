"""The FastAPI application: ``create_app(runtime)``.

Routes live in ``bulkguard.service.routes``, one module per area, each exposing ``router``;
:data:`ROUTERS` lists them and ``create_app(..., extra_routers=[...])`` adds more (another
protocol's endpoints, say). A route gets the runtime with :func:`runtime_of` and checks its
key with :func:`authorize`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bulkguard import __version__
from bulkguard.service.auth import AuthError, KeyRing
from bulkguard.service.runtime import Runtime, ServiceUnavailable

log = logging.getLogger("bulkguard.service")


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def authorize(request: Request, scope: str | None) -> str:
    """The key id of the request's key if it has ``scope`` (None: any key); raises
    :class:`AuthError` (401/403) otherwise."""
    keys: KeyRing = request.app.state.keys
    return keys.authorize(request.headers.get("authorization"), scope)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or :class:`BodyTooLarge` past ``limit`` bytes (checked on the declared
    length first, then while reading a chunked body)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > limit:
            raise BodyTooLarge()
    return bytes(chunks)


class _Timing:
    """Pure ASGI middleware: request latency by route template into the metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            rt = scope["app"].state.runtime if "app" in scope else None
            if rt is not None:
                rt.metrics.latency.labels(path).observe(time.perf_counter() - t0)


class _FastCheck:
    """Pure ASGI fast path for ``POST /v1/check``, the call on every outgoing message: the
    same :func:`~bulkguard.service.routes.check.check_request` as the documented route,
    without FastAPI's routing, request object and response classes (about half the time
    of a check)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/check" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        from bulkguard.service.routes.check import MAX_BODY, check_request
        t0 = time.perf_counter()
        app = scope["app"]
        rt: Runtime = app.state.runtime
        auth = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v.decode("latin-1")
        body = bytearray()
        more = True
        while more:
            msg: Message = await receive()
            if msg["type"] == "http.disconnect":
                return
            body.extend(msg.get("body", b""))
            more = msg.get("more_body", False)
            if len(body) > MAX_BODY:
                status, payload = 413, b'{"error":"request body larger than 65536 bytes"}'
                break
        else:
            status, payload = check_request(rt, app.state.keys, auth, bytes(body))
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(payload)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        rt.metrics.latency.labels("/v1/check").observe(time.perf_counter() - t0)


def create_app(runtime: Runtime, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    from bulkguard.service.routes import ROUTERS

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime
        if not rt.ready:
            log.info("%s", rt.resume())
        if app.state.keys.empty:
            log.warning("no API key exists: every endpoint but /healthz and /readyz answers 401. "
                        "Create one with: bulkguard keys create --scope ingest --data %s",
                        rt.cfg.data)
        task = asyncio.create_task(rt.snapshot_loop())
        try:
            yield
        finally:
            task.cancel()
            async with rt.lock:
                if rt.next_seq - 1 > rt.snap_seq:
                    rt.snapshot_now()
            log.info("stopped at line %d", rt.next_seq - 1)

    app = FastAPI(title="bulkguard", version=__version__, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="Stops automated bulk messaging from platform metadata: events "
                              "in, decisions out. Every endpoint but /healthz and /readyz needs "
                              "`Authorization: Bearer KEY` (`bulkguard keys create`).")
    app.state.runtime = runtime
    app.state.keys = KeyRing(runtime.db)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, err: AuthError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse({"error": err.message}, status_code=err.status, headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def _large(request: Request, _: BodyTooLarge) -> Response:
        limit = runtime_of(request).cfg.max_body_bytes
        return JSONResponse({"error": f"request body larger than {limit} bytes"}, status_code=413)

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, err: ServiceUnavailable) -> Response:
        return JSONResponse({"error": f"{err}; nothing of this request was stored, send it again"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        authorize(request, None)
        return JSONResponse(app.openapi())

    for r in (*ROUTERS, *extra_routers):
        app.include_router(r)
    app.add_middleware(_Timing)
    app.add_middleware(_FastCheck)
    return app


__all__ = ["create_app", "runtime_of", "authorize", "read_body", "BodyTooLarge", "Message"]
