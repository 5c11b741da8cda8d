"""Hard legitimate cases and abusers. Each function adds ``count`` accounts of one archetype
to a :class:`~bulkguard.sim.model.World` (parameters are documented in ``bulkguard.sim``)."""

from __future__ import annotations

import numpy as np

from .core import (CLIENTS, COUNTRIES, DAY, HOUR, country_pick, diurnal_times, flip_bits, hex64,
                   lognormal_delay, message_rest, phone_for, rand_digests, random_device,
                   random_ip, report_rest, sms_texts)
from .model import World, conversations, group_threads

#: share of abusers that nobody ever reports
UNREPORTED_SHARE = 0.4


def _reportable(w: World) -> bool:
    return bool(w.rng.random() >= UNREPORTED_SHARE)


def _window(w: World, lo: float = 0.03, hi: float = 0.85, tail: float = 2 * HOUR,
            diurnal: bool = False) -> float:
    """A start time between fractions ``lo`` and ``hi`` of the scenario, leaving ``tail``
    seconds when possible; ``diurnal`` follows the activity profile."""
    span = w.t1 - w.t0
    a = w.t0 + lo * span
    b = max(a + 1.0, min(w.t0 + hi * span, w.t1 - tail))
    if diurnal:
        return float(diurnal_times(w.rng, 1, a, b)[0])
    return float(w.rng.uniform(a, b))


def _contact_before(w: World, t: float) -> float:
    """A time for a contact_add before ``t`` (spread over the stream before it)."""
    lo = w.t0
    return lo + w.rng.random() * max(0.0, t - 60.0 - lo)


def _contact_add(w: World, t: float, a: int, b: int) -> None:
    w.buf.add(t, "contact_add", f',"account":"{w.names[a]}","contact":"{w.names[b]}"}}')


def _join(w: World, t: float, g: str, m: int, by: int) -> None:
    w.buf.add(t, "group_join", f',"group":"{g}","member":"{w.names[m]}","added_by":"{w.names[by]}"}}')


def _sync(w: World, t: float, a: int, numbers: int, matched: int) -> None:
    w.buf.add(t, "contact_sync", f',"account":"{w.names[a]}","numbers":{numbers},"matched":{matched}}}')


def _msg(w: World, t: float, s: int, r: int | None = None, group: str | None = None, **kw) -> None:
    w.buf.add(t, "message", message_rest(w.names[s], None if r is None else w.names[r], group, **kw))


def _bot_typing(w: World, n: int, p_fake: float = 0.15) -> np.ndarray:
    """Automation mostly sends with typing 0; some bots fake a short typing indicator."""
    t = np.zeros(n, dtype=np.int64)
    fake = w.rng.random(n) < p_fake
    t[fake] = w.rng.integers(40, 2500, int(fake.sum()))
    return t


def _human_reply(w: World, t: float, s: int, r: int) -> float:
    """One human text message ``s -> r`` at ``t``; returns ``t``."""
    rng = w.rng
    size = int(max(2, lognormal_delay(rng, 40, 0.8)))
    _msg(w, t, s, r, kind="text", size=size, digest=w.hexdigest(),
         typing_ms=int(size * rng.uniform(120, 300)))
    return t


def _farm_identities(w: World, n: int):
    """Registrations of a farm: few IPs and devices, sequential numbers in one block."""
    rng = w.rng
    ci = country_pick(rng)
    nd = COUNTRIES[ci][2]
    base = int(rng.integers(10 ** (nd - 1), 10**nd - 10 * n - 10))
    base -= base % 100
    ips = [random_ip(rng) for _ in range(int(rng.integers(1, 4)))]
    devs = [random_device(rng) for _ in range(int(rng.integers(1, 4)))]
    client = CLIENTS[int(rng.integers(len(CLIENTS)))]
    nums, cur = [], base
    for _ in range(n):
        nums.append(cur)
        cur += 1 if rng.random() < 0.85 else int(rng.integers(2, 5))
    return ci, [phone_for(rng, ci, x) for x in nums], ips, devs, client


