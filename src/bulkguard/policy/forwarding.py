"""Forwarding limits, for every account (docs/business-lane.md, "Forwarding limits").

The same content (equal ``digest``) forwarded (``forwarded > 0``) by one account may
reach at most ``max_chats`` distinct chats within ``window`` seconds of event time;
content already forwarded ``highly_forwarded`` or more times may reach only
``max_chats_highly`` chat(s). Sending it again to a chat that already got it in the
window is always allowed. Messages without a ``digest`` cannot be matched and pass.

>>> from bulkguard.events import Message
>>> fl = ForwardLimiter()
>>> [fl.check(Message(ts=i, sender="a", recipient=f"u{i}", forwarded=1, digest="d1"), i)
...  for i in range(7)]
[None, None, None, None, None, 'FORWARD_LIMIT', 'FORWARD_LIMIT']
>>> fl.check(Message(ts=9, sender="a", group="g", forwarded=5, digest="d2"), 9)
>>> fl.check(Message(ts=9, sender="a", recipient="u0", forwarded=5, digest="d2"), 9)
'FORWARD_LIMIT'
>>> fl.violations("a")
3
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from bulkguard.events import Message

FORWARD_LIMIT = "FORWARD_LIMIT"


@dataclass(frozen=True)
class ForwardConfig:
    #: Distinct chats the same forwarded content may reach per account per window.
    max_chats: int = 5
    #: ``forwarded`` count from which content is "highly forwarded".
    highly_forwarded: int = 5
    #: Distinct chats highly forwarded content may reach per account per window.
    max_chats_highly: int = 1
    #: The window, seconds of event time (a chat counts for this long after its last send).
    window: float = 3_600.0
    #: Expired entries are swept out once per this much event time.
    sweep_every: float = 3_600.0
    #: Per-account refusal counts are forgotten this long after the account's last refusal.
    violations_keep: float = 30 * 86_400.0

    def __reduce__(self) -> tuple:
        # compiled (mypyc), a frozen dataclass cannot be unpickled field by field
        return ForwardConfig, tuple(getattr(self, f.name) for f in fields(self))


class ForwardLimiter:
    """Per-(account, digest) distinct chats in a moving window. Picklable and bounded."""

    def __init__(self, config: ForwardConfig | None = None) -> None:
        self.config = config or ForwardConfig()
        # (sender, digest) -> {chat: last ts}; a chat is "u:<account>" or "g:<group>"
        self._sent: dict[tuple[str, str], dict[str, float]] = {}
        self._violations: dict[str, int] = {}
        self._violations_last: dict[str, float] = {}   # in time order: re-inserted on each
        self._next_sweep = float("-inf")

    def violations(self, account: str) -> int:
        """Messages of ``account`` refused for forwarding so far (forgotten
        ``violations_keep`` after its last refusal)."""
        return self._violations.get(account, 0)

    def check(self, ev: Message, now: float) -> str | None:
        """``FORWARD_LIMIT`` if ``ev`` would exceed the limit, else ``None`` (and record it)."""
        if ev.forwarded <= 0 or ev.digest is None:
            return None
        cfg = self.config
        if now >= self._next_sweep:
            self.sweep(now)
        key = (ev.sender, ev.digest)
        chats = self._sent.get(key)
        if chats is None:
            chats = self._sent[key] = {}
        chat = "u:" + ev.recipient if ev.recipient is not None else "g:" + (ev.group or "")
        cutoff = now - cfg.window
        if chats:  # at most max_chats entries: refused sends are never recorded
            for c in [c for c, t in chats.items() if t <= cutoff]:
                del chats[c]
        if chat not in chats:
            limit = cfg.max_chats_highly if ev.forwarded >= cfg.highly_forwarded else cfg.max_chats
            if len(chats) >= limit:
                self._violations[ev.sender] = self._violations.get(ev.sender, 0) + 1
                self._violations_last.pop(ev.sender, None)
                self._violations_last[ev.sender] = now
                return FORWARD_LIMIT
        chats[chat] = now
        return None

    def sweep(self, now: float) -> None:
        """Drop every (account, digest) whose chats all left the window."""
        self._next_sweep = now + self.config.sweep_every
        cutoff = now - self.config.window
        dead = []
        for key, chats in self._sent.items():
            for c in [c for c, t in chats.items() if t <= cutoff]:
                del chats[c]
            if not chats:
                dead.append(key)
        for key in dead:
            del self._sent[key]
        old = []
        for account, t in self._violations_last.items():
            if t > now - self.config.violations_keep:
                break
            old.append(account)
        for account in old:
            del self._violations_last[account]
            del self._violations[account]

    def __len__(self) -> int:
        return len(self._sent)
