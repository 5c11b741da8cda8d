"""A message body's content digest: a 64-bit SimHash of its normalized words, as 16 hex digits.

The engine compares digests as SimHashes (``bulkguard.state.world.simhash_of``: the first
64 bits, near-duplicates within Hamming distance 5). Platforms normally compute the
digest on the client; a Matrix homeserver sees the body of unencrypted events, so the
integration computes it there and keeps nothing of the text.

Normalization removes what bulk senders vary from one recipient to the next: case,
punctuation and emoji, digits (every run becomes ``0``), the path of links (only the
host is kept) and the recipient's own name (``mask``). What remains is hashed word by
word (each word a feature of weight 1, hashed with BLAKE2b so that digests are stable
across processes and machines).

>>> a = text_digest("Hi Anna! You won 500 EUR: https://prize.example/c/8812", mask=["anna"])
>>> b = text_digest("hi BOB, you won 730 eur -> https://prize.example/c/1", mask=["bob"])
>>> a == b, len(a)
(True, 16)
>>> hamming(a, text_digest("Are we still on for lunch tomorrow?")) > 3
True

One changed word in a short message typically moves the SimHash by 4-6 bits, at the edge of
the engine's family radius (5): text spun word by word is one family only now and then
(velocity and fan-out still see it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_LINK = re.compile(r"(?:https?://|www\.)([^/\s?#]+)[^\s]*", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"\w+")


def normalize(text: str, mask: Iterable[str] = ()) -> list[str]:
    """The words of ``text`` the digest is made of (see the module docstring). Each ``mask``
    string is removed where it stands as a whole (not inside a longer word) before anything else.

    >>> normalize("Hey @Bob:example.org, 2 links: https://a.example/x?y=1 www.b.example/z", ["bob"])
    ['hey', 'example', 'org', '0', 'links', 'a', 'example', 'b', 'example']
    """
    t = text.casefold()
    for m in sorted({m.casefold() for m in mask if m}, key=len, reverse=True):
        t = re.sub(r"(?<!\w)" + re.escape(m) + r"(?!\w)", " ", t)
    t = _LINK.sub(lambda m: " " + m.group(1) + " ", t)
    t = _DIGITS.sub("0", t)
    return _WORD.findall(t)


def simhash64(features: Iterable[str]) -> int:
    """Charikar's SimHash over ``features`` (each weight 1); 0 for no features."""
    counts = [0] * 64
    for f in features:
        h = int.from_bytes(hashlib.blake2b(f.encode("utf-8", "surrogatepass"),
                                           digest_size=8).digest(), "big")
        for i in range(64):
            counts[i] += 1 if (h >> i) & 1 else -1
    out = 0
    for i, c in enumerate(counts):
        if c > 0:
            out |= 1 << i
    return out


def text_digest(text: str, mask: Iterable[str] = ()) -> str | None:
    """The digest of a message body, or None when nothing of it is left to compare
    (an empty body, only punctuation or emoji, only the recipient's name)."""
    words = normalize(text, mask)
    if not words:
        return None
    return format(simhash64(words), "016x")


def hamming(a: str | None, b: str | None) -> int:
    """Bits that differ between two digests (64 when either is missing)."""
    if a is None or b is None:
        return 64
    return (int(a, 16) ^ int(b, 16)).bit_count()
