"""Human-readable output of an evaluation: a terminal table, report.md, report.html, plots.

>>> _fmt(0.98123, "pct"), _fmt(float("nan"), "pct"), _fmt(12.0, "int"), _fmt(3.5, "s")
('98.1%', '-', '12', '3.5 s')
"""

from __future__ import annotations

import base64
import importlib.util
import html
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkguard.eval.metrics import Metrics

# (label, attribute, format)
ROWS: list[tuple[str, str, str]] = [
    ("recall (abusers stopped)", "recall", "pct"),
    ("false-positive rate (legit stopped)", "fpr", "pct4"),
    ("FPR over active legit accounts", "fpr_active", "pct4"),
    ("precision", "precision", "pct"),
    ("abusers stopped (count)", "stopped_abusive", "int"),
    ("legit stopped (count)", "stopped_legit", "int"),
    ("legit throttled", "throttled_legit", "int"),
    ("stopped without label", "stopped_unlabeled", "int"),
    ("blast radius median", "blast_median", "num"),
    ("blast radius p90", "blast_p90", "num"),
    ("blast radius total", "blast_total", "int"),
    ("blast share of abusers' output", "blast_share", "pct"),
    ("stopped before first report", "pre_report", "pct"),
    ("stopped at registration", "at_registration", "pct"),
    ("time to stop median", "time_to_stop_median", "s"),
    ("time to stop p90", "time_to_stop_p90", "s"),
    ("abusive business msgs rejected", "business_abusive_reject_share", "pct"),
    ("compliant business msgs rejected", "business_compliant_reject_share", "pct"),
    ("score AUC", "score_auc", "num3"),
    ("decisions", "decisions", "int"),
    ("contract violations", "violations_total", "int"),
]


