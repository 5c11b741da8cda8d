"""Which build of bulkguard is running: the mypyc-compiled hot path or pure Python.

``pip install .`` compiles the hot path when it can and writes ``_build.txt`` (the build and,
for a pure build, why) into the installed package; the editable development install and a
source checkout have no such file and are pure Python. What actually runs is read from the
engine module itself, so a copy of the package with its C extensions removed says "pure".

>>> build()[0] in ("compiled", "pure")
True
>>> version_line().startswith("bulkguard ")
True
"""

from __future__ import annotations

import os

import bulkguard
from bulkguard import __version__


def _build_txt() -> str:
    """``_build.txt`` of the installed package (read at the start of a replay: by path)."""
    return os.path.join(os.path.dirname(os.path.abspath(bulkguard.__file__ or "")), "_build.txt")


def build() -> tuple[str, str]:
    """``("compiled", "mypyc")`` or ``("pure", why)``."""
    import bulkguard.engine

    if not (bulkguard.engine.__file__ or "").endswith(".py"):
        return "compiled", "mypyc"
    info = _build_txt()
    if not os.path.isfile(info):
        return "pure", "source checkout or editable install"
    with open(info, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if lines[:1] == ["compiled"]:
        return "pure", "built compiled, but its C extensions are not loaded"
    return "pure", lines[1] if len(lines) > 1 else "unknown reason"


def version_line() -> str:
    """``bulkguard 0.1.0 (compiled build: mypyc)`` or ``... (pure-Python build: why)``."""
    kind, why = build()
    name = "compiled build" if kind == "compiled" else "pure-Python build"
    return f"bulkguard {__version__} ({name}: {why})"


def fallback_warning() -> str | None:
    """One warning line when an installed (not editable) build fell back to pure Python
    because it could not compile; None otherwise (compiled, editable, or asked for pure)."""
    kind, why = build()
    if kind == "compiled":
        return None
    if not os.path.isfile(_build_txt()):
        return None
    if why == "BULKGUARD_COMPILE=0":
        return None
    return (f"bulkguard: warning: running the pure-Python build ({why}); replay is about 2.5x "
            "slower than the compiled build (reinstall with a C compiler present)")
