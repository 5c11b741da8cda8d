"""Why an account was stopped, in words: ``bulkguard explain ACCOUNT --events FILE``.

The explanation is data (msgspec structs), so that the command prints it and the HTTP
service serves the same thing (``GET /v1/accounts/{id}``):

* :func:`explain_replay` replays a file and explains each of the account's decisions:
  the fired rules (code, weight, the ``explain`` sentence of ``rules.toml``), the model's
  probability and its top contributions in words, and the key signal values;
* :func:`explain_account` explains an account's state in a running engine now;
* :func:`glossary` gives a sentence for every reason code: rules, ``MODEL_<SIGNAL>``
  (from the signal's own documentation), policy refusals and the ways back;
  ``docs/reasons.md`` is :func:`reasons_markdown`.

>>> from bulkguard.engine import Engine
>>> from bulkguard.events import ContactSync, Register
>>> eng = Engine()
>>> _ = eng.handle(Register(ts=0.0, account="x"), 1)
>>> _ = eng.handle(ContactSync(ts=1.0, account="x", numbers=5000, matched=40), 2)
>>> e = explain_account(eng, "x")
>>> e.action != "none", "CONTACT_SWEEP" in [r.code for r in e.now.rules]
(True, True)
>>> [r.explain for r in e.now.rules if r.code == "CONTACT_SWEEP"]
['contact sync of 1,000+ numbers with under 10% registered']
>>> glossary()["MODEL_NOTYPE_SHARE"].startswith("Share of sends with a known typing_ms")
True
"""

from __future__ import annotations

import argparse
import ast
import functools
import math
import sys
from pathlib import Path
from typing import Optional

import msgspec

from bulkguard.engine import ENGINE_VERSION, Engine
from bulkguard.events import Decision, EventError, read_events
from bulkguard.policy import business as biz
from bulkguard.policy.forwarding import FORWARD_LIMIT
from bulkguard.scoring.rules import Rules
from bulkguard.signals import NAMES, SIGNALS, vector
from bulkguard.state.account import LEVEL_NAMES

#: Reason codes that are not rules or model features: refusals and the ways back.
CODE_TEXT: dict[str, str] = {
    biz.NO_OPTIN: "business message to a customer who never opted in",
    biz.OPTED_OUT: "business message to a customer who opted out",
    biz.OUTSIDE_WINDOW_NO_TEMPLATE:
        "business message outside the 24-hour customer-service window without a template",
    biz.UNKNOWN_TEMPLATE: "message naming a template that is not registered",
    biz.TEMPLATE_PAUSED: "template paused after negative feedback",
    biz.TEMPLATE_DISABLED: "template disabled after repeated negative feedback",
    biz.TIER_LIMIT: "business over its messaging-limit tier",
    FORWARD_LIMIT: "forwarded content sent to more chats than the forwarding limit allows",
    "ACCOUNT_SUSPENDED": "message from a business account that is suspended",
    "SCORE_RECOVERED": "the account's score fell back well below the throttle threshold",
    "APPEAL_GRANTED": "an appeal was granted (only evidence after it counts)",
    "CHALLENGE_PASSED": "the account passed the challenge (timing signals count less for a while)",
    "REVIEWER_BAN": "a reviewer banned the account",
    "REVIEWER_SUSPEND": "a reviewer suspended the account",
    "REVIEWER_REINSTATE": "a reviewer lifted the action on the account",
    "REVIEWER_ALLOW": "a reviewer cleared the account",
    "SUSPENSION_ENDED": "a reviewer's suspension reached its end",
}
MODEL_TOP = 3   # model contributions shown per decision


class FiredRule(msgspec.Struct, frozen=True):
    code: str
    weight: float          # the grades of one code added up
    explain: str


class ModelReason(msgspec.Struct, frozen=True):
    code: str              # MODEL_<SIGNAL>
    weight: float          # its contribution to the model's margin
    meaning: str           # the glossary sentence
    value: float           # the signal's value


class Scoring(msgspec.Struct, frozen=True):
    """How rules and model saw one signal vector."""

    rules: list[FiredRule]
    rule_evidence: float
    model_p: Optional[float]        # None: no model
    model_evidence: float           # what the model added (negative: took away)
    model: list[ModelReason]        # its top contributions (when it counted)
    signals: dict[str, float]       # key signal values: those the fired rules and model used


class DecisionExplanation(msgspec.Struct, frozen=True, omit_defaults=True):
    line: int
    ts: float
    action: str
    score: float
    reasons: list[str]
    meanings: list[str]             # a sentence per reason, same order
    note: Optional[str] = None
    scoring: Optional[Scoring] = None   # None for decisions no re-score made (reviews, appeals)


