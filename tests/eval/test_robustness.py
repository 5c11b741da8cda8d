"""The robustness section of the report and bench/robustness.py (issue 9)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from bulkguard.eval import evaluate, write_report
from bulkguard.eval.report import VariantResult, meets_goals, robustness_markdown

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("robustness_bench", ROOT / "bench" / "robustness.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["robustness_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_markdown_and_report_section(scenario, tmp_path):
    m = evaluate(*scenario)
    rows = [VariantResult("held-out", "full", "simulator", m),
            VariantResult("held-out", "without contacts", "ablate.py nocontacts", m)]
    md = robustness_markdown(rows)
    assert "### held-out" in md and md.count("| full | simulator |") == 1
    # recall 0.75, worst spam_business 0.00, FPR 1/4 active, precision 0.6
    assert "| 0.750 | spam_business 0.00 | 0.2500 (1/4) | 0.600 |" in md
    assert meets_goals(m) == ["recall", "worst archetype", "FPR", "precision"]
    write_report(m, tmp_path / "rep", robustness=rows)
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Robustness" in text and "without contacts" in text
    assert "<h2>Robustness</h2>" in (tmp_path / "rep" / "report.html").read_text()
    write_report(m, tmp_path / "plain")
    assert "Robustness" not in (tmp_path / "plain" / "report.md").read_text()


def test_bench_small_run(tmp_path, capsys):
    bench = _bench()
    md = tmp_path / "t.md"
    rc = bench.main(["--seeds", "15", "--accounts", "150", "--days", "0.5", "--no-background",
                     "--variants", "without contacts", "cold start", "--out", str(tmp_path / "o"),
                     "--markdown", str(md), "--model", "none", "--report", str(tmp_path / "rep")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "### held-out, no background" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "variant" not in ln]
    names = [r.split(" | ")[0].strip("| ") for r in rows]
    assert names[0] == "full" and "without contacts" in names and "cold start" in names
    # the simulator's and ablate.py's streams without contacts are the same: one merged row
    if bench.ABLATE.exists():
        assert any("simulator --without contacts = ablate.py nocontacts" in r for r in rows)
    assert md.read_text().startswith("Robustness (model none")
    assert "## Robustness" in (tmp_path / "rep" / "report.md").read_text()
    assert not (tmp_path / "o" / "s15").exists() or not any((tmp_path / "o" / "s15").iterdir())


def test_bench_refuses_training_seeds(tmp_path):
    with pytest.raises(SystemExit, match="not a held-out seed"):
        _bench().main(["--seeds", "101", "--no-background", "--out", str(tmp_path)])
