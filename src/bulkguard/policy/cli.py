"""``bulkguard business status ACCOUNT --events E``: replay E through the engine (with
its business lane and forward limiter), then print the state of one business and the
refusals the engine wrote for it."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from bulkguard.events import EventError, InputError, ReadStats, read_events
from bulkguard.policy.business import DAY, POLICY_CODES, BusinessLane
from bulkguard.policy.forwarding import ForwardLimiter


def replay(path: str | Path, stats: ReadStats | None = None, rules_path: str | None = None,
           model_path: str | None = None
           ) -> tuple[BusinessLane, ForwardLimiter, float, Counter[tuple[str, str]]]:
    """Replay an events file (bad lines skipped) through the default engine, the same one
    ``bulkguard replay`` runs, so that the refusals counted here are the engine's own.

    Returns ``(lane, forwards, now, refusals)`` where ``refusals`` counts
    ``(sender, code)`` pairs of the engine's ``reject`` decisions and ``now`` is the final
    event-time clock.
    """
    from bulkguard.components import build_engine   # the command sits above the engine
    eng = build_engine(rules_path, model_path)
    refusals: Counter[tuple[str, str]] = Counter()
    for n, ev in read_events(path, stats=stats):
        try:
            out = eng.handle(ev, n)
        except EventError:
            continue
        for d in out:
            if d.action == "reject":
                refusals[(d.account, d.reasons[0])] += 1
    if not isinstance(eng.lane, BusinessLane) or not isinstance(eng.forward, ForwardLimiter):
        raise TypeError("the default engine has a business lane and a forward limiter")
    return eng.lane, eng.forward, eng.world.now, refusals


def _fmt_limit(limit: int | None) -> str:
    return "unlimited" if limit is None else f"{limit:,}"


def status(args: argparse.Namespace) -> int:
    account = args.account
    stats = ReadStats()
    try:
        lane, _, now, refusals = replay(args.events, stats=stats, rules_path=args.rules,
                                        model_path=args.model)
    except (OSError, ValueError) as err:   # missing, unreadable, corrupt input; bad rules or model
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
