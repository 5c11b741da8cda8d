"""Ways back: what a reinstatement, an appeal or a passed challenge does to the evidence.

An account reinstated (``appeal_granted``, ``reviewer_action`` reinstate/allow, a passed
challenge) is not stopped again by evidence that was already judged. The engine keeps,
for each such account, an :class:`Amnesty`: the signal vector at the reinstatement, which
:meth:`Amnesty.adjust` takes off the account's signals from then on:

* counts (messages, recipients, reports, blocks, refusals, stopped siblings...) count
  only what came after the reinstatement;
* windowed counts (per minute, hour, day) too, until the window has passed (two window
  lengths, as the two-bucket windows reach that far back); then they are new anyway;
* shares and ratios (reply ratio, share without typing...) are those of a fresh account
  until the account has sent ``FRESH_MESSAGES`` messages since, as they were computed
  from judged traffic; then the whole history counts again;
* its age and "registered in the stream" are those of an account that existed before
  the stream (a person vouched for it: a young age is no longer a reason to stop it);
* whether it is a business stays.

A passed challenge (proof that a person is there) also lowers the timing and automation
signals (regular gaps, sends without typing, sends right after registration) for
``RELIEF_SECONDS``: each counts half as far from a person's value (``AUTOMATION``).

An account that goes on blasting after it was reinstated builds new evidence and is
stopped again, from the bottom of the ladder up.

>>> from bulkguard.signals import NAMES
>>> i = NAMES.index("noncontact_1h")
>>> v0 = [0.0] * len(NAMES); v0[i] = 50.0
>>> am = Amnesty(v0, at=0.0, msgs_at=0.0, fresh=[0.0] * len(NAMES))
>>> v = list(v0); v[i] = 53.0
>>> am.adjust(v, now=600.0)[i]          # three new messages to strangers since
3.0
>>> am.adjust(v, now=3 * 3600.0)[i]     # the hour window has passed: all of it is new
53.0
"""

from __future__ import annotations

from typing import Final

from bulkguard.signals import NAMES

MINUTE: Final = 60.0
HOUR: Final = 3600.0
DAY: Final = 86_400.0

FRESH_MESSAGES: Final = 20          # messages after which shares count the whole history again
RELIEF_SECONDS: Final = 3 * DAY     # how long a passed challenge lowers timing signals
RELIEF_FACTOR: Final = 0.5          # share of their distance from a fresh account's values kept

#: How each signal is re-baselined: "count" (minus the baseline, forever), a window in
#: seconds (minus the baseline until two windows have passed), "share" (a fresh
#: account's value until FRESH_MESSAGES new messages), "cleared" (a fresh account's value
#: for good) or "keep" (a property).
KIND: Final[dict[str, str | float]] = {
    "msgs_1m": MINUTE, "msgs_1h": HOUR, "msgs_1d": DAY,
    "noncontact_1m": MINUTE, "noncontact_1h": HOUR, "noncontact_1d": DAY,
    "newchats_1m": MINUTE, "newchats_1h": HOUR, "newchats_1d": DAY,
    "noncontact_share": "share",
    "recipients_1h": HOUR, "recipients_1d": DAY, "recipients_total": "count",
    "digest_repeat": "count", "digest_fanout": "count", "digest_accounts": "count",
    "reply_ratio": "share", "unanswered": "count", "reply_delay": "share",
    "inbound_ratio": "share", "recipients_settled": "count", "reply_ratio_settled": "share",
    "gap_cv": "share", "gap_mean": "share", "notype_share": "share", "early_msgs": "count",
    "account_age_h": "cleared",
    "reg_ip_1h": HOUR, "reg_ip_1d": DAY, "reg_device_1d": DAY, "reg_block_1d": DAY,
    "country_mismatch": "count", "registered": "cleared",
    "cluster_size_1d": DAY, "cluster_flagged": "count",
    "sync_numbers": "count", "sync_max": "count", "sync_match_rate": "share",
    "sync_count": "count",
    "group_adds_noncontact_1h": HOUR, "groups_created": "count", "group_adds": "count",
    "group_adds_noncontact": "count", "group_adds_stranger": "count",
    "group_noncontact_share": "share",
    "blocks": "count", "reports": "count", "reports_partner": "count",
    "reports_stranger": "count", "feedback_rate": "share", "report_text": "share",
    "reports_filed": "count", "reports_filed_stranger": "count",
    "forwarded": "count", "forwarded_high": "count", "link_share": "share",
    "msgs_total": "count", "violations": "count", "is_business": "keep",
    "family_flagged": "count", "brigade_size": "count", "content_flagged": "count",
    "lockstep_peers": "count", "lockstep_flagged": "count",
}
#: Timing and automation signals a passed challenge lowers, and the value of a person
#: each moves halfway towards (irregular gaps, typing, nothing sent right after registering).
AUTOMATION: Final[dict[str, float]] = {"gap_cv": 1.0, "notype_share": 0.0, "early_msgs": 0.0}

_MSGS: Final = NAMES.index("msgs_total")
# per position in the vector: the kind (unclassified signals are kept as they are)
_KINDS: Final[tuple[str | float, ...]] = tuple(KIND.get(n, "keep") for n in NAMES)
_AUTOMATION: Final[tuple[tuple[int, float], ...]] = tuple(
    (NAMES.index(n), x) for n, x in AUTOMATION.items() if n in NAMES)


class Amnesty:
    """What an account was judged on, and until when a passed challenge relieves it.

    ``baseline`` is the account's signal vector at the reinstatement (None: nothing was
    judged, only relief), ``at`` its event time, ``msgs_at`` its message count then,
    ``fresh`` the signal vector of a fresh account (the values shares fall back to).
    ``until`` is the end of a reviewer's suspension (None: no end).
    """

    __slots__ = ("baseline", "at", "msgs_at", "fresh", "relief_until", "until")

    def __init__(self, baseline: list[float] | None, at: float, msgs_at: float,
                 fresh: list[float], relief_until: float = -1.0,
                 until: float | None = None) -> None:
        self.baseline = baseline
        self.at = at
        self.msgs_at = msgs_at
        self.fresh = fresh
        self.relief_until = relief_until
        self.until = until

    def __reduce__(self) -> tuple[object, ...]:
        return (Amnesty, (self.baseline, self.at, self.msgs_at, self.fresh,
                          self.relief_until, self.until))

    def adjust(self, v: list[float], now: float) -> list[float]:
        """``v`` with the judged evidence taken off (a new list)."""
        out = list(v)
        b = self.baseline
        if b is not None:
            since = now - self.at
            young = v[_MSGS] - self.msgs_at < FRESH_MESSAGES
            for i, kind in enumerate(_KINDS):
                if kind == "keep":
                    continue
                if kind == "cleared" or (kind == "share" and young):
                    out[i] = self.fresh[i]
                elif kind == "count" or (isinstance(kind, float) and since < 2.0 * kind):
                    out[i] = max(0.0, v[i] - b[i])
        if now < self.relief_until:
            for i, person in _AUTOMATION:
                if out[i] == out[i]:   # not unknown (NaN)
                    out[i] = person + (out[i] - person) * RELIEF_FACTOR
        return out
