"""Score a decisions file against a labeled scenario.

One pass over the events (msgspec, via :func:`bulkguard.events.read_events`); only
per-account aggregates and the lines that decisions point at are kept in memory.

Definitions (see ``shared/spec/events.md``):

* an account is *stopped* at its first ``challenge``, ``suspend`` or ``ban``
  (the smallest such decision ``line``); a later ``reinstate`` does not undo that;
* the *blast radius* of an abuser counts its ``message`` events and the members it
  added to groups (``group_join`` with ``added_by`` = it) on lines strictly before
  its stop line (all of them if never stopped); a message refused by a ``reject``
  for its line is not delivered. ``blast_share`` divides by everything the abusers
  sent (messages plus group adds);
* *time to stop* is event time (the clock never goes back on late events) from an
  abuser's first message to its stop, 0 when stopped before the first message;
  abusers without messages or never stopped are left out;
* *stopped at registration*: among abusers with a ``register`` event, the share whose
  stop line is at or before that event's line, or at or before their first message
  (no message got out);
* *precision* counts labeled accounts only; stopped accounts without a label are
  reported as ``stopped_unlabeled``;
* an abusive account whose only events are ``register`` (or none at all) is *inert*: its
  abuse is not in this stream (e.g. a report brigade in a stream without reports). It is
  counted in ``abusive_inert`` and left out of every other figure: nobody can be asked to
  catch an account that did nothing;
* an abuser of an archetype whose abuse lives in one optional family (:data:`ABUSE_IN`: an
  enumerator's contact lookups) in a stream without any event of that family is *not
  observable in this stream*: what is left of it is no abuse (an enumerator without its
  contact syncs is 0-3 messages to strangers, what a dialer or a new user writing to a
  number they typed sends too). It is counted in ``abusive_unobservable`` (by archetype in
  ``unobservable``, those stopped anyway in ``unobservable_stopped``) and left out of every
  other figure, as an inert one is: reported, never silently dropped;
* the *worst archetype* is the abusive archetype with the lowest recall (ties: the larger
  one, then by name).

>>> _pct([1, 2, 3, 4], 50), _pct([], 50)
(2.5, nan)
>>> _ratio(1, 4), _ratio(0, 0)
(0.25, nan)
"""

from __future__ import annotations

import gzip
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bulkguard.events import (
    READ_ERRORS, Block, ContactAdd, ContactSync, EventError, GroupCreate, GroupJoin, InputError,
    Label, Message, OptIn, OptOut, ReadStats, Register, Report, TemplateRegister, read_events,
)

#: Abusive archetypes (of ``bulkguard.sim``) whose abuse lives in one optional family, by the
#: event types that carry it. In a stream with no event of those types at all (a platform
#: without that family) such an abuser is *not observable* (see the module docstring).
ABUSE_IN: dict[str, tuple[type, ...]] = {
    "enumerator": (ContactSync, ContactAdd),   # number lookups; 0-3 messages besides
}

ACTIONS = frozenset({"throttle", "challenge", "suspend", "ban", "reinstate", "reject"})
STOP_ACTIONS = frozenset({"challenge", "suspend", "ban"})
VIOLATION_KINDS = ("fields", "action", "line_range", "ts_mismatch", "reject_sender",
                   "line_backwards")
MAX_EXAMPLES = 20
THRESHOLDS = [i / 100 for i in range(101)]


