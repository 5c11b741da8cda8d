"""The runtime is lean: deciding needs neither LightGBM, scikit-learn, SciPy nor matplotlib
(they are the ``train`` and ``report`` extras), and the install says which build runs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "spec" / "sample" / "events.jsonl"
HEAVY = ("lightgbm", "sklearn", "scipy", "matplotlib")


def _imported_after(code: str, cwd: Path) -> list[str]:
    """Top-level packages of HEAVY that ``code`` (run in a fresh interpreter) imported."""
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1])


def test_heavy_libraries_are_installed_here() -> None:
    """The probes below mean something only if the libraries could have been imported."""
    assert all(importlib.util.find_spec(m) is not None for m in HEAVY)


def test_replay_imports_no_training_or_plotting_library(tmp_path: Path) -> None:
    """The whole replay command (engine, shipped model, text classifier, business lane,
    writer) on a stream with reports that carry text."""
    events = tmp_path / "events.jsonl"
    lines = [json.dumps({"type": "message", "ts": 1000 + i, "sender": "s", "recipient": f"r{i}",
                         "kind": "link"}) for i in range(40)]
    lines += [json.dumps({"type": "report", "ts": 1100 + i, "reporter": f"r{i}", "reported": "s",
                          "messages": ["WINNER!! claim your prize now, call 09061701461"]})
              for i in range(5)]
    events.write_text("\n".join(lines) + "\n")
    if SAMPLE.exists():
        events.write_text(events.read_text() + SAMPLE.read_text())
    code = ("from bulkguard.cli import main\n"
            f"assert main(['replay', {str(events)!r}, '--out', 'd.jsonl', '--quiet']) == 0")
    assert _imported_after(code, tmp_path) == []
    assert (tmp_path / "d.jsonl").stat().st_size > 0


def test_engine_modules_import_no_training_or_plotting_library(tmp_path: Path) -> None:
    code = ("from bulkguard.ingest.replay import build_engine\n"
            "from bulkguard.scoring.text import TextClassifier\n"
            "e = build_engine()\n"
            "assert TextClassifier.load_default().spam_probability('WIN a prize now') > 0")
    assert _imported_after(code, tmp_path) == []


def test_service_imports_no_training_or_plotting_library(tmp_path: Path) -> None:
    if importlib.util.find_spec("fastapi") is None:
        pytest.skip("the service extra is not installed")
    code = "import bulkguard.service.app, bulkguard.service.runtime"
    assert _imported_after(code, tmp_path) == []


def test_version_says_which_build_runs() -> None:
    r = subprocess.run([sys.executable, "-m", "bulkguard", "--version"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from bulkguard import __version__
    import bulkguard.engine
    kind = "pure-Python" if bulkguard.engine.__file__.endswith(".py") else "compiled"
    assert r.stdout.startswith(f"bulkguard {__version__} ({kind} build: ")


def test_install_without_a_compiler_falls_back_to_pure_python(tmp_path: Path) -> None:
    """``pip install .`` on a machine without a C compiler: a pure-Python install that says
    why in ``--version`` and warns in one line when it replays."""
    target = tmp_path / "pure"
    env = {k: v for k, v in os.environ.items() if k not in ("BULKGUARD_COMPILE", "PYTHONPATH")}
    env["CC"] = str(tmp_path / "no-such-cc")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-v", "--no-build-isolation",
                        "--no-deps", "--target", str(target), str(ROOT)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    warned = [ln for ln in (r.stdout + r.stderr).splitlines() if "WARNING: bulkguard:" in ln]
    assert len(warned) == 1 and "no C compiler" in warned[0]
    assert not list(target.rglob("*.so"))
    env = dict(env, PYTHONPATH=str(target))
    v = subprocess.run([sys.executable, "-m", "bulkguard", "--version"], env=env,
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "(pure-Python build: no C compiler" in v.stdout, v.stdout + v.stderr
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"type": "message", "ts": 1, "sender": "a", "recipient": "b"}) + "\n")
    rp = subprocess.run([sys.executable, "-m", "bulkguard", "replay", str(events), "--out",
                         str(tmp_path / "d.jsonl"), "--quiet"], env=env, capture_output=True,
                        text=True, timeout=120, cwd=tmp_path)
    assert rp.returncode == 0, rp.stderr
    assert [ln for ln in rp.stderr.splitlines() if "warning" in ln.lower()] == [
        "bulkguard: warning: running the pure-Python build (no C compiler "
        f"({env['CC']}) found); replay is about 2.5x slower than the compiled build "
        "(reinstall with a C compiler present)"]
