"""``bulkguard evaluate``: print the metric table and summary line; optional report and JSON."""

from __future__ import annotations

import argparse
import json
import sys

from bulkguard.eval.metrics import EvalError, evaluate


def run(args: argparse.Namespace) -> int:
    scores = getattr(args, "scores", None)
    base_path = getattr(args, "baseline", None)
    try:
        m = evaluate(args.events, args.labels, args.decisions, scores, name=args.decisions)
        b = (evaluate(args.events, args.labels, base_path, name=base_path)
             if base_path else None)
    except EvalError as err:   # a missing, unreadable or corrupt input: exit 2, as replay
        print(f"bulkguard evaluate: error: {err}", file=sys.stderr)
        return 2
    from bulkguard.eval.report import print_table

    print_table(m, b)
    try:
        if args.json_out:
            doc = m.to_dict()
            if b is not None:
                doc["baseline"] = b.to_dict()
            with open(args.json_out, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=2, allow_nan=False)
                f.write("\n")
        if args.report:
            from bulkguard.eval.report import write_report

            path = write_report(m, args.report, b)
            print(f"report: {path}")
    except OSError as err:
        print(f"bulkguard evaluate: error: cannot write output: {err}", file=sys.stderr)
        return 1
    if b is not None:
        print(f"baseline: {b.summary_line()}")
    print(m.summary_line())
    return 0
