"""Service benchmark: a real ``bulkguard serve`` process (uvicorn), loaded over loopback.

usage: python bench/service.py [--db sqlite|postgresql|both] [--batches N] [--rate R]
                               [--seconds S] [--connections C]

1. ``POST /v1/events``: ``--batches`` NDJSON batches of 1,000 events (the synthetic chat
   stream of bench/replay.py), one after another; events/s and p50/p99 per batch.
2. ``POST /v1/check``: an open-loop load at ``--rate`` requests/s for ``--seconds`` s over
   ``--connections`` keep-alive connections, senders drawn from the stream's accounts (and
   its bulk senders, which are stopped). A request's latency runs from the moment it was
   due, not from when a connection was free, so queueing is counted (no coordinated
   omission). The client is a bare asyncio HTTP/1.1 client (a few µs per request), so it
   takes little of the machine from the server.

With ``--db postgresql`` (or ``both``) a fresh database on 127.0.0.1:5432 is created for
the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import generate  # noqa: E402

PG_ADMIN = os.environ.get("BULKGUARD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf.extend(data)
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.lower() == "content-length":
                length = int(v)
        if len(self.buf) < end + 4 + length:
            return
        status = int(head.split(" ", 2)[1])
        body = bytes(self.buf[end + 4:end + 4 + length])
        del self.buf[:end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(raw)
        return await self.waiter


def http_request(method: str, path: str, key: str, body: bytes, ctype: str) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def connect(port: int) -> Conn:
    _, proto = await asyncio.get_running_loop().create_connection(Conn, "127.0.0.1", port)
    return proto


async def bench_events(port: int, key: str, lines: list[bytes], batches: int) -> dict:
    c = await connect(port)
    lat = []
    n = 0
    t0 = time.perf_counter()
    for i in range(batches):
        chunk = lines[i * 1000:(i + 1) * 1000]
        if not chunk:
            break
        raw = http_request("POST", "/v1/events", key, b"\n".join(chunk) + b"\n",
                           "application/x-ndjson")
        s = time.perf_counter()
        status, body = await c.request(raw)
        lat.append(time.perf_counter() - s)
        assert status == 200, body[:300]
        n += len(chunk)
    wall = time.perf_counter() - t0
    c.transport.close()  # type: ignore[union-attr]
    return {"batches": len(lat), "events": n, "events_per_s": n / wall,
            "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3}


async def bench_check(port: int, key: str, senders: list[str], rate: float, seconds: float,
                      connections: int) -> dict:
    rng = random.Random(1)
    bodies = [http_request("POST", "/v1/check", key,
                           json.dumps({"sender": rng.choice(senders),
                                       "recipient": f"h{rng.randrange(5000)}"}).encode(),
                           "application/json") for _ in range(2000)]
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await connect(port))
    lat: list[float] = []
    verdicts: dict[str, int] = {}
    errors = 0
    total = int(rate * seconds)

    async def one(i: int, due: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            status, body = await conn.request(bodies[i % len(bodies)])
        finally:
            pool.put_nowait(conn)
        lat.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        else:
            v = json.loads(body)["verdict"]
            verdicts[v] = verdicts.get(v, 0) + 1

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().transport.close()  # type: ignore[union-attr]
    return {"requests": total, "achieved_per_s": total / wall, "p50_ms": pct(lat, 50) * 1e3,
            "p99_ms": pct(lat, 99) * 1e3, "max_ms": max(lat) * 1e3, "errors": errors,
            "verdicts": verdicts}


def start_server(data: Path, port: int, db: str | None) -> subprocess.Popen:
    import urllib.request
    cmd = [sys.executable, "-m", "bulkguard.cli", "serve", "--data", str(data), "--port",
           str(port)]
    if db:
        cmd += ["--db", db]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return p
        except OSError:
            time.sleep(0.2)
    p.kill()
    raise SystemExit("server did not start")


@contextmanager
def scratch_store(kind: str) -> Iterator[tuple[Path, str | None]]:
    """A new data directory and, for PostgreSQL, a new database (dropped afterwards)."""
    tmp = Path(tempfile.mkdtemp(prefix="bg-bench-"))
    if kind != "postgresql":
        yield tmp, None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bulkguard_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tmp, make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_one(kind: str, lines: list[bytes], senders: list[str], args: argparse.Namespace) -> None:
    with scratch_store(kind) as (tmp, db):
        _serve_and_load(kind, tmp, db, lines, senders, args)


def _serve_and_load(kind: str, tmp: Path, db: str | None, lines: list[bytes],
                    senders: list[str], args: argparse.Namespace) -> None:
    keycmd = [sys.executable, "-m", "bulkguard.cli", "keys", "create", "--scope", "ingest",
              "--data", str(tmp)] + (["--db", db] if db else [])
    key = subprocess.run(keycmd, capture_output=True, text=True, check=True).stdout.split()[-1]
    port = free_port()
    server = start_server(tmp, port, db)
    try:
        ev = asyncio.run(bench_events(port, key, lines, args.batches))
        print(f"{kind:10s} POST /v1/events  {ev['batches']} batches of 1,000: "
              f"{ev['events_per_s']:,.0f} events/s, per batch p50 {ev['p50_ms']:.1f} ms, "
              f"p99 {ev['p99_ms']:.1f} ms", flush=True)
        ck = asyncio.run(bench_check(port, key, senders, args.rate, args.seconds,
                                     args.connections))
        print(f"{kind:10s} POST /v1/check   {ck['requests']:,} at {args.rate:,.0f}/s offered "
              f"({ck['achieved_per_s']:,.0f}/s achieved): p50 {ck['p50_ms']:.2f} ms, "
              f"p99 {ck['p99_ms']:.2f} ms, max {ck['max_ms']:.1f} ms, errors {ck['errors']}, "
              f"verdicts {ck['verdicts']}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def breakdown(kind: str, lines: list[bytes], batches: int) -> None:
    """Where a batch's time goes, in process (no HTTP): id look-up, engine, database write."""
    from bulkguard.service.config import load
    from bulkguard.service.runtime import Runtime
    with scratch_store(kind) as (tmp, db):
        rt = Runtime(load(None, data=str(tmp), db=db, snapshot_every_events=10**12))
        rt.resume()
        known = prep = commit = 0.0
        n = 0
        for i in range(batches):
            chunk = lines[i * 1000:(i + 1) * 1000]
            t0 = time.perf_counter()
            k = rt._known(chunk)
            t1 = time.perf_counter()
            b, out = rt._prepare(chunk, k, None)
            t2 = time.perf_counter()
            rt._commit(b)
            t3 = time.perf_counter()
            rt._finish(b, out)
            known, prep, commit, n = known + t1 - t0, prep + t2 - t1, commit + t3 - t2, n + 1
        t0 = time.perf_counter()
        rt.snapshot_now()
        snap = time.perf_counter() - t0
        rt.close()
        print(f"{kind:10s} per batch of 1,000, in process: id look-up {known / n * 1e3:.1f} ms, "
              f"engine + records {prep / n * 1e3:.1f} ms, database write {commit / n * 1e3:.1f} ms; "
              f"snapshot of the state after {n * 1000:,} events {snap * 1e3:.0f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "events.jsonl")
        generate(path, args.batches * 1000, seed=3)
        lines = Path(path).read_bytes().splitlines()
    senders = sorted({json.loads(x).get("sender", "") for x in lines[:20000]} - {""})
    print(f"machine: {os.cpu_count()} CPUs; stream: {len(lines):,} events, "
          f"{len(senders):,} senders", flush=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for kind in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        run_one(kind, lines, senders, args)
        breakdown(kind, lines, args.batches)
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
