"""``POST /v1/events``: a batch of contract events in, the decisions they caused out."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bulkguard.service.app import authorize, read_body, runtime_of

router = APIRouter()
_encoder = msgspec.json.Encoder()
_array = msgspec.json.Decoder(list[msgspec.Raw])
NDJSON = ("application/x-ndjson", "application/ndjson", "application/jsonl",
          "application/x-jsonlines", "application/jsonlines")

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "Contract events (shared/spec/events.md), each with an optional `id` "
                       "(string or integer) that is echoed back and makes a retry safe.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"},
                                     "example": '{"type":"register","ts":1,"account":"a"}\n'},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    },
    "responses": {
        "200": {"description": "Per-item results and the decisions in the contract's format",
                "content": {"application/json": {"example": {
                    "results": [{"index": 0, "id": "e1", "line": 1, "status": "accepted"},
                                {"index": 1, "line": 2, "status": "rejected",
                                 "error": "Object missing required field `sender`",
                                 "field": "sender"}],
                    "decisions": [{"line": 1, "ts": 1.0, "account": "a", "action": "throttle",
                                   "score": 0.5, "reasons": ["CONTACT_SWEEP"]}]}}}},
        "401": {"description": "No or unknown key"},
        "403": {"description": "Key without scope `ingest`"},
        "413": {"description": "Body or batch too large"},
        "415": {"description": "Neither JSON nor NDJSON"},
    },
}


def split_lines(body: bytes) -> list[bytes]:
    """NDJSON lines as replay reads them: every physical line (empty ones too) is one item;
    a final newline ends the last line, it does not start another."""
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


@router.post("/v1/events", tags=["events"], summary="Ingest a batch of events (scope ingest)",
             openapi_extra=_BODY_DOC)
async def post_events(request: Request) -> Response:
    key_id = authorize(request, "ingest")
    rt = runtime_of(request)
    body = await read_body(request, rt.cfg.max_body_bytes)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in NDJSON:
        items = split_lines(body)
    elif ctype in ("application/json", ""):
        stripped = body.lstrip()
        if stripped.startswith(b"{"):
            items = [body.strip()]      # one event on its own
        else:
            try:
                items = [bytes(r) for r in _array.decode(body)]
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as err:
                return JSONResponse({"error": f"body is not a JSON array of events: {err}"},
                                    status_code=400)
    else:
        return JSONResponse({"error": f"unsupported content type {ctype!r}: send "
                                      "application/x-ndjson or application/json"},
                            status_code=415)
    if len(items) > rt.cfg.max_batch:
        return JSONResponse({"error": f"{len(items)} events in one request; at most "
                                      f"{rt.cfg.max_batch}"}, status_code=413)
    out = await rt.ingest(items, actor=key_id)
    return Response(_encoder.encode({"results": out.results, "decisions": out.decisions}),
                    media_type="application/json")
