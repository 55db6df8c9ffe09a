"""Competition metrics, by name, with the direction of improvement and the prediction kind they need.

Predictions follow one convention everywhere: binary -> 1-D P(positive class); multiclass -> 2-D
(n_rows, n_classes) probabilities in class order; regression -> 1-D values in the target's scale.
True labels are encoded: binary 0/1, multiclass 0..k-1, regression floats.

Three sources, one lookup (`get_metric(name, folder)`): the built-ins in `METRICS`; the families in
`FAMILIES`, named `<family>@<K>` (`map@3`); and a competition's own, every `Metric` defined at the top
level of `competition/<name>/metrics.py` (`competition_metrics`).

Metrics that score decisions made from predictions (f1: a threshold on P(positive); qwk on a
regression model: thresholds that round values into classes) never choose the decision on the rows
they score: the scored rows are split into `DECISION_PARTS` fixed parts and each part's rows are
decided by a threshold fitted on the other parts' rows (`cross_fitted`). The submission's decision is
fitted on every OOF row (`Metric.decide`) and applied to the test predictions.

Per-row weights (`[competition] weight`): `metric(y, p, sample_weight=w)` scores by the metric's
`weighted` form, scikit-learn's metric with `sample_weight` (or the weighted mean for the errors);
a metric without one (f1 and qwk, whose decisions are fitted out of fold, map@K, a competition's
metric that defines none) refuses weights with one line (`check_weighted`).

Multi-target tasks (multilabel, multiregression: labels and predictions (n_rows, n_targets)) are scored
column by column and the columns' scores averaged with equal weight, as Kaggle scores them: mean
column-wise ROC AUC (Jigsaw toxic comments), mean column-wise log loss, MCRMSE (the mean of the
columns' RMSEs, not the RMSE of all cells), mean MAE, mean R2, mean accuracy (P(1) >= 0.5), mean
average precision. A built-in does this when its `tasks` name the multi-target kind (`per_column`);
one that does not (f1, qwk, map@K, roc_auc_ovr) is refused for it with one line by config validation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.errors import UserError, did_you_mean, exception_line


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
    # (OOF labels, OOF predictions) -> a function turning predictions into the decisions the metric
    # scores (0/1 for f1, class values for qwk on a regression model); the submit stage fits it on
    # every OOF row and applies it to the test predictions. None: predictions are submitted as they are
    decide: Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None
    source: str = ""  # the file a competition's metric is defined in ("" for a built-in)
    # (y_true, y_pred, sample_weight) -> the score with per-row weights ([competition] weight); None:
    # the metric takes no weights (check_weighted refuses a weighted competition)
    weighted: Callable[[np.ndarray, np.ndarray, np.ndarray], float] | None = None
    # the score rewards calibrated probabilities (log loss), so the ensemble fits a temperature
    # (models.ensemble.calibrated); order-only and decision metrics do not see one
    calibrate: bool = False
    # the scores it can give (AUC 0..1, a loss >= 0): a public leaderboard score outside them is a typo
    bounds: tuple[float, float] = (-np.inf, np.inf)

    def __reduce__(self):
        # a metric travels to worker processes by name (and file): a competition's metrics.py is not
        # an importable module there, so it is loaded again from its file
        return (_load_metric, (self.name, self.source))

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        """The score; with `sample_weight` (one weight per row, or None) the weighted form's. A score the rows
        cannot define (AUC on one class) is NaN without scikit-learn's warning: callers say it in their words."""
        from sklearn.exceptions import UndefinedMetricWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            if sample_weight is None:
                return self._number(self.func, np.asarray(y_true), np.asarray(y_pred))
            self.check_weighted()
            return self._number(self.weighted, np.asarray(y_true), np.asarray(y_pred),
                                np.asarray(sample_weight, dtype=np.float64))

    def _number(self, func: Callable, *args) -> float:
        """func(*args) as a float; a competition's own metric that fails or returns no number is the
        user's code: a UserError naming its file, not an internal error."""
        if not self.source:
            return float(func(*args))
        try:
            return float(func(*args))
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure of the user's function is theirs to fix
            raise UserError(f"{self.source}: metric {self.name!r} failed ({exception_line(exc)}); it gets the true "
                            f"values and the predictions as NumPy arrays and returns one number (--debug for the "
                            f"traceback)") from exc

    def objective(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
        """The score by the fast form when there is one (search loops); final scores use `__call__`.
        Weighted scores have no fast form: `sample_weight` goes to `__call__`."""
        if sample_weight is not None:
            return self(y_true, y_pred, sample_weight)
        return self._number(self.fast, y_true, y_pred) if self.fast is not None else self(y_true, y_pred)

    def check_target(self, y, *, classification: bool) -> None:
        """UserError unless the metric can score this target (a non-negative metric, negative values)."""
        if self.non_negative and not classification:
            lowest = float(np.nanmin(np.asarray(y, dtype=np.float64)))
            if lowest < 0:
                raise UserError(f"metric {self.name} needs a target >= 0, found {lowest:g}; use rmse or mae")

    def check_weighted(self) -> None:
        """UserError unless the metric can score with per-row weights."""
        if self.weighted is None:
            weighted = ", ".join(m.name for m in METRICS.values() if m.weighted is not None)
            raise UserError(f"metric {self.name!r} takes no sample weights, which competition.weight gives; remove "
                            f"competition.weight, or use a metric that does ({weighted}"
                            f"{'' if not self.source else ', or a weighted= form in ' + self.source})")

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


def _r2(y, p):
    y, p = y.astype(float), p.astype(float)
    total = np.sum((y - y.mean()) ** 2)
    residual = np.sum((y - p) ** 2)
    if total == 0:  # scikit-learn's convention for a constant target
        return 1.0 if residual == 0 else 0.0
    return float(1.0 - residual / total)


def _pr_auc(y, p):
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))


