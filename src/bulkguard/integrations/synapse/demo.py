"""``make synapse-demo``: the integration test's scenario as a demonstration.

Starts bulkguard's antispam router and a Synapse homeserver on 127.0.0.1 (in a temporary
directory unless ``--keep DIR``), runs 30 people and a 10-account spammer against it
(``scenario.py``), stops everything, and ends with one summary line::

    people=30 people_stopped=0 spammers=10 spammers_stopped=10 invites_before_stop_median=N audit_records=M
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bulkguard.integrations.synapse import scenario as sc
from bulkguard.integrations.synapse.testbed import testbed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bulkguard.integrations.synapse.demo",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--keep", type=Path, help="keep the homeserver's files and logs here")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--people", type=int, default=30)
    p.add_argument("--quiet", type=int, default=60, help="accounts that only register")
    p.add_argument("--spammers", type=int, default=10)
    p.add_argument("--invites", type=int, default=50, help="strangers each spam account invites")
    p.add_argument("--spam-addresses", type=int, default=2,
                   help="addresses the spammer registers its accounts from")
    args = p.parse_args(argv)
    if args.people + args.quiet < args.invites:
        p.error("--people + --quiet must be at least --invites (the strangers are drawn from them)")
    with tempfile.TemporaryDirectory(prefix="bulkguard-synapse-") as tmp:
        root = args.keep or Path(tmp)
        t0 = time.monotonic()
        clock = sc.ScenarioClock(time.time() - 14 * sc.DAY)
        with testbed(root, service=True, clock=clock, origin_ts=False) as tb:
            print(f"homeserver {tb.url} and bulkguard up in {time.monotonic() - t0:.1f} s", flush=True)

            async def go() -> sc.Outcome:
                out, _, users = await sc.run(tb, clock, seed=args.seed, n_people=args.people,
                                             n_quiet=args.quiet, n_spammers=args.spammers,
                                             per_spammer=args.invites,
                                             spam_addresses=args.spam_addresses)
                await sc.close(users)
                return out

            out = asyncio.run(go())
            for d in tb.decisions:
                print(f"  {d.action:9s} {d.account:28s} score={d.score:.2f} {' '.join(d.reasons)}")
            for account, state in out.spammer_state.items():
                on = [k for k, v in state.items() if v]
                print(f"  {account:28s} invites={out.invites_total[account]:2d} "
                      f"before_stop={out.invites_before_stop.get(account, '-')} on_homeserver={','.join(on) or '-'}")
        print(f"done in {time.monotonic() - t0:.0f} s; homeserver stopped", flush=True)
        print(out.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
