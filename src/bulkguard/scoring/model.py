"""The detection model at run time: small gradient-boosted trees compiled to Python.

The model file (JSON, written by :mod:`bulkguard.scoring.train`) holds

* ``features``: the signal names the trees use (a subset of ``bulkguard.signals.NAMES``);
* ``trees``: flat arrays per tree, ``feature`` (index into ``features``, -1 for a leaf),
  ``threshold`` (go left when ``x <= threshold``), ``left``, ``right`` and ``value``
  (the leaf value, or for a split node its internal value, used for Saabas attributions),
  and optionally ``missing`` and ``default_left`` per node: how a missing value (NaN, a
  signal of an event family the platform does not provide) goes, exactly as LightGBM
  decides it (:func:`goes_left`); without them NaN is treated as LightGBM's
  ``missing_type`` None does: as 0.0;
* ``base``: a constant added to the summed leaf values (the raw margin);
* ``calibration``: ``{"kind": "isotonic", "x": [...], "y": [...]}``, a piecewise linear map
  from margin to probability (clipped at the ends), or ``{"kind": "platt", "a", "b"}``.

At load the feature names are mapped to indices of ``NAMES`` (a name that is not a known
signal is an error: retrain the model) and all trees are compiled into one Python function
of the full signal vector, nested ``if``/``else`` per tree, so :meth:`Model.probability`
costs a few microseconds. The shipped model's function is also a module of its own,
``shipped_margin.py`` (written by ``bulkguard train`` beside ``model.json`` and used while
its digest matches), so that the compiled build makes it native code. No LightGBM or
scikit-learn at run time.

>>> m = Model.load(None)
>>> 0.0 <= m.probability([0.0] * len(NAMES)) <= 1.0
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec

from bulkguard.scoring import shipped
from bulkguard.scoring.calibration import Scorer
from bulkguard.signals import NAMES

FORMAT = 1
MAX_REASONS = 3
# LightGBM's missing_type of a split, as stored in ``missing``
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
ZERO_EPS = 1e-35   # LightGBM's kZeroThreshold: |x| under it is "zero" for missing_type Zero


def goes_left(x: float, thr: float, missing: int = MISSING_NONE, default_left: bool = True) -> bool:
    """Whether LightGBM sends value ``x`` to the left child of a ``<=`` split.

    ``missing`` None: NaN is taken as 0.0. NaN: NaN goes to ``default_left``'s side.
    Zero: NaN and (near) zero go to ``default_left``'s side.

    >>> nan = float("nan")
    >>> goes_left(nan, -1.0), goes_left(nan, 1.0), goes_left(nan, 1.0, MISSING_NAN, False)
    (False, True, False)
    >>> goes_left(0.0, -1.0, MISSING_ZERO, True), goes_left(2.0, 1.0, MISSING_NAN, True)
    (True, False)
    """
    if x != x:
        if missing == MISSING_NONE:
            return 0.0 <= thr
        return default_left
    if missing == MISSING_ZERO and -ZERO_EPS <= x <= ZERO_EPS:
        return default_left
    return x <= thr


def _left_src(x: str, thr: float, missing: int, default_left: bool) -> str:
    """Python source of :func:`goes_left` for one split, specialised (no call)."""
    t = repr(float(thr))
    if missing == MISSING_NONE:
        return f"not ({x} > {t})" if 0.0 <= thr else f"{x} <= {t}"
    if missing == MISSING_NAN:
        return f"not ({x} > {t})" if default_left else f"{x} <= {t}"
    zero = f"-{ZERO_EPS!r} <= {x} <= {ZERO_EPS!r}"
    if default_left:
        return f"not ({x} > {t}) or {zero}"
    return f"{x} <= {t} and not ({zero})"


def _split(t: dict, n: int) -> tuple[int, bool]:
    """(missing type, default left) of node ``n`` of tree ``t``."""
    m = t.get("missing")
    d = t.get("default_left")
    return (int(m[n]) if m is not None else MISSING_NONE,
            bool(d[n]) if d is not None else True)


class ModelError(ValueError):
    """A model file that cannot be used with this version of bulkguard."""


class Model:
    """A compiled tree ensemble with calibration; see the module docstring."""

    features: tuple[str, ...]
    scorer: Scorer   # probability(v): the margin, then the calibration

    def __init__(self, doc: dict[str, Any], source: str = "<model>",
                 margin: Callable[[list[float]], float] | None = None) -> None:
        """``margin``: the trees' margin already as code (the shipped model's generated
        module, see :func:`_shipped`): the trees are then checked, not compiled again."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ModelError(f"{source}: not a bulkguard model file of format {FORMAT}")
        try:
            feats = tuple(str(f) for f in doc["features"])
            trees = doc["trees"]
            cal = doc["calibration"]
        except (KeyError, TypeError) as err:
            raise ModelError(f"{source}: missing key {err}") from None
        if not isinstance(trees, list) or not isinstance(cal, dict):
            raise ModelError(f"{source}: `trees` must be a list and `calibration` an object")
        index = {n: i for i, n in enumerate(NAMES)}
        missing = [f for f in feats if f not in index]
        if missing:
            raise ModelError(
                f"{source}: the model uses signal(s) {', '.join(map(repr, missing))} that are not "
                f"signals of this bulkguard (bulkguard.signals.NAMES); retrain it with "
                "`bulkguard train` (or run with --model none)")
        self.features = feats
        self._codes = tuple("MODEL_" + f.upper() for f in feats)
        self.source = source
        self.doc = doc
        self.index = tuple(index[f] for f in feats)      # feature k -> position in v
        self.base = float(doc.get("base", 0.0))
        self.trees = trees
        try:
            if margin is None:
                self._margin = _compile(trees, self.index, self.base)
            else:
                for t in trees:
                    _check_tree(t, len(self.index))
                self._margin = margin
        except ModelError as err:
            raise ModelError(f"{source}: {err}") from None
        # compiled at the first decision the model explains (a replay whose model never
        # reaches its floor at a decision does not pay for the ~60 KB of source)
        self._contrib: Callable[[list[float]], tuple[float, ...]] | None = None
        kind = cal.get("kind")
        if kind == "isotonic":
            xs = [float(x) for x in cal["x"]]
            ys = [float(y) for y in cal["y"]]
            if not xs or len(xs) != len(ys):
                raise ModelError(f"{source}: bad isotonic calibration")
            self.scorer = Scorer(self._margin, kind, xs=xs, ys=ys)
        elif kind == "platt":
            self.scorer = Scorer(self._margin, kind, float(cal["a"]), float(cal["b"]))
        elif kind == "sigmoid" or kind is None:
            self.scorer = Scorer(self._margin, "sigmoid")
        else:
            raise ModelError(f"{source}: unknown calibration kind {kind!r}")

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "<model>") -> Model:
        return cls(doc, source)

    @classmethod
    def load(cls, path: str | Path | None) -> Model:
        """``None``: the shipped ``model.json`` (cached); else the given file."""
        if path is None:
            return _shipped()
        import json   # (the shipped model is read with msgspec, see _shipped)
        p = Path(path)
        try:
            doc = json.loads(p.read_text("utf-8"))
        except OSError as err:
            raise ModelError(f"{p}: cannot read model file: {err.strerror}") from None
        except json.JSONDecodeError as err:
            raise ModelError(f"{p}: not valid JSON: {err}") from None
        return cls(doc, str(p))

    # -- use -----------------------------------------------------------------------------------
    def margin(self, v: list[float]) -> float:
        """Raw margin (sum of leaf values) for the full signal vector ``v``."""
        return self._margin(v)

    def probability(self, v: list[float]) -> float:
        """Calibrated probability that the account is abusive, from the full signal vector
        (``scorer``: compiled in the compiled build, and the engine calls it directly)."""
        return self.scorer.probability(v)

    def contributions(self, v: list[float]) -> dict[str, float]:
        """Saabas path attribution of the margin to each feature (sums to margin - bias)."""
        out: dict[str, float] = {}
        feats, idx = self.features, self.index
        for t in self.trees:
            f, thr, left, right, val = (t["feature"], t["threshold"], t["left"], t["right"],
                                        t["value"])
            n = 0
            while f[n] >= 0:
                k = f[n]
                x = v[idx[k]]
                c = left[n] if goes_left(x, thr[n], *_split(t, n)) else right[n]
                name = feats[k]
                out[name] = out.get(name, 0.0) + val[c] - val[n]
                n = c
        return out

    def reasons(self, v: list[float], p: float) -> list[tuple[float, str]]:
        """Up to three ``(weight, "MODEL_<FEATURE>")`` for the largest positive contributions
        (Saabas, compiled like the trees), heaviest first (ties by code)."""
        hits = [(round(w, 4), code) for w, code in zip(self._contributor()(v), self._codes)
                if w > 1e-9]
        hits.sort(key=_by_weight)
        return hits[:MAX_REASONS]

    def _contributor(self) -> Callable[[list[float]], tuple[float, ...]]:
        """The compiled Saabas attribution ``contrib(v)``, compiled on first use."""
        contrib = self._contrib
        if contrib is None:
            contrib = self._contrib = _compile_contributions(self.trees, self.index,
                                                             self.features)
        return contrib

    def __repr__(self) -> str:
        return f"Model({self.source!r}, {len(self.trees)} trees, {len(self.features)} features)"


