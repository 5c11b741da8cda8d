"""The parts of a default engine: the model, the reported-text classifier and the policy
objects. One place decides what a default engine has."""

from __future__ import annotations

from importlib import resources
from typing import Any

from bulkguard.policy.business import BusinessLane
from bulkguard.policy.forwarding import ForwardLimiter
from bulkguard.scoring.text import TextClassifier


def load_components(model_path: str | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`bulkguard.engine.Engine`: model, text, lane, forward.

    ``model_path`` None means the shipped model (if the package has one), ``"none"`` no model.
    """
    model = None
    shipped = resources.files("bulkguard.scoring").joinpath("model.json").is_file()
    if model_path != "none" and (model_path is not None or shipped):
        from bulkguard.scoring.model import Model
        model = Model.load(model_path)
    return {"model": model, "text": TextClassifier.load_default(), "lane": BusinessLane(),
            "forward": ForwardLimiter()}
