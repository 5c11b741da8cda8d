"""The optional parts of an engine, loaded by name: the model, the reported-text
classifier and the policy objects. One place decides what a default engine has."""

from __future__ import annotations

import importlib.util
from typing import Any


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _shipped(name: str) -> bool:
    from importlib import resources
    return resources.files("bulkguard.scoring").joinpath(name).is_file()


def load_components(model_path: str | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`bulkguard.engine.Engine`: model, text, lane, forward."""
    parts: dict[str, Any] = {"model": None, "text": None, "lane": None, "forward": None}
    if model_path is not None and model_path != "none":
        from bulkguard.scoring.model import Model
        parts["model"] = Model.load(model_path)
    elif model_path is None and _shipped("model.json"):
        from bulkguard.scoring.model import Model
        parts["model"] = Model.load(None)
    if _have("bulkguard.scoring.text"):
        from bulkguard.scoring.text import TextClassifier
        parts["text"] = TextClassifier.load_default()
    if _have("bulkguard.policy.business"):
        from bulkguard.policy.business import BusinessLane
        parts["lane"] = BusinessLane()
    if _have("bulkguard.policy.forwarding"):
        from bulkguard.policy.forwarding import ForwardLimiter
        parts["forward"] = ForwardLimiter()
    return parts
