"""Optional event families: what a platform may not provide, and how a scenario leaves it out.

Real platforms differ in what they can see. ``simulate(..., without=...)`` (``bulkguard
simulate --without FAMILY[,FAMILY]``) writes the same world as without the option, with
the named families removed from the stream, exactly as a platform that lacks them would
send it. The behaviour of every account is unchanged (same seed, same people, same
messages); only what the platform reports about it is missing.

>>> parse_families("contacts, typing")
('contacts', 'typing')
>>> parse_families("")
()
>>> parse_families("fax")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: unknown event family 'fax' in --without (known: contacts, register, ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Family:
    """One optional family: event types dropped, fields stripped from event types."""

    name: str
    doc: str
    drop_types: tuple[str, ...] = ()
    #: (event type, field) pairs removed from events that are kept
    strip: tuple[tuple[str, str], ...] = ()
    #: drop messages sent to a group (``"group"`` field instead of ``"recipient"``)
    drop_group_messages: bool = False
    #: drop ``register`` events of ``kind: business`` (personal registrations are ``register``)
    drop_business_register: bool = False


_META = ("ip", "device", "phone", "country", "client")

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("contacts", "contact_sync and contact_add events (no address-book upload, or users "
           "who deny the permission)", drop_types=("contact_sync", "contact_add")),
    Family("register", "register events of personal accounts (a platform that pipes only message "
           "logs); business registrations belong to 'business'", drop_types=("register",)),
    Family("regmeta", "the ip, device, phone, country and client fields of register events "
           "(a privacy-minimised platform)", strip=tuple(("register", k) for k in _META)),
    Family("typing", "the typing_ms field of messages (no typing indicator)",
           strip=(("message", "typing_ms"),)),
    Family("digests", "the digest field of messages (no client-side content fingerprint)",
           strip=(("message", "digest"),)),
    Family("reports", "report events (no report button, or reports kept elsewhere)",
           drop_types=("report",)),
    Family("blocks", "block events", drop_types=("block",)),
    Family("groups", "group_create and group_join events and messages sent to groups "
           "(a platform without group chats)", drop_types=("group_create", "group_join"),
           drop_group_messages=True),
    Family("business", "the business lane: optin, optout, template_register, business "
           "registrations and the template field of messages",
           drop_types=("optin", "optout", "template_register"),
           strip=(("message", "template"),), drop_business_register=True),
)}

#: Families a training scenario may lose at random (``groups`` and ``business`` remove whole
#: lanes and their abusers; use them explicitly).
RANDOM_FAMILIES = ("contacts", "register", "regmeta", "typing", "digests", "reports", "blocks")


def parse_families(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"contacts,typing"`` or a list of names -> a tuple of known family names (sorted as
    given, duplicates removed)."""
    if spec is None:
        return ()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for p in parts:
        name = p.strip()
        if not name:
            continue
        if name not in FAMILIES:
            raise ValueError(f"unknown event family {name!r} in --without "
                             f"(known: {', '.join(FAMILIES)})")
        if name not in out:
            out.append(name)
    return tuple(out)


def _field_re(field: str) -> re.Pattern[str]:
    # the simulator writes every field as ,"name":VALUE with VALUE a string without quotes
    # inside or a number (no nesting in the fields this strips)
    return re.compile(rf',"{field}":(?:"[^"]*"|-?[0-9.eE+-]+)')


@dataclass
class StreamFilter:
    """What :meth:`bulkguard.sim.core.EventBuffer.render` removes for a set of families."""

    drop_types: frozenset[str]
    strip: dict[str, re.Pattern[str]]
    drop_group_messages: bool
    drop_business_register: bool
    drop_personal_register: bool

    @classmethod
    def of(cls, families: tuple[str, ...]) -> StreamFilter:
        fams = [FAMILIES[f] for f in families]
        drop = {t for f in fams for t in f.drop_types}
        personal = "register" in drop
        drop.discard("register")  # register events are split by kind below
        fields: dict[str, list[str]] = {}
        for f in fams:
            for typ, fld in f.strip:
                fields.setdefault(typ, []).append(fld)
        strip = {t: re.compile("|".join(_field_re(x).pattern for x in fl))
                 for t, fl in fields.items()}
        return cls(frozenset(drop), strip, any(f.drop_group_messages for f in fams),
                   any(f.drop_business_register for f in fams), personal)

    def is_empty(self) -> bool:
        return not (self.drop_types or self.strip or self.drop_group_messages
                    or self.drop_business_register or self.drop_personal_register)

    def keep_mask(self, types: tuple[str, ...], ty: np.ndarray, rest: list[str]) -> np.ndarray:
        """Boolean mask over events (type index ``ty``, JSON tail ``rest``) of what stays."""
        keep = np.ones(len(ty), dtype=bool)
        for t in self.drop_types:
            keep &= ty != types.index(t)
        if self.drop_group_messages:
            for i in np.flatnonzero(ty == types.index("message")).tolist():
                if rest[i].startswith(',"sender":') and ',"group":"' in rest[i]:
                    keep[i] = False
        if self.drop_personal_register or self.drop_business_register:
            for i in np.flatnonzero(ty == types.index("register")).tolist():
                business = ',"kind":"business"' in rest[i]
                if business and self.drop_business_register or (
                        not business and self.drop_personal_register):
                    keep[i] = False
        return keep

    def apply_fields(self, types: tuple[str, ...], ty: np.ndarray, idx: np.ndarray,
                     rest: list[str]) -> list[str]:
        """``rest`` with the stripped fields removed from the events ``idx`` (a new list when
        anything changes)."""
        if not self.strip:
            return rest
        out = list(rest)
        for t, pat in self.strip.items():
            ti = types.index(t)
            sub = pat.sub
            for i in idx[ty[idx] == ti].tolist():
                out[i] = sub("", out[i])
        return out


#: Seeds 1-20 give the held-out scenarios: never train or tune on them.
HELD_OUT = range(1, 21)


def random_variant(seed: int, k: int = 0, *, p_missing: float = 0.3,
                   p_cold: float = 0.35) -> dict[str, tuple[str, ...] | bool]:
    """A training variant: each family of :data:`RANDOM_FAMILIES` missing with probability
    ``p_missing`` and a cold start with probability ``p_cold``, drawn from ``(seed, k)`` only
    (``k`` numbers several variants of one seed). Returns keyword arguments of
    :func:`bulkguard.sim.simulate`. Held-out seeds (1-20) are refused.

    >>> v = random_variant(101)
    >>> sorted(v), v == random_variant(101), all(f in RANDOM_FAMILIES for f in v["without"])
    (['cold_start', 'without'], True, True)
    >>> random_variant(7)
    Traceback (most recent call last):
    ...
    ValueError: seed 7 is held out for evaluation (1-20): never train on it
    """
    if seed in HELD_OUT:
        raise ValueError(f"seed {seed} is held out for evaluation (1-20): never train on it")
    rng = np.random.default_rng([seed, k, 4242])
    missing = rng.random(len(RANDOM_FAMILIES)) < p_missing
    cold = bool(rng.random() < p_cold)
    return {"without": tuple(f for f, m in zip(RANDOM_FAMILIES, missing) if m), "cold_start": cold}