def _split(total: int, lo: int, hi: int, rng: np.random.Generator) -> list[int]:
    """Split ``total`` accounts into groups of ``lo..hi`` (the last may be smaller)."""
    out = []
    while total > 0:
        k = min(total, int(rng.integers(lo, hi + 1)))
        out.append(k)
        total -= k
    return out


# =============================================================== hard legitimate cases

def organiser(w: World, count: int) -> None:
    rng = w.rng
    for o in w.pick_humans(count, min_degree=2).tolist():
        w.label(o, "legit", "organiser")
        for _ in range(int(rng.integers(1, 4))):
            t = _window(w, 0.02, 0.9, HOUR, diurnal=True)
            k = int(rng.integers(20, 70))
            cs = int(w.community[o]) * 40
            pool = np.unique(np.concatenate([w.adj[o], np.arange(cs, min(cs + 120, w.n_humans)),
                                             rng.integers(0, w.n_humans, 20)]))
            pool = pool[(pool != o) & (w.reg_time[pool] < t - 600)]
            rec = rng.choice(pool, size=min(k, len(pool)), replace=False)
            dg = w.hexdigest()
            size = int(rng.integers(200, 900))
            nbs = set(w.adj[o].tolist())
            tt = t
            for j, r in enumerate(rec.tolist()):
                if r not in nbs:
                    _contact_add(w, max(_contact_before(w, t), w.reg_time[r] + 60), o, r)
                typing = int(size * rng.uniform(150, 250)) if j == 0 else (
                    0 if rng.random() < 0.7 else int(rng.integers(200, 1500)))
                tt += float(rng.uniform(3, 25))
                _msg(w, tt, o, r, kind="text", size=size, digest=dg, typing_ms=typing)
                if rng.random() < 0.75:  # most invitees answer
                    tr = tt + float(lognormal_delay(rng, 900, 1.3))
                    _human_reply(w, tr, r, o)
                    if rng.random() < 0.5:
                        _human_reply(w, tr + float(lognormal_delay(rng, 240, 1.0)), o, r)


def heavy_chatter(w: World, count: int) -> None:
    rng = w.rng
    for h in w.pick_humans(count).tolist():
        w.label(h, "legit", "heavy_chatter")
        k = int(rng.integers(60, 200))
        cs = int(w.community[h]) * 40
        pool = np.unique(np.concatenate([np.arange(max(0, cs - 200), min(cs + 240, w.n_humans)),
                                         rng.integers(0, w.n_humans, 60)]))
        pool = pool[pool != h]
        peers = rng.choice(pool, size=min(k, len(pool)), replace=False)
        nbs = set(w.adj[h].tolist())
        for p in peers.tolist():
            if p not in nbs and rng.random() < 0.9:
                _contact_add(w, max(w.t0, w.reg_time[p]) + float(rng.uniform(0, 0.5 * (w.t1 - w.t0))), h, p)
        A = np.full(len(peers), h)
        rates = lognormal_delay(rng, 0.5, 0.9, len(peers))
        allowed = np.maximum(w.reg_time[peers], w.t0) + 120.0
        ts, s, r = conversations(w, A, peers, rates, allowed, mean_len=7.0, reply_median=40.0)
        w.emit_messages(ts, s, r)


