"""Spam classifier for the text a reporter shares in a ``report`` event.

On an end-to-end encrypted platform the only message content the engine ever
sees is the text a reporter chooses to share (``report.messages``).  This
module scores that text with a small logistic regression trained on the
SMS Spam Collection (see ``text_model.md`` beside this file).

Inference is pure Python (no scikit-learn, no numpy): the text is turned into
hashed features and the non-zero weights of the shipped model are looked up.

* lowercased word unigrams and bigrams (``\\w+``), and byte 3-, 4- and
  5-grams of each lowercased whitespace-separated token padded with a space
  on each side (UTF-8), each kind hashed with ``zlib.crc32`` (a different
  start value per kind) into ``2**18`` slots; a slot's value is its count
  divided by the square root of the number of hashed features of the text.
  The score is linear in per-token counts, so each distinct token's weight
  sum is cached and hashing is paid once per distinct token;
* a few cheap dense features: URL present, share of digits, long digit run
  (phone numbers, short codes), currency symbol present, share of uppercase
  letters, log length.

``zlib.crc32`` is stable across processes and platforms, unlike ``hash()``.

>>> clf = TextClassifier.load_default()
>>> clf.spam_probability("WINNER!! You have won a £1000 prize. Call 09061701461 now to claim") > 0.5
True
>>> clf.spam_probability("ok, see you at lunch tomorrow") < 0.5
True
>>> clf.score_messages([])
0.0

Data loading, evaluation and training live in :mod:`bulkguard.scoring.text_train`
(offline, never imported by the engine). Retrain (needs ``bulkguard[train]``: scikit-learn;
writes the model and its card)::

    python -m bulkguard.scoring.text_train train \\
        --data /work/shared/data/sms-spam-collection/SMSSpamCollection \\
        --out src/bulkguard/scoring/text_model.json
"""

from __future__ import annotations

import math
import re
import zlib
from functools import lru_cache
from itertools import accumulate, islice, repeat
from pathlib import Path
from typing import Iterable, Sequence

import msgspec

from bulkguard.events import MAX_TEXT, MAX_TEXTS
from bulkguard.scoring import shipped

__all__ = [
    "TextClassifier",
    "DENSE_FEATURES",
    "HASH_BITS",
    "extract_features",
]

FORMAT = "bulkguard-text-lr"
FORMAT_VERSION = 1
HASH_BITS = 18
_MASK = (1 << HASH_BITS) - 1
# crc32 start values: one per feature kind, so that e.g. the word "free" and
# the 4-gram b"free" land in different slots.
SEED_WORD = 0x5747_0001
SEED_BIGRAM = 0x5747_0002
SEED_CHAR3 = 0x5747_0003
SEED_CHAR4 = 0x5747_0004
SEED_CHAR5 = 0x5747_0005

DENSE_FEATURES = ("url", "digit_share", "digit_run", "currency", "upper_share", "log_len")

_WORD_RE = re.compile(r"\w+")
_URL_RE = re.compile(r"https?:|www\.|\.(?:com|net|org|biz|info|co\.uk|ly|io)\b")  # on lowercased text
_DIGITS_RE = re.compile(r"\d+")
_CURRENCY_RE = re.compile(r"[£$€¥₹₩₽]")
_ASCII_LETTER_RE = re.compile(r"[A-Za-z]")
_ASCII_UPPER_RE = re.compile(r"[A-Z]")
_LOG_LEN_SCALE = 1.0 / math.log1p(1000)
TOKEN_CACHE_MAX = 65_536
#: Tokens longer than this are scored but not cached (the cache stays small).
TOKEN_CACHE_LEN = 64
#: Whole reported texts cached (each at most ``events.MAX_TEXT`` characters).
TEXT_CACHE_MAX = 4_096


def hash_token(token: str, seed: int = SEED_WORD) -> int:
    """Stable slot of ``token`` for the feature kind whose crc32 start is ``seed``.

    >>> hash_token("free")
    113464
    """
    return zlib.crc32(token.encode("utf-8", "surrogatepass"), seed) & _MASK


