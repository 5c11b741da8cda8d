"""Build hook: compile the hot path (state, signals, engine, replay loop) with mypyc.

``pip install .`` builds C extensions from the same sources (2-3x faster replay) whenever
it can: mypyc is a build requirement (``[build-system]`` in pyproject.toml), so all it
needs is a C compiler and the Python headers. Without them it installs pure Python and says
so in one warning line (``bulkguard --version`` and ``bulkguard replay`` say it too).

``BULKGUARD_COMPILE=1`` makes the compiled build required (the build fails instead of
falling back), ``BULKGUARD_COMPILE=0`` asks for pure Python. The editable development
install (``pip install -e .``) always stays pure, so that source edits take effect at once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HOT = [
    "src/bulkguard/state/windows.py",
    "src/bulkguard/state/account.py",
    "src/bulkguard/state/world.py",
    "src/bulkguard/signals/velocity.py",
    "src/bulkguard/signals/fanout.py",
    "src/bulkguard/signals/engagement.py",
    "src/bulkguard/signals/timing.py",
    "src/bulkguard/signals/registration.py",
    "src/bulkguard/signals/coordination.py",
    "src/bulkguard/signals/discovery.py",
    "src/bulkguard/signals/groups.py",
    "src/bulkguard/signals/feedback.py",
    "src/bulkguard/signals/content.py",
    "src/bulkguard/signals/business.py",
    "src/bulkguard/signals/lockstep.py",
    "src/bulkguard/signals/__init__.py",
    "src/bulkguard/engine.py",
    "src/bulkguard/scoring/shipped_margin.py",
    "src/bulkguard/scoring/shipped_rules.py",
    "src/bulkguard/scoring/calibration.py",
    "src/bulkguard/ingest/pump.py",
    "src/bulkguard/ingest/reorder.py",
    "src/bulkguard/ingest/sources.py",
    "src/bulkguard/policy/business.py",
    "src/bulkguard/policy/forwarding.py",
    "src/bulkguard/store/decisions.py",
]

MODE = os.environ.get("BULKGUARD_COMPILE", "auto")     # auto | 1 | 0
# Commands that only describe the package (metadata, sdist, the editable install) must not
# pay for the mypyc translation; only building a wheel or installing does.
BUILDING = bool({"bdist_wheel", "build", "build_ext", "install"} & set(sys.argv)) \
    and "editable_wheel" not in sys.argv


def _why_not() -> str | None:
    """Why this machine cannot compile the hot path, or None when it can."""
    if MODE == "0":
        return "BULKGUARD_COMPILE=0"
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        return f"no C compiler ({' '.join(cc) or 'cc'}) found"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "the Python headers (Python.h) are not installed"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc (mypy) is not installed in the build environment"
    return None


def _warn(reason: str) -> str:
    """The one warning line of a pure-Python fallback, on stderr; returns the reason."""
    if MODE == "1":
        raise SystemExit(f"bulkguard: BULKGUARD_COMPILE=1 but the hot path cannot be compiled: "
                         f"{reason}")
    if MODE != "0":
        print(f"WARNING: bulkguard: installing the pure-Python build ({reason}); replay runs "
              "about 2.5x slower than the compiled build", file=sys.stderr)
    return reason


BUILD = {"build": "pure", "reason": "not built"}
ext_modules = []
if BUILDING:
    why = _why_not()
    if why is None:
        from mypyc.build import mypycify
        try:
            # Modules the hot path imports but that stay Python are type-checked as an
            # installed package would be (errors there are not the build's).
            ext_modules = mypycify(["--follow-imports=silent", *HOT], opt_level="3")
            # the pair graph's flat table (bulkguard.state.pairtable uses a dict without it)
            ext_modules.append(Extension("bulkguard.state._pairtable",
                                         ["src/bulkguard/state/_pairtable.c"]))
            # the identity map as a flat table (bulkguard.state.idmap uses a dict without it)
            ext_modules.append(Extension("bulkguard.state._idmap",
                                         ["src/bulkguard/state/_idmap.c"]))
            # the edge's fast path: plain event lines decoded in C, names interned
            ext_modules.append(Extension("bulkguard.ingest._fastdecode",
                                         ["src/bulkguard/ingest/_fastdecode.c"]))
            # replay --workers 2: events as compact records between the two processes
            ext_modules.append(Extension("bulkguard.ingest._frames",
                                         ["src/bulkguard/ingest/_frames.c"]))
            BUILD = {"build": "compiled", "reason": "mypyc"}
        except (Exception, SystemExit) as err:   # mypyc refused the sources: still a working install
            if MODE == "1":
                raise
            detail = "it reported errors (above)" if isinstance(err, SystemExit) else str(err)
            BUILD["reason"] = _warn(f"mypyc failed: {detail}")
    else:
        BUILD["reason"] = _warn(why)


def _write_build_info(build_lib: str) -> None:
    """``bulkguard/_build.txt``: which build this is and why (read by ``--version``)."""
    path = Path(build_lib) / "bulkguard" / "_build.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{BUILD['build']}\n{BUILD['reason']}\n", encoding="utf-8")


class BuildPy(build_py):
    def run(self) -> None:
        if not self.editable_mode:
            self._drop_stale_extensions()
        super().run()
        if not self.editable_mode:
            _write_build_info(self.build_lib)

    def _drop_stale_extensions(self) -> None:
        """pip builds in the source tree's ``build/``: an extension left there by an earlier
        build (a module since dropped from HOT, another mypyc shared library, or any at all
        in a pure build) would be installed and shadow the module's Python source."""
        be = self.get_finalized_command("build_ext")
        keep = {Path(be.get_ext_fullpath(e.name)).resolve() for e in ext_modules}
        root = Path(self.build_lib)
        for pattern in ("*.so", "*.pyd"):
            for f in [*root.glob(pattern), *(root / "bulkguard").rglob(pattern)]:
                if f.resolve() not in keep:
                    f.unlink()


class BuildExt(build_ext):
    """Falls back to pure Python when the C compiler fails (unless BULKGUARD_COMPILE=1)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as err:
            if MODE == "1":
                raise
            for ext in self.extensions:   # no half-built package: drop whatever was written
                out = Path(self.get_ext_fullpath(ext.name))
                if out.exists():
                    out.unlink()
            self.extensions = []
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            BUILD.update(build="pure", reason=_warn(f"C compilation failed: {first}"))
            _write_build_info(self.build_lib)


setup(ext_modules=ext_modules, cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