def group_admin(w: World, count: int) -> None:
    rng = w.rng
    for a in w.pick_humans(count).tolist():
        w.label(a, "legit", "group_admin")
        cs = int(w.community[a]) * 40
        nbs = set(w.adj[a].tolist())
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(30, 200))
            lo, hi = max(0, cs - 100), min(w.n_humans, cs + 140)
            pool = np.arange(lo, hi)
            pool = pool[pool != a]
            mem = rng.choice(pool, size=min(k, len(pool)), replace=False)
            tc = _window(w, 0.02, 0.7)
            mem = mem[w.reg_time[mem] < tc]
            g = w.ids.take(1, "g", 9)[0]
            for m in mem.tolist():
                if m not in nbs and rng.random() < 0.9:
                    _contact_add(w, max(_contact_before(w, tc), w.reg_time[m] + 60), a, m)
            w.buf.add(tc, "group_create", f',"account":"{w.names[a]}","group":"{g}","size_limit":256}}')
            t = tc
            for m in mem.tolist():
                t += float(rng.uniform(1.0, 6.0))
                _join(w, t, g, m, a)
            allm = np.concatenate([[a], mem]).astype(np.int64)
            _msg(w, t + 30, a, group=g, kind="text", size=int(rng.integers(100, 600)),
                 digest=w.hexdigest(), typing_ms=int(rng.integers(8000, 60000)))
            gts, gsnd, gi = group_threads(w, np.array([0]), np.array([len(allm)]), allm,
                                          np.array([rng.uniform(2, 6)]), np.array([t + 60]))
            w.emit_messages(gts, gsnd, gi, group_names=np.array([g], dtype=object))


def business(w: World, count: int) -> None:
    """Kind businesses: opt-in, customers write first, free-form inside 24 h, registered
    templates outside it only to opted-in customers, under 250 customers/24 h."""
    rng = w.rng
    biz = w.new_accounts(count)
    for b in biz.tolist():
        w.label(b, "legit", "business")
        tr = w.t0 + rng.uniform(0, 0.05) * (w.t1 - w.t0)
        w.register(b, tr, kind="business", client="business-api/1.4")
        tpls = [f"{w.names[b]}_{x}" for x in ("order_update", "appointment", "newsletter", "otp")]
        cats = ["utility", "utility", "marketing", "authentication"]
        ntp = int(rng.integers(2, 5))
        for i in range(ntp):
            w.buf.add(tr + 30 + i, "template_register",
                      f',"business":"{w.names[b]}","template":"{tpls[i]}","category":"{cats[i]}"}}')
        n_cust = int(rng.integers(40, 300))
        cust = rng.choice(w.n_humans, size=min(n_cust, w.n_humans), replace=False)
        ot = diurnal_times(rng, len(cust), tr + 120, w.t1)
        ot = np.maximum(ot, w.reg_time[cust] + 300)
        last_in: dict[int, list[float]] = {}
        optout: dict[int, float] = {}
        for c, t in zip(cust.tolist(), ot.tolist()):
            if t >= w.t1:
                continue
            src = ("qr", "link", "web")[int(rng.choice(3, p=[0.45, 0.4, 0.15]))]
            w.buf.add(t, "optin", f',"business":"{w.names[b]}","customer":"{w.names[c]}","source":"{src}"}}')
            sessions = [t + float(rng.uniform(5, 600))] if rng.random() < 0.85 else []
            sessions += diurnal_times(rng, rng.poisson(0.3 * w.days), t + HOUR, w.t1).tolist()
            for st in sessions:
                tt = st
                for _ in range(int(rng.integers(1, 4))):
                    _human_reply(w, tt, c, b)
                    last_in.setdefault(c, []).append(tt)
                    tt += float(lognormal_delay(rng, 120, 0.8))
                    size = int(lognormal_delay(rng, 120, 0.6))
                    _msg(w, tt, b, c, kind="text", size=size, digest=w.hexdigest(),
                         typing_ms=int(size * rng.uniform(60, 200)) if rng.random() < 0.8 else 0)
                    tt += float(lognormal_delay(rng, 90, 1.0))
            if rng.random() < 0.03:
                t_out = t + float(rng.uniform(HOUR, 2 * DAY))
                optout[c] = t_out
                w.buf.add(t_out, "optout", f',"business":"{w.names[b]}","customer":"{w.names[c]}"}}')
        # one template campaign per day to opted-in customers outside the 24h window
        day = tr + DAY * rng.uniform(0.2, 0.8)
        opt = dict(zip(cust.tolist(), ot.tolist()))
        while day < w.t1:
            elig = [c for c, t in opt.items() if t < day - 600 and optout.get(c, np.inf) > day
                    and all(x < day - DAY or x > day + HOUR for x in last_in.get(c, []))]
            rng.shuffle(elig)
            elig = elig[:min(240, int(len(elig) * rng.uniform(0.3, 0.7)))]
            tpl = tpls[int(rng.integers(ntp))]
            tt = day
            for c in elig:
                tt += float(rng.uniform(0.5, 3.0))
                _msg(w, tt, b, c, kind="text", size=int(rng.integers(150, 400)),
                     digest=w.hexdigest(), template=tpl, typing_ms=0)
                if rng.random() < 0.005:
                    w.buf.add(tt + float(lognormal_delay(rng, 900, 1.0)), "block",
                              f',"blocker":"{w.names[c]}","blocked":"{w.names[b]}"}}')
            day += DAY * rng.uniform(1.05, 1.4)


