"""The service's one seam to the engine: apply an event, read an account, preview a message.

Everything the service needs from ``bulkguard.engine`` goes through :class:`EngineAdapter`,
so that the engine's own interface can change in one place. The review events
(``reviewer_action``, ``appeal_granted``, ``challenge_passed``) are optional contract
events of ``bulkguard.events`` that the engine handles itself, as replay does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union

import msgspec

from bulkguard import __version__
from bulkguard.engine import MAX_REASONS, Engine
from bulkguard.events import (
    AnyEvent, AppealGranted, ChallengePassed, ReviewAction, ReviewerAction, Block, ContactAdd, ContactSync, Decision, Event, EventError, GroupCreate, GroupJoin,
    Message, OptIn, OptOut, Register, Report, TemplateRegister, Ts, decode_line, encode_event,
)
from bulkguard.explain import CODE_TEXT
from bulkguard.ingest.reorder import (
    DEFAULT_MAX_AHEAD, Reorder, ReorderState, default_max_window, first_actor, offer,
)
from bulkguard.policy import business as biz_policy
from bulkguard.policy.business import BusinessLane
from bulkguard.policy.forwarding import FORWARD_LIMIT, ForwardLimiter
from bulkguard.signals import NAMES, vector
from bulkguard.state.account import BAN, CHALLENGE, LEVEL_NAMES, NONE, SUSPEND, THROTTLE
from bulkguard.store.db import Versions
from bulkguard.types import StateSnapshot

#: Snapshot compatibility: the package version and the layout of the engine state.
STATE_FORMAT = 3   # 3: accounts count two-way chats, pairs count turns, clusters keep times
ENGINE_VERSION = f"bulkguard-{__version__}/state-{STATE_FORMAT}"

# The review events are contract events (``bulkguard.events``), handled by the engine; the
# service decodes and encodes them exactly as replay does (same limits, same error texts).
ServiceEvent = AnyEvent
decode_event = decode_line


@dataclass(frozen=True)
class Verdict:
    """The answer to ``POST /v1/check``."""

    verdict: Literal["deliver", "throttle", "refuse"]
    reasons: list[str]
    score: float
    action: str          # the sender's current ladder level


@dataclass
class Offered:
    """What one event put through :meth:`EngineAdapter.offer` caused."""

    refused: str | None = None   # the event itself refused at once (nothing changed)
    # events the clock stage released and the engine applied: (line, event, decisions)
    applied: list[tuple[int, ServiceEvent, list[Decision]]] = field(default_factory=list)
    # events the stage or the engine refused: (line, raw, reason); raw is empty when the
    # stage no longer kept it (the stored event is the record)
    dead: list[tuple[int, bytes, str]] = field(default_factory=list)


class EngineAdapter:
    """The engine as the service uses it, behind the same clock stage as ``replay``
    (``bulkguard.ingest.reorder``: robust stream time, far-ahead events refused, an optional
    reorder window). ``window`` 0 (the service's default) applies events as they come."""

    def __init__(self, rules_path: str | None = None, model_path: str | None = None,
                 window: float = 0.0, max_window: float | None = None,
                 max_ahead: float = DEFAULT_MAX_AHEAD) -> None:
        from bulkguard.components import load_components
        from bulkguard.scoring.rules import Rules
        rules = Rules.load(rules_path)
        self.engine = Engine(rules, **load_components(model_path))
        cap = default_max_window(window) if max_window is None else max_window
        self.stage: Reorder[ServiceEvent] = Reorder(window, max(max_ahead, cap), max_window=cap,
                                                    actor_of=first_actor)
        self.versions = Versions(rules=f"rules-{rules.digest[:12]}",
                                 model=self.engine.model_version,
                                 engine=ENGINE_VERSION)
        self._explain = {r.code: r.explain for r in rules.rules}

    # -- the path ------------------------------------------------------------------------------
    def offer(self, line: int, ev: ServiceEvent, raw: bytes) -> Offered:
        """Put one event through the clock stage (``reorder.offer``, the front door
        ``replay`` uses too) and apply what it releases, the review events included (the
        engine handles them: one path with replay)."""
        stage = self.stage
        out = Offered(refused=offer(stage, line, ev, raw))
        if out.refused is not None:
            return out
        for d in stage.dead:
            out.dead.append((d[1], d[3], d[4]))
        stage.dead.clear()
        eng = self.engine
        for h in stage.ready:
            try:
                out.applied.append((h.line, h.ev, list(eng.handle(h.ev, h.line))))
            except EventError as err:   # the stage refuses what the engine would; kept safe
                out.dead.append((h.line, b"", str(err)))
        stage.ready.clear()
        return out

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> StateSnapshot:
        """The engine's state and the clock stage's (its held events included)."""
        snap = self.engine.snapshot()
        snap["reorder"] = ReorderState(self.stage, [])
        return snap

    def restore(self, state: StateSnapshot) -> None:
        held = state.pop("reorder", None)
        self.engine.restore(state)
        if isinstance(held, ReorderState):
            self.stage = held.stage
            if self.stage.actor_of is None:
                self.stage.actor_of = first_actor

    @property
    def events(self) -> int:
        return self.engine.events

    def is_business(self, account: str) -> bool:
        lane = self.engine.lane
        return isinstance(lane, BusinessLane) and lane.is_business(account)

    def reason_text(self, code: str) -> str:
        return self._explain.get(code) or REASON_TEXT.get(code) or ""

    # -- reads ---------------------------------------------------------------------------------------
    def account_view(self, account: str) -> dict | None:
        """What the engine knows of ``account`` now (the online explanation)."""
        w = self.engine.world
        a = w.accounts.get(account)
        if a is None:
            return None
        v = vector(a, w)
        return {
            "account": account,
            "action": LEVEL_NAMES[a.level],
            "score": round(a.score, 4),
            "peak_score": round(a.peak, 4),
            "business": self.is_business(account),
            "reasons": [{"code": c, "explain": self.reason_text(c)} for c in a.reasons],
            "signals": {n: round(x, 4) for n, x in zip(NAMES, v) if x},
            "clock": w.now,
            "versions": {"rules": self.versions.rules, "model": self.versions.model,
                         "engine": self.versions.engine},
            # what `bulkguard explain` shows of the account now: fired rules with weights
            # and sentences, the model's probability and contributions in words
            "scoring": _scoring(self.engine, account),
        }

    def check(self, ev: Message) -> Verdict:
        """Would ``ev`` be delivered now? Reads state, changes nothing."""
        eng = self.engine
        w = eng.world
        now = max(ev.ts, w.now)
        a = w.accounts.get(ev.sender)
        level = a.level if a is not None else NONE
        score = round(a.score, 4) if a is not None else 0.0
        held = list(a.reasons[:MAX_REASONS - 1]) if a is not None else []
        if level == BAN:
            return Verdict("refuse", ["ACCOUNT_BANNED", *held], score, "ban")
        if level == SUSPEND:
            return Verdict("refuse", ["ACCOUNT_SUSPENDED", *held], score, "suspend")
        if level == CHALLENGE:
            return Verdict("refuse", ["CHALLENGE_REQUIRED", *held], score, "challenge")
        code = None
        lane = eng.lane
        if isinstance(lane, BusinessLane) and (ev.template is not None
                                               or lane.is_business(ev.sender)
                                               or lane.is_business(ev.recipient)):
            code = preview_lane(lane, ev, now)
        if code is None and ev.forwarded and isinstance(eng.forward, ForwardLimiter):
            code = preview_forward(eng.forward, ev, now)
        if code is not None:
            return Verdict("refuse", [code, *held], score, LEVEL_NAMES[level])
        if level == THROTTLE:
            return Verdict("throttle", ["ACCOUNT_THROTTLED", *held], score, "throttle")
        return Verdict("deliver", [], score, LEVEL_NAMES[level])




def preview_lane(lane: BusinessLane, ev: Message, now: float) -> str | None:
    """The code :meth:`BusinessLane.check_message` would return for ``ev``, without recording
    anything (no refusal counted, no window, tier or quality change)."""
    recipient = ev.recipient
    if recipient is not None and recipient in lane.biz:
        return None
    st = lane.biz.get(ev.sender)
    if st is None:
        return biz_policy.UNKNOWN_TEMPLATE if ev.template is not None else None
    if recipient is None:
        if ev.template is not None:
            return BusinessLane._template_code(st, ev.template, now)
        return None
    cfg = lane.config
    opened = st.windows.get(recipient)
    in_window = opened is not None and now < opened + cfg.window
    if not in_window:
        consent = st.consent.get(recipient)
        if consent is False:
            return biz_policy.OPTED_OUT
        if consent is None:
            return biz_policy.NO_OPTIN
        if ev.template is None:
            return biz_policy.OUTSIDE_WINDOW_NO_TEMPLATE
    if ev.template is not None:
        code = BusinessLane._template_code(st, ev.template, now)
        if code:
            return code
    if not in_window:
        limit = cfg.tiers[_tier_after_upgrade(lane, st, now)]
        if limit is not None:
            cutoff = now - cfg.tier_period
            # customers whose last send left the period but are not swept out yet
            expired = 0
            for ts, customer in st.recent_log:
                if ts > cutoff:
                    break
                if st.recent.get(customer) == ts:
                    expired += 1
            last = st.recent.get(recipient)
            live = len(st.recent) - expired
            if (last is None or last <= cutoff) and live >= limit:
                return biz_policy.TIER_LIMIT
    return None


def _tier_after_upgrade(lane: BusinessLane, st: biz_policy.BusinessState, now: float) -> int:
    """The tier ``check_message`` would use: ``_maybe_upgrade`` may raise it first."""
    cfg = lane.config
    if now - st.last_tier_check < cfg.upgrade_check_every:
        return st.tier
    limit = cfg.tiers[st.tier]
    if limit is None or st.tier + 1 >= len(cfg.tiers):
        return st.tier
    cutoff = now - cfg.upgrade_lookback
    week = sum(1 for c, t in st.week.items() if t > cutoff)
    if week < cfg.upgrade_fraction * limit:
        return st.tier
    if biz_policy._rating(biz_policy._rate(st.days, int(now // biz_policy.DAY), cfg), cfg) \
            == biz_policy.GREEN:
        return st.tier + 1
    return st.tier


def preview_forward(fl: ForwardLimiter, ev: Message, now: float) -> str | None:
    """The code :meth:`ForwardLimiter.check` would return, without recording the send."""
    if ev.forwarded <= 0 or ev.digest is None:
        return None
    cfg = fl.config
    chats = fl._sent.get((ev.sender, ev.digest))
    if not chats:
        return None
    chat = "u:" + ev.recipient if ev.recipient is not None else "g:" + (ev.group or "")
    cutoff = now - cfg.window
    live = [c for c, t in chats.items() if t > cutoff]
    if chat in live:
        return None
    limit = cfg.max_chats_highly if ev.forwarded >= cfg.highly_forwarded else cfg.max_chats
    return FORWARD_LIMIT if len(live) >= limit else None


#: Sentences for the codes that are not rules (policy refusals, the ways back): the
#: engine's glossary (``bulkguard.explain``), so the service and ``bulkguard explain`` agree.
REASON_TEXT: dict[str, str] = CODE_TEXT


__all__ = ["AnyEvent", "EngineAdapter", "ReviewerAction", "AppealGranted", "ChallengePassed",
           "ServiceEvent", "Verdict", "Versions", "decode_event", "encode_event",
           "preview_lane", "preview_forward", "ENGINE_VERSION"]


def _scoring(engine: Engine, account: str) -> object:
    """The ``now`` part of :func:`bulkguard.explain.explain_account`, as plain values."""
    from bulkguard.explain import explain_account
    ex = explain_account(engine, account)
    return msgspec.to_builtins(ex.now) if ex is not None and ex.now is not None else None
