"""type = "catboost": the model contract, honest early stopping, native categoricals, errors in one line."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from models import ModelContext, build_model, train_cv
from models import catboost_model
from models.testing import check_model, make_data
from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TASKS, TaskInfo

catboost = pytest.importorskip("catboost")

INFOS = {"binary": TaskInfo("binary", (0, 1)), "multiclass": TaskInfo("multiclass", (0, 1, 2)),
         "regression": TaskInfo("regression")}
FEW = {"n_estimators": 40, "early_stopping_rounds": 10}  # a fast model: few rounds, short patience


def _ctx(task: str, threads: int = 1) -> ModelContext:
    return ModelContext(INFOS[task], get_metric(TASKS[task].default_metric), threads=threads)


@pytest.mark.parametrize("task", INFOS)
def test_catboost_passes_the_conformance_check(task):
    X, y = make_data(INFOS[task], categorical=True)  # a category column and missing values
    check_model(build_model("cb", {"type": "catboost", "params": FEW}, _ctx(task)), INFOS[task], X=X, y=y)


def test_builder_defaults_are_td_and_follow_task_metric_and_threads(monkeypatch):
    monkeypatch.setattr(catboost_model, "gpu_unusable", lambda: None)  # a GPU model's table, as on a GPU machine
    model = build_model("cb", {"type": "catboost", "params": {}}, _ctx("multiclass", threads=3))
    p = model.params
    assert (model.num_boost_round, model.early_stopping_rounds) == (1000, 300)
    assert (p["loss_function"], p["eval_metric"], p["classes_count"], p["thread_count"]) == ("MultiClass",
                                                                                              "MultiClass", 3, 3)
    assert (p["depth"], p["learning_rate"], p["random_seed"], p["task_type"]) == (7, 0.08, 0, "CPU")
    reg = build_model("cb", {"type": "catboost", "params": {"eta": 0.2, "thread_count": 8, "device": "cuda"}},
                      ModelContext(INFOS["regression"], get_metric("mae"), threads=2)).params
    assert (reg["eval_metric"], reg["depth"], reg["thread_count"], reg["task_type"]) == ("MAE", 9, 2, "GPU")
    assert reg["eta"] == 0.2 and "learning_rate" not in reg  # the user's alias replaces the default


def test_early_stopping_sees_only_the_inner_split_then_refits_on_all_training_rows(monkeypatch):
    """The rows CatBoost stops on are held out of the fold's training rows, never the scored fold; the
    refit trains on every training row for the early-stopped rounds scaled as LightGBM's are."""
    from models.catboost_model import CatBoostModel

    X, y = make_data("binary", n=300)
    X["rowid"] = np.arange(len(X), dtype=np.float64)
    folds = np.arange(len(X)) % 3
    fits, trains = [], []
    real_fit, real_train = CatBoostModel.fit, catboost.CatBoost.fit

    def spy_fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None):
        fits.append((set(X["rowid"].astype(int)), set(X_valid["rowid"].astype(int))))
        return real_fit(self, X, y, X_valid, y_valid, sample_weight)

    def spy_train(self, pool, *args, eval_set=None, **kwargs):
        out = real_train(self, pool, *args, eval_set=eval_set, **kwargs)
        trains.append((pool.num_row(), None if eval_set is None else eval_set.num_row(),
                       self.tree_count_, None if eval_set is None else self.get_best_iteration()))
        return out

    build_model("cb", {"type": "catboost", "params": FEW}, _ctx("binary"))  # its parameter check trains once
    monkeypatch.setattr(CatBoostModel, "fit", spy_fit)
    monkeypatch.setattr(catboost.CatBoost, "fit", spy_train)
    res = train_cv("cb", {"type": "catboost", "params": FEW}, X, y, X.iloc[:10], folds, INFOS["binary"],
                   get_metric("roc_auc"), log=lambda m: None)
    assert len(fits) == 3 and len(trains) == 6  # per fold: the early-stopping fit, then the refit
    for k, (fit_rows, valid_rows) in enumerate(fits):
        scored = set(np.flatnonzero(folds == k).tolist())
        assert valid_rows and fit_rows.isdisjoint(scored) and valid_rows.isdisjoint(scored)
        assert fit_rows.isdisjoint(valid_rows) and fit_rows | valid_rows | scored == set(range(len(X)))
        (n_fit, n_valid, _, best), (n_all, no_eval, refit_trees, _) = trains[2 * k], trains[2 * k + 1]
        assert (n_fit, n_valid, n_all, no_eval) == (len(fit_rows), len(valid_rows), len(fit_rows) + len(valid_rows),
                                                    None)
        assert refit_trees == res.params["best_iterations"][k] == math.ceil((best + 1) * n_all / n_fit)