def brigade_victims(w: World, count: int) -> list[int]:
    v = w.pick_humans(count, min_degree=1).tolist()
    w.label(v, "legit", "brigade_victim")
    return v


# =============================================================== abusers

def blaster(w: World, count: int) -> None:
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "blaster")
        T = _window(w)
        w.register(a, T)
        t = T + float(rng.uniform(5, 60))
        for _ in range(int(rng.integers(1, 3))):
            nums = int(np.clip(lognormal_delay(rng, 6000, 0.8), 1500, 60000))
            _sync(w, t, a, nums, int(nums * rng.uniform(0.005, 0.04)))
            t += float(rng.uniform(10, 300))
        n = int(np.clip(lognormal_delay(rng, 450, 0.6), 120, 2000))
        rec = w.abuse_targets(n)
        gaps = lognormal_delay(rng, float(rng.uniform(0.6, 3.0)), 0.5, len(rec))
        ts = t + float(rng.uniform(30, 1800)) + np.cumsum(gaps)
        ndg = 1 if rng.random() < 0.75 else int(rng.integers(2, 4))
        digs = rand_digests(rng, ndg)
        d = digs[rng.integers(0, ndg, len(rec))]
        kind = 5 if rng.random() < 0.6 else 0
        size = int(rng.integers(120, 600))
        sizes = size + rng.integers(-3, 4, len(rec))
        w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.full(len(rec), kind),
                        digests=d, typing=_bot_typing(w, len(rec)), sizes=np.maximum(sizes, 1))
        w.feedback(a, rec, ts, p_block=0.07, p_report=0.035, reportable=_reportable(w),
                   reasons=("spam", "scam"))


def slow_spinner(w: World, count: int) -> None:
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "slow_spinner")
        T = _window(w, 0.0, 0.3)
        if rng.random() < 0.5:
            w.register(a, T)
        med = float(rng.uniform(120, 600))
        n_max = int((w.t1 - T) / med * 1.2) + 4
        gaps = lognormal_delay(rng, med, 0.6, n_max)
        ts = T + 60 + np.cumsum(gaps)
        ts = ts[ts < w.t1]
        hours = (ts % DAY) // HOUR
        ts = ts[(hours >= 7) | (rng.random(len(ts)) < 0.05)]
        if not len(ts):
            ts = np.array([T + 120])
        rec = w.abuse_targets(len(ts), human_share=0.4)
        ts = ts[:len(rec)]
        base = rand_digests(rng, 1)[0]
        d = flip_bits(rng, base, len(rec))
        typing = np.where(rng.random(len(rec)) < 0.6, rng.integers(400, 5000, len(rec)), 0)
        kinds = np.where(rng.random(len(rec)) < 0.5, 5, 0)
        w.emit_messages(ts, np.full(len(rec), a), rec, kinds=kinds, digests=d, typing=typing)
        w.feedback(a, rec, ts, p_block=0.04, p_report=0.02, reportable=_reportable(w),
                   reasons=("spam", "scam"))


