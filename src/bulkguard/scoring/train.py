"""Training the detection model: ``bulkguard train --scenarios DIR... --out MODEL.json``.

Each scenario directory holds ``events.jsonl`` and ``labels.jsonl`` (as written by
:func:`bulkguard.sim.simulate`). Training

1. replays every scenario through an engine *without* a model (rules only) with an
   ``observer`` that records the full signal vector (``bulkguard.signals.NAMES``, whatever
   the current signal set is) at every re-score, with the account's label;
2. weights the rows so that every account counts about equally (``1/rows`` of the
   account, at most ``MAX_ROWS`` rows kept per account, evenly spread over its life), the
   abusive class weighing ``ABUSIVE_SHARE`` of the legitimate one; legitimate accounts of
   the hard archetypes (organisers, heavy chatters, group admins, businesses) count
   ``HARD_LEGIT`` times;
3. splits the *accounts* (not rows) into a fitting part and a calibration part, trains a
   small LightGBM ensemble (binary, fixed seed) on the first and fits Platt scaling (or an
   isotonic map) from the raw margin to a probability on the second;
4. writes the model JSON (trees, features, calibration, metadata; loaded by
   :class:`bulkguard.scoring.model.Model`) and a model card ``MODEL.md`` beside it.

Training scenarios are made with ``python -m bulkguard.scoring.train make-scenarios --out
DIR --seeds 101 102 ...`` (see :data:`RECIPES`). Seeds 1-20 are held out for the README's
figures: never train or tune on them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SEED = 42
MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}   # LightGBM's missing_type -> model.py's code
MAX_ROWS = 400            # rows kept per account (evenly spread over its re-scores)
HARD_LEGIT = 5.0          # weight of a hard legitimate account relative to a plain human
HARD_ARCHETYPES = ("organiser", "heavy_chatter", "group_admin", "business", "brigade_victim",
                   "announcer", "no_sync_user", "dialer", "support_agent", "teacher",
                   "background")   # real people (CollegeMsg): the behaviour that matters most
CALIB_SHARE = 0.3         # share of accounts held out for calibration
ABUSIVE_SHARE = 0.05      # total weight of the abusive class relative to the legitimate one
ROW_POWER = 1.0           # an account's rows weigh 1/rows**ROW_POWER each
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.15,
    "num_leaves": 8,
    "max_depth": 4,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbosity": -1,
}
NUM_TREES = 50
def _excluded() -> tuple[str, ...]:
    """Signals the model does not use: every signal of an optional event family
    (``bulkguard.signals.REQUIRES``), and ``family_flagged``.

    The model sees behaviour that every platform has (messages: fan-out to people who never
    answer, the same content to strangers across accounts, timing, reply ratios). Optional
    families add evidence only through rules of non-negative weight, so removing one from a
    stream can never raise a score, and the model's confident "legitimate" never rests on
    them: a simulated new user always synced contacts and no simulated abuser did, so a
    model given ``sync_numbers`` or ``account_age_h`` learns exactly that shortcut.
    ``violations`` (business lane) was never above 0 for a simulated legitimate business; the
    policy lane and the POLICY_VIOLATIONS rules judge it. ``family_flagged`` depends on other
    accounts' stops; the FAMILY_* rules use it."""
    from bulkguard.signals import REQUIRES
    return tuple(REQUIRES) + ("family_flagged",) + UNSETTLED


#: Answers counted over every chat opened, also those opened a minute ago: during an
#: announcement they read "nobody answers" before anybody could. The model sees answers only
#: over chats opened an hour or more ago (``recipients_settled``, ``reply_ratio_settled``),
#: so what it learns from one content sent to many people does not rest on answers that
#: had no time to come; the rules (``REPLIED_BY_MOST``) and the veto still count every answer.
UNSETTLED: tuple[str, ...] = ("reply_ratio", "unanswered", "reply_delay")


EXCLUDE: tuple[str, ...] = _excluded()
#: Training variants per seed: besides ``seed-N``, ``make-scenarios`` writes ``seed-N-vK`` for
#: K < VARIANTS, the simulator's K-th random-families-missing variant of the same world
#: (``bulkguard.sim.random_variant``: contacts, registrations, their metadata, typing,
#: digests, reports, blocks each missing with probability 0.3, sometimes a cold start).
VARIANTS = 1
#: Signals whose absence (0: a field or family the platform does not send) must never raise
#: the model's output: LightGBM keeps the margin non-decreasing in each of them.
MONOTONE_UP: tuple[str, ...] = ("digest_repeat", "digest_fanout", "digest_accounts",
                                "forwarded", "forwarded_high", "link_share")
