"""benchmarks/nested_level2.py: AutoGluon's level 2 on the features, nested inside each fit, as a plug-in."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score, roc_auc_score

from core.metrics import get_metric
from core.tasks import TaskInfo
from models import train_cv
from models.testing import make_data

BINARY = TaskInfo("binary", (0, 1))
PLUGIN = "benchmarks.nested_level2.NestedLevel2"


def _cv(kind: str, X, y, info, metric: str, **params):
    folds = np.arange(len(y)) % 4
    spec = {"type": f"{PLUGIN}{kind}", "params": {"inner_folds": 3, **params}}
    return train_cv("level2", spec, X, y, X.iloc[:5], folds, info, get_metric(metric))


def test_it_learns_through_the_cv_loop_with_and_without_the_extra_trees():
    X, y = make_data(BINARY, n=400, categorical=True)
    for trees in (False, True):
        res = _cv("Classifier", X, y, BINARY, "roc_auc", trees=trees)
        assert roc_auc_score(y, res.oof) > 0.8 and res.test.shape == (5,)
    info = TaskInfo("regression")
    X, y = make_data(info, n=400, categorical=True)
    assert r2_score(y, _cv("Regressor", X, y, info, "rmse").oof) > 0.5


def test_level_2_learns_from_level_1_predictions_made_without_each_row():
    from benchmarks.nested_level2 import NestedLevel2Classifier

    X, _ = make_data(BINARY, n=300, categorical=True)
    y = np.random.default_rng(0).integers(0, 2, 300)  # a target nothing can learn
    model = NestedLevel2Classifier(inner_folds=3).fit(X, y)
    nested = roc_auc_score(y, model.level1_oof_[:, 0])
    in_sample = roc_auc_score(y, model._level1(model.inner_[0], X)[:, 0])  # an inner model on every row
    assert abs(nested - 0.5) < 0.1 < in_sample - 0.5  # what it learns from carries no memorised labels
    assert model.predict_proba(X.iloc[:7]).shape == (7, 2)
