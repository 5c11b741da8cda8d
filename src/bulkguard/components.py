"""The parts of a default engine: rules, the model, the reported-text classifier and the
policy objects. One place decides what a default engine has (replay, training, the
business status command and the service all build it here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypedDict

from bulkguard.engine import Engine
from bulkguard.policy.business import BusinessLane
from bulkguard.policy.forwarding import ForwardLimiter
from bulkguard.scoring import shipped as shipped_files
from bulkguard.scoring.rules import Rules
from bulkguard.scoring.text import TextClassifier
from bulkguard.types import ForwardPolicy, LanePolicy, Model, TextScorer


class Components(TypedDict):
    """Keyword arguments of :class:`bulkguard.engine.Engine` besides the rules."""

    model: Model | None
    model_version: str
    text: TextScorer | None
    lane: LanePolicy | None
    forward: ForwardPolicy | None


def load_components(model_path: str | None = None) -> Components:
    """The model, text classifier, business lane and forward limiter of a default engine.

    ``model_path`` None means the shipped model (if the package has one), ``"none"`` no model.
    """
    model = None
    shipped = os.path.isfile(shipped_files.path("model.json"))
    if model_path != "none" and (model_path is not None or shipped):
        from bulkguard.scoring.model import Model as TreeModel
        model = TreeModel.load(model_path)
    return {"model": model, "model_version": model_version(model is not None, model_path),
            "text": TextClassifier.load_default(), "lane": BusinessLane(),
            "forward": ForwardLimiter()}


def model_version(loaded: bool, model_path: str | None) -> str:
    """``model-<first 12 hex of the model file's sha256>``, ``none`` without a model.

    >>> model_version(False, "none")
    'none'
    >>> model_version(True, None).startswith("model-")
    True
    """
    if not loaded:
        return "none"
    try:
        if model_path is not None and model_path != "none":
            data = Path(model_path).read_bytes()
        else:
            data = Path(shipped_files.path("model.json")).read_bytes()
    except OSError:
        return "model-unknown"
    return "model-" + shipped_files.sha256_hex(data)[:12]


def build_engine(rules_path: str | None = None, model_path: str | None = None) -> Engine:
    """The engine with its shipped (or given) rules, model and policies.

    >>> build_engine(model_path="none").model is None
    True
    """
    return Engine(Rules.load(rules_path), **load_components(model_path))