def _by_weight(h: tuple[float, str]) -> tuple[float, str]:
    return (-h[0], h[1])


def reference_margin(doc: dict[str, Any], v: list[float]) -> float:
    """A plain interpreter of the JSON trees (for tests): the margin for full vector ``v``."""
    index = {n: i for i, n in enumerate(NAMES)}
    pos = [index[f] for f in doc["features"]]
    s = float(doc.get("base", 0.0))
    for t in doc["trees"]:
        n = 0
        while t["feature"][n] >= 0:
            x = v[pos[t["feature"][n]]]
            n = t["left"][n] if goes_left(x, t["threshold"][n], *_split(t, n)) else t["right"][n]
        s += t["value"][n]
    return s


def _check_tree(t: dict, n_features: int) -> None:
    """A tree's arrays agree in length, children point forward, features are in range."""
    try:
        f, thr, lo, hi, val = t["feature"], t["threshold"], t["left"], t["right"], t["value"]
    except (KeyError, TypeError):
        raise ModelError("a tree lacks feature/threshold/left/right/value") from None
    n = len(f)
    if not n or any(len(x) != n for x in (thr, lo, hi, val)):
        raise ModelError("a tree's arrays differ in length")
    for key in ("missing", "default_left"):
        opt = t.get(key)
        if opt is not None and (not isinstance(opt, list) or len(opt) != n
                                or not all(isinstance(x, int) and 0 <= x <= 2 for x in opt)):
            raise ModelError(f"a tree's `{key}` must be a list of small ints, one per node")
    for k in range(n):
        if not (isinstance(f[k], int) and -1 <= f[k] < n_features):
            raise ModelError("tree feature index out of range")
        if f[k] >= 0 and not (k < lo[k] < n and k < hi[k] < n):
            raise ModelError("tree child index out of range")
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (thr[k], val[k])):
            raise ModelError("tree threshold/value not a finite number")


