"""Registration: many accounts from one IP, device or phone-number block; phone country
different from the declared one.

Optional family ``register``: an account without a ``register`` event, or whose event lacks
the field (``ip``, ``device``, ``phone``, ``country``), gets NaN (unknown), not 0.

>>> w = World(); w.now = 100.0
>>> from bulkguard.events import Register
>>> for i in range(3):
...     _ = w.on_register(Register(ts=100.0, account=f"f{i}", ip="192.0.2.1",
...                                phone=f"+491510000000{i}", device="d1"))
>>> a = w.accounts["f2"]
>>> reg_ip_1h(a, w), reg_device_1d(a, w), reg_block_1d(a, w)
(3.0, 3.0, 3.0)
"""

from __future__ import annotations

from bulkguard.state.account import MISSING, Account
from bulkguard.state.windows import DAY, HOUR
from bulkguard.state.world import World


def _hour(table: dict, key: str | None, a: Account, w: World) -> float:
    if key is None:
        return MISSING
    c = table.get(key)
    return w.reg_count(c, a, HOUR, c.counter.hour(w.now)) if c is not None else 0.0


def _day(table: dict, key: str | None, a: Account, w: World) -> float:
    if key is None:
        return MISSING
    c = table.get(key)
    return w.reg_count(c, a, DAY, c.counter.day(w.now)) if c is not None else 0.0


# Counts are of registrations that came close in time to the account's own (see
# ``World.reg_count``): registrations on its IP long after it registered are someone else's.
def reg_ip_1h(a: Account, w: World) -> float:
    """Registrations from the account's registration IP in the last hour."""
    return _hour(w.by_ip, a.reg_ip, a, w)


def reg_ip_1d(a: Account, w: World) -> float:
    """Registrations from the account's registration IP in the last day."""
    return _day(w.by_ip, a.reg_ip, a, w)


def reg_device_1d(a: Account, w: World) -> float:
    """Registrations from the account's device in the last day."""
    return _day(w.by_device, a.reg_device, a, w)


def reg_block_1d(a: Account, w: World) -> float:
    """Registrations in the account's phone-number block (all but the last 3 digits), last day."""
    return _day(w.by_block, a.reg_block, a, w)


def country_mismatch(a: Account, w: World) -> float:
    """1 if the phone's calling code does not belong to the declared country (NaN: no phone)."""
    if a.reg_block is None:
        return MISSING
    return 1.0 if a.country_mismatch else 0.0


def registered(a: Account, w: World) -> float:
    """1 if the account registered inside the stream (a new account)."""
    return 1.0 if a.reg_ts >= 0.0 else 0.0


SIGNALS = (reg_ip_1h, reg_ip_1d, reg_device_1d, reg_block_1d, country_mismatch, registered)
