"""Abuse signals: one module per family, each signal a small pure function
``f(account, world) -> float`` of state. ``NAMES`` fixes their order: it is the
feature vector of the model and the vocabulary of the rules file.

Unknown is not evidence
-----------------------
Every platform has messages (sender, recipient or group, time). Everything else is an
*optional family* (:data:`OPTIONAL`): registrations and their metadata, address books,
typing indicators, reports, blocks, groups, the business lane. A family the platform does
not provide (``[platform] provides`` in the rules file), or a field absent from an event,
is unknown. A signal computed from it is then NaN (:data:`bulkguard.state.account.MISSING`):
rule conditions on NaN are false, and the model sends NaN where LightGBM learned to. So:

* counts that only add evidence (reports, blocks, sweep sizes) may be 0 when nothing
  happened; ratios and ages with nothing to measure are NaN (``account_age_h`` of an
  account first seen without ``register``, ``sync_match_rate`` before a sync,
  ``notype_share`` without ``typing_ms``, registration-cluster sizes without metadata);
* the notion of a *stranger* is behavioural: a recipient who never wrote to the sender,
  whatever the address books say, so removing contacts changes no core signal;
* :data:`REQUIRES` names, for every signal computed from an optional family, the families
  it needs; the engine masks them to NaN when none of those is provided.

>>> sorted(f for f, in (REQUIRES["account_age_h"],))
['register']
>>> [n for n in NAMES if n not in REQUIRES][:4]
['msgs_1m', 'msgs_1h', 'msgs_1d', 'noncontact_1m']
"""

from __future__ import annotations

from collections.abc import Callable

from bulkguard.signals import (
    business, content, coordination, discovery, engagement, fanout, feedback, groups, lockstep,
    registration, timing, velocity,
)
from bulkguard.state.account import Account
from bulkguard.state.world import World

Signal = Callable[[Account, World], float]

# lockstep last: the shipped model's trees index the vector by position
FAMILIES = (velocity, fanout, engagement, timing, registration, coordination, discovery, groups,
            feedback, content, business, lockstep)
#: Signals added after the shipped model was trained: after every family's, so the positions
#: its generated margin code (scoring/shipped_margin.py) reads stay where they were.
LATE: tuple[Signal, ...] = coordination.LATE_SIGNALS
SIGNALS: dict[str, Signal] = {f.__name__: f for m in FAMILIES for f in m.SIGNALS}
SIGNALS.update((f.__name__, f) for f in LATE)
NAMES: tuple[str, ...] = tuple(SIGNALS)

#: Event families a platform may or may not provide (the ``[platform] provides`` vocabulary).
OPTIONAL: tuple[str, ...] = ("register", "contacts", "typing", "reports", "blocks", "groups",
                             "business")
_REG = ("register",)
#: Signals computed from optional families: name -> the families it is computed from
#: (masked to NaN when the platform provides none of them). Every other signal is core:
#: computed from messages alone.
REQUIRES: dict[str, tuple[str, ...]] = {
    **{n: _REG for n in ("early_msgs", "account_age_h", "reg_ip_1h", "reg_ip_1d",
                         "reg_device_1d", "reg_block_1d", "country_mismatch", "registered",
                         "cluster_size_1d", "cluster_flagged")},
    **{n: ("contacts",) for n in ("sync_numbers", "sync_max", "sync_match_rate", "sync_count")},
    "notype_share": ("typing",),
    **{n: ("reports",) for n in ("reports", "reports_partner", "reports_stranger", "report_text",
                                 "reports_filed", "reports_filed_stranger", "brigade_size")},
    "blocks": ("blocks",),
    "feedback_rate": ("blocks", "reports"),
    **{n: ("groups",) for n in ("group_adds_noncontact_1h", "groups_created", "group_adds",
                                "group_adds_noncontact", "group_adds_stranger",
                                "group_noncontact_share")},
    **{n: ("business",) for n in ("violations", "is_business")},
}


def masked(provides: frozenset[str] | set[str]) -> tuple[int, ...]:
    """Indexes in ``NAMES`` of the signals unknown on a platform providing ``provides``.

    >>> [NAMES[i] for i in masked(set(OPTIONAL) - {"typing"})]
    ['notype_share']
    """
    return tuple(i for i, n in enumerate(NAMES)
                 if n in REQUIRES and not any(f in provides for f in REQUIRES[n]))


def vector(a: Account, w: World) -> list[float]:
    """All signals of ``a`` now, in ``NAMES`` order.

    Spelled out rather than a loop over ``SIGNALS``: compiled, these are direct C calls
    instead of generic ones, a third of a re-score (a test holds this list to ``NAMES``).
    """
    return [
        velocity.msgs_1m(a, w),
        velocity.msgs_1h(a, w),
        velocity.msgs_1d(a, w),
        velocity.noncontact_1m(a, w),
        velocity.noncontact_1h(a, w),
        velocity.noncontact_1d(a, w),
        velocity.newchats_1m(a, w),
        velocity.newchats_1h(a, w),
        velocity.newchats_1d(a, w),
        velocity.noncontact_share(a, w),
        fanout.recipients_1h(a, w),
        fanout.recipients_1d(a, w),
        fanout.recipients_total(a, w),
        fanout.digest_repeat(a, w),
        fanout.digest_fanout(a, w),
        fanout.digest_accounts(a, w),
        engagement.reply_ratio(a, w),
        engagement.unanswered(a, w),
        engagement.reply_delay(a, w),
        engagement.inbound_ratio(a, w),
        engagement.recipients_settled(a, w),
        engagement.reply_ratio_settled(a, w),
        timing.gap_cv(a, w),
        timing.gap_mean(a, w),
        timing.notype_share(a, w),
        timing.early_msgs(a, w),
        timing.account_age_h(a, w),
        registration.reg_ip_1h(a, w),
        registration.reg_ip_1d(a, w),
        registration.reg_device_1d(a, w),
        registration.reg_block_1d(a, w),
        registration.country_mismatch(a, w),
        registration.registered(a, w),
        coordination.cluster_size_1d(a, w),
        coordination.cluster_flagged(a, w),
        coordination.family_flagged(a, w),
        coordination.brigade_size(a, w),
        discovery.sync_numbers(a, w),
        discovery.sync_max(a, w),
        discovery.sync_match_rate(a, w),
        discovery.sync_count(a, w),
        groups.group_adds_noncontact_1h(a, w),
        groups.groups_created(a, w),
        groups.group_adds(a, w),
        groups.group_adds_noncontact(a, w),
        groups.group_adds_stranger(a, w),
        groups.group_noncontact_share(a, w),
        feedback.blocks(a, w),
        feedback.reports(a, w),
        feedback.reports_partner(a, w),
        feedback.reports_stranger(a, w),
        feedback.feedback_rate(a, w),
        feedback.report_text(a, w),
        feedback.reports_filed(a, w),
        feedback.reports_filed_stranger(a, w),
        content.forwarded(a, w),
        content.forwarded_high(a, w),
        content.link_share(a, w),
        content.msgs_total(a, w),
        business.violations(a, w),
        business.is_business(a, w),
        lockstep.lockstep_peers(a, w),
        lockstep.lockstep_flagged(a, w),
        coordination.content_flagged(a, w),
    ]