class EvalError(Exception):
    """An input file is missing or unreadable; the message says which and why."""


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _pct(values, q: float) -> float:
    if len(values) == 0:
        return math.nan
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _clean(x: Any) -> Any:
    """JSON-friendly copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass
class Metrics:
    """Everything ``bulkguard evaluate`` reports. ``nan`` means "not defined here"
    (e.g. no abusers of that kind). Raw per-account values used by the plots live in
    ``detail`` and are left out of :meth:`to_dict`."""

    name: str = ""
    # inputs
    events_read: int = 0
    events_accepted: int = 0
    events_bad: int = 0
    events_empty: int = 0
    decisions: int = 0
    decisions_by_action: dict[str, int] = field(default_factory=dict)
    violations: dict[str, int] = field(default_factory=dict)
    violations_total: int = 0
    violation_examples: list[str] = field(default_factory=list)
    # populations
    abusive: int = 0
    abusive_inert: int = 0
    abusive_unobservable: int = 0
    unobservable: dict[str, int] = field(default_factory=dict)
    unobservable_stopped: int = 0
    legit: int = 0
    legit_active: int = 0
    # stopping
    stopped_abusive: int = 0
    stopped_legit: int = 0
    stopped_legit_active: int = 0
    stopped_unlabeled: int = 0
    recall: float = math.nan
    fpr: float = math.nan
    fpr_active: float = math.nan
    precision: float = math.nan
    worst_archetype: str = ""
    worst_archetype_recall: float = math.nan
    throttled_legit: int = 0
    throttle_rate_legit: float = math.nan
    throttled_abusive: int = 0
    reinstated: int = 0
    # blast radius
    blast_median: float = math.nan
    blast_p90: float = math.nan
    blast_total: int = 0
    blast_messages: int = 0
    blast_group_adds: int = 0
    abuser_messages: int = 0
    abuser_group_adds: int = 0
    blast_share: float = math.nan
    # timing
    pre_report: float = math.nan
    at_registration: float = math.nan
    abusers_registered: int = 0
    time_to_stop_median: float = math.nan
    time_to_stop_p90: float = math.nan
    # business lane
    business_abusive_messages: int = 0
    business_abusive_rejected: int = 0
    business_abusive_reject_share: float = math.nan
    business_compliant_messages: int = 0
    business_compliant_rejected: int = 0
    business_compliant_reject_share: float = math.nan
    legit_rejected_messages: int = 0
    # scores
    score_source: str = "decisions"
    score_auc: float = math.nan
    threshold_curve: list[dict[str, float]] = field(default_factory=list)
    per_archetype: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("detail")
        return _clean(d)

    def summary_line(self) -> str:
        """``recall=0.981 fpr=0.0012 precision=0.95 blast_median=4 pre_report=0.93 at_registration=0.31``"""
        bm = self.blast_median
        bm_s = "nan" if math.isnan(bm) else f"{bm:g}"
        return (f"recall={self.recall:.3f} fpr={self.fpr:.4f} precision={self.precision:.2f} "
                f"blast_median={bm_s} pre_report={self.pre_report:.2f} "
                f"at_registration={self.at_registration:.2f}")


class _Violations:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(VIOLATION_KINDS, 0)
        self.examples: list[str] = []

    def add(self, kind: str, k: int, msg: str) -> None:
        self.counts[kind] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"decision {k}: {msg}")


def _open_bytes(path: str | Path, what: str):
    p = Path(path)
    if not p.exists():
        raise EvalError(f"{what} file not found: {p}")
    if not p.is_file():
        raise EvalError(f"{what} path is not a file: {p}")
    try:
        f = open(p, "rb")
        if p.suffix == ".gz" or f.peek(2)[:2] == b"\x1f\x8b":
            f.close()
            return gzip.open(p, "rb")
        return f
    except OSError as err:
        raise EvalError(f"cannot read {what} file {p}: {err}") from None


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class _Dec(msgspec.Struct, array_like=True):
    k: int
    line: int
    ts: float
    account: str
    action: str
    score: float


def _read_decisions(path, viol: _Violations) -> tuple[list[_Dec], int]:
    """Parse and field-check a decisions file; return the usable decisions and the count."""
    out: list[_Dec] = []
    total = 0
    last = 0
    decode = msgspec.json.decode
    try:
        with _open_bytes(path, "decisions") as f:
            for k, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                total += 1
                try:
                    d = decode(raw)
                except msgspec.DecodeError as err:
                    viol.add("fields", k, f"not JSON ({err})")
                    continue
                except RecursionError:
                    viol.add("fields", k, "JSON nested too deep")
                    continue
                if not isinstance(d, dict):
                    viol.add("fields", k, "not a JSON object")
                    continue
                ln, ts, acct, act = d.get("line"), d.get("ts"), d.get("account"), d.get("action")
                score, reasons = d.get("score"), d.get("reasons")
                usable = True
                if not isinstance(ln, int) or isinstance(ln, bool):
                    viol.add("fields", k, f"line {ln!r} is not an integer")
                    usable = False
                else:
                    if ln < last:
                        viol.add("line_backwards", k, f"line {ln} goes back before {last}")
                    last = max(last, ln)
                if not _is_num(ts):
                    viol.add("fields", k, f"ts {ts!r} is not a finite number")
                    ts = math.nan
                if not isinstance(acct, str) or not acct:
                    viol.add("fields", k, "account missing or not a string")
                    usable = False
                if act not in ACTIONS:
                    viol.add("action", k, f"action {act!r} not one of {sorted(ACTIONS)}")
                    usable = False
                if not _is_num(score) or not 0 <= score <= 1:
                    viol.add("fields", k, f"score {score!r} not in 0..1")
                    score = 0.0
                if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
                    viol.add("fields", k, "reasons must be a list of strings")
                elif act == "reject" and not reasons:
                    viol.add("fields", k, "reject without a policy code")
                if usable:
                    out.append(_Dec(k, ln, float(ts), acct, act, float(score)))
    except READ_ERRORS as err:
        raise EvalError(f"cannot read decisions file {path}: {err}") from None
    return out, total


_label_decoder = msgspec.json.Decoder(Label)


def _read_labels(path) -> dict[str, Label]:
    labels: dict[str, Label] = {}
    try:
        with _open_bytes(path, "labels") as f:
            for k, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    lab = _label_decoder.decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as err:
                    raise EvalError(f"labels file {path}, line {k}: {err}") from None
                except RecursionError:
                    raise EvalError(f"labels file {path}, line {k}: JSON nested too deep") from None
                labels[lab.account] = lab
    except READ_ERRORS as err:
        raise EvalError(f"cannot read labels file {path}: {err}") from None
    return labels


_score_decoder = msgspec.json.Decoder(dict[str, Any])


def _read_scores(path) -> dict[str, float]:
    scores: dict[str, float] = {}
    try:
        with _open_bytes(path, "scores") as f:
            for k, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    d = _score_decoder.decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as err:
                    raise EvalError(f"scores file {path}, line {k}: {err}") from None
                except RecursionError:
                    raise EvalError(f"scores file {path}, line {k}: JSON nested too deep") from None
                acct, s = d.get("account"), d.get("max_score")
                if not isinstance(acct, str) or not _is_num(s):
                    raise EvalError(f"scores file {path}, line {k}: needs "
                                    '{"account": str, "max_score": number}')
                scores[acct] = max(float(s), scores.get(acct, -math.inf))
    except READ_ERRORS as err:
        raise EvalError(f"cannot read scores file {path}: {err}") from None
    return scores


class _Abuser:
    __slots__ = ("stop", "msgs", "delivered", "adds", "adds_delivered", "first_msg_line",
                 "first_msg_clock", "register_line", "first_report_line")

    def __init__(self, stop: float) -> None:
        self.stop = stop            # stop line, inf if never stopped
        self.msgs = 0
        self.delivered = 0
        self.adds = 0
        self.adds_delivered = 0
        self.first_msg_line = 0
        self.first_msg_clock = math.nan
        self.register_line = 0
        self.first_report_line = 0


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random abusive account outscores a random legit one (ties 1/2)."""
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sv = allv[order]
    # average ranks for ties
    _, first, counts = np.unique(sv, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def evaluate(events_path: str | Path, labels_path: str | Path, decisions_path: str | Path,
             scores_path: str | Path | None = None, *, name: str = "") -> Metrics:
    """Score ``decisions_path`` against the labeled scenario; see the module docstring.

    Raises :class:`EvalError` when an input file is missing or unreadable. Contract
    violations of the decisions are counted in the result, never raised.
    """
    t0 = time.perf_counter()
    if not Path(events_path).exists():
        raise EvalError(f"events file not found: {events_path}")
    labels = _read_labels(labels_path)
    viol = _Violations()
    decs, n_decisions = _read_decisions(decisions_path, viol)
    ext_scores = _read_scores(scores_path) if scores_path else None

    # --- what the decisions say, before looking at the events
    by_action: dict[str, int] = {}
    stop_line: dict[str, int] = {}
    throttled: set[str] = set()
    reinstated: set[str] = set()
    dec_score: dict[str, float] = {}
    dec_lines: set[int] = set()
    reject_at: dict[int, set[str]] = {}
    for d in decs:
        by_action[d.action] = by_action.get(d.action, 0) + 1
        dec_lines.add(d.line)
        a = d.account
        if d.score > dec_score.get(a, -1.0):
            dec_score[a] = d.score
        act = d.action
        if act in STOP_ACTIONS:
            if d.line < stop_line.get(a, math.inf):
                stop_line[a] = d.line
        elif act == "throttle":
            throttled.add(a)
        elif act == "reinstate":
            reinstated.add(a)
        elif act == "reject":
            reject_at.setdefault(d.line, set()).add(a)

    abusers: dict[str, _Abuser] = {
        a: _Abuser(stop_line.get(a, math.inf)) for a, lab in labels.items() if lab.label == "abusive"
    }

    # --- one pass over the events
    stats = ReadStats()
    line_ts: dict[int, float] = {}
    line_clock: dict[int, float] = {}
    reject_ok: set[tuple[int, str]] = set()
    msgs: dict[str, int] = {}
    rejected_msgs: dict[str, int] = {}
    business_kind: set[str] = set()
    active: set[str] = set()   # accounts doing anything but register
    registered: set[str] = set()
    types_seen: set[type] = set()
    act_add = active.add
    ab_get = abusers.get
    clock = -math.inf
    try:
        for n, ev in read_events(events_path, stats=stats):
            ts = ev.ts
            if ts > clock:
                clock = ts
            if n in dec_lines:
                line_ts[n] = ts
                line_clock[n] = clock
            t = type(ev)
            types_seen.add(t)
            if t is Message:
                s = ev.sender
                act_add(s)
                msgs[s] = msgs.get(s, 0) + 1
                rej = False
                if n in reject_at and s in reject_at[n]:
                    rej = True
                    reject_ok.add((n, s))
                    rejected_msgs[s] = rejected_msgs.get(s, 0) + 1
                a = ab_get(s)
                if a is not None:
                    a.msgs += 1
                    if not a.first_msg_line:
                        a.first_msg_line = n
                        a.first_msg_clock = clock
                    if n < a.stop and not rej:
                        a.delivered += 1
            elif t is GroupJoin:
                act_add(ev.member)
                if ev.added_by is not None:
                    a = ab_get(ev.added_by)
                    if a is not None:
                        a.adds += 1
                        if n < a.stop:
                            a.adds_delivered += 1
            elif t is Report:
                act_add(ev.reporter)
                a = ab_get(ev.reported)
                if a is not None and not a.first_report_line:
                    a.first_report_line = n
            elif t is Register:
                registered.add(ev.account)
                if ev.kind == "business":
                    business_kind.add(ev.account)
                a = ab_get(ev.account)
                if a is not None and not a.register_line:
                    a.register_line = n
            elif t is Block:
                act_add(ev.blocker)
            elif t in (ContactAdd, ContactSync, GroupCreate):
                act_add(ev.account)
            elif t in (OptIn, OptOut, TemplateRegister):
                act_add(ev.business)
    except InputError as err:   # corrupt or truncated gzip: names the file and the line
        raise EvalError(str(err)) from None
    except READ_ERRORS as err:
        raise EvalError(f"cannot read events file {events_path}: {err}") from None
    except EventError as err:  # only in strict mode; kept for safety
        raise EvalError(f"events file {events_path}: {err}") from None

    # --- line-level checks of the decisions
    for d in decs:
        ts = line_ts.get(d.line)
        if ts is None:
            viol.add("line_range", d.k, f"line {d.line} is not an event line of the input")
        elif not abs(d.ts - ts) <= 1e-3:
            viol.add("ts_mismatch", d.k, f"ts {d.ts} != ts {ts} of line {d.line}")
        if d.action == "reject" and (d.line, d.account) not in reject_ok:
            viol.add("reject_sender", d.k,
                     f"reject of {d.account!r} but line {d.line} is not a message it sent")

    m = Metrics(name=name or str(decisions_path))
    m.events_read, m.events_accepted = stats.read, stats.accepted
    m.events_bad, m.events_empty = stats.rejected, stats.empty
    m.decisions = n_decisions
    m.decisions_by_action = dict(sorted(by_action.items()))
    m.violations = dict(viol.counts)
    m.violations_total = sum(viol.counts.values())
    m.violation_examples = viol.examples

    # --- populations and stops
    inert = {a for a in abusers if a not in active}
    for a in inert:
        del abusers[a]
    unseen = {arch for arch, types in ABUSE_IN.items() if not types_seen.intersection(types)}
    unobservable = {a for a in abusers if labels[a].archetype in unseen}
    for a in sorted(unobservable):
        del abusers[a]
        arch = labels[a].archetype
        m.unobservable[arch] = m.unobservable.get(arch, 0) + 1
    m.abusive_unobservable = len(unobservable)
    m.unobservable_stopped = sum(1 for a in unobservable if a in stop_line)
    active |= registered
    legit = [a for a, lab in labels.items() if lab.label == "legit"]
    legit_set = set(legit)
    m.abusive, m.legit, m.abusive_inert = len(abusers), len(legit), len(inert)
    m.legit_active = sum(1 for a in legit if a in active)
    m.stopped_abusive = sum(1 for a in abusers if a in stop_line)
    m.stopped_legit = sum(1 for a in legit if a in stop_line)
    m.stopped_legit_active = sum(1 for a in legit if a in stop_line and a in active)
    m.stopped_unlabeled = sum(1 for a in stop_line if a not in labels)
    m.recall = _ratio(m.stopped_abusive, m.abusive)
    m.fpr = _ratio(m.stopped_legit, m.legit)
    m.fpr_active = _ratio(m.stopped_legit_active, m.legit_active)
    m.precision = _ratio(m.stopped_abusive, m.stopped_abusive + m.stopped_legit)
    m.throttled_legit = len(throttled & legit_set)
    m.throttle_rate_legit = _ratio(m.throttled_legit, m.legit)
    m.throttled_abusive = sum(1 for a in throttled if a in abusers)
    m.reinstated = len(reinstated)

    # --- per-abuser outcomes
    def stop_clock(a: str) -> float:
        ln = stop_line[a]
        c = line_clock.get(ln)
        return c if c is not None else math.nan

    blast: dict[str, int] = {}
    ttl: dict[str, float] = {}
    pre_rep: dict[str, bool] = {}
    at_reg: dict[str, bool] = {}
    for a, ab in abusers.items():
        blast[a] = ab.delivered + ab.adds_delivered
        stopped = a in stop_line
        if stopped:
            pre_rep[a] = not ab.first_report_line or ab.stop < ab.first_report_line
            if ab.first_msg_line:
                if ab.stop <= ab.first_msg_line:
                    ttl[a] = 0.0
                else:
                    dt = stop_clock(a) - ab.first_msg_clock
                    if not math.isnan(dt):
                        ttl[a] = max(0.0, dt)
        if ab.register_line:
            at_reg[a] = stopped and (ab.stop <= ab.register_line or not ab.first_msg_line
                                     or ab.stop <= ab.first_msg_line)

    def blast_stats(accts) -> dict[str, Any]:
        vals = [blast[a] for a in accts]
        return {"blast_median": _pct(vals, 50), "blast_p90": _pct(vals, 90),
                "blast_total": int(sum(vals))}

    bs = blast_stats(abusers)
    m.blast_median, m.blast_p90, m.blast_total = bs["blast_median"], bs["blast_p90"], bs["blast_total"]
    m.blast_messages = sum(ab.delivered for ab in abusers.values())
    m.blast_group_adds = sum(ab.adds_delivered for ab in abusers.values())
    m.abuser_messages = sum(ab.msgs for ab in abusers.values())
    m.abuser_group_adds = sum(ab.adds for ab in abusers.values())
    m.blast_share = _ratio(m.blast_total, m.abuser_messages + m.abuser_group_adds)
    m.pre_report = _ratio(sum(pre_rep.values()), len(pre_rep))
    m.abusers_registered = len(at_reg)
    m.at_registration = _ratio(sum(at_reg.values()), len(at_reg))
    m.time_to_stop_median = _pct(list(ttl.values()), 50)
    m.time_to_stop_p90 = _pct(list(ttl.values()), 90)

    # --- business lane
    abiz = [a for a in abusers if "business" in labels[a].archetype]
    cbiz = [a for a in legit if a in business_kind]
    m.business_abusive_messages = sum(msgs.get(a, 0) for a in abiz)
    m.business_abusive_rejected = sum(rejected_msgs.get(a, 0) for a in abiz)
    m.business_abusive_reject_share = _ratio(m.business_abusive_rejected, m.business_abusive_messages)
    m.business_compliant_messages = sum(msgs.get(a, 0) for a in cbiz)
    m.business_compliant_rejected = sum(rejected_msgs.get(a, 0) for a in cbiz)
    m.business_compliant_reject_share = _ratio(m.business_compliant_rejected,
                                               m.business_compliant_messages)
    m.legit_rejected_messages = sum(rejected_msgs.get(a, 0) for a in legit)

    # --- scores and threshold curve
    if ext_scores is not None:
        m.score_source = "scores file"
        score_of = lambda a: ext_scores.get(a, dec_score.get(a, 0.0))  # noqa: E731
    else:
        score_of = lambda a: dec_score.get(a, 0.0)  # noqa: E731
    s_ab = np.fromiter((score_of(a) for a in abusers), float, len(abusers))
    s_lg = np.fromiter((score_of(a) for a in legit), float, len(legit))
    m.score_auc = _auc(s_ab, s_lg)
    s_ab_sorted, s_lg_sorted = np.sort(s_ab), np.sort(s_lg)
    curve = []
    for t in THRESHOLDS:
        r = _ratio(len(s_ab) - np.searchsorted(s_ab_sorted, t, "left"), len(s_ab))
        f = _ratio(len(s_lg) - np.searchsorted(s_lg_sorted, t, "left"), len(s_lg))
        curve.append({"threshold": t, "recall": float(r), "fpr": float(f)})
    m.threshold_curve = curve

    # --- per archetype
    groups: dict[str, list[str]] = {}
    for a, lab in labels.items():
        if a in inert or a in unobservable:
            continue
        groups.setdefault(lab.archetype or "(none)", []).append(a)
    for arch, accts in sorted(groups.items()):
        ab_acc = [a for a in accts if a in abusers]
        lg_acc = [a for a in accts if a in legit_set]
        row: dict[str, Any] = {
            "label": "abusive" if ab_acc and not lg_acc else "legit" if lg_acc and not ab_acc else "mixed",
            "accounts": len(accts),
            "abusive": len(ab_acc),
            "legit": len(lg_acc),
            "stopped": sum(1 for a in accts if a in stop_line),
            "throttled": sum(1 for a in accts if a in throttled),
        }
        lg_act = [a for a in lg_acc if a in active]
        row["legit_active"] = len(lg_act)
        row["stopped_abusive"] = sum(1 for a in ab_acc if a in stop_line)
        row["stopped_legit"] = sum(1 for a in lg_acc if a in stop_line)
        row["stopped_legit_active"] = sum(1 for a in lg_act if a in stop_line)
        row["recall"] = _ratio(row["stopped_abusive"], len(ab_acc))
        row["fpr"] = _ratio(row["stopped_legit"], len(lg_acc))
        row["fpr_active"] = _ratio(row["stopped_legit_active"], len(lg_act))
        if ab_acc:
            row.update(blast_stats(ab_acc))
            sent = sum(abusers[a].msgs + abusers[a].adds for a in ab_acc)
            row["blast_share"] = _ratio(row["blast_total"], sent)
            pr = [pre_rep[a] for a in ab_acc if a in pre_rep]
            row["pre_report"] = _ratio(sum(pr), len(pr))
            ar = [at_reg[a] for a in ab_acc if a in at_reg]
            row["at_registration"] = _ratio(sum(ar), len(ar))
            tt = [ttl[a] for a in ab_acc if a in ttl]
            row["time_to_stop_median"] = _pct(tt, 50)
            row["time_to_stop_p90"] = _pct(tt, 90)
        m.per_archetype[arch] = row
    m.worst_archetype, m.worst_archetype_recall = worst_archetype(m.per_archetype)

    abusers_with_msgs = sum(1 for ab in abusers.values() if ab.first_msg_line)
    m.detail = {
        "scores_abusive": s_ab,
        "scores_legit": s_lg,
        "time_to_stop": np.array(sorted(ttl.values()), dtype=float),
        "abusers_with_messages": abusers_with_msgs,
        "blast_by_archetype": {arch: [blast[a] for a in accts if a in abusers]
                               for arch, accts in sorted(groups.items())
                               if any(a in abusers for a in accts)},
        "pre_report": (sum(pre_rep.values()), len(pre_rep)),
        "at_registration": (sum(at_reg.values()), len(at_reg)),
    }
    m.elapsed_s = time.perf_counter() - t0
    return m


def worst_archetype(per_archetype: dict[str, dict[str, Any]]) -> tuple[str, float]:
    """The abusive archetype with the lowest recall (ties: more accounts first, then name).

    >>> worst_archetype({"a": {"abusive": 5, "recall": 0.8}, "b": {"abusive": 9, "recall": 0.8},
    ...                  "h": {"abusive": 0, "recall": float("nan")}})
    ('b', 0.8)
    >>> worst_archetype({})
    ('', nan)
    """
    cand = [(row["recall"], -row["abusive"], name) for name, row in per_archetype.items()
            if row.get("abusive") and not math.isnan(row["recall"])]
    if not cand:
        return "", math.nan
    r, _, name = min(cand)
    return name, float(r)


_POOLED_ROW_COUNTS = ("accounts", "abusive", "legit", "stopped", "throttled", "legit_active",
                      "stopped_abusive", "stopped_legit", "stopped_legit_active")


def pool(parts: list[Metrics], name: str = "") -> Metrics:
    """One :class:`Metrics` for several scenarios evaluated separately, as if they were one:
    counts are summed and rates recomputed from them; blast medians come from every abuser's
    blast radius; the threshold curve and AUC are left out (they need the raw scores)."""
    m = Metrics(name=name or " + ".join(p.name for p in parts), score_source="pooled")
    if not parts:
        return m
    for f in ("events_read", "events_accepted", "events_bad", "events_empty", "decisions",
              "violations_total", "abusive", "abusive_inert", "abusive_unobservable",
              "unobservable_stopped", "legit", "legit_active",
              "stopped_abusive", "stopped_legit", "stopped_legit_active", "stopped_unlabeled",
              "throttled_legit", "throttled_abusive", "reinstated", "blast_total",
              "blast_messages", "blast_group_adds", "abuser_messages", "abuser_group_adds",
              "abusers_registered", "business_abusive_messages", "business_abusive_rejected",
              "business_compliant_messages", "business_compliant_rejected",
              "legit_rejected_messages"):
        setattr(m, f, sum(getattr(p, f) for p in parts))
    for p in parts:
        for k, v in p.unobservable.items():
            m.unobservable[k] = m.unobservable.get(k, 0) + v
        for k, v in p.decisions_by_action.items():
            m.decisions_by_action[k] = m.decisions_by_action.get(k, 0) + v
        for k, v in p.violations.items():
            m.violations[k] = m.violations.get(k, 0) + v
    m.recall = _ratio(m.stopped_abusive, m.abusive)
    m.fpr = _ratio(m.stopped_legit, m.legit)
    m.fpr_active = _ratio(m.stopped_legit_active, m.legit_active)
    m.precision = _ratio(m.stopped_abusive, m.stopped_abusive + m.stopped_legit)
    m.throttle_rate_legit = _ratio(m.throttled_legit, m.legit)
    m.blast_share = _ratio(m.blast_total, m.abuser_messages + m.abuser_group_adds)
    m.business_abusive_reject_share = _ratio(m.business_abusive_rejected, m.business_abusive_messages)
    m.business_compliant_reject_share = _ratio(m.business_compliant_rejected,
                                               m.business_compliant_messages)
    for key in ("pre_report", "at_registration"):
        k = sum(p.detail.get(key, (0, 0))[0] for p in parts)
        n = sum(p.detail.get(key, (0, 0))[1] for p in parts)
        setattr(m, key, _ratio(k, n))
        m.detail[key] = (k, n)
    bba: dict[str, list[int]] = {}
    for p in parts:
        for arch, vals in p.detail.get("blast_by_archetype", {}).items():
            bba.setdefault(arch, []).extend(vals)
    allb = [v for vals in bba.values() for v in vals]
    m.blast_median, m.blast_p90 = _pct(allb, 50), _pct(allb, 90)
    m.detail["blast_by_archetype"] = bba
    rows: dict[str, dict[str, Any]] = {}
    for p in parts:
        for arch, row in p.per_archetype.items():
            r = rows.setdefault(arch, dict.fromkeys(_POOLED_ROW_COUNTS, 0) | {"label": row["label"]})
            for c in _POOLED_ROW_COUNTS:
                r[c] += row.get(c, 0)
            if r["label"] != row["label"]:
                r["label"] = "mixed"
    for arch, r in sorted(rows.items()):
        r["recall"] = _ratio(r["stopped_abusive"], r["abusive"])
        r["fpr"] = _ratio(r["stopped_legit"], r["legit"])
        r["fpr_active"] = _ratio(r["stopped_legit_active"], r["legit_active"])
        if arch in bba:
            r["blast_median"], r["blast_p90"] = _pct(bba[arch], 50), _pct(bba[arch], 90)
            r["blast_total"] = int(sum(bba[arch]))
        m.per_archetype[arch] = r
    m.worst_archetype, m.worst_archetype_recall = worst_archetype(m.per_archetype)
    m.elapsed_s = sum(p.elapsed_s for p in parts)
    return m
