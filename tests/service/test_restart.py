"""State survives a restart: snapshot on shutdown and periodically, resume from it plus the
stored events after it; a snapshot of another engine version is refused."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from fastapi.testclient import TestClient
from svc_helpers import Keys, make_runtime

from bulkguard.ingest.replay import replay
from bulkguard.service import snapshot
from bulkguard.service.app import create_app


def _post(c: TestClient, key: str, lines: list[bytes]) -> list[dict]:
    r = c.post("/v1/events", content=b"\n".join(lines) + b"\n",
               headers={**Keys.h(key), "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    return r.json()["decisions"]


@pytest.mark.parametrize("every", [10**9, 300])   # snapshot only at shutdown / also periodically
def test_restart_resumes_and_decides_as_one_run(tmp_path: Path, make_stream, every: int) -> None:
    lines = make_stream(2400, seed=5, blasters=3, bad_every=200, humans=70)
    (tmp_path / "e.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    replay(str(tmp_path / "e.jsonl"), str(tmp_path / "d.jsonl"), window=0.0)   # as the service
    want = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    data = tmp_path / "data"
    got: list[dict] = []
    cuts = [0, 500, 1300, 2400]
    key = None
    for a, b in zip(cuts, cuts[1:]):
        rt = make_runtime(data, snapshot_every_events=every)
        if key is None:
            key = Keys(rt).ingest
        with TestClient(create_app(rt)) as c:
            got.extend(_post(c, key, lines[a:b]))
        rt.close()
        assert (data / snapshot.NAME).exists()          # written at shutdown
        assert (data / snapshot.NAME).stat().st_mode & 0o077 == 0
    assert got == want


def test_restart_without_snapshot_replays_stored_events(tmp_path: Path, make_stream) -> None:
    """Killed before any snapshot: the stored events alone rebuild the state."""
    lines = make_stream(1200, seed=9, blasters=2, bad_every=0, humans=50)
    (tmp_path / "e.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    replay(str(tmp_path / "e.jsonl"), str(tmp_path / "d.jsonl"), window=0.0)   # as the service
    want = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    rt = make_runtime(tmp_path / "data")
    rt.resume()
    first = rt.ingest_blocking(lines[:600])     # no snapshot written (no shutdown)
    got = first.decisions
    accepted = sum(r["status"] == "accepted" for r in first.results)
    rt.close()
    assert not (tmp_path / "data" / snapshot.NAME).exists()
    rt2 = make_runtime(tmp_path / "data")
    assert f"replayed {accepted} stored events" in rt2.resume()
    got += rt2.ingest_blocking(lines[600:]).decisions
    assert msgspec.to_builtins(got) == want
    rt2.close()


def test_snapshot_of_another_engine_version_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = make_runtime(data)
    rt.resume()
    rt.ingest_blocking([b'{"type":"register","ts":1,"account":"a"}'])
    snapshot.write(data, snapshot.Snapshot(1, "bulkguard-0.0.1/state-1", rt.instance,
                                           rt.adapter.state()))
    rt.close()
    rt2 = make_runtime(data)
    with pytest.raises(snapshot.SnapshotError, match="engine bulkguard-0.0.1/state-1"):
        rt2.resume()
    rt2.close()


def snapshotted(tmp_path: Path) -> Path:
    """A data directory whose service saw one event and wrote its snapshot."""
    data = tmp_path / "data"
    rt = make_runtime(data)
    rt.resume()
    rt.ingest_blocking([b'{"type":"register","ts":1,"account":"a"}'])
    rt.snapshot_now()
    rt.close()
    return data


def test_altered_or_foreign_snapshot_is_refused(tmp_path: Path) -> None:
    data = snapshotted(tmp_path)
    p = data / snapshot.NAME
    blob = bytearray(p.read_bytes())
    blob[-3] ^= 1
    p.write_bytes(bytes(blob))
    with pytest.raises(snapshot.SnapshotError, match="checksum"):
        make_runtime(data).resume()
    p.write_bytes(b"cos\nsystem\n(S'id'\ntR.")    # a pickle that would run a command
    with pytest.raises(snapshot.SnapshotError, match="not a bulkguard service snapshot"):
        make_runtime(data).resume()
    p.write_bytes(snapshot.MAGIC + b'{"engine_version":"x"}\n')
    with pytest.raises(snapshot.SnapshotError, match="header"):
        make_runtime(data).resume()


def test_cli_serve_refuses_a_foreign_snapshot_clearly(tmp_path: Path) -> None:
    import subprocess
    import sys
    data = tmp_path / "data"
    rt = make_runtime(data)
    snapshot.write(data, snapshot.Snapshot(0, "bulkguard-9.9/state-9", rt.instance,
                                           rt.adapter.state()))
    rt.close()
    r = subprocess.run([sys.executable, "-m", "bulkguard.cli", "serve", "--data", str(data),
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "snapshot written by engine bulkguard-9.9/state-9" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_snapshot_signed_with_the_key_still_runs_no_code(tmp_path: Path) -> None:
    """Whoever can write the data directory can read its key and sign anything: the payload
    is still decoded as plain values only, so a pickle in it runs nothing and is refused."""
    import hashlib
    import hmac
    import json
    import pickle

    data = snapshotted(tmp_path)
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self) -> tuple:
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Boom())
    key = (data / snapshot.KEY_NAME).read_bytes()
    p = data / snapshot.NAME
    header = json.loads(p.read_bytes().split(b"\n")[1])
    header.pop("hmac")
    header["length"] = len(payload)
    head = json.dumps(header, sort_keys=True).encode()
    header["hmac"] = hmac.new(key, head + b"\n" + payload, hashlib.sha256).hexdigest()
    p.write_bytes(snapshot.MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload)
    with pytest.raises(snapshot.SnapshotError):
        make_runtime(data).resume()
    assert not marker.exists()
