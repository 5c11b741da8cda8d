"""A real ``bulkguard serve`` process (uvicorn), killed with SIGKILL in the middle of a stream
and started again: no acknowledged event is lost, none produces a second decision, and the
decisions are those of one uninterrupted ``bulkguard replay`` of the same stream."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from bulkguard.ingest.replay import replay
from bulkguard.store.audit import verify_engine
from bulkguard.store.db import Database

BATCH = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data: Path, config: Path, port: int, db: list[str]) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "bulkguard.cli", "serve", "--data", str(data),
                          "--config", str(config), "--port", str(port), *db],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise AssertionError(f"server exited: {p.stdout.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    p.kill()
    raise AssertionError("server did not become ready in 60 s")


def _with_ids(lines: list[bytes]) -> list[bytes]:
    out = []
    for n, raw in enumerate(lines, 1):
        if raw.startswith(b"{"):
            raw = b'{"id":"L%d",' % n + raw[1:]
        out.append(raw)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_kill_9_during_a_stream_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, make_stream, store: str, request: pytest.FixtureRequest) -> None:
    url_db = request.getfixturevalue("pg_fresh") if store == "postgresql" else None
    db = ["--db", url_db] if url_db else []
    lines = _with_ids(make_stream(3000, seed=11, blasters=3, bad_every=0, humans=80))
    assert all(x.startswith(b'{"id"') for x in lines)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    replay(str(events), str(tmp_path / "want.jsonl"), window=0.0)   # as the service: in order
    # the contract's fields (replay also writes the versions; the database keeps them apart)
    want = [{k: d[k] for k in ("line", "ts", "account", "action", "score", "reasons")}
            for d in map(json.loads, (tmp_path / "want.jsonl").read_text().splitlines())]
    data = tmp_path / "data"
    config = tmp_path / "service.toml"
    config.write_text("[service]\nsnapshot_every_events = 700\n")
    key = subprocess.run([sys.executable, "-m", "bulkguard.cli", "keys", "create", "--scope",
                          "ingest", "--data", str(data), *db], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1/events"
    server = _start(data, config, port, db)
    acked: dict[int, list[dict]] = {}     # batch index -> its acknowledged results

    def send() -> None:
        with httpx.Client(timeout=30) as c:
            for i, b in enumerate(batches):
                try:
                    r = c.post(url, content=b"\n".join(b) + b"\n", headers=headers)
                except httpx.HTTPError:
                    return
                if r.status_code != 200:
                    return
                acked[i] = r.json()["results"]

    t = threading.Thread(target=send)
    t.start()
    while len(acked) < 12 and t.is_alive():
        time.sleep(0.005)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=30)
    server.stdout.close()  # type: ignore[union-attr]
    t.join(timeout=60)
    assert 12 <= len(acked) < len(batches), "the kill must fall inside the stream"

    server = _start(data, config, _port := _free_port(), db)
    url = f"http://127.0.0.1:{_port}/v1/events"
    try:
        with httpx.Client(timeout=60) as c:
            for i, b in enumerate(batches):          # everything again, acknowledged or not
                r = c.post(url, content=b"\n".join(b) + b"\n", headers=headers)
                assert r.status_code == 200, r.text
                res = r.json()["results"]
                if i in acked:
                    # acknowledged before the kill: kept, recognised, never applied twice
                    assert [x["status"] for x in res] == ["duplicate"] * len(b)
                    assert [x["line"] for x in res] == [x["line"] for x in acked[i]]
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    # uvicorn re-raises the signal once it shut down cleanly: exit by SIGTERM, not a crash
    assert server.returncode in (0, -signal.SIGTERM), out.decode()
    log = out.decode()
    assert "snapshot at line 3000" in log
    for secret in (b"+49151", b"198.51.100.", b"Win a prize"):   # no personal data in the log
        assert secret.decode() not in log

    store_db = Database.for_data_dir(data, url_db)
    stored = [{k: d[k] for k in ("line", "ts", "account", "action", "score", "reasons")}
              for d in store_db.all_decisions()]
    assert stored == want
    assert store_db.counts()["events"] + store_db.counts()["rejected"] == len(lines)
    assert verify_engine(store_db.engine).ok
    store_db.close()
