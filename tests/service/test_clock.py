"""The service behind the same clock stage as replay (``ingest.reorder.offer``), through the
HTTP API: a poisoned ts is refused and changes nothing, a burst from one account does not
move time, and with a reorder window a jittered stream posted in batches, across restarts,
gets exactly replay's decisions."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from svc_helpers import Keys, make_runtime

from bulkguard.events import EventError, decode_line
from bulkguard.ingest.replay import replay
from bulkguard.service.app import create_app
from bulkguard.service.runtime import Runtime
from bulkguard.sim import attacks

FIELDS = ("line", "ts", "account", "action", "score", "reasons")


def _post(c: TestClient, key: str, lines: list[bytes]) -> dict:
    r = c.post("/v1/events", content=b"\n".join(lines) + b"\n",
               headers={**Keys.h(key), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    return r.json()


def _key(d: dict) -> tuple:
    return (d["ts"], d["account"], d["action"], d["score"], tuple(d["reasons"]))


def _bad(lines: list[bytes]) -> int:
    """Lines of the generated stream that are bad on their own (it has a few)."""
    n = 0
    for x in lines:
        try:
            decode_line(x)
        except EventError:
            n += 1
    return n


def _mid_message(lines: list[bytes]) -> int:
    i = len(lines) // 2
    while b'"type":"message"' not in lines[i]:
        i += 1
    return i


def test_a_poisoned_ts_is_refused_and_changes_nothing(client: TestClient, keys: Keys,
                                                      runtime: Runtime, make_stream) -> None:
    lines = [x for x in make_stream(1500, seed=11, blasters=2, bad_every=0, humans=60) if x.strip()]
    at = _mid_message(lines)
    sender = json.loads(lines[at])["sender"]
    ms = attacks.poison(lines, at + 40, scale=1000.0)[at + 40].rstrip(b"\n")
    far = attacks.poison(lines, at, ts=1e308)[at].rstrip(b"\n")
    mixed = lines[:at] + [far] + lines[at:at + 40] + [ms] + lines[at + 40:]
    out = _post(client, keys.ingest, mixed)
    res = out["results"]
    assert res[at]["status"] == "rejected" and \
        res[at]["error"].startswith("ts too far ahead of the stream: 1e+308")
    assert res[at + 41]["status"] == "rejected" and "milliseconds" in res[at + 41]["error"]
    assert sum(r["status"] == "rejected" for r in res) == 2 + _bad(lines)
    # the same stream without them, on a fresh service: the same decisions
    rt2 = make_runtime(runtime.data.parent / "clean")
    k2 = Keys(rt2)
    with TestClient(create_app(rt2)) as c2:
        clean = _post(c2, k2.ingest, lines)["decisions"]
    rt2.close()
    skip = {sender, json.loads(lines[at + 40])["sender"]}
    assert [_key(d) for d in out["decisions"] if d["account"] not in skip] == \
        [_key(d) for d in clean if d["account"] not in skip]
    assert runtime.adapter.engine.world.now < 1e12


def test_a_far_future_burst_from_one_account_does_not_move_time(client: TestClient, keys: Keys,
                                                                 runtime: Runtime,
                                                                 make_stream) -> None:
    lines = [x for x in make_stream(600, seed=12, blasters=1, bad_every=0, humans=40) if x.strip()]
    at = _mid_message(lines)
    e = json.loads(lines[at])
    burst = [json.dumps(dict(e, ts=e["ts"] + 365 * 86_400 + k, recipient=f"x{k}")).encode()
             for k in range(50)]
    out = _post(client, keys.ingest, lines[:at] + burst)
    assert {r["status"] for r in out["results"][at:]} == {"accepted"}   # held, not applied
    out = _post(client, keys.ingest, lines[at:])
    assert runtime.adapter.engine.world.now < e["ts"] + 86_400
    assert runtime.adapter.stage.jumps == 0
    assert runtime.db.counts()["rejected"] == 50 + _bad(lines)   # each refused, with its line
    view = client.get(f"/v1/accounts/{e['sender']}", headers=keys.h(keys.review)).json()
    assert view["clock"] < e["ts"] + 86_400


def test_with_a_window_a_jittered_stream_gets_replays_decisions_across_restarts(
        tmp_path: Path, make_stream) -> None:
    """``window = 60`` in the service: events posted up to 50 s late, in three requests with
    a restart between each (the held events are in the snapshot), decide exactly as
    ``bulkguard replay --window 60`` on the same file."""
    lines = [x + b"\n" for x in make_stream(2400, seed=13, blasters=3, bad_every=0, humans=70)
             if x.strip()]
    lines.sort(key=lambda x: json.loads(x)["ts"])
    jit = attacks.jitter(lines, 50.0, seed=13)
    end = max(json.loads(x)["ts"] for x in lines) + 1000
    # three fresh accounts registering later: stream time passes everything by the window
    tail = [b'{"type":"register","ts":%d,"account":"late%d"}\n' % (end + k, k) for k in range(3)]
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"".join(jit + tail))
    replay(str(path), str(tmp_path / "d.jsonl"), window=60.0)
    want = [{k: d[k] for k in FIELDS}
            for d in map(json.loads, (tmp_path / "d.jsonl").read_text().splitlines())]
    assert any(d["action"] in ("suspend", "ban") for d in want)
    data = tmp_path / "data"
    got: list[dict] = []
    key = None
    posted = jit + tail
    cuts = [0, 700, 1500, len(posted)]
    for a, b in zip(cuts, cuts[1:]):
        rt = make_runtime(data, window=60.0)
        if key is None:
            key = Keys(rt).ingest
        with TestClient(create_app(rt)) as c:
            got.extend(_post(c, key, [x.rstrip(b"\n") for x in posted[a:b]])["decisions"])
        rt.close()
    assert [{k: d[k] for k in FIELDS} for d in got] == want
