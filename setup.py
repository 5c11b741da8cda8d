"""Build hook: compile the hot path (state, signals, engine) with mypyc when asked.

``BULKGUARD_COMPILE=1 pip install .`` builds C extensions from the same sources (about
2-3x faster replay); every other install, including the editable development install,
stays pure Python so that source edits take effect at once.
"""

import os

from setuptools import setup

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
    "src/bulkguard/signals/__init__.py",
    "src/bulkguard/engine.py",
    "src/bulkguard/scoring/shipped_margin.py",
    "src/bulkguard/ingest/pump.py",
    "src/bulkguard/ingest/reorder.py",
    "src/bulkguard/ingest/sources.py",
    "src/bulkguard/policy/business.py",
    "src/bulkguard/policy/forwarding.py",
    "src/bulkguard/store/decisions.py",
]

ext_modules = []
if os.environ.get("BULKGUARD_COMPILE") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(HOT, opt_level="3")

setup(ext_modules=ext_modules)
