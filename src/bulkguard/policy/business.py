"""The sanctioned business lane: consent, customer-service windows, messaging tiers,
quality ratings and template pausing (docs/business-lane.md has every rule).

The engine feeds every ``register``, ``template_register``, ``optin``, ``optout``,
``block`` and ``report`` event to :meth:`BusinessLane.observe`, and asks
:meth:`BusinessLane.check_message` about every message that involves a business or
names a template. ``now`` is always the engine's event-time clock.

>>> from bulkguard.events import Register, TemplateRegister, OptIn, Message
>>> lane = BusinessLane()
>>> lane.observe(Register(ts=0, account="shop", kind="business"), 0)
>>> lane.observe(TemplateRegister(ts=1, business="shop", template="promo",
...                               category="marketing"), 1)
>>> lane.check_message(Message(ts=2, sender="shop", recipient="ann", template="promo"), 2)
'NO_OPTIN'
>>> lane.observe(OptIn(ts=3, business="shop", customer="ann"), 3)
>>> lane.check_message(Message(ts=4, sender="shop", recipient="ann", template="promo"), 4)
>>> lane.check_message(Message(ts=5, sender="shop", recipient="ann"), 5)
'OUTSIDE_WINDOW_NO_TEMPLATE'
>>> lane.check_message(Message(ts=6, sender="ann", recipient="shop"), 6)  # opens a window
>>> lane.check_message(Message(ts=7, sender="shop", recipient="ann"), 7)
>>> lane.violations("shop")
2
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from bulkguard.events import Block, Event, Message, OptIn, OptOut, Register, Report, TemplateRegister

DAY = 86_400.0
HOUR = 3_600.0

# Stable policy codes (the first reason of a `reject` decision).
NO_OPTIN = "NO_OPTIN"
OPTED_OUT = "OPTED_OUT"
OUTSIDE_WINDOW_NO_TEMPLATE = "OUTSIDE_WINDOW_NO_TEMPLATE"
UNKNOWN_TEMPLATE = "UNKNOWN_TEMPLATE"
TEMPLATE_PAUSED = "TEMPLATE_PAUSED"
TEMPLATE_DISABLED = "TEMPLATE_DISABLED"
TIER_LIMIT = "TIER_LIMIT"
FORWARD_LIMIT = "FORWARD_LIMIT"

#: Every code, in precedence order (the first that applies is returned).
POLICY_CODES: tuple[str, ...] = (
    OPTED_OUT, NO_OPTIN, OUTSIDE_WINDOW_NO_TEMPLATE,
    UNKNOWN_TEMPLATE, TEMPLATE_DISABLED, TEMPLATE_PAUSED,
    TIER_LIMIT, FORWARD_LIMIT,
)

GREEN, YELLOW, RED = "GREEN", "YELLOW", "RED"


@dataclass(frozen=True)
class BusinessConfig:
    """Every number of the business lane; the defaults are the documented policy."""

    #: Customer-service window opened (and reset) by each customer -> business message.
    window: float = 24 * HOUR
    #: A window is kept this long after it closed, so that a reply delivered late (after
    #: the clock passed the window's end) is judged at its own time.
    late_grace: float = HOUR
    #: Messaging-limit tiers: distinct customers a business may message outside a
    #: window in a moving ``tier_period``; ``None`` is unlimited. New businesses start at index 0.
    tiers: tuple[Optional[int], ...] = (250, 2_000, 10_000, 100_000, None)
    tier_period: float = 24 * HOUR
    #: Tier growth: look-back for "used at least ``upgrade_fraction`` of its limit".
    upgrade_lookback: float = 7 * DAY
    upgrade_fraction: float = 0.5
    #: Tier growth is evaluated at most once per this much event time.
    upgrade_check_every: float = 6 * HOUR
    #: Quality: weight of the negative feedback and delivered messages of a day by its
    #: age in days (index 0 = today). Its length is the quality look-back (7 days).
    day_weights: tuple[float, ...] = (1.0, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7)
    block_weight: float = 1.0
    report_weight: float = 2.0
    #: Rate = weighted negative feedback / max(weighted delivered, min_volume).
    min_volume: float = 100.0
    yellow_rate: float = 0.02
    red_rate: float = 0.05
    #: Pauses of a template that turns RED: first, second; the next RED disables it.
    pause_ladder: tuple[float, ...] = (3 * HOUR, 6 * HOUR)
    #: Expired state is swept out once per this much event time.
    sweep_every: float = HOUR
    #: Retention (README, "Retention"): consent recorded for an account not (yet) a
    #: business, and per-account refusal counts, are kept this long after their last event;
    pending_keep: float = 30 * DAY
    #: a business is forgotten (state, templates, consents) after this long without any
    #: event or message of its own or to it.
    business_keep: float = 365 * DAY

    @property
    def quality_lookback(self) -> float:
        return len(self.day_weights) * DAY

    def __reduce__(self) -> tuple:
        # compiled (mypyc), a frozen dataclass cannot be unpickled field by field
        return BusinessConfig, tuple(getattr(self, f.name) for f in fields(self))


@dataclass(slots=True)
class TemplateState:
    category: Optional[str] = None
    strikes: int = 0             # times the template turned RED
    paused_until: float = float("-inf")
    disabled: bool = False
    # day index -> [delivered, weighted negative feedback]
    days: dict[int, list[float]] = field(default_factory=dict)


@dataclass(slots=True)
class BusinessState:
    created: float
    last: float = float("-inf")   # its last event or message, either way (for retention)
    tier: int = 0
    last_tier_check: float = 0.0
    templates: dict[str, TemplateState] = field(default_factory=dict)
    # customer -> True (opted in) / False (opted out)
    consent: dict[str, bool] = field(default_factory=dict)
    # customer -> ts of their last message to the business (window opened/reset)
    windows: dict[str, float] = field(default_factory=dict)
    # customers messaged outside a window: customer -> last ts, with a (ts, customer) log
    recent: dict[str, float] = field(default_factory=dict)
    recent_log: deque = field(default_factory=deque)
    week: dict[str, float] = field(default_factory=dict)
    week_log: deque = field(default_factory=deque)
    # customer -> [ts, template or None, blocked already counted, reported already counted]
    last_sent: dict[str, list[Any]] = field(default_factory=dict)
    days: dict[int, list[float]] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)


def _rate(days: dict[int, list[float]], today: int, cfg: BusinessConfig) -> float:
    delivered = negative = 0.0
    weights = cfg.day_weights
    for day, (d, n) in days.items():
        age = today - day
        if 0 <= age < len(weights):
            delivered += weights[age] * d
            negative += weights[age] * n
    return negative / max(delivered, cfg.min_volume, 1e-9)


def _rating(rate: float, cfg: BusinessConfig) -> str:
    if rate >= cfg.red_rate:
        return RED
    if rate >= cfg.yellow_rate:
        return YELLOW
    return GREEN


def _bump(days: dict[int, list[float]], day: int, idx: int, amount: float) -> None:
    slot = days.get(day)
    if slot is None:
        slot = days[day] = [0.0, 0.0]
    slot[idx] += amount


class BusinessLane:
    """State and rules of the business lane. Plain picklable objects, bounded by expiry."""

    def __init__(self, config: BusinessConfig | None = None) -> None:
        self.config = config or BusinessConfig()
        self.biz: dict[str, BusinessState] = {}
        # consent recorded for accounts not (yet) known as businesses, and the time of the
        # last one per account (in time order: re-inserted on each)
        self._pending_consent: dict[str, dict[str, bool]] = {}
        self._pending_last: dict[str, float] = {}
        self._violations: dict[str, int] = {}
        self._violations_last: dict[str, float] = {}   # in time order, as _pending_last
        self._next_sweep = float("-inf")

    # ------------------------------------------------------------------ queries
    def is_business(self, account: str | None) -> bool:
        return account in self.biz

    def businesses(self) -> list[str]:
        return list(self.biz)

    def violations(self, account: str) -> int:
        """Messages of ``account`` refused by the lane so far (forgotten ``pending_keep``
        after its last refusal)."""
        return self._violations.get(account, 0)

    def refusals(self, account: str) -> dict[str, int]:
        """Refusals of a business's messages by policy code."""
        st = self.biz.get(account)
        return dict(st.refusals) if st else {}

    def tier(self, account: str) -> int:
        """Index of the current tier in ``config.tiers`` (0 for a new business)."""
        return self.biz[account].tier

    def tier_limit(self, account: str) -> Optional[int]:
        """Current messaging limit (``None`` = unlimited)."""
        return self.config.tiers[self.biz[account].tier]

    def quality(self, account: str, now: float, template: str | None = None) -> str:
        """``GREEN``, ``YELLOW`` or ``RED`` of a business, or of one of its templates."""
        st = self.biz[account]
        days = st.days if template is None else st.templates[template].days
        return _rating(_rate(days, int(now // DAY), self.config), self.config)

    def feedback_rate(self, account: str, now: float, template: str | None = None) -> float:
        st = self.biz[account]
        days = st.days if template is None else st.templates[template].days
        return _rate(days, int(now // DAY), self.config)

    def template_status(self, account: str, template: str, now: float) -> str:
        """``active``, ``paused`` or ``disabled``."""
        t = self.biz[account].templates[template]
        if t.disabled:
            return "disabled"
        return "paused" if now < t.paused_until else "active"

    def templates(self, account: str) -> dict[str, TemplateState]:
        return dict(self.biz[account].templates)

    def open_windows(self, account: str, now: float) -> int:
        w = self.config.window
        return sum(1 for t in self.biz[account].windows.values() if now < t + w)

    def window_open(self, business: str, customer: str, now: float) -> bool:
        st = self.biz.get(business)
        if st is None:
            return False
        t = st.windows.get(customer)
        return t is not None and now < t + self.config.window

    def customers_outside_window(self, account: str, now: float) -> int:
        """Distinct customers messaged outside a window in the moving tier period."""
        st = self.biz[account]
        self._expire(st.recent, st.recent_log, now - self.config.tier_period)
        return len(st.recent)

    def opted_in(self, account: str) -> int:
        return sum(1 for v in self.biz[account].consent.values() if v)

    # ------------------------------------------------------------------ events
    def _state(self, account: str, now: float) -> BusinessState:
        st = self.biz.get(account)
        if st is None:
            st = self.biz[account] = BusinessState(created=now, last_tier_check=now)
            pending = self._pending_consent.pop(account, None)
            self._pending_last.pop(account, None)
            if pending:
                st.consent.update(pending)
        st.last = now
        return st

    def observe(self, ev: Event, now: float) -> None:
        """Update state from a register / template / consent / block / report event."""
        if now >= self._next_sweep:
            self.sweep(now)
        if isinstance(ev, Register):
            if ev.kind == "business":
                self._state(ev.account, now)
            elif ev.account in self.biz:  # re-registered as personal: keep consent only
                st = self.biz.pop(ev.account)
                if st.consent:
                    self._pending_consent[ev.account] = st.consent
                    self._pending_last[ev.account] = now
        elif isinstance(ev, TemplateRegister):
            st = self._state(ev.business, now)  # templates exist only for businesses
            t = st.templates.get(ev.template)
            if t is None:
                st.templates[ev.template] = TemplateState(category=ev.category)
            elif ev.category is not None:
                t.category = ev.category  # re-registering never clears strikes
        elif isinstance(ev, (OptIn, OptOut)):
            value = isinstance(ev, OptIn)
            known = self.biz.get(ev.business)
            if known is not None:
                known.last = now
                consent = known.consent
            else:
                consent = self._pending_consent.setdefault(ev.business, {})
                self._pending_last.pop(ev.business, None)   # re-insert: kept in time order
                self._pending_last[ev.business] = now
            consent[ev.customer] = value
        elif isinstance(ev, Block):
            self._feedback(ev.blocked, ev.blocker, 2, self.config.block_weight, now)
        elif isinstance(ev, Report):
            self._feedback(ev.reported, ev.reporter, 3, self.config.report_weight, now)

    def _feedback(self, business: str, customer: str, flag: int, weight: float,
                  now: float) -> None:
        st = self.biz.get(business)
        if st is None:
            return
        sent = st.last_sent.get(customer)
        if sent is None or now - sent[0] >= self.config.quality_lookback or sent[flag]:
            return  # not a recipient in the look-back, or already counted for this message
        sent[flag] = True
        day = int(now // DAY)
        _bump(st.days, day, 1, weight)
        name = sent[1]
        t = st.templates.get(name) if name is not None else None
        if t is None:
            return
        _bump(t.days, day, 1, weight)
        if t.disabled or now < t.paused_until:
            return
        if _rating(_rate(t.days, day, self.config), self.config) == RED:
            t.strikes += 1
            ladder = self.config.pause_ladder
            if t.strikes > len(ladder):
                t.disabled = True
            else:
                t.paused_until = now + ladder[t.strikes - 1]

    # ------------------------------------------------------------------ messages
    def check_message(self, ev: Message, now: float) -> str | None:
        """Return the policy code refusing ``ev``, or ``None`` (then it is recorded as delivered)."""
        if now >= self._next_sweep:
            self.sweep(now)
        recipient = ev.recipient
        # A late message (``ts`` before the clock: it came after later ones) is judged at its
        # own time against the customer-service window, and a late customer message opens
        # the window from its own time: lateness alone never refuses a business's reply.
        ts = ev.ts
        t = ts if ts < now else now
        if recipient is not None and recipient in self.biz:
            # customer -> business: never refused; opens or resets the window
            target = self.biz[recipient]
            target.last = now
            windows = target.windows
            prev = windows.get(ev.sender)
            if prev is None or t >= prev:
                # re-insert: the dict stays in time order (a late one at most its lateness off)
                windows.pop(ev.sender, None)
                windows[ev.sender] = t
            return None
        st = self.biz.get(ev.sender)
        if st is None:
            if ev.template is not None:
                return self._refuse(ev.sender, None, UNKNOWN_TEMPLATE, now)
            return None
        st.last = now
        if recipient is None:  # business -> group: only the template must be valid
            if ev.template is not None:
                code = self._template_code(st, ev.template, now)
                if code:
                    return self._refuse(ev.sender, st, code, now)
            return None
        return self._business_to_customer(ev.sender, st, recipient, ev.template, now, t)

    def _business_to_customer(self, business: str, st: BusinessState, customer: str,
                              template: str | None, now: float, t: float) -> str | None:
        """``t``: the message's own time (``now`` unless it came late)."""
        cfg = self.config
        opened = st.windows.get(customer)
        in_window = opened is not None and t < opened + cfg.window
        self._maybe_upgrade(st, now)
        if not in_window:
            consent = st.consent.get(customer)
            if consent is False:
                return self._refuse(business, st, OPTED_OUT, now)
            if consent is None:
                return self._refuse(business, st, NO_OPTIN, now)
            if template is None:
                return self._refuse(business, st, OUTSIDE_WINDOW_NO_TEMPLATE, now)
        if template is not None:
            code = self._template_code(st, template, now)
            if code:
                return self._refuse(business, st, code, now)
        if not in_window:
            self._expire(st.recent, st.recent_log, now - cfg.tier_period)
            limit = cfg.tiers[st.tier]
            if limit is not None and customer not in st.recent and len(st.recent) >= limit:
                return self._refuse(business, st, TIER_LIMIT, now)
            st.recent[customer] = now
            st.recent_log.append((now, customer))
            prev = st.week.get(customer)
            if prev is None or now - prev >= HOUR:  # hourly resolution keeps the 7-day log small
                st.week[customer] = now
                st.week_log.append((now, customer))
        # delivered
        day = int(now // DAY)
        _bump(st.days, day, 0, 1.0)
        if template is not None:
            _bump(st.templates[template].days, day, 0, 1.0)
        st.last_sent.pop(customer, None)  # re-insert: the dict stays in time order
        st.last_sent[customer] = [now, template, False, False]
        return None

    @staticmethod
    def _template_code(st: BusinessState, template: str, now: float) -> str | None:
        t = st.templates.get(template)
        if t is None:
            return UNKNOWN_TEMPLATE
        if t.disabled:
            return TEMPLATE_DISABLED
        if now < t.paused_until:
            return TEMPLATE_PAUSED
        return None

    def _refuse(self, account: str, st: BusinessState | None, code: str, now: float) -> str:
        self._violations[account] = self._violations.get(account, 0) + 1
        last = self._violations_last
        last.pop(account, None)   # re-insert: kept in time order
        last[account] = now
        if st is not None:
            st.refusals[code] = st.refusals.get(code, 0) + 1
        return code

    def _maybe_upgrade(self, st: BusinessState, now: float) -> None:
        cfg = self.config
        if now - st.last_tier_check < cfg.upgrade_check_every:
            return
        st.last_tier_check = now
        limit = cfg.tiers[st.tier]
        if limit is None or st.tier + 1 >= len(cfg.tiers):
            return
        self._expire(st.week, st.week_log, now - cfg.upgrade_lookback)
        if len(st.week) < cfg.upgrade_fraction * limit:
            return
        if _rating(_rate(st.days, int(now // DAY), cfg), cfg) == GREEN:
            st.tier += 1

    @staticmethod
    def _expire(last: dict[str, float], log: deque, cutoff: float) -> None:
        """Drop customers whose last message is at or before ``cutoff``."""
        while log and log[0][0] <= cutoff:
            ts, customer = log.popleft()
            if last.get(customer) == ts:
                del last[customer]

    def sweep(self, now: float) -> None:
        """Drop expired windows, recipients, counters and day buckets (bounded state).

        Windows and recipients are kept in time order (``now`` never goes back: it is the
        engine clock), so a sweep only touches what expired.
        """
        cfg = self.config
        self._next_sweep = now + cfg.sweep_every
        oldest_day = int(now // DAY) - len(cfg.day_weights) + 1
        look = cfg.quality_lookback
        for gone in [b for b, st in self.biz.items() if st.last <= now - cfg.business_keep]:
            del self.biz[gone]
        for account in _drop_oldest(self._pending_last, now - cfg.pending_keep, None):
            del self._pending_consent[account]
        for account in _drop_oldest(self._violations_last, now - cfg.pending_keep, None):
            del self._violations[account]
        for st in self.biz.values():
            _drop_oldest(st.windows, now - cfg.window - cfg.late_grace, None)
            _drop_oldest(st.last_sent, now - look, 0)
            self._expire(st.recent, st.recent_log, now - cfg.tier_period)
            self._expire(st.week, st.week_log, now - cfg.upgrade_lookback)
            for days in [st.days, *(t.days for t in st.templates.values())]:
                for d in [d for d in days if d < oldest_day]:
                    del days[d]


def _drop_oldest(d: dict[str, Any], cutoff: float, index: Optional[int]) -> list[str]:
    """Drop the leading entries of a time-ordered dict whose time is at or before ``cutoff``;
    return their keys."""
    old = []
    for k, v in d.items():
        if (v if index is None else v[index]) > cutoff:
            break
        old.append(k)
    for k in old:
        del d[k]
    return old
