"""Issue 14, retention: every structure of the engine's state has a rule in event time
(README, "Retention"), and a year and more of churn -- new accounts, strangers, contacts,
blocks, reports, opt-ins for businesses never registered, groups, refusals, bans -- stays in
bounded memory."""

from __future__ import annotations

from bulkguard.components import load_components
from bulkguard.engine import Engine
from bulkguard.events import (
    Block, ContactAdd, ContactSync, GroupCreate, GroupJoin, Message, OptIn, Register, Report,
)
from bulkguard.scoring.rules import Rules
from bulkguard.state.world import ACTION_KEEP_DAYS, KEEP_DAYS, LOCKSTEP_SLOTS, World

T0 = 1_700_000_040.0
DAY = 86_400.0


def churn_day(d: int) -> list:
    """One day of churn: everything in it is new and never seen again."""
    t = T0 + d * DAY
    out: list = []
    for i in range(3):
        u = f"u{d}_{i}"
        out += [Register(ts=t + i, account=u, ip=f"10.{d}.{i}.1", device=f"dev{d}_{i}",
                         phone=f"+4915{d:05d}{i}000"),
                Message(ts=t + 10 + i, sender=u, recipient=f"r{d}_{i}", kind="text"),
                Message(ts=t + 20 + i, sender=u, recipient=f"s{d}_{i}", kind="text")]
    out += [ContactAdd(ts=t + 30, account=f"u{d}_0", contact=f"pal{d}"),
            Block(ts=t + 31, blocker=f"b{d}", blocked=f"u{d}_1"),
            Report(ts=t + 32, reporter=f"rep{d}", reported=f"u{d}_2", reason="spam",
                   messages=[f"text number {d}"]),
            OptIn(ts=t + 33, business=f"ghostbiz{d}", customer=f"c{d}"),
            GroupCreate(ts=t + 34, account=f"u{d}_0", group=f"g{d}"),
            GroupJoin(ts=t + 35, group=f"g{d}", member=f"m{d}", added_by=f"u{d}_0"),
            Message(ts=t + 36, sender=f"u{d}_1", recipient=f"x{d}", template="promo"),
            # the shop's regular customer keeps it alive
            Message(ts=t + 37, sender="regular", recipient="shop")]
    # two accounts reach the same four strangers (the day's recipients) within minutes:
    # lockstep peers
    out += [Message(ts=t + 50 + 60 * k + i, sender=f"ls{d}_{k}", recipient=f"{p}{d}_{i % 2}")
            for k in range(2) for i, p in enumerate("rrss")]
    # forwarded content beyond the limit: refused twice
    out += [Message(ts=t + 40 + k, sender=f"u{d}_2", recipient=f"f{d}_{k}", forwarded=1,
                    digest="aa00bb11cc22dd33") for k in range(7)]
    if d % 10 == 0:   # a blaster, banned
        b = f"blaster{d}"
        out += [Register(ts=t + 100, account=b, ip="192.0.2.66"),
                ContactSync(ts=t + 101, account=b, numbers=5000, matched=40)]
        out += [Message(ts=t + 102 + k, sender=b, recipient=f"v{d}_{k}", digest="ab12")
                for k in range(12)]
    return out


def sizes(eng: Engine) -> dict[str, int]:
    w, lane, fwd = eng.world, eng.lane, eng.forward
    return {
        "accounts": len(w.accounts), "ids": len(w.ids), "names": len(w.names),
        "by_id": len(w.by_id), "pairs": len(w.pairs), "by_ip": len(w.by_ip),
        "by_device": len(w.by_device), "by_block": len(w.by_block),
        "families": len(w.families), "bands": len(w.bands), "groups": len(w.groups),
        "businesses": len(lane.biz), "pending_consent": len(lane._pending_consent),
        "lane_violations": len(lane._violations), "forward_violations": len(fwd._violations),
        "forward_sent": len(fwd), "texts": len(eng.text._texts),
        "openers": len(w.openers), "lockstep": len(w.lockstep),
    }


