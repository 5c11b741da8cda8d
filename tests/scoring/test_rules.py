"""Rules file validation (every bad file names its key) and rules actually driving decisions."""

from __future__ import annotations

import json
import math

import pytest

from bulkguard.cli import main
from bulkguard.ingest.replay import replay
from bulkguard.scoring.rules import NAMES, Rules, RulesError, to_score

ACTIONS = """
[actions]
throttle = 0.4
challenge = 0.6
suspend = 0.8
ban = 0.95
"""
RULE = """
[[rule]]
code = "BURST"
when = ["noncontact_1m >= 8"]
weight = 2.0
"""


def test_shipped_rules_load():
    r = Rules.default()
    assert len(r.rules) >= 10 and list(r.thresholds) == sorted(r.thresholds)
    codes = [x.code for x in r.rules]
    runs = [c for i, c in enumerate(codes) if i == 0 or codes[i - 1] != c]   # grades: one run
    assert len(set(runs)) == len(runs)
    assert r.digest and r.digest != Rules.from_toml(ACTIONS + RULE).digest


def test_minimal_rules_score():
    r = Rules.from_toml(ACTIONS + RULE)
    v = [0.0] * len(NAMES)
    assert r.score(v) == (0.0, [])
    v[NAMES.index("noncontact_1m")] = 8.0
    score, reasons = r.score(v)
    assert score == pytest.approx(to_score(2.0)) and reasons == ["BURST"]
    assert r.level(score) == 3 and r.level(0.39) == 0 and r.level(0.95) == 4


def test_conditions_all_must_hold_and_negative_weights_are_not_reasons():
    r = Rules.from_toml(ACTIONS + """
[[rule]]
code = "A"
when = ["msgs_1m > 3", "noncontact_share >= 0.5"]
weight = 1.0
[[rule]]
code = "LEGIT"
when = "reply_ratio >= 0.5"
weight = -0.5
""")
    v = [0.0] * len(NAMES)
    v[NAMES.index("msgs_1m")] = 4
    assert r.score(v) == (0.0, [])
    v[NAMES.index("noncontact_share")] = 0.5
    assert r.score(v)[1] == ["A"]
    v[NAMES.index("reply_ratio")] = 1.0
    score, reasons = r.score(v)
    assert score == pytest.approx(to_score(0.5)) and reasons == ["A"]


BAD = [
    ("unknown-top-key", ACTIONS + RULE + "\n[acions]\n", ["'acions'", "did you mean 'actions'"]),
    ("unknown-top-key-no-match", "zzz = 1\n" + ACTIONS, ["unknown top-level key 'zzz'"]),
    ("unknown-rule-key", ACTIONS + RULE.replace("weight", "wieght"),
     ["rule 1", "BURST", "'wieght'", "did you mean 'weight'"]),
    ("unknown-rule-key-when", ACTIONS + RULE.replace("when", "wehn"),
     ["'wehn'", "did you mean 'when'"]),
    ("unknown-signal", ACTIONS + RULE.replace("noncontact_1m", "noncontact_1min"),
     ["when[0]", "unknown signal 'noncontact_1min'", "did you mean 'noncontact_1m'"]),
    ("bad-condition-op", ACTIONS + RULE.replace(">=", "=>"),
     ["when[0]", "noncontact_1m => 8", "signal OP number"]),
    ("bad-condition-value", ACTIONS + RULE.replace("8", "eight"), ["when[0]", "eight"]),
    ("bad-condition-extra", ACTIONS + RULE.replace('"noncontact_1m >= 8"',
                                                  '"noncontact_1m >= 8 and msgs_1m > 1"'),
     ["when[0]", "signal OP number"]),
    ("condition-not-string", ACTIONS + RULE.replace('["noncontact_1m >= 8"]', "[8]"),
     ["when[0]"]),
    ("empty-when", ACTIONS + RULE.replace('["noncontact_1m >= 8"]', "[]"), ["`when`"]),
    ("code-lower", ACTIONS + RULE.replace('"BURST"', '"burst"'),
     ["`code`", "UPPER_SNAKE", "'burst'"]),
    ("code-camel", ACTIONS + RULE.replace('"BURST"', '"BurstToStrangers"'), ["UPPER_SNAKE"]),
    ("code-double-underscore", ACTIONS + RULE.replace('"BURST"', '"A__B"'), ["UPPER_SNAKE"]),
    ("code-missing", ACTIONS + RULE.replace('code = "BURST"', ""), ["`code`"]),
    ("duplicate-code", ACTIONS + RULE + RULE.replace('"BURST"', '"OTHER"') + RULE,
     ["rule 3", "duplicate code 'BURST'", "grades"]),
    ("weight-missing", ACTIONS + RULE.replace("weight = 2.0", ""), ["`weight`"]),
    ("weight-inf", ACTIONS + RULE.replace("2.0", "inf"), ["`weight`", "finite"]),
    ("weight-string", ACTIONS + RULE.replace("2.0", '"2"'), ["`weight`"]),
    ("thresholds-equal", ACTIONS.replace("0.6", "0.4") + RULE, ["thresholds must increase"]),
    ("thresholds-decrease", ACTIONS.replace("0.95", "0.7") + RULE,
     ["thresholds must increase", "ban=0.7"]),
    ("threshold-out-of-range", ACTIONS.replace("0.95", "1.5") + RULE, ["ban", "(0, 1]"]),
    ("threshold-nan", ACTIONS.replace("0.95", "nan") + RULE, ["ban"]),
    ("threshold-missing", ACTIONS.replace("suspend = 0.8", "") + RULE, ["suspend"]),
    ("unknown-action", ACTIONS + "challange = 0.5\n" + RULE,
     ["'challange'", "did you mean 'challenge'"]),
    ("missing-actions", RULE, ["missing [actions]"]),
    ("model-unknown-key", ACTIONS + "[model]\nflor = 0.5\n" + RULE,
     ["[model]", "'flor'", "did you mean 'floor'"]),
    ("model-weight-range", ACTIONS + "[model]\nweight = -1\n" + RULE, ["[model] weight"]),
    ("rule-not-array", ACTIONS + "[rule]\ncode = 'X'\n", ["`rule`", "[[rule]]"]),
    ("not-toml", ACTIONS + "[[rule]\n", ["not valid TOML"]),
]


