"""Scenario simulator: labeled traffic for tests, training, benchmarks and the demo.

``bulkguard simulate --out DIR [--seed N] [--accounts N] [--days D] [--background PATH]
[--mix SPEC] [--without FAMILY[,FAMILY]] [--cold-start]`` and :func:`simulate` write

* ``DIR/events.jsonl``: events of the wire contract (``shared/spec/events.md``), sorted by
  ``ts`` (non-decreasing, ties in generation order), ``ts`` in Unix seconds rounded to
  milliseconds; every line decodes with :func:`bulkguard.events.decode_line`;
* ``DIR/labels.jsonl``: ``{"account","label","archetype"}`` for every account that does
  anything (sends, registers, syncs, adds contacts, creates groups, blocks, reports, opts
  customers in) and for every simulated human. Accounts that only *receive* abuse
  ("strangers", e.g. people whose numbers a blaster bought) are not labeled.

``--without`` leaves optional event families out of the stream (a platform that does not
provide them) and ``--cold-start`` starts on a live platform whose abusive accounts existed
before the window (no ``register`` for them) and whose address books were filled before it
(no ``contact_add`` between two accounts that were already there); neither changes
anybody's behaviour. See
``docs/simulator.md`` and :mod:`bulkguard.sim.families`.

The same seed and arguments give the same bytes. Account and group ids are random
(``u12345678``, ``g123456789``), so an id says nothing about its archetype. Without a
background the scenario starts on Tuesday 2023-11-14 00:00 UTC and lasts ``days`` days.
Every time of day uses UTC as the local time of the synthetic population.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     s = simulate(d, seed=1, accounts=150, days=0.5)
>>> s["labels"]["abusive"] > 0, s["events"] == sum(s["events_by_type"].values())
(True, True)

Populations and their parameters
--------------------------------

``accounts`` is the number of humans. Default counts of the other archetypes are for
``accounts=5000`` and scale linearly (floors keep every archetype in small scenarios); see
:data:`~bulkguard.sim.scenario.DEFAULT_MIX_5000`. ``--mix blaster=20,farm=0`` overrides
single counts (``farm``, ``fake_engagement`` and ``report_brigade`` count accounts; a
brigade without any ``brigade_victim`` gets one victim).
At 5000 humans there are about 2.5% abusers (126 accounts, every abuser archetype >= 6).
The hard legitimate cases and imitating abusers added for issue 9 (``announcer``,
``no_sync_user``, ``dialer``, ``support_agent``, ``teacher``; ``stealth_farm``,
``slow_blaster``, ``one_shot``, ``aged_spammer``) are described in ``docs/simulator.md``
(module :mod:`bulkguard.sim.lookalikes`).

Legitimate (label ``legit``):

``human``
    The social graph is Chung-Lu style: activity weights ``2.6 * (Pareto(1.7) + 1)``
    (capped), 60% of ties inside a person's community of 40 (friends know each other).
    Distinct people a human writes to: median 3, 90th percentile 7, 99th about 25, a few
    hubs hundreds. 85% of ties have a ``contact_add`` (75% both ways) shortly before the
    first message; 15% chat without. A tie has conversations at ``0.16/day`` (lognormal
    sigma 1.25, scaled by both people's activity); a conversation has a geometric number of
    messages (mean 5), the turn passes with probability 0.72, replies after a median of 75 s
    (12% after hours), follow-ups after ~18 s. Conversation starts follow a diurnal (night
    trough at 03-05 UTC) and weekly profile. Kinds: 74% text, 12% image, 6% audio, 3.5% link,
    3% video, 1% document; sizes lognormal per kind; ``typing_ms`` ~180 ms per character
    for text (4% pasted = 0, 3% absent), often 0 for media; a random 64-bit ``digest`` per
    message (92%). Groups: ``accounts/7`` groups of mostly 3-9 members (7% have 10-40)
    drawn from the creator's contacts and community; 30% are created during the scenario
    (``group_create``, ``group_join`` mostly ``added_by`` the creator), the rest existed
    before. Viral content (``accounts/1500`` items, at least 2): image, video or link with one
    digest and size forwarded along ties, 1-5 contacts per forwarder (1 once ``forwarded``
    >= 5), 30% re-forward, ``forwarded`` = hop count. Rare friction: 0.2%/day of humans block someone, 0.06%/day
    report someone (with a real ham SMS text half the time).
``new_user``
    3% of the humans register during the scenario (``register`` with E.164 phone whose
    prefix matches ``country``, ip, device, client), ``contact_sync`` of ~220 numbers
    (15-1500) with a 20-60% match rate, then contact adds and chats with their ties.
    Existing humans have no ``register`` event.
``organiser`` (6)
    A human who 1-3 times sends one announcement (one digest, the first typed, most pasted
    with ``typing_ms`` 0) to 20-70 people of their community within minutes; 75% answer
    (median 15 min), the organiser answers back half of them.
``heavy_chatter`` (10)
    A human with 60-200 extra contacts in and near their community, 0.5 conversations/day
    (lognormal) with each, fast replies: hundreds of messages a day.
``group_admin`` (6)
    A human (school/club admin) creating 1-3 groups of 30-200 members from their extended
    community, adding each member (``added_by``, 1-6 s apart, after adding most as
    contacts), then lively group threads.
``business`` (8)
    Registers ``kind: business``, registers 2-4 templates (utility, marketing,
    authentication), 40-300 customers opt in (``qr`` 45%, ``link`` 40%, ``web``), 85% write
    first within minutes, the business answers free-form inside the 24-hour window
    (1-3 exchanges, more sessions later); about once a day (1.05-1.4 days apart) a
    registered template goes to 30-70% of the opted-in customers outside their window, at
    most 240 a campaign; 3% opt out (and get no more templates); 0.5% block it.
``brigade_victim`` (3)
    An ordinary human who receives many reports from a ``report_brigade`` that never
    talked to them.
``background``
    Accounts ``bg:ID`` of the ``--background`` edge list (see below).

Abusive (label ``abusive``). Recipients are a mix of humans (35-60%) and never-sending
strangers. Feedback comes only from human recipients, minutes to hours later (blocks:
median 10 min; reports: median 30 min, lognormal): 4-10% block; for 60% of the abusers
("reportable", drawn per account) 2-5% report (at least one report; reason spam/scam;
half with a real spam SMS text from the UCI SMS Spam Collection); the other 40% are never
reported (blocks still happen). Enumerators with no messages and report brigades are never
reported either.

``blaster`` (7)
    Registers, 1-2 ``contact_sync`` of 1.5k-60k numbers with 0.5-4% matched, then blasts
    one digest (25%: 2-3 digests) to 120-2000 (median ~450) distinct recipients, 0.6-3 s
    median gaps (lognormal jitter), link or text of nearly constant size, 85% ``typing_ms``
    0 (15% fake 40-2500 ms).
``slow_spinner`` (7)
    Half registered, half aged; sends all scenario long at a median gap of 2-10 min
    (lognormal, mostly 07-24 h) to distinct recipients, each message a "spun" variant of
    one base SimHash with 1-3 random bits flipped; 60% fake typing 0.4-5 s.
``farm`` (20 accounts)
    Farms of 5-15 accounts registered 20-240 s apart from 1-3 IPs and 1-3 devices, one
    client, sequential phone numbers in one block (15% small skips); half sync a few
    hundred numbers; each sends 3-8 messages of the farm's digest family (0-2 bits flipped)
    to strangers, 3-60 s apart.
``group_spammer`` (6)
    80% register; creates 1-3 groups, adds 50-260 strangers (``added_by``, ~1 s apart),
    posts 3-10 link messages of a digest family to each.
``chain_bot`` (6)
    40% register; forwards a chain letter (one of ``count/3`` digests, image or link,
    ``forwarded`` 5-127, ``typing_ms`` 0) to 40-260 chats within hours.
``enumerator`` (6)
    Registers, 5-40 ``contact_sync`` sweeps of 1k-100k numbers (0.3-3% matched) minutes
    apart; 0-3 messages.
``takeover`` (6)
    A human with normal history; between 50% and 90% of the scenario (60% re-registered
    on a new device just before) it blasts one scam link to all its contacts and 80-500
    strangers, 0.8-4 s apart.
``fake_engagement`` (10 accounts)
    Rings of 3-10 registered bots that add each other and chat among themselves (~6
    conversations/day per pair, fast replies) to fake a good reply ratio, while each
    messages 20-90 strangers with a digest family.
``business_spammer`` (6)
    Registers ``kind: business`` and one marketing template; 0-8% of its 300-1300 targets
    get a dubious ``optin`` (source ``other``); it sends them all texts within hours (1-15 s
    gaps; over the 250/24h tier): 80% templates (two thirds of them unregistered template
    ids), 20% free-form outside any window; 10% of human recipients block it.
``report_brigade`` (18 accounts)
    Farm-registered accounts (few IPs/devices, sequential numbers) split over the
    ``brigade_victim`` accounts; each files one report (abuse/spam/scam, 30% with a ham
    text) against its victim within hours. Nothing else.

Background (``--background PATH``)
----------------------------------

A SNAP temporal edge list (``SRC DST UNIXTS``, optionally gzipped, ``#`` comments) becomes
``message`` events ``bg:SRC -> bg:DST`` (sub-second jitter, human kinds, sizes, typing and
digests), labeled ``legit``/``background``. The scenario then starts at the background's
start, skipping its quiet launch days (the first day reaching 10% of the 75th percentile of
daily volume: day 6 of CollegeMsg), and keeps the first ``--days`` days of it; ``--days``
is clipped to the background's remaining span. All simulated populations are placed in
that window (their diurnal profile follows UTC of those dates).

Speed: about 200k events/s written, single-threaded: ``--accounts 36000 --days 3`` gives
2.0M events in about 10 s. Events scale roughly with ``accounts * days`` (~19 events per
human per day).
"""

from .families import FAMILIES, HELD_OUT, random_variant
from .scenario import ARCHETYPES, DEFAULT_MIX_5000, default_mix, parse_mix, simulate

__all__ = ["simulate", "parse_mix", "default_mix", "random_variant", "ARCHETYPES",
           "DEFAULT_MIX_5000", "FAMILIES", "HELD_OUT"]
