"""Coordination across accounts and robustness of the feedback loop (issue 4)."""

from __future__ import annotations

from bulkguard.engine import Engine
from bulkguard.events import ContactAdd, Decision, GroupCreate, GroupJoin, Message, Register, Report
from bulkguard.scoring.rules import Rules

T0 = 1_700_000_000.0
STOPS = {"challenge", "suspend", "ban"}


def _engine() -> Engine:
    return Engine(Rules.default())  # rules only: these are the guard-rails


def _stopped(decisions: list[Decision]) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in decisions:
        if d.action in STOPS:
            out.setdefault(d.account, d.action)
    return out


def test_report_brigade_does_not_stop_its_victim_but_stops_the_brigade() -> None:
    eng = _engine()
    out: list[Decision] = []
    line = 0
    # the victim: an ordinary person with friends who answer
    for i in range(6):
        line += 1
        out += eng.handle(ContactAdd(ts=T0, account="victim", contact=f"friend{i}"), line)
        line += 1
        out += eng.handle(Message(ts=T0 + i, sender="victim", recipient=f"friend{i}", typing_ms=900), line)
        line += 1
        out += eng.handle(Message(ts=T0 + 60 + i, sender=f"friend{i}", recipient="victim", typing_ms=700), line)
    # 30 farm accounts on two IPs and one number block report the victim, whom they never met
    for i in range(30):
        t = T0 + 3600 + 30 * i
        line += 1
        out += eng.handle(Register(ts=t, account=f"brig{i}", ip=f"198.51.100.{i % 2}",
                                  phone=f"+4915700000{i:03d}", device=f"dev{i % 3}", country="DE"), line)
        line += 1
        out += eng.handle(Report(ts=t + 5, reporter=f"brig{i}", reported="victim", reason="abuse"), line)
    stopped = _stopped(out)
    assert "victim" not in stopped
    brigaders = [a for a in stopped if a.startswith("brig")]
    assert len(brigaders) >= 25, stopped


def test_reports_from_conversation_partners_do_count() -> None:
    eng = _engine()
    out: list[Decision] = []
    line = 0
    for i in range(40):  # a spammer writes to 40 strangers, slowly
        line += 1
        out += eng.handle(Message(ts=T0 + 600 * i, sender="spam", recipient=f"p{i}", digest=f"{i:016x}"), line)
    for i in range(8):  # eight of them report it
        line += 1
        out += eng.handle(Report(ts=T0 + 600 * 40 + i, reporter=f"p{i}", reported="spam", reason="spam"), line)
    assert "spam" in _stopped(out)


def test_a_stopped_farm_member_raises_its_siblings() -> None:
    eng = _engine()
    out: list[Decision] = []
    line = 0
    # ten accounts registered a minute apart on one IP, sequential numbers; only the first blasts
    for i in range(10):
        line += 1
        out += eng.handle(Register(ts=T0 + 60 * i, account=f"farm{i}", ip="203.0.113.5",
                                  phone=f"+4917600001{i:03d}", device=f"d{i}", country="DE"), line)
    for k in range(30):
        line += 1
        out += eng.handle(Message(ts=T0 + 700 + k, sender="farm0", recipient=f"x{k}",
                                 digest="9f3a5c7e11d0b2a4", typing_ms=0), line)
    stopped = _stopped(out)
    assert "farm0" in stopped
    # the siblings were re-scored at the line that stopped farm0, before they sent anything
    raised = {d.account for d in out if d.account.startswith("farm") and d.account != "farm0"}
    assert len(raised) >= 5
    assert sum(1 for a in raised if a in stopped) >= 5, (raised, stopped)


def test_people_reporting_a_stopped_group_spammer_are_no_pile_on() -> None:
    """A group spammer adds 60 strangers to a group and is stopped for it; those of them who
    report it (it never wrote to them one to one, they sent nothing yet) agree with the
    stop: they are no report pile-on. The same reports against an account nothing else
    says is abusive (the brigade test above) still are."""
    eng = _engine()
    out: list[Decision] = []
    line = 1
    out += eng.handle(Register(ts=T0, account="gs", ip="192.0.2.9"), line)
    line += 1
    out += eng.handle(GroupCreate(ts=T0 + 60, account="gs", group="g1"), line)
    for i in range(60):
        line += 1
        out += eng.handle(GroupJoin(ts=T0 + 120 + i, group="g1", member=f"m{i}", added_by="gs"), line)
    assert "gs" in _stopped(out)
    for i in range(12):
        line += 1
        out += eng.handle(Report(ts=T0 + 900 + 60 * i, reporter=f"m{i}", reported="gs",
                                 reason="spam"), line)
    assert not [a for a in _stopped(out) if a.startswith("m")], _stopped(out)