def _fmt(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "pct4":
        return f"{100 * v:.2f}%"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "s":
        if v >= 3600:
            return f"{v / 3600:.1f} h"
        if v >= 60:
            return f"{v / 60:.1f} min"
        return f"{v:.3g} s"
    if kind == "num3":
        return f"{v:.3f}"
    if kind == "num4":
        return f"{v:.4f}"
    return f"{v:g}"


def _population(m: Metrics) -> str:
    return (f"{m.abusive:,} abusive, {m.legit:,} legit ({m.legit_active:,} active) accounts; "
            f"{m.events_read:,} event lines ({m.events_bad:,} bad)")


def table_rows(m: Metrics, baseline: Metrics | None = None) -> list[list[str]]:
    rows = []
    for label, attr, kind in ROWS:
        r = [label, _fmt(getattr(m, attr), kind)]
        if baseline is not None:
            r.append(_fmt(getattr(baseline, attr), kind))
        rows.append(r)
    return rows


ARCH_COLS = [("accts", "accounts", "int"), ("stopped", "stopped", "int"),
             ("stop rate", "stop_rate", "pct"), ("thrott", "throttled", "int"),
             ("blast med", "blast_median", "num"), ("blast p90", "blast_p90", "num"),
             ("pre-rep", "pre_report", "pct"), ("at reg", "at_registration", "pct"),
             ("stop med", "time_to_stop_median", "s")]


def archetype_rows(m: Metrics) -> list[list[str]]:
    """One row per archetype; ``stop rate`` is recall for abusers, FPR for legit accounts."""
    out = []
    for arch, row in m.per_archetype.items():
        row = dict(row, stop_rate=row["stopped"] / row["accounts"] if row["accounts"] else math.nan)
        out.append([arch, row["label"]] + [_fmt(row.get(k), f) for _, k, f in ARCH_COLS])
    return out


def _plain(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    w = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(h.ljust(w[i]) if i < left else h.rjust(w[i]) for i, h in enumerate(headers))]
    lines.append("  ".join("-" * x for x in w))
    for r in rows:
        lines.append("  ".join(c.ljust(w[i]) if i < left else c.rjust(w[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def print_table(m: Metrics, baseline: Metrics | None = None, file=None) -> None:
    """Print the metric table and the per-archetype table (rich on a terminal, plain otherwise)."""
    file = file or sys.stdout
    heads = ["metric", "bulkguard" if baseline is not None else "value"]
    if baseline is not None:
        heads.append("baseline")
    arch_heads = ["archetype", "label"] + [h for h, _, _ in ARCH_COLS]
    rows, arows = table_rows(m, baseline), archetype_rows(m)
    if file.isatty():
        from rich.console import Console
        from rich.table import Table

        con = Console(file=file)
        t = Table(title=_population(m), title_justify="left")
        for i, h in enumerate(heads):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        con.print(t)
        plain_arch = _plain(arch_heads, arows, left=2)
        if max(len(x) for x in plain_arch.splitlines()) + 3 * len(arch_heads) > con.width:
            con.print("per archetype (stop rate: recall for abusive, FPR for legit)", style="italic")
            print(plain_arch, file=file)
        else:
            from rich import box

            a = Table(title="per archetype (stop rate: recall for abusive, FPR for legit)",
                      title_justify="left", box=box.SIMPLE_HEAD)
            for i, h in enumerate(arch_heads):
                a.add_column(h, justify="left" if i < 2 else "right", no_wrap=True)
            for r in arows:
                a.add_row(*r)
            con.print(a)
    else:
        print(_population(m), file=file)
        print(_plain(heads, rows), file=file)
        print("\nper archetype (stop rate: recall for abusive, FPR for legit)", file=file)
        print(_plain(arch_heads, arows, left=2), file=file)
    if m.violations_total:
        kinds = ", ".join(f"{k}={v}" for k, v in m.violations.items() if v)
        print(f"\nDECISIONS VIOLATE THE CONTRACT: {m.violations_total} problems ({kinds})", file=file)
        for ex in m.violation_examples[:10]:
            print(f"  {ex}", file=file)


# ---------------------------------------------------------------- plain-language summary

def headline(m: Metrics) -> list[str]:
    """A few sentences a person can read in a minute."""
    out = [
        f"Stopped **{_fmt(m.recall, 'pct')}** of abusive accounts ({m.stopped_abusive:,} of "
        f"{m.abusive:,}) and wrongly stopped **{_fmt(m.fpr, 'pct4')}** of legit accounts "
        f"({m.stopped_legit:,} of {m.legit:,}); {_fmt(m.precision, 'pct')} of stops hit an abuser.",
        f"Abusers got a median of **{_fmt(m.blast_median, 'num')}** messages/group adds out before "
        f"being stopped (p90 {_fmt(m.blast_p90, 'num')}, total {m.blast_total:,} = "
        f"{_fmt(m.blast_share, 'pct')} of what they sent).",
        f"{_fmt(m.pre_report, 'pct')} of stopped abusers were stopped before anyone reported them; "
        f"{_fmt(m.at_registration, 'pct')} of registering abusers were stopped at registration; "
        f"median time from first message to stop {_fmt(m.time_to_stop_median, 's')}.",
        f"Legit accounts throttled: {m.throttled_legit:,}; legit messages refused: "
        f"{m.legit_rejected_messages:,}. Business lane: {_fmt(m.business_abusive_reject_share, 'pct')} "
        f"of abusive businesses' messages refused vs {_fmt(m.business_compliant_reject_share, 'pct')} "
        f"of compliant businesses'.",
    ]
    if m.abusive_unobservable:
        out.append(f"Not observable in this stream (their abuse lives in an event family it lacks; "
                   f"left out of every figure above): {unobservable_text(m)}.")
    if m.violations_total:
        out.append(f"**The decisions file breaks the contract {m.violations_total:,} times** "
                   f"({', '.join(f'{k} {v}' for k, v in m.violations.items() if v)}).")
    else:
        out.append("The decisions file follows the contract (0 violations).")
    return out


def _compare(m: Metrics, b: Metrics) -> str:
    def better(x, y, lower=False):
        if any(isinstance(v, float) and math.isnan(v) for v in (x, y)):
            return "n/a"
        if x == y:
            return "same"
        return "better" if (x < y) == lower else "worse"
    return (f"Against the baseline: recall {_fmt(m.recall, 'pct')} vs {_fmt(b.recall, 'pct')} "
            f"({better(m.recall, b.recall)}), false positives {_fmt(m.fpr, 'pct4')} vs "
            f"{_fmt(b.fpr, 'pct4')} ({better(m.fpr, b.fpr, True)}), blast median "
            f"{_fmt(m.blast_median, 'num')} vs {_fmt(b.blast_median, 'num')} "
            f"({better(m.blast_median, b.blast_median, True)}).")


# ---------------------------------------------------------------- plots

def _plots(m: Metrics, b: Metrics | None, out: Path) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    made: list[tuple[str, str]] = []
    names = [("bulkguard", m)] + ([("baseline", b)] if b is not None else [])

    def legend(ax, **kw):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(**kw)
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="gray")

    def save(fig, fname, title):
        fig.tight_layout()
        fig.savefig(out / fname, dpi=90)
        plt.close(fig)
        made.append((fname, title))

    # 1. score distributions
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 3.6), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, (nm, x) in zip(axes[0], names):
        for key, lab, col in (("scores_legit", "legit", "tab:blue"), ("scores_abusive", "abusive", "tab:red")):
            v = x.detail.get(key, np.array([]))
            if len(v):
                ax.hist(np.clip(v, 0, 1), bins=bins, alpha=0.55, label=f"{lab} ({len(v):,})",
                        color=col, weights=np.full(len(v), 1.0 / len(v)), log=True)
        ax.set_xlabel(f"max score per account ({x.score_source})")
        ax.set_ylabel("share of accounts (log)")
        n_max = max(len(x.detail.get("scores_legit", ())), len(x.detail.get("scores_abusive", ())), 1)
        ax.set_ylim(0.5 / n_max, 1.5)
        ax.set_title(f"{nm}: score distribution")
        legend(ax)
    save(fig, "scores.png", "Score distributions, legit vs abusive")

    # 2. recall and FPR against the threshold
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for (nm, x), ls in zip(names, ("-", "--")):
        th = [p["threshold"] for p in x.threshold_curve]
        ax.plot(th, [p["recall"] for p in x.threshold_curve], ls, color="tab:red", label=f"{nm} recall")
        ax.plot(th, [p["fpr"] for p in x.threshold_curve], ls, color="tab:blue", label=f"{nm} FPR")
    ax.set_xlabel("action threshold on max score")
    ax.set_ylabel("share of accounts at or above")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Recall and false-positive rate vs threshold")
    legend(ax, fontsize=8)
    save(fig, "threshold.png", "Recall and false-positive rate against the threshold")

    # 3. CDF of time to stop (over abusers that sent something; never stopped = never)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for (nm, x), ls in zip(names, ("-", "--")):
        t = x.detail.get("time_to_stop", np.array([]))
        n = max(x.detail.get("abusers_with_messages", 0), 1)
        if len(t):
            tt = np.clip(np.sort(t), 0.1, None)
            ax.step(np.concatenate([[0.1], tt]), np.arange(len(tt) + 1) / n, ls, where="post", label=nm)
    ax.set_xscale("log")
    ax.set_xlabel("seconds from first message to stop (0 shown as 0.1)")
    ax.set_ylabel("share of messaging abusers stopped")
    ax.set_ylim(0, 1.02)
    ax.set_title("Time to stop (CDF)")
    legend(ax)
    save(fig, "time_to_stop.png", "Time from first message to stop (CDF)")

    # 4. blast radius per archetype
    archs = sorted(set().union(*(x.detail.get("blast_by_archetype", {}).keys() for _, x in names)))
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.5 * len(archs) + 1.5)))
    h = 0.8 / len(names)
    for i, (nm, x) in enumerate(names):
        bba = x.detail.get("blast_by_archetype", {})
        med = [np.median(bba[a]) if bba.get(a) else 0 for a in archs]
        p90 = [np.percentile(bba[a], 90) if bba.get(a) else 0 for a in archs]
        ys = np.arange(len(archs)) + i * h
        ax.barh(ys, med, height=h, label=f"{nm} median")
        ax.plot(p90, ys, "k|", markersize=10, label="p90" if i == 0 else None)
    ax.set_yticks(np.arange(len(archs)) + h * (len(names) - 1) / 2, labels=archs)
    ax.set_xlabel("messages + group adds delivered before the stop")
    ax.set_title("Blast radius per archetype")
    legend(ax, fontsize=8)
    save(fig, "blast_radius.png", "Blast radius per abusive archetype")
    return made