def farm(w: World, count: int) -> None:
    rng = w.rng
    for size in _split(count, 5, 15, rng):
        accs = w.new_accounts(size).tolist()
        w.label(accs, "abusive", "farm")
        ci, phones, ips, devs, client = _farm_identities(w, size)
        T = _window(w, 0.02, 0.75, 6 * HOUR)
        base = rand_digests(rng, 1)[0]
        kind = 5 if rng.random() < 0.7 else 0
        size_b = int(rng.integers(100, 500))
        t = T
        for j, a in enumerate(accs):
            t += float(rng.uniform(20, 240))
            w.register(a, t, ci=ci, phone=phones[j], ip=ips[int(rng.integers(len(ips)))],
                       device=devs[int(rng.integers(len(devs)))], client=client)
            if rng.random() < 0.5:
                nums = int(rng.integers(50, 800))
                _sync(w, t + float(rng.uniform(5, 40)), a, nums, int(nums * rng.uniform(0.0, 0.05)))
            k = int(rng.integers(3, 9))
            rec = w.abuse_targets(k)
            ts = t + float(lognormal_delay(rng, 1800, 1.0)) + np.cumsum(rng.uniform(3, 60, len(rec)))
            d = flip_bits(rng, base, len(rec), 0, 2)
            w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.full(len(rec), kind), digests=d,
                            typing=_bot_typing(w, len(rec)),
                            sizes=size_b + rng.integers(-5, 6, len(rec)))
            w.feedback(a, rec, ts, p_block=0.07, p_report=0.04, reportable=_reportable(w))


def group_spammer(w: World, count: int) -> None:
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "group_spammer")
        T = _window(w)
        if rng.random() < 0.8:
            w.register(a, T)
        base = rand_digests(rng, 1)[0]
        reportable = _reportable(w)
        t = T + float(rng.uniform(60, 3600))
        for _ in range(int(rng.integers(1, 4))):
            g = w.ids.take(1, "g", 9)[0]
            w.buf.add(t, "group_create", f',"account":"{w.names[a]}","group":"{g}","size_limit":1024}}')
            mem = w.abuse_targets(int(rng.integers(50, 260)), human_share=0.35)
            for m in mem.tolist():
                t += float(lognormal_delay(rng, 0.8, 0.6))
                _join(w, t, g, m, a)
            k = int(rng.integers(3, 11))
            ts = t + np.cumsum(lognormal_delay(rng, 40, 1.0, k))
            d = flip_bits(rng, base, k, 0, 2)
            for tt, dd in zip(ts.tolist(), d.tolist()):
                _msg(w, tt, a, group=g, kind="link", size=int(rng.integers(200, 400)),
                     digest=hex64(dd), typing_ms=0 if rng.random() < 0.85 else int(rng.integers(100, 900)))
            w.feedback(a, mem, np.full(len(mem), ts[0]), p_block=0.08, p_report=0.04,
                       reportable=reportable, reasons=("spam", "scam"))
            t = float(ts[-1]) + float(rng.uniform(300, 4 * HOUR))


