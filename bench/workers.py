"""CPU time per process of ``replay --workers 1`` and ``--workers 2``, against the naive peer.

usage: python bench/workers.py EVENTS [--fast DIR] [--runs N]

On a machine whose cores other work shares, wall time says little about a pipeline of two
processes: this bench reports what each process costs. Each round runs, each in a fresh
process and taking turns, the naive peer of ``bench/peer.py``, ``replay --workers 1`` and
``replay --workers 2``; a replay child reports its own CPU seconds (user + system) and
those of the reading process it forked (``RUSAGE_CHILDREN``), with its voluntary
(waiting, e.g. on the pipe) and involuntary (preempted) context switches. Printed per
round: microseconds of CPU an event per process, and the peer's CPU rate divided by that
of the one process and of the engine process alone (what ``--workers 2`` gives where the
reading process has a core of its own). Decisions of the two replays are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEER = str(Path(__file__).with_name("peer.py"))


def child(events: str, workers: int, out: str) -> None:
    """One replay in this process; its figures as one JSON line."""
    import gc

    from bulkguard.ingest.replay import replay
    gc.disable()   # as the bulkguard command does for a replay
    t = time.perf_counter()
    r = replay(events, out, workers=workers)
    wall = time.perf_counter() - t
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"events": r.stats.accepted, "wall": wall,
                      "self": me.ru_utime + me.ru_stime, "child": kids.ru_utime + kids.ru_stime,
                      "vcsw": me.ru_nvcsw, "ivcsw": me.ru_nivcsw}))


def _peer_cpu(events: str, out: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, PEER, "--peer-child", events, out], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def _replay(events: str, workers: int, out: str, fast: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if fast:
        env["PYTHONPATH"] = fast
    r = subprocess.run([sys.executable, __file__, "--child", events, str(workers), out],
                       env=env, check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("events", nargs="?")
    ap.add_argument("--fast", help="directory of a compiled build (pip install --target DIR .)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)   # internal: one replay
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    if not args.events:
        ap.error("EVENTS is required")
    tmp = tempfile.mkdtemp(prefix="bulkguard-workers-")
    outs = {w: os.path.join(tmp, f"w{w}.jsonl") for w in (1, 2)}
    r1: list[float] = []
    r2: list[float] = []
    for r in range(max(1, args.runs)):
        got: dict[str, object] = {}
        order = ["peer", 1, 2]
        order = order[r % 3:] + order[:r % 3]
        for c in order:
            if c == "peer":
                got["peer"] = _peer_cpu(args.events, os.path.join(tmp, "peer.jsonl"))
            else:
                got[str(c)] = _replay(args.events, int(c), outs[int(c)], args.fast)
        one, two = got["1"], got["2"]
        assert isinstance(one, dict) and isinstance(two, dict)
        n = one["events"]
        peer = float(got["peer"]) / n * 1e6   # type: ignore[arg-type]
        w1 = one["self"] / n * 1e6
        eng, edge = two["self"] / n * 1e6, two["child"] / n * 1e6
        r1.append(peer / w1)
        r2.append(peer / eng)
        print(f"round {r + 1}: CPU us/event: peer {peer:.2f}; --workers 1 {w1:.2f} "
              f"(wall {one['wall']:.2f} s, preempted {one['ivcsw']}); --workers 2 engine "
              f"{eng:.2f} + reading {edge:.2f} (wall {two['wall']:.2f} s, waited "
              f"{two['vcsw']}, preempted {two['ivcsw']}); load "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    same = Path(outs[1]).read_bytes() == Path(outs[2]).read_bytes()
    print(f"rate by CPU time, against the peer: one process median {statistics.median(r1):.2f}x "
          f"({min(r1):.2f}-{max(r1):.2f}); the engine process of --workers 2 median "
          f"{statistics.median(r2):.2f}x ({min(r2):.2f}-{max(r2):.2f}); decisions "
          f"{'identical' if same else 'DIFFERENT'}")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