def test_categorical_columns_are_catboost_categoricals():
    X, y = make_data("regression", n=300, categorical=True)
    X.loc[X.index[:20], "c0"] = np.nan  # a missing category is a value of its own
    model = build_model("cb", {"type": "catboost", "params": FEW}, _ctx("regression")).fit(X, y)
    assert model.model_.get_cat_feature_indices() == [list(X.columns).index("c0")]
    importance = dict(zip(model.feature_names_in_, model.feature_importances_))
    assert importance["c0"] > importance["x4"]  # c0 carries signal, x4 none
    # the category's value, not its code: the same rows with the categories listed in another order
    reordered = X.assign(c0=X["c0"].cat.reorder_categories(["c", "b", "a"]))
    np.testing.assert_allclose(model.predict(reordered), model.predict(X))
    a, b = (X.iloc[:1].assign(c0=pd.Categorical([v], categories=X["c0"].cat.categories)) for v in "ab")
    assert model.predict(a)[0] > model.predict(b)[0]  # "a" adds 1 to the target


def test_sample_weight_changes_the_model():
    X, y = make_data("binary", n=200)
    ctx = _ctx("binary")
    plain = build_model("cb", {"type": "catboost", "params": FEW}, ctx).fit(X, y)
    weighted = build_model("cb", {"type": "catboost", "params": FEW}, ctx).fit(X, y, sample_weight=np.where(y, 5.0, 1.0))
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()


def test_fits_are_deterministic():
    X, y = make_data("multiclass", n=200)
    a, b = (build_model("cb", {"type": "catboost", "params": FEW}, _ctx("multiclass")).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_ignored_features_by_glob_pattern_train_as_without_those_columns():
    X, y = make_data("binary", n=200)
    wide = X.assign(**{f"{X.columns[0]}__per__{X.columns[1]}": y * 1.0})  # a column that gives y away
    ctx = _ctx("binary")
    raw = build_model("cb", {"type": "catboost", "params": FEW}, ctx).fit(X, y)
    spec = {"type": "catboost", "params": {**FEW, "ignored_features": ["*__per__*", "*__x__*"]}}
    ignoring = build_model("cb", spec, ctx).fit(wide, y)
    np.testing.assert_array_equal(ignoring.predict_proba(wide), raw.predict_proba(X))  # takes every column
    assert ignoring.feature_importances_[-1] == 0 and len(ignoring.feature_names_in_) == wide.shape[1]
    seeing = build_model("cb", {"type": "catboost", "params": FEW}, ctx).fit(wide, y)
    assert not np.array_equal(seeing.predict_proba(wide), raw.predict_proba(X))


@pytest.mark.parametrize("params,message", [
    ({"ignored_features": "*__per__*"}, r"^models\.cb\.params: ignored_features = '\*__per__\*' must be a list of "),
    ({"deptj": 3}, r"^models\.cb\.params: CatBoost has no parameter 'deptj' \(did you mean 'depth'\?\)"),
    ({"depth": -3}, r"^models\.cb\.params: Can't parse parameter \"depth\" with value: -3$"),
    ({"device": "tpu"}, r"^models\.cb\.params: device = 'tpu' is not one of cpu, cuda, gpu$"),
    ({"n_estimators": 0}, r"^models\.cb\.params: the number of boosting rounds must be at least 1, got 0$"),
])
def test_a_bad_parameter_is_one_line_naming_it(params, message):
    with pytest.raises(UserError, match=message) as err:
        build_model("cb", {"type": "catboost", "params": params}, _ctx("binary"))
    assert "\n" not in str(err.value)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "catboost", None)  # `import catboost` now fails
    with pytest.raises(UserError) as err:
        build_model("cb", {"type": "catboost", "params": {}}, _ctx("binary"))
    assert str(err.value) == ("models.cb: type 'catboost' needs the catboost package: pip install catboost "
                              "(or pip install -e '.[catboost]')")


def test_the_cost_estimate_follows_depth_leaf_steps_and_patience():
    from models._types import MODEL_TYPES
    from models.catboost_model import cost_scale

    zoo_shape = {"depth": 6, "learning_rate": 0.08, "leaf_estimation_iterations": 1, "early_stopping_rounds": 100}
    assert cost_scale(zoo_shape, "binary") == cost_scale(zoo_shape, "regression") == 1.0
    # the TD defaults: depth 7 and 300 rounds' patience; regression also depth 9 and 20 leaf steps
    assert cost_scale({}, "binary") == 4.0 and round(cost_scale({}, "regression"), 1) == 31.2
    assert cost_scale({"max_depth": 4, "od_wait": 100}, "binary") == 0.25  # CatBoost's other names count too
    cb = MODEL_TYPES["catboost"]
    assert cb.cost_for(zoo_shape, "binary") == cb.cost
    assert cb.cost_for({}, "regression") == tuple(c * cost_scale({}, "regression") for c in cb.cost)
    assert MODEL_TYPES["lightgbm"].cost_for({"num_leaves": 255}, "binary") == MODEL_TYPES["lightgbm"].cost
