"""People and a spammer on a protected homeserver: the integration test's and the demo's scenario.

**People** (30, each from their own address) register over the first days, then chat for two
weeks: direct messages with a few friends (the friend accepts, replies, they go back and
forth), small rooms, and one organiser who talks with 25 friends and then invites all of them
to a party room. 120 **quiet** accounts only register. Then a **spammer** registers 10
accounts (from two addresses) and each invites 50 strangers, drawn from everyone else, to
direct-message rooms with near-identical text (the recipient's name and a code change), as
fast as the homeserver lets it, retrying when rate-limited and giving up after three refusals
in a row.

Two weeks do not fit in a test, so the people's history runs on a scenario clock (the router
takes event time from it instead of from Synapse's ``origin_server_ts``) that the driver moves
forward action by action; the spam wave runs on the wall clock, live. Homeserver behaviour,
callbacks, refusals and Admin API calls are all real.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Final

from bulkguard.integrations.synapse.testbed import MatrixError, MatrixUser, Testbed

DAY: Final = 86_400.0
AGENTS: Final = ("Element/1.11.85 (Android 14)", "Element/1.11.85 (iPhone; iOS 17.5)",
                 "Mozilla/5.0 (X11; Linux x86_64) Element/1.11.84", "FluffyChat/1.22 (Android 13)")
SPAM: Final = ("Hi {name}! You have won a 500 EUR voucher, claim it today at "
               "https://win-prize.example/c/{code} before it expires")
GREETINGS: Final = ("hey! long time no see", "are you coming on friday?", "did you see the game",
                    "can you send me the notes from today", "happy birthday!!", "lunch tomorrow?",
                    "thanks for yesterday, it was great", "running 10 min late sorry")
REPLIES: Final = ("yes!", "haha sure", "sounds good", "no way", "ok see you then", "thanks :)",
                  "I'll check and tell you", "sorry, busy this week")


class ScenarioClock:
    """Event time for the router: fixed at what the driver sets, or live (wall clock)."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.live = False

    def __call__(self) -> float:
        return time.time() if self.live else self.t

    def at(self, t: float) -> None:
        self.t = max(self.t, t)


@dataclass
class Bot:
    user: MatrixUser
    targets: list[str]
    invites: int = 0            # invites the homeserver accepted
    before_stop: int | None = None   # invites accepted before the first refusal
    refusals: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    people: list[str]
    spammers: list[str]
    invites_before_stop: dict[str, int]      # spammers that were stopped
    invites_total: dict[str, int]
    spammer_state: dict[str, dict[str, bool]]  # Admin API: suspended, shadow_banned, deactivated
    people_decisions: dict[str, list[str]]   # person -> actions bulkguard took (should be none)
    people_refused: list[str]                # people the homeserver refused something
    audit_records: int
    rate_limited: int

    @property
    def spammers_stopped(self) -> int:
        return len(self.invites_before_stop)

    @property
    def people_stopped(self) -> list[str]:
        stop = {"challenge", "suspend", "ban"}
        return sorted({p for p, acts in self.people_decisions.items() if stop & set(acts)}
                      | set(self.people_refused))

    @property
    def median_before_stop(self) -> float:
        v = list(self.invites_before_stop.values())
        return statistics.median(v) if v else float("nan")

    def summary(self) -> str:
        return (f"people={len(self.people)} people_stopped={len(self.people_stopped)} "
                f"spammers={len(self.spammers)} spammers_stopped={self.spammers_stopped} "
                f"invites_before_stop_median={self.median_before_stop:g} "
                f"audit_records={self.audit_records}")


def _ip(block: int, i: int) -> str:
    return f"10.{block}.{i // 250}.{i % 250 + 1}"


async def _dm(clock: ScenarioClock, rng: random.Random, a: MatrixUser, b: MatrixUser, t: float) -> str:
    """``a`` writes to ``b``; ``b`` accepts and they talk for a while."""
    clock.at(t)
    room = await a.open_dm(b.user_id)
    clock.at(t + 20)
    await a.send(room, rng.choice(GREETINGS))
    clock.at(t + 600 + rng.random() * 3000)
    await b.join(room)
    await b.send(room, rng.choice(REPLIES))
    for k in range(rng.randint(1, 3)):
        clock.at(clock.t + 60 + rng.random() * 900)
        speaker = (a, b)[k % 2]
        await speaker.send(room, rng.choice(GREETINGS + REPLIES))
    return room


async def people_history(tb: Testbed, clock: ScenarioClock, rng: random.Random,
                         n_people: int = 30, n_quiet: int = 120) -> tuple[list[MatrixUser], list[MatrixUser]]:
    """Two weeks of ordinary life on the scenario clock (see the module docstring)."""
    t0 = clock.t
    people = [MatrixUser(tb.url, tb.server_name, f"person{i:02d}", _ip(1, i), AGENTS[i % len(AGENTS)])
              for i in range(n_people)]
    quiet = [MatrixUser(tb.url, tb.server_name, f"quiet{i:03d}", _ip(3, i), AGENTS[i % len(AGENTS)])
             for i in range(n_quiet)]
    joined = sorted([(t0 + rng.random() * 2 * DAY, u) for u in people]
                    + [(t0 + rng.random() * 10 * DAY, u) for u in quiet], key=lambda x: x[0])
    for t, u in joined:
        clock.at(t)
        await u.register()
    # friendships: a ring and a few random pairs; the organiser (person00) has 25 friends
    organiser, others = people[0], people[1:]
    pairs = {(others[i], others[(i + 1) % len(others)]) for i in range(len(others))}
    while len(pairs) < len(others) + 12:
        a, b = rng.sample(others, 2)
        if (b, a) not in pairs:
            pairs.add((a, b))
    friends = others[:25]
    talks = [(organiser, f) for f in friends] + sorted(pairs, key=lambda p: (p[0].name, p[1].name))
    when = sorted(t0 + 3 * DAY + rng.random() * 9 * DAY for _ in talks)
    for (a, b), t in zip(rng.sample(talks, len(talks)), when):
        try:
            await _dm(clock, rng, a, b, t)
        except MatrixError:
            pass   # recorded in the user's `refused`; the outcome counts that person as stopped
    # small rooms: a creator and three friends from the ring
    try:
        await _rooms(clock, rng, organiser, others, friends, t0)
    except MatrixError:
        pass
    return people, quiet


