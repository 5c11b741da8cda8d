"""Held-out figures of the detection model: full engine (rules + model) vs rules only.

usage: python bench/model_eval.py [--dir DIR] [--model PATH] [--scenario NAME=SEED[:ACCOUNTS[:DAYS[:bg]]] ...]

Simulates the held-out scenarios (default: seeds 11 and 12 with 5,000 humans over 3 days,
and seed 13 with 1,500 humans over 14 days on the CollegeMsg background), replays each
with the shipped (or given) model and with ``--model none`` (the same as ``bulkguard
replay --scores`` then ``bulkguard evaluate --scores``) and prints the summary lines, the
per-archetype recall and the legit archetypes with false positives.
Seeds 1-20 are held out: the model is never trained or tuned on them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

COLLEGEMSG = Path(__file__).resolve().parents[2] / "shared" / "data" / "collegemsg" / "CollegeMsg.txt.gz"
DEFAULT = ["s11=11:5000:3", "s12=12:5000:3", "s13bg=13:1500:14:bg"]


def parse(spec: str) -> tuple[str, int, int, float, bool]:
    name, _, rest = spec.partition("=")
    parts = rest.split(":")
    seed = int(parts[0])
    accounts = int(parts[1]) if len(parts) > 1 else 5000
    days = float(parts[2]) if len(parts) > 2 else 3.0
    return name, seed, accounts, days, len(parts) > 3 and parts[3] == "bg"


def main(argv: list[str] | None = None) -> int:
    from bulkguard.eval import evaluate
    from bulkguard.ingest.replay import replay
    from bulkguard.sim import simulate

    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="model-eval-out")
    p.add_argument("--model", default=None, help="model file (default: the shipped model)")
    p.add_argument("--scenario", action="append", help="NAME=SEED[:ACCOUNTS[:DAYS[:bg]]]")
    p.add_argument("--markdown", help="also write the figures as a markdown table here")
    a = p.parse_args(argv)
    root = Path(a.dir)
    md = ["| scenario | engine | recall | min archetype recall | FPR (active legit) | precision "
          "| stopped before report | at registration | median blast |",
          "|---|---|---|---|---|---|---|---|---|"]
    for spec in a.scenario or DEFAULT:
        name, seed, accounts, days, bg = parse(spec)
        d = root / name
        if not (d / "labels.jsonl").exists():
            simulate(d, seed=seed, accounts=accounts, days=days,
                     background=str(COLLEGEMSG) if bg else None)
        ev, lab = str(d / "events.jsonl"), str(d / "labels.jsonl")
        print(f"== {name}: seed {seed}, {accounts} humans, {days:g} days"
              f"{', CollegeMsg background' if bg else ''}")
        rows = {}
        for tag, model, file in (("rules+model", a.model, "model"), ("rules only", "none", "none")):
            out, sc = d / f"decisions-{file}.jsonl", d / f"scores-{file}.jsonl"
            t = time.perf_counter()
            r = replay(ev, str(out), model_path=model, scores_path=str(sc))
            m = evaluate(ev, lab, str(out), str(sc), name=tag)
            rows[tag] = m
            rec = [(v["recall"], k) for k, v in m.per_archetype.items()
                   if v.get("abusive") and not math.isnan(v["recall"])]
            lo = min(rec) if rec else (math.nan, "-")
            md.append(f"| {name} (seed {seed}{', CollegeMsg' if bg else ''}) | {tag} | "
                      f"{m.recall:.3f} | {lo[0]:.2f} ({lo[1]}) | {m.fpr_active:.4f} "
                      f"({m.stopped_legit_active}/{m.legit_active}) | {m.precision:.3f} | "
                      f"{m.pre_report:.2f} | {m.at_registration:.2f} | {m.blast_median:g} |")
            print(f"  {tag:12s} {m.summary_line()} fpr_active={m.fpr_active:.4f} "
                  f"auc={m.score_auc:.4f} ({r.rate:,.0f} ev/s, {time.perf_counter() - t:.1f} s)")
        m = rows["rules+model"]
        b = rows["rules only"]
        weak = [f"{k} {v['recall']:.2f} (rules {b.per_archetype[k]['recall']:.2f})"
                for k, v in m.per_archetype.items()
                if v.get("abusive") and not math.isnan(v["recall"])]
        print("  recall by archetype: " + ", ".join(weak))
        fp = [f"{k} {v['stopped']}/{v['legit']}" for k, v in m.per_archetype.items()
              if v.get("legit") and v["stopped"]]
        print("  legit stopped: " + (", ".join(fp) or "none"))
    if a.markdown:
        Path(a.markdown).write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
