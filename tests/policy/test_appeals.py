"""Ways back: appeals, reviewer actions and passed challenges (issue 10).

The issue's reproduction: an account reinstated after an appeal was suspended again on
its next message (the evidence it had been judged on still counted) and banned two
messages later."""

from __future__ import annotations

import json

import pytest

from bulkguard.components import build_engine
from bulkguard.engine import Engine
from bulkguard.events import (
    AppealGranted, ChallengePassed, ContactSync, Decision, Message, Register, ReviewerAction,
    encode_event,
)
from bulkguard.ingest.replay import replay
from bulkguard.policy.appeals import KIND, RELIEF_SECONDS, Amnesty
from bulkguard.signals import NAMES

T0 = 1_700_000_000.0
STOPS = ("challenge", "suspend", "ban")


def _blaster(eng: Engine, out: list[Decision], n: int = 12) -> int:
    """A fresh account sweeps contacts and blasts strangers; returns the next line."""
    out += eng.handle(Register(ts=T0, account="x", ip="192.0.2.1"), 1)
    out += eng.handle(ContactSync(ts=T0 + 1, account="x", numbers=5000, matched=40), 2)
    for i in range(n):
        out += eng.handle(Message(ts=T0 + 2 + i, sender="x", recipient=f"u{i}", digest="ab12"),
                          3 + i)
    return 3 + n


def test_every_signal_says_how_it_is_rebaselined():
    assert set(KIND) == set(NAMES)


@pytest.mark.parametrize("engine", ["rules", "default"])
def test_reinstated_account_is_not_restopped_by_judged_evidence(engine):
    eng = Engine() if engine == "rules" else build_engine()
    out: list[Decision] = []
    line = _blaster(eng, out)
    assert out[-1].action == "ban"
    got = eng.handle(AppealGranted(ts=T0 + 100, account="x", note="a real shop"), line)
    assert [(d.action, d.reasons, d.note) for d in got] == \
        [("reinstate", ["APPEAL_GRANTED"], "a real shop")]
    assert got[0].score < 0.45 and eng.world.accounts["x"].level == 0
    # its next messages (an ordinary pace, to people it knows) stop nothing
    after: list[Decision] = []
    for i in range(3):
        after += eng.handle(Message(ts=T0 + 400 + 120 * i, sender="x", recipient=f"u{i}",
                                    typing_ms=2000), line + 1 + i)
    assert not [d for d in after if d.account == "x"], after


def test_blasting_on_after_an_appeal_is_stopped_again_from_the_bottom():
    eng = Engine()
    out: list[Decision] = []
    line = _blaster(eng, out)
    eng.handle(AppealGranted(ts=T0 + 100, account="x"), line)
    again: list[Decision] = []
    for i in range(40):
        again += eng.handle(Message(ts=T0 + 200 + i, sender="x", recipient=f"new{i}",
                                    digest="cd34"), line + 1 + i)
    acts = [d.action for d in again if d.account == "x"]
    assert acts and acts[-1] in STOPS
    # the ladder climbed again from the bottom, on new evidence only
    first = next(d for d in again if d.account == "x")
    assert first.line > line + 1


def test_engine_reinstate_is_the_appeal_path():
    a, b = Engine(), Engine()
    for eng in (a, b):
        _blaster(eng, [])
    da = a.reinstate("x", 20, T0 + 100, note="ok")
    (db,) = b.handle(AppealGranted(ts=T0 + 100, account="x", note="ok"), 20)
    assert da == db and da is not None and da.action == "reinstate"
    assert a.reinstate("x", 21, T0 + 101) is None   # nothing left to lift
    assert a.snapshot()["amnesty"].keys() == b.snapshot()["amnesty"].keys()


def test_reviewer_ban_suspend_until_and_allow():
    eng = Engine()
    eng.handle(Register(ts=T0, account="p"), 1)
    (ban,) = eng.handle(ReviewerAction(ts=T0 + 1, account="p", action="ban", note="fraud"), 2)
    assert (ban.action, ban.reasons, ban.note) == ("ban", ["REVIEWER_BAN"], "fraud")
    assert eng.handle(ReviewerAction(ts=T0 + 2, account="p", action="ban"), 3) == ()
    (allow,) = eng.handle(ReviewerAction(ts=T0 + 3, account="p", action="allow"), 4)
    assert (allow.action, allow.reasons) == ("reinstate", ["REVIEWER_ALLOW"])
    (sus,) = eng.handle(ReviewerAction(ts=T0 + 4, account="p", action="suspend",
                                       until=T0 + 3600), 5)
    assert sus.action == "suspend"
    # still suspended before `until`; the first re-score after it lifts the suspension
    assert eng.handle(Message(ts=T0 + 60, sender="p", recipient="q"), 6) == ()
    assert eng.world.accounts["p"].level == 3
    lifted = eng.handle(Message(ts=T0 + 3700, sender="p", recipient="q"), 7)
    assert [(d.action, d.reasons) for d in lifted] == [("reinstate", ["SUSPENSION_ENDED"])]
    assert eng.world.accounts["p"].level == 0


