"""Review endpoints (scope ``review``): an account's explanation, a reviewer's action, its
statements of reasons."""

from __future__ import annotations

from typing import Literal, Optional

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bulkguard.events import Ts
from bulkguard.service.adapter import ReviewerAction, encode_event
from bulkguard.service.app import authorize, read_body, runtime_of
from bulkguard.service.runtime import field_of

router = APIRouter()
_encoder = msgspec.json.Encoder()


class ActionRequest(msgspec.Struct):
    action: Literal["ban", "suspend", "reinstate", "allow"]
    note: Optional[str] = None
    until: Optional[Ts] = None    # end of a suspension (event time)
    ts: Optional[Ts] = None       # default: the engine's clock


_action_decoder = msgspec.json.Decoder(ActionRequest)


@router.get("/v1/accounts/{account}", tags=["review"],
            summary="What the engine knows of an account and why (scope review)")
async def get_account(account: str, request: Request) -> Response:
    authorize(request, "review")
    rt = runtime_of(request)
    view = rt.adapter.account_view(account)
    decisions = await run_in_threadpool(rt.db.decisions_of, account)
    actions = await run_in_threadpool(rt.db.reviewer_actions_of, account)
    if view is None and not decisions and not actions:
        return JSONResponse({"error": f"no account {account!r} in the engine or the store"},
                            status_code=404)
    body = view or {"account": account, "action": "none", "known_to_engine": False}
    body["decisions"] = [{**d, "explain": [{"code": c, "explain": rt.adapter.reason_text(c)}
                                           for c in d["reasons"]]} for d in decisions]
    body["reviewer_actions"] = actions
    return Response(_encoder.encode(body), media_type="application/json")


@router.post("/v1/accounts/{account}/actions", tags=["review"],
             summary="A reviewer's ban, suspend, reinstate or allow (scope review)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": msgspec.json.schema(ActionRequest),
                 "example": {"action": "reinstate", "note": "verified by phone"}}}}})
async def post_action(account: str, request: Request) -> Response:
    key_id = authorize(request, "review")
    rt = runtime_of(request)
    body = await read_body(request, 64 << 10)
    try:
        req = _action_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as err:
        return JSONResponse({"error": str(err), "field": field_of(str(err))}, status_code=422)
    ts = req.ts if req.ts is not None else rt.adapter.engine.world.now
    ev = ReviewerAction(ts=ts, account=account, action=req.action, until=req.until, note=req.note)
    # the same path as a `reviewer_action` event sent to POST /v1/events
    out = await rt.ingest([encode_event(ev)], actor=key_id)
    res = out.results[0]
    status = 200 if res.get("status") == "accepted" else 422
    return Response(_encoder.encode({"result": res, "decisions": out.decisions}),
                    status_code=status, media_type="application/json")


@router.get("/v1/accounts/{account}/statements", tags=["review"],
            summary="Statements of reasons (DSA Art. 17) for the account's restrictions")
async def get_statements(account: str, request: Request) -> Response:
    authorize(request, "review")
    rt = runtime_of(request)
    rows = await run_in_threadpool(rt.db.statements_of, account)
    redress = dict(rt.cfg.statements.redress)
    return Response(_encoder.encode({"account": account,
                                     "statements": [{**r, "redress": redress} for r in rows]}),
                    media_type="application/json")
