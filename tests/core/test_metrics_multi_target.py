"""Multi-target metrics: the column-wise mean of scikit-learn's per-column scores (Kaggle's convention),
weighted too; a metric that does not fit a multi-target task says so."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from core.metrics import METRICS

N, M = 300, 4


def _multilabel(seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random((N, M)) < [0.5, 0.3, 0.1, 0.05]).astype(np.int64)
    y[:2] = [[0] * M, [1] * M]  # both classes in every column
    p = np.clip(0.35 * y + rng.random((N, M)) * 0.65, 0, 1)
    return y, p, rng.random(N) * 3


def _regression(seed: int):
    rng = np.random.default_rng(seed)
    y = rng.gamma(2.0, [1.0, 10.0, 100.0], size=(N, 3))
    return y, np.clip(y + rng.normal(0, [0.5, 5.0, 30.0], size=(N, 3)), 0, None), rng.random(N) * 3


def _rmse(y, p, w=None):
    return np.sqrt(skm.mean_squared_error(y, p, sample_weight=w))


def _rmsle(y, p, w=None):
    return np.sqrt(skm.mean_squared_log_error(y, p, sample_weight=w))


def _accuracy(y, p, w=None):
    return skm.accuracy_score(y, (p >= 0.5).astype(int), sample_weight=w)


REFERENCES = {  # metric -> (data, scikit-learn's score of one column)
    "roc_auc": (_multilabel, skm.roc_auc_score),
    "log_loss": (_multilabel, skm.log_loss),
    "pr_auc": (_multilabel, skm.average_precision_score),
    "accuracy": (_multilabel, _accuracy),
    "rmse": (_regression, _rmse),
    "rmsle": (_regression, _rmsle),
    "mae": (_regression, skm.mean_absolute_error),
    "r2": (_regression, skm.r2_score),
}


@pytest.mark.parametrize("name", REFERENCES)
@pytest.mark.parametrize("seed", [0, 1])
def test_column_wise_mean_of_sklearn(name, seed):
    data, reference = REFERENCES[name]
    y, p, w = data(seed)
    metric = METRICS[name]
    expected = np.mean([reference(y[:, j], p[:, j]) for j in range(y.shape[1])])
    assert metric(y, p) == pytest.approx(expected, rel=1e-9)
    assert metric.objective(y, p) == pytest.approx(expected, rel=1e-9)  # the ensemble's fast form
    weighted = np.mean([reference(y[:, j], p[:, j], sample_weight=w) if reference not in (_rmse, _rmsle, _accuracy)
                        else reference(y[:, j], p[:, j], w) for j in range(y.shape[1])])
    assert metric(y, p, sample_weight=w) == pytest.approx(weighted, rel=1e-9)


def test_mcrmse_is_the_mean_of_column_rmses_not_the_rmse_of_all_cells():
    y, p, _ = _regression(0)
    assert METRICS["rmse"](y, p) != pytest.approx(float(np.sqrt(np.mean((y - p) ** 2))), rel=1e-3)


def test_single_target_scores_are_unchanged():
    y, p, _ = _multilabel(0)
    assert METRICS["roc_auc"](y[:, 0], p[:, 0]) == pytest.approx(skm.roc_auc_score(y[:, 0], p[:, 0]))


@pytest.mark.parametrize("name, task", [("f1", "multilabel"), ("qwk", "multilabel"), ("roc_auc_ovr", "multilabel"),
                                        ("qwk", "multiregression"), ("roc_auc", "multiregression"),
                                        ("rmse", "multilabel")])
def test_metrics_that_do_not_fit_a_multi_target_task_do_not_name_it(name, task):
    assert task not in METRICS[name].tasks
