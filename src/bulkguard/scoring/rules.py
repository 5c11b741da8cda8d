"""Declarative rules: signals -> weighted reason codes -> score -> action.

Three layers, kept apart as in Rspamd: *signals* are code (``bulkguard.signals``);
*rules* give named conditions on signals a weight; *actions* map the score to the
ladder. Rules and actions live in a TOML file, validated at load: a bad file fails
with a message naming the key, and a misspelt name gets a "did you mean".

A rule fires when all of its conditions hold. The evidence ``E`` is the sum of the
weights that fired (negative weights are evidence of a legitimate account) and the
score is ``1 - exp(-max(E, 0))``: weight 1 alone gives 0.63, 2 gives 0.86, 3 gives 0.95.

A condition on a missing signal (NaN: computed from an event family the platform does not
provide, or a field the events lack) is false, whatever the operator: unknown is never
evidence. ``[platform] provides`` lists the optional families (``bulkguard.signals.OPTIONAL``)
the platform sends; the default is all of them, and per account a family that is provided
but absent (no ``register`` for an account that existed before the stream) is unknown too.

>>> rules = Rules.from_toml('''
... [actions]
... throttle = 0.4
... challenge = 0.6
... suspend = 0.8
... ban = 0.95
... [[rule]]
... code = "BURST_TO_STRANGERS"
... when = ["noncontact_1m >= 8"]
... weight = 2.0
... ''')
>>> v = [0.0] * len(NAMES); v[NAMES.index("noncontact_1m")] = 9.0
>>> score, reasons = rules.score(v)
>>> round(score, 3), reasons, rules.level(score)
(0.865, ['BURST_TO_STRANGERS'], 3)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bulkguard.scoring import shipped
from bulkguard.scoring.calibration import ladder_level, to_score as to_score   # (re-exported)
from bulkguard.signals import NAMES, OPTIONAL

ACTIONS = ("throttle", "challenge", "suspend", "ban")
RULE_KEYS = ("code", "when", "weight", "explain")
TOP_KEYS = ("version", "actions", "rule", "model", "platform")
MODEL_KEYS = ("weight", "floor", "cap", "clear", "clear_cap", "clear_when", "add_when")
PLATFORM_KEYS = ("provides",)
_COND = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
_CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")


class RulesError(ValueError):
    """A rules file that does not validate; the message names the file and key."""


def _did_you_mean(word: str, choices) -> str:
    import difflib   # (for error messages only: not at start-up)
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


Conditions = tuple[tuple[str, str, float], ...]   # (signal, operator, number), all must hold
Weigh = Callable[[list[float]], float]             # a compiled function of the signal vector


@dataclass(frozen=True)
class Rule:
    code: str
    conditions: Conditions
    weight: float
    explain: str = ""


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    thresholds: tuple[float, float, float, float]   # throttle, challenge, suspend, ban
    model_weight: float = 1.0   # how the model's probability counts (see Engine)
    model_floor: float = 0.0    # model probabilities under this are ignored
    model_cap: float = 2.0      # most evidence the model alone may add
    model_clear: float = 0.0    # under this probability the model takes evidence away
    model_clear_cap: float = 0.0  # most evidence it may take away
    digest: str = ""            # sha256 of the source text, for checkpoints
    provides: frozenset[str] = frozenset(OPTIONAL)   # optional event families the platform sends
    # gates of the model: alternatives, each a group of conditions that must all hold
    model_clear_when: tuple[Conditions, ...] = ()  # for taking evidence away
    model_add_when: tuple[Conditions, ...] = ()    # for adding evidence

    # -- loading ------------------------------------------------------------------------
    @staticmethod
    def default_text() -> str:
        """The shipped rules file's text."""
        return shipped.read_text("rules.toml")

    @classmethod
    def default(cls) -> Rules:
        return cls.from_toml(cls.default_text(), source="<shipped rules.toml>")

    @classmethod
    def load(cls, path: str | Path | None) -> Rules:
        if path is None:
            return cls.default()
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as err:
            raise RulesError(f"{p}: cannot read rules file: {err.strerror}") from None
        return cls.from_toml(text, source=str(p))

    @classmethod
    def from_toml(cls, text: str, source: str = "<rules>") -> Rules:
        digest = shipped.sha256_hex(text.encode())
        known = _shipped_module(digest)   # the shipped file: parsed and compiled already
        doc = known.doc() if known is not None else None   # (as tomllib reads it)
        if doc is None:
            import tomllib   # (not at start-up: about 30M instructions, import and parse)
            try:
                doc = tomllib.loads(text)
            except tomllib.TOMLDecodeError as err:
                raise RulesError(f"{source}: not valid TOML: {err}") from None
            except RecursionError:   # tomllib recurses on nesting: [[[[... or {a={b=...
                raise RulesError(f"{source}: not valid rules: TOML nested too deep") from None
        for k in doc:
            if k not in TOP_KEYS:
                raise RulesError(f"{source}: unknown top-level key {k!r}{_did_you_mean(k, TOP_KEYS)}")
        acts = doc.get("actions")
        if not isinstance(acts, dict):
            raise RulesError(f"{source}: missing [actions] table with {', '.join(ACTIONS)}")
        for k in acts:
            if k not in ACTIONS:
                raise RulesError(f"{source}: [actions] unknown action {k!r}{_did_you_mean(k, ACTIONS)}")
        th = []
        for k in ACTIONS:
            v = acts.get(k)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 < v <= 1.0:
                raise RulesError(f"{source}: [actions] {k} must be a number in (0, 1], got {v!r}")
            th.append(float(v))
        if any(b <= a for a, b in zip(th, th[1:])):
            raise RulesError(f"{source}: [actions] thresholds must increase: "
                             + " < ".join(f"{k}={v}" for k, v in zip(ACTIONS, th)))
        model = doc.get("model", {})
        if not isinstance(model, dict):
            raise RulesError(f"{source}: [model] must be a table")
        for k in model:
            if k not in MODEL_KEYS:
                raise RulesError(f"{source}: [model] unknown key {k!r}{_did_you_mean(k, MODEL_KEYS)}")
        plat = doc.get("platform", {})
        if not isinstance(plat, dict):
            raise RulesError(f"{source}: [platform] must be a table")
        for k in plat:
            if k not in PLATFORM_KEYS:
                raise RulesError(f"{source}: [platform] unknown key {k!r}"
                                 f"{_did_you_mean(k, PLATFORM_KEYS)}")
        prov = plat.get("provides", list(OPTIONAL))
        if not isinstance(prov, list) or not all(isinstance(x, str) for x in prov):
            raise RulesError(f"{source}: [platform] provides must be a list of family names "
                             f"({', '.join(OPTIONAL)})")
        for x in prov:
            if x not in OPTIONAL:
                raise RulesError(f"{source}: [platform] provides: unknown family {x!r}"
                                 f"{_did_you_mean(x, OPTIONAL)} (one of {', '.join(OPTIONAL)})")
        cw = _model_gate(model, "clear_when", source)
        aw = _model_gate(model, "add_when", source)
        rules: list[Rule] = []
        seen: set[str] = set()
        raw_rules = doc.get("rule", [])
        if not isinstance(raw_rules, list):
            raise RulesError(f"{source}: `rule` must be an array of tables ([[rule]])")
        for i, r in enumerate(raw_rules, 1):
            where = f"{source}: rule {i}" + (f" ({r.get('code')})" if isinstance(r, dict) and "code" in r else "")
            if not isinstance(r, dict):
                raise RulesError(f"{where}: must be a table")
            for k in r:
                if k not in RULE_KEYS:
                    raise RulesError(f"{where}: unknown key {k!r}{_did_you_mean(k, RULE_KEYS)}")
            code = r.get("code")
            if not isinstance(code, str) or not _CODE.match(code):
                raise RulesError(f"{where}: `code` must be an UPPER_SNAKE name, got {code!r}")
            # a code may have grades: rules written one after another under the same code
            # (their weights add up, the code is listed once); elsewhere it is a mistake
            if code in seen and rules[-1].code != code:
                raise RulesError(f"{where}: duplicate code {code!r} (grades of one code must "
                                 "follow each other)")
            seen.add(code)
            w = r.get("weight")
            if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w):
                raise RulesError(f"{where}: `weight` must be a finite number, got {w!r}")
            when = r.get("when")
            if isinstance(when, str):
                when = [when]
            if not isinstance(when, list) or not when:
                raise RulesError(f"{where}: `when` must be a non-empty list of conditions like "
                                 "\"noncontact_1m >= 8\"")
            conds = [_condition(c, f"{where}: when[{j}]") for j, c in enumerate(when)]
            explain = r.get("explain", "")
            if not isinstance(explain, str):
                raise RulesError(f"{where}: `explain` must be a string")
            rules.append(Rule(code, tuple(conds), float(w), explain))
        mw = model.get("weight", 1.0)
        mf = model.get("floor", 0.0)
        mc = model.get("cap", 2.0)
        ml = model.get("clear", 0.0)
        mlc = model.get("clear_cap", 0.0)
        for k, v in (("weight", mw), ("floor", mf), ("cap", mc), ("clear", ml), ("clear_cap", mlc)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v <= 10.0:
                raise RulesError(f"{source}: [model] {k} must be a number in [0, 10], got {v!r}")
        if ml > mf:
            raise RulesError(f"{source}: [model] clear ({ml}) must not exceed floor ({mf})")
        out = cls(tuple(rules), tuple(th), float(mw), float(mf),  # type: ignore[arg-type]
                  float(mc), float(ml), float(mlc), digest, frozenset(prov), cw, aw)
        fns = ((known.fired, known.total, known.clear_ok, known.add_ok) if known is not None
               else tuple(_compile(rs, total) for _, rs, total in _functions(out)))
        for name, fn in zip(("_fire", "_sum", "_clear_ok", "_add_ok"), fns):
            object.__setattr__(out, name, fn)
        return out

    # -- use ------------------------------------------------------------------------------
    def fired(self, v: list[float]) -> list[int]:
        """Indexes of the rules whose conditions hold for signal vector ``v``."""
        return self._fire(v)  # type: ignore[attr-defined]

    def may_clear(self, v: list[float]) -> bool:
        """True if the model's confident "legitimate" may take evidence away for ``v``: the
        ``[model] clear_when`` conditions hold, those of one of its groups if it has several
        (always, without conditions)."""
        return not self.model_clear_when or self._clear_ok(v) > 0.0  # type: ignore[attr-defined]

    def may_add(self, v: list[float]) -> bool:
        """True if the model's probability may add evidence for ``v``: the ``[model]
        add_when`` conditions hold, those of one of its groups if it has several (always,
        without conditions)."""
        return not self.model_add_when or self._add_ok(v) > 0.0  # type: ignore[attr-defined]

    def functions(self) -> tuple[Weigh, Weigh, Weigh]:
        """What ``weight_of``, ``may_add`` and ``may_clear`` call: the summed weight of the
        rules that fire, and the ``add_when`` and ``clear_when`` gates (> 0 when one of their
        groups holds; 0 without groups). The engine calls them directly: compiled, a call
        through a method of this class would run an interpreted frame each time."""
        return self._sum, self._add_ok, self._clear_ok  # type: ignore[attr-defined]

    def weight_of(self, v: list[float]) -> float:
        """Summed weight of the rules that fire for ``v`` (the hot path: no reasons built)."""
        return self._sum(v)  # type: ignore[attr-defined]

    def evidence(self, v: list[float]) -> tuple[float, list[tuple[float, str]]]:
        """Summed weight of fired rules and the ``(weight, code)`` of each."""
        hits = [(self.rules[i].weight, self.rules[i].code) for i in self.fired(v)]
        return sum(w for w, _ in hits), hits

    def score(self, v: list[float]) -> tuple[float, list[str]]:
        """Rules-only score in 0..1 and the positive reasons, heaviest first."""
        e, hits = self.evidence(v)
        return to_score(e), reasons_of(hits)

    def level(self, score: float) -> int:
        """Ladder level for a score: 0 none, 1 throttle, 2 challenge, 3 suspend, 4 ban."""
        return ladder_level(self.thresholds, score)


def reasons_of(hits: list[tuple[float, str]]) -> list[str]:
    """Codes with positive weight, heaviest first (ties by code, so the order is stable);
    the grades of one code count as one, with their weights added.

    >>> reasons_of([(0.8, "FARM_SIBLING_STOPPED"), (0.9, "X"), (1.0, "FARM_SIBLING_STOPPED")])
    ['FARM_SIBLING_STOPPED', 'X']
    """
    total: dict[str, float] = {}
    for w, c in hits:
        total[c] = total.get(c, 0.0) + w
    return [c for c, w in sorted(total.items(), key=lambda h: (-h[1], h[0])) if w > 0]


def _model_gate(model: dict, key: str, source: str) -> tuple[Conditions, ...]:
    """``[model] clear_when`` / ``add_when``: one condition, a list of conditions (all must
    hold), or a list of such lists (alternatives: one of them must hold).

    >>> _model_gate({"add_when": ["msgs_1m >= 1", "msgs_1h < 5"]}, "add_when", "r")
    ((('msgs_1m', '>=', 1.0), ('msgs_1h', '<', 5.0)),)
    >>> len(_model_gate({"add_when": [["msgs_1m >= 1"], ["msgs_1h < 5"]]}, "add_when", "r"))
    2
    """
    conds = model.get(key, [])
    if isinstance(conds, str):
        conds = [conds]
    if not isinstance(conds, list):
        raise RulesError(f"{source}: [model] {key} must be a list of conditions")
    if not conds:
        return ()
    if all(isinstance(c, list) for c in conds):
        groups = conds
    elif not any(isinstance(c, list) for c in conds):
        groups = [conds]
    else:
        raise RulesError(f"{source}: [model] {key} must be a list of conditions or a list of "
                         "such lists (alternatives), not a mixture")
    out = []
    for g, group in enumerate(groups):
        if not group:
            raise RulesError(f"{source}: [model] {key}[{g}] is an empty group of conditions")
        where = f"{source}: [model] {key}" + (f"[{g}]" if len(groups) > 1 else "")
        out.append(tuple(_condition(c, f"{where}[{j}]") for j, c in enumerate(group)))
    return tuple(out)


def _condition(c: object, where: str) -> tuple[str, str, float]:
    """One ``"signal OP number"`` condition, validated."""
    m = _COND.match(c) if isinstance(c, str) else None
    if not m:
        raise RulesError(f"{where} {c!r} is not `signal OP number` (OP one of >= <= > < == !=)")
    name, op, val = m.groups()
    if name not in NAMES:
        raise RulesError(f"{where} unknown signal {name!r}{_did_you_mean(name, NAMES)}")
    num = float(val)
    if not math.isfinite(num):   # 1e999: would compile to `inf`, not a number
        raise RulesError(f"{where} {c!r}: {val} is not a finite number")
    return name, op, num


def _test(i: int, op: str, val: float) -> str:
    """Source of one condition; false on NaN (every comparison with NaN is false but ``!=``)."""
    if op == "!=":
        return f"(v[{i}] == v[{i}] and v[{i}] != {val!r})"
    return f"v[{i}] {op} {val!r}"


def _source(name: str, rules: tuple[Rule, ...], total: bool) -> str:
    """Source of one function over the signal vector (validated names and numbers only): the
    indexes of the rules that fire, or (``total``) the sum of their weights, in rule order."""
    index = {n: i for i, n in enumerate(NAMES)}
    lines = [f"def {name}(v: list[float]) -> {'float' if total else 'list[int]'}:",
             "    out = 0.0" if total else "    out: list[int] = []"]
    for k, r in enumerate(rules):
        cond = " and ".join(_test(index[n], op, val) for n, op, val in r.conditions) or "True"
        lines.append(f"    if {cond}:")
        lines.append(f"        out += {r.weight!r}" if total else f"        out.append({k})")
    lines.append("    return out")
    return "\n".join(lines) + "\n"


def _compile(rules: tuple[Rule, ...], total: bool = False):
    """Compile rules into one Python function over the signal vector (see ``_source``).

    >>> f = _compile((Rule("X", (("msgs_1m", "!=", 0.0),), 1.0),), total=True)
    >>> v = [0.0] * len(NAMES)
    >>> f(v), f([float("nan")] * len(NAMES)), f([2.0] * len(NAMES))
    (0.0, 0.0, 1.0)
    """
    ns: dict = {}
    exec(_source("fire", rules, total), ns)  # noqa: S102 - validated names and numbers only
    return ns["fire"]


def _functions(r: Rules) -> tuple[tuple[str, tuple[Rule, ...], bool], ...]:
    """What ``Rules`` compiles: (name, rules, total) of ``_fire``, ``_sum``, ``_clear_ok`` and
    ``_add_ok``. A gate holds when any of its groups does: the sum of one 1.0 per group that
    holds."""
    return (("fired", r.rules, False), ("total", r.rules, True),
            ("clear_ok", tuple(Rule("CLEAR", g, 1.0) for g in r.model_clear_when), True),
            ("add_ok", tuple(Rule("ADD", g, 1.0) for g in r.model_add_when), True))


def _shipped_module(digest: str) -> ModuleType | None:
    """``shipped_rules.py`` (the table ``doc()`` and the four functions ``Rules`` compiles)
    when ``digest`` is the shipped file's, else None. The compiled build makes that module
    native: the rules cost a tenth of the interpreter's time at each re-score."""
    from bulkguard.scoring import shipped_rules
    return shipped_rules if shipped_rules.RULES_SHA256 == digest else None


def shipped_rules_module(text: str) -> str:
    """Source of ``bulkguard/scoring/shipped_rules.py`` for the shipped rules file's text:
    the functions ``Rules`` compiles, as a module of their own (see ``_shipped_module``),
    and the file's table as tomllib reads it (``doc``: parsed when the package is built, not
    at each start)."""
    import pprint
    import tomllib
    r = Rules.from_toml(text, source="<shipped rules.toml>")
    table = pprint.pformat(tomllib.loads(text), width=92, sort_dicts=False)
    return ('"""Generated from rules.toml by ``shipped_rules_module``: do not edit.\n\n'
            "The shipped rules as plain code, so that the compiled build (mypyc) makes them\n"
            'native; used only while RULES_SHA256 matches rules.toml."""\n\n'
            "from __future__ import annotations\n\n"
            "from typing import Any\n\n"
            f'RULES_SHA256 = "{r.digest}"\n\n\n'
            "def doc() -> dict[str, Any]:\n"
            '    """rules.toml as tomllib reads it (a new table each call)."""\n'
            "    return " + table.replace("\n", "\n" + " " * 11) + "\n"
            + "".join("\n\n" + _source(name, rs, total) for name, rs, total in _functions(r)))
