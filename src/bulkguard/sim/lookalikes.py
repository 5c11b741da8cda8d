"""Legitimate hard cases that look like abuse to a detector trained on shortcuts, and
abusers that imitate them (issue 9). Parameters are documented in ``docs/simulator.md``.

They are generated after every other population from a random stream of their own, so a
seed's other populations are the same as without them.
"""

from __future__ import annotations

import numpy as np

from .archetypes import (_bot_typing, _contact_add, _human_reply, _msg,
                         _reportable, _split, _sync, _window)
from .core import (CLIENTS, DAY, HOUR, country_pick, diurnal_times, flip_bits, hex64,
                   lognormal_delay, phone_for, rand_digests, random_device, random_ip)
from .model import World, conversations


def _typed(w: World, size: int) -> int:
    """Typing time of a human typing ``size`` characters."""
    return int(min(size, 2000) * w.rng.uniform(120, 300))


def _existing_humans(w: World) -> np.ndarray:
    return np.flatnonzero(~np.isfinite(w.reg_time))


def _strangers_to(w: World, who: int, n: int) -> np.ndarray:
    """``n`` existing humans who are not ``who``'s ties (nor ``who``)."""
    pool = _existing_humans(w)
    pool = pool[~np.isin(pool, np.append(w.adj[who], who))] if who < w.n_humans else pool
    return w.rng.choice(pool, size=min(n, len(pool)), replace=False)


def _friends_of_friends(w: World, who: int) -> np.ndarray:
    """Existing humans two steps from ``who`` in the graph, not its ties."""
    nb = w.adj[who]
    if not len(nb):
        return np.empty(0, np.int64)
    fof = np.unique(np.concatenate([w.adj[x] for x in nb.tolist()]))
    fof = fof[~np.isin(fof, np.append(nb, who))]
    return fof[~np.isfinite(w.reg_time[fof])]


def _dialogue(w: World, t: float, a: int, b: int, *, p_answer: float, answer_median: float,
              first_size: int | None = None, first_digest: str | None = None,
              first_typing: int | None = None, back: float = 0.5) -> None:
    """``a`` writes to ``b`` at ``t``; ``b`` answers with ``p_answer`` (lognormal delay),
    and ``a`` answers back with probability ``back``, followed by a short exchange."""
    rng = w.rng
    size = first_size if first_size is not None else int(max(2, lognormal_delay(rng, 60, 0.7)))
    _msg(w, t, a, b, kind="text", size=size, digest=first_digest or w.hexdigest(),
         typing_ms=_typed(w, size) if first_typing is None else first_typing)
    if rng.random() >= p_answer:
        return
    tt = t + float(lognormal_delay(rng, answer_median, 1.2))
    _human_reply(w, tt, b, a)
    turn = (a, b)
    while rng.random() < back:
        tt += float(lognormal_delay(rng, 90, 1.0))
        _human_reply(w, tt, *turn)
        turn = (turn[1], turn[0])
        back *= 0.8


def _announce(w: World, t: float, sender: int, recipients: np.ndarray, *, size: int,
              gaps: tuple[float, float], pasted: float, typed_ms: tuple[int, int],
              p_answer: float, answer_median: float, back: float) -> None:
    """One text (one digest) sent to each of ``recipients`` in turn from ``t``, ``gaps``
    seconds apart: the first typed, then pasted (``typing_ms`` 0) with probability
    ``pasted``, else a short typing time in ``typed_ms``; each recipient may answer
    (:func:`_dialogue`)."""
    rng = w.rng
    dg = w.hexdigest()
    tt = t
    for j, r in enumerate(recipients.tolist()):
        tt += float(rng.uniform(*gaps))
        typing = _typed(w, size) if j == 0 else (
            0 if rng.random() < pasted else int(rng.integers(*typed_ms)))
        _dialogue(w, tt, sender, r, p_answer=p_answer, answer_median=answer_median,
                  first_size=size, first_digest=dg, first_typing=typing, back=back)


# =============================================================== legitimate hard cases