def test_a_year_of_churn_stays_in_bounded_memory() -> None:
    eng = Engine(Rules.default(), **load_components("none"))
    line = 0
    days = int(ACTION_KEEP_DAYS) + 60
    peaks: dict[str, int] = {}
    at: dict[int, dict[str, int]] = {}
    decisions: list = []
    eng.handle(Register(ts=T0, account="shop", kind="business"), line := line + 1)
    eng.handle(Register(ts=T0, account="oldbiz", kind="business"), line := line + 1)
    for d in range(days):
        for ev in churn_day(d):
            line += 1
            decisions += eng.handle(ev, line)
        s = sizes(eng)
        for k, v in s.items():
            peaks[k] = max(peaks.get(k, 0), v)
        at[d] = s
    end = at[days - 1]
    assert sum(1 for d in decisions if d.action == "ban") >= days // 10 - 1   # the blasters were stopped
    # 30-day structures: about a month of churn, not a year
    month = KEEP_DAYS + 2
    for k, per_day in (("by_ip", 3), ("by_device", 3), ("by_block", 3), ("groups", 1),
                       ("pending_consent", 1), ("lane_violations", 1), ("forward_violations", 1)):
        assert end[k] <= month * per_day, (k, end[k])
    # accounts: a month of the plain ones, a year of those with an action (one a day is
    # suspended for its refusals and feedback, a blaster every tenth day banned)
    assert end["accounts"] <= month * 5 + (ACTION_KEEP_DAYS + 2) * 1.2, end["accounts"]
    assert not [n for n, a in eng.world.accounts.items()
                if a.level and a.last_ts < eng.world.now - (ACTION_KEEP_DAYS + 1) * DAY]
    # pairs: 90 days of plain ones (24 a day), a year of contact/block/report ones
    assert end["pairs"] <= (3 * KEEP_DAYS + 2) * 24 + (ACTION_KEEP_DAYS + 2) * 3 + 12 * 37
    # the id map follows the records: it never holds more than twice what is referred to
    assert end["ids"] == end["names"] == end["by_id"]
    assert peaks["ids"] <= 2 * (peaks["pairs"] * 2 + peaks["accounts"] + 200)
    assert end["ids"] < 0.6 * line   # about 1.5 new names per line were seen
    # the business lane: the silent business is forgotten after a year, the live one kept
    assert set(eng.lane.biz) == {"shop"}
    assert end["texts"] <= 4096 and end["families"] <= 5
    # lockstep: strangers reached in a burst within the last day (the sweep keeps an hour's);
    # counts while both accounts have a record, at most LOCKSTEP_SLOTS per account
    w = eng.world
    assert peaks["openers"] <= 2 * 30, peaks
    assert all(w.by_id[x] is not None and len(sl) <= 2 * LOCKSTEP_SLOTS
               and all(w.by_id[p] is not None for p in sl[::2]) for x, sl in w.lockstep.items())
    assert sum(1 for d in range(days) if at[d]["lockstep"]) > days - 5   # made every day
    # steady state: the last two months hold no more than the two before them (+ the bans)
    for k in end:
        if k not in ("accounts", "pairs", "ids", "names", "by_id", "texts"):   # texts: a capped cache
            assert end[k] <= at[days - 61][k] + 3, (k, end[k], at[days - 61][k])
    for k in ("accounts", "pairs"):
        assert end[k] <= at[days - 61][k] * 1.1, (k, end[k], at[days - 61][k])
    # the id map saw-tooths between compactions, never above twice what is referred to
    # (plus a day of new names)
    w = eng.world
    referred = len({a.id for a in w.accounts.values()}
                   | {k >> 32 for k in w.pairs} | {k & 0xFFFFFFFF for k in w.pairs})
    assert end["ids"] <= 2 * referred + 60, (end["ids"], referred)


