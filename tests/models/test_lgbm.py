"""models/lgbm.py: one fit per fold (`refit = false`) keeps the early-stopped model; the default refits."""

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


@pytest.mark.parametrize("early", [None, 50])
def test_dart_trains_its_rounds_once_on_every_row_without_holding_rows_out(early):
    # LightGBM cannot stop dart early: before, the fold held 20 % of its rows out for nothing, trained all
    # rounds on the rest, then refitted for the rounds scaled up by the rows' share
    X, y = make_data(BINARY, n=300, seed=4)
    params = {"boosting": "dart", "n_estimators": 40, "learning_rate": 0.1}
    if early is not None:  # a params table shared with gbdt (a tuning trial) may carry a patience
        params["early_stopping_rounds"] = early
    model = build_model("m", {"type": "lightgbm", "params": params}, ModelContext(BINARY, get_metric("log_loss")))
    assert not model.wants_validation()  # the CV loop gives it every training row of the fold
    model.fit(X, y)
    assert model.booster_.current_iteration() == model.best_iteration_ == 40


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_dart_starts_from_the_targets_average_outside_its_trees(task):
    # LightGBM puts its start (the mean, the base rate) into the first tree, which dart drops and rescales
    # like any other: on a target around 12 the mean prediction was 11.66 after 500 rounds at lr 0.05
    info = {"regression": TaskInfo("regression"), "binary": BINARY,
            "multiclass": TaskInfo("multiclass", (0, 1, 2))}[task]
    X, y = make_data(info, n=600, seed=6)
    if task == "regression":
        y = y + 12.0
    elif task == "binary":
        y = (X["x0"].to_numpy() > 1.5).astype(np.int64)  # a rare class: 7 % of the rows
    params = {"boosting": "dart", "n_estimators": 100, "learning_rate": 0.05}
    metric = get_metric("rmse" if task == "regression" else "log_loss")
    model = build_model("m", {"type": "lightgbm", "params": params}, ModelContext(info, metric)).fit(X, y)
    if task == "regression":
        assert model.init_score_ == pytest.approx([y.mean()])
        assert model.predict(X).mean() == pytest.approx(y.mean(), abs=0.05)
    else:
        p = model.predict_proba(X)
        assert np.allclose(p.sum(axis=1), 1.0)
        frequencies = np.bincount(y, minlength=p.shape[1]) / len(y)
        start = np.log(frequencies) if task == "multiclass" else [np.log(frequencies[1] / frequencies[0])]
        assert model.init_score_ == pytest.approx(start)
        assert p.mean(axis=0) == pytest.approx(frequencies, abs=0.02)  # calibrated on average, not pulled to 1/k


def test_soft_pseudo_labels_train_lightgbm_with_its_own_hessian_floor():
    """A table that trains on soft pseudo-labels has its min_sum_hessian_in_leaf raised to LightGBM's default
    (the zoo's 1e-7 let a leaf of bagged duplicates of unlikely classes take a step of about 1 / p); a higher
    value of its own stays, and other types and plug-ins keep their table."""
    from models import soft_label_spec

    table = {"type": "lightgbm", "params": {"learning_rate": 0.04, "min_sum_hessian_in_leaf": 1e-7}}
    soft = soft_label_spec(table)
    assert soft["params"] == {"learning_rate": 0.04, "min_sum_hessian_in_leaf": 1e-3}
    assert table["params"]["min_sum_hessian_in_leaf"] == 1e-7  # the member's own table is not changed
    assert soft_label_spec({"type": "lightgbm"})["params"] == {"min_sum_hessian_in_leaf": 1e-3}
    strict = {"type": "lightgbm", "params": {"min_sum_hessian_in_leaf": 0.5}}
    assert soft_label_spec(strict)["params"]["min_sum_hessian_in_leaf"] == 0.5
    # under another of its names (LightGBM would keep min_sum_hessian_in_leaf over min_child_weight): one name
    assert soft_label_spec({"type": "lightgbm", "params": {"min_child_weight": 0.5}})["params"] == {
        "min_sum_hessian_in_leaf": 0.5}
    assert soft_label_spec({"type": "lightgbm", "params": {"min_child_weight": 1e-7}})["params"] == {
        "min_sum_hessian_in_leaf": 1e-3}
    for other in ({"type": "catboost", "params": {"depth": 6}}, {"type": "my_model.py"}):
        assert soft_label_spec(other) == other


@pytest.mark.parametrize("params,line", [
    ({"eta": 0.3}, "[learning_rate: 0.3]"),
    ({"max_leaves": 5}, "[num_leaves: 5]"),
    ({"random_state": 7}, "[seed: 7]"),
])
def test_a_parameter_under_another_of_its_names_replaces_the_default(params, line):
    """LightGBM given a default's name and the table's other name for it keeps the default's value silently
    (`eta = 0.3` trained at the default 0.05): the default gives way."""
    X, y = make_data(BINARY, n=200, seed=3)
    model = build_model("m", {"type": "lightgbm", "params": {**params, "n_estimators": 5, "early_stopping_rounds": 0}},
                        ModelContext(BINARY, get_metric("log_loss")))
    assert line in model.fit(X, y).booster_.model_to_string()
