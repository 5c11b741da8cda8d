"""Detection that holds on any platform (issue 9): an optional event family that is absent
is unknown, never evidence; removing it from a stream never raises an account's score;
behaviour alone stops cold-start abuse; a lone new user writing once is left alone."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bulkguard.engine import Engine
from bulkguard.events import Message, Register, Report
from bulkguard.ingest.replay import replay
from bulkguard.scoring.model import Model
from bulkguard.scoring.rules import Rules
from bulkguard.signals import NAMES, OPTIONAL, REQUIRES, vector
from bulkguard.state.account import BAN

T0 = 1_700_000_000.0
STOPS = {"challenge", "suspend", "ban"}
SAMPLE = Path(__file__).resolve().parents[2] / "shared/spec/sample/events.jsonl"
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/spec/sample/events.jsonl")

# event types of each optional family (``typing`` is a field of messages, ``register`` keeps
# business registrations, as a platform with a business API but no personal sign-ups would)
FAMILY_TYPES = {
    "contacts": ("contact_sync", "contact_add"),
    "reports": ("report",),
    "blocks": ("block",),
    "groups": ("group_create", "group_join"),
    "business": ("optin", "optout", "template_register"),
}
META = ("ip", "device", "phone", "country", "client")


def without(lines: list[str], family: str) -> list[str]:
    """The stream with one optional family (or ``meta``: registration metadata) removed."""
    out = []
    for line in lines:
        ev = json.loads(line)
        t = ev.get("type")
        if family in FAMILY_TYPES and t in FAMILY_TYPES[family]:
            continue
        if family == "register" and t == "register" and ev.get("kind") != "business":
            continue
        if family == "meta" and t == "register":
            for k in META:
                ev.pop(k, None)
        if family == "typing" and t == "message":
            ev.pop("typing_ms", None)
        out.append(json.dumps(ev, separators=(",", ":")))
    return out


def rules_without(family: str) -> Rules:
    """The shipped rules on a platform that does not provide ``family``."""
    keep = [f for f in OPTIONAL if f != family]
    return Rules.from_toml(Rules.default_text().replace(
        'provides = ["register", "contacts", "typing", "reports", "blocks", "groups", "business"]',
        "provides = " + json.dumps(keep)))


def peaks(lines: list[str], tmp: Path, model: str | None,
          rules: Rules | None = None) -> dict[str, tuple[float, int]]:
    """Each account's highest score and ladder level over a replay of ``lines``."""
    from bulkguard.components import load_components
    ev = tmp / "events.jsonl"
    ev.write_text("\n".join(lines) + "\n")
    eng = Engine(rules or Rules.default(), **load_components(model))
    replay(str(ev), str(tmp / "d.jsonl"), engine=eng)
    names = eng.world.names
    return {names[a.id]: (a.peak, a.level) for a in eng.world.accounts.values()}


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A small simulated scenario (not a held-out seed) and the shared sample, one stream."""
    from bulkguard.sim import simulate
    d = tmp_path_factory.mktemp("sim")
    simulate(d, seed=31, accounts=400, days=1.0)
    return (d / "events.jsonl").read_text().splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("model", [None, "none"], ids=["rules+model", "rules"])
@pytest.mark.parametrize("family", [*OPTIONAL, "meta"])
def test_removing_a_family_never_raises_a_score(stream: list[str], family: str,
                                                model: str | None, tmp_path: Path) -> None:
    # the business lane judges what it sees: a stream without opt-ins breaks its rules, so a
    # platform without the business family must say so ([platform] provides)
    rules = rules_without(family) if family == "business" else None
    for name, lines in (("simulated", stream), ("sample", SAMPLE.read_text().splitlines())):
        full = peaks(lines, tmp_path, model)
        less = peaks(without(lines, family), tmp_path, model, rules)
        # an account's score stops being computed once it is banned (nothing is above a
        # ban): its peak is the score it was banned at, so only the level is compared then
        raised = {a: (full.get(a, (0.0, 0)), s) for a, s in less.items()
                  if s[1] > full.get(a, (0.0, 0))[1]
                  or (s[0] > full.get(a, (0.0, 0))[0] + 1e-9 and full.get(a, (0.0, 0))[1] < BAN)}
        assert not raised, f"{name} without {family}: raised {dict(list(raised.items())[:5])}"
        assert any(lv for _, lv in full.values())   # the stream does stop someone


def test_every_optional_signal_is_masked_when_its_family_is_not_provided() -> None:
    """A platform that provides nothing optional: every signal of an optional family is NaN,
    and no rule on one fires."""
    text = Rules.default_text().replace(
        'provides = ["register", "contacts", "typing", "reports", "blocks", "groups", "business"]',
        "provides = []")
    eng = Engine(Rules.from_toml(text))
    eng.handle(Register(ts=T0, account="x", ip="192.0.2.1", device="d", phone="+4915112340001"), 1)
    for i in range(5):
        eng.handle(Report(ts=T0 + i, reporter=f"r{i}", reported="x"), 2 + i)
    a = eng.world.accounts["x"]
    seen: list[list[float]] = []
    eng.observer = lambda _n, v, _e: seen.append(v)
    eng.rescore(a, 9, T0 + 10)
    v = seen[-1]
    for fam in OPTIONAL:
        for n in (n for n, fs in REQUIRES.items() if fs == (fam,)):
            assert math.isnan(v[NAMES.index(n)]), (fam, n)
    assert eng.rules.evidence(v)[1] == []


@pytest.mark.parametrize("family", OPTIONAL)
def test_rules_on_a_missing_family_never_fire(family: str) -> None:
    """Per family: with its signals unknown (NaN) and everything else as suspicious as it gets,
    no rule that reads one of them fires."""
    rules = Rules.default()
    fam_idx = {NAMES.index(n) for n, fs in REQUIRES.items() if family in fs and len(fs) == 1}
    for extreme in (1e9, -1e9, 0.0, 1.0):
        v = [extreme] * len(NAMES)
        for i in fam_idx:
            v[i] = math.nan
        for i in rules.fired(v):
            used = {NAMES.index(n) for n, _, _ in rules.rules[i].conditions}
            assert not used & fam_idx, (family, rules.rules[i].code)


def test_optional_rules_only_add_evidence() -> None:
    """Rules that read an optional family have non-negative weights, and the confident
    "legitimate" veto rests on core signals only: removing a family can only lower a score."""
    rules = Rules.default()
    for r in rules.rules:
        if any(n in REQUIRES for n, _, _ in r.conditions):
            assert r.weight >= 0.0, r.code
    assert all(n not in REQUIRES for g in rules.model_clear_when for n, _, _ in g)
    assert all(n not in REQUIRES for g in rules.model_add_when for n, _, _ in g)
    assert all(f not in REQUIRES for f in Model.load(None).features)


@pytest.mark.parametrize("model", [None, "none"], ids=["rules+model", "rules"])
def test_new_user_writing_once_is_not_stopped(model: str | None) -> None:
    """Registers, no contact sync, one message to one person an hour later: no action."""
    from bulkguard.components import load_components
    eng = Engine(Rules.default(), **load_components(model))
    out = list(eng.handle(Register(ts=T0, account="newbie", ip="203.0.113.7", device="dev-n",
                                   phone="+4915112349876", country="DE"), 1))
    out += eng.handle(Message(ts=T0 + 3600, sender="newbie", recipient="friend", typing_ms=2400,
                              digest="1f2e3d4c5b6a7988"), 2)
    out += eng.handle(Message(ts=T0 + 3 * 3600, sender="someone", recipient="else"), 3)
    eng.rescore(eng.world.accounts["newbie"], 3, T0 + 3 * 3600)
    assert out == []
    assert eng.world.accounts["newbie"].score < eng.rules.thresholds[0]


def _farm(eng: Engine, registered: bool) -> list:
    """Twelve accounts, days apart, each on its own IP, device and number, sending spun copies
    of one link to five strangers each: linked only by what they send. Returns the decisions."""
    line = 0
    out: list = []
    base = 0x9F3A5C7E11D0B2A4
    for k in range(12):
        t = T0 + k * 7200.0
        if registered:
            line += 1
            out += eng.handle(Register(ts=t, account=f"farm{k}", ip=f"203.0.{k}.9",
                                       device=f"dev{k}", phone=f"+49151{k:03d}77{k:03d}"), line)
        for j in range(5):
            line += 1
            h = base ^ (1 << ((k * 5 + j) % 64))   # one bit flipped: spun text
            out += eng.handle(Message(ts=t + 600 + 40 * j, sender=f"farm{k}",
                                      recipient=f"target{k}_{j}", kind="link", digest=f"{h:016x}"),
                              line)
    return out


@pytest.mark.parametrize("model", [None, "none"], ids=["rules+model", "rules"])
@pytest.mark.parametrize("registered", [False, True], ids=["cold-start", "registered"])
def test_farm_linked_only_by_content_is_stopped_as_a_group(model: str | None,
                                                            registered: bool) -> None:
    from bulkguard.components import load_components
    eng = Engine(Rules.default(), **load_components(model))
    stopped = {d.account for d in _farm(eng, registered) if d.action in STOPS}
    assert stopped >= {f"farm{k}" for k in range(12)}, sorted(stopped)


def test_cold_start_account_has_no_age() -> None:
    eng = Engine()
    eng.handle(Message(ts=T0, sender="old", recipient="pal"), 1)
    v = vector(eng.world.accounts["old"], eng.world)
    assert math.isnan(v[NAMES.index("account_age_h")])
    assert v[NAMES.index("registered")] == 0.0


def test_replay_reports_families_seen(tmp_path: Path) -> None:
    ev = tmp_path / "e.jsonl"
    ev.write_text('{"type":"register","ts":1,"account":"a"}\n'
                  '{"type":"message","ts":2,"sender":"a","recipient":"b","typing_ms":300}\n')
    r = replay(str(ev), str(tmp_path / "d.jsonl"))
    assert r.families == {"register": 1, "typing": 1}
    from bulkguard.ingest.replay import summary
    assert "families seen: register 1, typing 1; provided, not seen: contacts, reports, " \
           "blocks, groups, business" in summary(r)
