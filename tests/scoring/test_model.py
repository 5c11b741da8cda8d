"""The shipped detection model: loading, compiled trees, calibration, reasons, training."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkguard.scoring.model import Model, ModelError, reference_margin
from bulkguard.signals import NAMES

N = len(NAMES)


@pytest.fixture(scope="module")
def model() -> Model:
    return Model.load(None)


def _vec(**kw: float) -> list[float]:
    """A full signal vector from the given names (unknown names are skipped: signals evolve)."""
    v = [0.0] * N
    for k, x in kw.items():
        if k in NAMES:
            v[NAMES.index(k)] = float(x)
    return v


def _near_thresholds(m: Model, rng: random.Random) -> list[float]:
    """A vector whose used features sit on, just under or just over the model's thresholds."""
    thr: dict[int, list[float]] = {}
    for t in m.trees:
        for k, x in zip(t["feature"], t["threshold"]):
            if k >= 0:
                thr.setdefault(m.index[k], []).append(x)
    v = [rng.uniform(-1, 100) for _ in range(N)]
    for i, xs in thr.items():
        x = rng.choice(xs)
        v[i] = rng.choice([x, math.nextafter(x, -math.inf), math.nextafter(x, math.inf),
                           x - 1.0, x + 1.0])
    return v


def test_shipped_model_loads_and_maps_features(model: Model) -> None:
    assert model is Model.load(None)            # cached
    assert model.features and len(set(model.features)) == len(model.features)
    for k, f in enumerate(model.features):
        assert NAMES[model.index[k]] == f
    assert 1 <= len(model.trees) <= 120
    assert model.doc["calibration"]["kind"] in ("isotonic", "platt")


def test_all_zero_vector(model: Model) -> None:
    p = model.probability([0.0] * N)
    assert 0.0 <= p <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=N, max_size=N))
def test_probability_in_unit_interval(v: list[float]) -> None:
    p = Model.load(None).probability(v)
    assert 0.0 <= p <= 1.0 and math.isfinite(p)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=N, max_size=N))
def test_compiled_trees_match_reference_random(v: list[float]) -> None:
    m = Model.load(None)
    assert m.margin(v) == pytest.approx(reference_margin(m.doc, v), abs=1e-9)


def test_compiled_trees_match_reference_near_thresholds(model: Model) -> None:
    rng = random.Random(5)
    for _ in range(2000):
        v = _near_thresholds(model, rng)
        assert model.margin(v) == pytest.approx(reference_margin(model.doc, v), abs=1e-9)


def test_shipped_margin_module_is_current(model: Model) -> None:
    """``shipped_margin.py`` is generated from ``model.json`` (by ``bulkguard train``); the
    shipped model uses it, and a model loaded from a file compiles the same code at load."""
    from importlib import resources

    from bulkguard.scoring import shipped_margin
    from bulkguard.scoring.model import shipped_margin_module
    pkg = resources.files("bulkguard.scoring")
    expected = shipped_margin_module(pkg.joinpath("model.json").read_text("utf-8"))
    assert pkg.joinpath("shipped_margin.py").read_text("utf-8") == expected, \
        "shipped_margin.py is stale: regenerate it with shipped_margin_module(model.json)"
    assert model._margin is shipped_margin.margin
    loaded = Model.from_dict(model.doc)
    rng = random.Random(7)
    for _ in range(500):
        v = _near_thresholds(model, rng)
        assert loaded.margin(v) == model.margin(v)


def test_saabas_contributions_add_up(model: Model) -> None:
    rng = random.Random(6)
    bias = sum(t["value"][0] for t in model.trees) + model.base
    for _ in range(300):
        v = _near_thresholds(model, rng)
        c = model.contributions(v)
        assert bias + sum(c.values()) == pytest.approx(model.margin(v), abs=1e-6)
        compiled = dict(zip(model.features, model._contributor()(v)))
        for f, w in c.items():
            assert compiled[f] == pytest.approx(w, abs=1e-9)


def test_reasons_are_stable_sorted_model_codes(model: Model) -> None:
    rng = random.Random(7)
    codes = {"MODEL_" + f.upper() for f in model.features}
    seen = 0
    for _ in range(500):
        v = _near_thresholds(model, rng)
        p = model.probability(v)
        r = model.reasons(v, p)
        assert r == model.reasons(v, p)
        assert len(r) <= 3
        assert all(w > 0 and c in codes for w, c in r)
        assert [w for w, _ in r] == sorted((w for w, _ in r), reverse=True)
        seen += bool(r)
    assert seen > 0


def test_separates_blaster_from_human(model: Model) -> None:
    blaster = _vec(msgs_1m=25, msgs_1h=900, msgs_1d=900, noncontact_1m=25, noncontact_1h=900,
                   noncontact_1d=900, newchats_1m=25, newchats_1h=900, newchats_1d=900,
                   noncontact_share=1.0, recipients_1h=900, recipients_1d=900,
                   recipients_total=900, digest_repeat=900, digest_fanout=900, digest_accounts=1,
                   reply_ratio=0.0, unanswered=900, inbound_ratio=0.0, gap_cv=0.3, gap_mean=1.5,
                   notype_share=1.0, early_msgs=60, account_age_h=0.5, registered=1,
                   sync_numbers=20000, sync_max=20000, sync_match_rate=0.02, sync_count=1,
                   link_share=1.0, msgs_total=900)
    human = _vec(msgs_1m=1, msgs_1h=6, msgs_1d=20, noncontact_share=0.0, recipients_1h=2,
                 recipients_1d=4, recipients_total=6, reply_ratio=0.9, reply_delay=80,
                 inbound_ratio=1.0, gap_cv=1.4, gap_mean=600, notype_share=0.05,
                 account_age_h=10000, sync_match_rate=1.0, msgs_total=60)
    pb, ph = model.probability(blaster), model.probability(human)
    assert pb > 0.9 > 0.1 > ph
    assert model.reasons(blaster, pb)
    assert all(c.startswith("MODEL_") for _, c in model.reasons(blaster, pb))


