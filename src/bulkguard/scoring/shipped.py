"""The files shipped beside this module (``model.json``, ``rules.toml``, ``text_model.json``)
and their SHA-256, as every replay reads them at start-up: by path, not through
importlib.resources, and hashed with CPython's own SHA-256, not hashlib (which loads OpenSSL
for it); together about 30M instructions of a replay's start-up.

>>> sha256_hex(b"abc")[:16]
'ba7816bf8f01cfea'
>>> os.path.basename(path("rules.toml")), "[actions]" in read_text("rules.toml")
('rules.toml', True)
"""

from __future__ import annotations

import os

try:   # (the same digest: what hashlib itself falls back to without OpenSSL)
    from _sha256 import sha256 as _sha256  # type: ignore[import-not-found]
except ImportError:   # Python 3.12+: _sha2; else hashlib
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[import-not-found,no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[assignment]

DIR = os.path.dirname(os.path.abspath(__file__))   # the bulkguard.scoring package


def path(name: str) -> str:
    """A shipped file of ``bulkguard.scoring``."""
    return os.path.join(DIR, name)


def read_text(name: str) -> str:
    """A shipped file's text (UTF-8, newlines as ``importlib.resources`` reads them); raises
    FileNotFoundError when the package has no such file."""
    with open(path(name), encoding="utf-8") as f:
        return f.read()


def sha256_hex(data: bytes) -> str:
    return str(_sha256(data).hexdigest())
