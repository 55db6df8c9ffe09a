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
class TargetTransform:
    """A monotone map models are fitted in (`forward` on the target) and predictions come back through."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


LOG1P = TargetTransform("log1p", np.log1p, np.expm1)


@dataclass(frozen=True)
class Metric:
    """A scoring function with what every layer needs to know about it, so nothing asks for its name.

    `stop_on`: the smooth loss a model stops early on for this metric ("log_loss", "rmse" or "mae");
    `target_transform`: what regression models fit (rmsle: log1p(y), predictions mapped back);
    `non_negative`: targets and predictions must be >= 0; `rank_based`: only the order of the
    predictions matters (rank averaging is a valid blend); `fast`: a vectorised, numerically
    equivalent form for the ensemble's search loops (None: the metric itself)."""

    name: str
    func: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    tasks: tuple[str, ...]
    needs_proba: bool
    stop_on: str
    target_transform: TargetTransform | None = None
    non_negative: bool = False
    rank_based: bool = False
    fast: Callable[[np.ndarray, np.ndarray], float] | None = None

    def __call__(self, y_true, y_pred) -> float:
        return float(self.func(np.asarray(y_true), np.asarray(y_pred)))

    def objective(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The score by the fast form when there is one (search loops); final scores use `__call__`."""
        return self.fast(y_true, y_pred) if self.fast is not None else self(y_true, y_pred)

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


# ---- fast forms for search loops (same values, no input checks) ------------------------------------
def _fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    if p.ndim == 2:
        return float(_roc_auc(y, p))
    from scipy.stats import rankdata

    pos = y == 1
    n_pos, n_neg = pos.sum(), len(y) - pos.sum()
    return float((rankdata(p)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _fast_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    if p.ndim == 1:
        q = np.clip(np.where(y == 1, p, 1.0 - p), 1e-15, 1.0)
    else:
        q = np.clip(p[np.arange(len(y)), y] / p.sum(axis=1), 1e-15, 1.0)
    return float(-np.mean(np.log(q)))


_CLASSIFICATION, _REGRESSION = ("binary", "multiclass"), ("regression",)

# The metric registry: adding a metric is one entry here.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _roc_auc, True, _CLASSIFICATION, True, "log_loss", rank_based=True, fast=_fast_auc),
        Metric("log_loss", _log_loss, False, _CLASSIFICATION, True, "log_loss", fast=_fast_log_loss),
        Metric("accuracy", _accuracy, True, _CLASSIFICATION, False, "log_loss"),
        Metric("rmse", _rmse, False, _REGRESSION, False, "rmse",
               fast=lambda y, p: float(np.sqrt(np.mean((y - p) ** 2)))),
        Metric("rmsle", _rmsle, False, _REGRESSION, False, "rmse", target_transform=LOG1P, non_negative=True,
               fast=lambda y, p: float(np.sqrt(np.mean((np.log1p(y) - np.log1p(np.clip(p, 0, None))) ** 2)))),
        Metric("mae", _mae, False, _REGRESSION, False, "mae", fast=lambda y, p: float(np.mean(np.abs(y - p)))),
    ]
}



def get_metric(name: str) -> Metric:
    """Look a metric up by name; unknown names raise UserError with a suggestion."""
    try:
        return METRICS[name]
    except KeyError:
        raise UserError(f"unknown metric {name!r}{did_you_mean(name, tuple(METRICS))}") from None
