"""``bulkguard simulate``: write a labeled scenario and print its summary."""

from __future__ import annotations

import argparse
import sys
import time


def run(args: argparse.Namespace) -> int:
    from .scenario import simulate

    t = time.perf_counter()
    try:
        s = simulate(args.out, seed=args.seed, accounts=args.accounts, days=args.days,
                     background=getattr(args, "background", None), mix=getattr(args, "mix", None),
                     without=getattr(args, "without", None),
                     cold_start=bool(getattr(args, "cold_start", False)),
                     random_missing=getattr(args, "random_missing", None))
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"bulkguard simulate: error: {err}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t
    print(f"wrote {s['events']:,} events to {s['out']}/events.jsonl "
          f"({dt:.1f} s, {s['events'] / max(dt, 1e-9):,.0f} events/s)")
    print("events:   " + ", ".join(f"{k}={v:,}" for k, v in s["events_by_type"].items()))
    print(f"labels:   {s['labels']['legit']:,} legit, {s['labels']['abusive']:,} abusive "
          f"({s['reported_abusers']} abusers reported at least once)")
    print("accounts: " + ", ".join(f"{k}={v:,}" for k, v in s["accounts_by_archetype"].items()))
    if s["without"] or s["cold_start"]:
        print(f"left out: {', '.join(s['without']) or 'no family'}"
              + (f"; cold start ({s['pre_existing_abusers']} abusers existed before the window)"
                 if s["cold_start"] else "")
              + (f"; {s['inert_abusers']} abusers did nothing else and are left out"
                 if s["inert_abusers"] else ""))
    if s["background"]["messages"]:
        print(f"background: {s['background']['messages']:,} messages between "
              f"{s['background']['accounts']:,} accounts")
    return 0
