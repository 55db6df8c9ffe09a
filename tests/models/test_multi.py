"""PerTarget: a model type trained once per target column of a multi-target task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.metrics import get_metric
from core.tasks import TaskInfo
from models import ModelContext, build_model, fit_model, predict_model, train_cv
from models._fit import fit_honest
from models._multi import PerTarget


@pytest.fixture(scope="module")
def cancer():
    frame = load_breast_cancer(as_frame=True).frame
    X = frame.drop(columns=["target", "worst radius", "worst texture"])
    labels = pd.DataFrame({"malignant": 1 - frame["target"], "big": (frame["worst radius"] > 17).astype(int),
                           "rough": (frame["worst texture"] > 30).astype(int)})
    return X.reset_index(drop=True), labels


def _logistic():
    return make_pipeline(StandardScaler(), LogisticRegression())


def test_per_target_fits_a_clone_per_column_like_single_fits(cancer):
    X, labels = cancer
    task = TaskInfo.from_target("multilabel", labels)
    y = task.encode(labels)
    model = PerTarget(_logistic(), task.column(), task.targets)
    fit_model(model, X, y)
    assert len(model.estimators_) == 3 and len({id(e) for e in model.estimators_}) == 3
    p = predict_model(model, X, task)
    assert p.shape == (len(X), 3)
    for j in range(3):
        alone = _logistic().fit(X, y[:, j])
        assert np.allclose(p[:, j], alone.predict_proba(X)[:, 1])
    assert model.predict(X).shape == (len(X), 3) and set(np.unique(model.predict(X))) <= {0, 1}


class _Recorder:
    """Records what each fit got (a model that stops early and takes weights and arrays)."""

    calls: list = []

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def get_params(self, deep=True):
        return {"alpha": self.alpha}

    def set_params(self, **params):
        self.alpha = params.get("alpha", self.alpha)
        return self

    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None, arrays=None, arrays_valid=None):
        _Recorder.calls.append(dict(n=len(X), y=np.asarray(y).copy(), y_valid=None if y_valid is None else
                                    np.asarray(y_valid).copy(), w=sample_weight, arrays=arrays,
                                    arrays_valid=arrays_valid))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X, arrays=None):
        return np.full(len(X), self.mean_)


def test_per_target_passes_each_column_validation_weights_and_arrays_through():
    _Recorder.calls = []
    rng = np.random.default_rng(0)
    X, y = pd.DataFrame({"a": rng.random(50)}), rng.random((50, 2))
    y_valid, w, seq = rng.random((10, 2)), rng.random(50), {"seq": rng.random((50, 3))}
    model = PerTarget(_Recorder(), TaskInfo("regression"), ("u", "v"))
    fit_model(model, X, y, X.iloc[:10], y_valid, sample_weight=w, arrays=seq, arrays_valid={"seq": seq["seq"][:10]})
    assert [np.array_equal(c["y"], y[:, j]) for j, c in enumerate(_Recorder.calls)] == [True, True]
    assert [np.array_equal(c["y_valid"], y_valid[:, j]) for j, c in enumerate(_Recorder.calls)] == [True, True]
    assert all(c["w"] is w and c["arrays"] is seq and c["arrays_valid"]["seq"].shape == (10, 3)
               for c in _Recorder.calls)
    assert np.allclose(model.predict(X), y.mean(axis=0))


def test_per_target_holds_out_each_columns_own_early_stopping_rows():
    """Without validation rows, each column's fit holds out rows stratified by that column's classes
    (fit_honest on the column's binary problem), as a single-target fold does."""
    _Recorder.calls = []
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.random(200)})
    y = np.column_stack([rng.random(200) < 0.5, rng.random(200) < 0.1]).astype(np.int64)
    task = TaskInfo("binary", (0, 1))
    model = PerTarget(_Recorder(), task, ("common", "rare"), seed=3)
    assert not model.wants_validation() and model.takes_sample_weight()
    fit_model(model, X, y)
    for j, call in enumerate(_Recorder.calls):
        single = _Recorder()
        _Recorder.calls, kept = [], _Recorder.calls
        fit_honest(single, X, y[:, j], task, seed=3 + j)
        expected, _Recorder.calls = _Recorder.calls[0], kept
        assert np.array_equal(call["y_valid"], expected["y_valid"]) and call["n"] == expected["n"]
        assert call["y_valid"].sum() == round(0.2 * y[:, j].sum())  # the column's positives, stratified


def test_a_label_of_one_value_in_the_training_rows_is_a_constant(cancer):
    X, labels = cancer
    y = np.column_stack([labels["malignant"], np.zeros(len(X), dtype=np.int64)])
    model = PerTarget(_logistic(), TaskInfo("binary", (0, 1)), ("malignant", "never"))
    model.fit(X, y)
    assert model.estimators_[1] is None and (model.predict_proba(X)[:, 1] == 0).all()