async def _rooms(clock: ScenarioClock, rng: random.Random, organiser: MatrixUser,
                 others: list[MatrixUser], friends: list[MatrixUser], t0: float) -> None:
    for k in range(4):
        clock.at(t0 + 12 * DAY + k * 3600)
        creator = others[k * 6]
        members = [others[(k * 6 + j) % len(others)] for j in (1, 2, 3)]
        room = await creator.create_room(f"room {k}", [m.user_id for m in members])
        await creator.send(room, "made a room for us")
        for m in members:
            clock.at(clock.t + 300 + rng.random() * 1800)
            await m.join(room)
            await m.send(room, rng.choice(REPLIES))
    # the organiser's party: 25 friends invited at once, many join and answer
    clock.at(t0 + 13 * DAY)
    party = await organiser.create_room("party", [f.user_id for f in friends])
    await organiser.send(party, "party at mine on saturday, bring snacks!")
    for f in friends[:15]:
        clock.at(clock.t + 120 + rng.random() * 1800)
        await f.join(party)
        await f.send(party, rng.choice(REPLIES))


async def _blast(bot: Bot, code: random.Random) -> None:
    in_a_row = 0
    for target in bot.targets:
        name = target[1:].split(":")[0]
        try:
            room = await bot.user.open_dm(target)
        except MatrixError as err:
            if bot.before_stop is None:
                bot.before_stop = bot.invites
            bot.refusals.append(err.errcode)
            in_a_row += 1
            if in_a_row >= 3:
                break   # the bot gives up on this account
            continue
        in_a_row = 0
        bot.invites += 1
        try:
            await bot.user.send(room, SPAM.format(name=name.title(), code=code.randrange(10**6)))
        except MatrixError as err:
            if bot.before_stop is None:
                bot.before_stop = bot.invites
            bot.refusals.append(err.errcode)


async def spam_wave(tb: Testbed, clock: ScenarioClock, rng: random.Random, population: list[str],
                    n_spammers: int = 10, per_spammer: int = 50, addresses: int = 2) -> list[Bot]:
    """The spammer's accounts register (live clock) and blast concurrently."""
    clock.live = True
    bots = []
    for i in range(n_spammers):
        u = MatrixUser(tb.url, tb.server_name, f"winner{i:02d}", _ip(66, i % addresses),
                       "python-requests/2.31")
        await u.register()
        bots.append(Bot(u, rng.sample(population, per_spammer)))
    await asyncio.gather(*(_blast(b, random.Random(rng.random())) for b in bots))
    return bots


def outcome(tb: Testbed, people: list[MatrixUser], bots: list[Bot],
            audit_records: int | None = None) -> Outcome:
    tb.settle()
    person_ids = {p.user_id for p in people}
    decisions: dict[str, list[str]] = {p: [] for p in person_ids}
    for d in tb.decisions:
        if d.account in decisions:
            decisions[d.account].append(d.action)
    state = {}
    stopped = {}
    for b in bots:
        info = tb.admin.user(b.user.user_id)
        state[b.user.user_id] = {k: bool(info.get(k)) for k in ("suspended", "shadow_banned", "deactivated")}
        if b.before_stop is not None or any(state[b.user.user_id].values()):
            stopped[b.user.user_id] = b.before_stop if b.before_stop is not None else b.invites
    return Outcome(
        people=sorted(person_ids), spammers=[b.user.user_id for b in bots],
        invites_before_stop=stopped, invites_total={b.user.user_id: b.invites for b in bots},
        spammer_state=state, people_decisions=decisions,
        people_refused=sorted(p.user_id for p in people if p.refused),
        audit_records=audit_records if audit_records is not None else (
            len(tb.audit_records()) if tb.runtime is not None else len(tb.decisions)),
        rate_limited=sum(b.user.rate_limited for b in bots))


async def run(tb: Testbed, clock: ScenarioClock, seed: int = 7, n_people: int = 30,
              n_quiet: int = 120, n_spammers: int = 10, per_spammer: int = 50,
              spam_addresses: int = 2) -> tuple[Outcome, list[Bot], list[MatrixUser]]:
    """The whole scenario; the clients stay open (the caller closes them with :func:`close`)."""
    rng = random.Random(seed)
    people, quiet = await people_history(tb, clock, rng, n_people, n_quiet)
    population = [u.user_id for u in people + quiet]
    bots = await spam_wave(tb, clock, rng, population, n_spammers, per_spammer, spam_addresses)
    return outcome(tb, people, bots), bots, people + quiet + [b.user for b in bots]


async def close(users: list[MatrixUser]) -> None:
    for u in users:
        await u.close()
