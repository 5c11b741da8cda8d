"""Issue 14, QR: a code resolves only as a link of the configured base URL, what is printed
is escaped, a short key is refused, resolving never creates a store, and a code too long
for one QR symbol fails cleanly without counting toward the business-code cap."""

from __future__ import annotations

import sqlite3

import pytest

from bulkguard.cli import main
from bulkguard.qr import (DEFAULT_BASE_URL, STORE_FILE, InvalidToken, QRError, QRStore,
                          printable, resolve, token_from_link)


@pytest.fixture()
def issued(tmp_path):
    db = tmp_path / "db"
    with QRStore(db) as store:
        token = store.issue("shop", business=True)
    return db, token


@pytest.mark.parametrize("link", [
    "https://evil.example/c/{t}", "javascript:{t}", "http://chat.example/c/{t}",
    "https://chat.example/other/{t}", "https://chat.example/c/x/{t}",
    "https://chat.example/c/{t}?next=https://evil.example", "https://chat.example.evil/c/{t}",
    "data:text/html,{t}", "//evil.example/c/{t}",
])
def test_resolve_accepts_only_the_configured_base_url(issued, link, capsys) -> None:
    db, token = issued
    bad = link.format(t=token)
    with pytest.raises(InvalidToken, match="not a link of https://chat.example/c/"):
        resolve(bad, db)
    assert main(["qr", "resolve", bad, "--db", str(db)]) == 2
    assert "not a link of" in capsys.readouterr().err
    # the same token as a bare token or a link of the configured base resolves
    assert resolve(token, db).account == "shop"
    assert resolve(DEFAULT_BASE_URL + token, db).account == "shop"
    assert resolve("HTTPS://CHAT.EXAMPLE/c/" + token + "/", db).account == "shop"


def test_configured_base_url_from_option_or_environment(issued, monkeypatch, capsys) -> None:
    db, token = issued
    other = "https://t.example/chat/" + token
    assert main(["qr", "resolve", other, "--db", str(db)]) == 2
    assert main(["qr", "resolve", other, "--db", str(db), "--base-url", "https://t.example/chat"]) == 0
    monkeypatch.setenv("BULKGUARD_QR_BASE_URL", "https://t.example/chat/")
    assert token_from_link(other) == token
    with pytest.raises(InvalidToken):
        token_from_link(DEFAULT_BASE_URL + token)   # the default is no longer the configured one
    capsys.readouterr()


def test_printed_names_and_prefills_are_escaped(tmp_path, capsys) -> None:
    db = tmp_path / "db"
    with QRStore(db) as store:
        token = store.issue("shop2\nbusiness: yes", prefill="hi\x1b[2J\x1b]0;pwned\x07\u202e")
    assert main(["qr", "resolve", token, "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "account: shop2\\nbusiness: yes", "business: no", "generation: 1",
        "prefill: hi\\x1b[2J\\x1b]0;pwned\\x07\\u202e"]
    assert "\x1b" not in out and "\u202e" not in out
    assert printable("a\\nb") == "a\\\\nb"   # a literal backslash cannot fake an escape
    assert printable("Grüße 👋") == "Grüße 👋"


@pytest.mark.parametrize("key", [b"", b"short key", "a text key", 12345])
def test_short_or_foreign_key_is_refused(issued, key, capsys) -> None:
    db, token = issued
    con = sqlite3.connect(db / STORE_FILE)
    con.execute("UPDATE meta SET value=? WHERE name='key'", (key,))
    con.commit()
    con.close()
    with pytest.raises(QRError, match="at least 32 random bytes"):
        resolve(token, db)
    with QRStore(db) as store, pytest.raises(QRError, match="at least 32 random bytes"):
        store.issue("other")
    assert main(["qr", "resolve", token, "--db", str(db)]) == 2
    assert "at least 32 random bytes" in capsys.readouterr().err


def test_resolve_with_a_nonexistent_store_creates_nothing(issued, tmp_path, capsys) -> None:
    _, token = issued
    nowhere = tmp_path / "no" / "such" / "store"
    assert main(["qr", "resolve", token, "--db", str(nowhere)]) == 2
    assert "no QR store in" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["qr", "resolve", token, "--db", str(empty)]) == 2
    assert list(empty.iterdir()) == []


def test_a_damaged_store_is_a_clean_error(tmp_path, capsys) -> None:
    db = tmp_path / "db"
    db.mkdir()
    (db / STORE_FILE).write_bytes(b"not a database at all" * 100)
    assert main(["qr", "resolve", "abc", "--db", str(db)]) == 2
    assert "QR store" in capsys.readouterr().err
    assert main(["qr", "issue", "a", "--out", str(tmp_path / "a.png"), "--db", str(db)]) == 2
    assert "QR store" in capsys.readouterr().err


def test_issue_too_long_for_a_qr_code_is_clean_and_not_counted(tmp_path, capsys) -> None:
    db, png = tmp_path / "db", tmp_path / "a.png"
    with QRStore(db) as store:
        store.issue("shop", business=True)
        store._db.execute("UPDATE accounts SET business_codes=1999 WHERE account='shop'")
    long_prefill = "x" * 140
    for account in ("shop" * 800, "shop"):
        rc = main(["qr", "issue", account, "--business", "--out", str(png), "--db", str(db),
                   "--prefill", long_prefill, "--base-url", "https://chat.example/" + "c" * 3000])
        assert rc == 2
        assert "too long for one QR code" in capsys.readouterr().err
    assert not png.exists()
    with QRStore(db) as store:
        assert store.active_codes("shop") == 1999   # the failed attempts did not count
    # the 2,000th code can still be issued
    assert main(["qr", "issue", "shop", "--business", "--out", str(png), "--db", str(db)]) == 0
    assert png.exists()
