"""The k-fold loop: OOF coverage, no validation rows in training, fresh clones, pseudo rows, LightGBM parity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models import average_repeats, train_cv

def with_rowid(frame, start: int = 0):
    """A copy of `frame` with a `rowid` column numbering its rows from `start`."""
    out = frame.copy()
    out["rowid"] = np.arange(start, start + len(frame), dtype=np.float64)
    return out


# A plug-in that logs the rows each fold model was fitted on and "predicts" each row's own id, so the
# OOF array shows which row landed where. It refuses a second fit: every fold must get a fresh clone.
SPY = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, log_path="", scale=1000.0):
        self.log_path = log_path
        self.scale = scale

    def fit(self, X, y, X_valid=None, y_valid=None):
        if hasattr(self, "fitted_rows_"):
            raise RuntimeError("fitted twice: the CV loop must clone a fresh model per fold")
        self.fitted_rows_ = X["rowid"].to_numpy().astype(int)
        self.classes_ = np.array([0, 1])
        with open(self.log_path, "a") as fh:
            fh.write(" ".join(map(str, self.fitted_rows_)) + "|" + " ".join(map(str, X_valid["rowid"].astype(int))) + "\\n")
        return self

    def predict_proba(self, X):
        p = (X["rowid"].to_numpy() % self.scale) / self.scale
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)
'''


def _spy(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "spy.py").write_text(SPY)
    log = tmp_path / "fits.log"
    return plugins, log, {"type": "spy", "params": {"log_path": str(log), "scale": 1e6}, "preprocess": "auto"}


def _fits(log):
    out = []
    for line in log.read_text().splitlines():
        fit, valid = line.split("|")
        out.append((set(map(int, fit.split())), set(map(int, valid.split()))))
    return out


def test_oof_covers_every_row_once_and_fold_models_never_see_their_validation_rows(titanic, tmp_path):
    """Not even as early-stopping rows: a fit naming X_valid gets rows held out of its training rows."""
    plugins, log, spec = _spy(tmp_path)
    X = with_rowid(titanic.X)
    n = len(X)
    res = train_cv("spy", spec, X, titanic.y, with_rowid(titanic.X_test, 5000), titanic.folds, titanic.task,
                   titanic.metric, plugin_dir=plugins, log=lambda m: None)
    np.testing.assert_allclose(res.oof, np.arange(n) / 1e6)  # each row predicted by exactly one fold model
    fits = _fits(log)
    assert len(fits) == len(np.unique(titanic.folds))
    for k, (fit_rows, valid_rows) in enumerate(fits):
        held_out = set(np.flatnonzero(titanic.folds == k).tolist())
        assert valid_rows.isdisjoint(held_out) and fit_rows.isdisjoint(held_out)
        assert fit_rows.isdisjoint(valid_rows)
        assert fit_rows | valid_rows | held_out == set(range(n))
        assert 0.15 < len(valid_rows) / (n - len(held_out)) < 0.25  # 20% of the training rows
    assert len(res.test_by_fold) == len(fits)
    assert res.fold_scores and len(res.fold_scores) == len(fits)


def test_pseudo_rows_join_only_that_folds_training_set(titanic, tmp_path):
    plugins, log, spec = _spy(tmp_path)
    X_test = with_rowid(titanic.X_test, 100_000)

    def extra_rows(k):
        rows = X_test.iloc[[k, k + 10]].copy()
        rows["rowid"] = [90_000 + k, 90_100 + k]
        return rows, np.array([1, 0])

    train_cv("spy", spec, with_rowid(titanic.X), titanic.y, X_test, titanic.folds, titanic.task, titanic.metric,
             plugin_dir=plugins, extra_rows=extra_rows, log=lambda m: None)
    for k, (fit_rows, valid_rows) in enumerate(_fits(log)):
        extra = {r for r in fit_rows if r >= 90_000}
        assert extra == {90_000 + k, 90_100 + k}
        assert not any(r >= 90_000 for r in valid_rows)


def test_lightgbm_trainer_matches_a_hand_written_loop(titanic):
    import lightgbm as lgb

    from models import ModelContext
    from models._cv import early_stopping_rows
    from models.lgbm import lgb_params

    spec = {"type": "lightgbm", "params": {"num_leaves": 7, "n_estimators": 300, "early_stopping_rounds": 30}}
    logs = []
    res = train_cv("lgbm", spec, titanic.X, titanic.y, titanic.X_test, titanic.folds, titanic.task,
                   titanic.metric, threads=1, log=logs.append)
    params, rounds, early = lgb_params("lgbm", spec["params"], ModelContext(titanic.task, titanic.metric, 1))
    assert (rounds, early, params["num_threads"], params["metric"]) == (300, 30, 1, "binary_logloss")
    oof = np.zeros(len(titanic.y))
    best = []
    for k in range(5):
        tr, va = np.flatnonzero(titanic.folds != k), titanic.folds == k
        # early stopping on 20% of the training rows (never the scored fold), then a refit on all of them
        held = tr[early_stopping_rows(titanic.y[tr], titanic.task, seed=k)]
        rest = np.setdiff1d(tr, held)
        assert not va[held].any() and len(held) == pytest.approx(0.2 * len(tr), abs=2)
        # one binned Dataset of the fold's training rows; the early-stopping fit uses its subsets
        both = np.concatenate([rest, held])
        binned = lgb.Dataset(titanic.X.iloc[both].reset_index(drop=True), titanic.y[both], params=params).construct()
        dtrain, dvalid = binned.subset(np.arange(len(rest))), binned.subset(np.arange(len(rest), len(both)))
        booster = lgb.train(params, dtrain, rounds, valid_sets=[dvalid], callbacks=[lgb.early_stopping(early, verbose=False)])
        refit = int(np.ceil(booster.best_iteration * len(tr) / len(rest)))
        booster = lgb.train(params, binned, refit)
        oof[va] = booster.predict(titanic.X[va])
        best.append(refit)
    assert np.array_equal(res.oof, oof)
    assert res.params["best_iterations"] == best and len(set(best)) > 1  # per-fold rounds
    assert res.overall == pytest.approx(titanic.metric(titanic.y, oof))
    imp = res.extra_tables["feature_importance.csv"]
    assert set(imp["feature"]) == set(titanic.X.columns)
    assert list(imp.columns[:2]) == ["feature", "importance"] and imp["importance"].is_monotonic_decreasing
    assert sum("[cv] lgbm fold" in m for m in logs) == 5
    json.dumps(res.params)  # params.json must be plain JSON


@pytest.mark.parametrize(("rate", "rounds", "capped"), [(0.002, 20, 5), (0.3, 500, 0)])
def test_a_member_cut_short_by_its_round_cap_is_named_with_its_folds(titanic, rate, rounds, capped):
    # at a tiny learning rate the inner split's loss still falls at round 20 in every fold; at 0.3 early
    # stopping ends every fold long before 500 rounds, and nothing is said
    spec = {"type": "lightgbm", "params": {"learning_rate": rate, "n_estimators": rounds, "early_stopping_rounds": 10}}
    res = train_cv("lgbm", spec, titanic.X, titanic.y, titanic.X_test, titanic.folds, titanic.task,
                   titanic.metric, threads=1, log=lambda m: None)
    if capped:
        assert (res.params["capped_folds"], res.params["capped_at"]) == (capped, f"n_estimators = {rounds}")
        assert res.cap_note("lgbm") == (f"[cv] note: lgbm: still improving on its inner split when it reached "
                                        f"n_estimators = {rounds} in {capped} of 5 folds; alone it may score better "
                                        f"with a higher cap")
    else:
        assert "capped_folds" not in res.params and res.cap_note("lgbm") is None


# A plug-in that reports running into its cap (`capped_`) in the folds that train on row 0 (four of five),
# or in the one fold that holds row 0 out.
CAPPED = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, when_row0_trains=True):
        self.when_row0_trains = when_row0_trains

    def fit(self, X, y):
        trains_row0 = bool((X["rowid"] == 0).any())
        self.capped_ = "rounds = 9" if trains_row0 == self.when_row0_trains else None
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)

    def predict(self, X):
        return np.zeros(len(X), dtype=int)
'''


def test_the_cap_note_needs_most_folds_of_every_repeat_and_params_count_every_capped_fold(titanic, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "capped.py").write_text(CAPPED)

    def repeat(most: bool):
        return train_cv("c", {"type": "capped", "params": {"when_row0_trains": most}}, with_rowid(titanic.X),
                        titanic.y, with_rowid(titanic.X_test, 5000), titanic.folds, titanic.task, titanic.metric,
                        plugin_dir=plugins, log=lambda m: None)

    most, few = repeat(True), repeat(False)
    assert (most.params["capped_folds"], few.params["capped_folds"]) == (4, 1)
    assert most.cap_note("c") == ("[cv] note: c: still improving on its inner split when it reached rounds = 9 in 4 "
                                  "of 5 folds; alone it may score better with a higher cap")
    assert few.cap_note("c") is None  # one fold's luck
    # repeats averaged: their folds are counted together (4 + 1 of 10 is not most; 4 + 4 is)
    assert average_repeats([most, few], titanic.y, titanic.metric).cap_note("c") is None
    both = average_repeats([few, most, most], titanic.y, titanic.metric)
    assert both.params["capped_folds"] == 9 and "in 9 of 15 folds" in both.cap_note("c")


def test_sklearn_trainer_handles_categoricals_and_missing_values(titanic):
    assert titanic.X.isna().any().any() and any(str(t) == "category" for t in titanic.X.dtypes)
    spec = {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5},
            "preprocess": "auto"}
    res = train_cv("lr", spec, titanic.X, titanic.y, titanic.X_test, titanic.folds, titanic.task, titanic.metric,
                   log=lambda m: None)
    assert res.overall > 0.8 and res.test.shape == (len(titanic.X_test),)
    assert ((res.test > 0) & (res.test < 1)).all()
    assert res.params["params"]["C"] == 0.5 and res.params["params"]["preprocess"]["scale"] is True
    assert "feature_importance.csv" in res.extra_tables  # |coef| per one-hot column


def test_a_linear_model_with_splines_fits_a_curve_per_column_fitted_on_the_fold(titanic):
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from models import ModelContext, build_model
    from core.metrics import get_metric

    rng = np.random.default_rng(0)
    x = rng.exponential(3.0, 3000)
    p = np.where((x > 4.0) & (x < 6.0), 0.9, 0.2)
    y = (rng.random(3000) < p).astype(int)  # a bump: no one slope fits
    X = pd.DataFrame({"x": x, "flag": (rng.random(3000) < 0.5).astype(float),
                      "c": pd.Categorical(rng.choice(["a", "b"], 3000))})
    ctx = ModelContext(titanic.task, get_metric("roc_auc"))
    aucs = {}
    for mode in ("scale", "splines"):
        spec = {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression", "preprocess": mode}
        model = build_model("lr", spec, ctx).fit(X.iloc[:2000], y[:2000])
        aucs[mode] = roc_auc_score(y[2000:], model.predict_proba(X.iloc[2000:])[:, 1])
    best = roc_auc_score(y[2000:], p[2000:])  # the true probabilities' AUC: 0.705
    assert aucs["splines"] > best - 0.02 and aucs["scale"] < best - 0.05
    # the basis covers the column with many values, not the binary flag: x, flag, the indicator-free
    # one-hot of c (2), then x's 8 + 2 cubic basis columns
    assert list(model.feature_names_out_[-10:]) == [f"x_sp_{i}" for i in range(10)]
    assert not any(name.startswith("flag_sp") for name in model.feature_names_out_)
    res = train_cv("lr", spec, titanic.X, titanic.y, titanic.X_test, titanic.folds, titanic.task, titanic.metric,
                   log=lambda m: None)  # missing values and categoricals, through the CV loop
    assert res.overall > 0.8 and res.params["params"]["preprocess"]["splines"] == 8


def _frame(n, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    X["c"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    return X, rng


@pytest.mark.parametrize("spec", [
    {"type": "lightgbm", "params": {"n_estimators": 60}},
    {"type": "sklearn", "estimator": "sklearn.ensemble.ExtraTreesClassifier", "params": {"n_estimators": 30}},
])
def test_multiclass_predictions_are_probability_rows_in_class_order(spec):
    from core.metrics import get_metric
    from core.tasks import TaskInfo

    X, rng = _frame(400)
    y = np.digitize(X["x0"].to_numpy(), [-0.5, 0.5])
    folds = np.arange(400) % 4
    task = TaskInfo("multiclass", (0, 1, 2))
    res = train_cv("m", {"preprocess": "auto", **spec}, X, y, X.iloc[:50], folds, task, get_metric("log_loss"),
                   log=lambda m: None)
    assert res.oof.shape == (400, 3) and res.test.shape == (50, 3)
    np.testing.assert_allclose(res.oof.sum(axis=1), 1.0)
    assert (res.oof.argmax(axis=1) == y).mean() > 0.8


def test_rmsle_fits_the_log_target_and_predicts_the_original_scale():
    from core.metrics import get_metric
    from core.tasks import TaskInfo

    X, rng = _frame(500, seed=1)
    y = np.exp(1.0 + X["x0"].to_numpy() + 0.1 * rng.normal(size=500)) * 1000
    folds = np.arange(500) % 5
    res = train_cv("r", {"type": "lightgbm", "params": {"n_estimators": 200}}, X, y, X.iloc[:20], folds,
                   TaskInfo("regression"), get_metric("rmsle"), log=lambda m: None)
    assert res.overall < 0.3
    assert 0.5 < np.median(res.oof) / np.median(y) < 2.0  # original scale, not log1p


def test_regression_predictions_are_clipped_to_the_folds_training_range():
    """A linear model extrapolating on an outlying test row stays within the seen target range."""
    from core.metrics import get_metric
    from core.tasks import TaskInfo

    X, rng = _frame(300, seed=2)
    X = X.drop(columns="c")
    y = 3.0 * X["x0"].to_numpy() + 0.1 * rng.normal(size=300)
    X_test = X.iloc[:5].copy()
    X_test.loc[X_test.index[0], "x0"] = 100.0  # far outside training: Ridge would predict ~300
    folds = np.arange(300) % 5
    spec = {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge", "params": {}, "preprocess": "auto"}
    res = train_cv("r", spec, X, y, X_test, folds, TaskInfo("regression"), get_metric("rmse"), log=lambda m: None)
    assert res.test[0] <= y.max() + 1e-9 and res.test[0] > 0.9 * y.max()
    raw = train_cv("r", {**spec, "clip": False}, X, y, X_test, folds, TaskInfo("regression"), get_metric("rmse"),
                   log=lambda m: None)
    assert raw.test[0] > 100


def test_trim_outliers_refits_without_the_rows_the_first_fit_cannot_explain():
    """Gross label errors in training pull a linear fit; trimming drops exactly them and scores all rows."""
    from models._cv import inliers
    from core.metrics import get_metric
    from core.tasks import TaskInfo

    X, rng = _frame(400, seed=3)
    X = X.drop(columns="c")
    y = 2.0 * X["x0"].to_numpy() + 0.1 * rng.normal(size=400)
    corrupt = np.arange(0, 400, 40)  # 10 rows with a label far off the line
    y[corrupt] += 15.0
    folds = np.arange(400) % 5
    spec = {"type": "sklearn", "estimator": "sklearn.linear_model.LinearRegression", "params": {},
            "preprocess": "auto"}
    task, rmse = TaskInfo("regression"), get_metric("rmse")
    plain = train_cv("r", spec, X, y, X.iloc[:5], folds, task, rmse, log=lambda m: None)
    trimmed = train_cv("r", {**spec, "trim_outliers": 4.0}, X, y, X.iloc[:5], folds, task, rmse, log=lambda m: None)
    # the corrupt rows all sit in fold 0: its model trains on none of them, the others on all 10
    assert trimmed.params["trimmed_rows"] == [0, 10, 10, 10, 10]
    clean = np.setdiff1d(np.arange(400), corrupt)
    err = lambda p: np.sqrt(np.mean((p[clean] - y[clean]) ** 2))
    assert err(trimmed.oof) < 0.5 * err(plain.oof)
    assert len(trimmed.oof) == 400  # every row, corrupt ones included, still gets a prediction
    assert inliers(np.array([0.0, 0.1, -0.1, 0.05, 9.0]), 4.0).tolist() == [True, True, True, True, False]
    assert inliers(np.zeros(5), 4.0).all()  # no spread: nothing is an outlier
