"""models/_boost.py: `refit = false` (one fit per fold) for every boosting type -- the early-stopped model
is kept, cut to its best round, and predicts as it did -- and the default refit on all training rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TaskInfo
from models import ModelContext, build_model
from models.testing import make_data

BINARY = TaskInfo("binary", (0, 1))
TYPES = {"catboost": ("catboost", lambda m: m.model_.tree_count_),
         "xgboost": ("xgboost", lambda m: m.booster_.num_boosted_rounds())}


def _fitted(kind: str, refit: bool | None):
    pytest.importorskip(TYPES[kind][0])
    X, y = make_data(BINARY, n=400, seed=3)
    params = {"learning_rate": 0.3, "n_estimators": 400, "early_stopping_rounds": 10}
    if refit is not None:
        params["refit"] = refit
    model = build_model("m", {"type": kind, "params": params}, ModelContext(BINARY, get_metric("log_loss")))
    model.fit(X.iloc[:300], y[:300], X.iloc[300:], y[300:])
    return model, X


@pytest.mark.parametrize("kind", TYPES)
def test_refit_false_keeps_the_early_stopped_model_cut_to_its_best_round(kind):
    kept, X = _fitted(kind, False)
    refitted, _ = _fitted(kind, None)
    trees = TYPES[kind][1]
    best = kept.best_iteration_
    assert 1 <= best < 400  # early stopping stopped it
    assert trees(kept) == best  # the stopped model, cut to its best round: no second fit
    assert refitted.best_iteration_ == math.ceil(best * 400 / 300) == trees(refitted)  # all 400 rows, rounds scaled
    p_kept, p_refit = kept.predict_proba(X)[:, 1], refitted.predict_proba(X)[:, 1]
    assert p_kept.shape == (400,) and not np.allclose(p_kept, p_refit)


@pytest.mark.parametrize("kind", ["lightgbm", *TYPES])
def test_refit_must_be_a_boolean(kind):
    if kind in TYPES:
        pytest.importorskip(TYPES[kind][0])
    with pytest.raises(UserError, match=r"models\.m\.params\.refit must be true or false, got 'no'"):
        build_model("m", {"type": kind, "params": {"refit": "no"}}, ModelContext(BINARY, get_metric("log_loss")))


@pytest.mark.parametrize("kind", ["lightgbm", *TYPES])
def test_a_fit_still_improving_at_its_round_cap_says_so_and_an_early_stopped_one_does_not(kind):
    if kind in TYPES:
        pytest.importorskip(TYPES[kind][0])
    X, y = make_data("regression", n=400, seed=5)
    ctx = ModelContext(TaskInfo("regression"), get_metric("rmse"))

    def fitted(**params):
        model = build_model("m", {"type": kind, "params": {**params, "early_stopping_rounds": 10}}, ctx)
        return model.fit(X.iloc[:300], y[:300], X.iloc[300:], y[300:])

    # the loss still falls; the cap is named as the library's documentation names it (the zoo's CatBoost
    # table writes `iterations`)
    cap = "iterations" if kind == "catboost" else "n_estimators"
    assert fitted(learning_rate=0.01, n_estimators=20).capped_ == f"{cap} = 20"
    assert fitted(learning_rate=0.3, n_estimators=400).capped_ is None  # stopped well before the cap
    assert build_model("m", {"type": kind, "params": {"n_estimators": 20, "early_stopping_rounds": 0}},
                       ctx).fit(X, y).capped_ is None  # every round by design: nothing chose them


def test_the_cap_is_reached_in_its_last_tenth():
    from models._fit import cap_reached

    assert cap_reached(901, 1000) == "n_estimators = 1000" and cap_reached(900, 1000) is None
    assert cap_reached(46, 50, "epochs") == "epochs = 50"