def _token_raw(tok: str):
    """Everything one whitespace-separated token contributes.

    Returns ``(slots, words, bigram_prefixes, counts)``:

    * ``slots``: hashed slots, with repeats -- the token's lowercased ``\\w+``
      words (SEED_WORD) and the byte 3/4/5-grams of ``" " + tok.lower() + " "``
      (SEED_CHAR3/4/5), so punctuation such as ``£``, ``!`` or ``www.`` is seen;
    * ``words``: the words as UTF-8 bytes, for the bigrams that may span tokens;
    * ``bigram_prefixes``: ``crc32(word + b" ", SEED_BIGRAM)`` of each word, so
      that the bigram (a, b) hashes as ``crc32(b, prefix(a))`` (crc32 streams);
    * ``counts``: digits, runs of >= 5 digits, URL (0/1), currency symbol
      (0/1), ASCII uppercase letters, ASCII letters.
    """
    crc32 = zlib.crc32
    mask = _MASK
    low = tok.lower()
    words = tuple(w.encode("utf-8", "surrogatepass") for w in _WORD_RE.findall(low))
    data = b" " + low.encode("utf-8", "surrogatepass") + b" "
    n = len(data)
    slots = [crc32(w, SEED_WORD) & mask for w in words]
    slots.extend([crc32(data[i : i + 3], SEED_CHAR3) & mask for i in range(n - 2)])
    slots.extend([crc32(data[i : i + 4], SEED_CHAR4) & mask for i in range(n - 3)])
    slots.extend([crc32(data[i : i + 5], SEED_CHAR5) & mask for i in range(n - 4)])
    prefixes = tuple(crc32(w + b" ", SEED_BIGRAM) for w in words)
    runs = _DIGITS_RE.findall(tok)
    counts = (
        sum(map(len, runs)),
        sum(1 for r in runs if len(r) >= 5),
        1 if _URL_RE.search(low) else 0,
        1 if _CURRENCY_RE.search(tok) else 0,
        len(_ASCII_UPPER_RE.findall(tok)),
        len(_ASCII_LETTER_RE.findall(tok)),
    )
    return slots, words, prefixes, counts


def _bigram_slots(words: Sequence[bytes], prefixes: Sequence[int]) -> list[int]:
    return list(map(_MASK.__and__, map(zlib.crc32, words[1:], prefixes[:-1])))


def _dense(length: int, digits: int, runs: int, url: int, currency: int, upper: int, letters: int):
    if length == 0:
        return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return (
        1.0 if url else 0.0,
        digits / length,
        min(runs, 3) / 3.0,
        1.0 if currency else 0.0,
        upper / letters if letters else 0.0,
        min(math.log1p(length) * _LOG_LEN_SCALE, 1.0),
    )


