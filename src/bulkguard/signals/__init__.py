"""Abuse signals: one module per family, each signal a small pure function
``f(account, world) -> float`` of state. ``NAMES`` fixes their order: it is the
feature vector of the model and the vocabulary of the rules file."""

from __future__ import annotations

from collections.abc import Callable

from bulkguard.signals import (
    business, content, coordination, discovery, engagement, fanout, feedback, groups,
    registration, timing, velocity,
)
from bulkguard.state.account import Account
from bulkguard.state.world import World

Signal = Callable[[Account, World], float]

FAMILIES = (velocity, fanout, engagement, timing, registration, coordination, discovery, groups,
            feedback, content, business)
SIGNALS: dict[str, Signal] = {f.__name__: f for m in FAMILIES for f in m.SIGNALS}
NAMES: tuple[str, ...] = tuple(SIGNALS)


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
    ]