class AccountExplanation(msgspec.Struct, frozen=True, omit_defaults=True):
    account: str
    action: str                     # current ladder level (none, throttle, ...)
    score: float
    versions: dict[str, str]
    decisions: list[DecisionExplanation] = []
    now: Optional[Scoring] = None   # the account's state at the end


def glossary(rules: Rules | None = None) -> dict[str, str]:
    """A sentence for every reason code: rules (their ``explain``), ``MODEL_<SIGNAL>`` (the
    signal's documentation), refusals and the ways back."""
    out = {f"MODEL_{n.upper()}": _doc(n) for n in NAMES}
    for r in (rules or Rules.default()).rules:
        out.setdefault(r.code, r.explain)
    out.update(CODE_TEXT)
    return out


def _doc(name: str) -> str:
    """The first paragraph of the signal's docstring, in one line."""
    f = SIGNALS[name]
    doc = f.__doc__ or _source_docs(f.__module__).get(name) or name
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


@functools.cache
def _source_docs(module: str) -> dict[str, str]:
    """Docstrings of a module's functions read from its source: compiled (mypyc), a
    function keeps none, but its ``.py`` is installed beside the extension."""
    path = Path(sys.modules[module].__file__ or "")
    src = path.with_name(path.name.split(".")[0] + ".py")
    try:
        tree = ast.parse(src.read_text(encoding="utf-8"))
    except OSError:
        return {}
    return {n.name: ast.get_docstring(n) or "" for n in tree.body
            if isinstance(n, ast.FunctionDef)}


def scoring(engine: Engine, v: list[float]) -> Scoring:
    """How ``engine``'s rules and model see the signal vector ``v``."""
    rules = engine.rules
    graded: dict[str, float] = {}
    text: dict[str, str] = {}
    used: set[str] = set()
    fired = rules.fired(v)
    for i in fired:
        r = rules.rules[i]
        graded[r.code] = graded.get(r.code, 0.0) + r.weight
        text[r.code] = r.explain   # the highest grade that fired says most
        used.update(n for n, _, _ in r.conditions)
    fired_rules = [FiredRule(c, round(w, 4), text[c])
                   for c, w in sorted(graded.items(), key=lambda h: (-h[1], h[0]))]
    p: float | None = None
    model_ev = 0.0
    top: list[ModelReason] = []
    model = engine.model
    if model is not None and rules.model_weight > 0.0:
        p = model.probability(v)
        if p >= rules.model_floor and rules.may_add(v):
            model_ev = min(-math.log(max(1.0 - p, 1e-9)) * rules.model_weight, rules.model_cap)
            words = glossary(rules)
            for w, code in model.reasons(v, p)[:MODEL_TOP]:
                name = code.removeprefix("MODEL_").lower()
                value = v[NAMES.index(name)] if name in NAMES else float("nan")
                top.append(ModelReason(code, round(w, 4), words.get(code, ""), value))
                used.add(name)
        elif p < rules.model_clear and rules.may_clear(v):
            model_ev = -min(math.log(rules.model_clear / max(p, 1e-9)), rules.model_clear_cap)
        p = round(p, 4)
    signals = {n: round(v[i], 4) for i, n in enumerate(NAMES) if n in used}
    return Scoring(fired_rules, round(sum(graded.values()), 4), p, round(model_ev, 4), top,
                   signals)


def _versions(engine: Engine) -> dict[str, str]:
    return {"rules": engine.rules_version, "model": engine.model_version,
            "engine": ENGINE_VERSION}


def _explain_decision(d: Decision, sc: Scoring | None, words: dict[str, str]
                      ) -> DecisionExplanation:
    return DecisionExplanation(d.line, d.ts, d.action, d.score, list(d.reasons),
                               [words.get(c, "") for c in d.reasons], d.note, sc)


def explain_account(engine: Engine, account: str,
                    decisions: list[DecisionExplanation] | None = None
                    ) -> AccountExplanation | None:
    """``account`` as ``engine`` sees it now (None if it never saw it): its action, score
    and how rules and model score its signals now (the judged evidence of a reinstated
    account taken off, as the engine does)."""
    w = engine.world
    a = w.accounts.get(account)
    if a is None:
        return None
    v = engine.judged(a, vector(a, w))
    return AccountExplanation(account, LEVEL_NAMES[a.level], round(a.score, 4),
                              _versions(engine), decisions or [], scoring(engine, v))


