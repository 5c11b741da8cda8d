"""Framing: throwaways registered on a victim's IP, number block (and device) get themselves
stopped so that the sibling and cluster rules stop the victim. An established account
(two-way chats with 3+ people, registered more than a day before) must survive 50."""

from __future__ import annotations

import random

import pytest

from bulkguard.engine import Engine
from bulkguard.events import Decision, Message, Register
from bulkguard.sim import attacks
from bulkguard.state.world import World


@pytest.mark.parametrize("kind", ["personal", "business"])
@pytest.mark.parametrize("device", [False, True])
def test_fifty_throwaways_do_not_stop_an_established_victim(tmp_path, kind, device):
    events, who = attacks.framing(seed=3, n=50, device=device, kind=kind)
    decs = attacks.replay_lines(attacks.lines_of(events), tmp_path / "events.jsonl")
    out = attacks.stopped(decs)
    assert who["victim"] not in out
    assert not [d for d in decs if d["account"] == who["victim"] and d["action"] != "reject"]
    # the attack itself is real: the throwaways are stopped (that is what raised the victim)
    assert sum(a in out for a in who["attackers"]) >= 45


def _farm(eng: Engine, t: float, n: int, prefix: str) -> list[Decision]:
    out: list[Decision] = []
    for i in range(n):
        out += eng.handle(Register(ts=t + i, account=f"{prefix}{i}", ip="192.0.2.50",
                               phone=f"+4915190000{i:03d}", device="farm-dev"), 1)
    return out


def test_siblings_registered_together_are_still_raised():
    """The defence is about time and history, not a switched-off rule: a silent account
    registered with a farm is raised when its siblings are stopped."""
    eng = Engine()
    t = attacks.T0
    out = _farm(eng, t, 6, "f")
    rng = random.Random(1)
    for i in range(1, 6):   # five of the six blast strangers and are stopped
        for k in range(25):
            out += eng.handle(Message(ts=t + 60 + i * 40 + k, sender=f"f{i}", recipient=f"x{i}-{k}",
                                  digest=f"{rng.getrandbits(64):016x}", typing_ms=0), 2)
    stops = {d.account for d in out if d.action in ("challenge", "suspend", "ban")}
    assert {"f1", "f2", "f3", "f4", "f5"} <= stops
    assert "f0" in stops   # never sent anything: stopped as a sibling
    f0 = [d for d in out if d.account == "f0" and d.action in ("challenge", "suspend", "ban")]
    assert "FARM_SIBLINGS_STOPPED" in f0[0].reasons or "FARM_SIBLING_STOPPED" in f0[0].reasons


def test_an_account_registered_days_before_gets_no_sibling_evidence():
    w = World()
    t = w.now = attacks.T0
    w.on_register(Register(ts=t, account="old", ip="192.0.2.50", phone="+4915190000999",
                           device="farm-dev"))
    w.now = t + 3 * 86_400
    for i in range(6):
        w.on_register(Register(ts=w.now, account=f"f{i}", ip="192.0.2.50",
                               phone=f"+4915190000{i:03d}", device="farm-dev"))
    for i in range(1, 6):
        for c in w.clusters_of(w.accounts[f"f{i}"]):
            c.stop(w.accounts[f"f{i}"].reg_ts)
    old, young = w.accounts["old"], w.accounts["f0"]
    assert max(w.stopped_near(c, old) for c in w.clusters_of(old)) == 0
    assert max(w.stopped_near(c, young) for c in w.clusters_of(young)) == 5
    # nor registration-cluster evidence from registrations long after its own
    from bulkguard.signals.registration import reg_device_1d, reg_ip_1d
    assert reg_ip_1d(old, w) == 0.0 and reg_device_1d(old, w) == 0.0
    assert reg_ip_1d(young, w) == 6.0


def test_established_accounts_are_exempt_but_a_farm_talking_to_itself_is_not():
    eng = Engine()
    t = attacks.T0
    _farm(eng, t, 4, "f")
    w = eng.world
    # f0 chats both ways with three people from outside the cluster; f1 with three siblings
    for k, p in enumerate(["p0", "p1", "p2"]):
        eng.handle(Message(ts=t + 100 + k, sender=p, recipient="f0"), 2)
        eng.handle(Message(ts=t + 110 + k, sender="f0", recipient=p), 2)
    for k, p in enumerate(["f2", "f3", "f0"]):
        eng.handle(Message(ts=t + 200 + k, sender=p, recipient="f1"), 2)
        eng.handle(Message(ts=t + 210 + k, sender="f1", recipient=p), 2)
    assert w.established(w.accounts["f0"]) and not w.established(w.accounts["f1"])