def chain_bot(w: World, count: int) -> None:
    rng = w.rng
    chains = rand_digests(rng, max(1, count // 3))
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "chain_bot")
        T = _window(w, 0.0, 0.7)
        if rng.random() < 0.4:
            w.register(a, T)
        rec = w.abuse_targets(int(rng.integers(40, 260)), human_share=0.6)
        n = len(rec)
        ts = T + 300 + np.cumsum(lognormal_delay(rng, float(rng.uniform(3, 40)), 0.8, n))
        fw = rng.integers(5, 128, n)
        d = np.full(n, chains[int(rng.integers(len(chains)))], dtype=np.uint64)
        kinds = np.where(rng.random(n) < 0.5, 1, 5)
        w.emit_messages(ts, np.full(n, a), rec, kinds=kinds, digests=d,
                        typing=_bot_typing(w, n, 0.05), forwarded=fw)
        w.feedback(a, rec, ts, p_block=0.04, p_report=0.02, reportable=_reportable(w))


def enumerator(w: World, count: int) -> None:
    rng = w.rng
    for a in w.new_accounts(count).tolist():
        w.label(a, "abusive", "enumerator")
        T = _window(w)
        w.register(a, T)
        t = T + float(rng.uniform(5, 60))
        for _ in range(int(rng.integers(5, 41))):
            nums = int(np.clip(lognormal_delay(rng, 8000, 0.7), 1000, 100000))
            _sync(w, t, a, nums, int(nums * rng.uniform(0.003, 0.03)))
            t += float(lognormal_delay(rng, 240, 0.8))
        k = int(rng.integers(0, 4))
        if k:
            rec = w.abuse_targets(k)
            ts = t + np.cumsum(rng.uniform(10, 600, len(rec)))
            w.emit_messages(ts, np.full(len(rec), a), rec, kinds=np.zeros(len(rec), np.int64),
                            typing=_bot_typing(w, len(rec)))
            w.feedback(a, rec, ts, p_block=0.05, p_report=0.03, reportable=_reportable(w))


def takeover(w: World, count: int) -> None:
    rng = w.rng
    for a in w.pick_humans(count, min_degree=2).tolist():
        w.label(a, "abusive", "takeover")
        T = _window(w, 0.5, 0.9)
        if rng.random() < 0.6:  # re-registered on the attacker's device
            w.register(a, T - float(rng.uniform(60, 1800)))
        contacts = w.adj[a][w.reg_time[w.adj[a]] < T]
        strangers = w.abuse_targets(int(rng.integers(80, 500)), exclude=contacts)
        rec = np.concatenate([contacts, strangers]).astype(np.int64)
        ts = T + np.cumsum(lognormal_delay(rng, float(rng.uniform(0.8, 4)), 0.5, len(rec)))
        d = rand_digests(rng, 1)[0]
        n = len(rec)
        w.emit_messages(ts, np.full(n, a), rec, kinds=np.full(n, 5), digests=np.full(n, d, np.uint64),
                        typing=_bot_typing(w, n), sizes=np.full(n, int(rng.integers(150, 400))))
        w.feedback(a, rec, ts, p_block=0.06, p_report=0.05, reportable=_reportable(w),
                   reasons=("scam", "spam"))


def fake_engagement(w: World, count: int) -> None:
    rng = w.rng
    for size in _split(count, 3, 10, rng):
        ring = w.new_accounts(size)
        w.label(ring, "abusive", "fake_engagement")
        T = _window(w, 0.02, 0.6)
        for j, a in enumerate(ring.tolist()):
            w.register(a, T + j * float(rng.uniform(30, 900)))
        t = T + size * 900.0
        A, B = np.triu_indices(size, 1)
        A, B = ring[A], ring[B]
        for x, y in zip(A.tolist(), B.tolist()):
            _contact_add(w, t + float(rng.uniform(0, 600)), x, y)
            _contact_add(w, t + float(rng.uniform(0, 600)), y, x)
        ts, s, r = conversations(w, A, B, lognormal_delay(rng, 6.0, 0.5, len(A)),
                                 np.full(len(A), t + 600), mean_len=6.0, reply_median=30.0, p_switch=0.9)
        w.emit_messages(ts, s, r, typing=np.where(rng.random(len(ts)) < 0.5, 0,
                                                   rng.integers(200, 4000, len(ts))))
        base = rand_digests(rng, 1)[0]
        for a in ring.tolist():
            rec = w.abuse_targets(int(rng.integers(20, 90)))
            tt = t + 900 + np.cumsum(lognormal_delay(rng, 60, 1.0, len(rec)))
            tt = tt[tt < w.t1] if (tt < w.t1).any() else tt[:1]
            rec = rec[:len(tt)]
            w.emit_messages(tt, np.full(len(rec), a), rec, kinds=np.full(len(rec), 5),
                            digests=flip_bits(rng, base, len(rec), 0, 2),
                            typing=_bot_typing(w, len(rec), 0.3))
            w.feedback(a, rec, tt, p_block=0.05, p_report=0.03, reportable=_reportable(w))


def business_spammer(w: World, count: int) -> None:
    rng = w.rng
    for b in w.new_accounts(count).tolist():
        w.label(b, "abusive", "business_spammer")
        T = _window(w, 0.02, 0.5)
        w.register(b, T, kind="business", client="business-api/1.4")
        name = w.names[b]
        reg_tpl = f"{name}_promo"
        w.buf.add(T + 20, "template_register",
                  f',"business":"{name}","template":"{reg_tpl}","category":"marketing"}}')
        tpls = [reg_tpl, f"{name}_offer", f"{name}_winner"]
        rec = w.abuse_targets(int(rng.integers(300, 1300)), human_share=0.5)
        n_opt = int(len(rec) * rng.uniform(0.0, 0.08))
        for c in rec[:n_opt].tolist():
            w.buf.add(T + float(rng.uniform(60, 3600)), "optin",
                      f',"business":"{name}","customer":"{w.names[c]}","source":"other"}}')
        ts = T + 3600 + np.cumsum(lognormal_delay(rng, float(rng.uniform(1, 15)), 0.7, len(rec)))
        d = int(rand_digests(rng, 1)[0])
        for c, tt in zip(rec.tolist(), ts.tolist()):
            u = rng.random()
            tpl = tpls[int(rng.integers(len(tpls)))] if u < 0.8 else None
            _msg(w, tt, b, c, kind="text", size=int(rng.integers(150, 500)),
                 digest=hex64(d ^ int(rng.integers(0, 4))), template=tpl, typing_ms=0)
        w.feedback(b, rec, ts, p_block=0.1, p_report=0.04, reportable=_reportable(w),
                   reasons=("spam", "scam"))


def report_brigade(w: World, count: int, victims: list[int]) -> None:
    rng = w.rng
    if not victims or count <= 0:
        return
    per = np.array_split(np.arange(count), len(victims))
    ham = sms_texts()["ham"]
    for v, part in zip(victims, per):
        if not len(part):
            continue
        accs = w.new_accounts(len(part)).tolist()
        w.label(accs, "abusive", "report_brigade")
        ci, phones, ips, devs, client = _farm_identities(w, len(accs))
        T = _window(w, 0.02, 0.7, 8 * HOUR)
        t = T
        for j, a in enumerate(accs):
            t += float(rng.uniform(10, 300))
            w.register(a, t, ci=ci, phone=phones[j], ip=ips[int(rng.integers(len(ips)))],
                       device=devs[int(rng.integers(len(devs)))], client=client)
        t_rep = t + float(rng.uniform(600, 4 * HOUR))
        reason = ("abuse", "spam", "scam")[int(rng.integers(3))]
        for a in accs:
            msgs = [ham[int(rng.integers(len(ham)))]] if rng.random() < 0.3 else None
            w.buf.add(t_rep + float(lognormal_delay(rng, 900, 1.0)), "report",
                      report_rest(w.names[a], w.names[v], reason if rng.random() < 0.8 else "abuse", msgs))


HARD_CASES = ("organiser", "heavy_chatter", "group_admin", "business", "brigade_victim")
ABUSERS = ("blaster", "slow_spinner", "farm", "group_spammer", "chain_bot", "enumerator",
           "takeover", "fake_engagement", "business_spammer", "report_brigade")
