"""The issue-9 populations (``bulkguard.sim.lookalikes``) behave as docs/simulator.md says."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.sim import simulate

MIX = ("announcer=6,no_sync_user=40,dialer=10,support_agent=2,teacher=3,stealth_farm=14,"
       "slow_blaster=4,one_shot=4,aged_spammer=4")


class Scn:
    def __init__(self, d: Path) -> None:
        self.events = [json.loads(ln) for ln in (d / "events.jsonl").read_text().splitlines()]
        self.arch = {x["account"]: x["archetype"]
                     for x in map(json.loads, (d / "labels.jsonl").read_text().splitlines())}
        self.msgs = [e for e in self.events if e["type"] == "message" and "recipient" in e]
        self.pairs = {(m["sender"], m["recipient"]) for m in self.msgs}
        self.contacts = {frozenset((e["account"], e["contact"])) for e in self.events
                         if e["type"] == "contact_add"}
        self.regs = {e["account"]: e for e in self.events if e["type"] == "register"}
        self._sent: dict[str, list[dict]] = defaultdict(list)
        for m in self.msgs:
            self._sent[m["sender"]].append(m)
        self.contact_actors = {a for e in self.events if e["type"] in ("contact_sync", "contact_add")
                               for a in (e.get("account"), e.get("contact"))}

    def of(self, archetype: str) -> list[str]:
        return [a for a, x in self.arch.items() if x == archetype]

    def sent(self, a: str) -> list[dict]:
        return self._sent.get(a, [])

    def answered(self, a: str, recipients) -> float:
        rs = set(recipients)
        return sum((r, a) in self.pairs for r in rs) / len(rs)


@pytest.fixture(scope="module")
def scn(tmp_path_factory) -> Scn:
    d = tmp_path_factory.mktemp("look")
    simulate(d, seed=21 + 100, accounts=1500, days=3.0, mix=MIX)
    return Scn(d)


def _hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_announcer(scn):
    for a in scn.of("announcer"):
        by_digest = defaultdict(set)
        for m in scn.sent(a):
            by_digest[m.get("digest")].add(m["recipient"])
        big = [r for r in by_digest.values() if len(r) >= 40]
        assert big and all(len(r) <= 80 for r in big)
        for rec in big:
            strangers = [r for r in rec if frozenset((a, r)) not in scn.contacts]
            assert len(strangers) >= 0.3 * len(rec)  # friends of friends, never added
            assert scn.answered(a, rec) >= 0.6       # most answer


def test_no_sync_user(scn):
    users = scn.of("no_sync_user")
    assert len(users) == 40
    one = 0
    for a in users:
        assert a in scn.regs
        assert a not in scn.contact_actors
        sent = scn.sent(a)
        assert all(m["ts"] > scn.regs[a]["ts"] for m in sent)
        if len(sent) == 1:
            one += 1
    assert 0.2 <= one / len(users) <= 0.65  # about 40% send one message to one person


def test_dialer(scn):
    for a in scn.of("dialer"):
        rec = {m["recipient"] for m in scn.sent(a)}
        typed_to = [r for r in rec if frozenset((a, r)) not in scn.contacts]
        assert len(typed_to) >= 2
        firsts = {}
        for m in scn.sent(a):
            firsts.setdefault(m["recipient"], m)
        assert all(firsts[r].get("typing_ms", 1) > 0 for r in typed_to)
    allrec = [(a, m["recipient"]) for a in scn.of("dialer") for m in scn.sent(a)]
    assert sum((r, a) in scn.pairs for a, r in set(allrec)) / len(set(allrec)) >= 0.6


def test_support_agent_and_teacher(scn):
    for a in scn.of("support_agent"):
        customers = {m["recipient"] for m in scn.sent(a)
                     if frozenset((a, m["recipient"])) not in scn.contacts}
        assert len(customers) >= 40  # 20-60 a working day, none of them a contact
        assert scn.answered(a, customers) >= 0.75
    for a in scn.of("teacher"):
        by_digest = defaultdict(set)
        for m in scn.sent(a):
            by_digest[m.get("digest")].add(m["recipient"])
        notices = [r for r in by_digest.values() if len(r) >= 20]
        assert notices and all(len(r) <= 35 for r in notices)
        assert sum(scn.answered(a, r) for r in notices) / len(notices) >= 0.55


def _farms(scn: Scn) -> list[set[str]]:
    """Stealth-farm accounts grouped by near-duplicate digests (Hamming <= 6)."""
    accs = scn.of("stealth_farm")
    dig = {a: scn.sent(a)[0]["digest"] for a in accs if scn.sent(a)}
    farms: list[set[str]] = []
    for a, d in dig.items():
        for f in farms:
            if _hamming(dig[next(iter(f))], d) <= 6:
                f.add(a)
                break
        else:
            farms.append({a})
    return farms


def test_stealth_farm(scn):
    farms = _farms(scn)
    assert sum(len(f) for f in farms) == 14 and all(len(f) >= 2 for f in farms)
    for f in farms:
        regs = [scn.regs[a] for a in f]
        for key in ("ip", "device", "phone"):
            assert len({r[key] for r in regs}) == len(regs)  # no shared infrastructure
        ts = sorted(r["ts"] for r in regs)
        assert ts[-1] - ts[0] > 3 * 3600  # registered hours to days apart
        targets = [{m["recipient"] for m in scn.sent(a)} for a in f]
        overlap = sum(len(x & y) for i, x in enumerate(targets) for y in targets[i + 1:])
        assert overlap > 0
        # lockstep: every member sends in the same waves (start times within 3 minutes)
        starts = [sorted({round(m["ts"]) for m in scn.sent(a)}) for a in f]
        first = [s[0] for s in starts]
        assert max(first) - min(first) < 180 + 40 * 25
        for a in f:
            for m in scn.sent(a):
                assert _hamming(m["digest"], scn.sent(next(iter(f)))[0]["digest"]) <= 6


def test_imitators_get_no_answers(scn):
    for arch in ("slow_blaster", "one_shot"):
        for a in scn.of(arch):
            sent = scn.sent(a)
            rec = {m["recipient"] for m in sent}
            assert not any((r, a) in scn.pairs for r in rec)
            by_digest = defaultdict(set)
            for m in sent:
                by_digest[m.get("digest")].add(m["recipient"])
            assert all(40 <= len(r) <= (80 if arch == "slow_blaster" else 150) for r in by_digest.values())
            if arch == "one_shot":
                assert len(by_digest) == 1 and sent[-1]["ts"] - sent[0]["ts"] < 150 * 30


def test_aged_spammer(scn):
    answered = 0
    for a in scn.of("aged_spammer"):
        assert a not in scn.regs
        sent = scn.sent(a)
        assert all(m["typing_ms"] > 0 for m in sent)
        rec = {m["recipient"] for m in sent}
        answered += sum((r, a) in scn.pairs for r in rec)
    assert answered > 0  # a few people answer "who is this?"


def test_cold_start_hides_imitators_registrations(tmp_path):
    s = simulate(tmp_path, seed=121, accounts=300, days=2.0, mix=MIX, cold_start=True)
    c = Scn(tmp_path)
    assert not any(a in c.regs for a in c.of("stealth_farm") + c.of("slow_blaster") + c.of("one_shot"))
    assert all(a in c.regs for a in c.of("no_sync_user"))
    assert s["pre_existing_abusers"] > 0


@given(st.integers(21, 10**6), st.booleans())
@settings(max_examples=10, deadline=None)
def test_invariants_any_seed(tmp_path_factory, seed, cold):
    d = tmp_path_factory.mktemp("inv")
    simulate(d, seed=seed, accounts=120, days=1.0, cold_start=cold,
             mix="no_sync_user=6,slow_blaster=2,one_shot=2,stealth_farm=5")
    c = Scn(d)
    for a in c.of("no_sync_user"):  # registered, never a contact event
        assert a in c.regs and a not in c.contact_actors
    for arch in ("slow_blaster", "one_shot"):  # nobody answers an imitator
        for a in c.of(arch):
            assert not any((m["recipient"], a) in c.pairs for m in c.sent(a))
            assert (a in c.regs) <= (not cold)
    regs = [c.regs[a] for a in c.of("stealth_farm") if a in c.regs]
    assert len({r["device"] for r in regs}) == len(regs)
    assert not (cold and regs)
