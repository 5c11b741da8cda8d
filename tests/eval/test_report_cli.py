"""Report files and the ``bulkguard evaluate`` command."""

from __future__ import annotations

import json
import re

from bulkguard.cli import main
from bulkguard.eval import evaluate, rate_limit_decisions, write_report

SUMMARY = re.compile(r"^recall=\d\.\d{3} fpr=\d\.\d{4} precision=\d\.\d{2} blast_median=\S+ "
                     r"pre_report=\d\.\d{2} at_registration=\d\.\d{2}$")
PLOTS = ("scores.png", "threshold.png", "time_to_stop.png", "blast_radius.png")


def test_write_report_with_baseline(scenario, tmp_path):
    ev, lab, dec = scenario
    base = tmp_path / "base.jsonl"
    rate_limit_decisions(ev, base, per_minute=2)
    m, b = evaluate(ev, lab, dec), evaluate(ev, lab, base)
    out = tmp_path / "rep"
    html_path = write_report(m, out, baseline=b)
    assert html_path == out / "report.html"
    for f in ("report.md", "report.html", *PLOTS):
        assert (out / f).stat().st_size > 0, f
        if f.endswith(".png"):
            assert (out / f).read_bytes()[:4] == b"\x89PNG"
    md, html = (out / "report.md").read_text(), html_path.read_text()
    assert m.summary_line() in md and m.summary_line() in html
    assert "baseline" in md and "Against the baseline" in html
    assert "data:image/png;base64," in html and "![" in md
    assert md.index("## Summary") < md.index("## Metrics")


def test_write_report_without_baseline_or_abusers(tmp_path, h):
    ev = h.write_jsonl(tmp_path / "e.jsonl", [{"type": "register", "ts": 1, "account": "x"}])
    lab = h.write_jsonl(tmp_path / "l.jsonl", [{"account": "x", "label": "legit"}])
    dec = h.write_jsonl(tmp_path / "d.jsonl", [])
    m = evaluate(ev, lab, dec)
    write_report(m, tmp_path / "r")
    assert all((tmp_path / "r" / f).stat().st_size > 0 for f in PLOTS)
    json.dumps(m.to_dict(), allow_nan=False)
    assert m.summary_line() == ("recall=nan fpr=0.0000 precision=nan blast_median=nan "
                                "pre_report=nan at_registration=nan")


def test_cli_end_to_end(scenario, tmp_path, capsys):
    ev, lab, dec = scenario
    base = tmp_path / "base.jsonl"
    rate_limit_decisions(ev, base, per_minute=2)
    sc = h_scores = tmp_path / "scores.jsonl"
    h_scores.write_text('{"account": "a4", "max_score": 0.9}\n')
    js, rep = tmp_path / "m.json", tmp_path / "rep"
    rc = main(["evaluate", "--events", str(ev), "--labels", str(lab), "--decisions", str(dec),
               "--scores", str(sc), "--baseline", str(base), "--json", str(js),
               "--report", str(rep)])
    out = capsys.readouterr().out
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert SUMMARY.match(last), last
    assert last == "recall=0.750 fpr=0.4000 precision=0.60 blast_median=1.5 pre_report=0.67 at_registration=0.33"
    assert "recall (abusers stopped)" in out and "blaster" in out
    doc = json.loads(js.read_text())
    assert doc["recall"] == 0.75 and doc["score_source"] == "scores file"
    assert doc["baseline"]["decisions"] >= 1
    assert (rep / "report.html").exists()


def test_cli_violations_exit_zero(scenario, tmp_path, capsys, h):
    ev, lab, _ = scenario
    dec = h.write_jsonl(tmp_path / "d.jsonl", [h.decision(5, "a1", "ban", ts=1), "oops"])
    rc = main(["evaluate", "--events", str(ev), "--labels", str(lab), "--decisions", str(dec)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "VIOLATE THE CONTRACT: 2 problems" in out and "ts_mismatch=1" in out


def test_cli_missing_file_exit_one(scenario, tmp_path, capsys):
    ev, lab, dec = scenario
    rc = main(["evaluate", "--events", str(ev), "--labels", str(tmp_path / "none.jsonl"),
               "--decisions", str(dec)])
    err = capsys.readouterr().err
    assert rc == 2 and "labels file not found" in err
    rc = main(["evaluate", "--events", str(ev), "--labels", str(lab), "--decisions", str(dec),
               "--baseline", str(tmp_path / "nobase.jsonl")])
    assert rc == 2 and "decisions file not found" in capsys.readouterr().err


def test_cli_bad_scores_file_exit_one(scenario, tmp_path, capsys):
    ev, lab, dec = scenario
    sc = tmp_path / "scores.jsonl"
    sc.write_text('{"account": "a1"}\n')
    rc = main(["evaluate", "--events", str(ev), "--labels", str(lab), "--decisions", str(dec),
               "--scores", str(sc)])
    assert rc == 2 and "scores file" in capsys.readouterr().err