def extract_features(text: str) -> tuple[list[int], tuple[float, ...]]:
    """Hashed slots (with repeats) and the dense features of ``text``.

    The hashed part of the feature vector is the slot counts divided by
    ``sqrt(len(slots))``.  Slots: per token (see ``_token_raw``) plus the
    word bigrams over the whole text (SEED_BIGRAM).  This is the reference
    implementation used for training; ``TextClassifier.decision_function``
    computes the same score from per-token caches.
    """
    slots: list[int] = []
    words: list[bytes] = []
    prefixes: list[int] = []
    totals = [0] * 6
    for tok in text.split():
        t_slots, t_words, t_prefixes, counts = _token_raw(tok)
        slots += t_slots
        words += t_words
        prefixes += t_prefixes
        totals = [a + b for a, b in zip(totals, counts)]
    slots += _bigram_slots(words, prefixes)
    return slots, _dense(len(text), *totals)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class TextClassifier:
    """Logistic regression over hashed text features, stored sparsely.

    Scoring is linear in the per-token slot counts, so each distinct token's
    summed weight is computed once and cached (at most ``TOKEN_CACHE_MAX``
    tokens per classifier; the cache is emptied when full).
    """

    __slots__ = ("intercept", "weights", "dense_weights", "meta", "_cache", "_texts")

    def __init__(
        self,
        intercept: float,
        weights: dict[int, float],
        dense_weights: Sequence[float],
        meta: dict | None = None,
    ) -> None:
        if len(dense_weights) != len(DENSE_FEATURES):
            raise ValueError(f"expected {len(DENSE_FEATURES)} dense weights, got {len(dense_weights)}")
        self.intercept = float(intercept)
        self.weights = weights
        self.dense_weights = tuple(float(w) for w in dense_weights)
        self.meta = meta or {}
        self._cache: dict[str, tuple] = {}
        self._texts: dict[str, float] = {}  # whole reported texts: the same spam is reported often

    # -- persistence ------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: dict) -> "TextClassifier":
        if doc.get("format") != FORMAT or doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} model")
        if doc["hash_bits"] != HASH_BITS or list(doc["dense_features"]) != list(DENSE_FEATURES):
            raise ValueError("model was trained with a different feature layout")
        # indices are stored delta-encoded (sorted ascending)
        weights: dict[int, float] = dict(zip(accumulate(doc["index_deltas"]),
                                             map(float, doc["values"])))
        dense = [doc["dense_weights"][name] for name in DENSE_FEATURES]
        return cls(doc["intercept"], weights, dense, doc.get("meta"))

    def to_dict(self, digits: int = 4) -> dict:
        deltas, values, prev = [], [], 0
        for i in sorted(self.weights):
            deltas.append(i - prev)
            values.append(float(f"{self.weights[i]:.{digits}g}"))
            prev = i
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "hash": "zlib.crc32",
            "hash_bits": HASH_BITS,
            "dense_features": list(DENSE_FEATURES),
            "intercept": float(f"{self.intercept:.6g}"),
            "dense_weights": {n: float(f"{w:.6g}") for n, w in zip(DENSE_FEATURES, self.dense_weights)},
            "meta": self.meta,
            "index_deltas": deltas,
            "values": values,
        }

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        import json   # (the shipped model is read with msgspec, see _load_default)
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def load_default(cls) -> "TextClassifier":
        """The shipped model (``text_model.json``), loaded once per process."""
        return _load_default()

    # -- scoring ----------------------------------------------------------
    def _token_entry(self, tok: str) -> tuple:
        slots, words, prefixes, counts = _token_raw(tok)
        get = self.weights.get
        entry = ((sum([get(s, 0.0) for s in slots]), len(slots)) + counts, words, prefixes)
        if len(tok) <= TOKEN_CACHE_LEN:
            if len(self._cache) >= TOKEN_CACHE_MAX:
                self._cache.clear()
            self._cache[tok] = entry
        return entry

    def decision_function(self, text: str) -> float:
        """Log-odds of spam (same value as the reference ``extract_features`` path)."""
        cache = self._cache
        nums: list[tuple] = []
        words: list[bytes] = []
        prefixes: list[int] = []
        for tok in text.split():
            entry = cache.get(tok)
            if entry is None:
                entry = self._token_entry(tok)
            nums.append(entry[0])
            words += entry[1]
            prefixes += entry[2]
        if not nums:
            return self.intercept + self.dense_weights[-1] * _dense(len(text), 0, 0, 0, 0, 0, 0)[-1]
        wsum, n, *counts = map(sum, zip(*nums))
        if len(words) > 1:
            bigrams = _bigram_slots(words, prefixes)
            n += len(bigrams)
            wsum += sum(map(self.weights.get, bigrams, repeat(0.0, len(bigrams))))
        z = self.intercept + wsum / math.sqrt(n)
        for w, x in zip(self.dense_weights, _dense(len(text), *counts)):
            z += w * x
        return z

    def spam_probability(self, text: str) -> float:
        """Probability in [0, 1] that ``text`` is spam."""
        return _sigmoid(self.decision_function(text))

    def score_messages(self, messages: Iterable[str]) -> float:
        """Highest spam probability over ``messages``; 0.0 when there are none.

        Documented limits (README, "Limits"): only the first ``MAX_TEXTS`` texts are read,
        and of each its first ``MAX_TEXT`` characters, so that one report costs at most
        about 200 KB of scoring however much text it quotes.
        """
        texts = self._texts
        best = 0.0
        for m in islice(messages, MAX_TEXTS):
            if len(m) > MAX_TEXT:
                m = m[:MAX_TEXT]
            p = texts.get(m)
            if p is None:
                if len(texts) >= TEXT_CACHE_MAX:
                    texts.clear()
                p = texts[m] = self.spam_probability(m)
            if p > best:
                best = p
        return best


@lru_cache(maxsize=1)
def _load_default() -> TextClassifier:
    # msgspec: what json.loads gives for this file (tests/test_startup.py), a fifth the cost
    return TextClassifier.from_dict(msgspec.json.decode(shipped.read_text("text_model.json")))
