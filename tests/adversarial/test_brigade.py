"""Partner brigades: accounts write to the victim, get one polite reply, then report and
block it. A reporter counts as a conversation partner only if the reported account
started or sustained the conversation."""

from __future__ import annotations

import pytest

from bulkguard.engine import Engine
from bulkguard.events import Message, Report
from bulkguard.sim import attacks


def test_fifty_partners_answered_once_do_not_stop_an_established_victim(tmp_path):
    events, who = attacks.brigade(seed=3, n=50)
    decs = attacks.replay_lines(attacks.lines_of(events), tmp_path / "events.jsonl")
    assert who["victim"] not in attacks.stopped(decs)


@pytest.mark.parametrize("n", [5, 20, 50])
@pytest.mark.parametrize("friends", [3, 5])
def test_no_action_at_all_not_even_a_throttle(tmp_path, monkeypatch, n, friends):
    """The goal of issue 15, throttle included: an account with two-way chats with three
    people (the least that counts as established) answered each brigade member once; its
    replies to people who wrote first are not outreach (no unanswered chats, no strangers),
    so neither the reply rules nor the reports and blocks move it."""
    made = attacks.established_victim
    monkeypatch.setattr(attacks, "established_victim",
                        lambda rng, kind, register=True: made(rng, kind, register, friends))
    events, who = attacks.brigade(seed=40 + n, n=n)
    decs = attacks.replay_lines(attacks.lines_of(events), tmp_path / "events.jsonl")
    assert [d for d in decs if d["account"] == who["victim"]] == []


def _partner_reports(sequence: list[tuple[str, str]]) -> int:
    eng = Engine()
    for i, (s, r) in enumerate(sequence):
        eng.handle(Message(ts=attacks.T0 + i * 60, sender=s, recipient=r), i + 1)
    eng.handle(Report(ts=attacks.T0 + 3600, reporter="rep", reported="tgt"), 99)
    return eng.world.accounts["tgt"].reports_partner


def test_who_counts_as_a_conversation_partner():
    assert _partner_reports([("tgt", "rep")]) == 1                       # cold message
    assert _partner_reports([("tgt", "rep"), ("rep", "tgt")]) == 1       # tgt started
    assert _partner_reports([("rep", "tgt"), ("tgt", "rep")]) == 0       # one polite reply
    assert _partner_reports([("rep", "tgt"), ("tgt", "rep"), ("rep", "tgt")]) == 0
    assert _partner_reports([("rep", "tgt"), ("tgt", "rep"), ("rep", "tgt"),
                             ("tgt", "rep")]) == 1                       # tgt kept it going
    assert _partner_reports([("rep", "tgt")]) == 0                       # never wrote to rep


def test_spam_recipients_still_count():
    """Five people the spammer wrote to cold report it: partner reports, as before."""
    eng = Engine()
    for i in range(5):
        eng.handle(Message(ts=attacks.T0 + i, sender="spammer", recipient=f"r{i}"), i + 1)
    for i in range(5):
        eng.handle(Report(ts=attacks.T0 + 100 + i, reporter=f"r{i}", reported="spammer"), 10 + i)
    assert eng.world.accounts["spammer"].reports_partner == 5
