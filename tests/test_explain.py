"""``bulkguard explain``: the account's decisions with rules, model and signals in words."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from bulkguard.cli import main
from bulkguard.components import build_engine
from bulkguard.engine import MAX_REASONS
from bulkguard.events import AppealGranted, ContactSync, Message, Register, encode_event
from bulkguard.explain import (
    AccountExplanation, explain_account, explain_replay, glossary, reasons_markdown,
)
from bulkguard.scoring.rules import Rules
from bulkguard.signals import NAMES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reasons.md"
T0 = 1_700_000_000.0


def _stream(tmp_path: Path) -> Path:
    evs = [Register(ts=T0, account="x", ip="192.0.2.1"),
           ContactSync(ts=T0 + 1, account="x", numbers=5000, matched=40)]
    evs += [Message(ts=T0 + 2 + i, sender="x", recipient=f"u{i}", digest="ab12")
            for i in range(12)]
    evs += [AppealGranted(ts=T0 + 60, account="x", note="a real shop")]
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"".join(encode_event(e) + b"\n" for e in evs))
    return p


def test_every_code_has_a_sentence_and_the_docs_are_current():
    words = glossary()
    for n in NAMES:
        assert words[f"MODEL_{n.upper()}"], n
    for r in Rules.default().rules:
        assert words[r.code] and r.explain
    assert DOCS.read_text() == reasons_markdown(), "regenerate docs/reasons.md"


def test_explain_replay_matches_the_decisions_and_names_the_rules(tmp_path):
    p = _stream(tmp_path)
    e = explain_replay(str(p), "x", build_engine(model_path="none"))
    assert e is not None
    acts = [d.action for d in e.decisions]
    assert acts[-1] == "reinstate" and "ban" in acts
    ban = e.decisions[acts.index("ban")]
    codes = [r.code for r in ban.scoring.rules]
    # every fired rule, heaviest first; the decision carries the first MAX_REASONS of them
    assert codes[:MAX_REASONS] == [c for c in ban.reasons if not c.startswith("MODEL_")]
    assert all(r.explain for r in ban.scoring.rules)
    assert ban.scoring.model_p is None
    assert ban.scoring.signals and set(ban.scoring.signals) <= set(NAMES)
    back = e.decisions[-1]
    assert (back.reasons, back.note, back.scoring) == (["APPEAL_GRANTED"], "a real shop", None)
    assert back.meanings[0].startswith("an appeal was granted")
    assert e.action == "none" and e.versions["model"] == "none"


def test_rules_come_before_model_codes_when_rules_fired(tmp_path):
    p = _stream(tmp_path)
    e = explain_replay(str(p), "x", build_engine())
    assert e is not None
    for d in e.decisions:
        if d.scoring is not None and d.scoring.rules:
            kinds = [c.startswith("MODEL_") for c in d.reasons]
            assert kinds == sorted(kinds), d.reasons   # no rule code after a model code
    scored = [d.scoring for d in e.decisions if d.scoring is not None]
    assert scored and all(sc.model_p is not None for sc in scored)
    for sc in scored:   # when the model counted, its contributions come with words and values
        assert (sc.model_evidence > 0) == bool(sc.model) or sc.model_evidence <= 0
        assert all(m.meaning and m.code.startswith("MODEL_") for m in sc.model)


def test_cli_text_and_json(tmp_path, capsys):
    p = _stream(tmp_path)
    assert main(["explain", "x", "--events", str(p), "--model", "none"]) == 0
    text = capsys.readouterr().out
    assert "CONTACT_SWEEP" in text and "contact sync of 1,000+ numbers" in text
    assert "note: a real shop" in text
    assert main(["explain", "x", "--events", str(p), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    e = msgspec.convert(data, AccountExplanation)
    assert e.account == "x" and e.decisions[-1].action == "reinstate" and len(e.decisions) >= 3
    assert main(["explain", "nobody", "--events", str(p)]) == 1
    assert main(["explain", "x", "--events", str(tmp_path / "missing.jsonl")]) == 2


def test_explain_account_of_unknown_is_none():
    assert explain_account(build_engine(model_path="none"), "ghost") is None