@pytest.mark.parametrize("spec", [{"type": "lightgbm", "params": {"n_estimators": 30}},
                                  {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                                   "params": {"max_iter": 3000}, "preprocess": "auto"}])
def test_build_wraps_a_single_target_model_type_and_the_cv_loop_predicts_n_by_m(cancer, spec):
    X, labels = cancer
    task = TaskInfo.from_target("multilabel", labels)
    metric = get_metric("roc_auc")
    model = build_model("m", spec, ModelContext(task, metric))
    assert isinstance(model, PerTarget) and model.task == task.column() and model.targets == task.targets
    y, folds = task.encode(labels), np.arange(len(X)) % 4
    result = train_cv("m", spec, X.iloc[:500], y[:500], X.iloc[500:], folds[:500], task, metric, log=lambda m: None)
    assert result.oof.shape == (500, 3) and result.test.shape == (len(X) - 500, 3)
    assert 0.9 < result.overall <= 1.0
    assert result.overall == pytest.approx(np.mean([metric(y[:500, j], result.oof[:, j]) for j in range(3)]))


def test_multiregression_under_the_cv_loop(cancer):
    X, _ = cancer
    frame = load_breast_cancer(as_frame=True).frame
    targets = pd.DataFrame({"radius": frame["worst radius"], "texture": frame["worst texture"]})
    task = TaskInfo.from_target("multiregression", targets)
    y = task.encode(targets)
    spec = {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge", "preprocess": "auto"}
    result = train_cv("ridge", spec, X, y, X.iloc[:20], np.arange(len(X)) % 5, task, get_metric("rmse"),
                      log=lambda m: None)
    assert result.oof.shape == (len(X), 2)
    assert all(np.sqrt(np.mean((result.oof[:, j] - y[:, j]) ** 2)) < 0.5 * y[:, j].std() for j in range(2))


def test_multiregression_trims_the_rows_a_column_cannot_explain_in_that_column(cancer):
    """trim_outliers on two target columns: gross label errors in one column are dropped by that column's own
    spread (the other column's is two hundred times smaller), and every row is still predicted."""
    from models._cv import inliers

    X = cancer[0].drop(columns=["worst smoothness"])
    frame = load_breast_cancer(as_frame=True).frame
    targets = pd.DataFrame({"smoothness": frame["worst smoothness"].to_numpy(),
                            "texture": frame["worst texture"].to_numpy()})
    corrupt = np.arange(0, len(X), 50)  # labels far off in the texture column only
    targets.loc[corrupt, "texture"] += 200.0
    task = TaskInfo.from_target("multiregression", targets)
    y, folds = task.encode(targets), np.arange(len(X)) % 5
    spec = {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge", "preprocess": "auto"}
    plain = train_cv("ridge", spec, X, y, X.iloc[:20], folds, task, get_metric("rmse"), log=lambda m: None)
    trimmed = train_cv("ridge", {**spec, "trim_outliers": 4.0}, X, y, X.iloc[:20], folds, task, get_metric("rmse"),
                       log=lambda m: None)
    # the corrupt rows all sit in fold 0: its models train on none of them and drop a few rows of their own,
    # the others drop the 12 too
    dropped = trimmed.params["trimmed_rows"]
    assert dropped[0] < 8 and all(d >= len(corrupt) + 3 for d in dropped[1:])
    clean = np.setdiff1d(np.arange(len(X)), corrupt)
    err = lambda p: np.sqrt(np.mean((p[clean, 1] - y[clean, 1]) ** 2))
    assert err(trimmed.oof) < 0.5 * err(plain.oof) and trimmed.oof.shape == (len(X), 2)
    residuals = np.column_stack([[0.0, 1.0, -1.0, 0.5, 0.2], [0.0, 0.01, -0.01, 9.0, 0.0]])
    assert inliers(residuals, 4.0).tolist() == [True, True, True, False, True]  # each column by its own spread
    assert inliers(np.column_stack([np.zeros(5), residuals[:, 0]]), 4.0).all()  # a column without spread


def test_a_fold_is_cut_short_when_any_target_columns_model_was(cancer):
    X, labels = cancer
    task = TaskInfo.from_target("multilabel", labels)
    metric = get_metric("log_loss")
    y, folds = task.encode(labels), np.arange(len(X)) % 4

    def cv(rate: float):
        spec = {"type": "lightgbm", "params": {"learning_rate": rate, "n_estimators": 20, "early_stopping_rounds": 5}}
        return train_cv("m", spec, X, y, X.iloc[:5], folds, task, metric, log=lambda m: None)

    crawling, quick = cv(0.002), cv(0.5)  # still improving at round 20 / stopped within a few rounds
    assert crawling.params["capped_folds"] == 4 and crawling.params["capped_at"] == "n_estimators = 20"
    assert "in 4 of 4 folds" in crawling.cap_note("m")
    assert "capped_folds" not in quick.params and quick.cap_note("m") is None