def _waves(eng: Engine, pools: dict[str, list[str]], waves: int, per: int, seed: int,
           answer: float = 0.0) -> list[Decision]:
    """Members work through their lists together: ``waves`` waves 6 hours apart, each member
    starting within 2 minutes of the wave and writing to ``per`` people of its list
    5-40 s apart; a share ``answer`` of those written to answer 10 minutes later. No
    registration, no digest, no typing: nothing but who writes to whom, and when."""
    import random
    rng = random.Random(seed)
    evs: list[tuple[float, str, str]] = []
    for k in range(waves):
        wave = T0 + 6 * 3600 * k
        for m, pool in pools.items():
            t = wave + rng.uniform(0, 120)
            for r in rng.sample(pool, per):
                t += rng.uniform(5, 40)
                evs.append((t, m, r))
                if rng.random() < answer:
                    evs.append((t + 600, r, m))
    evs.append((T0 + 6 * 3600 * waves + 7200, "clock", "tick"))
    out: list[Decision] = []
    for line, (t, s, r) in enumerate(sorted(evs), 1):
        out += eng.handle(Message(ts=t, sender=s, recipient=r), line)
    return out


def test_a_farm_sharing_nothing_but_its_target_list_is_stopped_as_a_group() -> None:
    """Issue 9, part 3: six accounts with no registration seen, no shared infrastructure and
    no content fingerprint, working through one list of 60 strangers in waves, nobody
    answering. Each alone looks like a person writing to 15 strangers a wave (a throttle at
    most); together they are a lockstep group, and a stop of one raises the others."""
    members = [f"farm{i}" for i in range(6)]
    shared = [f"t{i}" for i in range(60)]
    out = _waves(_engine(), {m: shared for m in members}, waves=4, per=15, seed=1)
    stopped = _stopped(out)
    assert set(members) <= set(stopped), stopped
    assert any("LOCKSTEP_STRANGERS" in d.reasons for d in out)
    assert any("LOCKSTEP_PEER_STOPPED" in d.reasons for d in out)
    # the same accounts, each with a list of its own: no lockstep, no stop
    own = {m: [f"own{i}_{k}" for k in range(60)] for i, m in enumerate(members)}
    assert not _stopped(_waves(_engine(), own, waves=4, per=15, seed=1))


def test_organisers_writing_to_the_same_guests_who_answer_are_not_stopped() -> None:
    """Three organisers of one event invite the same 60 guests at the same time; 70% answer.
    They are lockstep peers, but sharing a list with people who answer is no campaign."""
    eng = _engine()
    org = ["org0", "org1", "org2"]
    guests = [f"guest{i}" for i in range(60)]
    out = _waves(eng, {o: guests for o in org}, waves=2, per=30, seed=2, answer=0.7)
    from bulkguard.signals.lockstep import lockstep_peers
    assert lockstep_peers(eng.world.accounts["org1"], eng.world) >= 2
    assert not _stopped(out)


def test_a_stopped_lockstep_peer_gives_no_evidence_against_an_established_account() -> None:
    from bulkguard.signals.lockstep import lockstep_flagged
    eng = _engine()
    line = 0
    for i in range(3):   # "shop" has two-way chats with three people
        for s, r in (("shop", f"friend{i}"), (f"friend{i}", "shop")):
            line += 1
            eng.handle(Message(ts=T0 - 3600 + 10 * i, sender=s, recipient=r), line)
    w = eng.world
    for k, acct in enumerate(("shop", "copy")):   # "copy" reaches shop's customers with it
        for i in range(5):
            w.now = T0 + 60 * k + i
            w.message(acct, f"c{i}", None, 0, None, None)
    w.accounts["copy"].level = 2
    assert w.peers_of(w.ids["shop"]) == [w.ids["copy"]]
    assert lockstep_flagged(w.accounts["shop"], w) == 0.0


def _blast(eng: Engine, out: list[Decision], line: int, sender: str, t: float, n: int,
           digest: str) -> int:
    for k in range(n):
        line += 1
        out += eng.handle(Message(ts=t + 2 * k, sender=sender, recipient=f"{sender}-x{k}",
                                  digest=digest, typing_ms=0), line)
    return line