CARD_DATE = "2026-12-01"
COLLEGEMSG = "/work/shared/data/collegemsg/CollegeMsg.txt.gz"

#: Training scenario recipes by seed: (accounts, days, background from day, mix). Seeds 1-20
#: are held out; these use 101-106 (and 201+ for validation while tuning). A background
#: recipe uses the CollegeMsg edges from day ``N`` of the file on: the simulator's default
#: window (from day 6) is the one held-out scenarios use, so training never sees those edges.
RECIPES: dict[int, tuple[int, float, float | None, str | None]] = {
    101: (5000, 3.0, None, None),
    102: (5000, 3.0, None, "farm=60,slow_spinner=20,organiser=20,fake_engagement=30"),
    103: (3000, 3.0, 24.0, None),
    104: (6000, 2.0, None, "blaster=20,takeover=20,chain_bot=15,heavy_chatter=40,group_admin=20"),
    105: (3000, 4.0, None, "business=30,business_spammer=15,enumerator=15,report_brigade=40,"
                           "brigade_victim=8,group_spammer=15"),
    106: (1500, 14.0, 24.0, "organiser=25,heavy_chatter=40,group_admin=20,slow_spinner=15,"
                            "blaster=8,farm=20,takeover=8"),
}


def recipe(seed: int) -> tuple[int, float, float | None, str | None]:
    """The recipe of a seed; unknown seeds cycle through the known ones."""
    if 1 <= seed <= 20:
        raise ValueError(f"seed {seed} is held out for evaluation (1-20): never train on it")
    if seed in RECIPES:
        return RECIPES[seed]
    keys = sorted(RECIPES)
    return RECIPES[keys[seed % len(keys)]]


def background_slice(src: str | Path, from_day: float, out_dir: Path) -> Path:
    """The edges of ``src`` from ``from_day`` days after its first edge on, as a gzipped file."""
    import gzip

    from bulkguard.sim.scenario import load_edges
    edges = load_edges(src)
    t = edges[:, 2]
    keep = edges[t >= t[0] + from_day * 86_400]
    if not len(keep):
        raise ValueError(f"{src}: no edges after day {from_day:g}")
    out_dir.mkdir(parents=True, exist_ok=True)
    p = out_dir / f"{Path(src).name.split('.')[0]}-from-day{from_day:g}.txt.gz"
    if not p.exists():
        with gzip.open(p, "wt") as f:
            f.writelines(f"{a} {b} {c}\n" for a, b, c in keep.tolist())
    return p


def make_scenarios(out: str | Path, seeds: list[int], background: str | None = COLLEGEMSG,
                   scale: float = 1.0, variants: int = VARIANTS) -> list[Path]:
    """Simulate one scenario per seed into ``out/seed-N``, and its first ``variants``
    random-families-missing variants into ``out/seed-N-vK`` (skipping existing ones)."""
    from bulkguard.sim import random_variant, simulate
    dirs = []
    for s, k in ((s, k) for s in seeds for k in (None, *range(variants))):
        accounts, days, bg_day, mix = recipe(s)
        d = Path(out) / (f"seed-{s}" if k is None else f"seed-{s}-v{k}")
        dirs.append(d)
        if (d / "labels.jsonl").exists() and (d / "events.jsonl").exists():
            continue
        bgp = None
        if bg_day is not None and background and os.path.exists(background):
            bgp = str(background_slice(background, bg_day, Path(out) / "_background"))
        n = max(20, int(accounts * scale))
        t = time.perf_counter()
        info = simulate(d, seed=s, accounts=n, days=days, background=bgp, mix=mix,
                        random_missing=k)
        missing = None
        if k is not None:
            v = random_variant(s, k)
            missing = ",".join(v["without"]) + (" cold start" if v["cold_start"] else "")
        (d / "recipe.json").write_text(json.dumps(
            {"seed": s, "accounts": n, "days": days,
             "background": f"{Path(background).name} from day {bg_day:g}" if bgp else None,
             "mix": mix or "default", "missing": missing}) + "\n")
        print(f"seed {s}: {info['events']:,} events, {info['labels']} "
              f"({time.perf_counter() - t:.1f} s) -> {d}", file=sys.stderr)
    return dirs


