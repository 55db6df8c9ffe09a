"""check_model: every built-in model passes; models that break the contract fail with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from models import MODEL_TYPES, ModelContext, build_model
from models.testing import ModelCheckError, check_model, make_arrays, make_data
from core.metrics import get_metric
from core.tasks import TASKS, TaskInfo

INFOS = {"binary": TaskInfo("binary", (0, 1)), "multiclass": TaskInfo("multiclass", (0, 1, 2)),
         "regression": TaskInfo("regression")}

# Every built-in model type, in the configurations the pipeline uses (one scikit-learn estimator per family);
# the nets read the array inputs of `make_arrays` ("image", "tokens") where they take one.
TINY = {"epochs": 2, "batch_size": 32}
CNN = {"type": "densenet", "params": {**TINY, "growth_rate": 4, "blocks": [1, 1]}}
RNN = {"type": "rnn", "params": {**TINY, "units": 8, "embedding_dim": 8, "head_units": 8}}
CATBOOST = {"type": "catboost", "params": {"n_estimators": 30}}
XGBOOST = {"type": "xgboost", "params": {"n_estimators": 30}}
BUILT_INS = {
    "binary": [{"type": "lightgbm", "params": {"n_estimators": 50}}, CATBOOST, XGBOOST,
               {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression"},
               {"type": "sklearn", "estimator": "sklearn.ensemble.ExtraTreesClassifier", "params": {"n_estimators": 20}},
               {"type": "sklearn", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier", "preprocess": "none"},
               {"type": "mlp", "params": {"cycles": 2, "epochs": 6, "snapshots": 2}},
               CNN, RNN, {"type": "net", "params": {**TINY, "layers": [{"type": "dense", "units": 16}]}}],
    "multiclass": [{"type": "lightgbm", "params": {"n_estimators": 50}}, CATBOOST, XGBOOST,
                   {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression"},
                   {"type": "sklearn", "estimator": "sklearn.neighbors.KNeighborsClassifier"},
                   {"type": "mlp", "params": {"cycles": 2, "epochs": 6, "snapshots": 2}},
                   {"type": "mlp", "params": {"cycles": 2, "epochs": 6, "snapshots": 2, "heads": 3}},
                   CNN, {"type": "rnn", "params": {**RNN["params"], "inputs": ["tokens", "table"]}},
                   {"type": "net", "params": {**TINY, "inputs": ["image"], "layers": [
                       {"type": "conv2d", "filters": 4}, {"type": "batchnorm"}, {"type": "global_avgpool"}]}}],
    "regression": [{"type": "lightgbm", "params": {"n_estimators": 50}}, CATBOOST, XGBOOST,
                   {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge"},
                   {"type": "sklearn", "estimator": "sklearn.ensemble.ExtraTreesRegressor", "params": {"n_estimators": 20}},
                   {"type": "mlp", "params": {"cycles": 2, "epochs": 6, "snapshots": 2}},
                   {"type": "mlp", "params": {"cycles": 2, "epochs": 6, "snapshots": 2, "heads": 2}},
                   CNN, RNN, {"type": "net", "params": {**TINY, "inputs": ["tokens"], "layers": [
                       {"type": "embedding", "output_dim": 8}, {"type": "lstm", "units": 8}]}}],
}
CASES = [(task, spec) for task, specs in BUILT_INS.items() for spec in specs]


def test_every_registered_type_is_covered():
    assert {spec["type"] for _, spec in CASES} == set(MODEL_TYPES)


@pytest.mark.parametrize("task,spec", CASES, ids=[f"{t}-{s.get('estimator', s['type']).split('.')[-1]}" for t, s in CASES])
def test_built_in_models_pass_the_conformance_check(task, spec):
    info = INFOS[task]
    X, y = make_data(info, categorical=True)  # categoricals and missing values, like the feature frames
    arrays = make_arrays(y)
    ctx = ModelContext(info, get_metric(TASKS[task].default_metric), threads=1,
                       arrays={k: (v, v) for k, v in arrays.items()})
    model = build_model("m", {"params": {}, "preprocess": "auto", **spec}, ctx)
    check_model(model, info, X=X, y=y, arrays=arrays)


class MutatesParams(ClassifierMixin, BaseEstimator):
    """Writes fitted state into a constructor parameter."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.C = self.C * 2
        self.model_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


class UnnormalisedProba(MutatesParams):
    """Probabilities whose rows do not sum to 1."""

    def fit(self, X, y):
        self.model_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X) * 0.8


class BatchDependent(UnnormalisedProba):
    """Normalises predictions over the batch: a row's prediction depends on its neighbours."""

    def predict_proba(self, X):
        p = self.model_.predict_proba(X)[:, 1]
        p = (p - p.min()) / (p.max() - p.min())
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("model,message", [
    (MutatesParams(), r"fit\(\) changed constructor parameter 'C' \(from 1\.0 to 2\.0\)"),
    (UnnormalisedProba(), r"predict_proba\(\) rows do not sum to 1"),
    (BatchDependent(), r"depends on the other rows"),
])
def test_check_model_catches_broken_models(model, message):
    with pytest.raises(ModelCheckError, match=message):
        check_model(model, "binary")


def test_check_model_names_a_missing_predict_proba():
    from sklearn.svm import SVC

    with pytest.raises(ModelCheckError, match=r"has no predict_proba"):
        check_model(SVC(), "binary")
    check_model(SVC(), "binary", needs_proba=False)  # fine for a label metric such as accuracy


def test_a_plain_sklearn_estimator_passes():
    check_model(LogisticRegression(), "multiclass")


class ArraysInFitOnly(ClassifierMixin, BaseEstimator):
    """Reads an image array in fit but cannot be given one to predict with."""

    def fit(self, X, y, arrays=None):
        self.classes_ = np.unique(y)
        self.mean_ = arrays["image"].mean()
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


class ImageMean(ArraysInFitOnly):
    """A tiny array model that honours the contract: P(class 1) from each image's mean brightness."""

    def predict_proba(self, X, arrays=None):
        p = 1 / (1 + np.exp(-(arrays["image"].mean(axis=(1, 2, 3)) - self.mean_) * 50))
        return np.column_stack([1 - p, p])

    def predict(self, X, arrays=None):
        return self.classes_[(self.predict_proba(X, arrays=arrays)[:, 1] > 0.5).astype(int)]


def test_check_model_covers_array_inputs():
    with pytest.raises(ModelCheckError, match=r"fit\(\) takes arrays but predict_proba\(\) does not"):
        check_model(ArraysInFitOnly(), "binary")
    check_model(ImageMean(), "binary")  # arrays default to make_arrays(y)
    X, y = make_data("binary", n=100)
    with pytest.raises(ModelCheckError, match=r"array 'image' has 50 rows, X has 100"):
        check_model(ImageMean(), "binary", X=X, y=y, arrays={"image": make_arrays(y)["image"][:50]})
