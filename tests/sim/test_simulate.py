"""Invariants of the scenario simulator (``bulkguard simulate``)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.cli import main
from bulkguard.events import Message, decode_line
from bulkguard.sim import ARCHETYPES, parse_mix, simulate
from bulkguard.sim.scenario import background_window, default_mix, load_edges

COLLEGE = Path("/work/shared/data/collegemsg/CollegeMsg.txt.gz")
ABUSERS = {"blaster", "slow_spinner", "farm", "group_spammer", "chain_bot", "enumerator",
           "takeover", "fake_engagement", "business_spammer", "report_brigade",
           # issue 9: abusers that imitate hard legitimate cases (bulkguard.sim.lookalikes)
           "stealth_farm", "slow_blaster", "one_shot", "aged_spammer"}
ORIGINAL_ABUSERS = ABUSERS - {"stealth_farm", "slow_blaster", "one_shot", "aged_spammer"}


def _read(d: Path):
    events = [decode_line(ln) for ln in (d / "events.jsonl").read_bytes().splitlines()]
    labels = [json.loads(ln) for ln in (d / "labels.jsonl").read_text().splitlines()]
    return events, labels


def _actors(ev) -> list[str]:
    """Accounts that *do* something in an event."""
    t = type(ev).__name__
    return {
        "Message": lambda: [ev.sender], "Register": lambda: [ev.account],
        "ContactAdd": lambda: [ev.account], "ContactSync": lambda: [ev.account],
        "GroupCreate": lambda: [ev.account], "Report": lambda: [ev.reporter],
        "Block": lambda: [ev.blocker], "OptIn": lambda: [ev.business],
        "OptOut": lambda: [ev.business], "TemplateRegister": lambda: [ev.business],
        "GroupJoin": lambda: [ev.added_by] if ev.added_by else [],
    }[t]()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    summary = simulate(d, seed=3, accounts=600, days=2.0)
    events, labels = _read(d)
    return d, summary, events, labels


def test_valid_sorted_and_summarised(small):
    d, summary, events, labels = small
    raw = (d / "events.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    assert len(events) == summary["events"] > 5000
    ts = [e.ts for e in events]
    assert all(a <= b for a, b in zip(ts, ts[1:]))
    assert all(round(t, 3) == t for t in ts[:2000])
    assert summary["start"] <= ts[0] and ts[-1] < summary["end"]
    by_type = Counter(type(e).__struct_config__.tag for e in events)
    assert dict(by_type) == summary["events_by_type"]
    assert set(by_type) == {"message", "register", "contact_add", "contact_sync", "group_create",
                            "group_join", "report", "block", "optin", "optout", "template_register"} - (
        {"optout"} if "optout" not in by_type else set())


def test_labels_cover_every_actor(small):
    _, summary, events, labels = small
    lab = {x["account"]: x for x in labels}
    assert len(lab) == len(labels)  # one line per account
    assert all(x["label"] in ("legit", "abusive") for x in labels)
    for ev in events:
        for a in _actors(ev):
            assert a in lab, (a, ev)
    arch = Counter(x["archetype"] for x in labels)
    assert arch == Counter(summary["accounts_by_archetype"])
    for name in ARCHETYPES:
        assert arch[name] >= 1, name
    assert {x["archetype"] for x in labels if x["label"] == "abusive"} == ABUSERS
    assert {"human", "new_user"} <= set(arch)


def test_behaviour_shapes(small):
    _, _, events, labels = small
    arch = {x["account"]: x["archetype"] for x in labels}
    msgs = [e for e in events if isinstance(e, Message)]
    # digests are 16 hex chars
    assert all(len(m.digest) == 16 and int(m.digest, 16) >= 0 for m in msgs if m.digest)
    # humans mostly type; automated blasters mostly do not
    h = [m.typing_ms for m in msgs if arch.get(m.sender) == "human" and m.kind == "text"
         and m.typing_ms is not None]
    assert sum(t > 0 for t in h) / len(h) > 0.9
    b = [m for m in msgs if arch.get(m.sender) == "blaster"]
    assert b and sum(m.typing_ms == 0 for m in b) / len(b) > 0.6
    # a blaster sends one digest to hundreds of distinct recipients
    per = defaultdict(set)
    for m in b:
        per[m.sender].add(m.recipient)
    assert max(len(v) for v in per.values()) >= 100
    # humans: most direct messages get an answer
    pairs = Counter((m.sender, m.recipient) for m in msgs
                    if m.recipient and arch.get(m.sender) == "human")
    answered = sum(1 for (s, r) in pairs if (r, s) in pairs)
    assert answered / len(pairs) > 0.6
    # heavy tail: a few humans talk to many more people than the median human
    deg = Counter(s for (s, _r) in pairs)
    vals = sorted(deg.values())
    assert vals[-1] >= 4 * vals[len(vals) // 2]
    # viral forwarding and chain letters
    assert any(m.forwarded >= 5 for m in msgs if arch.get(m.sender) == "chain_bot")
    assert any(0 < m.forwarded for m in msgs if arch.get(m.sender) == "human")
    # new users register with country matching their phone, then sync contacts
    regs = {e.account: e for e in events if type(e).__name__ == "Register"}
    nu = [a for a, x in arch.items() if x == "new_user"]
    assert nu and all(a in regs for a in nu)
    assert all(regs[a].phone.startswith("+") for a in nu)
    assert sum(1 for x in arch.values() if x == "human" and False) == 0
    humans_registered = sum(1 for a in regs if arch.get(a) == "human")
    assert humans_registered == 0


def test_business_respects_rules(small):
    _, _, events, labels = small
    arch = {x["account"]: x["archetype"] for x in labels}
    optin = defaultdict(set)
    last_in: dict[tuple[str, str], float] = {}
    registered = defaultdict(set)
    tpl_sends = defaultdict(list)
    for e in events:
        n = type(e).__name__
        if n == "OptIn":
            optin[e.business].add(e.customer)
        elif n == "OptOut":
            optin[e.business].discard(e.customer)
        elif n == "TemplateRegister":
            registered[e.business].add(e.template)
        elif n == "Message" and e.recipient:
            if arch.get(e.recipient) == "business":
                last_in[(e.recipient, e.sender)] = e.ts
            if arch.get(e.sender) == "business":
                inside = e.ts - last_in.get((e.sender, e.recipient), -1e18) < 86400
                if e.template is None:
                    assert inside, e
                else:
                    assert e.recipient in optin[e.sender] and e.template in registered[e.sender]
                    tpl_sends[e.sender].append((e.ts, e.recipient))
    for sends in tpl_sends.values():  # under 250 distinct customers in any 24 h
        for i, (t, _) in enumerate(sends):
            assert len({r for (u, r) in sends[i:] if u < t + 86400}) <= 250


def test_brigade_reports_victim(small):
    _, _, events, labels = small
    arch = {x["account"]: x["archetype"] for x in labels}
    reports = [e for e in events if type(e).__name__ == "Report" and arch.get(e.reporter) == "report_brigade"]
    assert reports and all(arch[e.reported] == "brigade_victim" for e in reports)
    talked = {(e.sender, e.recipient) for e in events if isinstance(e, Message) and e.recipient}
    assert not any((r.reporter, r.reported) in talked for r in reports)


def test_deterministic(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(a, seed=11, accounts=200, days=1.0)
    simulate(b, seed=11, accounts=200, days=1.0)
    simulate(c, seed=12, accounts=200, days=1.0)
    h = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert h(a / "events.jsonl") == h(b / "events.jsonl")
    assert h(a / "labels.jsonl") == h(b / "labels.jsonl")
    assert h(a / "events.jsonl") != h(c / "events.jsonl")


def test_mix_override(tmp_path):
    s = simulate(tmp_path, seed=2, accounts=150, days=1.0,
                 mix="blaster=4,farm=0,report_brigade=0,brigade_victim=0")
    arch = s["accounts_by_archetype"]
    assert arch["blaster"] == 4 and "farm" not in arch and "report_brigade" not in arch
    assert "brigade_victim" not in arch


def test_default_mix_scale():
    m = default_mix(5000)
    abusive = sum(v for k, v in m.items() if k in ORIGINAL_ABUSERS)
    assert 0.01 * 5000 <= abusive <= 0.02 * 5000
    assert 0.01 * 5000 <= sum(v for k, v in m.items() if k in ABUSERS) <= 0.03 * 5000
    assert all(v >= 5 for k, v in m.items() if k in ABUSERS)


@given(st.dictionaries(st.sampled_from(ARCHETYPES), st.integers(0, 500), max_size=6),
       st.integers(20, 100_000))
@settings(max_examples=60, deadline=None)
def test_parse_mix_roundtrip(overrides, accounts):
    spec = ",".join(f"{k}={v}" for k, v in overrides.items())
    m = parse_mix(spec, accounts)
    assert set(m) == set(ARCHETYPES)
    for k, v in m.items():
        assert v == overrides.get(k, default_mix(accounts)[k])


@pytest.mark.parametrize("bad", ["blaster", "blaster=x", "blaster=-1", "wizard=3"])
def test_parse_mix_rejects(bad):
    with pytest.raises(ValueError):
        parse_mix(bad, 100)


def test_background_synthetic(tmp_path):
    t0 = 1_600_000_000
    lines = ["# comment"] + [f"{i % 7 + 1} {(i * 3) % 7 + 1} {t0 + i * 600}" for i in range(500)]
    p = tmp_path / "edges.txt.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert load_edges(p).shape == (500, 3)
    s = simulate(tmp_path / "out", seed=1, accounts=100, days=2.0, background=p)
    assert s["start"] == t0
    # 2 days of a 600-s spaced list: edges at t0 .. t0+2d (exclusive), self-loops included
    assert s["background"]["messages"] == 288
    events, labels = _read(tmp_path / "out")
    bg = [e for e in events if isinstance(e, Message) and e.sender.startswith("bg:")]
    assert len(bg) == 288
    assert events[0].ts >= t0 and events[-1].ts < t0 + 2 * 86400
    lab = {x["account"]: x for x in labels}
    assert all(lab[e.sender]["archetype"] == "background" for e in bg)


@pytest.mark.skipif(not COLLEGE.exists(), reason="CollegeMsg data set not present")
def test_background_collegemsg_cli(tmp_path, capsys):
    rc = main(["simulate", "--out", str(tmp_path), "--accounts", "200", "--days", "4",
               "--background", str(COLLEGE), "--seed", "5"])
    assert rc == 0
    assert "background:" in capsys.readouterr().out
    events, labels = _read(tmp_path)
    edges = load_edges(COLLEGE)
    t0, _ = background_window(edges)
    assert 5 * 86400 < t0 - edges[0, 2] < 8 * 86400  # the quiet launch days are skipped
    expect = int(((edges[:, 2] >= t0) & (edges[:, 2] < t0 + 4 * 86400)).sum())
    bg = [e for e in events if isinstance(e, Message) and e.sender.startswith("bg:")]
    assert len(bg) == expect > 100
    assert events[0].ts >= t0


def test_cli_errors(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--accounts", "100", "--mix", "nope=1"]) == 2
    assert "unknown archetype" in capsys.readouterr().err
    assert main(["simulate", "--out", str(tmp_path), "--background", str(tmp_path / "missing")]) == 2


def test_abuser_signatures(small):
    _, _, events, labels = small
    arch = {x["account"]: x["archetype"] for x in labels}
    regs = {e.account: e for e in events if type(e).__name__ == "Register"}
    # farm: sequential phone numbers in one block, few IPs and devices
    farm = sorted((regs[a].phone for a in arch if arch[a] == "farm"))
    nums = [int(p[-6:]) for p in farm]
    assert len({p[:-4] for p in farm}) <= 2 * len(farm) // 5 + 2
    assert sum(1 for a, b in zip(nums, nums[1:]) if 0 < b - a <= 4) >= len(nums) // 2
    ips = {regs[a].ip for a in arch if arch[a] == "farm"}
    assert len(ips) <= len(farm) // 2
    # slow spinner: near-duplicate digests (pairwise Hamming distance <= 6), no exact repeat run
    msgs = [e for e in events if isinstance(e, Message)]
    spin = defaultdict(list)
    for m in msgs:
        if arch.get(m.sender) == "slow_spinner":
            spin[m.sender].append(int(m.digest, 16))
    for ds in spin.values():
        assert all(bin(ds[0] ^ d).count("1") <= 6 for d in ds)
        assert len(set(ds)) > len(ds) // 3
    # enumerator: huge syncs with a low match rate
    syncs = [e for e in events if type(e).__name__ == "ContactSync" and arch.get(e.account) == "enumerator"]
    assert syncs and all(e.numbers >= 1000 and e.matched / e.numbers < 0.05 for e in syncs)
    # reports come after the reported abuser's first message; some abusers are never reported
    first = {}
    for m in msgs:
        first.setdefault(m.sender, m.ts)
    abusive = [a for a, x in arch.items() if x in ABUSERS - {"report_brigade", "enumerator"}]
    reports = [e for e in events if type(e).__name__ == "Report" and e.reported in abusive]
    assert reports and all(e.ts > first[e.reported] for e in reports)
    share = len({e.reported for e in reports}) / len(abusive)
    assert 0.2 <= share <= 0.85
    assert any(e.messages for e in reports)


def test_nobody_acts_or_receives_before_registering(small):
    _, _, events, labels = small
    arch = {x["account"]: x["archetype"] for x in labels}
    reg = {}
    for e in events:
        if type(e).__name__ == "Register":
            reg.setdefault(e.account, e.ts)
    fields = ("sender", "recipient", "account", "contact", "member", "added_by", "reporter",
              "reported", "blocker", "blocked", "business", "customer")
    late = set()
    for e in events:
        for f in fields:
            a = getattr(e, f, None)
            if a in reg and e.ts < reg[a]:
                late.add(a)
    # only takeover accounts (re-registered on the attacker's device) have earlier history
    assert {arch[a] for a in late} <= {"takeover"}
