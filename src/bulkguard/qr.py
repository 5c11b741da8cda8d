"""Signed contact QR codes and click-to-chat links (docs/business-lane.md, "Contact QR codes").

A token is ``base64url(payload || HMAC-SHA256(key, "bulkguard-qr-v1" || payload))``
without padding, where the payload carries a format version, a business flag, the
account's generation number, the account and an optional prefill (at most 140
characters). The key (32 random bytes, made on first use), the generation of each
account and its count of active codes live in a small SQLite store. Resetting an
account bumps its generation, which revokes every older code.

>>> key = bytes(32)
>>> token = encode_token(key, QRCode("shop", 1, True, "Hi!"))
>>> decode_token(key, token)
QRCode(account='shop', generation=1, business=True, prefill='Hi!')
>>> decode_token(key, token[:-1])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bulkguard.qr.InvalidToken: invalid code: ...
>>> token_from_link("https://chat.example/c/" + token) == token
True
>>> token_from_link("https://evil.example/c/" + token)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
bulkguard.qr.InvalidToken: invalid code: not a link of https://chat.example/c/ ...
>>> print(printable("shop\\nbusiness: yes\\x1b[2J"))
shop\\nbusiness: yes\\x1b[2J
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union
from urllib.parse import urlsplit

from bulkguard.events import OptIn

VERSION = 1
MAX_PREFILL = 140
MAX_BUSINESS_CODES = 2_000
DEFAULT_BASE_URL = "https://chat.example/c/"
STORE_FILE = "qr.sqlite3"
BASE_URL_ENV = "BULKGUARD_QR_BASE_URL"   # the configured base URL, when --base-url is not given
KEY_BYTES = 32          # the key made on first use; a shorter one in a store is refused
_DOMAIN = b"bulkguard-qr-v1\x00"
_MAC_LEN = 32
_B64 = re.compile(r"[A-Za-z0-9_-]+")
_FLAG_BUSINESS, _FLAG_PREFILL = 1, 2


class QRError(ValueError):
    """A QR operation that cannot be done (bad input, limit reached); the message says why."""


class InvalidToken(QRError):
    """A token that does not verify: garbage, truncated, tampered, forged or revoked."""


@dataclass(frozen=True)
class QRCode:
    account: str
    generation: int
    business: bool = False
    prefill: Optional[str] = None


# ---------------------------------------------------------------------- token format
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()


def check_prefill(prefill: Optional[str]) -> None:
    if prefill is not None and len(prefill) > MAX_PREFILL:
        raise QRError(f"prefill is {len(prefill)} characters; at most {MAX_PREFILL} allowed")


def encode_token(key: bytes, code: QRCode) -> str:
    """Sign ``code`` with ``key`` into a compact url-safe token."""
    if not code.account:
        raise QRError("account must not be empty")
    check_prefill(code.prefill)
    if code.generation < 0:
        raise QRError("generation must not be negative")
    try:
        account = code.account.encode("utf-8")
        prefill = code.prefill.encode("utf-8") if code.prefill is not None else b""
    except UnicodeEncodeError as err:
        raise QRError(f"account or prefill is not encodable text: {err.reason}") from None
    flags = (_FLAG_BUSINESS if code.business else 0) | \
        (_FLAG_PREFILL if code.prefill is not None else 0)
    payload = (bytes([VERSION, flags]) + _varint(code.generation)
               + _varint(len(account)) + account + prefill)
    return _b64encode(payload + _mac(key, payload))


def decode_token(key: bytes, token: str) -> QRCode:
    """Verify a token's signature and format (not its generation); raise :class:`InvalidToken`."""
    if not isinstance(token, str) or not token:
        raise InvalidToken("invalid code: empty")
    if not _B64.fullmatch(token):
        raise InvalidToken("invalid code: not a code (unexpected characters)")
    if len(token) % 4 == 1:
        raise InvalidToken("invalid code: truncated or padded (impossible length)")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("invalid code: not valid base64") from None
    if len(raw) < _MAC_LEN + 4:
        raise InvalidToken("invalid code: too short (truncated)")
    if _b64encode(raw) != token:  # unused trailing bits set: a non-canonical (altered) token
        raise InvalidToken("invalid code: altered (non-canonical encoding)")
    payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidToken("invalid code: signature does not match (forged or altered)")
    try:
        if payload[0] != VERSION:
            raise ValueError(f"unsupported version {payload[0]}")
        flags = payload[1]
        generation, pos = _read_varint(payload, 2)
        n, pos = _read_varint(payload, pos)
        if pos + n > len(payload):
            raise ValueError("account overruns the payload")
        account = payload[pos:pos + n].decode("utf-8")
        rest = payload[pos + n:]
        prefill = rest.decode("utf-8") if flags & _FLAG_PREFILL else None
        if rest and prefill is None:
            raise ValueError("trailing bytes")
    except (ValueError, IndexError) as err:
        raise InvalidToken(f"invalid code: malformed payload ({err})") from None
    return QRCode(account, generation, bool(flags & _FLAG_BUSINESS), prefill)