def test_a_passed_challenge_lifts_it_and_relieves_timing_signals_for_a_while():
    eng = Engine()
    eng.handle(Register(ts=T0, account="b", ip="192.0.2.7"), 1)
    # a bot-like sender: regular gaps, never types, to strangers
    line = 2
    out: list[Decision] = []
    for i in range(30):
        out += eng.handle(Message(ts=T0 + 600 + 10 * i, sender="b", recipient=f"s{i}",
                                  typing_ms=0), line)
        line += 1
    level_before = eng.world.accounts["b"].level
    got = eng.handle(ChallengePassed(ts=T0 + 1000, account="b"), line)
    if 0 < level_before < 3:
        assert [(d.action, d.reasons) for d in got] == [("reinstate", ["CHALLENGE_PASSED"])]
    am = eng.amnesty[eng.world.accounts["b"].id]
    assert am.relief_until == pytest.approx(eng.world.now + RELIEF_SECONDS)
    i_cv, i_nt = NAMES.index("gap_cv"), NAMES.index("notype_share")
    v = [0.0] * len(NAMES)
    v[i_cv], v[i_nt] = 0.1, 1.0
    only = Amnesty(None, at=0.0, msgs_at=0.0, fresh=am.fresh, relief_until=am.relief_until)
    relieved = only.adjust(v, eng.world.now + 10)
    later = only.adjust(v, eng.world.now + RELIEF_SECONDS + 10)
    assert (relieved[i_nt], relieved[i_cv]) == (0.5, pytest.approx(0.55))   # halfway to a person
    assert later[i_nt] == v[i_nt] and later[i_cv] == v[i_cv]                 # relief is over


def test_challenge_passed_does_not_lift_a_suspension():
    eng = Engine()
    eng.handle(ReviewerAction(ts=T0, account="s", action="suspend"), 1)
    assert eng.handle(ChallengePassed(ts=T0 + 1, account="s"), 2) == ()
    assert eng.world.accounts["s"].level == 3


def test_amnesty_windows_expire_and_shares_come_back():
    n = len(NAMES)
    i_nc, i_tot, i_rr = NAMES.index("noncontact_1m"), NAMES.index("msgs_total"), \
        NAMES.index("reply_ratio")
    base = [0.0] * n
    base[i_nc], base[i_tot], base[i_rr] = 9.0, 100.0, 0.0
    fresh = [0.0] * n
    fresh[i_rr] = 0.5
    am = Amnesty(base, at=0.0, msgs_at=100.0, fresh=fresh)
    v = list(base)
    v[i_tot] = 105.0
    assert am.adjust(v, 30.0)[i_nc] == 0.0 and am.adjust(v, 30.0)[i_tot] == 5.0
    assert am.adjust(v, 30.0)[i_rr] == 0.5          # judged traffic's share: a fresh one's
    assert am.adjust(v, 200.0)[i_nc] == 9.0          # two minutes on: the window is new
    v[i_tot] = 130.0
    assert am.adjust(v, 30.0)[i_rr] == 0.0          # 30 new messages: the whole history again


def test_replay_writes_review_decisions_and_dead_letters_bad_ones(tmp_path, check_decisions):
    evs = [Register(ts=T0, account="x", ip="192.0.2.1"),
           ContactSync(ts=T0 + 1, account="x", numbers=5000, matched=40)]
    evs += [Message(ts=T0 + 2 + i, sender="x", recipient=f"u{i}", digest="ab12")
            for i in range(12)]
    evs += [ReviewerAction(ts=T0 + 50, account="x", action="reinstate", note="checked")]
    lines = [encode_event(e) for e in evs]
    lines.insert(3, b'{"type":"reviewer_action","ts":1,"account":"x","action":"smite"}')
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    r = replay(str(p), str(tmp_path / "d.jsonl"), model_path="none")
    assert r.stats.rejected == 1
    dead = json.loads((tmp_path / "d.rejected.jsonl").read_text())
    assert dead["line"] == 4 and "`$.action`" in dead["reason"]
    decs = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    last = decs[-1]
    assert (last["line"], last["action"], last["reasons"], last["note"]) == \
        (len(lines), "reinstate", ["REVIEWER_REINSTATE"], "checked")
    assert all(d["rules"].startswith("rules-") and d["model"] == "none"
               and d["engine"].startswith("bulkguard-") for d in decs)
    check_decisions(p, tmp_path / "d.jsonl")
