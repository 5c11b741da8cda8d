"""Signed contact QR codes and click-to-chat links."""

from __future__ import annotations

import base64
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.cli import main
from bulkguard.events import Message, OptIn, Register, TemplateRegister
from bulkguard.policy.business import BusinessLane
from bulkguard.qr import (DEFAULT_BASE_URL, MAX_BUSINESS_CODES, InvalidToken, QRCode, QRError,
                          QRStore, decode_token, default_home, encode_token, resolve,
                          scan_to_optin, token_from_link)

KEY = bytes(range(32))
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

accounts = st.text(min_size=1, max_size=60)
prefills = st.none() | st.text(max_size=140)
codes = st.builds(QRCode, accounts, st.integers(0, 2**40), st.booleans(), prefills)


@settings(max_examples=200, deadline=None)
@given(codes)
def test_token_round_trip(code):
    token = encode_token(KEY, code)
    assert set(token) <= set(B64)
    assert decode_token(KEY, token) == code
    assert decode_token(KEY, token_from_link(DEFAULT_BASE_URL + token)) == code


@st.composite
def mutated(draw):
    token = encode_token(KEY, draw(codes))
    kind = draw(st.sampled_from(["flip", "truncate", "append", "insert", "bad_char"]))
    if kind == "flip":
        i = draw(st.integers(0, len(token) - 1))
        c = draw(st.sampled_from(B64).filter(lambda c: c != token[i]))
        bad = token[:i] + c + token[i + 1:]
    elif kind == "truncate":
        bad = token[:draw(st.integers(0, len(token) - 1))]
    elif kind == "append":
        bad = token + draw(st.text(min_size=1, max_size=8))
    elif kind == "insert":
        i = draw(st.integers(0, len(token)))
        bad = token[:i] + draw(st.sampled_from(B64)) + token[i:]
    else:
        i = draw(st.integers(0, len(token) - 1))
        bad = token[:i] + draw(st.sampled_from("=+/ .%\x00é")) + token[i + 1:]
    return bad


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_any_mutation_is_refused(bad):
    with pytest.raises(InvalidToken):
        decode_token(KEY, bad)


@given(st.text(max_size=200))
def test_garbage_is_refused_never_crashes(text):
    with pytest.raises(InvalidToken):
        decode_token(KEY, token_from_link(text))


def test_forged_with_other_key_and_noncanonical():
    token = encode_token(bytes(32), QRCode("shop", 1, True))
    with pytest.raises(InvalidToken, match="signature"):
        decode_token(KEY, token)
    # a well-signed payload with an unsupported version is still refused
    raw = base64.urlsafe_b64decode(encode_token(KEY, QRCode("a", 1)) + "==")
    with pytest.raises(InvalidToken):
        decode_token(KEY, base64.urlsafe_b64encode(raw + b"x").decode().rstrip("="))


def test_prefill_limit():
    encode_token(KEY, QRCode("a", 1, prefill="x" * 140))
    with pytest.raises(QRError, match="at most 140"):
        encode_token(KEY, QRCode("a", 1, prefill="x" * 141))
    with pytest.raises(QRError, match="empty"):
        encode_token(KEY, QRCode("", 1))


# ---------------------------------------------------------------- store
def test_store_issue_resolve_reset(tmp_path):
    with QRStore(tmp_path) as store:
        t1 = store.issue("shop", prefill="Hi", business=True)
        assert store.resolve(t1) == QRCode("shop", 1, True, "Hi")
        assert store.resolve(DEFAULT_BASE_URL + t1 + "/").account == "shop"
        assert store.active_codes("shop") == 1
        assert store.reset("shop") == 2
        with pytest.raises(InvalidToken, match="revoked"):
            store.resolve(t1)
        t2 = store.issue("shop", business=True)
        assert store.resolve(t2).generation == 2
        assert store.active_codes("shop") == 1
    # the key persists
    with QRStore(tmp_path) as store:
        assert store.resolve(t2).account == "shop"
    with QRStore(tmp_path / "other") as other:
        with pytest.raises(InvalidToken, match="no codes"):
            other.resolve(t2)
        other.issue("x")
        with pytest.raises(InvalidToken, match="signature"):
            other.resolve(t2)