def base_url_of(base_url: Optional[str] = None) -> str:
    """The configured base URL: ``base_url``, else ``$BULKGUARD_QR_BASE_URL``, else
    ``https://chat.example/c/``; always ending in ``/``."""
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return base if base.endswith("/") else base + "/"


def token_from_link(text: str, base_url: Optional[str] = None) -> str:
    """The token of a click-to-chat link of the configured base URL (see :func:`base_url_of`),
    or ``text`` itself when it is a bare token. A link of any other scheme, host or path
    raises :class:`InvalidToken`: a code is only valid where it was issued."""
    text = text.strip()
    if "/" not in text and ":" not in text:
        return text
    base = urlsplit(base_url_of(base_url))
    link = urlsplit(text)
    ok = (link.scheme.lower() == base.scheme.lower() and link.netloc.lower() == base.netloc.lower()
          and link.path.startswith(base.path) and not link.query and not link.fragment)
    token = link.path[len(base.path):].rstrip("/") if ok else ""
    if not ok or "/" in token:
        raise InvalidToken(f"invalid code: not a link of {base_url_of(base_url)} "
                           f"({printable(text[:80])})")
    return token


def link_for(token: str, base_url: Optional[str] = None) -> str:
    """The click-to-chat link: the configured base URL (see :func:`base_url_of`) + token."""
    return base_url_of(base_url) + token


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: a backslash and every character that is not
    printable (newlines, ANSI escapes, bidi overrides...) as a Python escape."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else
                   ("\\\\" if c == "\\" else repr(c)[1:-1]) for c in text)


