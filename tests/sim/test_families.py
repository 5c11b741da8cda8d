"""``simulate --without FAMILY`` and ``--cold-start``: they remove exactly what they say and
nothing else (checked against an independent filter written here on decoded JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.cli import main
from bulkguard.events import decode_line
from bulkguard.sim import simulate
from bulkguard.sim.families import FAMILIES, parse_families

ABLATE = Path("/work/shared/tools/ablate.py")
META = ("ip", "device", "phone", "country", "client")
SEED, ACCOUNTS, DAYS = 5, 400, 1.5


def _events(d: Path) -> list[dict]:
    return [json.loads(ln) for ln in (d / "events.jsonl").read_text().splitlines()]


def _labels(d: Path) -> dict[str, dict]:
    return {x["account"]: x for x in map(json.loads, (d / "labels.jsonl").read_text().splitlines())}


def reference(events: list[dict], families: tuple[str, ...], gone: set[str]) -> list[dict]:
    """What a platform without ``families`` sends, from the full stream; ``gone`` are
    accounts left out of the scenario (their register events go too)."""
    out = []
    for ev in events:
        ev = dict(ev)
        t = ev["type"]
        biz = t == "register" and ev.get("kind") == "business"
        if "contacts" in families and t in ("contact_sync", "contact_add"):
            continue
        if "register" in families and t == "register" and not biz:
            continue
        if "reports" in families and t == "report":
            continue
        if "blocks" in families and t == "block":
            continue
        if "groups" in families and (t in ("group_create", "group_join")
                                     or (t == "message" and "group" in ev)):
            continue
        if "business" in families and (t in ("optin", "optout", "template_register") or biz):
            continue
        if t == "register" and ev["account"] in gone:
            continue
        if "regmeta" in families and t == "register":
            for k in META:
                ev.pop(k, None)
        if t == "message":
            for fam, fld in (("typing", "typing_ms"), ("digests", "digest"), ("business", "template")):
                if fam in families:
                    ev.pop(fld, None)
        out.append(ev)
    return out


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    d = tmp_path_factory.mktemp("full")
    simulate(d, seed=SEED, accounts=ACCOUNTS, days=DAYS)
    return _events(d), _labels(d)


def _variant(tmp: Path, families, cold_start: bool = False):
    s = simulate(tmp, seed=SEED, accounts=ACCOUNTS, days=DAYS, without=families,
                 cold_start=cold_start)
    return s, _events(tmp), _labels(tmp)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_removes_exactly_itself(full, tmp_path, family):
    events, labels = full
    s, ev, lab = _variant(tmp_path, family)
    gone = set(labels) - set(lab)
    assert all(labels[a]["label"] == "abusive" for a in gone)  # only inert abusers leave
    assert s["inert_abusers"] == len(gone)
    assert ev == reference(events, (family,), gone)
    assert all(decode_line(ln) for ln in (tmp_path / "events.jsonl").read_bytes().splitlines())
    # every remaining abuser still does something besides registering
    actors = {e.get("sender") or e.get("account") or e.get("reporter") or e.get("blocker")
              or e.get("business") or e.get("added_by") for e in ev if e["type"] != "register"}
    assert all(a in actors for a, x in lab.items() if x["label"] == "abusive")


def test_without_contacts_has_no_contact_event_at_all(full, tmp_path):
    _, ev, _ = _variant(tmp_path, "contacts")
    assert full[0] and any(e["type"] == "contact_sync" for e in full[0])
    assert not any(e["type"] in ("contact_sync", "contact_add") for e in ev)


def test_inert_abusers_leave(tmp_path):
    s, ev, lab = _variant(tmp_path, "reports")
    assert not any(e["type"] == "report" for e in ev)
    assert "report_brigade" not in {x["archetype"] for x in lab.values()}
    assert s["inert_abusers"] >= 5 and s["reported_abusers"] == 0


@given(st.sets(st.sampled_from(sorted(FAMILIES)), max_size=4))
@settings(max_examples=8, deadline=None)
def test_any_combination(full, tmp_path_factory, fams):
    d = tmp_path_factory.mktemp("combo")
    fams_t = tuple(sorted(fams))
    _, ev, lab = _variant(d, fams_t)
    events, labels = full
    assert ev == reference(events, fams_t, set(labels) - set(lab))


def test_cold_start(full, tmp_path):
    events, labels = full
    s, ev, lab = _variant(tmp_path, (), cold_start=True)
    assert lab == labels  # same population
    regs = {e["account"] for e in ev if e["type"] == "register"}
    full_regs = {e["account"] for e in events if e["type"] == "register"}
    hidden = full_regs - regs
    assert hidden and s["pre_existing_abusers"] == len(hidden)
    # no register for accounts that existed before the window: every personal abuser but
    # takeovers (their re-registration on the attacker's device happens in the window)
    for a in hidden:
        assert labels[a]["label"] == "abusive" and labels[a]["archetype"] != "takeover"
    for e in ev:
        if e["type"] == "register" and e.get("kind") != "business" and labels[e["account"]]["label"] == "abusive":
            assert labels[e["account"]]["archetype"] == "takeover"
    assert any(labels[a]["archetype"] == "new_user" for a in regs)  # new users still register
    # the address-book entries between people who were already there predate the window:
    # what is left out is those contact adds and the hidden registrations, nothing else
    kept = iter(ev)
    dropped = []
    nxt = next(kept, None)
    for e in events:
        if e == nxt:
            nxt = next(kept, None)
        else:
            dropped.append(e)
    assert nxt is None  # the cold start stream is the full stream minus `dropped`, in order
    # accounts created inside the window (a takeover's registration is a re-registration)
    fresh = {a for a in regs if labels[a]["archetype"] != "takeover"}
    for e in dropped:
        if e["type"] == "register":
            assert e["account"] in hidden
        else:
            assert e["type"] == "contact_add"
            assert e["account"] not in fresh and e["contact"] not in fresh
    adds = [e for e in events if e["type"] == "contact_add"]
    assert sum(e["type"] == "contact_add" for e in dropped) > 0.7 * len(adds)
    assert not any(e["type"] == "contact_add" and e["account"] not in fresh and e["contact"] not in fresh
                   for e in ev)
    new_users = {a for a in full_regs if labels[a]["archetype"] == "new_user"}
    assert [e for e in adds if {e["account"], e["contact"]} & new_users] == [
        e for e in ev if e["type"] == "contact_add" and {e["account"], e["contact"]} & new_users]


def test_deterministic_per_seed(tmp_path):
    a = simulate(tmp_path / "a", seed=9, accounts=150, days=0.5, without="contacts,typing", cold_start=True)
    b = simulate(tmp_path / "b", seed=9, accounts=150, days=0.5, without="typing,contacts", cold_start=True)
    assert a["events"] == b["events"]
    for f in ("events.jsonl", "labels.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


@pytest.mark.skipif(not ABLATE.exists(), reason="shared ablate tool not present")
@pytest.mark.parametrize("variant,family", [("nocontacts", "contacts"), ("nometa", "regmeta"),
                                            ("notyping", "typing"), ("noreg", "register")])
def test_same_as_shared_ablate_tool(tmp_path, variant, family):
    simulate(tmp_path / "full", seed=4, accounts=200, days=1.0)
    simulate(tmp_path / "sim", seed=4, accounts=200, days=1.0, without=family)
    out = tmp_path / f"{variant}.jsonl"
    subprocess.run([sys.executable, str(ABLATE), variant, str(tmp_path / "full/events.jsonl"), str(out)],
                   check=True, capture_output=True)
    ablated = [json.loads(ln) for ln in out.read_text().splitlines()]
    lab = _labels(tmp_path / "sim")
    # the simulator also drops accounts left with nothing but a registration
    ablated = [e for e in ablated if not (e["type"] == "register" and e["account"] not in lab)]
    assert ablated == _events(tmp_path / "sim")


def test_cli(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "x"), "--accounts", "100", "--days", "0.5",
                 "--without", "contacts,reports", "--cold-start"]) == 0
    out = capsys.readouterr().out
    assert "left out: contacts, reports; cold start" in out
    assert main(["simulate", "--out", str(tmp_path / "y"), "--without", "fax"]) == 2
    assert "unknown event family 'fax'" in capsys.readouterr().err


def test_parse_families():
    assert parse_families(["typing", "typing", " contacts "]) == ("typing", "contacts")
    assert parse_families(None) == ()


@given(st.integers(21, 10**6), st.integers(0, 5))
@settings(max_examples=50, deadline=None)
def test_random_variant_is_a_function_of_seed(seed, k):
    from bulkguard.sim import random_variant
    v = random_variant(seed, k)
    assert v == random_variant(seed, k)
    assert set(v["without"]) <= set(FAMILIES) and isinstance(v["cold_start"], bool)


def test_random_missing(tmp_path, capsys):
    from bulkguard.sim import random_variant
    v = random_variant(103)
    s = simulate(tmp_path / "r", seed=103, accounts=100, days=0.5, random_missing=0)
    assert tuple(s["without"]) == v["without"] and s["cold_start"] == v["cold_start"]
    for seed in (1, 11, 20):
        with pytest.raises(ValueError, match="held out"):
            simulate(tmp_path / "h", seed=seed, accounts=100, days=0.5, random_missing=0)
    assert main(["simulate", "--out", str(tmp_path / "c"), "--seed", "15", "--random-missing", "0"]) == 2
    assert "held out" in capsys.readouterr().err
