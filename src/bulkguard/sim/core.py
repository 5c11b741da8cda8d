"""Building blocks of the simulator: the event buffer, time sampling, identities, texts.

Events are collected as ``(ts, type, rest)`` where ``rest`` is the JSON text of the
fields after ``ts`` (starting with ``,`` and ending with ``}``). Writing sorts them
stably by ``ts`` (rounded to milliseconds) and formats each line once, which keeps
generation fast and the output byte-for-byte deterministic.

>>> buf = EventBuffer()
>>> buf.add(5.0, "block", ',"blocker":"a","blocked":"b"}')
>>> buf.add(1.0, "block", ',"blocker":"b","blocked":"a"}')
>>> print(buf.render()[0], end="")
{"type":"block","ts":1.000,"blocker":"b","blocked":"a"}
{"type":"block","ts":5.000,"blocker":"a","blocked":"b"}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import numpy as np

from .families import StreamFilter

DAY = 86400.0
HOUR = 3600.0
#: Default scenario start: Tuesday 2023-11-14 00:00:00 UTC.
DEFAULT_START = 1_699_920_000.0

TYPES = ("message", "register", "contact_add", "contact_sync", "group_create", "group_join",
         "report", "block", "optin", "optout", "template_register")
_TYPE_INDEX = {t: i for i, t in enumerate(TYPES)}
_PREFIX = [f'{{"type":"{t}","ts":' for t in TYPES]

_json = msgspec.json.Encoder()
#: the acting account is the first field of every event type but group_join (its added_by)
_FIRST_FIELD = re.compile(r',"(sender|account|reporter|blocker|business)":"([^"]*)"')
_ADDED_BY = re.compile(r',"added_by":"([^"]*)"')
_CONTACT_ADD = re.compile(r',"account":"([^"]*)","contact":"([^"]*)"')
_FRAC_L = [f".{i:03d}" for i in range(1000)]


def jstr(s: str) -> str:
    """JSON string literal of ``s``.

    >>> jstr('say "hi"')
    '"say \\\\"hi\\\\""'
    """
    return _json.encode(s).decode()


def hex64(x: int) -> str:
    """A 64-bit value as 16 hex characters.

    >>> hex64(255)
    '00000000000000ff'
    """
    return f"{int(x):016x}"


class EventBuffer:
    """Collects events from all populations; :meth:`render` sorts and formats them."""

    def __init__(self) -> None:
        self._ts: list[np.ndarray] = []
        self._ty: list[np.ndarray] = []
        self._rest: list[str] = []
        self._one_ts: list[float] = []
        self._one_ty: list[int] = []
        self.rendered_counts: dict[str, int] = {}
        self.rendered_lines = 0

    def _flush_ones(self) -> None:
        if self._one_ts:
            self._ts.append(np.asarray(self._one_ts, dtype=np.float64))
            self._ty.append(np.asarray(self._one_ty, dtype=np.int8))
            self._one_ts, self._one_ty = [], []

    def add(self, ts: float, typ: str, rest: str) -> None:
        """One event; ``rest`` is the JSON after the ``ts`` field, e.g. ``',"a":1}'``."""
        self._one_ts.append(float(ts))
        self._one_ty.append(_TYPE_INDEX[typ])
        self._rest.append(rest)

    def add_many(self, ts: np.ndarray, typ: str, rest: Sequence[str]) -> None:
        """Many events of one type (``ts`` array, ``rest`` strings of the same length)."""
        ts = np.asarray(ts, dtype=np.float64)
        if len(ts) != len(rest):
            raise ValueError("ts and rest differ in length")
        if not len(ts):
            return
        self._flush_ones()
        self._ts.append(ts)
        self._ty.append(np.full(len(ts), _TYPE_INDEX[typ], dtype=np.int8))
        self._rest.extend(rest)

    def __len__(self) -> int:
        return len(self._rest)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush_ones()
        if not self._ts:
            return np.empty(0), np.empty(0, dtype=np.int8)
        return np.concatenate(self._ts), np.concatenate(self._ty)

    def select(self, t_min: float | None = None, t_max: float | None = None,
               filt: StreamFilter | None = None) -> np.ndarray:
        """Mask of the events :meth:`render` writes: inside ``[t_min, t_max)`` (milliseconds)
        and kept by ``filt`` (optional event families left out)."""
        ts, ty = self.arrays()
        ms = np.rint(ts * 1000.0).astype(np.int64)
        keep = np.ones(len(ms), dtype=bool)
        if t_min is not None:
            keep &= ms >= int(round(t_min * 1000))
        if t_max is not None:
            keep &= ms < int(round(t_max * 1000))
        if filt is not None and not filt.is_empty():
            keep &= filt.keep_mask(TYPES, ty, self._rest)
        return keep

    def actors(self, keep: np.ndarray, skip: tuple[str, ...] = ()) -> set[str]:
        """Accounts that *do* something (sender, account, reporter, blocker, business,
        adding member) in the events of ``keep``, leaving out the event types ``skip``."""
        _, ty = self.arrays()
        m = keep.copy()
        for t in skip:
            m &= ty != _TYPE_INDEX[t]
        out: set[str] = set()
        rest = self._rest
        first, added = _FIRST_FIELD.match, _ADDED_BY.search
        for i in np.flatnonzero(m).tolist():
            r = rest[i]
            x = first(r)
            if x is not None:
                out.add(x.group(2))
            else:
                y = added(r)
                if y is not None:
                    out.add(y.group(1))
        return out

    def unselect(self, keep: np.ndarray, typ: str, drop: Callable[[str], bool]) -> None:
        """Clear ``keep`` (in place) for the events of type ``typ`` whose JSON tail
        ``drop`` accepts."""
        _, ty = self.arrays()
        rest = self._rest
        for i in np.flatnonzero(keep & (ty == _TYPE_INDEX[typ])).tolist():
            if drop(rest[i]):
                keep[i] = False

    def unselect_old_contacts(self, keep: np.ndarray, fresh: set[str]) -> None:
        """Clear ``keep`` for ``contact_add`` events between two accounts that are not in
        ``fresh`` (accounts created inside the window)."""
        def old(rest: str) -> bool:
            m = _CONTACT_ADD.match(rest)
            return m is not None and m.group(1) not in fresh and m.group(2) not in fresh
        self.unselect(keep, "contact_add", old)

    def unselect_registers(self, keep: np.ndarray, accounts: set[str]) -> None:
        """Clear ``keep`` for the ``register`` events of ``accounts``."""
        def theirs(rest: str) -> bool:
            m = _FIRST_FIELD.match(rest)
            return m is not None and m.group(2) in accounts
        self.unselect(keep, "register", theirs)

    def render(self, t_min: float | None = None, t_max: float | None = None,
               filt: StreamFilter | None = None, keep: np.ndarray | None = None) -> list[str]:
        """Lines sorted by ``ts`` (stable: ties keep generation order), each ending in newline,
        in chunks of at most 100,000 lines joined into one string each.

        ``ts`` is rounded to milliseconds; events outside ``[t_min, t_max)`` are dropped, and
        so are the event families ``filt`` leaves out (or, when given, those outside the mask
        ``keep`` of :meth:`select`).
        """
        ts, ty = self.arrays()
        ms = np.rint(ts * 1000.0).astype(np.int64)
        if keep is None:
            keep = self.select(t_min, t_max, filt)
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(ms[idx], kind="stable")]
        c = np.bincount(ty[idx].astype(np.int64), minlength=len(TYPES))
        self.rendered_counts = {t: int(c[i]) for i, t in enumerate(TYPES) if c[i]}
        self.rendered_lines = len(order)
        rest = self._rest if filt is None else filt.apply_fields(TYPES, ty, idx, self._rest)
        pre = _PREFIX
        frac = _FRAC_L
        out = []
        for k in range(0, len(order), 100_000):
            o = order[k:k + 100_000]
            m = ms[o]
            out.append("".join([f"{pre[t]}{sec}{frac[f]}{rest[i]}\n" for t, sec, f, i in zip(
                ty[o].tolist(), (m // 1000).tolist(), (m % 1000).tolist(), o.tolist())]))
        return out

    def counts(self) -> dict[str, int]:
        _, ty = self.arrays()
        c = np.bincount(ty.astype(np.int64), minlength=len(TYPES)) if len(ty) else np.zeros(len(TYPES), int)
        return {t: int(c[i]) for i, t in enumerate(TYPES) if c[i]}


# ---------------------------------------------------------------- message formatting

MESSAGE_KINDS = ("text", "image", "video", "audio", "document", "link", "other")


def message_rest(sender: str, recipient: str | None = None, group: str | None = None, *,
                 kind: str | None = "text", size: int | None = None, forwarded: int = 0,
                 digest: str | None = None, template: str | None = None,
                 typing_ms: int | None = None) -> str:
    """JSON tail of one ``message`` event.

    >>> message_rest("a", "b", size=10, digest="00ff", typing_ms=0)
    ',"sender":"a","recipient":"b","kind":"text","size":10,"digest":"00ff","typing_ms":0}'
    """
    s = f',"sender":"{sender}"'
    s += f',"recipient":"{recipient}"' if group is None else f',"group":"{group}"'
    if kind is not None:
        s += f',"kind":"{kind}"'
    if size is not None:
        s += f',"size":{int(size)}'
    if forwarded:
        s += f',"forwarded":{int(forwarded)}'
    if digest is not None:
        s += f',"digest":"{digest}"'
    if template is not None:
        s += f',"template":"{template}"'
    if typing_ms is not None:
        s += f',"typing_ms":{int(typing_ms)}'
    return s + "}"


def _hex16(d: np.ndarray) -> np.ndarray:
    """uint64 array -> object array of 16-hex-character strings."""
    h = d.astype(">u8").tobytes().hex()
    o = np.empty(len(d), dtype=object)
    o[:] = [h[i:i + 16] for i in range(0, len(h), 16)]
    return o


def messages_rest(senders: Sequence[str], targets: Sequence[str], *, group: bool = False,
                  kinds: Sequence[str], sizes: np.ndarray, digests: np.ndarray,
                  typing: np.ndarray, forwarded: np.ndarray | None = None) -> list[str]:
    """Vectorised :func:`message_rest`: ``digests`` uint64 (0 = none), ``typing`` int (-1 = absent).

    >>> messages_rest(["a"], ["b"], kinds=["text"], sizes=np.array([5]),
    ...               digests=np.array([255], np.uint64), typing=np.array([-1]))
    [',"sender":"a","recipient":"b","kind":"text","size":5,"digest":"00000000000000ff"}']
    """
    tk = "group" if group else "recipient"
    hx = _hex16(np.asarray(digests, dtype=np.uint64)).tolist()
    nz = (np.asarray(digests, dtype=np.uint64) != 0).tolist()
    fwl = np.asarray(forwarded, dtype=np.int64).tolist() if forwarded is not None else [0] * len(hx)
    fw_, dg_, ty_ = ',"forwarded":', ',"digest":"', ',"typing_ms":'
    out: list[str] = []
    ap = out.append
    for s, r, k, z, h, d, t, f in zip(senders, targets, kinds,
                                       np.asarray(sizes, dtype=np.int64).tolist(), hx, nz,
                                       np.asarray(typing, dtype=np.int64).tolist(), fwl):
        x = f',"sender":"{s}","{tk}":"{r}","kind":"{k}","size":{z}'
        if f:
            x = f"{x}{fw_}{f}"
        if d:
            x = f'{x}{dg_}{h}"'
        ap(f"{x}{ty_}{t}}}" if t >= 0 else x + "}")
    return out


def rand_digests(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random non-zero 64-bit digests (uint64)."""
    d = rng.integers(1, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    return d


def flip_bits(rng: np.random.Generator, base: int, n: int, lo: int = 1, hi: int = 3) -> np.ndarray:
    """``n`` near-duplicates of a 64-bit SimHash ``base``: ``lo..hi`` distinct random bits flipped."""
    out = np.empty(n, dtype=np.uint64)
    nb = rng.integers(lo, hi + 1, size=n)
    for i in range(n):
        bits = rng.choice(64, size=int(nb[i]), replace=False)
        mask = 0
        for b in bits.tolist():
            mask |= 1 << b
        out[i] = np.uint64(int(base) ^ mask)
    return out


def sizes_for(rng: np.random.Generator, kinds: np.ndarray) -> np.ndarray:
    """Plausible byte sizes per message kind (index into :data:`MESSAGE_KINDS`)."""
    med = np.array([45, 160_000, 2_500_000, 28_000, 350_000, 120, 20_000], dtype=np.float64)
    sig = np.array([0.8, 0.6, 0.9, 0.7, 1.0, 0.5, 1.0])
    z = rng.standard_normal(len(kinds))
    return np.maximum(1, (med[kinds] * np.exp(sig[kinds] * z))).astype(np.int64)


def human_typing(rng: np.random.Generator, kinds: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Typing time (ms) of humans: text about 200 ms per character with noise, media short or 0;
    about 4% of texts pasted (0); about 3% unknown (-1, field absent)."""
    n = len(kinds)
    base = np.where(kinds == 0, np.minimum(sizes, 2000) * 180.0, 900.0)
    t = base * np.exp(0.5 * rng.standard_normal(n)) + rng.integers(150, 900, size=n)
    t = t.astype(np.int64)
    u = rng.random(n)
    t[(kinds == 0) & (u < 0.04)] = 0
    t[(kinds != 0) & (u < 0.35)] = 0
    t[u > 0.97] = -1
    return t


# ---------------------------------------------------------------- time

#: Relative activity by hour of day (UTC used as local time of the synthetic population).
HOURLY = np.array([0.25, 0.12, 0.07, 0.05, 0.05, 0.08, 0.2, 0.45, 0.7, 0.8, 0.85, 0.9,
                   1.0, 0.95, 0.85, 0.85, 0.9, 0.95, 1.0, 1.0, 1.0, 0.95, 0.75, 0.5])
#: Relative activity by weekday, Monday first.
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 0.85, 0.8])


def activity_weight(ts: np.ndarray) -> np.ndarray:
    """Diurnal x weekly activity weight in [0, 1.05] of Unix times."""
    hours = ((ts % DAY) // HOUR).astype(np.int64)
    wday = (((ts // DAY).astype(np.int64)) + 3) % 7  # 1970-01-01 was a Thursday (index 3)
    return HOURLY[hours] * WEEKDAY[wday]


def diurnal_times(rng: np.random.Generator, n: int, t0: float, t1: float) -> np.ndarray:
    """``n`` times in ``[t0, t1)`` drawn from the diurnal and weekly activity profile (unsorted)."""
    if n <= 0 or t1 <= t0:
        return np.empty(0)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        m = int((n - got) * 2.2) + 16
        c = t0 + rng.random(m) * (t1 - t0)
        c = c[rng.random(m) * 1.05 < activity_weight(c)]
        out.append(c)
        got += len(c)
    return np.concatenate(out)[:n]


def lognormal_delay(rng: np.random.Generator, median: float, sigma: float, n: int | None = None):
    """Delays (seconds) with the given median."""
    return median * np.exp(sigma * rng.standard_normal(n))


# ---------------------------------------------------------------- identities

#: (country, E.164 prefix of mobile numbers, digits after prefix, weight)
COUNTRIES = [
    ("DE", "+4915", 9, 0.15), ("US", "+1", 10, 0.15), ("BR", "+55119", 8, 0.15),
    ("IN", "+919", 9, 0.2), ("GB", "+447", 9, 0.08), ("FR", "+336", 8, 0.06),
    ("ES", "+346", 8, 0.06), ("NG", "+23480", 8, 0.05), ("ID", "+62812", 8, 0.05),
    ("MX", "+52155", 8, 0.05),
]
CLIENTS = ["android/2.24.6", "android/2.24.7", "android/2.23.25", "ios/24.6.77", "ios/24.7.81",
           "web/2.3000", "desktop/2.2412"]


class Ids:
    """Opaque, unique account / group identifiers, drawn at random so that an id says nothing
    about its archetype."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def take(self, n: int, prefix: str = "u", digits: int = 8) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            cand = self.rng.integers(0, 10**digits, size=(n - len(out)) + 8)
            for c in cand.tolist():
                s = f"{prefix}{c:0{digits}d}"
                if s not in self.used:
                    self.used.add(s)
                    out.append(s)
                    if len(out) == n:
                        break
        return out


def country_pick(rng: np.random.Generator) -> int:
    w = np.array([c[3] for c in COUNTRIES])
    return int(rng.choice(len(COUNTRIES), p=w / w.sum()))


def phone_for(rng: np.random.Generator, ci: int, number: int | None = None) -> str:
    _, pre, nd, _ = COUNTRIES[ci]
    if number is None:
        number = int(rng.integers(10 ** (nd - 1), 10**nd))
    return f"{pre}{number:0{nd}d}"


def random_ip(rng: np.random.Generator) -> str:
    a = int(rng.choice([31, 46, 77, 85, 89, 93, 100, 151, 177, 187, 189, 49, 103, 117, 182, 201]))
    b, c, d = (int(x) for x in rng.integers(1, 255, size=3))
    return f"{a}.{b}.{c}.{d}"


def random_device(rng: np.random.Generator) -> str:
    return f"dev-{int(rng.integers(0, 2**48)):012x}"


def register_rest(account: str, *, phone: str, ip: str, device: str, client: str | None,
                  country: str, kind: str = "personal") -> str:
    s = f',"account":"{account}"'
    if kind != "personal":
        s += f',"kind":"{kind}"'
    s += f',"phone":"{phone}","ip":"{ip}","device":"{device}"'
    if client is not None:
        s += f',"client":"{client}"'
    return s + f',"country":"{country}"}}'


# ---------------------------------------------------------------- texts for reports

_TEXTS: dict[str, list[str]] | None = None
_FALLBACK = {
    "spam": ["WINNER!! You have been selected to receive a cash prize. Call now to claim.",
             "URGENT: your account will be suspended, verify at the link below.",
             "Free entry to win a new phone, text WIN now."],
    "ham": ["ok see you later", "where are you?", "haha that was funny", "call me when you can"],
}


def sms_texts() -> dict[str, list[str]]:
    """Real SMS texts (``ham``/``spam``) from the UCI SMS Spam Collection when available."""
    global _TEXTS
    if _TEXTS is None:
        texts: dict[str, list[str]] = {"ham": [], "spam": []}
        for p in (Path("/work/shared/data/sms-spam-collection/SMSSpamCollection"),
                  Path(__file__).resolve().parents[3] / "shared/data/sms-spam-collection/SMSSpamCollection"):
            if p.exists():
                for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
                    lab, _, txt = line.partition("\t")
                    if lab in texts and txt.strip():
                        texts[lab].append(txt.strip())
                break
        if not texts["ham"] or not texts["spam"]:
            texts = dict(_FALLBACK)
        _TEXTS = texts
    return _TEXTS


def report_rest(reporter: str, reported: str, reason: str, messages: list[str] | None) -> str:
    s = f',"reporter":"{reporter}","reported":"{reported}","reason":"{reason}"'
    if messages:
        s += ',"messages":' + _json.encode(messages).decode()
    return s + "}"
