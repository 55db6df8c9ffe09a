"""type = "xgboost": the model contract, honest early stopping, native categoricals, errors in one line."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from models import ModelContext, build_model, train_cv
from models import xgboost_model
from models.testing import check_model, make_data
from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TASKS, TaskInfo

xgb = pytest.importorskip("xgboost")

INFOS = {"binary": TaskInfo("binary", (0, 1)), "multiclass": TaskInfo("multiclass", (0, 1, 2)),
         "regression": TaskInfo("regression")}
FEW = {"n_estimators": 40, "early_stopping_rounds": 10}  # a fast model: few rounds, short patience


def _ctx(task: str, threads: int = 1) -> ModelContext:
    return ModelContext(INFOS[task], get_metric(TASKS[task].default_metric), threads=threads)


@pytest.mark.parametrize("task", INFOS)
def test_xgboost_passes_the_conformance_check(task):
    X, y = make_data(INFOS[task], categorical=True)  # a category column and missing values
    check_model(build_model("xgb", {"type": "xgboost", "params": FEW}, _ctx(task)), INFOS[task], X=X, y=y)


def test_builder_defaults_are_td_and_follow_task_metric_and_threads(monkeypatch):
    monkeypatch.setattr(xgboost_model, "gpu_unusable", lambda: None)  # a GPU model's table, as on a GPU machine
    model = build_model("xgb", {"type": "xgboost", "params": {}}, _ctx("multiclass", threads=3))
    p = model.params
    assert (model.num_boost_round, model.early_stopping_rounds) == (1000, 300)
    assert (p["objective"], p["eval_metric"], p["num_class"], p["nthread"]) == ("multi:softprob", "mlogloss", 3, 3)
    assert (p["max_depth"], p["learning_rate"], p["tree_method"], p["seed"], p["device"]) == (6, 0.08, "hist", 0,
                                                                                                 "cpu")
    reg = build_model("xgb", {"type": "xgboost", "params": {"eta": 0.2, "n_jobs": 8, "device": "gpu"}},
                      ModelContext(INFOS["regression"], get_metric("mae"), threads=2)).params
    assert (reg["eval_metric"], reg["max_depth"], reg["nthread"], reg["device"]) == ("mae", 9, 2, "cuda")
    assert reg["eta"] == 0.2 and "learning_rate" not in reg and "n_jobs" not in reg  # the user's alias wins


def test_early_stopping_sees_only_the_inner_split_then_refits_on_all_training_rows(monkeypatch):
    """The rows XGBoost stops on are held out of the fold's training rows, never the scored fold; the
    refit trains on every training row for the early-stopped rounds scaled as LightGBM's are."""
    from models.xgboost_model import XGBoostModel

    X, y = make_data("regression", n=300)
    X["rowid"] = np.arange(len(X), dtype=np.float64)
    folds = np.arange(len(X)) % 3
    fits, trains = [], []
    real_fit, real_train = XGBoostModel.fit, xgb.train

    def spy_fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None):
        fits.append((set(X["rowid"].astype(int)), set(X_valid["rowid"].astype(int))))
        return real_fit(self, X, y, X_valid, y_valid, sample_weight)

    def spy_train(params, dtrain, rounds, evals=(), **kwargs):
        booster = real_train(params, dtrain, rounds, evals=evals, **kwargs)
        trains.append((dtrain.num_row(), [d.num_row() for d, _ in evals], booster.num_boosted_rounds(),
                       booster.best_iteration if evals else None))
        return booster

    build_model("xgb", {"type": "xgboost", "params": FEW}, _ctx("regression"))  # its parameter check trains once
    monkeypatch.setattr(XGBoostModel, "fit", spy_fit)
    monkeypatch.setattr(xgb, "train", spy_train)
    res = train_cv("xgb", {"type": "xgboost", "params": FEW}, X, y, X.iloc[:10], folds, INFOS["regression"],
                   get_metric("rmse"), log=lambda m: None)
    assert len(fits) == 3 and len(trains) == 6  # per fold: the early-stopping fit, then the refit
    for k, (fit_rows, valid_rows) in enumerate(fits):
        scored = set(np.flatnonzero(folds == k).tolist())
        assert valid_rows and fit_rows.isdisjoint(scored) and valid_rows.isdisjoint(scored)
        assert fit_rows.isdisjoint(valid_rows) and fit_rows | valid_rows | scored == set(range(len(X)))
        (n_fit, n_valid, _, best), (n_all, no_eval, refit_rounds, _) = trains[2 * k], trains[2 * k + 1]
        assert (n_fit, n_valid, n_all, no_eval) == (len(fit_rows), [len(valid_rows)],
                                                    len(fit_rows) + len(valid_rows), [])
        assert refit_rounds == res.params["best_iterations"][k] == math.ceil((best + 1) * n_all / n_fit)


def test_categorical_columns_are_xgboost_categoricals():
    X, y = make_data("regression", n=300, categorical=True)
    X.loc[X.index[:20], "c0"] = np.nan
    model = build_model("xgb", {"type": "xgboost", "params": FEW}, _ctx("regression")).fit(X, y)
    assert model.booster_.feature_types[list(X.columns).index("c0")] == "c"
    importance = dict(zip(model.feature_names_in_, model.feature_importances_))
    assert importance["c0"] > importance["x4"]  # c0 carries signal, x4 none
    a, b = (X.iloc[:1].assign(c0=pd.Categorical([v], categories=X["c0"].cat.categories)) for v in "ab")
    assert model.predict(a)[0] > model.predict(b)[0]  # "a" adds 1 to the target


def test_feature_names_xgboost_refuses_are_renamed_and_reported_as_given():
    X, y = make_data("binary", n=200)
    X = X.rename(columns={"x0": "x[0]<1"})
    model = build_model("xgb", {"type": "xgboost", "params": FEW}, _ctx("binary")).fit(X, y)
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.predict_proba(X).shape == (200, 2)


def test_sample_weight_changes_the_model():
    X, y = make_data("binary", n=200)
    ctx = _ctx("binary")
    plain = build_model("xgb", {"type": "xgboost", "params": FEW}, ctx).fit(X, y)
    weighted = build_model("xgb", {"type": "xgboost", "params": FEW}, ctx).fit(X, y,
                                                                               sample_weight=np.where(y, 5.0, 1.0))
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_fits_are_deterministic():
    X, y = make_data("multiclass", n=200)
    a, b = (build_model("xgb", {"type": "xgboost", "params": FEW}, _ctx("multiclass")).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("params,message", [
    ({"max_dept": 3}, r"^models\.xgb\.params: XGBoost has no parameter 'max_dept' \(did you mean 'max_depth'\?\)"),
    ({"max_depth": -1}, r"^models\.xgb\.params: value -1 for Parameter max_depth should be greater equal to 0$"),
    ({"device": "tpu"}, r"^models\.xgb\.params: device = 'tpu' is not one of cpu, cuda, gpu \(or cuda:<index>\)$"),
    ({"early_stopping_rounds": 2.5}, r"^models\.xgb\.params: early_stopping_rounds must be a whole number, got 2\.5$"),
])
def test_a_bad_parameter_is_one_line_naming_it(params, message):
    with pytest.raises(UserError, match=message) as err:
        build_model("xgb", {"type": "xgboost", "params": params}, _ctx("binary"))
    assert "\n" not in str(err.value)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` now fails
    with pytest.raises(UserError) as err:
        build_model("xgb", {"type": "xgboost", "params": {}}, _ctx("binary"))
    assert str(err.value) == ("models.xgb: type 'xgboost' needs the xgboost package: pip install xgboost "
                              "(or pip install -e '.[xgboost]')")