# ---------------------------------------------------------------- report files

DEFINITIONS = [
    "Stopped: the account's first challenge, suspend or ban; a later reinstate does not undo it.",
    "Blast radius: an abuser's messages and group adds (group_join with added_by = it) on lines "
    "before its stop line, all of them if never stopped; messages refused by reject do not count.",
    "Active legit account: at least one event as sender, account, reporter, blocker, member or business.",
    "Before first report: stop line earlier than the first report naming the abuser (never reported counts).",
    "At registration: among abusers with a register event, stopped at or before it, or before any "
    "message got out.",
    "Time to stop: event-time seconds from an abuser's first message to its stop (0 if stopped before it).",
    "Inert abuser: labeled abusive but with no event other than register in this stream (its abuse "
    "lives in a family the stream lacks); counted apart and left out of every other figure.",
    "Worst archetype: the abusive archetype with the lowest recall.",
    "Compliant business: labeled legit and registered with kind business. Threshold curve and AUC use "
    "each account's max score (scores file, else max decision score, else 0).",
]

# ---------------------------------------------------------------- robustness (several variants)

#: Issue 9's bar for the worst variant: recall, worst archetype recall, FPR over active
#: legitimate accounts, precision.
GOALS = {"recall": 0.97, "worst_archetype_recall": 0.90, "fpr_active": 0.002, "precision": 0.95}

