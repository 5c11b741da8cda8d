"""``bulkguard demo``: simulate a scenario, replay it through the engine and through a
plain rate limit, evaluate both and write the report. The README's main command."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def run(args: Any) -> int:
    from bulkguard.eval import evaluate, rate_limit_decisions, write_report
    from bulkguard.eval.report import print_table
    from bulkguard.ingest.replay import replay, summary
    from bulkguard.sim import simulate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    events, labels = out / "events.jsonl", out / "labels.jsonl"
    decisions, scores = out / "decisions.jsonl", out / "scores.jsonl"
    baseline = out / "baseline.jsonl"

    t = time.perf_counter()
    info = simulate(out, seed=args.seed, accounts=args.accounts, days=args.days,
                    background=args.background)
    n = sum(info.get("events_by_type", {}).values()) if isinstance(info, dict) else 0
    print(f"1/4 simulated {n:,} events (seed {args.seed}, {args.accounts} humans, "
          f"{args.days:g} days) in {time.perf_counter() - t:.1f} s -> {events}")

    r = replay(str(events), str(decisions), scores_path=str(scores),
               progress=sys.stderr.isatty())
    print("2/4 replayed: " + summary(r).replace("\n", "\n    "))

    rate_limit_decisions(str(events), str(baseline))
    print(f"3/4 baseline (plain sliding-window rate limit) -> {baseline}")

    m = evaluate(str(events), str(labels), str(decisions), str(scores), name="bulkguard")
    b = evaluate(str(events), str(labels), str(baseline), name="rate limit")
    print("4/4 evaluation:")
    print_table(m, b)
    report = write_report(m, out / "report", b)
    print(f"baseline:  {b.summary_line()}")
    print(f"bulkguard: {m.summary_line()}")
    print(f"throughput: {r.rate:,.0f} events/s")
    print(f"report: {report}")
    return 0