def test_business_code_limit(tmp_path):
    assert MAX_BUSINESS_CODES == 2000
    with QRStore(tmp_path) as store:
        for _ in range(3):
            store.issue("shop", business=True, max_business_codes=3)
        store.issue("shop", max_business_codes=3)  # personal codes do not count
        with pytest.raises(QRError, match="already holds 3 active business codes"):
            store.issue("shop", business=True, max_business_codes=3)
        store.reset("shop")
        store.issue("shop", business=True, max_business_codes=3)


def test_2001st_business_code_refused(tmp_path):
    with QRStore(tmp_path) as store:
        store.issue("shop", business=True)
        store._db.execute("UPDATE accounts SET business_codes=1999 WHERE account='shop'")
        store.issue("shop", business=True)  # the 2,000th
        with pytest.raises(QRError, match="at most 2000"):
            store.issue("shop", business=True)


def test_scan_to_optin_feeds_the_lane(tmp_path):
    with QRStore(tmp_path) as store:
        biz = store.issue("shop", business=True)
        personal = store.issue("ann")
        ev = scan_to_optin(biz, "carl", 100.0, store=store)
        assert ev == OptIn(ts=100.0, business="shop", customer="carl", source="qr")
        with pytest.raises(QRError, match="not a business code"):
            scan_to_optin(personal, "carl", 100.0, store=store)
        with pytest.raises(InvalidToken):
            scan_to_optin(biz[:-2], "carl", 100.0, store=store)
    assert scan_to_optin(biz, "dora", 1, store=tmp_path).customer == "dora"
    lane = BusinessLane()
    lane.observe(Register(ts=0, account="shop", kind="business"), 0)
    lane.observe(TemplateRegister(ts=0, business="shop", template="t"), 0)
    lane.observe(ev, 100.0)
    assert lane.check_message(Message(ts=101, sender="shop", recipient="carl", template="t"),
                              101) is None


def test_default_home(monkeypatch, tmp_path):
    monkeypatch.setenv("BULKGUARD_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    monkeypatch.delenv("BULKGUARD_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert default_home() == tmp_path / "x" / "bulkguard"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_home() == tmp_path / "home" / ".local" / "share" / "bulkguard"


def test_module_resolve_with_path(tmp_path):
    with QRStore(tmp_path) as store:
        t = store.issue("a")
    assert resolve(t, tmp_path).account == "a"
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(InvalidToken):
            resolve(t, d)


# ---------------------------------------------------------------- CLI
def test_cli_issue_png_svg_resolve_reset(tmp_path, capsys):
    db = str(tmp_path / "db")
    png, svg = tmp_path / "a.png", tmp_path / "out" / "b.SVG"
    assert main(["qr", "issue", "shop", "--business", "--prefill", "Hallo!",
                 "--out", str(png), "--db", db]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith(DEFAULT_BASE_URL)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["qr", "issue", "ann", "--out", str(svg), "--db", db,
                 "--base-url", "https://t.example/chat"]) == 0
    link2 = capsys.readouterr().out.strip()
    assert link2.startswith("https://t.example/chat/")
    assert b"<svg" in svg.read_bytes()

    assert main(["qr", "resolve", link, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "account: shop" in out and "business: yes" in out and "prefill: Hallo!" in out
    assert main(["qr", "resolve", link2.rsplit("/", 1)[1], "--db", db]) == 0
    assert "account: ann" in capsys.readouterr().out

    assert main(["qr", "reset", "shop", "--db", db]) == 0
    assert "generation 2" in capsys.readouterr().out
    assert main(["qr", "resolve", link, "--db", db]) == 2
    assert "revoked" in capsys.readouterr().err
    assert main(["qr", "resolve", link2, "--db", db,
                 "--base-url", "https://t.example/chat"]) == 0  # other accounts unaffected
    assert main(["qr", "resolve", "garbage!", "--db", db]) == 2
    assert "invalid code" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BULKGUARD_HOME", str(tmp_path / "home"))
    assert main(["qr", "issue", "shop", "--out", str(tmp_path / "a.jpg")]) == 2
    assert ".png or .svg" in capsys.readouterr().err
    assert main(["qr", "issue", "shop", "--prefill", "x" * 141,
                 "--out", str(tmp_path / "a.png")]) == 2
    assert "at most 140" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()
    assert main(["qr", "issue", "shop", "--out", str(tmp_path / "a.png")]) == 0
    link = capsys.readouterr().out.strip()
    assert (tmp_path / "home" / "qr.sqlite3").exists()  # BULKGUARD_HOME is the store
    assert main(["qr", "resolve", link]) == 0