ROBUST_HEADS = ["variant", "made by", "recall", "worst archetype", "FPR (active legit)",
                "precision", "stopped before report", "blast median", "at registration",
                "not observable", "goal"]


def unobservable_text(m: Metrics) -> str:
    """The abusers not observable in a stream, by archetype, and how many were stopped anyway.

    >>> unobservable_text(Metrics(abusive_unobservable=4, unobservable={"enumerator": 4}))
    'enumerator 4 (0 stopped)'
    >>> unobservable_text(Metrics())
    '-'
    """
    if not m.abusive_unobservable:
        return "-"
    names = ", ".join(f"{k} {v}" for k, v in sorted(m.unobservable.items()))
    return f"{names} ({m.unobservable_stopped} stopped)"


@dataclass
class VariantResult:
    """One evaluated variant of a scenario set (e.g. "--without contacts" made by the
    simulator) under a section heading (e.g. "held-out, no background")."""

    section: str
    variant: str
    made_by: str
    metrics: Metrics


#: ... and for the full stream also: stopped before any report, stopped at registration,
#: median blast radius.
FULL_GOALS = {"pre_report": 0.95, "at_registration": 0.5, "blast_median": 5}


def meets_goals(m: Metrics, full: bool = False) -> list[str]:
    """The goals of :data:`GOALS` (and with ``full`` of :data:`FULL_GOALS`) that ``m``
    misses (empty: all met).

    >>> meets_goals(Metrics(recall=0.99, worst_archetype_recall=0.95, fpr_active=0.001, precision=0.97))
    []
    >>> meets_goals(Metrics(recall=0.9, worst_archetype_recall=0.5, fpr_active=0.01, precision=0.97))
    ['recall', 'worst archetype', 'FPR']
    >>> meets_goals(Metrics(recall=1, worst_archetype_recall=1, fpr_active=0, precision=1,
    ...                     pre_report=0.9, at_registration=0.6, blast_median=7), full=True)
    ['pre-report', 'blast']
    """
    out = []
    if not m.recall >= GOALS["recall"]:
        out.append("recall")
    if not m.worst_archetype_recall >= GOALS["worst_archetype_recall"]:
        out.append("worst archetype")
    if not m.fpr_active <= GOALS["fpr_active"]:
        out.append("FPR")
    if not m.precision >= GOALS["precision"]:
        out.append("precision")
    if full:
        if not m.pre_report >= FULL_GOALS["pre_report"]:
            out.append("pre-report")
        if not m.at_registration >= FULL_GOALS["at_registration"]:
            out.append("at registration")
        if not m.blast_median <= FULL_GOALS["blast_median"]:
            out.append("blast")
    return out