def announcer(w: World, count: int) -> None:
    """Organiser of a larger event: an announcement to 40-80 people, half of them friends of
    friends the announcer never added, most of whom answer."""
    rng = w.rng
    for o in w.pick_humans(count, min_degree=3).tolist():
        w.label(o, "legit", "announcer")
        fof = _friends_of_friends(w, o)
        for _ in range(int(rng.integers(1, 3))):
            t = _window(w, 0.02, 0.9, HOUR, diurnal=True)
            k = int(rng.integers(40, 81))
            near = np.unique(np.concatenate([w.adj[o], np.arange(int(w.community[o]) * 40,
                                                                   min(int(w.community[o]) * 40 + 40, w.n_humans))]))
            near = near[(near != o) & (w.reg_time[near] < t - 600)]
            n_fof = min(len(fof), k // 2)
            rec = np.concatenate([rng.choice(near, size=min(k - n_fof, len(near)), replace=False),
                                  rng.choice(fof, size=n_fof, replace=False)]).astype(np.int64)
            rng.shuffle(rec)
            _announce(w, t, o, rec, size=int(rng.integers(200, 900)), gaps=(3, 25), pasted=0.7,
                      typed_ms=(200, 1500), p_answer=0.8, answer_median=1200, back=0.5)


def no_sync_user(w: World, count: int) -> None:
    """New users who deny the contact permission: they register, never sync or add
    contacts; 40% send one message to one person about an hour later (and nothing else),
    the others chat with 2-8 people they know, who answer."""
    rng = w.rng
    accs = w.new_accounts(count)
    w.label(accs, "legit", "no_sync_user")
    span = w.t1 - w.t0
    humans = _existing_humans(w)
    for a in accs.tolist():
        t = float(diurnal_times(rng, 1, w.t0, w.t0 + max(span - 3 * HOUR, 0.5 * span))[0])
        w.register(a, t)
        if rng.random() < 0.4:
            friend = int(rng.choice(humans))
            _dialogue(w, t + float(lognormal_delay(rng, HOUR, 0.5)), a, friend, p_answer=0.6,
                      answer_median=600, back=0.0)
            continue
        c = int(rng.integers(0, max(1, w.n_humans // 40)))
        pool = humans[(humans >= c * 40) & (humans < c * 40 + 40)]
        if not len(pool):
            pool = humans
        ties = rng.choice(pool, size=min(int(rng.integers(2, 9)), len(pool)), replace=False)
        A = np.full(len(ties), a)
        ts, s, r = conversations(w, A, ties, lognormal_delay(rng, 0.8, 0.8, len(ties)),
                                 np.full(len(ties), t + 300.0))
        # the new user writes first to each person (it just joined)
        first = {}
        for x, (tt, ss, rr) in enumerate(zip(ts.tolist(), s.tolist(), r.tolist())):
            p = rr if ss == a else ss
            if p not in first or tt < first[p][0]:
                first[p] = (tt, x)
        flip = np.zeros(len(ts), dtype=bool)
        for _, x in first.values():
            if s[x] != a:
                flip[x] = True
        s2, r2 = np.where(flip, r, s), np.where(flip, s, r)
        w.emit_messages(ts, s2, r2)


def dialer(w: World, count: int) -> None:
    """People who write to numbers they typed in (a seller, a plumber, a parent from
    school): 2-10 people outside their graph, no contact_add, typed first messages; 75%
    answer."""
    rng = w.rng
    for h in w.pick_humans(count).tolist():
        w.label(h, "legit", "dialer")
        for r in _strangers_to(w, h, int(rng.integers(2, 11))).tolist():
            t = _window(w, 0.0, 0.95, HOUR, diurnal=True)
            _dialogue(w, t, h, r, p_answer=0.75, answer_median=900, back=0.6)


def support_agent(w: World, count: int) -> None:
    """A shop's support person on a personal account: working days 09-18 UTC, writes to
    20-60 customers a day who are not contacts, opening with a pasted greeting (near
    duplicates of one text); 85% answer, then a short typed exchange."""
    rng = w.rng
    for h in w.pick_humans(count).tolist():
        w.label(h, "legit", "support_agent")
        greet = int(rand_digests(rng, 1)[0])
        day = np.floor(w.t0 / DAY) * DAY
        while day < w.t1:
            lo, hi = max(w.t0, day + 9 * HOUR), min(w.t1, day + 18 * HOUR)
            if hi - lo > HOUR:
                n = int(rng.integers(20, 61))
                ts = np.sort(rng.uniform(lo, hi - 600, n))
                for t, r in zip(ts.tolist(), _strangers_to(w, h, n).tolist()):
                    dg = hex64(int(flip_bits(rng, greet, 1, 0, 2)[0]))
                    size = int(rng.integers(80, 160))
                    typing = 0 if rng.random() < 0.6 else _typed(w, size)
                    _dialogue(w, t, h, r, p_answer=0.85, answer_median=600, first_size=size,
                              first_digest=dg, first_typing=typing, back=0.8)
            day += DAY


def teacher(w: World, count: int) -> None:
    """A teacher with 1-3 classes of 20-35 parents (from two communities; 40% are contacts)
    who sends the same notice to each parent individually, on 1-2 occasions a day; 70%
    answer each notice."""
    rng = w.rng
    humans = _existing_humans(w)
    for h in w.pick_humans(count).tolist():
        w.label(h, "legit", "teacher")
        classes = []
        for _ in range(int(rng.integers(1, 4))):
            c = int(w.community[h]) + int(rng.integers(-2, 3))
            pool = humans[(humans >= c * 40) & (humans < c * 40 + 80) & (humans != h)]
            if len(pool) < 20:
                pool = humans[humans != h]
            cls = rng.choice(pool, size=min(int(rng.integers(20, 36)), len(pool)), replace=False)
            for p in cls.tolist():
                if rng.random() < 0.4:
                    _contact_add(w, w.t0 + rng.random() * 0.1 * (w.t1 - w.t0), h, p)
            classes.append(cls)
        n_notes = max(1, rng.poisson(1.5 * w.days))
        for t in np.sort(diurnal_times(rng, n_notes, w.t0 + 0.1 * (w.t1 - w.t0), w.t1 - HOUR)).tolist():
            cls = classes[int(rng.integers(len(classes)))]
            _announce(w, t, h, cls, size=int(rng.integers(150, 700)), gaps=(4, 30), pasted=0.8,
                      typed_ms=(300, 2000), p_answer=0.7, answer_median=1800, back=0.3)


# =============================================================== abusers that imitate them

def stealth_farm(w: World, count: int) -> None:
    """Farms of 4-10 accounts that share no infrastructure: registered hours to days apart
    (over the first half of the scenario), each from its own residential IP, device and
    number (one country), 40% with a human-sized contact sync. They are linked only by
    what they send and to whom: 3-6 waves at common times (each member starts within 2
    minutes of the wave and sends to 8-25 targets, 5-40 s apart, with human-like typing;
    waves follow the diurnal profile)
    of near-duplicate digests (1-3 bits flipped) to targets drawn from one shared list
    (so their target lists overlap)."""
    rng = w.rng
    for size in _split(count, 4, 10, rng):
        accs = w.new_accounts(size)
        w.label(accs, "abusive", "stealth_farm")
        ci = country_pick(rng)
        span = w.t1 - w.t0
        regs = np.sort(w.t0 + rng.uniform(0.0, 0.5, size) * span)
        for a, t in zip(accs.tolist(), regs.tolist()):
            w.register(a, t, ci=ci, phone=phone_for(rng, ci), ip=random_ip(rng),
                       device=random_device(rng), client=CLIENTS[int(rng.integers(len(CLIENTS)))])
            if rng.random() < 0.4:
                nums = int(np.clip(lognormal_delay(rng, 220, 0.6), 15, 1500))
                _sync(w, t + float(rng.uniform(4, 60)), a, nums, int(nums * rng.uniform(0.2, 0.6)))
        n_waves = int(rng.integers(3, 7))
        per = rng.integers(8, 26, size=size)
        pool = w.abuse_targets(max(20, int(per.sum() * n_waves * 0.6)), human_share=0.4)
        lo = max(regs[-1] + HOUR, w.t0 + 0.5 * span)
        waves = np.sort(diurnal_times(rng, n_waves, lo, max(w.t1 - HOUR, lo + HOUR)))
        base = int(rand_digests(rng, 1)[0])
        kind = 5 if rng.random() < 0.5 else 0
        reportable = [_reportable(w) for _ in range(size)]
        for m, a in enumerate(accs.tolist()):
            sent: list[np.ndarray] = []
            times: list[np.ndarray] = []
            for T in waves.tolist():
                rec = rng.choice(pool, size=min(int(per[m]), len(pool)), replace=False)
                ts = T + float(rng.uniform(0, 120)) + np.cumsum(rng.uniform(5, 40, len(rec)))
                sizes = int(rng.integers(150, 400)) + rng.integers(-5, 6, len(rec))
                typing = np.where(rng.random(len(rec)) < 0.7,
                                  (sizes * rng.uniform(120, 250, len(rec))).astype(np.int64), 0)
                w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.full(len(rec), kind),
                                digests=flip_bits(rng, base, len(rec), 1, 3), typing=typing,
                                sizes=np.maximum(sizes, 1))
                sent.append(rec)
                times.append(ts)
            w.feedback(a, np.concatenate(sent), np.concatenate(times), p_block=0.05,
                       p_report=0.03, reportable=reportable[m], reasons=("spam", "scam"))


def slow_blaster(w: World, count: int) -> None:
    """Looks like an organiser: 1-3 times a day one announcement (one digest per burst, the
    first typed, the rest mostly pasted) to 40-80 people within minutes, 3-25 s apart;
    but its recipients are strangers to it and never answer. Half registered."""
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "slow_blaster")
        T = _window(w, 0.0, 0.4)
        if rng.random() < 0.5:
            w.register(a, T)
        n_bursts = max(1, int(rng.poisson(rng.uniform(1, 3) * max(w.days - (T - w.t0) / DAY, 0.3))))
        starts = np.sort(diurnal_times(rng, n_bursts, T + 600, w.t1 - 600))
        recs, tss = [], []
        for t in starts.tolist():
            rec = w.abuse_targets(int(rng.integers(40, 81)), human_share=0.5)
            ts = t + np.cumsum(rng.uniform(3, 25, len(rec)))
            size = int(rng.integers(200, 900))
            typing = np.where(rng.random(len(rec)) < 0.7, 0, rng.integers(200, 1500, len(rec)))
            typing[0] = int(size * rng.uniform(150, 250))
            w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.zeros(len(rec), np.int64),
                            digests=np.full(len(rec), rand_digests(rng, 1)[0], np.uint64),
                            typing=typing, sizes=np.full(len(rec), size))
            recs.append(rec)
            tss.append(ts)
        w.feedback(a, np.concatenate(recs), np.concatenate(tss), p_block=0.05, p_report=0.02,
                   reportable=_reportable(w), reasons=("spam", "scam"))


def one_shot(w: World, count: int) -> None:
    """An account that sends one announcement-like message (typed first, then pasted) to
    40-150 strangers in a single burst and nothing else. 60% registered minutes to hours
    before."""
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "one_shot")
        T = _window(w, 0.02, 0.9, 2 * HOUR, diurnal=True)
        if rng.random() < 0.6:
            w.register(a, T - float(lognormal_delay(rng, HOUR, 1.0)))
        rec = w.abuse_targets(int(rng.integers(40, 151)), human_share=0.5)
        ts = T + np.cumsum(rng.uniform(4, 30, len(rec)))
        size = int(rng.integers(150, 700))
        typing = _bot_typing(w, len(rec), 0.3)
        typing[0] = int(size * rng.uniform(150, 250))
        w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.zeros(len(rec), np.int64),
                        digests=np.full(len(rec), rand_digests(rng, 1)[0], np.uint64),
                        typing=typing, sizes=np.full(len(rec), size))
        w.feedback(a, rec, ts, p_block=0.06, p_report=0.03, reportable=_reportable(w),
                   reasons=("spam", "scam"))