def explain_replay(events: str, account: str, engine: Engine) -> AccountExplanation | None:
    """Replay ``events`` (bad lines skipped, as ``replay`` dead-letters them) through
    ``engine`` and explain each decision about ``account``; None if the file never names it."""
    words = glossary(engine.rules)
    seen: list[list[float] | None] = [None]

    def observer(name: str, v: list[float], _events: int) -> None:
        if name == account:
            seen[0] = v

    engine.observer = observer
    out: list[DecisionExplanation] = []
    for n, ev in read_events(events):
        seen[0] = None
        try:
            decided = engine.handle(ev, n)
        except EventError:
            continue
        for d in decided:
            if d.account == account:
                v = seen[0]
                sc = scoring(engine, v) if v is not None and d.reasons and \
                    d.reasons[0] not in CODE_TEXT else None
                out.append(_explain_decision(d, sc, words))
    engine.observer = None
    return explain_account(engine, account, out)


def render(e: AccountExplanation) -> str:
    """The explanation as text for a terminal."""
    v = e.versions
    lines = [f"account {e.account}: {e.action} (score {e.score:.4f}); "
             f"rules {v['rules']}, model {v['model']}, engine {v['engine']}"]
    if not e.decisions:
        lines.append("no decisions")
    for d in e.decisions:
        lines.append(f"\nline {d.line} (ts {d.ts:.0f}): {d.action}, score {d.score:.4f}"
                     + (f", note: {d.note}" if d.note else ""))
        for code, meaning in zip(d.reasons, d.meanings):
            lines.append(f"  {code}: {meaning}")
        if d.scoring is not None:
            lines += _render_scoring(d.scoring)
    if e.now is not None:
        lines.append("\nnow:")
        lines += _render_scoring(e.now)
    return "\n".join(lines)


def _render_scoring(s: Scoring) -> list[str]:
    out = [f"  rules fired (evidence {s.rule_evidence:.2f}):"]
    out += [f"    {r.code} +{r.weight:g}: {r.explain}" for r in s.rules] or ["    none"]
    if s.model_p is None:
        out.append("  model: none")
    else:
        out.append(f"  model: p = {s.model_p:.4f}, evidence {s.model_evidence:+.2f}")
        out += [f"    {m.code} ({m.value:g}) +{m.weight:g}: {m.meaning}" for m in s.model]
    if s.signals:
        out.append("  signals: " + ", ".join(f"{k} {x:g}" for k, x in s.signals.items()))
    return out


def reasons_markdown(rules: Rules | None = None) -> str:
    """``docs/reasons.md``: every reason code and what it means."""
    rules = rules or Rules.default()
    out = ["# Reason codes", "",
           "Generated by `bulkguard.explain.reasons_markdown()` (a test keeps it current).",
           "A decision's `reasons` list fired rules first (heaviest first), then the model's",
           "top features; a `reject` starts with the policy code. `bulkguard explain ACCOUNT",
           "--events FILE` prints them for one account, with weights and signal values.", "",
           "## Rules (`scoring/rules.toml`)", "", "| code | weight | meaning |", "|---|---|---|"]
    for r in rules.rules:
        out.append(f"| `{r.code}` | {r.weight:g} | {r.explain} |")
    out += ["", "Renamed: `FARM_SIBLINGS_STOPPED` is now the second grade of",
            "`FARM_SIBLING_STOPPED` (3+ stopped siblings add weight to the same code).", "",
            "## Model (`MODEL_<SIGNAL>`)", "",
            "The model names the signals that pushed its probability up most.", "",
            "| code | meaning |", "|---|---|"]
    for n in NAMES:
        out.append(f"| `MODEL_{n.upper()}` | {_doc(n)} |")
    out += ["", "## Refusals and the ways back", "", "| code | meaning |", "|---|---|"]
    for code, text in CODE_TEXT.items():
        out.append(f"| `{code}` | {text} |")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    """CLI entry: ``bulkguard explain ACCOUNT --events FILE``."""
    from bulkguard.components import build_engine
    from bulkguard.scoring.rules import RulesError
    try:
        e = explain_replay(args.events, args.account, build_engine(args.rules, args.model))
    except (RulesError, FileNotFoundError, IsADirectoryError, PermissionError, ValueError) as err:
        print(f"bulkguard explain: {err}", file=sys.stderr)
        return 2
    if e is None:
        print(f"bulkguard explain: {args.account!r} does not appear in {args.events}",
              file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(msgspec.json.encode(e).decode() + "\n")
    else:
        print(render(e))
    return 0