def _roc_auc_ovr(y, p):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(p.shape[1])))


# ---- decisions fitted out of fold ---------------------------------------------------------------
DECISION_PARTS = 5  # parts of the scored rows; each is decided by what the other parts' rows chose


def cross_fitted(y: np.ndarray, p: np.ndarray, fit: Callable[[np.ndarray, np.ndarray], Any]) -> np.ndarray:
    """Decisions for every row, each made by `fit(y, p)` of the other parts' rows (never its own).

    The rows are split into `DECISION_PARTS` parts by a fixed permutation (seed 0), so a score is
    reproducible; fewer rows than 2 per part use fewer parts (at least 2)."""
    n = len(y)
    parts = max(2, min(DECISION_PARTS, n // 2))
    part = np.empty(n, dtype=np.int64)
    part[np.random.default_rng(0).permutation(n)] = np.arange(n) % parts
    out = np.empty(n, dtype=np.float64)
    for k in range(parts):
        own = part == k
        out[own] = fit(y[~own], p[~own])(p[own])
    return out


def f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold on P(positive) maximising F1 on (y, p): rows with p > threshold are positive; the
    midpoint between the two predictions it separates (-inf: every row positive)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order].astype(float)
    tp = np.cumsum(ys)
    f1 = 2 * tp / (np.arange(1, len(ys) + 1) + ys.sum())
    last = np.r_[ps[1:] != ps[:-1], True]  # a threshold never splits tied predictions
    best = int(np.flatnonzero(last)[np.argmax(f1[last])])
    return float((ps[best] + ps[best + 1]) / 2) if best + 1 < len(ps) else -np.inf


def _f1_decide(y, p):
    t = f1_threshold(y, p) if len(np.unique(y)) > 1 else 0.5
    return lambda q: (np.asarray(q) > t).astype(np.float64)


def _f1(y, p):
    from sklearn.metrics import f1_score

    return float(f1_score(y.astype(int), cross_fitted(y, p.astype(float), _f1_decide).astype(int), zero_division=0))


def quadratic_kappa(y: np.ndarray, pred: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights over the sorted union of the labels (scikit-learn's
    `cohen_kappa_score(weights="quadratic")`)."""
    labels, codes = np.unique(np.concatenate([y, pred]), return_inverse=True)
    m, n = len(labels), len(y)
    a, b = codes[:n], codes[n:]
    observed = np.bincount(a * m + b, minlength=m * m).reshape(m, m).astype(float)
    expected = np.outer(np.bincount(a, minlength=m), np.bincount(b, minlength=m)) / n
    w = (np.arange(m)[:, None] - np.arange(m)[None, :]) ** 2
    denominator = float((w * expected).sum())
    return 1.0 - float((w * observed).sum()) / denominator if denominator else 0.0


def kappa_thresholds(y: np.ndarray, p: np.ndarray, *, passes: int = 2, grid: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(classes, thresholds) rounding regression predictions into the classes of `y` for the best
    quadratic kappa on (y, p): starting at the midpoints between classes, each threshold in turn moved
    to the best of `grid` quantiles of p between its neighbours, `passes` times."""
    classes = np.unique(y)
    t = (classes[1:] + classes[:-1]) / 2.0
    if len(classes) < 2:
        return classes, t
    for _ in range(passes):
        for j in range(len(t)):
            low = t[j - 1] if j else -np.inf
            high = t[j + 1] if j + 1 < len(t) else np.inf
            inside = p[(p > low) & (p < high)]
            candidates = np.unique(np.r_[t[j], np.quantile(inside, np.linspace(0, 1, grid))]) if len(inside) else [t[j]]
            scores = []
            for c in candidates:
                trial = t.copy()
                trial[j] = c
                scores.append(quadratic_kappa(y, classes[np.searchsorted(trial, p, side="right")]))
            t[j] = candidates[int(np.argmax(scores))]
    return classes, t


def _qwk_decide(y, p):
    if p.ndim == 2:  # class probabilities: the submission's label is the most probable class already
        return lambda q: np.asarray(q)
    classes, t = kappa_thresholds(y.astype(float), p.astype(float))
    return lambda q: classes[np.searchsorted(t, np.asarray(q, dtype=float), side="right")].astype(np.float64)


def _qwk(y, p):
    if p.ndim == 2:  # multiclass probabilities: the most probable class
        return quadratic_kappa(y, p.argmax(axis=1))
    return quadratic_kappa(y.astype(float), cross_fitted(y.astype(float), p.astype(float), _qwk_decide))


def map_at_k(k: int) -> "Metric":
    """Mean average precision at k of the classes ranked by probability, one true class per row
    (Kaggle's MAP@K): 1 / rank of the true class when it is among the top k, else 0."""
    def score(y, p):
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        hits = top == np.asarray(y).reshape(-1, 1)
        return float(np.mean((hits / np.arange(1, top.shape[1] + 1)).sum(axis=1)))

    return Metric(f"map@{k}", score, True, ("multiclass",), True, "log_loss", bounds=_UNIT)


# ---- fast forms for search loops (same values, no input checks) ------------------------------------
def _fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Binary ROC AUC as the Mann-Whitney statistic: the positives' rank sum, ties at their average rank
    (scipy's `rankdata` arithmetic, the same value to the bit, a third of its time on a few hundred rows:
    the ensemble's weight searches call it thousands of times). The sort need not be stable: every entry of
    a run of ties gets the run's average rank, whatever their order, and numpy's quicksort argsort is 4x
    faster than its stable one on 6,400 rows (0.055 against 0.23 ms)."""
    if p.ndim == 2:
        return float(_roc_auc(y, p))
    if np.isnan(p).any():
        return float("nan")
    sorter = np.argsort(p)
    ordered = p[sorter]
    starts = np.empty(len(p), dtype=bool)  # where a run of equal predictions starts
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    run = np.cumsum(starts)
    bounds = np.append(np.flatnonzero(starts), len(p))
    average_rank = 0.5 * (bounds[run] + bounds[run - 1] + 1)
    pos = y[sorter] == 1
    n_pos = pos.sum()
    n_neg = len(y) - n_pos
    return float((average_rank[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _fast_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    if p.ndim == 1:
        q = np.clip(np.where(y == 1, p, 1.0 - p), 1e-15, 1.0)
    else:
        q = np.clip(p[np.arange(len(y)), y] / p.sum(axis=1), 1e-15, 1.0)
    return float(-np.mean(np.log(q)))


# ---- weighted forms: scikit-learn's metric with sample_weight, the weighted mean for the errors ----
def _w_roc_auc(y, p, w):
    from sklearn.metrics import roc_auc_score

    if p.ndim == 2:
        return roc_auc_score(y, p, multi_class="ovr", labels=np.arange(p.shape[1]), sample_weight=w)
    return roc_auc_score(y, p, sample_weight=w)


def _w_log_loss(y, p, w):
    from sklearn.metrics import log_loss

    return log_loss(y, p, labels=np.arange(p.shape[1]) if p.ndim == 2 else [0, 1], sample_weight=w)


def _w_accuracy(y, p, w):
    return float(np.average((_labels(p) if p.dtype.kind == "f" else p) == y, weights=w))


def _w_r2(y, p, w):
    from sklearn.metrics import r2_score

    return float(r2_score(y.astype(float), p.astype(float), sample_weight=w))


def _w_pr_auc(y, p, w):
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p, sample_weight=w))


def _w_roc_auc_ovr(y, p, w):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(p.shape[1]),
                               sample_weight=w))


def _w_rmse(y, p, w):
    return float(np.sqrt(np.average((y.astype(float) - p.astype(float)) ** 2, weights=w)))


def _w_rmsle(y, p, w):
    p = np.clip(p.astype(float), 0, None)
    return float(np.sqrt(np.average((np.log1p(y.astype(float)) - np.log1p(p)) ** 2, weights=w)))


def _w_mae(y, p, w):
    return float(np.average(np.abs(y.astype(float) - p.astype(float)), weights=w))


def per_column(func: Callable | None) -> Callable | None:
    """A metric function (y, p, *weights) that scores a multi-target task's (n, m) labels and
    predictions column by column and returns the mean of the m scores (each column weighs the same,
    Kaggle's column-wise average); 1-D inputs are scored as they are."""
    if func is None:
        return None

    def score(y, p, *weights):
        y, p = np.asarray(y), np.asarray(p)
        if y.ndim == 2:
            return float(np.mean([func(y[:, j], p[:, j], *weights) for j in range(y.shape[1])]))
        return func(y, p, *weights)

    return score


_CLASSIFICATION, _REGRESSION = ("binary", "multiclass", "multilabel"), ("regression", "multiregression")
_UNIT, _LOSS = (0.0, 1.0), (0.0, np.inf)  # the bounds of a share or an area; of a loss or an error

# The metric registry: adding a metric is one entry here.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", _roc_auc, True, _CLASSIFICATION, True, "log_loss", rank_based=True, fast=_fast_auc,
               weighted=_w_roc_auc, bounds=_UNIT),
        Metric("log_loss", _log_loss, False, _CLASSIFICATION, True, "log_loss", fast=_fast_log_loss,
               weighted=_w_log_loss, calibrate=True, bounds=_LOSS),
        Metric("accuracy", _accuracy, True, _CLASSIFICATION, False, "log_loss", weighted=_w_accuracy, bounds=_UNIT),
        Metric("rmse", _rmse, False, _REGRESSION, False, "rmse",
               fast=lambda y, p: float(np.sqrt(np.mean((y - p) ** 2))), weighted=_w_rmse, bounds=_LOSS),
        Metric("rmsle", _rmsle, False, _REGRESSION, False, "rmse", target_transform=LOG1P, non_negative=True,
               fast=lambda y, p: float(np.sqrt(np.mean((np.log1p(y) - np.log1p(np.clip(p, 0, None))) ** 2))),
               weighted=_w_rmsle, bounds=_LOSS),
        Metric("mae", _mae, False, _REGRESSION, False, "mae", fast=lambda y, p: float(np.mean(np.abs(y - p))),
               weighted=_w_mae, bounds=_LOSS),
        Metric("r2", _r2, True, _REGRESSION, False, "rmse", weighted=_w_r2, bounds=(-np.inf, 1.0)),
        Metric("f1", _f1, True, ("binary",), True, "log_loss", decide=_f1_decide, bounds=_UNIT),
        Metric("qwk", _qwk, True, ("multiclass", "regression"), False, "log_loss", decide=_qwk_decide,
               bounds=(-1.0, 1.0)),
        Metric("pr_auc", _pr_auc, True, ("binary", "multilabel"), True, "log_loss", rank_based=True, weighted=_w_pr_auc,
               bounds=_UNIT),
        Metric("roc_auc_ovr", _roc_auc_ovr, True, ("multiclass",), True, "log_loss", weighted=_w_roc_auc_ovr,
               bounds=_UNIT),
    ]
}

# Metrics that score a multi-target task column by column (their tasks name it): func, fast and weighted
# forms averaged over the target columns.
METRICS = {name: replace(m, func=per_column(m.func), fast=per_column(m.fast), weighted=per_column(m.weighted))
           if {"multilabel", "multiregression"} & set(m.tasks) else m for name, m in METRICS.items()}

# Metric families named `<family>@<K>` (K a positive integer): `map@3`.
FAMILIES: dict[str, Callable[[int], Metric]] = {"map": map_at_k}

# What a competition metric's `stop_on` may name: a smooth loss the models know, or "metric" (LightGBM
# stops on the metric itself; the other boosters on their default loss).
STOP_ON = ("log_loss", "rmse", "mae", "metric")



def _family(name: str) -> Metric | None:
    family, at, k = name.partition("@")
    if not at or family not in FAMILIES:
        return None
    if not k.isdigit() or int(k) < 1:
        raise UserError(f"metric {name!r}: K in {family}@K must be a positive integer, e.g. {family}@3")
    return FAMILIES[family](int(k))


def competition_metrics(folder: Path | str | None) -> dict[str, Metric]:
    """The metrics a competition defines: every `Metric` at the top level of `<folder>/metrics.py`
    ({} without the file). A name that is a built-in's, or a value that is not a well-formed Metric,
    -> UserError naming the file."""
    if folder is None or not (Path(folder) / "metrics.py").is_file():
        return {}
    from core.params import load_module_file

    path = Path(folder) / "metrics.py"
    module = load_module_file(path, prefix="pipeline_metrics", what="metrics file")
    found: dict[str, Metric] = {}
    defined: dict[str, Metric] = {}  # as the file defines them (one object under two names is one metric)
    for value in vars(module).values():
        if not isinstance(value, Metric):
            continue
        if value.name in defined:
            if defined[value.name] is not value:
                raise UserError(f"{path}: two metrics are named {value.name!r}; give each its own name")
            continue
        defined[value.name] = value
        if value.name in METRICS or _family_name(value.name):
            raise UserError(f"{path}: metric {value.name!r} is a built-in's name; give yours another name")
        if value.stop_on not in STOP_ON:
            raise UserError(f"{path}: metric {value.name!r} has stop_on = {value.stop_on!r}; use one of "
                            f"{', '.join(STOP_ON)}")
        from core.tasks import TASKS

        unknown = [t for t in value.tasks if t not in TASKS]
        if unknown or not value.tasks:
            raise UserError(f"{path}: metric {value.name!r} has tasks {value.tasks!r}; name some of "
                            f"{', '.join(map(repr, TASKS))}")
        found[value.name] = replace(value, source=str(path.resolve()))
    if not found:
        raise UserError(f"{path}: defines no metric; define e.g. `mine = Metric('mine', func, True, "
                        f"('binary',), True, 'log_loss')` (core.metrics.Metric) at the top level")
    return found


def _family_name(name: str) -> bool:
    family, at, _ = name.partition("@")
    return bool(at) and family in FAMILIES


def metric_names(folder: Path | str | None = None) -> tuple[str, ...]:
    """Every metric name `get_metric` knows for a competition folder (families as `<family>@K`)."""
    return (*METRICS, *(f"{f}@K" for f in FAMILIES), *competition_metrics(folder))


def get_metric(name: str, folder: Path | str | None = None) -> Metric:
    """Look a metric up by name: a built-in, a family member (`map@3`), or one the competition's
    `<folder>/metrics.py` defines; unknown names raise UserError with a suggestion."""
    if name in METRICS:
        return METRICS[name]
    found = _family(name)
    if found is not None:
        return found
    own = competition_metrics(folder)
    if name in own:
        return own[name]
    names = [*METRICS, *own]
    where = f" or define it in {Path(folder) / 'metrics.py'}" if folder is not None else ""
    hint = did_you_mean(name, names) if " (did" in did_you_mean(name, names) else ""
    raise UserError(f"unknown metric {name!r}{hint}; use one of {', '.join(names)}, "
                    f"{', '.join(f'{f}@K' for f in FAMILIES)}{where}")


def _load_metric(name: str, source: str) -> Metric:
    """A metric again from its name (and the file defining it): how metrics are unpickled."""
    return get_metric(name, Path(source).parent if source else None)


def column_scores(metric: Metric, task, y_true, y_pred, sample_weight=None) -> dict[str, float]:
    """Each target column's score of a multi-target task (core.tasks.TaskInfo) by the metric's column form, as
    a competitor reads Jigsaw's labels one by one beside their mean; {} for one target, or for a competition's own
    metric, which may score only the whole."""
    if not task.kind.multi_target or metric.source:
        return {}
    y, p = np.asarray(y_true), np.asarray(y_pred)
    return {str(t): float(metric(y[:, j], p[:, j], sample_weight)) for j, t in enumerate(task.targets)}


def relative_gain(metric: Metric, base_score: float, other_score: float) -> float:
    """The relative error reduction from `base_score` to `other_score` (+: better), an error being the score
    when lower is better and 1 - score when higher is (AUC, accuracy: the headroom left); nan when the base
    has no error left."""
    e_base, e_other = (1.0 - s if metric.greater_is_better else s for s in (base_score, other_score))
    return (e_base - e_other) / e_base if e_base > 0 else float("nan")


def paired_gain_interval(metric: Metric, y: np.ndarray, base: np.ndarray, other: np.ndarray, *,
                         sample_weight: np.ndarray | None = None, resamples: int = 400, level: float = 0.90,
                         seed: int = 0) -> tuple[float, float]:
    """A paired bootstrap over rows of `relative_gain` from `base`'s predictions to `other`'s: the two-sided
    `level` interval. Both are scored on the same resampled rows, so the interval measures how much the
    difference depends on which rows the set happens to hold: a difference inside it is one another draw
    of the rows could reverse (it says nothing of the models' own randomness, a reseed). Scored by the
    metric's fast form where it has one (`Metric.objective`)."""
    y, base, other = np.asarray(y), np.asarray(base), np.asarray(other)
    rng = np.random.default_rng(seed)
    n = len(y)
    gains = []
    for _ in range(resamples):
        rows = rng.integers(0, n, n)
        w = None if sample_weight is None else sample_weight[rows]
        gain = relative_gain(metric, metric.objective(y[rows], base[rows], w), metric.objective(y[rows], other[rows], w))
        if np.isfinite(gain):
            gains.append(gain)
    if not gains:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    lo, hi = np.quantile(gains, [tail, 1 - tail])
    return float(lo), float(hi)