def margin_source(trees: list[dict], index: tuple[int, ...], base: float) -> str:
    """Python source of ``margin(v)``: all trees as nested if/else over the features they
    use, numbers only. Typed, so that compiled (mypyc) every comparison is a native one."""
    used = sorted({index[k] for t in trees for k in t["feature"] if k >= 0})
    lines = ["def margin(v: list[float]) -> float:"]
    lines += [f"    x{i} = v[{i}]" for i in used]
    lines.append(f"    s = {float(base)!r}")

    def emit(t: dict, n: int, depth: int) -> None:
        pad = "    " * depth
        k = t["feature"][n]
        if k < 0:
            lines.append(f"{pad}s += {float(t['value'][n])!r}")
            return
        lines.append(f"{pad}if {_left_src(f'x{index[k]}', t['threshold'][n], *_split(t, n))}:")
        emit(t, t["left"][n], depth + 1)
        lines.append(f"{pad}else:")
        emit(t, t["right"][n], depth + 1)

    for t in trees:
        _check_tree(t, len(index))
        emit(t, 0, 1)
    lines.append("    return s")
    return "\n".join(lines) + "\n"


def _compile(trees: list[dict], index: tuple[int, ...], base: float):
    """``margin(v)`` of :func:`margin_source`, compiled at load."""
    ns: dict = {}
    exec(compile(margin_source(trees, index, base), "<bulkguard model>", "exec"), ns)  # noqa: S102 - numbers only
    return ns["margin"]


