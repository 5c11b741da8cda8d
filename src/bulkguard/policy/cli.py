"""``bulkguard business status ACCOUNT --events E``: replay E through the business lane
and the forward limiter, then print the state of one business."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from bulkguard.events import (Block, Message, OptIn, OptOut, ReadStats, Register, Report,
                              TemplateRegister, read_events)
from bulkguard.policy.business import DAY, POLICY_CODES, BusinessLane, route
from bulkguard.policy.forwarding import ForwardLimiter

_OBSERVED = (Register, TemplateRegister, OptIn, OptOut, Block, Report)


def replay(path: str | Path, lane: BusinessLane | None = None,
           forwards: ForwardLimiter | None = None,
           stats: ReadStats | None = None) -> tuple[BusinessLane, ForwardLimiter, float, Counter]:
    """Feed an events file (bad lines skipped) to a lane and a forward limiter.

    Returns ``(lane, forwards, now, refusals)`` where ``refusals`` counts
    ``(sender, code)`` pairs and ``now`` is the final event-time clock.
    """
    lane = lane if lane is not None else BusinessLane()
    forwards = forwards if forwards is not None else ForwardLimiter()
    refusals: Counter = Counter()
    now = float("-inf")
    for _, ev in read_events(path, stats=stats):
        if ev.ts > now:
            now = ev.ts
        if isinstance(ev, Message):
            code = route(lane, forwards, ev, now)
            if code is not None:
                refusals[(ev.sender, code)] += 1
        elif isinstance(ev, _OBSERVED):
            lane.observe(ev, now)
    return lane, forwards, now, refusals


def _fmt_limit(limit: int | None) -> str:
    return "unlimited" if limit is None else f"{limit:,}"


def status(args: argparse.Namespace) -> int:
    account = args.account
    stats = ReadStats()
    try:
        lane, _, now, refusals = replay(args.events, stats=stats)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not lane.is_business(account):
        print(f"{account!r} is not a business account in {args.events} "
              "(no `register` with kind business and no `template_register`)",
              file=sys.stderr)
        return 1
    out = []
    limit = lane.tier_limit(account)
    tier_no = lane.tier(account) + 1
    out.append(f"business {account}  (as of ts {now:.0f}, day {int(now // DAY)};"
               f" {stats.accepted} events, {stats.rejected} bad lines skipped)")
    out.append(f"tier: {tier_no} (limit {_fmt_limit(limit)} distinct customers"
               " outside windows per 24h)")
    out.append(f"quality: {lane.quality(account, now)}"
               f" (negative feedback rate {lane.feedback_rate(account, now):.4f})")
    templates = lane.templates(account)
    if templates:
        out.append("templates:")
        for name in sorted(templates):
            t = templates[name]
            state = lane.template_status(account, name, now)
            if state == "paused":
                state += f" until ts {t.paused_until:.0f}"
            out.append(f"  {name} [{t.category or '-'}]: quality {lane.quality(account, now, name)},"
                       f" {state}, strikes {t.strikes}")
    else:
        out.append("templates: none")
    paused = [n for n in sorted(templates) if lane.template_status(account, n, now) == "paused"]
    disabled = [n for n in sorted(templates) if templates[n].disabled]
    out.append(f"paused templates: {', '.join(paused) or 'none'}")
    out.append(f"disabled templates: {', '.join(disabled) or 'none'}")
    out.append(f"open customer-service windows: {lane.open_windows(account, now)}")
    out.append("distinct customers messaged outside windows (last 24h): "
               f"{lane.customers_outside_window(account, now)}")
    out.append(f"opted-in customers: {lane.opted_in(account)}")
    mine = {code: n for (who, code), n in refusals.items() if who == account}
    if mine:
        order = {c: i for i, c in enumerate(POLICY_CODES)}
        parts = [f"{c} {mine[c]}" for c in sorted(mine, key=lambda c: order.get(c, 99))]
        out.append(f"refusals: {sum(mine.values())} ({', '.join(parts)})")
    else:
        out.append("refusals: 0")
    print("\n".join(out))
    return 0
