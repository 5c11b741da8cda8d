"""``POST /v1/check``: may this message go out now? ``deliver``, ``throttle`` or ``refuse``.

Reads the engine's state and changes nothing: the message itself, once sent, arrives later
as a ``message`` event through ``POST /v1/events``.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from bulkguard.events import Count, Message, MessageKind, Ts
from bulkguard.service.app import read_body, runtime_of
from bulkguard.service.auth import AuthError, KeyRing
from bulkguard.service.runtime import Runtime, field_of

router = APIRouter()
MAX_BODY = 64 << 10

Id = Annotated[str, msgspec.Meta(max_length=256)]


class CheckRequest(msgspec.Struct, forbid_unknown_fields=False):
    sender: Id
    recipient: Optional[Id] = None
    group: Optional[Id] = None
    template: Optional[Id] = None
    forwarded: Count = 0
    digest: Optional[Id] = None
    kind: Optional[MessageKind] = None
    ts: Optional[Ts] = None       # default: the engine's clock (latest event time seen)


class CheckResponse(msgspec.Struct):
    verdict: Literal["deliver", "throttle", "refuse"]
    reasons: list[str]
    score: float
    action: str


_decoder = msgspec.json.Decoder(CheckRequest)
_encoder = msgspec.json.Encoder()
_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": msgspec.json.schema(CheckRequest),
        "example": {"sender": "shop", "recipient": "ann", "template": "promo"}}}},
    "responses": {"200": {"description": "The verdict", "content": {"application/json": {
        "schema": msgspec.json.schema(CheckResponse),
        "example": {"verdict": "refuse", "reasons": ["NO_OPTIN"], "score": 0.0,
                    "action": "none"}}}},
        "401": {"description": "No or unknown key"},
        "403": {"description": "Key without scope `ingest`"},
        "422": {"description": "Not a valid message; `field` names the problem"}},
}


def check_request(rt: Runtime, keys: KeyRing, authorization: str | None,
                  body: bytes) -> tuple[int, bytes]:
    """The whole of a check: ``(status, JSON body)``. Shared by the route (which documents
    it) and the ASGI fast path in ``app.py`` (which serves it without FastAPI's routing)."""
    try:
        keys.authorize(authorization, "ingest")
    except AuthError as err:
        return err.status, _encoder.encode({"error": err.message})
    try:
        req = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as err:
        return 422, _encoder.encode({"error": str(err), "field": field_of(str(err))})
    if (req.recipient is None) == (req.group is None):
        return 422, _encoder.encode({"error": "a message needs exactly one of `recipient` or "
                                              "`group`", "field": "recipient"})
    adapter = rt.adapter
    ts = req.ts if req.ts is not None else adapter.engine.world.now
    msg = Message(ts=ts, sender=req.sender, recipient=req.recipient, group=req.group,
                  kind=req.kind, forwarded=req.forwarded, digest=req.digest,
                  template=req.template)
    v = adapter.check(msg)
    rt.metrics.checks.labels(v.verdict).inc()
    return 200, _encoder.encode(CheckResponse(v.verdict, v.reasons, v.score, v.action))


@router.post("/v1/check", tags=["events"], summary="Verdict on one outgoing message (scope ingest)",
             openapi_extra=_DOC)
async def post_check(request: Request) -> Response:
    body = await read_body(request, MAX_BODY)
    status, payload = check_request(runtime_of(request), request.app.state.keys,
                                    request.headers.get("authorization"), body)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(payload, status_code=status, media_type="application/json", headers=headers)