@pytest.mark.parametrize("text,words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_rules_rejected_naming_the_key(text, words):
    with pytest.raises(RulesError) as ei:
        Rules.from_toml(text, source="my.toml")
    msg = str(ei.value)
    assert msg.startswith("my.toml: ")
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_load_names_the_file(tmp_path):
    with pytest.raises(RulesError, match="cannot read rules file"):
        Rules.load(tmp_path / "missing.toml")
    p = tmp_path / "r.toml"
    p.write_text(RULE)
    with pytest.raises(RulesError, match=r"r\.toml: missing \[actions\]"):
        Rules.load(p)


def test_cli_bad_rules_exits_2(tmp_path, sample_events, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(ACTIONS + RULE.replace("noncontact_1m", "noncontact_1min"))
    rc = main(["replay", str(sample_events), "--out", str(tmp_path / "d.jsonl"),
               "--rules", str(bad), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "bad.toml" in err and "unknown signal 'noncontact_1min'" in err
    assert "did you mean 'noncontact_1m'" in err


NO_MODEL = "[model]\nweight = 0\n"   # rules only: the model adds no evidence


def _decisions(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_custom_rules_change_decisions(tmp_path, sample_events, check_decisions):
    replay(str(sample_events), str(tmp_path / "default.jsonl"))
    default = _decisions(tmp_path / "default.jsonl")
    check_decisions(sample_events, tmp_path / "default.jsonl")
    assert {d["account"] for d in default if d["action"] == "ban"} == {"blaster"}
    # 1. lenient: thresholds out of reach -> the blaster is never acted on
    lenient = tmp_path / "lenient.toml"
    lenient.write_text(ACTIONS.replace("0.4", "0.996").replace("0.6", "0.997")
                       .replace("0.8", "0.998").replace("0.95", "0.999") + NO_MODEL + RULE)
    replay(str(sample_events), str(tmp_path / "lenient.jsonl"), rules_path=str(lenient))
    got = _decisions(tmp_path / "lenient.jsonl")
    assert [d["action"] for d in got] == ["reject"]   # policy rejects do not depend on rules
    check_decisions(sample_events, tmp_path / "lenient.jsonl")
    # 2. a custom rule with its own code: anyone messaging at all gets throttled
    chatty = tmp_path / "chatty.toml"
    chatty.write_text(ACTIONS + NO_MODEL + """
[[rule]]
code = "SENT_ANYTHING"
when = ["msgs_total >= 1"]
weight = 0.6
""")
    replay(str(sample_events), str(tmp_path / "chatty.jsonl"), rules_path=str(chatty))
    got = _decisions(tmp_path / "chatty.jsonl")
    check_decisions(sample_events, tmp_path / "chatty.jsonl")
    throttled = {d["account"] for d in got if d["action"] == "throttle"}
    assert {"blaster", "carol"} <= throttled
    assert all("SENT_ANYTHING" in d["reasons"] for d in got if d["action"] == "throttle")
    assert all(d["score"] == pytest.approx(to_score(0.6), abs=1e-4)
               for d in got if d["action"] == "throttle")
    assert not [d for d in got if d["action"] in ("challenge", "suspend", "ban")]


def test_grades_of_one_code_add_up_and_are_listed_once():
    """FARM_SIBLINGS_STOPPED became the second grade of FARM_SIBLING_STOPPED (issue 10)."""
    from bulkguard.signals import NAMES
    rules = Rules.default()
    farm = [r for r in rules.rules if r.code == "FARM_SIBLING_STOPPED"]
    assert len(farm) == 2 and not [r for r in rules.rules if r.code == "FARM_SIBLINGS_STOPPED"]
    v = [0.0] * len(NAMES)
    v[NAMES.index("cluster_flagged")], v[NAMES.index("cluster_size_1d")] = 3.0, 5.0
    e, reasons = rules.score(v)
    assert reasons.count("FARM_SIBLING_STOPPED") == 1
    assert rules.weight_of(v) == pytest.approx(sum(r.weight for r in farm))


def test_model_gate_alternatives_any_group_holds():
    """``[model] add_when`` / ``clear_when``: a flat list is one group (all must hold); a list of
    lists is alternatives (one group must hold); a mixture is refused."""
    one = Rules.from_toml(ACTIONS + '[model]\nadd_when = ["msgs_1m >= 2", "msgs_1h < 5"]\n' + RULE)
    alt = Rules.from_toml(ACTIONS + '[model]\nadd_when = [["msgs_1m >= 2", "msgs_1h < 5"],'
                          ' ["reply_ratio < 0.2"]]\n' + RULE)
    assert len(one.model_add_when) == 1 and len(alt.model_add_when) == 2
    v = [0.0] * len(NAMES)
    v[NAMES.index("msgs_1m")], v[NAMES.index("msgs_1h")] = 3.0, 9.0
    v[NAMES.index("reply_ratio")] = 0.9
    assert not one.may_add(v) and not alt.may_add(v)
    v[NAMES.index("reply_ratio")] = 0.1
    assert not one.may_add(v) and alt.may_add(v)
    v[NAMES.index("msgs_1h")] = 4.0
    assert one.may_add(v) and alt.may_add(v)
    v[NAMES.index("reply_ratio")] = math.nan   # unknown is no evidence: its group does not hold
    v[NAMES.index("msgs_1h")] = 9.0
    assert not alt.may_add(v)
    for bad, words in (('[["msgs_1m >= 2"], "msgs_1h < 5"]', ["add_when", "mixture"]),
                       ('[["msgs_1m >= 2"], []]', ["add_when[1]", "empty group"]),
                       ('[["msgs_1m >= 2"], ["msgs_1hh < 5"]]', ["add_when[1][0]", "msgs_1hh"])):
        with pytest.raises(RulesError) as ei:
            Rules.from_toml(ACTIONS + f"[model]\nadd_when = {bad}\n" + RULE, source="g.toml")
        assert all(w in str(ei.value) for w in words), str(ei.value)


def test_shipped_rules_module_is_current() -> None:
    """``shipped_rules.py`` is generated from ``rules.toml`` (``shipped_rules_module``); the
    shipped rules use it, and any other file compiles the same code at load: both give the
    same sums and the same fired rules, NaN (unknown) included."""
    import random
    from importlib import resources

    from bulkguard.scoring import shipped_rules
    from bulkguard.scoring.rules import _compile, shipped_rules_module
    pkg = resources.files("bulkguard.scoring")
    text = pkg.joinpath("rules.toml").read_text("utf-8")
    assert pkg.joinpath("shipped_rules.py").read_text("utf-8") == shipped_rules_module(text), \
        "shipped_rules.py is stale: regenerate it with shipped_rules_module(rules.toml)"
    shipped = Rules.default()
    assert shipped._sum is shipped_rules.total and shipped._fire is shipped_rules.fired
    # the same file with one more comment: the same rules, compiled at load
    loaded = Rules.from_toml(text + "\n# another digest\n")
    assert loaded._sum is not shipped_rules.total
    fire, total = _compile(shipped.rules), _compile(shipped.rules, total=True)
    limits = sorted({c[2] for r in shipped.rules for c in r.conditions})
    rng = random.Random(3)
    for _ in range(3000):
        # values at, just around and far from the rules' own thresholds, and unknown
        v = [rng.choice([math.nan, 0.0, 1e9, *(x + rng.choice((-1e-9, 0.0, 1e-9))
                                                for x in rng.sample(limits, 3))])
             for _ in NAMES]
        assert shipped.weight_of(v) == loaded.weight_of(v) == total(v)
        assert shipped.fired(v) == loaded.fired(v) == fire(v)
        assert shipped.may_add(v) == loaded.may_add(v)
        assert shipped.may_clear(v) == loaded.may_clear(v)