def test_a_first_message_of_content_others_were_stopped_for_is_stopped_at_once() -> None:
    eng = _engine()
    out: list[Decision] = []
    # an account blasts one text to 110 strangers and is stopped for it
    line = _blast(eng, out, 0, "spam0", T0, 110, "9f3a5c7e11d0b2a4")
    assert "spam0" in _stopped(out)
    # a farm sibling registered days ago, with nothing in common but the text (2 bits spun):
    # its very first message, to a stranger, is stopped
    line += 1
    out += eng.handle(Register(ts=T0 - 3 * 86_400, account="sib", ip="192.0.2.77"), line)
    line += 1
    first = line
    out += eng.handle(Message(ts=T0 + 400, sender="sib", recipient="victim", digest="9f3a5c7e11d0b2a7",
                              typing_ms=800), line)
    stops = [d for d in out if d.account == "sib" and d.action in STOPS]
    assert stops and stops[0].line == first and "SENDS_STOPPED_CONTENT" in stops[0].reasons
    # other content from a new account is no evidence
    line += 1
    out += eng.handle(Message(ts=T0 + 410, sender="other", recipient="victim2",
                              digest="0123456789abcdef", typing_ms=800), line)
    assert "other" not in _stopped(out)


def test_an_established_account_sending_content_others_were_stopped_for_is_not_stopped() -> None:
    eng = _engine()
    out: list[Decision] = []
    line = _blast(eng, out, 0, "spam0", T0, 110, "9f3a5c7e11d0b2a4")
    assert "spam0" in _stopped(out)
    for i in range(4):   # two-way chats with four people: a person, whose text can be copied
        line += 1
        out += eng.handle(Message(ts=T0 + 300 + i, sender="me", recipient=f"friend{i}"), line)
        line += 1
        out += eng.handle(Message(ts=T0 + 320 + i, sender=f"friend{i}", recipient="me"), line)
    for i in range(3):   # passes the (viral) text on to people who never wrote to it
        line += 1
        out += eng.handle(Message(ts=T0 + 400 + i, sender="me", recipient=f"new{i}",
                                  digest="9f3a5c7e11d0b2a4", typing_ms=0), line)
    assert "me" not in _stopped(out)


def test_common_content_a_spammer_was_stopped_for_does_not_stop_a_new_user() -> None:
    """A scammer opens with "hi" to 110 strangers and is stopped. People with conversations
    of their own say "hi" to new people too: a new user whose first message is "hi", to
    someone who never wrote to it, is not stopped for it. Without those people, it is."""
    for people in (True, False):
        eng = _engine()
        out: list[Decision] = []
        hi = "00000000000000ff"
        line = _blast(eng, out, 0, "scam0", T0, 110, hi)
        assert "scam0" in _stopped(out)
        if people:
            for i in range(4):   # two-way chats, then "hi" to three new acquaintances
                line += 1
                out += eng.handle(Message(ts=T0 + 300 + i, sender="pal", recipient=f"friend{i}"), line)
                line += 1
                out += eng.handle(Message(ts=T0 + 320 + i, sender=f"friend{i}", recipient="pal"), line)
            for i in range(3):
                line += 1
                out += eng.handle(Message(ts=T0 + 340 + i, sender="pal", recipient=f"met{i}",
                                          digest=hi, typing_ms=600), line)
        line += 1
        out += eng.handle(Register(ts=T0 + 390, account="newbie"), line)
        line += 1
        out += eng.handle(Message(ts=T0 + 400, sender="newbie", recipient="classmate",
                                  digest=hi, typing_ms=900), line)
        assert ("newbie" in _stopped(out)) is (not people), people


def test_a_new_account_pasting_one_text_to_strangers_is_stopped_within_the_burst() -> None:
    for registered in (True, False):
        eng = _engine()
        out: list[Decision] = []
        line = 1
        if registered:
            out += eng.handle(Register(ts=T0, account="new", ip="192.0.2.8"), line)
        for k in range(40):   # an hour later: one text to 40 strangers, 15 s apart
            line += 1
            out += eng.handle(Message(ts=T0 + 3600 + 15 * k, sender="new", recipient=f"s{k}",
                                      digest="5a5a0f0f33cc9966", typing_ms=2000 if k == 0 else 0), line)
        stops = [d for d in out if d.action in STOPS]
        if registered:   # its whole history is known: nobody it knows, one text to strangers
            assert stops and "NEW_ACCOUNT_CAMPAIGN" in stops[0].reasons, out
        else:            # an account from before the stream (an announcer): judged once people could answer
            assert not stops, stops