def aged_spammer(w: World, count: int) -> None:
    """A bought account that existed long before the window (never a register event): all
    scenario long, at human pace (median gap 1-5 min, 07-24 h), it sends typed spun texts
    (1-3 bits of one SimHash flipped) to 60-250 people; 8% of the humans it writes to
    answer ("who is this?") and it answers back."""
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "aged_spammer")
        T = _window(w, 0.0, 0.5)
        n = int(rng.integers(60, 251))
        ts = T + np.cumsum(lognormal_delay(rng, float(rng.uniform(60, 300)), 0.7, n))
        ts = ts[(ts < w.t1 - 60) & (((ts % DAY) // HOUR >= 7) | (rng.random(n) < 0.05))]
        if not len(ts):
            ts = np.array([T + 60.0])
        rec = w.abuse_targets(len(ts), human_share=0.5)
        ts = ts[:len(rec)]
        sizes = rng.integers(60, 300, len(rec))
        typing = (sizes * rng.uniform(120, 260, len(rec))).astype(np.int64)
        base = rand_digests(rng, 1)[0]
        w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.zeros(len(rec), np.int64),
                        digests=flip_bits(rng, base, len(rec)), typing=typing, sizes=sizes)
        for r, t in zip(rec.tolist(), ts.tolist()):
            if r < w.n_humans and rng.random() < 0.08:
                tr = t + float(lognormal_delay(rng, 600, 1.0))
                _human_reply(w, tr, r, a)
                _human_reply(w, tr + float(lognormal_delay(rng, 60, 0.8)), a, r)
        w.feedback(a, rec, ts, p_block=0.05, p_report=0.025, reportable=_reportable(w),
                   reasons=("spam", "scam"))


LEGIT = ("announcer", "no_sync_user", "dialer", "support_agent", "teacher")
ABUSERS = ("stealth_farm", "slow_blaster", "one_shot", "aged_spammer")
