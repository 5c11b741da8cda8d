"""The text digest the Synapse integration computes from unencrypted message bodies."""

from __future__ import annotations

import random
import re
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.integrations.synapse.digest import hamming, normalize, simhash64, text_digest
from bulkguard.state.world import FAMILY_HAMMING, simhash_of

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
TEMPLATE = "Hi {name}! You have won a 500 EUR voucher, claim it at https://win.example/c/{code} now"
# Matrix localparts as people pick them: a letter, then letters, digits, dots, dashes; none
# that stands as a whole in the template itself (masking the name "at" rightly masks the
# template's "at" too, so the two messages differ by more than the name)
NAMES = st.from_regex(r"[a-z][a-z0-9.\-]{1,11}", fullmatch=True).filter(
    lambda n: re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", TEMPLATE.casefold()) is None)


@given(st.text(max_size=300))
def test_digest_is_none_or_16_hex_digits_the_engine_reads(text: str) -> None:
    d = text_digest(text)
    if d is None:
        assert normalize(text) == []
    else:
        assert len(d) == 16 and int(d, 16) == simhash_of(d) >= 0


@given(st.lists(WORDS, min_size=1, max_size=30))
def test_case_spacing_and_punctuation_do_not_change_the_digest(words: list[str]) -> None:
    plain = " ".join(words)
    noisy = "  ".join(w.upper() + "!!" for w in words) + " :)"
    assert text_digest(plain) == text_digest(noisy)


@given(NAMES, NAMES, st.integers(0, 10**9), st.integers(0, 10**9))
@settings(max_examples=200)
def test_recipient_name_numbers_and_link_paths_are_normalized_away(a: str, b: str, ca: int, cb: int) -> None:
    da = text_digest(TEMPLATE.format(name=a, code=ca), mask=[a])
    db = text_digest(TEMPLATE.format(name=b, code=cb), mask=[b])
    assert da == db


def test_unrelated_messages_are_far_apart() -> None:
    texts = ["see you at lunch tomorrow?", "can you send me the slides from today",
             "happy birthday!! have a great day", "the train is late again, start without me",
             TEMPLATE.format(name="x", code=1)]
    digests = [text_digest(t) for t in texts]
    for i, a in enumerate(digests):
        for b in digests[i + 1:]:
            assert hamming(a, b) > FAMILY_HAMMING


def test_one_changed_word_is_usually_beyond_the_family_radius() -> None:
    """What the module docstring says about spun text, measured: a random word swapped in a
    15-word message moves the SimHash by a median of 4-6 bits."""
    rng = random.Random(3)
    vocab = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(500)]
    dists = []
    for _ in range(200):
        words = rng.sample(vocab, 15)
        spun = list(words)
        spun[rng.randrange(15)] = rng.choice(vocab)
        dists.append(hamming(text_digest(" ".join(words)), text_digest(" ".join(spun))))
    assert 3 <= statistics.median(dists) <= 7


def test_simhash_of_nothing_and_hamming_of_missing() -> None:
    assert simhash64([]) == 0
    assert hamming(None, "00") == 64
    assert text_digest("!!! ...") is None
    assert text_digest("Bob", mask=["bob"]) is None
