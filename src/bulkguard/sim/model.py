"""The simulated world and its ordinary human population (social graph, chats, groups,
viral forwards, new users, rare blocks and reports between legit people)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from .core import (CLIENTS, COUNTRIES, DAY, HOUR, EventBuffer, Ids, country_pick, diurnal_times,
                   hex64, human_typing, lognormal_delay, messages_rest, phone_for, rand_digests,
                   random_device, random_ip, register_rest, report_rest, sizes_for, sms_texts)

#: message kind probabilities of humans (text, image, video, audio, document, link, other)
HUMAN_KIND_P = np.array([0.74, 0.12, 0.03, 0.06, 0.01, 0.035, 0.005])


@dataclass
class World:
    """Shared state of one scenario."""

    rng: np.random.Generator
    t0: float
    t1: float
    buf: EventBuffer = field(default_factory=EventBuffer)
    ids: Ids | None = None
    names: list[str] = field(default_factory=list)          # every account, by index
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # account -> (label, archetype)
    n_humans: int = 0
    community: np.ndarray | None = None
    adj: list[np.ndarray] = field(default_factory=list)     # human neighbours (indices)
    reg_time: np.ndarray | None = None                        # humans: register time or -inf
    strangers: np.ndarray | None = None                       # indices of never-sending accounts
    reserved: set[int] = field(default_factory=set)          # humans given a special role
    reported_counts: dict[str, int] = field(default_factory=dict)
    #: cold start: abusive personal accounts existed before the window (no register event),
    #: and so did the address-book entries between accounts that were there (no contact_add)
    cold_start: bool = False
    pre_existing: set[str] = field(default_factory=set)      # accounts whose register is hidden
    fresh: set[str] = field(default_factory=set)             # accounts created in the window
    _names_arr: np.ndarray | None = None
    _existing: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.ids is None:
            self.ids = Ids(self.rng)
        self._pyrng = random.Random(int(self.rng.integers(0, 2**63)))

    def reseed(self, rng: np.random.Generator) -> None:
        """Draw everything from ``rng`` from now on (ids stay unique)."""
        self.rng = rng
        assert self.ids is not None
        self.ids.rng = rng
        self._pyrng = random.Random(int(rng.integers(0, 2**63)))

    def hexdigest(self) -> str:
        """A fresh random 64-bit digest as 16 hex characters (fast single draws)."""
        return f"{self._pyrng.getrandbits(64) or 1:016x}"

    @property
    def days(self) -> float:
        return (self.t1 - self.t0) / DAY

    def new_accounts(self, n: int, prefix: str = "u") -> np.ndarray:
        start = len(self.names)
        self.names.extend(self.ids.take(n, prefix))
        return np.arange(start, start + n)

    def label(self, idx, label: str, archetype: str) -> None:
        for i in np.atleast_1d(idx).tolist():
            self.labels[self.names[i]] = (label, archetype)

    def name_arr(self) -> np.ndarray:
        """All account names as an object array (cached until accounts are added)."""
        if self._names_arr is None or len(self._names_arr) != len(self.names):
            a = np.empty(len(self.names), dtype=object)
            a[:] = self.names
            self._names_arr = a
        return self._names_arr

    def is_human(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx) < self.n_humans

    def register(self, idx: int, ts: float, *, kind: str = "personal", ci: int | None = None,
                 phone: str | None = None, ip: str | None = None, device: str | None = None,
                 client: str | None = None) -> None:
        """A ``register`` event, unless the scenario is a cold start and ``idx`` is an
        abusive personal account (then it existed before the window: the identity is drawn
        all the same, so the rest of the scenario is the one without cold start)."""
        rng = self.rng
        ci = country_pick(rng) if ci is None else ci
        rest = register_rest(
            self.names[idx], kind=kind, phone=phone or phone_for(rng, ci), ip=ip or random_ip(rng),
            device=device or random_device(rng),
            client=client if client is not None else CLIENTS[int(rng.integers(len(CLIENTS)))],
            country=COUNTRIES[ci][0])
        if self.cold_start and kind == "personal" and self._registered_before(idx):
            self.pre_existing.add(self.names[idx])
            return
        if self.labels.get(self.names[idx], ("", ""))[1] != "takeover":  # a re-registration
            self.fresh.add(self.names[idx])
        self.buf.add(ts, "register", rest)

    def _registered_before(self, idx: int) -> bool:
        """Cold start: which registering accounts existed before the window. Abusive
        personal accounts did (aged or bought accounts; a takeover's re-registration on the
        attacker's device happens inside the window and stays); new users are new."""
        label, archetype = self.labels.get(self.names[idx], ("", ""))
        return label == "abusive" and archetype != "takeover"

    def pick_humans(self, n: int, *, exclude_reserved: bool = True, existing: bool = True,
                    min_degree: int = 0) -> np.ndarray:
        """``n`` distinct humans not yet given a role (and reserve them)."""
        ok = np.ones(self.n_humans, dtype=bool)
        if exclude_reserved and self.reserved:
            ok[list(self.reserved)] = False
        if existing:
            ok &= ~np.isfinite(self.reg_time)
        if min_degree:
            deg = np.array([len(a) for a in self.adj])
            ok &= deg >= min_degree
        cand = np.flatnonzero(ok)
        if len(cand) < n:
            cand = np.flatnonzero(~np.isin(np.arange(self.n_humans), list(self.reserved)))
        pick = self.rng.choice(cand, size=min(n, len(cand)), replace=False)
        self.reserved.update(pick.tolist())
        return pick

    def abuse_targets(self, n: int, human_share: float = 0.35, exclude: np.ndarray | None = None
                      ) -> np.ndarray:
        """``n`` distinct recipients for abuse: a mix of humans and never-sending strangers."""
        rng = self.rng
        if self._existing is None:  # humans present all along (new users may not exist yet)
            self._existing = np.flatnonzero(~np.isfinite(self.reg_time))
        nh = min(int(rng.binomial(n, human_share)), len(self._existing))
        ns = min(n - nh, len(self.strangers))
        h = rng.choice(self._existing, size=nh, replace=False) if nh else np.empty(0, np.int64)
        s = rng.choice(self.strangers, size=ns, replace=False) if ns else np.empty(0, np.int64)
        out = np.concatenate([h, s]).astype(np.int64)
        rng.shuffle(out)
        if exclude is not None and len(exclude):
            out = out[~np.isin(out, exclude)]
        return out

    # -------------------------------------------------------------- feedback on abuse
    def feedback(self, abuser: int, recipients: np.ndarray, ts: np.ndarray, *, p_block: float,
                 p_report: float, reportable: bool, reasons=("spam",), spam_text: bool = True,
                 text_share: float = 0.5) -> None:
        """Some human recipients of ``abuser``'s messages block and (if ``reportable``) report,
        minutes to hours later; reports sometimes carry the reported text."""
        rng = self.rng
        recipients = np.asarray(recipients)
        ts = np.asarray(ts, dtype=np.float64)
        hm = self.is_human(recipients)
        r, t = recipients[hm], ts[hm]
        if not len(r):
            return
        name = self.names[abuser]
        texts = sms_texts()["spam" if spam_text else "ham"]
        blocks = rng.random(len(r)) < p_block
        for i in np.flatnonzero(blocks).tolist():
            d = float(lognormal_delay(rng, 600, 1.6))
            self.buf.add(t[i] + d, "block", f',"blocker":"{self.names[r[i]]}","blocked":"{name}"}}')
        if not reportable:
            return
        reps = rng.random(len(r)) < p_report
        if not reps.any():  # a reportable abuser gets at least one report
            reps[int(rng.integers(len(r)))] = True
        for i in np.flatnonzero(reps).tolist():
            d = float(lognormal_delay(rng, 1800, 1.5))
            msgs = None
            if rng.random() < text_share:
                msgs = [texts[int(rng.integers(len(texts)))]]
            reason = reasons[int(rng.integers(len(reasons)))]
            self.buf.add(t[i] + d, "report", report_rest(self.names[r[i]], name, reason, msgs))
            self.reported_counts[name] = self.reported_counts.get(name, 0) + 1

    # -------------------------------------------------------------- message emission
    def emit_messages(self, ts: np.ndarray, senders: np.ndarray, targets: np.ndarray, *,
                      group_names: np.ndarray | None = None, kinds: np.ndarray | None = None,
                      digests: np.ndarray | None = None, typing: np.ndarray | None = None,
                      sizes: np.ndarray | None = None, forwarded: np.ndarray | None = None,
                      digest_share: float = 0.92) -> None:
        """Human-style messages (vectorised). ``targets`` index accounts, or groups when
        ``group_names`` (array of group ids indexed by ``targets``) is given."""
        rng = self.rng
        n = len(ts)
        if not n:
            return
        if kinds is None:
            kinds = rng.choice(len(HUMAN_KIND_P), size=n, p=HUMAN_KIND_P)
        if sizes is None:
            sizes = sizes_for(rng, kinds)
        if digests is None:
            digests = rand_digests(rng, n)
            digests[rng.random(n) > digest_share] = 0
        if typing is None:
            typing = human_typing(rng, kinds, sizes)
        names = self.name_arr()
        kind_names = np.array(["text", "image", "video", "audio", "document", "link", "other"],
                              dtype=object)
        tg = group_names[targets] if group_names is not None else names[targets]
        rest = messages_rest(names[senders], tg, group=group_names is not None,
                             kinds=kind_names[kinds], sizes=sizes, digests=digests, typing=typing,
                             forwarded=forwarded)
        self.buf.add_many(ts, "message", rest)


# ------------------------------------------------------------------ conversations

def conversations(w: World, A: np.ndarray, B: np.ndarray, rates: np.ndarray,
                  allowed: np.ndarray | None = None, *, mean_len: float = 5.0,
                  p_switch: float = 0.72, reply_median: float = 75.0,
                  t0: float | None = None, t1: float | None = None, with_pair: bool = False):
    """Dialogues on pairs ``(A[i], B[i])`` at ``rates[i]`` conversations/day; returns
    ``(ts, sender, recipient)``. Within a conversation the turn passes to the other side with
    probability ``p_switch``; replies come after minutes (sometimes hours), follow-ups after
    seconds. Conversations starting before ``allowed[i]`` are dropped."""
    rng = w.rng
    t0 = w.t0 if t0 is None else t0
    t1 = w.t1 if t1 is None else t1
    days = (t1 - t0) / DAY
    nconv = rng.poisson(np.asarray(rates) * days)
    pair = np.repeat(np.arange(len(A)), nconv)
    C = len(pair)
    if not C:
        e = np.empty(0, np.int64)
        return (np.empty(0), e, e, e) if with_pair else (np.empty(0), e, e)
    start = diurnal_times(rng, C, t0, t1)
    if allowed is not None:
        ok = start >= allowed[pair]
        pair, start = pair[ok], start[ok]
        C = len(pair)
    flip = rng.random(C) < 0.5
    ca = np.where(flip, B[pair], A[pair])
    cb = np.where(flip, A[pair], B[pair])
    L = rng.geometric(1.0 / mean_len, size=C)
    M = int(L.sum())
    conv = np.repeat(np.arange(C), L)
    first = np.cumsum(L) - L
    off = np.arange(M) - np.repeat(first, L)
    switch = rng.random(M) < p_switch
    switch[off == 0] = False
    reply = lognormal_delay(rng, reply_median, 1.3, M)
    slow = rng.random(M) < 0.12
    reply[slow] = lognormal_delay(rng, 1.5 * HOUR, 1.0, int(slow.sum()))
    follow = lognormal_delay(rng, 18.0, 0.9, M)
    delay = np.where(switch, reply, follow)
    delay[off == 0] = 0.0
    cum = np.cumsum(delay)
    ts = start[conv] + cum - np.repeat(cum[first], L)
    sw = np.cumsum(switch)
    turn = sw - np.repeat(sw[first], L)
    odd = (turn % 2).astype(bool)
    snd = np.where(odd, cb[conv], ca[conv])
    rcp = np.where(odd, ca[conv], cb[conv])
    keep = ts < t1
    if with_pair:
        return ts[keep], snd[keep], rcp[keep], pair[conv][keep]
    return ts[keep], snd[keep], rcp[keep]


def group_threads(w: World, gstart: np.ndarray, gsize: np.ndarray, members: np.ndarray,
                  rates: np.ndarray, allowed: np.ndarray, *, mean_len: float = 4.0):
    """Threads of messages in groups; returns ``(ts, sender, group_index)``."""
    rng = w.rng
    nth = rng.poisson(rates * w.days)
    g = np.repeat(np.arange(len(gstart)), nth)
    start = diurnal_times(rng, len(g), w.t0, w.t1)
    ok = start >= allowed[g]
    g, start = g[ok], start[ok]
    L = rng.geometric(1.0 / mean_len, size=len(g))
    M = int(L.sum())
    if not M:
        e = np.empty(0, np.int64)
        return np.empty(0), e, e
    th = np.repeat(np.arange(len(g)), L)
    first = np.cumsum(L) - L
    off = np.arange(M) - np.repeat(first, L)
    delay = lognormal_delay(rng, 50.0, 1.4, M)
    delay[off == 0] = 0.0
    cum = np.cumsum(delay)
    ts = start[th] + cum - np.repeat(cum[first], L)
    gg = g[th]
    snd = members[gstart[gg] + (rng.random(M) * gsize[gg]).astype(np.int64)]
    keep = ts < w.t1
    return ts[keep], snd[keep], gg[keep]


# ------------------------------------------------------------------ the human population

def build_graph(rng: np.random.Generator, n: int, community_size: int = 40):
    """Heavy-tailed social graph: Chung-Lu style endpoints weighted by Pareto activity, 60% of
    ties inside a person's community (so friends know each other). Returns unique pairs a<b,
    the community of each node and the weights."""
    w = (rng.pareto(1.7, n) + 1.0) * 2.6
    w = np.minimum(w, max(20.0, n / 8))
    m = int(w.sum() / 2)
    p = w / w.sum()
    a = rng.choice(n, size=m, p=p)
    local = rng.random(m) < 0.6
    comm = np.arange(n) // community_size
    b = rng.choice(n, size=m, p=p)
    cstart = comm[a] * community_size
    csz = np.minimum(community_size, n - cstart)
    b_local = cstart + (rng.random(m) * csz).astype(np.int64)
    b = np.where(local, b_local, b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ok = lo != hi
    key = np.unique(lo[ok].astype(np.int64) * n + hi[ok])
    A, B = key // n, key % n
    # order pairs randomly (np.unique sorted them) for neutral downstream sampling
    perm = rng.permutation(len(A))
    return A[perm], B[perm], comm, w


def humans(w: World, n: int, *, new_user_share: float = 0.03) -> dict:
    """Create ``n`` humans with their graph and ordinary behaviour."""
    rng = w.rng
    idx = w.new_accounts(n)
    assert idx[0] == 0
    w.n_humans = n
    A, B, comm, wt = build_graph(rng, n)
    w.community = comm
    order = np.argsort(np.concatenate([A, B]), kind="stable")
    nb = np.concatenate([B, A])[order]
    cnt = np.bincount(np.concatenate([A, B]), minlength=n)
    w.adj = np.split(nb, np.cumsum(cnt)[:-1])
    w.label(idx, "legit", "human")

    # new users register during the scenario
    reg = np.full(n, -np.inf)
    nn = int(round(n * new_user_share))
    span = w.t1 - w.t0
    if nn:
        newu = rng.choice(n, size=nn, replace=False)
        rt = diurnal_times(rng, nn, w.t0, w.t0 + max(span - 2 * HOUR, span * 0.5))
        reg[newu] = rt
        for i, t in zip(newu.tolist(), rt.tolist()):
            w.register(i, t)
            nums = int(np.clip(lognormal_delay(rng, 220, 0.6), 15, 1500))
            matched = int(nums * rng.uniform(0.2, 0.6))
            w.buf.add(t + rng.uniform(4, 60), "contact_sync",
                      f',"account":"{w.names[i]}","numbers":{nums},"matched":{matched}}}')
        w.label(newu, "legit", "new_user")
    w.reg_time = reg

    # pair activity: strong ties chat daily, weak ties rarely
    rates = lognormal_delay(rng, 0.16, 1.25, len(A))
    rates *= np.sqrt(wt[A] * wt[B]) / 4.0
    rates = np.minimum(rates, 12.0)
    allowed = np.maximum(reg[A], reg[B]) + 120.0

    ts, s, r, pidx = conversations(w, A, B, rates, allowed, with_pair=True)
    w.emit_messages(ts, s, r)
    # contact_add: most ties have one, shortly before the pair's first message (or any time when
    # they never talk); some pairs chat without one
    first = np.full(len(A), np.inf)
    np.minimum.at(first, pidx, ts)
    has = rng.random(len(A)) < 0.85
    both = rng.random(len(A)) < 0.75
    lo = np.where(np.isfinite(allowed), allowed - 110.0, w.t0)
    anytime = diurnal_times(rng, len(A), w.t0, w.t1)
    before = first - rng.exponential(1800.0, len(A))
    base_t = np.where(np.isfinite(first), np.maximum(before, lo), np.maximum(anytime, lo))
    base_t = np.maximum(base_t, w.t0 + rng.random(len(A)) * 60.0)
    names = w.name_arr()
    m1, m2 = has, has & both
    t_all = np.concatenate([base_t[m1], base_t[m2] + rng.exponential(600.0, int(m2.sum()))])
    a_all = np.concatenate([A[m1], B[m2]])
    c_all = np.concatenate([B[m1], A[m2]])
    w.buf.add_many(t_all, "contact_add",
                   [f',"account":"{x}","contact":"{y}"}}' for x, y in zip(names[a_all], names[c_all])])
    n_msgs = len(ts)

    # small group chats
    n_groups = max(1, n // 7)
    creators = rng.choice(n, size=n_groups, replace=True)
    gsize = np.where(rng.random(n_groups) < 0.93,
                     np.minimum(3 + rng.geometric(0.28, n_groups) - 1, 9),
                     rng.integers(10, 40, n_groups))
    gnames = np.array(w.ids.take(n_groups, "g", 9), dtype=object)
    members_l, gstart = [], np.zeros(n_groups, np.int64)
    allowed_g = np.zeros(n_groups)
    created_now = rng.random(n_groups) < 0.3
    pos = 0
    for gi in range(n_groups):
        c = int(creators[gi])
        k = int(gsize[gi]) - 1
        nbs = w.adj[c]
        if len(nbs) >= k:
            mem = rng.choice(nbs, size=k, replace=False)
        else:
            cs = comm[c] * 40
            pool = np.setdiff1d(np.arange(cs, min(cs + 40, n)), np.concatenate([nbs, [c]]))
            extra = rng.choice(pool, size=min(k - len(nbs), len(pool)), replace=False)
            mem = np.concatenate([nbs, extra]).astype(np.int64)
        mem = np.concatenate([[c], mem]).astype(np.int64)
        gsize[gi] = len(mem)
        gstart[gi] = pos
        pos += len(mem)
        members_l.append(mem)
        t_ok = float(np.max(reg[mem])) + 60.0 if np.isfinite(np.max(reg[mem])) else -np.inf
        if created_now[gi] or np.isfinite(t_ok):
            tc = max(t_ok, w.t0 + rng.random() * (w.t1 - w.t0) * 0.8)
            allowed_g[gi] = tc + 30
            gname = gnames[gi]
            w.buf.add(tc, "group_create", f',"account":"{names[c]}","group":"{gname}"}}')
            for j, mbr in enumerate(mem[1:].tolist()):
                if rng.random() < 0.85:
                    w.buf.add(tc + 1 + j * rng.uniform(0.5, 4), "group_join",
                              f',"group":"{gname}","member":"{names[mbr]}","added_by":"{names[c]}"}}')
                else:
                    w.buf.add(tc + rng.exponential(1800), "group_join",
                              f',"group":"{gname}","member":"{names[mbr]}"}}')
        else:
            allowed_g[gi] = -np.inf
    members = np.concatenate(members_l)
    grates = lognormal_delay(rng, 1.2, 1.0, n_groups)
    gts, gsnd, gidx = group_threads(w, gstart, gsize, members, grates, allowed_g)
    w.emit_messages(gts, gsnd, gidx, group_names=gnames)
    n_msgs += len(gts)

    viral(w, max(2, n // 1500))
    legit_friction(w)
    return {"pairs": len(A), "messages": n_msgs, "groups": n_groups}


def viral(w: World, n_items: int) -> None:
    """Viral content forwarded along the graph: the same digest spreads from person to person,
    ``forwarded`` counting the hops."""
    rng = w.rng
    n = w.n_humans
    ts_l, s_l, r_l, f_l, d_l, k_l, z_l = [], [], [], [], [], [], []
    for _ in range(n_items):
        dg = rand_digests(rng, 1)[0]
        kind = int(rng.choice([1, 2, 5]))
        vsize = int(sizes_for(rng, np.array([kind]))[0])
        t_start = w.t0 + rng.random() * (w.t1 - w.t0) * 0.7
        seeds = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
        frontier = [(int(s), t_start + rng.random() * HOUR, int(rng.integers(0, 3))) for s in seeds]
        seen = set(seeds.tolist())
        cap = max(30, n // 8)
        sent = 0
        while frontier and sent < cap:
            nxt = []
            for u, t, f in frontier:
                if t < w.reg_time[u]:
                    continue
                nbs = w.adj[u]
                if not len(nbs):
                    continue
                # like messengers' limits, highly forwarded content (>= 5 hops) goes to one chat
                k = min(len(nbs), int(rng.integers(1, 6)) if f < 5 else 1)
                for v in rng.choice(nbs, size=k, replace=False).tolist():
                    tt = t + float(lognormal_delay(rng, 120, 1.0))
                    if tt < w.reg_time[v]:
                        continue
                    for lst, x in ((ts_l, tt), (s_l, u), (r_l, v), (f_l, f), (d_l, dg),
                                   (k_l, kind), (z_l, vsize)):
                        lst.append(x)
                    sent += 1
                    if v not in seen and rng.random() < 0.3:
                        seen.add(v)
                        nxt.append((v, tt + float(lognormal_delay(rng, 1800, 1.2)), f + 1))
            frontier = nxt
    if ts_l:
        kinds = np.array(k_l)
        typing = np.where(rng.random(len(ts_l)) < 0.9, 0, rng.integers(300, 3000, len(ts_l)))
        ts = np.array(ts_l)
        keep = ts < w.t1
        w.emit_messages(ts[keep], np.array(s_l)[keep], np.array(r_l)[keep], kinds=kinds[keep],
                        digests=np.array(d_l, dtype=np.uint64)[keep], typing=typing[keep],
                        sizes=np.array(z_l, dtype=np.int64)[keep],
                        forwarded=np.array(f_l)[keep])


def legit_friction(w: World, p_block_day: float = 0.002, p_report_day: float = 0.0006) -> None:
    """Rare blocks and reports between legit people (ex-friends, misunderstandings)."""
    rng = w.rng
    n = w.n_humans
    ham = sms_texts()["ham"]
    for kind, p in (("block", p_block_day), ("report", p_report_day)):
        k = rng.binomial(n, min(1.0, p * w.days))
        who = rng.choice(n, size=k, replace=False)
        for u in who.tolist():
            nbs = w.adj[u]
            v = int(rng.choice(nbs)) if len(nbs) and rng.random() < 0.8 else int(rng.integers(n))
            if v == u:
                continue
            t = float(diurnal_times(rng, 1, max(w.t0, w.reg_time[u], w.reg_time[v]) + 600, w.t1)[0]) \
                if max(w.t0, w.reg_time[u], w.reg_time[v]) + 600 < w.t1 else None
            if t is None:
                continue
            if kind == "block":
                w.buf.add(t, "block", f',"blocker":"{w.names[u]}","blocked":"{w.names[v]}"}}')
            else:
                msgs = [ham[int(rng.integers(len(ham)))]] if rng.random() < 0.5 else None
                reason = ("abuse", "other", "spam")[int(rng.integers(3))]
                w.buf.add(t, "report", report_rest(w.names[u], w.names[v], reason, msgs))


__all__ = ["World", "humans", "conversations", "group_threads", "build_graph", "hex64"]
