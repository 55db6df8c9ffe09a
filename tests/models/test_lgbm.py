"""models/lgbm.py: one fit per fold (`refit = false`) keeps the early-stopped model; the default refits."""

from __future__ import annotations

import math

import pytest

from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TaskInfo
from models import ModelContext, build_model
from models.testing import make_data

BINARY = TaskInfo("binary", (0, 1))


def _fitted(refit: bool | None):
    X, y = make_data(BINARY, n=400, seed=3)
    params = {"learning_rate": 0.1, "early_stopping_rounds": 10}
    if refit is not None:
        params["refit"] = refit
    model = build_model("m", {"type": "lightgbm", "params": params}, ModelContext(BINARY, get_metric("log_loss")))
    fit_rows, valid_rows = slice(0, 300), slice(300, 400)
    model.fit(X.iloc[fit_rows], y[fit_rows], X.iloc[valid_rows], y[valid_rows])
    return model


def test_refit_false_keeps_the_early_stopped_model_and_the_default_refits_on_all_rows():
    kept, refitted = _fitted(False), _fitted(None)
    best = kept.best_iteration_
    assert kept.booster_.best_iteration == best  # the model early stopping chose, not another fit
    assert refitted.best_iteration_ == math.ceil(best * 400 / 300)  # all 400 rows: rounds scaled
    assert refitted.booster_.current_iteration() == refitted.best_iteration_


def test_refit_must_be_a_boolean():
    with pytest.raises(UserError, match=r"models\.m\.params\.refit must be true or false, got 'no'"):
        build_model("m", {"type": "lightgbm", "params": {"refit": "no"}},
                    ModelContext(BINARY, get_metric("log_loss")))