def test_compacting_the_id_map_changes_no_decision(make_stream) -> None:
    """Renumbering ids keeps their order, so pair keys keep their direction bits: an
    engine that compacts at every sweep decides exactly like one that never does."""
    import json
    lines = make_stream(6000, seed=4, blasters=4, bad_every=0, humans=120)
    # spread the stream over 160 days so that the daily sweep forgets records
    from bulkguard.events import EventError, decode_line
    events = []
    for k, raw in enumerate(lines):
        d = json.loads(raw)
        d["ts"] = T0 + k * 2400.0
        try:
            events.append(decode_line(json.dumps(d).encode()))
        except EventError:
            pass   # the generator's mixed-up block/report lines

    def run(force: bool) -> tuple[list, int]:
        eng = Engine(Rules.default(), **load_components("none"))
        dropped = 0
        swept = eng.world.last_sweep
        out: list = []
        for n, ev in enumerate(events, 1):
            out += eng.handle(ev, n)
            if force and eng.world.last_sweep != swept:   # after each daily sweep
                swept = eng.world.last_sweep
                dropped += eng.world.compact_ids(force=True)
        return [(d.line, d.account, d.action, d.score, d.reasons) for d in out], dropped

    forced, dropped = run(True)
    plain, _ = run(False)
    assert dropped > 100
    assert forced == plain and len(plain) > 5


def test_pairs_with_contact_block_or_report_are_kept_a_year() -> None:
    w = World()
    w.now = T0
    w.on_contact_add(ContactAdd(ts=T0, account="a", contact="b"))
    w.on_block(Block(ts=T0, blocker="c", blocked="d"))
    w.now = T0 + (ACTION_KEEP_DAYS - 1) * DAY
    w.sweep()
    assert w.is_contact(w.ids["b"], w.ids["a"]) and len(w.pairs) == 2   # a added b
    w.now = T0 + (ACTION_KEEP_DAYS + 1) * DAY
    w.sweep()
    assert not w.pairs and "a" not in w.ids   # the pairs and then their names are gone


def test_a_banned_account_is_kept_a_year_after_its_last_message() -> None:
    eng = Engine(Rules.default())
    eng.handle(Register(ts=T0, account="x", ip="192.0.2.1"), 1)
    eng.handle(ContactSync(ts=T0 + 1, account="x", numbers=5000, matched=40), 2)
    for i in range(12):
        eng.handle(Message(ts=T0 + 2 + i, sender="x", recipient=f"u{i}", digest="ab12"), 3 + i)
    assert eng.world.accounts["x"].level == 4
    for day in range(1, int(ACTION_KEEP_DAYS) + 3):
        eng.handle(Message(ts=T0 + day * DAY, sender="clock", recipient="tick"), 100 + day)
        if day == int(ACTION_KEEP_DAYS) - 1:
            assert "x" in eng.world.accounts
    assert "x" not in eng.world.accounts


def test_what_an_appeal_judged_follows_its_account_through_a_renumbering() -> None:
    """The engine keeps reinstated accounts' amnesty by id: a sweep that renumbers ids
    must carry it to the account's new id."""
    eng = Engine(Rules.default())
    for i in range(30):   # names seen first, and never again: "x" is renumbered to 0
        eng.handle(Message(ts=T0 - 100 + i, sender=f"early{i}", recipient=f"gone{i}"), 90 + i)
    eng.handle(Register(ts=T0, account="x", ip="192.0.2.1"), 1)
    eng.handle(ContactSync(ts=T0 + 1, account="x", numbers=5000, matched=40), 2)
    for i in range(12):
        eng.handle(Message(ts=T0 + 2 + i, sender="x", recipient=f"u{i}", digest="ab12"), 3 + i)
    old_id = eng.world.ids["x"]
    assert eng.reinstate("x", 20, T0 + 20) is not None
    assert eng.amnesty
    line = 100
    for day in range(1, 200):   # strangers come and go; "x" keeps writing to a friend
        t = T0 + day * DAY
        for k in range(5):
            line += 1
            eng.handle(Message(ts=t + k, sender=f"s{day}_{k}", recipient=f"r{day}_{k}"), line)
        line += 1
        eng.handle(Message(ts=t + 10, sender="x", recipient="friend"), line)
    w = eng.world
    assert w.ids["x"] != old_id and "early0" not in w.ids   # the id map was compacted
    assert list(eng.amnesty) == [w.ids["x"]]
