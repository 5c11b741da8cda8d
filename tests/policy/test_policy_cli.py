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


def test_status_refusals_are_the_engines(tmp_path, capsys):
    """``business status`` and ``bulkguard replay`` route messages through one path: the
    refusals it counts are the reject decisions replay writes, ACCOUNT_SUSPENDED included."""
    import json
    from collections import Counter

    from bulkguard.ingest.replay import replay
    from bulkguard.policy.cli import replay as status_replay
    from bulkguard.sim import simulate

    simulate(tmp_path / "scn", seed=3, accounts=300, days=0.5)
    events = tmp_path / "scn" / "events.jsonl"
    replay(str(events), str(tmp_path / "d.jsonl"))
    written: Counter = Counter()
    for line in (tmp_path / "d.jsonl").read_bytes().splitlines():
        d = json.loads(line)
        if d["action"] == "reject":
            written[(d["account"], d["reasons"][0])] += 1
    lane, _, _, refusals = status_replay(events)
    assert refusals == written
    assert {code for _, code in written} >= {"ACCOUNT_SUSPENDED"}
    shop = next(a for a, _ in written if lane.is_business(a))
    assert main(["business", "status", shop, "--events", str(events)]) == 0
    mine = sum(n for (a, _), n in written.items() if a == shop)
    assert f"refusals: {mine} (" in capsys.readouterr().out
