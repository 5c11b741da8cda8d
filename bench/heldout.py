"""Held-out quality figures for the README: simulate scenarios on seeds never used for
training or tuning, replay them (full engine, rules only, plain rate limit) and evaluate.

usage: python bench/heldout.py [--out DIR] [--seeds 11 12] [--accounts 5000] [--days 3]
                               [--background ../shared/data/collegemsg/CollegeMsg.txt.gz]

Training and rule tuning used seeds 101-106; seeds 1-20 are held out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bulkguard.eval import evaluate, rate_limit_decisions
from bulkguard.ingest.replay import replay
from bulkguard.sim import simulate

ROOT = Path(__file__).resolve().parents[1]


def run_one(d: Path, seed: int, accounts: int, days: float, background: str | None) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    simulate(d, seed=seed, accounts=accounts, days=days, background=background)
    ev, lab = str(d / "events.jsonl"), str(d / "labels.jsonl")
    rows = {}
    for name, model in (("bulkguard", None), ("rules only", "none")):
        out, sc = d / f"{name.replace(' ', '_')}.jsonl", d / f"{name.replace(' ', '_')}.scores.jsonl"
        r = replay(ev, str(out), model_path=model, scores_path=str(sc))
        m = evaluate(ev, lab, str(out), str(sc), name=name)
        rows[name] = (m, r.rate)
    base = d / "baseline.jsonl"
    rate_limit_decisions(ev, str(base))
    rows["rate limit"] = (evaluate(ev, lab, str(base), name="rate limit"), 0.0)
    return rows


def fmt(m, rate: float) -> str:
    d = m.to_dict()
    per = d["per_archetype"]
    worst = min(((v.get("recall") or 0.0, k) for k, v in per.items()
                 if v.get("label") == "abusive" and v.get("accounts")), default=(float("nan"), "-"))
    return (f"| {m.name} | {d['recall']:.3f} | {d['fpr_active']:.4f} | {d['precision']:.3f} | "
            f"{d['blast_median']:g} | {d['pre_report']:.3f} | {d['at_registration']:.3f} | "
            f"{worst[0]:.2f} ({worst[1]}) | {d['business_abusive_reject_share']:.4f} | "
            f"{d['business_compliant_reject_share']:.4f} | "
            + (f"{rate:,.0f}" if rate else "-") + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/out/heldout")
    ap.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--days", type=float, default=3.0)
    ap.add_argument("--background", default=str(ROOT.parent / "shared/data/collegemsg/CollegeMsg.txt.gz"))
    args = ap.parse_args()
    configs = [(s, None) for s in args.seeds]
    if args.background and Path(args.background).exists():
        configs.append((args.seeds[0] + 2, args.background))
    head = ("| engine | recall | FPR (active legit) | precision | blast median | "
            "stopped before report | at registration | worst archetype recall | "
            "abusive business msgs refused | compliant business msgs refused | events/s |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for seed, bg in configs:
        tag = f"seed {seed}" + (" + CollegeMsg background" if bg else "")
        rows = run_one(Path(args.out) / f"s{seed}{'bg' if bg else ''}", seed, args.accounts,
                       args.days, bg)
        print(f"\n### {tag} ({args.accounts} humans, {args.days:g} days)\n\n{head}")
        for m, rate in rows.values():
            print(fmt(m, rate))
        summary[tag] = {k: v[0].to_dict() for k, v in rows.items()}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with open(Path(args.out) / "summary.json", "w") as f:
        json.dump(summary, f, default=str)


if __name__ == "__main__":
    main()