# ------------------------------------------------------------------ data

def read_labels(path: str | Path) -> dict[str, Any]:
    """``labels.jsonl`` as ``{account: Label}``."""
    import msgspec

    from bulkguard.events import Label
    dec = msgspec.json.Decoder(Label)
    with open(path, "rb") as f:
        return {lab.account: lab for lab in (dec.decode(ln) for ln in f if ln.strip())}


def collect(scenario: str | Path, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """Replay one scenario rules-only and return its rows.

    Returns ``X`` (float32, rows x len(NAMES)), ``account`` (index into ``accounts``),
    ``accounts``, ``label`` (1 abusive per account), ``archetype`` per account.
    """
    from bulkguard.components import build_engine
    from bulkguard.events import EventError, read_events
    from bulkguard.signals import NAMES

    d = Path(scenario)
    labels = read_labels(d / "labels.jsonl")
    index: dict[str, int] = {}
    rows: list[list[list[float]]] = []

    def observer(account: str, v: list[float], _line: int) -> None:
        k = index.get(account)
        if k is None:
            if account not in labels:
                return
            k = index[account] = len(rows)
            rows.append([])
        rows[k].append(v)

    eng = build_engine(model_path="none")
    eng.observer = observer
    for n, ev in read_events(d / "events.jsonl"):   # bad lines skipped, decisions unused
        try:
            eng.handle(ev, n)
        except EventError:
            pass
    accounts = list(index)
    X, acc = [], []
    for k, rs in enumerate(rows):
        if len(rs) > max_rows:
            pick = np.unique(np.linspace(0, len(rs) - 1, max_rows).round().astype(int))
            rs = [rs[i] for i in pick]
        X.extend(rs)
        acc.extend([k] * len(rs))
    lab = np.array([labels[a].label == "abusive" for a in accounts], dtype=np.int8)
    arch = [labels[a].archetype or "" for a in accounts]
    return {"X": np.asarray(X, dtype=np.float32).reshape(-1, len(NAMES)),
            "account": np.asarray(acc, dtype=np.int64), "accounts": accounts,
            "label": lab, "archetype": arch, "names": NAMES, "scenario": str(d)}


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    X, acc, lab, arch, grp = [], [], [], [], []
    off = 0
    for i, p in enumerate(parts):
        X.append(p["X"])
        acc.append(p["account"] + off)
        lab.append(p["label"])
        arch.extend(p["archetype"])
        grp.extend([i] * len(p["label"]))
        off += len(p["label"])
    return {"X": np.concatenate(X), "account": np.concatenate(acc), "label": np.concatenate(lab),
            "archetype": np.array(arch), "scenario": np.array(grp), "names": parts[0]["names"]}


def row_weights(data: dict[str, Any], accounts_mask: np.ndarray | None = None,
                hard_legit: float = HARD_LEGIT, abusive_share: float = ABUSIVE_SHARE,
                row_power: float = ROW_POWER) -> np.ndarray:
    """Weights: each account sums to about 1 (hard legit archetypes to ``hard_legit``); the
    abusive class weighs ``abusive_share`` times the legitimate one."""
    acc = data["account"]
    n_acc = len(data["label"])
    per_acc = np.ones(n_acc)
    hard = np.isin(data["archetype"], HARD_ARCHETYPES) & (data["label"] == 0)
    per_acc[hard] = hard_legit
    if accounts_mask is not None:
        per_acc = per_acc * accounts_mask
    counts = np.bincount(acc, minlength=n_acc).astype(float)
    w = per_acc[acc] / np.maximum(counts[acc], 1.0) ** row_power
    y = data["label"][acc]
    for c, share in ((0, 1.0), (1, abusive_share)):
        s = w[y == c].sum()
        if s > 0:
            w[y == c] *= (share / (1.0 + abusive_share) * len(w)) / s
    return w


# ------------------------------------------------------------------ fitting

def _trees_of(booster: Any, names: tuple[str, ...]) -> tuple[list[str], list[dict]]:
    """LightGBM's dump as compact flat trees over the features it actually uses."""
    dump = booster.dump_model()
    used: dict[int, int] = {}
    trees = []
    for t in dump["tree_info"]:
        feat, thr, left, right, value = [], [], [], [], []
        miss: list[int] = []
        dleft: list[int] = []

        def walk(n: dict) -> int:
            k = len(feat)
            feat.append(-1)
            thr.append(0.0)
            left.append(-1)
            right.append(-1)
            miss.append(0)
            dleft.append(1)
            if "leaf_index" in n or "split_index" not in n:
                value.append(float(n.get("leaf_value", 0.0)))
                return k
            if n.get("decision_type", "<=") != "<=":
                raise ValueError(f"unsupported split {n.get('decision_type')!r}")
            f = int(n["split_feature"])
            feat[k] = used.setdefault(f, len(used))
            thr[k] = float(n["threshold"])
            miss[k] = MISSING_TYPES[n.get("missing_type", "None")]
            dleft[k] = int(bool(n.get("default_left", True)))
            value.append(float(n.get("internal_value", 0.0)))
            left[k] = walk(n["left_child"])
            right[k] = walk(n["right_child"])
            return k

        walk(t["tree_structure"])
        tree = {"feature": feat, "threshold": thr, "left": left, "right": right, "value": value}
        if any(miss) or not all(dleft):   # NaN routing, only where it differs from the default
            tree["missing"] = miss
            tree["default_left"] = dleft
        trees.append(tree)
    order = sorted(used, key=used.get)
    return [names[f] for f in order], trees


def _isotonic(margin: np.ndarray, y: np.ndarray, w: np.ndarray, points: int = 64) -> dict:
    """Isotonic calibration of the margin, stored as a piecewise linear map (knots)."""
    from sklearn.isotonic import IsotonicRegression
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(margin, y, sample_weight=w)
    xs = np.asarray(iso.X_thresholds_, dtype=float)
    ys = np.asarray(iso.y_thresholds_, dtype=float)
    if len(xs) > points:
        q = np.unique(np.linspace(0, len(xs) - 1, points).round().astype(int))
        xs, ys = xs[q], ys[q]
    eps = 1e-4
    ys = np.clip(ys, eps, 1 - eps)
    return {"kind": "isotonic", "x": [round(float(x), 6) for x in xs],
            "y": [round(float(v), 6) for v in ys]}


def _platt(margin: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict:
    """Platt scaling: ``p = sigmoid(a * margin + b)``, a weighted logistic fit on the margin."""
    from sklearn.linear_model import LogisticRegression
    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(margin.reshape(-1, 1), y, sample_weight=w)
    return {"kind": "platt", "a": round(float(lr.coef_[0][0]), 6),
            "b": round(float(lr.intercept_[0]), 6)}


def fit(data: dict[str, Any], num_trees: int = NUM_TREES, params: dict | None = None,
        hard_legit: float = HARD_LEGIT, calib_share: float = CALIB_SHARE,
        abusive_share: float = ABUSIVE_SHARE, row_power: float = ROW_POWER,
        calibration: str = "platt", exclude: tuple[str, ...] | None = None,
        seed: int = SEED) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train on ``data`` (from :func:`merge`); return (model JSON dict, fit report)."""
    import lightgbm as lgb

    prm = dict(PARAMS, **(params or {}))
    prm.setdefault("monotone_constraints",
                   [1 if n in MONOTONE_UP else 0 for n in data["names"]])
    y_acc = data["label"]
    n_acc = len(y_acc)
    rng = np.random.default_rng(seed)
    calib = np.zeros(n_acc, dtype=bool)
    for c in (0, 1):   # stratified by class
        idx = np.flatnonzero(y_acc == c)
        rng.shuffle(idx)
        calib[idx[: int(round(len(idx) * calib_share))]] = True
    acc = data["account"]
    X, y = data["X"], y_acc[acc]
    drop = [i for i, n in enumerate(data["names"]) if n in (EXCLUDE if exclude is None else exclude)]
    if drop:
        X = X.copy()
        X[:, drop] = 0.0    # constant: never split on
    w_fit = row_weights(data, (~calib).astype(float), hard_legit, abusive_share, row_power)
    w_cal = row_weights(data, calib.astype(float), hard_legit, abusive_share, row_power)
    fit_rows = w_fit > 0
    cal_rows = w_cal > 0
    ds = lgb.Dataset(X[fit_rows], label=y[fit_rows], weight=w_fit[fit_rows],
                     feature_name=list(data["names"]), free_raw_data=True,
                     params={"verbosity": -1})
    booster = lgb.train(prm, ds, num_boost_round=num_trees)
    margin = booster.predict(X[cal_rows], raw_score=True)
    calibrate = _platt if calibration == "platt" else _isotonic
    cal_doc = calibrate(margin, y[cal_rows], w_cal[cal_rows])
    features, trees = _trees_of(booster, tuple(data["names"]))
    # account-level check on the calibration accounts: max probability over each account's life
    from bulkguard.scoring.model import Model
    doc = {"format": 1, "kind": "gbdt-binary", "features": features,
           "base": 0.0, "trees": trees, "calibration": cal_doc}
    m = Model.from_dict(doc)
    p = _predict_rows(m, X[cal_rows])
    acc_c = acc[cal_rows]
    pmax = np.zeros(n_acc)
    np.maximum.at(pmax, acc_c, p)
    rep = {"rows_fit": int(fit_rows.sum()), "rows_calibration": int(cal_rows.sum()),
           "accounts_fit": int((~calib).sum()), "accounts_calibration": int(calib.sum()),
           "calibration_accounts": {}}
    ab = calib & (y_acc == 1)
    lg = calib & (y_acc == 0)
    for t in (0.5, 0.9, 0.97):
        rep["calibration_accounts"][str(t)] = {
            "recall": float((pmax[ab] >= t).mean()) if ab.any() else math.nan,
            "fpr": float((pmax[lg] >= t).mean()) if lg.any() else math.nan}
    rep["pmax"] = pmax
    rep["calib_mask"] = calib
    return doc, rep


def _predict_rows(m: Any, X: np.ndarray) -> np.ndarray:
    """The model's probability for rows over the full ``NAMES`` vector."""
    return np.array([m.probability(r) for r in X.tolist()], dtype=float)


# ------------------------------------------------------------------ writing

def write_card(path: Path, doc: dict[str, Any], extra: str = "") -> None:
    meta = doc.get("training", {})
    lines = [
        "# bulkguard detection model (model card)", "",
        f"Date: {CARD_DATE}. Format {doc['format']}, {len(doc['trees'])} trees "
        f"(LightGBM binary, num_leaves {meta.get('params', {}).get('num_leaves')}, "
        f"max_depth {meta.get('params', {}).get('max_depth')}), "
        + (f"isotonic calibration with {len(doc['calibration']['x'])} knots."
           if doc["calibration"]["kind"] == "isotonic" else
           f"Platt calibration p = sigmoid({doc['calibration']['a']:.4g} * margin "
           f"{doc['calibration']['b']:+.4g}).") + "", "",
        "## What it does", "",
        "`Model.probability(v)` maps the full signal vector (`bulkguard.signals.NAMES`) to a "
        "calibrated probability that the account is abusive, under the training prior: rows "
        "are weighted so that every account counts about equally and the abusive class "
        f"weighs {meta.get('abusive_share')} of the legitimate one (so an ambiguous vector, e.g. "
        "the first message of an account, gets a low p and the model waits for evidence). "
        "The engine adds `-ln(1-p) * [model] weight` (at most `[model] cap`) to the rules' "
        "evidence when `p >= [model] floor` and the `[model] add_when` conditions hold (the "
        "shipped rules: the account sent one content to 5+ new people, not in a burst (under 3 "
        "new chats a minute and 10 an hour), or to 3+ once most of those it wrote to over an "
        "hour ago did not answer), and takes evidence "
        "away for `p < [model] clear` only where `[model] clear_when` holds (some recipients "
        "answered); both rest on messages alone. `Model.reasons` names up to three "
        "features with the largest positive path contributions (Saabas) as `MODEL_<FEATURE>`.",
        "", "## Features", "",
        f"{len(doc['features'])} of the {meta.get('signals_total', '?')} signals are used: "
        + ", ".join(f"`{f}`" for f in sorted(doc["features"])) + "."
        + (" Left out by design: every signal of an optional event family ("
           + ", ".join(f"`{f}`" for f in meta.get("excluded_signals", []) if f not in UNSETTLED)
           + "), and answers counted over every chat opened, also a minute ago ("
           + ", ".join(f"`{f}`" for f in UNSETTLED)
           + "): during an announcement these read \"nobody answers\" before anybody could, so "
           "the model sees answers only over chats opened an hour or more ago "
           "(`recipients_settled`, `reply_ratio_settled`). "
           "The model sees only behaviour every platform has (messages), so removing an "
           "optional family (registrations, contacts, typing, reports, blocks, groups, the "
           "business lane) never changes what it says, and its confident \"legitimate\" never "
           "rests on them; those families add evidence through rules of non-negative weight "
           "only. (The previous model learned \"new account without a contact sync = abuser\" "
           "from `account_age_h`, `sync_numbers`: every simulated new user synced, no "
           "simulated abuser did.)" if meta.get("excluded_signals") else ""), "",
        "## Training data", "",
        "Scenarios: `python -m bulkguard.scoring.train make-scenarios --out scenarios --seeds "
        + " ".join(dict.fromkeys(str(s.get("recipe", {}).get("seed", "?"))
                                 for s in meta.get("scenarios", [])))
        + "` (recipes in `bulkguard.scoring.train.RECIPES`; the background is "
        "`shared/data/collegemsg/CollegeMsg.txt.gz` (real messages of 1,899 students, SNAP) from "
        "day 24 of the file on, so training never sees the edges of the simulator's default "
        "window (days 6-20), which the held-out background scenario uses; about a third of "
        "the held-out window's users also appear later, in the training slice).", "",
        f"Command: `{meta.get('command', '')}`", "",
        "| scenario | seed | accounts | days | background | mix | missing | rows | accounts labeled (abusive) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in meta.get("scenarios", []):
        r = s.get("recipe", {})
        lines.append(f"| {s['name']} | {r.get('seed', '?')} | {r.get('accounts', '?')} | "
                     f"{r.get('days', '?')} | {r.get('background') or '-'} | "
                     f"{r.get('mix', '?')} | {r.get('missing') or '-'} | {s['rows']:,} | "
                     f"{s['accounts']:,} ({s['abusive']}) |")
    lines += ["", "`seed-N-vK` is the simulator's K-th random-families-missing variant of seed N "
              "(`bulkguard simulate --random-missing K`): the same world with some optional "
              "families left out (column *missing*), as a platform without them sends it. "
              f"The margin is kept non-decreasing in {', '.join(f'`{n}`' for n in MONOTONE_UP)} "
              "(LightGBM monotone constraints), whose absence (a field the platform does not "
              "send) reads as 0.", "",
              f"Rows are the signal vectors at every re-score of a rules-only replay "
              f"(at most {meta.get('max_rows')} per account, evenly spread). Accounts are split "
              f"{1 - meta.get('calib_share', 0):.0%} fit / {meta.get('calib_share', 0):.0%} "
              "calibration (stratified by label). Hard legitimate archetypes "
              f"({', '.join(HARD_ARCHETYPES)}) weigh {meta.get('hard_legit')}x. Seeds 1-20 are "
              "held out and never used for training or tuning.", "",
              "## Calibration accounts (max probability over each account's life)", "",
              "| threshold | recall | FPR |", "|---|---|---|"]
    for t, r in meta.get("calibration_accounts", {}).items():
        lines.append(f"| {t} | {r['recall']:.3f} | {r['fpr']:.4f} |")
    if extra:
        lines += ["", extra.rstrip()]
    lines += ["", "## Limits", "",
              "Trained on simulated abuse (bulkguard.sim archetypes) and simulated or "
              "CollegeMsg human traffic only; real abusers adapt. The model must be retrained "
              "whenever the signal set changes: `Model.load` refuses a model naming a signal "
              "that no longer exists.", ""]
    path.write_text("\n".join(lines))


def card_path(model: Path) -> Path:
    """The card beside a model: ``MODEL.md``, or ``model.md`` for the shipped ``model.json``."""
    return model.with_suffix(".md") if model.name == "model.json" else model.with_name("MODEL.md")


def train(scenarios: list[str], out: str | Path, *, num_trees: int = NUM_TREES,
          params: dict | None = None, hard_legit: float = HARD_LEGIT,
          abusive_share: float = ABUSIVE_SHARE, row_power: float = ROW_POWER,
          command: str | None = None, quiet: bool = False,
          card: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Collect, fit and write ``out`` (and ``MODEL.md`` beside it); return (doc, report)."""
    from bulkguard.signals import NAMES
    parts = []
    t0 = time.perf_counter()
    for s in scenarios:
        t = time.perf_counter()
        p = collect(s)
        parts.append(p)
        if not quiet:
            print(f"collected {len(p['X']):,} rows from {len(p['label']):,} accounts "
                  f"({int(p['label'].sum())} abusive) in {s} ({time.perf_counter() - t:.1f} s)",
                  file=sys.stderr)
    data = merge(parts)
    doc, rep = fit(data, num_trees=num_trees, params=params, hard_legit=hard_legit,
                   abusive_share=abusive_share, row_power=row_power)
    meta = {
        "date": CARD_DATE,
        "command": command or f"bulkguard train --scenarios {' '.join(map(str, scenarios))} --out {out}",
        "signals_total": len(NAMES),
        "params": dict(PARAMS, **(params or {})),
        "num_trees": num_trees,
        "max_rows": MAX_ROWS,
        "hard_legit": hard_legit,
        "excluded_signals": list(EXCLUDE),
        "abusive_share": abusive_share,
        "row_power": row_power,
        "calib_share": CALIB_SHARE,
        "rows_fit": rep["rows_fit"], "rows_calibration": rep["rows_calibration"],
        "calibration_accounts": rep["calibration_accounts"],
        "scenarios": [],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    for s, p in zip(scenarios, parts):
        rp = Path(s) / "recipe.json"
        r = json.loads(rp.read_text()) if rp.exists() else {}
        meta["scenarios"].append({"name": Path(s).name, "recipe": r, "rows": len(p["X"]),
                                  "accounts": len(p["label"]), "abusive": int(p["label"].sum())})
    doc["training"] = meta
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    out.write_text(text)
    if card:
        write_card(card_path(out), doc)
    from bulkguard.scoring.model import shipped_margin_module
    shipped = Path(__file__).with_name("model.json")
    if out.resolve() == shipped.resolve():   # the shipped model: its margin as code too
        shipped.with_name("shipped_margin.py").write_text(shipped_margin_module(text))
    if not quiet:
        print(f"wrote {out} ({out.stat().st_size:,} bytes, {len(doc['trees'])} trees, "
              f"{len(doc['features'])} features); calibration accounts: "
              + json.dumps(rep["calibration_accounts"]), file=sys.stderr)
    return doc, rep


def run(args: Any) -> int:
    """CLI entry: ``bulkguard train --scenarios DIR... --out MODEL``."""
    missing = [m for m in ("lightgbm", "sklearn") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"bulkguard train: needs {' and '.join(missing)} (not installed): "
              "pip install 'bulkguard[train]'", file=sys.stderr)
        return 2
    for s in args.scenarios:
        if not (Path(s) / "events.jsonl").exists() or not (Path(s) / "labels.jsonl").exists():
            print(f"bulkguard train: {s}: needs events.jsonl and labels.jsonl", file=sys.stderr)
            return 2
    cmd = "bulkguard train --scenarios " + " ".join(args.scenarios) + f" --out {args.out}"
    train(args.scenarios, args.out, command=cmd)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bulkguard.scoring.train")
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-scenarios", help="simulate training scenarios (seeds >= 21)")
    m.add_argument("--out", required=True)
    m.add_argument("--seeds", type=int, nargs="+", default=sorted(RECIPES))
    m.add_argument("--background", default=COLLEGEMSG,
                   help="edge list for the recipes with a background (default CollegeMsg)")
    m.add_argument("--scale", type=float, default=1.0, help="scale the number of humans")
    m.add_argument("--variants", type=int, default=VARIANTS,
                   help="random-families-missing variants per seed (seed-N-vK)")
    t = sub.add_parser("train", help="same as `bulkguard train`")
    t.add_argument("--scenarios", nargs="+", required=True)
    t.add_argument("--out", required=True)
    c = sub.add_parser("card", help="rewrite a model's card, adding held-out figures")
    c.add_argument("--model", required=True)
    c.add_argument("--extra", help="markdown file appended to the card (e.g. held-out figures)")
    a = p.parse_args(argv)
    if a.cmd == "card":
        mp = Path(a.model)
        doc = json.loads(mp.read_text())
        extra = Path(a.extra).read_text() if a.extra else ""
        write_card(card_path(mp), doc, extra)
        return 0
    if a.cmd == "make-scenarios":
        try:
            make_scenarios(a.out, a.seeds, a.background, a.scale, a.variants)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