def robustness_row(r: VariantResult) -> list[str]:
    m = r.metrics
    miss = meets_goals(m, full=r.variant == "full")
    worst = (f"{m.worst_archetype} {m.worst_archetype_recall:.2f}" if m.worst_archetype else "-")
    return [r.variant, r.made_by, _fmt(m.recall, "num3"), worst,
            f"{_fmt(m.fpr_active, 'num4')} ({m.stopped_legit_active}/{m.legit_active})",
            _fmt(m.precision, "num3"), _fmt(m.pre_report, "num3"), _fmt(m.blast_median, "num"),
            _fmt(m.at_registration, "num3"), unobservable_text(m),
            "met" if not miss else "misses " + ", ".join(miss)]


def robustness_markdown(results: list[VariantResult]) -> str:
    """One markdown table per section, one row per variant."""
    out: list[str] = []
    sections: dict[str, list[VariantResult]] = {}
    for r in results:
        sections.setdefault(r.section, []).append(r)
    for title, rows in sections.items():
        out += [f"### {title}", "", _md_table(ROBUST_HEADS, [robustness_row(r) for r in rows]), ""]
    out.append(f"Goal (issue 9, every row): recall >= {GOALS['recall']}, every abusive archetype "
               f">= {GOALS['worst_archetype_recall']}, FPR over active legit accounts <= "
               f"{GOALS['fpr_active']}, precision >= {GOALS['precision']}; the full row also "
               f"stopped before any report >= {FULL_GOALS['pre_report']}, at registration >= "
               f"{FULL_GOALS['at_registration']}, blast median <= {FULL_GOALS['blast_median']}.")
    return "\n".join(out)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _md_inline(s: str) -> str:
    """``**bold**`` to ``<b>`` for the HTML version of the headline."""
    parts = html.escape(s).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


ROBUSTNESS_INTRO = (
    "The same held-out scenarios with a family of platform signals missing: one row per "
    "variant, pooled over the scenarios of a section. A missing family should cost little "
    "recall and no false positives. 'made by': the simulator's flags (--without, --cold-start) "
    "or ../shared/tools/ablate.py on the full stream.")


