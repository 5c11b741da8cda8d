"""The one path of bulkguard: event -> state -> signals -> score -> decision.

``Engine.handle(event, line)`` applies one event on event time and returns the
decisions it causes. ``line`` is the event's position in its input (a file's physical
line; the service's sequence number): decisions carry it. State lives in
:class:`~bulkguard.state.world.World`; signals read it; rules (and the model, if any)
score it; the action ladder turns a score into an action, and a decision is emitted only
when an account's action changes or a message is refused.

The engine reads no input and writes no output: a source feeds it (``ingest.sources``),
a sink takes its decisions (``store.decisions``), a checkpoint store keeps its
:meth:`Engine.snapshot` (``store.checkpoint``); ``ingest.replay`` composes them.

>>> from bulkguard.events import Register, ContactSync, Message
>>> eng = Engine()
>>> eng.handle(Register(ts=0.0, account="x", ip="192.0.2.1"), 1)
()
>>> eng.handle(ContactSync(ts=1.0, account="x", numbers=5000, matched=40), 2)[0].action
'challenge'
>>> out = []
>>> for i in range(12):
...     out += eng.handle(Message(ts=2.0 + i, sender="x", recipient=f"u{i}", digest="ab12"), 3 + i)
>>> [(d.line, d.action) for d in out]
[(10, 'suspend'), (12, 'ban')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final, Literal, assert_never, get_args

from msgspec.structs import astuple

from bulkguard import __version__
from bulkguard.events import (
    AppealGranted, ChallengePassed, ReviewerAction,
    Block, Event, ContactAdd, ContactSync, Decision, EventError, GroupCreate, GroupJoin, Message,
    MessageKind, OptIn, OptOut, Register, Report, TemplateRegister, target_error,
)
from bulkguard.scoring.calibration import Scorer, ladder_level, round4, to_score
from bulkguard.scoring.model import Model as TreeModel
from bulkguard.scoring.rules import Rules, reasons_of
from bulkguard.policy.appeals import RELIEF_SECONDS, Amnesty
from bulkguard.signals import NAMES, masked, vector
from bulkguard.state.account import BAN, CHALLENGE, MISSING, NONE, SUSPEND, THROTTLE, Account
from bulkguard.state.world import NEAR_SECONDS, World
from bulkguard.types import (
    ForwardPolicy, InputEvent, LanePolicy, Model, Observer, StateSnapshot, TextScorer,
)

SWEEP_EVERY: Final = 86_400.0      # event-time seconds between memory sweeps
REINSTATE_FACTOR: Final = 0.6      # a throttle lifts when the score falls under this share of its threshold
MAX_REASONS: Final = 6
#: The engine's version, carried by every decision (with the rules' and the model's).
ENGINE_VERSION: Final = f"bulkguard-{__version__}"
Action = Literal["throttle", "challenge", "suspend", "ban", "reinstate", "reject"]
# Compiled (mypyc), a Final alias is a C static; a name imported from a module that is not
# compiled is looked up in the module's dict at every use.
_MESSAGE: Final = Message
_CONTACT_ADD: Final = ContactAdd
_ASTUPLE: Final = astuple
_NO_DECISIONS: Final[tuple[Decision, ...]] = ()
# The contract's event types, known by their exact type: an isinstance test of a msgspec
# class that fails costs about 700 instructions compiled (the metaclass's __instancecheck__).
_EXACT: Final = frozenset(get_args(InputEvent))
# The order of a message's fields in ``_message`` and ``message_fields`` (a test holds it
# to ``Message``).
MESSAGE_FIELDS: Final = ("ts", "sender", "recipient", "group", "kind", "size", "forwarded",
                         "digest", "template", "typing_ms")
CONTACT_ADD_FIELDS: Final = ("ts", "account", "contact")   # of ``contact_add_fields``
# The action that brings an account to each ladder level; level 0 (none) is reached by reinstating.
ACTIONS: tuple[Action, ...] = ("reinstate", "throttle", "challenge", "suspend", "ban")
# The optional family each event type belongs to (what ``replay`` reports as seen).
FAMILY_OF: dict[type, str] = {
    Register: "register", ContactAdd: "contacts", ContactSync: "contacts", Report: "reports",
    Block: "blocks", GroupCreate: "groups", GroupJoin: "groups", OptIn: "business",
    OptOut: "business", TemplateRegister: "business",
}
_MSGS_TOTAL: Final = NAMES.index("msgs_total")


class Engine:
    """Streaming engine. ``rules`` default to the shipped file; every other part is
    optional: ``model`` (trained scorer), ``lane`` (business messaging policy),
    ``forward`` (forwarding limits), ``text`` (reported-text scorer), ``observer``
    (called at every re-score). ``components.build_engine`` makes the default one.
    """

    def __init__(self, rules: Rules | None = None, model: Model | None = None,
                 lane: LanePolicy | None = None, forward: ForwardPolicy | None = None,
                 text: TextScorer | None = None, observer: Observer | None = None,
                 model_version: str | None = None) -> None:
        self.rules = rules or Rules.default()
        self.model = model
        # the shipped kind of model: its probability called directly (compiled, no frame)
        self._scorer: Scorer | None = model.scorer if isinstance(model, TreeModel) else None
        self.lane = lane
        self.forward = forward
        self.text = text
        self.observer = observer  # observer(account, vector, events so far) at every re-score
        self.world = World()
        # accounts reinstated (or relieved by a passed challenge): what was judged, by id
        self.amnesty: dict[int, Amnesty] = {}
        # versions every decision carries: rules by digest, the model as its loader named it
        self.rules_version = f"rules-{self.rules.digest[:12]}"
        self.model_version = "none" if model is None else (model_version or "model-unnamed")
        # the lane's business accounts, looked at on every message (the lane keeps this dict)
        self._biz: Mapping[str, object] | None = lane.biz if lane is not None else None
        # decisions of the event being handled; ``handle`` hands them over and starts afresh
        self._out: list[Decision] = []
        self.events = 0
        self.rescored = 0
        # signals of families the platform does not provide: always unknown (NaN)
        self.masked: tuple[int, ...] = masked(self.rules.provides)
        self.seen: dict[str, int] = {}   # optional family -> events seen
        self.typed = 0                   # messages with ``typing_ms``

    @property
    def rules(self) -> Rules:
        return self._rules

    @rules.setter
    def rules(self, rules: Rules) -> None:
        # The rules' compiled functions, called directly at every re-score: compiled, a call
        # through a method of ``Rules`` (an interpreted class) runs an interpreted frame.
        self._rules = rules
        self._weigh, self._add_ok, self._clear_ok = rules.functions()
        self._add_always = not rules.model_add_when     # no gate: the model may always add
        self._clear_always = not rules.model_clear_when
        self._thresholds: tuple[float, ...] = rules.thresholds
        # the model's terms as native floats (``Rules`` is frozen): compiled, each read of an
        # attribute of ``Rules`` (an interpreted class) is a generic look-up and a float box
        self._model_weight: float = rules.model_weight
        self._model_floor: float = rules.model_floor
        self._model_cap: float = rules.model_cap
        self._model_clear: float = rules.model_clear
        self._model_clear_cap: float = rules.model_clear_cap
        self._reinstate_below: float = rules.thresholds[0] * REINSTATE_FACTOR

    # -- state for checkpoints ------------------------------------------------------------------
    def snapshot(self) -> StateSnapshot:
        """The mutable state (rules, model and classifiers are reloaded, not saved)."""
        return {"world": self.world, "events": self.events, "lane": self.lane,
                "forward": self.forward, "seen": self.seen, "typed": self.typed,
                "amnesty": self.amnesty}

    def restore(self, snap: StateSnapshot) -> None:
        self.world = snap["world"]
        self.events = snap["events"]
        self.lane = snap["lane"]
        self.forward = snap["forward"]
        self.seen = snap["seen"]
        self.typed = snap["typed"]
        self.amnesty = snap.get("amnesty") or {}
        self._biz = self.lane.biz if self.lane is not None else None

    def families_seen(self) -> dict[str, int]:
        """Events seen per optional family (``typing``: messages carrying ``typing_ms``)."""
        out = dict(self.seen)
        if self.typed:
            out["typing"] = self.typed
        return out

    # -- the path -----------------------------------------------------------------------------------
    def handle(self, ev: InputEvent, line: int) -> Sequence[Decision]:
        """Apply one event (at input position ``line``) and return the decisions it causes,
        in order: a new list, or (for most events) an empty tuple, which costs nothing.

        A message with neither or both of ``recipient`` and ``group`` raises
        :class:`~bulkguard.events.EventError` and changes nothing."""
        # One branch per type of the closed union: a new event type without a branch
        # fails in mypy (``assert_never``). A chain of type tests, not a dict of bound
        # methods: compiled, these are direct calls.
        w = self.world
        if type(ev) is _CONTACT_ADD:
            # the commonest event after messages, by its exact type first (see ``_EXACT``);
            # subclasses take the chain
            ts = self._count(ev)
            w.on_contact_add(ev)
        elif (type(ev) is _MESSAGE or type(ev) not in _EXACT) and isinstance(ev, _MESSAGE):
            # Every field in one C call: from compiled code each attribute read of a msgspec
            # struct is a generic look-up, and a message would need about fifteen of them.
            ts, sender, recipient, group, kind, size, forwarded, digest, template, typing_ms = \
                _ASTUPLE(ev)
            self._message(line, ev, ts, sender, recipient, group, kind, size, forwarded, digest,
                          template, typing_ms)
            return self._after(line, ts)
        else:
            ts = self._count(ev)
            # the commoner types first: each isinstance test that fails costs (see ``_EXACT``)
            if isinstance(ev, GroupJoin):
                self._group_join(line, ev)
            elif isinstance(ev, (OptIn, OptOut, TemplateRegister)):
                self._policy_event(line, ev)
            elif isinstance(ev, Block):
                self._block(line, ev)
            elif isinstance(ev, Register):
                self._register(line, ev)
            elif isinstance(ev, GroupCreate):
                self.rescore(w.on_group_create(ev), line, ts)
            elif isinstance(ev, ContactSync):
                self.rescore(w.on_contact_sync(ev), line, ts)
            elif isinstance(ev, Report):
                self._report(line, ev)
            elif isinstance(ev, ContactAdd):   # a subclass: the type itself is taken above
                w.on_contact_add(ev)
            elif isinstance(ev, ReviewerAction):
                self._review(line, ev)
            elif isinstance(ev, AppealGranted):
                self._appeal(line, ev)
            elif isinstance(ev, ChallengePassed):
                self._challenge_passed(line, ev)
            elif not isinstance(ev, _MESSAGE):   # a message took the branch above
                assert_never(ev)
        return self._after(line, ts)

    def message_fields(self, line: int, ts: float, sender: str, recipient: str | None,
                       group: str | None, kind: MessageKind | None, size: int | None,
                       forwarded: int, digest: str | None, template: str | None,
                       typing_ms: int | None) -> Sequence[Decision]:
        """``handle`` of the message with these fields (in ``MESSAGE_FIELDS`` order), with
        no ``Message`` built unless a policy or an error needs one: ``replay --workers 2``
        gets messages from its records this way. Same decisions, same errors."""
        self._message(line, None, ts, sender, recipient, group, kind, size, forwarded, digest,
                      template, typing_ms)
        return self._after(line, ts)

    def contact_add_fields(self, line: int, ts: float, account: str,
                           contact: str) -> Sequence[Decision]:
        """``handle`` of the contact_add with these fields, none built (as
        ``message_fields``)."""
        self.events += 1
        w = self.world
        if ts > w.now:
            w.now = ts
        self.seen["contacts"] = self.seen.get("contacts", 0) + 1   # FAMILY_OF[ContactAdd]
        w.set_contact(account, contact, True)   # w.on_contact_add
        return self._after(line, ts)

    def _after(self, line: int, ts: float) -> Sequence[Decision]:
        """What follows every event (at ``ts``): follow-ups due, the memory sweep; the
        event's decisions."""
        w = self.world
        if w.now >= w.next_due:
            self._follow_ups(line, ts)
        if w.now - w.last_sweep >= SWEEP_EVERY:
            if w.last_sweep == 0.0:
                w.last_sweep = w.now
            else:
                w.sweep()
                if self.amnesty:   # forget what was judged of accounts the sweep let go
                    remap = w.renumbered   # the sweep may have renumbered the ids
                    if remap is not None:
                        self.amnesty = {remap[i]: am for i, am in self.amnesty.items()
                                        if remap[i] >= 0}
                    ids = {a.id for a in w.accounts.values()}
                    self.amnesty = {i: am for i, am in self.amnesty.items() if i in ids}
        out = self._out
        if out:
            self._out = []
            return out
        return _NO_DECISIONS

    def _count(self, ev: Event) -> float:
        """Count an event other than a message and move the clock to it; its time."""
        self.events += 1
        w = self.world
        ts = ev.ts
        if ts > w.now:
            w.now = ts
        fam = FAMILY_OF.get(type(ev))
        if fam is not None:
            self.seen[fam] = self.seen.get(fam, 0) + 1
        return ts

    def _message(self, line: int, ev: Message | None, ts: float, sender: str,
                 recipient: str | None, group: str | None, kind: MessageKind | None,
                 size: int | None, forwarded: int, digest: str | None, template: str | None,
                 typing_ms: int | None) -> None:
        """A message, as its fields; ``ev`` is the message itself, or None (then it is built
        only where a policy or an error needs it)."""
        if (recipient is None) is (group is None):   # before anything changes
            if ev is None:
                ev = _MESSAGE(ts, sender, recipient, group, kind, size, forwarded, digest,
                              template, typing_ms)
            raise EventError(target_error(ev) or "")
        self.events += 1
        w = self.world
        if ts > w.now:
            w.now = ts
        # The one routing of a message through the policies (``business status`` counts the
        # refusals this writes): the business lane first, as a refused message is not
        # delivered and so must not count as a forwarded chat; then forwarding limits.
        code = None
        biz = self._biz
        lane = self.lane
        if (biz is not None and lane is not None
                and (template is not None or sender in biz or recipient in biz)):
            if ev is None:
                ev = _MESSAGE(ts, sender, recipient, group, kind, size, forwarded, digest,
                              template, typing_ms)
            code = lane.check_message(ev, w.now)
            if code is None and sender in biz:
                # a business the ladder suspended or banned sends nothing more, message by message
                b = w.accounts.get(sender)
                if b is not None and b.level >= SUSPEND:
                    code = "ACCOUNT_SUSPENDED"
        if code is None and forwarded and self.forward is not None:
            if ev is None:
                ev = _MESSAGE(ts, sender, recipient, group, kind, size, forwarded, digest,
                              template, typing_ms)
            code = self.forward.check(ev, w.now)
        if typing_ms is not None:
            self.typed += 1
        a = w.message(sender, recipient, kind, forwarded, digest, typing_ms)
        if w.grown:
            self._regroup(line, ts)
        if code is not None and sender:
            s = a if a is not None else w.accounts[sender]
            self._decide(line, ts, sender, "reject", s.score, [code, *s.reasons[:MAX_REASONS - 1]])
            s.violations += 1
            a = s
        if a is not None:
            self.rescore(a, line, ts)

    def _register(self, line: int, ev: Register) -> None:
        if self.lane is not None:
            self.lane.observe(ev, self.world.now)
        self.rescore(self.world.on_register(ev), line, ev.ts)

    def _group_join(self, line: int, ev: GroupJoin) -> None:
        a = self.world.on_group_join(ev)
        if a is not None:
            self.rescore(a, line, ev.ts)

    def _report(self, line: int, ev: Report) -> None:
        if self.lane is not None:
            self.lane.observe(ev, self.world.now)
        a, reporter = self.world.on_report(ev)
        if a is not None:
            if ev.messages and self.text is not None:
                p = self.text.score_messages(ev.messages)
                if p > a.report_text:
                    a.report_text = p
            self.rescore(a, line, ev.ts)
        self.rescore(reporter, line, ev.ts)
        if self.world.grown:
            self._regroup(line, ev.ts)

    def _follow_ups(self, line: int, ts: float) -> None:
        """Re-score the accounts whose follow-up is due (an hour after a burst of new chats):
        whether the recipients answered is known only once they had time to."""
        w = self.world
        for aid in w.due_now():
            s = w.by_id[aid]
            if s is not None:
                self.rescore(s, line, ts)   # stopped ones too: the evidence may have grown

    def _regroup(self, line: int, ts: float) -> None:
        """Re-score the members of groups that just grew (a content family sent by more
        accounts, more strangers reporting one account): the early members are judged
        again as part of the group. Bounded: 64 members, at nine sizes per group."""
        w = self.world
        groups, w.grown = w.grown, []
        by_id = w.by_id
        for members in groups:
            for m in list(members):
                s = by_id[m]
                if s is not None:
                    self.rescore(s, line, ts)

    def _block(self, line: int, ev: Block) -> None:
        if self.lane is not None:
            self.lane.observe(ev, self.world.now)
        a = self.world.on_block(ev)
        if a is not None:
            self.rescore(a, line, ev.ts)

    def _policy_event(self, line: int, ev: OptIn | OptOut | TemplateRegister) -> None:
        if self.lane is not None:
            self.lane.observe(ev, self.world.now)
        if isinstance(ev, (OptIn, OptOut)):
            # a customer who opted in added the business as a contact, until it opts out
            self.world.set_contact(ev.customer, ev.business, isinstance(ev, OptIn))

    # -- scoring and the ladder ----------------------------------------------------------------
    def _evidence(self, v: list[float]) -> tuple[float, float]:
        """Summed evidence of rules and model for signal vector ``v``, and the model's p (-1: none)."""
        evidence = self._weigh(v)   # rules.weight_of(v)
        p = -1.0
        weight = self._model_weight   # rules.model_weight, and so on
        if self.model is not None and weight > 0.0:
            sc = self._scorer
            p = sc.probability(v) if sc is not None else self.model.probability(v)
            # (the gates: rules.may_add(v), rules.may_clear(v))
            if p >= self._model_floor and (self._add_always or self._add_ok(v) > 0.0):
                evidence += min(-math.log(max(1.0 - p, 1e-9)) * weight, self._model_cap)
            elif p < self._model_clear and (self._clear_always or self._clear_ok(v) > 0.0):
                # a confident "legitimate" lowers weak rule evidence (never below -clear_cap),
                # only where behaviour shows it (``[model] clear_when``), never for lack of data
                evidence -= min(math.log(self._model_clear / max(p, 1e-9)),
                                self._model_clear_cap)
        return evidence, p

    def _reasons(self, v: list[float], p: float) -> list[str]:
        """Reason codes for ``v``: fired rules and the model's top features, heaviest first.
        Only computed when a decision is written."""
        reasons = reasons_of(self.rules.evidence(v)[1])
        if self.model is not None and p >= self.rules.model_floor and p >= 0.0 \
                and self.rules.may_add(v):
            # rules outrank the model: its codes follow the fired rules, whatever their weights
            reasons += [c for c in reasons_of(self.model.reasons(v, p)) if c not in reasons]
        return reasons[:MAX_REASONS]

    def rescore(self, a: Account, line: int, ts: float) -> None:
        """Recompute ``a``'s score and move it on the ladder, emitting a decision on change."""
        a.since_score = 0
        if a.level == BAN:
            return  # nothing above a ban; only an appeal (``reinstate``) moves it
        name = self.world.names[a.id]
        if not name:
            return  # an empty identifier is a valid event but no account to act on
        self.rescored += 1
        v = vector(a, self.world)
        if self.amnesty:
            am = self.amnesty.get(a.id)
            if am is not None:
                if am.until is not None and a.level == SUSPEND and self.world.now >= am.until:
                    # a reviewer's suspension has run out
                    am.until = None
                    a.level = NONE
                    a.reasons = ()
                    self._decide(line, ts, name, "reinstate", a.score, ["SUSPENSION_ENDED"])
        v = self.judged(a, v)
        if self.observer is not None:
            self.observer(name, v, self.events)
        evidence, p = self._evidence(v)
        score = to_score(evidence)
        a.score = score
        if score > a.peak:
            a.peak = score
        level = ladder_level(self._thresholds, score)   # self.rules.level(score)
        if level > a.level:
            reasons = self._reasons(v, p)
            a.level = level
            a.reasons = tuple(reasons)
            self._decide(line, ts, name, ACTIONS[level], score, reasons)
            if level >= CHALLENGE and not a.counted:
                self._raise_siblings(a, line, ts)
        elif a.level == THROTTLE and score < self._reinstate_below:   # thresholds[0] * 0.6
            a.level = NONE
            a.reasons = ()
            self._decide(line, ts, name, "reinstate", score, ["SCORE_RECOVERED"])

    def _raise_siblings(self, a: Account, line: int, ts: float) -> None:
        """A stopped account raises the accounts registered on its IP, device or number block
        close in time to it, and the accounts sending its content families to strangers.

        Siblings registered within a day of ``a`` are re-scored now (their ``cluster_flagged``
        signal went up); one level of propagation per stop, bounded by the members each
        cluster remembers. Accounts registered long before or after ``a``, and established
        accounts (two-way chats with several people), get no evidence from it: an attacker
        who registers throwaways on a victim's IP, device or number block and gets them
        stopped must not stop the victim.

        Content-family members are re-scored too (their ``family_flagged`` went up): a farm
        linked by nothing but what it sends is stopped as a group; so are its lockstep peers
        (``lockstep_flagged``: accounts that reached the same strangers at the same time). Established accounts get
        no evidence from that either (``family_flagged`` is 0 for them), so copying someone's
        text and getting stopped does not frame them. Bounded by the 64 members a family
        remembers and the 4 families an account keeps.
        """
        a.counted = True
        w = self.world
        siblings: list[int] = []
        reg = a.reg_ts
        for c in w.clusters_of(a):
            c.stop(reg)
            times = c.times
            for i, m in enumerate(c.members):
                if m != a.id and abs(times[i] - reg) <= NEAR_SECONDS:
                    siblings.append(m)
        for f in w.families_of(a):
            f.flagged += 1
            siblings.extend(m for m in f.members if m != a.id)
        siblings.extend(w.peers_of(a.id))   # lockstep peers: their lockstep_flagged went up
        names = w.names
        for sid in dict.fromkeys(siblings):   # each once, in registration order
            s = w.accounts.get(names[sid])
            if s is not None and s.level < CHALLENGE and not w.established(s):
                self.rescore(s, line, ts)

    def judged(self, a: Account, v: list[float]) -> list[float]:
        """The signal vector ``v`` of ``a`` as rules and model score it: what was judged at a
        reinstatement taken off (``policy.appeals``), families the stream lacks unknown."""
        if self.amnesty:
            am = self.amnesty.get(a.id)
            if am is not None:
                v = am.adjust(v, self.world.now)
        for i in self.masked:   # families the stream lacks stay unknown, amnesty or not
            v[i] = MISSING
        return v

    def _decide(self, line: int, ts: float, account: str, action: Action, score: float,
                reasons: list[str], note: str | None = None) -> None:
        self._out.append(Decision(line, ts, account, action, round4(score), reasons, note,
                                  self.rules_version, self.model_version, ENGINE_VERSION))

    # -- the ways back (one path: the review events, and ``reinstate`` through them) -----------
    def reinstate(self, account: str, line: int, ts: float,
                  note: str | None = None) -> Decision | None:
        """An appeal of ``account`` was granted: the same as handling an ``appeal_granted``
        event at ``line`` (the clock moves, the event counts). Its ``reinstate`` decision,
        or None when there was no action to lift."""
        out = self.handle(AppealGranted(ts=ts, account=account, note=note), line)
        return out[0] if out else None

    def _review(self, line: int, ev: ReviewerAction) -> None:
        if not ev.account:
            return
        code = "REVIEWER_" + ev.action.upper()
        if ev.action == "reinstate" or ev.action == "allow":
            self._lift(line, ev.ts, ev.account, code, ev.note)
            return
        a = self.world.account(ev.account)
        level = BAN if ev.action == "ban" else SUSPEND
        am = self.amnesty.get(a.id)
        if ev.action == "suspend" and (ev.until is not None or am is not None):
            if am is None:
                am = self.amnesty[a.id] = Amnesty(None, self.world.now, 0.0, [])
            am.until = ev.until
        if a.level == level:
            return
        a.level = level
        a.reasons = (code,)
        self._decide(line, ev.ts, ev.account, ACTIONS[level], a.score, [code], ev.note)

    def _appeal(self, line: int, ev: AppealGranted) -> None:
        if ev.account:
            self._lift(line, ev.ts, ev.account, "APPEAL_GRANTED", ev.note)

    def _challenge_passed(self, line: int, ev: ChallengePassed) -> None:
        """A person is there: a throttle or challenge is lifted, and the timing and
        automation signals count less for a while (a suspension or ban stays)."""
        a = self.world.accounts.get(ev.account)
        if a is None or not ev.account or a.level >= SUSPEND:
            return
        if a.level > NONE:
            self._lift(line, ev.ts, ev.account, "CHALLENGE_PASSED", None)
        am = self.amnesty.get(a.id)
        if am is None:
            am = self.amnesty[a.id] = Amnesty(None, self.world.now, 0.0,
                                              vector(Account(a.id), self.world))
        am.relief_until = self.world.now + RELIEF_SECONDS

    def _lift(self, line: int, ts: float, account: str, code: str, note: str | None) -> None:
        """Lift any action on ``account`` and judge what it did so far: from now on only new
        evidence counts, and the ladder starts again from the bottom."""
        w = self.world
        a = w.accounts.get(account)
        if a is None:
            return
        v = vector(a, w)
        old = self.amnesty.get(a.id)
        am = Amnesty(v, w.now, v[_MSGS_TOTAL], vector(Account(a.id), w),
                     old.relief_until if old is not None else -1.0)
        self.amnesty[a.id] = am
        if a.level == NONE:
            return
        a.level = NONE
        a.reasons = ()
        a.score = to_score(self._evidence(self.judged(a, list(v)))[0])
        self._decide(line, ts, account, "reinstate", a.score, [code], note)