def test_unknown_signal_fails_clearly(model: Model, tmp_path) -> None:
    doc = json.loads(json.dumps(model.doc))
    doc["features"][0] = "no_such_signal"
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="no_such_signal.*retrain"):
        Model.load(p)
    with pytest.raises(ModelError, match="cannot read"):
        Model.load(tmp_path / "missing.json")
    p.write_text("{")
    with pytest.raises(ModelError, match="not valid JSON"):
        Model.load(p)
    bad = json.loads(json.dumps(model.doc))
    bad["trees"][0]["left"][0] = 10_000
    with pytest.raises(ModelError, match="child index"):
        Model.from_dict(bad)


def test_engine_uses_model_reasons(model: Model) -> None:
    from bulkguard.components import load_components
    from bulkguard.engine import Engine
    from bulkguard.events import ContactSync, Message, Register
    parts = load_components(None)
    assert parts["model"] is model
    eng = Engine(model=model)
    out = list(eng.handle(Register(ts=0.0, account="x", ip="192.0.2.1"), 1))
    out += eng.handle(ContactSync(ts=1.0, account="x", numbers=20000, matched=200), 2)
    # 40 s apart: the model does not judge a burst of new chats before people could answer
    for i in range(9):
        out += eng.handle(Message(ts=2.0 + 40 * i, sender="x", recipient=f"s{i}", digest="ab12",
                                  kind="link", size=300, typing_ms=0), 3 + i)
    assert out and out[-1].action == "ban"
    assert any(r.startswith("MODEL_") for d in out for r in d.reasons)


def test_tiny_end_to_end_train(tmp_path) -> None:
    from bulkguard.scoring import train
    from bulkguard.sim import simulate
    sc = tmp_path / "sc"
    simulate(sc, seed=150, accounts=150, days=0.5)
    out = tmp_path / "model" / "tiny.json"
    doc, _ = train.train([str(sc)], out, num_trees=8, quiet=True)
    m = Model.load(out)
    assert len(m.trees) == 8 and set(m.features) <= set(NAMES)
    assert 0.0 <= m.probability([0.0] * N) <= 1.0
    assert (out.parent / "MODEL.md").exists()
    assert doc["training"]["scenarios"][0]["accounts"] > 0


def test_training_refuses_held_out_seeds() -> None:
    from bulkguard.scoring import train
    with pytest.raises(ValueError, match="held out"):
        train.recipe(11)


def test_missing_values_go_where_lightgbm_sends_them() -> None:
    """A model trained with NaN in its features: the compiled trees, the reference interpreter
    and the attributions route NaN exactly as LightGBM does (missing_type, default_left)."""
    import lightgbm as lgb
    import numpy as np

    from bulkguard.scoring.train import _trees_of
    rng = np.random.default_rng(3)
    n, names = 4000, tuple(NAMES)
    X = rng.normal(size=(n, len(names)))
    y = ((X[:, 0] > 0.3) | (X[:, 1] < -0.5)).astype(int)
    X[rng.random((n, len(names))) < 0.3] = np.nan       # NaN both where it means 1 and 0
    X[:, 2] = np.where(rng.random(n) < 0.5, 0.0, X[:, 2])
    y = np.where(np.isnan(X[:, 0]), 1, y)                 # NaN of x0 carries signal: default side
    booster = lgb.train({"objective": "binary", "num_leaves": 8, "verbosity": -1, "seed": 1,
                         "deterministic": True, "num_threads": 1},
                        lgb.Dataset(X, label=y, feature_name=list(names)), num_boost_round=20)
    feats, trees = _trees_of(booster, names)
    assert any("missing" in t for t in trees)
    m = Model({"format": 1, "features": feats, "trees": trees, "base": 0.0,
               "calibration": {"kind": "sigmoid"}})
    test = rng.normal(size=(300, len(names)))
    test[rng.random(test.shape) < 0.4] = np.nan
    want = booster.predict(test, raw_score=True)
    for row, w in zip(test.tolist(), want):
        assert m.margin(row) == pytest.approx(w, abs=1e-9)
        assert reference_margin(m.doc, row) == pytest.approx(w, abs=1e-9)
        assert sum(m.contributions(row).values()) == pytest.approx(
            w - sum(t["value"][0] for t in trees), abs=1e-6)


def test_a_given_margin_still_has_its_trees_checked(model: Model) -> None:
    """The shipped model takes its margin as generated code (not compiled at start-up); a
    tree that does not hold together is still refused."""
    doc = copy.deepcopy(model.doc)
    doc["trees"][0]["left"] = doc["trees"][0]["left"][:-1]
    with pytest.raises(ModelError, match="differ in length"):
        Model(doc, "<odd>", margin=model.margin)
    same = Model(copy.deepcopy(model.doc), "<same>", margin=model.margin)
    assert same._contrib is None   # compiled at the first explained decision, not at load
    rng = random.Random(8)
    for _ in range(50):
        v = _near_thresholds(model, rng)
        assert same.margin(v) == model.margin(v) and same.reasons(v, 0.9) == model.reasons(v, 0.9)