def write_report(metrics: Metrics, out_dir: str | Path, baseline: Metrics | None = None,
                 robustness: list[VariantResult] | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and the PNG plots into ``out_dir``; return the HTML
    path. ``robustness`` (several variants of the scenario, e.g. from
    ``bench/robustness.py``) adds a "Robustness" section."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("matplotlib") is None:   # an optional extra: bulkguard[report]
        print("bulkguard: report written without plots: matplotlib is not installed "
              "(pip install 'bulkguard[report]')", file=sys.stderr)
        plots: list[tuple[str, str]] = []
    else:
        plots = _plots(metrics, baseline, out)
    lines = headline(metrics)
    if baseline is not None:
        lines.append(_compare(metrics, baseline))
    heads = ["metric", "bulkguard" if baseline is not None else "value"] + (
        ["baseline"] if baseline is not None else [])
    rows = table_rows(metrics, baseline)
    arch_heads = ["archetype", "label"] + [h for h, _, _ in ARCH_COLS]
    arch_sections = [("bulkguard" if baseline is not None else "", archetype_rows(metrics))]
    if baseline is not None:
        arch_sections.append(("baseline", archetype_rows(baseline)))
    viol = [(k, str(v)) for k, v in metrics.violations.items()]
    pop = _population(metrics)
    summary = metrics.summary_line()

    md = ["# bulkguard evaluation", "", f"`{summary}`", "", "## Summary", ""]
    md += [f"- {s}" for s in lines]
    md += ["", f"Scenario: {pop}. Decisions: `{metrics.name}`"
           + (f"; baseline: `{baseline.name}`" if baseline is not None else "") + ".", "",
           "## Metrics", "", _md_table(heads, rows), ""]
    for title, arows in arch_sections:
        md += [f"## Per archetype{' — ' + title if title else ''}", "", _md_table(arch_heads, arows), ""]
    if robustness:
        md += ["## Robustness", "", ROBUSTNESS_INTRO, "", robustness_markdown(robustness), ""]
    md += ["## Plots", ""]
    md += [f"### {t}\n\n![{t}]({f})\n" for f, t in plots]
    md += ["## Contract violations of the decisions", "",
           _md_table(["kind", "count"], viol), ""]
    md += [f"- {e}" for e in metrics.violation_examples]
    md += ["", "## Definitions", ""] + [f"- {d}" for d in DEFINITIONS]
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    imgs = []
    for f, t in plots:
        data = base64.b64encode((out / f).read_bytes()).decode("ascii")
        imgs.append(f'<figure><a href="{f}"><img alt="{html.escape(t)}" '
                    f'src="data:image/png;base64,{data}"></a><figcaption>{html.escape(t)}'
                    f"</figcaption></figure>")
    arch_html = "".join(
        f"<h2>Per archetype{' — ' + html.escape(t) if t else ''}</h2>{_html_table(arch_heads, r)}"
        for t, r in arch_sections)
    ex = "".join(f"<li>{html.escape(e)}</li>" for e in metrics.violation_examples)
    robust_html = ""
    if robustness:
        secs: dict[str, list[VariantResult]] = {}
        for r in robustness:
            secs.setdefault(r.section, []).append(r)
        robust_html = f"<h2>Robustness</h2><p>{html.escape(ROBUSTNESS_INTRO)}</p>" + "".join(
            f"<h3>{html.escape(t)}</h3>{_html_table(ROBUST_HEADS, [robustness_row(r) for r in rs])}"
            for t, rs in secs.items())
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bulkguard evaluation</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
.summary{{background:#f3f6fa;border-left:4px solid #2b6cb0;padding:.6em 1.2em}}
code{{background:#eee;padding:.1em .3em}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}
figure{{display:inline-block;margin:.5em}} img{{max-width:100%}}
</style></head><body>
<h1>bulkguard evaluation</h1>
<p><code>{html.escape(summary)}</code></p>
<div class="summary"><ul>{''.join(f'<li>{_md_inline(s)}</li>' for s in lines)}</ul>
<p>Scenario: {html.escape(pop)}.</p></div>
<h2>Metrics</h2>{_html_table(heads, rows)}
{arch_html}
{robust_html}
<h2>Plots</h2>{''.join(imgs)}
<h2>Contract violations of the decisions</h2>{_html_table(["kind", "count"], viol)}
<ul>{ex}</ul>
<h2>Definitions</h2><ul>{''.join(f"<li>{html.escape(d)}</li>" for d in DEFINITIONS)}</ul>
</body></html>
"""
    path = out / "report.html"
    path.write_text(doc, encoding="utf-8")
    return path