# ---------------------------------------------------------------------- the store
def default_home() -> Path:
    """``$BULKGUARD_HOME``, else ``$XDG_DATA_HOME/bulkguard``, else ``~/.local/share/bulkguard``."""
    env = os.environ.get("BULKGUARD_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "bulkguard"


class QRStore:
    """Key, per-account generation numbers and active business-code counts (SQLite).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, directory: Union[str, Path, None] = None, *, create: bool = True) -> None:
        """Open (``create``: or make) the store in ``directory``. With ``create=False`` a
        missing store raises :class:`InvalidToken` and nothing is written to disk."""
        self.directory = Path(directory) if directory else default_home()
        path = self.directory / STORE_FILE
        try:
            if not create:
                if not path.is_file():
                    raise InvalidToken(f"invalid code: no QR store in {self.directory} "
                                       "(no codes were ever issued there)")
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                           isolation_level=None, timeout=30)
                self._db.execute("SELECT 1 FROM meta, accounts LIMIT 1").fetchall()
                return
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB)")
            self._db.execute("CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY,"
                             " generation INTEGER NOT NULL, business_codes INTEGER NOT NULL,"
                             " codes INTEGER NOT NULL)")
        except (OSError, sqlite3.Error) as err:
            raise QRError(f"cannot open the QR store in {self.directory}: {err}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "QRStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key(self, create: bool = True) -> Optional[bytes]:
        """The signing key (made on first use with ``create``); a key that is not bytes or
        shorter than ``KEY_BYTES`` raises :class:`QRError`: anyone could forge its codes."""
        row = self._db.execute("SELECT value FROM meta WHERE name='key'").fetchone()
        if row is None and create:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('key', ?)",
                             (secrets.token_bytes(KEY_BYTES),))
            row = self._db.execute("SELECT value FROM meta WHERE name='key'").fetchone()
        if row is None:
            return None
        key = row[0]
        if not isinstance(key, bytes) or len(key) < KEY_BYTES:
            size = f"{len(key)} bytes" if isinstance(key, bytes) else f"a {type(key).__name__}"
            raise QRError(f"the key in the QR store {self.directory / STORE_FILE} is {size}; "
                          f"at least {KEY_BYTES} random bytes are needed (a damaged or foreign store)")
        return key

    def _row(self, account: str) -> tuple[int, int, int]:
        row = self._db.execute("SELECT generation, business_codes, codes FROM accounts"
                               " WHERE account=?", (account,)).fetchone()
        return tuple(row) if row else (1, 0, 0)  # type: ignore[return-value]

    def generation(self, account: str) -> int:
        return self._row(account)[0]

    def active_codes(self, account: str, business: bool = True) -> int:
        """Codes (business codes by default) issued in the account's current generation."""
        _, biz, codes = self._row(account)
        return biz if business else codes

    def issue(self, account: str, *, prefill: Optional[str] = None,
              business: bool = False, max_business_codes: int = MAX_BUSINESS_CODES,
              check: Optional[Callable[[str], None]] = None) -> str:
        """Issue a signed token; raise :class:`QRError` on bad input or the 2,001st business code.

        ``check(token)`` runs before the code is counted (e.g. rendering it): if it raises,
        nothing is counted."""
        if not account:
            raise QRError("account must not be empty")
        check_prefill(prefill)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            key = self.key()
            gen, biz, codes = self._row(account)
            if business and biz >= max_business_codes:
                raise QRError(f"{account!r} already holds {biz} active business codes (at most "
                              f"{max_business_codes}); `bulkguard qr reset` revokes them")
            token = encode_token(key, QRCode(account, gen, business, prefill))  # type: ignore[arg-type]
            if check is not None:
                check(token)
            self._db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?)",
                             (account, gen, biz + bool(business), codes + 1))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return token

    def reset(self, account: str) -> int:
        """Bump the generation of ``account`` (revoking every older code); return the new one."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            gen = self._row(account)[0] + 1
            self._db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?, 0, 0)", (account, gen))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return gen

    def resolve(self, token_or_link: str, base_url: Optional[str] = None) -> QRCode:
        """Verify a token or a link of the configured base URL against the key and current
        generation; raise :class:`InvalidToken`."""
        if not isinstance(token_or_link, str):
            raise InvalidToken("invalid code: not text")
        token = token_from_link(token_or_link, base_url)
        key = self.key(create=False)
        if key is None:
            raise InvalidToken(f"invalid code: no codes were ever issued from {self.directory}")
        code = decode_token(key, token)
        current = self.generation(code.account)
        if code.generation != current:
            raise InvalidToken(f"invalid code: revoked (generation {code.generation} of "
                               f"{code.account!r}; current generation is {current})")
        return code


def _store(store: Union[QRStore, str, Path, None]) -> tuple[QRStore, bool]:
    if isinstance(store, QRStore):
        return store, False
    return QRStore(store, create=False), True   # resolving never makes a store


def resolve(token_or_link: str, store: Union[QRStore, str, Path, None] = None,
            base_url: Optional[str] = None) -> QRCode:
    s, own = _store(store)
    try:
        return s.resolve(token_or_link, base_url)
    except sqlite3.Error as err:
        raise QRError(f"cannot read the QR store in {s.directory}: {err}") from None
    finally:
        if own:
            s.close()


def scan_to_optin(token: str, customer: str, ts: float, *,
                  store: Union[QRStore, str, Path, None] = None) -> OptIn:
    """A customer scanned a business code: the ``optin`` event (``source: qr``) it creates.

    Raises :class:`InvalidToken` for a code that does not verify and :class:`QRError`
    for a valid code that is not a business code.
    """
    code = resolve(token, store)
    if not code.business:
        raise QRError(f"the code of {code.account!r} is not a business code; scanning it "
                      "opens a chat but is not an opt-in")
    if not customer:
        raise QRError("customer must not be empty")
    return OptIn(ts=float(ts), business=code.account, customer=customer, source="qr")


# ---------------------------------------------------------------------- rendering and CLI
def render(link: str, out: Union[str, Path]) -> Path:
    """Write the QR code of ``link`` as PNG or SVG (by the extension of ``out``)."""
    import segno

    path = Path(out)
    ext = path.suffix.lower()
    if ext not in (".png", ".svg"):
        raise QRError(f"--out must end in .png or .svg, not {path.suffix or '(no extension)'!r}")
    try:
        qr = segno.make_qr(link, error="m")
    except ValueError as err:   # segno's DataOverflowError: more than one symbol holds
        raise QRError(f"the link is {len(link)} characters, too long for one QR code "
                      f"({err}); use a shorter account name or prefill") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    qr.save(str(path), scale=8 if ext == ".png" else 4, border=4)
    return path


def _fail(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def cli_issue(args: argparse.Namespace) -> int:
    try:
        ext = Path(args.out).suffix.lower()
        if ext not in (".png", ".svg"):
            raise QRError(f"--out must end in .png or .svg, not "
                          f"{Path(args.out).suffix or '(no extension)'!r}")
        check_prefill(args.prefill)
        def draw(token: str) -> None:
            render(link_for(token, args.base_url), args.out)

        with QRStore(args.db) as store:
            # rendered before it counts: a code that cannot be drawn uses up no business code
            token = store.issue(args.account, prefill=args.prefill, business=args.business,
                                check=draw)
        link = link_for(token, args.base_url)
    except QRError as err:
        return _fail(str(err))
    except sqlite3.Error as err:
        return _fail(f"QR store: {err}")
    except OSError as err:
        return _fail(f"cannot write {args.out}: {err}")
    print(link)
    return 0


def cli_resolve(args: argparse.Namespace) -> int:
    try:
        code = resolve(args.token, args.db, getattr(args, "base_url", None))
    except QRError as err:
        return _fail(str(err))
    # names and prefills come from whoever had a code issued: escaped, one line each
    print(f"account: {printable(code.account)}")
    print(f"business: {'yes' if code.business else 'no'}")
    print(f"generation: {code.generation}")
    if code.prefill is not None:
        print(f"prefill: {printable(code.prefill)}")
    return 0


def cli_reset(args: argparse.Namespace) -> int:
    try:
        with QRStore(args.db) as store:
            gen = store.reset(args.account)
    except QRError as err:
        return _fail(str(err))
    except sqlite3.Error as err:
        return _fail(f"QR store: {err}")
    print(f"{printable(args.account)}: now generation {gen}; every earlier code is revoked")
    return 0