def shipped_margin_module(model_json: str) -> str:
    """Source of ``bulkguard/scoring/shipped_margin.py`` for the shipped model's JSON text:
    its ``margin`` as a module of its own, which the compiled build turns into C."""
    import json
    m = Model(json.loads(model_json), "<shipped model.json>")
    return (f'"""Generated by ``bulkguard train`` from model.json: do not edit.\n\n'
            f"The shipped model's margin as plain code, so that the compiled build (mypyc) makes\n"
            f'it native; used only while MODEL_SHA256 matches model.json."""\n\n'
            f"from __future__ import annotations\n\n"
            f'MODEL_SHA256 = "{shipped.sha256_hex(model_json.encode())}"\n\n\n'
            + margin_source(m.trees, m.index, m.base))


def _compile_contributions(trees: list[dict], index: tuple[int, ...], feats: tuple[str, ...]):
    """All trees as one function ``contrib(v) -> [per-feature contribution]`` (Saabas)."""
    used = sorted({index[k] for t in trees for k in t["feature"] if k >= 0})
    lines = ["def contrib(v):"]
    if used:
        lines.append("    " + ", ".join(f"x{i}" for i in used) + ", = _get(v)"
                     if len(used) > 1 else f"    x{used[0]} = v[{used[0]}]")
    lines.append("    " + " = ".join(f"c{k}" for k in range(len(feats))) + " = 0.0"
                 if feats else "    pass")

    def emit(t: dict, n: int, depth: int) -> None:
        pad = "    " * depth
        k = t["feature"][n]
        if k < 0:
            lines.append(f"{pad}pass")
            return
        val = t["value"]
        lo, hi = t["left"][n], t["right"][n]
        lines.append(f"{pad}if {_left_src(f'x{index[k]}', t['threshold'][n], *_split(t, n))}:")
        lines.append(f"{pad}    c{k} += {float(val[lo]) - float(val[n])!r}")
        emit(t, lo, depth + 1)
        lines.append(f"{pad}else:")
        lines.append(f"{pad}    c{k} += {float(val[hi]) - float(val[n])!r}")
        emit(t, hi, depth + 1)

    for t in trees:
        emit(t, 0, 1)
    lines.append("    return (" + "".join(f"c{k}, " for k in range(len(feats))) + ")")
    ns: dict = {"_get": itemgetter(*used) if len(used) > 1 else None}
    exec(compile("\n".join(lines), "<bulkguard model reasons>", "exec"), ns)  # noqa: S102
    return ns["contrib"]


@lru_cache(maxsize=1)
def _shipped() -> Model:
    try:
        text = shipped.read_text("model.json")
    except FileNotFoundError:
        raise ModelError("the shipped model bulkguard/scoring/model.json is missing; "
                         "run with --model none or train one with `bulkguard train`") from None
    from bulkguard.scoring import shipped_margin
    # the same code, compiled in the compiled build (and not compiled again at each start:
    # the margin's generated source took about 50M instructions to compile at start-up)
    same = shipped_margin.MODEL_SHA256 == shipped.sha256_hex(text.encode())
    # msgspec: what json.loads gives for this file (tests/test_startup.py), a fifth the cost
    return Model(msgspec.json.decode(text), "<shipped model.json>",
                 margin=shipped_margin.margin if same else None)


__all__ = ["Model", "ModelError", "reference_margin"]
