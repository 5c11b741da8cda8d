"""Putting a scenario together: mix, background, populations, writing."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import msgspec
import numpy as np

from . import archetypes as arch
from . import lookalikes as look
from .core import DAY, DEFAULT_START, HOUR, lognormal_delay
from .families import StreamFilter, parse_families, random_variant
from .model import World, humans

#: Archetype counts for ``accounts=5000`` (``farm``, ``fake_engagement`` and ``report_brigade``
#: count accounts, not farms/rings/brigades); they scale linearly with ``accounts``.
DEFAULT_MIX_5000: dict[str, int] = {
    "organiser": 6, "heavy_chatter": 10, "group_admin": 6, "business": 8, "brigade_victim": 3,
    "blaster": 7, "slow_spinner": 7, "farm": 20, "group_spammer": 6, "chain_bot": 6,
    "enumerator": 6, "takeover": 6, "fake_engagement": 10, "business_spammer": 6,
    "report_brigade": 18,
    # issue 9: hard legitimate cases and the abusers that imitate them (bulkguard.sim.lookalikes)
    "announcer": 8, "no_sync_user": 40, "dialer": 30, "support_agent": 4, "teacher": 6,
    "stealth_farm": 16, "slow_blaster": 6, "one_shot": 6, "aged_spammer": 6,
}
#: Floors so that small scenarios still contain every archetype.
MIX_FLOOR: dict[str, int] = {k: 1 for k in DEFAULT_MIX_5000} | {
    "farm": 5, "fake_engagement": 3, "report_brigade": 5, "stealth_farm": 4}

ARCHETYPES = tuple(DEFAULT_MIX_5000)


def default_mix(accounts: int) -> dict[str, int]:
    """Default counts for ``accounts`` humans.

    >>> default_mix(5000)["blaster"], default_mix(100)["farm"], default_mix(50000)["farm"]
    (7, 5, 200)
    """
    s = accounts / 5000
    return {k: max(MIX_FLOOR[k], int(round(v * s))) for k, v in DEFAULT_MIX_5000.items()}


def parse_mix(spec: str | dict | None, accounts: int) -> dict[str, int]:
    """``None``/``"default"`` or ``"archetype=count,..."`` (overrides on top of the defaults).

    >>> parse_mix("blaster=3, farm=0", 5000)["blaster"], parse_mix("farm=0", 5000)["farm"]
    (3, 0)
    >>> parse_mix("wizard=2", 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown archetype 'wizard' in --mix (known: organiser, heavy_chatter, ...)
    """
    mix = default_mix(accounts)
    if spec is None:
        return mix
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        spec = spec.strip()
        if spec in ("", "default"):
            return mix
        items = []
        for part in spec.split(","):
            if not part.strip():
                continue
            name, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"bad --mix item {part.strip()!r}: expected archetype=count")
            items.append((name.strip(), val.strip()))
    for name, val in items:
        if name not in mix:
            raise ValueError(f"unknown archetype {name!r} in --mix (known: {', '.join(ARCHETYPES)})")
        try:
            n = int(val)
        except (TypeError, ValueError):
            raise ValueError(f"bad count {val!r} for {name} in --mix") from None
        if n < 0:
            raise ValueError(f"negative count for {name} in --mix")
        mix[name] = n
    return mix


# ------------------------------------------------------------------ background

def load_edges(path: str | Path) -> np.ndarray:
    """A SNAP temporal edge list ``SRC DST UNIXTS`` (optionally ``.gz``; ``#``/``%`` comments
    allowed) as an ``(n, 3)`` int64 array sorted stably by time."""
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = [ln for ln in raw.splitlines() if ln.strip() and ln.lstrip()[:1] not in (b"#", b"%")]
    if not lines:
        return np.empty((0, 3), dtype=np.int64)
    try:
        toks = [ln.split()[:3] for ln in lines]
        if any(len(t) < 3 for t in toks):
            raise ValueError("every line needs SRC DST UNIXTS")
        arr = np.array(toks, dtype=np.float64).astype(np.int64)
    except ValueError as err:
        raise ValueError(f"{p}: not a SRC DST UNIXTS edge list ({err})") from None
    return arr[np.argsort(arr[:, 2], kind="stable")]


def background_window(edges: np.ndarray) -> tuple[float, float]:
    """Start and end of the usable part of a background edge list.

    The start is the first edge of the first day (counted in 24-hour steps from the first
    edge) whose message count reaches 10% of the 75th percentile of the daily counts of active days: so a
    quiet launch period (CollegeMsg's first five days hold 39 messages) is skipped. The end is
    one second after the last edge.

    >>> busy = [[1, 2, d + i] for d in (200_000, 300_000) for i in range(50)]
    >>> background_window(np.array([[1, 2, 0], [2, 1, 100_000]] + busy))
    (200000.0, 300050.0)
    """
    t = edges[:, 2].astype(np.float64)
    first = t[0]
    day = ((t - first) // DAY).astype(np.int64)
    per_day = np.bincount(day)
    active = per_day[per_day > 0]
    need = max(1.0, 0.1 * float(np.percentile(active, 75)))
    d0 = int(np.flatnonzero(per_day >= need)[0])
    start = float(t[np.searchsorted(day, d0)])
    return start, float(t[-1]) + 1.0


def background(w: World, edges: np.ndarray) -> dict:
    """Turn edges into ``message`` events between ``bg:ID`` accounts (archetype
    ``background``); only edges inside ``[t0, t1)`` are kept. A fraction of a second of
    jitter keeps equal source timestamps apart; typing and sizes are drawn like humans'."""
    rng = w.rng
    ts = edges[:, 2].astype(np.float64) + rng.random(len(edges)) * 0.999
    keep = (ts >= w.t0) & (ts < w.t1)
    e, ts = edges[keep], ts[keep]
    ids = np.unique(e[:, :2])
    start = len(w.names)
    w.names.extend(f"bg:{i}" for i in ids.tolist())
    pos = np.searchsorted(ids, e[:, :2]) + start
    w.label(np.arange(start, start + len(ids)), "legit", "background")
    kinds = rng.choice(7, size=len(ts), p=[0.86, 0.06, 0.01, 0.02, 0.01, 0.035, 0.005])
    w.emit_messages(ts, pos[:, 0], pos[:, 1], kinds=kinds)
    return {"messages": int(len(ts)), "accounts": int(len(ids))}


# ------------------------------------------------------------------ the scenario

def simulate(out_dir: str | Path, *, seed: int = 1, accounts: int = 5000, days: float = 3.0,
             background: str | Path | None = None, mix: str | dict | None = None,
             without: str | list[str] | tuple[str, ...] | None = None,
             cold_start: bool = False, random_missing: int | None = None) -> dict:
    """Write ``out_dir/events.jsonl`` and ``out_dir/labels.jsonl``; return a summary dict
    (see :mod:`bulkguard.sim` for the populations).

    ``without`` names optional event families the platform does not provide
    (:data:`bulkguard.sim.families.FAMILIES`); ``cold_start`` starts the scenario on a live
    platform where abusive accounts existed before the window (no ``register`` events for
    them) and address books were filled before it (no ``contact_add`` between two accounts
    that were already there). Neither changes anybody's behaviour: see ``docs/simulator.md``.
    ``random_missing=k`` adds the ``k``-th training variant of the seed
    (:func:`bulkguard.sim.families.random_variant`: random families missing, sometimes a cold
    start; refused for the held-out seeds 1-20)."""
    families = parse_families(without)
    if random_missing is not None:
        v = random_variant(seed, random_missing)
        families = tuple(dict.fromkeys(families + tuple(v["without"])))
        cold_start = cold_start or bool(v["cold_start"])
    if accounts < 20:
        raise ValueError("accounts must be at least 20")
    if not (days > 0 and math.isfinite(days)):
        raise ValueError("days must be a positive number")
    counts = parse_mix(mix, accounts)
    rng = np.random.default_rng(seed)
    edges = None
    t0 = DEFAULT_START
    if background is not None:
        edges = load_edges(background)
        if not len(edges):
            raise ValueError(f"background {background} has no edges")
        t0, t_end = background_window(edges)
        days = min(days, (t_end - t0) / DAY)
    t1 = t0 + days * DAY
    w = World(rng=rng, t0=t0, t1=t1, cold_start=cold_start)

    info: dict = {}
    info["humans"] = humans(w, accounts)
    strangers = w.new_accounts(max(1000, accounts * 3))
    w.strangers = strangers
    bg = {"messages": 0, "accounts": 0}
    if edges is not None:
        n0 = len(w.names)
        bg = _background(w, edges)
        # background people can receive abuse too (they never block or report)
        w.strangers = np.concatenate([strangers, np.arange(n0, len(w.names))])
    for name in ("organiser", "heavy_chatter", "group_admin", "business"):
        if counts[name]:
            getattr(arch, name)(w, counts[name])
    victims: list[int] = []
    n_vic = counts["brigade_victim"]
    if counts["report_brigade"] and not n_vic:
        n_vic = 1
    if n_vic:
        victims = arch.brigade_victims(w, n_vic)
    for name in arch.ABUSERS:
        if not counts[name]:
            continue
        if name == "report_brigade":
            arch.report_brigade(w, counts[name], victims)
        else:
            getattr(arch, name)(w, counts[name])
    # The issue-9 populations draw from a stream of their own: the populations above are
    # the same events as in scenarios made before they existed.
    w.reseed(np.random.default_rng([seed, 9]))
    for name in look.LEGIT + look.ABUSERS:
        if counts[name]:
            getattr(look, name)(w, counts[name])

    filt = StreamFilter.of(families)
    keep = w.buf.select(t0, t1, filt)
    if cold_start:  # the address book of a live platform was filled before the window
        w.buf.unselect_old_contacts(keep, w.fresh)
    inert = _inert_abusers(w, keep) if families else set()
    lines = w.buf.render(t0, t1, filt, keep)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.jsonl", "w", encoding="utf-8", newline="\n", buffering=1 << 22) as f:
        for chunk in lines:
            f.write(chunk)
    enc = msgspec.json.Encoder()
    by_arch: dict[str, int] = {}
    by_label: dict[str, int] = {"legit": 0, "abusive": 0}
    with open(out / "labels.jsonl", "wb") as f:
        buf = []
        for acc, (lab, ar) in w.labels.items():
            if acc in inert:
                continue
            buf.append(enc.encode({"account": acc, "label": lab, "archetype": ar}) + b"\n")
            by_arch[ar] = by_arch.get(ar, 0) + 1
            by_label[lab] += 1
        f.write(b"".join(buf))
    ev_counts = dict(sorted(w.buf.rendered_counts.items()))
    return {
        "out": str(out), "seed": seed, "start": t0, "end": t1, "days": days,
        "events": w.buf.rendered_lines, "events_by_type": ev_counts,
        "accounts_by_archetype": dict(sorted(by_arch.items())), "labels": by_label,
        "mix": counts, "background": bg, "without": list(families), "cold_start": cold_start,
        "pre_existing_abusers": len(w.pre_existing), "inert_abusers": len(inert),
        "reported_abusers": 0 if "reports" in families else sum(
            1 for a, n in w.reported_counts.items() if n and a not in inert and w.labels.get(a, ("", ""))[0] == "abusive"),
    }


def _inert_abusers(w: World, keep: np.ndarray) -> set[str]:
    """Abusers that do nothing but register in the stream ``keep`` (their abuse lives in a
    family the platform does not provide, e.g. a report brigade without ``report`` events).
    They are not part of that scenario: their labels and register events are dropped from
    ``keep`` (in place), so nobody is asked to catch an account that did nothing."""
    abusers = {a for a, (lab, _) in w.labels.items() if lab == "abusive"}
    inert = abusers - w.buf.actors(keep, skip=("register",))
    if inert:
        w.buf.unselect_registers(keep, inert)
    return inert


_background = background


__all__ = ["simulate", "parse_mix", "default_mix", "load_edges", "ARCHETYPES", "HOUR",
           "lognormal_delay"]
