"""Evaluation of decisions against labels: ``bulkguard evaluate`` and a rate-limit baseline.

``evaluate`` and ``rate_limit_decisions`` are light; ``write_report`` imports matplotlib
only when called.
"""

from __future__ import annotations

from bulkguard.eval.baseline import rate_limit_decisions
from bulkguard.eval.metrics import EvalError, Metrics, evaluate, pool


def write_report(metrics, out_dir, baseline=None, robustness=None):
    """Write report.md, report.html and PNG plots into ``out_dir`` (see :mod:`bulkguard.eval.report`)."""
    from bulkguard.eval.report import write_report as _write

    return _write(metrics, out_dir, baseline, robustness)


__all__ = ["EvalError", "Metrics", "evaluate", "pool", "rate_limit_decisions", "write_report"]
