"""Competition metrics, by name, with the direction of improvement and the prediction kind they need.

Predictions follow one convention everywhere: binary -> 1-D P(positive class); multiclass -> 2-D
(n_rows, n_classes) probabilities in class order; regression -> 1-D values in the target's scale.
True labels are encoded: binary 0/1, multiclass 0..k-1, regression floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.errors import UserError, did_you_mean


@dataclass(frozen=True)
class Metric:
    """A scoring function with its direction and the tasks it applies to."""

    name: str
    func: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    tasks: tuple[str, ...]
    needs_proba: bool

    def __call__(self, y_true, y_pred) -> float:
        return float(self.func(np.asarray(y_true), np.asarray(y_pred)))

    def better(self, a: float, b: float) -> bool:
        """True when score `a` is strictly better than `b`."""
        return a > b if self.greater_is_better else a < b

    @property
    def sign(self) -> float:
        """+1 if larger is better, -1 otherwise: `sign * score` is always to be maximised."""
        return 1.0 if self.greater_is_better else -1.0


def _labels(y_pred: np.ndarray) -> np.ndarray:
    if y_pred.ndim == 2:
        return y_pred.argmax(axis=1)
    return (y_pred >= 0.5).astype(int)


def _roc_auc(y, p):
    from sklearn.metrics import roc_auc_score

    if p.ndim == 2:
        return roc_auc_score(y, p, multi_class="ovr", labels=np.arange(p.shape[1]))
    return roc_auc_score(y, p)


def _log_loss(y, p):
    from sklearn.metrics import log_loss

    if p.ndim == 2:
        return log_loss(y, p, labels=np.arange(p.shape[1]))
    return log_loss(y, p, labels=[0, 1])


def _accuracy(y, p):
    return float(np.mean(_labels(p) == y)) if p.dtype.kind == "f" else float(np.mean(p == y))


def _rmse(y, p):
    return float(np.sqrt(np.mean((y.astype(float) - p.astype(float)) ** 2)))


def _rmsle(y, p):
    p = np.clip(p.astype(float), 0, None)
    return float(np.sqrt(np.mean((np.log1p(y.astype(float)) - np.log1p(p)) ** 2)))


def _mae(y, p):
    return float(np.mean(np.abs(y.astype(float) - p.astype(float))))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _roc_auc, True, ("binary", "multiclass"), True),
        Metric("log_loss", _log_loss, False, ("binary", "multiclass"), True),
        Metric("accuracy", _accuracy, True, ("binary", "multiclass"), False),
        Metric("rmse", _rmse, False, ("regression",), False),
        Metric("rmsle", _rmsle, False, ("regression",), False),
        Metric("mae", _mae, False, ("regression",), False),
    ]
}

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def get_metric(name: str) -> Metric:
    """Look a metric up by name; unknown names raise UserError with a suggestion."""
    try:
        return METRICS[name]
    except KeyError:
        raise UserError(f"unknown metric {name!r}{did_you_mean(name, tuple(METRICS))}") from None
