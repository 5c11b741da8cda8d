"""``bulkguard business status``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkguard.cli import main

SAMPLE = Path("/work/shared/spec/sample/events.jsonl")


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
def test_status_on_sample(capsys):
    assert main(["business", "status", "shop", "--events", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "tier: 1 (limit 250" in out
    assert "quality: GREEN" in out
    assert "winter_sale [marketing]: quality GREEN, active" in out
    assert "open customer-service windows: 1" in out
    assert "opted-in customers: 0" in out  # bob opted out at the end
    assert "refusals: 1 (NO_OPTIN 1)" in out


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
def test_status_non_business(capsys):
    assert main(["business", "status", "blaster", "--events", str(SAMPLE)]) == 1
    assert "not a business account" in capsys.readouterr().err


def test_status_skips_bad_lines_and_reports_paused(tmp_path, capsys):
    lines = [
        '{"type":"register","ts":0,"account":"b","kind":"business"}',
        '{"type":"template_register","ts":0,"business":"b","template":"t","category":"utility"}',
        "not json",
    ]
    for i in range(5):
        lines += [f'{{"type":"optin","ts":1,"business":"b","customer":"c{i}"}}',
                  f'{{"type":"message","ts":2,"sender":"b","recipient":"c{i}","template":"t"}}',
                  f'{{"type":"block","ts":3,"blocker":"c{i}","blocked":"b"}}']
    lines += [f'{{"type":"message","ts":4,"sender":"b","recipient":"x{i}","template":"t"}}'
              for i in range(3)]
    lines += ['{"type":"message","ts":5,"sender":"c0","recipient":"b"}',
              '{"type":"message","ts":6,"sender":"b","recipient":"c0","forwarded":1,"digest":"d"}']
    p = tmp_path / "e.jsonl"
    p.write_text("\n".join(lines) + "\n")
    assert main(["business", "status", "b", "--events", str(p)]) == 0
    out = capsys.readouterr().out
    assert "1 bad lines skipped" in out
    assert "paused templates: t" in out
    assert "refusals: 3 (NO_OPTIN 3)" in out
    assert "open customer-service windows: 1" in out
    assert "distinct customers messaged outside windows (last 24h): 5" in out
    assert "opted-in customers: 5" in out
    assert "quality: RED" in out
    assert "t [utility]: quality RED, paused until ts 10803, strikes 1" in out


def test_status_missing_file(tmp_path, capsys):
    assert main(["business", "status", "b", "--events", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
