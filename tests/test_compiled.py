"""The mypyc-compiled hot path (what ``pip install .`` builds; ``BULKGUARD_COMPILE=1`` makes it
required) must decide exactly like the pure-Python sources it is built from."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "spec" / "sample" / "events.jsonl"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypyc") is None,
                                reason="mypy (mypyc) not installed")


def _replay(pythonpath: str | None, events: Path, out: Path) -> str:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    code = ("import sys, bulkguard.engine as e; from bulkguard.cli import main; "
            "print(e.__file__); sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "replay", str(events), "--out", str(out)],
                       env=env, capture_output=True, text=True, cwd=out.parent, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[0]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled build, installed into a folder of its own."""
    target = tmp_path_factory.mktemp("compiled") / "fast"
    env = dict(os.environ, BULKGUARD_COMPILE="1")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation",
                        "--no-deps", "--target", str(target), str(ROOT)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return target


def test_compiled_build_passes_the_tests(target: Path, tmp_path: Path) -> None:
    """Compiled classes differ in small ways (no ``__slots__`` attribute, ``__init__`` on
    unpickling, one type per variable), so the compiled build runs the suite too: all but
    this file and the kill-and-resume tests, which need a replay slow enough to kill."""
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
                        str(ROOT / "tests"), "-k", "not kill and not compiled"],
                       env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout[-5000:]
    assert " passed" in r.stdout


def test_compiled_build_matches_pure_python(target: Path, tmp_path: Path) -> None:
    from bulkguard.sim import simulate
    simulate(tmp_path / "scn", seed=3, accounts=300, days=0.5)
    streams = [tmp_path / "scn" / "events.jsonl"] + ([SAMPLE] if SAMPLE.exists() else [])
    for i, events in enumerate(streams):
        fast, pure = tmp_path / f"fast{i}.jsonl", tmp_path / f"pure{i}.jsonl"
        assert _replay(str(target), events, fast).endswith(".so")
        assert _replay(None, events, pure).endswith(".py")
        assert fast.read_bytes() == pure.read_bytes()
        assert fast.stat().st_size > 0


def test_compiled_build_says_so(target: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-m", "bulkguard", "--version"], env=env,
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("(compiled build: mypyc)")
    assert (target / "bulkguard" / "_build.txt").read_text().split("\n")[0] == "compiled"
    r = subprocess.run([sys.executable, "-c", "from bulkguard.state import pairtable, world; "
                        "print(pairtable.NATIVE, type(world.World().pairs).__name__)"],
                       env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.stdout.split() == ["True", "PairTable"], r.stdout + r.stderr   # the flat C table
