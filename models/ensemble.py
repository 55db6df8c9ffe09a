"""Ensembling on out-of-fold predictions: plain, rank and geometric means, optimised blend weights,
Caruana hill-climbing selection, and stacking trained on the shared folds.

A library: it knows nothing of the CLI or of run folders. Members are arrays in the artifact
convention (binary: 1-D P(positive class); multiclass: (n, k) probabilities in class order;
regression: values on the target scale; multilabel / multiregression: (n, targets), P(1) or values
per target column), `y` is the encoded target (`TaskInfo.encode`) and `folds` the fold number of
each train row.

Multi-target tasks are blended column-wise: the blends (mean, best, hill_climb, weighted) weigh
whole members, so every target column gets the same weights, searched on the metric's column-wise
average; `rank` ranks each column within its own OOF distribution; `geometric` takes each column's
binary geometric mean; `stack` fits a stack per target column on that column's predictions of every member
(the single-target stack, column by column, as the members themselves are fitted).

Every result's `score` is honest out-of-fold: a method that fits something (blend weights, a
level-2 model) fits it on the other folds for each fold's rows, so comparing methods by `score`
does not favour the ones that overfit the OOF predictions. Test predictions use what was fitted
on all rows (weights) or the mean of the fold models (stacking), as the cv stage does.

With per-row weights (`Problem.sample_weight`, [competition] weight) every score is the weighted
metric: the members', the methods' (honest OOF, per fold), the single model `best` picks and the
blend weights' searches (hill climbing, Powell); the stackers are fitted with them too.

    >>> problem = Problem(members, y, folds, task, metric)
    >>> results = run_methods(problem)            # every method that fits the task and metric
    >>> best = select(results, metric)            # highest honest OOF score
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from core.errors import UserError, did_you_mean
from models._hill_climb import hill_climb_weights

__all__ = ["Member", "Problem", "EnsembleResult", "Method", "METHODS", "get_method", "applicable", "automatic",
           "run_methods", "select", "optimistic", "calibrated", "calibrates", "hill_climb_weights",
           "optimise_weights", "blend", "stack", "DEFAULT_LIGHTGBM_STACKER"]

_EPS = 1e-6
_TINY = 1e-15  # the temperature's clip: log loss reads every probability below it as this one
# A small LightGBM for level 2: few inputs, so shallow trees and strong regularisation.
# Fixed rounds and no early stopping on the held-out fold, which would let fold k's labels pick the
# model that predicts fold k.
DEFAULT_LIGHTGBM_STACKER = {"type": "lightgbm", "params": {
    "num_leaves": 7, "learning_rate": 0.03, "n_estimators": 200, "early_stopping_rounds": 0,
    "min_child_samples": 30, "lambda_l2": 1.0}}


@dataclass(frozen=True)
class Member:
    """One level-1 model: its name, OOF predictions (every train row) and test predictions."""

    name: str
    oof: np.ndarray
    test: np.ndarray
    oof_repeats: list[np.ndarray] = field(default_factory=list)  # per CV repeat, when it has several

    def repeat(self, r: int) -> "Member":
        """The member as CV repeat r sees it: that repeat's OOF predictions. A member of fewer repeats (an
        import, a pseudo run, a model the first repeat's ensemble left out) brings its own OOF to every
        later one: each row still comes from models that never saw it."""
        return Member(self.name, self.oof_repeats[r] if r < len(self.oof_repeats) else self.oof, self.test)


@dataclass
class Problem:
    """What every method sees: members, encoded target, fold per row, task (TaskInfo) and metric."""

    members: list[Member]
    y: np.ndarray
    folds: np.ndarray
    task: Any
    metric: Any
    sample_weight: np.ndarray | None = None  # per row ([competition] weight): every score is weighted

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        n = len(self.y)
        for m in self.members:
            if len(m.oof) != n or np.shape(m.oof)[1:] != np.shape(m.test)[1:]:
                raise ValueError(f"member {m.name!r}: OOF has {len(m.oof)} rows for {n} targets, "
                                 f"or its OOF and test shapes differ")
        if len(self.folds) != n:
            raise ValueError(f"{len(self.folds)} fold numbers for {n} rows")
        if self.sample_weight is not None and len(self.sample_weight) != n:
            raise ValueError(f"{len(self.sample_weight)} sample weights for {n} rows")

    def weights_of(self, rows: np.ndarray | None = None) -> np.ndarray | None:
        """The rows' sample weights (all rows, or a boolean mask / positions), None without weights."""
        if self.sample_weight is None:
            return None
        return self.sample_weight if rows is None else self.sample_weight[rows]

    @property
    def transform(self):
        """The metric's target transform for regression (rmsle: log1p), else None."""
        return None if self.task.is_classification else self.metric.target_transform

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def score(self, pred: np.ndarray, rows: np.ndarray | None = None) -> float:
        """The metric on all rows, or on a boolean row mask (weighted when the problem has weights)."""
        if rows is None:
            return self.metric(self.y, pred, self.sample_weight)
        return self.metric(self.y[rows], pred[rows], self.weights_of(rows))

    def fold_scores(self, pred: np.ndarray) -> list[float]:
        return [self.score(pred, self.folds == k) for k in np.unique(self.folds)]


@dataclass
class EnsembleResult:
    """A combination's honest OOF predictions, test predictions, score and what it chose."""

    method: str
    oof: np.ndarray
    test: np.ndarray
    score: float
    fold_scores: list[float]
    weights: dict[str, float] = field(default_factory=dict)  # member -> weight (blends)
    fit_score: float | None = None  # in-sample score of weights fitted on all rows (optimistic)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """An ensembling method: a builder and the (task, metric) pairs it makes sense for."""

    name: str
    doc: str
    build: Callable[..., EnsembleResult]
    applies: Callable[[Any, Any], bool]  # (TaskInfo, Metric) -> whether the method fits them
    automatic: bool = True  # whether `method = "auto"` tries it (else only when pinned)
    # its test predictions are the members' weighted average by its weights (`blend`), so the weights alone
    # apply it to new rows (pipeline.predict fits it once, then blends each batch)
    linear: bool = False


# ---- blending ------------------------------------------------------------------------------------
def blend(preds: list[np.ndarray] | np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted average of predictions (weights are used as given)."""
    out = np.zeros_like(np.asarray(preds[0], dtype=np.float64))
    for p, w in zip(preds, weights):
        if w:
            out += w * np.asarray(p, dtype=np.float64)
    return out


def _result(problem: Problem, method: str, oof: np.ndarray, test: np.ndarray, weights: np.ndarray | None,
            fit_score: float | None = None, **details: Any) -> EnsembleResult:
    w = {} if weights is None else {n: float(x) for n, x in zip(problem.names, weights)}
    return EnsembleResult(method, oof, test, problem.score(oof), problem.fold_scores(oof), w, fit_score,
                          details)


def _best(problem: Problem) -> EnsembleResult:
    # Picking one model out of several is itself fitted on the OOF rows: cross-fitted like the blends,
    # so fold k's rows come from the model that was best on the other folds.
    def fit(P: list[np.ndarray], y: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
        w = np.zeros(len(P))
        w[int(np.argmax([problem.metric.sign * problem.metric(y, p, sw) for p in P]))] = 1.0
        return w

    result = _cross_fitted(problem, "best", fit)
    result.details["member"] = max(result.weights, key=result.weights.get)
    return result


def _mean(problem: Problem) -> EnsembleResult:
    n = len(problem.members)
    w = np.full(n, 1.0 / n)
    return _result(problem, "mean", blend([m.oof for m in problem.members], w),
                   blend([m.test for m in problem.members], w), w)


def _ecdf(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank of `values` within `reference`, scaled to [0, 1] (ties share the average rank)."""
    ref = np.sort(reference)
    lo = np.searchsorted(ref, values, side="left")
    hi = np.searchsorted(ref, values, side="right")
    return (lo + hi) / (2.0 * len(ref))


def _ranks(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`_ecdf` of 1-D predictions, or of each target column within its own column (multi-target)."""
    if reference.ndim == 1:
        return _ecdf(reference, values)
    return np.column_stack([_ecdf(reference[:, j], values[:, j]) for j in range(reference.shape[1])])


def _rank(problem: Problem) -> EnsembleResult:
    # Test values are ranked within the member's OOF distribution, so OOF and test share one scale.
    n = len(problem.members)
    w = np.full(n, 1.0 / n)
    oof = blend([_ranks(m.oof, m.oof) for m in problem.members], w)
    test = blend([_ranks(m.oof, m.test) for m in problem.members], w)
    return _result(problem, "rank", oof, test, w)


def _to_log_space(problem: Problem, p: np.ndarray) -> np.ndarray:
    """Predictions where a weighted average is `_geometric_of`'s blend: log-odds for a binary (per target column
    for multilabel), log-probabilities for classes, the metric's transformed space for regression (rmsle: log1p)."""
    if not problem.task.is_classification:
        return problem.metric.target_transform.forward(np.clip(p, 0, None))
    if np.ndim(p) == 1 or problem.task.n_targets > 1:
        return np.log(np.clip(p, _EPS, 1.0)) - np.log(np.clip(1.0 - p, _EPS, 1.0))
    return np.log(np.clip(p, _EPS, 1.0))


def _from_log_space(problem: Problem, z: np.ndarray) -> np.ndarray:
    """The inverse of `_to_log_space` for an average there: sigmoid, softmax or the inverse transform."""
    if not problem.task.is_classification:
        return problem.metric.target_transform.inverse(z)
    if np.ndim(z) == 1 or problem.task.n_targets > 1:
        return 1.0 / (1.0 + np.exp(-z))
    g = np.exp(z - z.max(axis=1, keepdims=True))
    return g / g.sum(axis=1, keepdims=True)


def _geometric_of(problem: Problem, preds: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """The geometric mean of probabilities, weighted by `weights` (default: equal); for regression the mean in
    the metric's transformed space (rmsle: log1p)."""
    logs = [_to_log_space(problem, p) for p in preds]
    return _from_log_space(problem, np.mean(logs, axis=0) if weights is None else blend(logs, weights))


def _geometric(problem: Problem) -> EnsembleResult:
    n = len(problem.members)
    return _result(problem, "geometric", _geometric_of(problem, [m.oof for m in problem.members]),
                   _geometric_of(problem, [m.test for m in problem.members]), np.full(n, 1.0 / n))


def optimise_weights(preds: list[np.ndarray], y: np.ndarray, metric, *,
                     starts: list[np.ndarray] | None = None, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Blend weights (non-negative, summing to 1) maximising the metric on `y` (weighted by
    `sample_weight`, per row, when given).

    Powell's derivative-free search within [0, 1] per weight, normalised to sum 1, so it also works
    for non-smooth metrics (AUC, accuracy); started from equal weights and any given `starts`, it
    never returns weights worse than its best start."""
    from scipy.optimize import minimize

    n = len(preds)
    if n == 1:
        return np.ones(1)

    def norm(v: np.ndarray) -> np.ndarray:
        v = np.clip(v, 0.0, None)
        s = v.sum()
        return v / s if s > 0 else np.full(n, 1.0 / n)

    def loss(v: np.ndarray) -> float:
        return -metric.sign * metric.objective(y, blend(preds, norm(v)), sample_weight)

    best_w, best_loss = None, np.inf
    for x0 in [np.full(n, 1.0 / n), *(starts or [])]:
        x0 = norm(np.asarray(x0, dtype=np.float64))
        start_loss = loss(x0)
        if start_loss < best_loss:
            best_w, best_loss = x0, start_loss
        res = minimize(loss, x0, method="Powell", bounds=[(0.0, 1.0)] * n,
                       options={"xtol": 1e-3, "ftol": 1e-7, "maxfev": 60 * n})
        if res.fun < best_loss - 1e-12:
            best_w, best_loss = norm(res.x), float(res.fun)
    w = np.where(best_w < 1e-3, 0.0, best_w)  # drop negligible members
    return w / w.sum() if w.sum() > 0 else best_w


def _cross_fitted(problem: Problem, method: str,
                  fit: Callable[[list[np.ndarray], np.ndarray, np.ndarray | None], np.ndarray], *,
                  combine: Callable[[list[np.ndarray], np.ndarray], np.ndarray] = blend) -> EnsembleResult:
    """Weights fitted on the other folds for each fold's OOF rows (honest), and on all rows for test;
    `fit(preds, y, sample_weight)` gets the rows' sample weights (None without); `combine(preds, weights)`
    blends (default: the weighted average)."""
    oofs = [m.oof for m in problem.members]
    oof = np.zeros_like(np.asarray(oofs[0], dtype=np.float64))
    per_fold = {}
    for k in np.unique(problem.folds):
        held = problem.folds == k
        w_k = fit([p[~held] for p in oofs], problem.y[~held], problem.weights_of(~held))
        oof[held] = combine([p[held] for p in oofs], w_k)
        per_fold[int(k)] = [round(float(x), 4) for x in w_k]
    w = fit(oofs, problem.y, problem.sample_weight)
    fit_score = problem.score(combine(oofs, w))
    return _result(problem, method, oof, combine([m.test for m in problem.members], w), w, fit_score,
                   weights_by_fold=per_fold)


class _InLogSpace:
    """A metric scored on predictions given in `_to_log_space`'s space (for hill climbing there)."""

    def __init__(self, problem: Problem):
        self.problem, self.sign = problem, problem.metric.sign

    def objective(self, y: np.ndarray, z: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        return self.problem.metric.objective(y, _from_log_space(self.problem, z), sample_weight)


def _geometric_hill_climb(problem: Problem, *, max_iter: int = 50, patience: int = 10) -> EnsembleResult:
    """Hill climbing whose blend is a weighted geometric mean (log-odds or log-probabilities averaged): the
    geometric mean's sharper consensus, with a weak member's weight left to the selection."""
    metric = _InLogSpace(problem)

    def fit(P: list[np.ndarray], y: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
        return hill_climb_weights([_to_log_space(problem, p) for p in P], y, metric, max_iter=max_iter,
                                  patience=patience, sample_weight=sw)

    return _cross_fitted(problem, "geometric_hill_climb", fit,
                         combine=lambda P, w: _geometric_of(problem, P, w))


def _hill_climb(problem: Problem, *, max_iter: int = 50, patience: int = 10) -> EnsembleResult:
    return _cross_fitted(problem, "hill_climb", lambda P, y, sw: hill_climb_weights(
        P, y, problem.metric, max_iter=max_iter, patience=patience, sample_weight=sw))


def _bootstrap_rows(y: np.ndarray, rng: np.random.Generator, stratify: bool) -> np.ndarray:
    """Row indices of one bootstrap sample, drawn within each class when `stratify` (every class keeps its
    count, so a rank metric stays defined on a small table)."""
    if not stratify:
        return rng.integers(0, len(y), len(y))
    parts = [rows[rng.integers(0, len(rows), len(rows))] for rows in (np.flatnonzero(y == c) for c in np.unique(y))]
    return np.concatenate(parts)


def _bagged_hill_climb(problem: Problem, *, bags: int = 16, max_iter: int = 50, patience: int = 10,
                       seed: int = 0) -> EnsembleResult:
    """Hill climbing on `bags` bootstrap samples of the rows, the weights averaged (bagged ensemble
    selection): a member picked on a few rows' noise gets a fraction of its weight, as in a mean."""
    stratify = problem.task.is_classification and np.ndim(problem.y) == 1

    def fit(P: list[np.ndarray], y: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        total = np.zeros(len(P))
        for _ in range(bags):
            rows = _bootstrap_rows(y, rng, stratify)
            total += hill_climb_weights([p[rows] for p in P], y[rows], problem.metric, max_iter=max_iter,
                                        patience=patience, sample_weight=None if sw is None else sw[rows])
        return total / bags

    return _cross_fitted(problem, "bagged_hill_climb", fit)


def _weighted(problem: Problem) -> EnsembleResult:
    def fit(P: list[np.ndarray], y: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
        return optimise_weights(P, y, problem.metric, sample_weight=sw,
                                starts=[hill_climb_weights(P, y, problem.metric, sample_weight=sw)])

    return _cross_fitted(problem, "weighted", fit)


# ---- stacking ------------------------------------------------------------------------------------
# A level's inputs are one DataFrame: the previous level's predictions as logits / log-probabilities
# (values in the metric's transformed space, e.g. log1p for rmsle), plus the original features
# ("x<j>_" columns) at the first level with passthrough. The linear stacker uses the numeric
# columns; model tables get the whole frame.


def _level_frame(problem: Problem, names: list[str], preds: list[np.ndarray], X=None):
    import pandas as pd

    task, transform = problem.task, problem.transform
    cols: dict[str, np.ndarray] = {}
    for j, (name, p) in enumerate(zip(names, preds)):
        p = np.asarray(p, dtype=np.float64)
        stem = f"p{j}_{_safe(name)}"
        if not task.is_classification:
            cols[stem] = transform.forward(np.clip(p, 0, None)) if transform else p
        elif p.ndim == 1:  # binary: the logit of P(positive)
            q = np.clip(p, _EPS, 1 - _EPS)
            cols[stem] = np.log(q / (1 - q))
        else:
            for i, c in enumerate(task.prediction_columns()):
                cols[f"{stem}_{_safe(c)}"] = np.log(np.clip(p[:, i], _EPS, 1.0))
    frame = pd.DataFrame(cols)
    if X is not None:
        renamed = X.reset_index(drop=True)
        renamed.columns = [f"x{j}_{_safe(c)}" for j, c in enumerate(X.columns)]
        frame = pd.concat([frame, renamed], axis=1)
    return frame


def _safe(name: Any) -> str:
    """A column name every model accepts (LightGBM refuses JSON characters such as ':' or ',')."""
    return re.sub(r"[^0-9A-Za-z_]", "_", str(name))


def _numeric(frame) -> np.ndarray:
    """The numeric columns of a level frame as float64 (NaN kept; the linear stacker imputes)."""
    import pandas as pd

    cols = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
            and not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame[cols].to_numpy(dtype=np.float64, na_value=np.nan)


def _linear_model(task, *, passthrough: bool):
    """Level-2 linear model. Regression on predictions alone: non-negative least squares (a weighted
    blend with an intercept, robust to correlated members); with features: ridge. Classification:
    L2 logistic regression on standardised logits (C = 0.1: correlated inputs, few rows)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not task.is_classification and not passthrough:
        return LinearRegression(positive=True)
    head = LogisticRegression(C=0.1, max_iter=2000) if task.is_classification else RidgeCV(
        alphas=np.logspace(-3, 3, 13))
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), head)


@dataclass
class _Stacking:
    """The fixed parts of one stacking run: the problem, threads, log, and how a stacker model is
    trained under CV (`train_cv`, the caller's k-fold trainer: `models.train_cv` with the plug-in
    folder of the competition)."""

    problem: Problem
    threads: int
    log: Callable[[str], None]
    train_cv: Callable[..., Any]

    def linear_fit_predict(self, Z, y: np.ndarray, Z_new, *, passthrough: bool,
                           sample_weight: np.ndarray | None = None) -> np.ndarray:
        """A fresh logistic / ridge model fitted on (Z, y) (weighted by `sample_weight`); its predictions for Z_new."""
        task, transform = self.problem.task, self.problem.transform
        if task.is_classification and len(np.unique(y)) < 2:  # a rare label absent from these rows: its one class
            return task.from_proba(task.class_matrix(np.ones((len(Z_new), 1)), np.unique(y)))
        model = _linear_model(task, passthrough=passthrough)
        weights = {}
        if sample_weight is not None:  # a pipeline's last step takes them by its name
            weights = {f"{model.steps[-1][0]}__sample_weight" if hasattr(model, "steps") else "sample_weight":
                       sample_weight}
        model.fit(_numeric(Z), transform.forward(y) if transform else y, **weights)
        if not task.is_classification:
            p = model.predict(_numeric(Z_new))
            return transform.inverse(p) if transform else p
        return task.from_proba(task.class_matrix(model.predict_proba(_numeric(Z_new)), model.classes_))

    def cross_predict(self, spec, Z, y: np.ndarray, folds: np.ndarray, Z_new, *, passthrough: bool = False,
                      sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One stacker under CV on the given rows: OOF predictions and the fold models' mean for Z_new."""
        task, sw = self.problem.task, sample_weight
        if spec != "linear":
            table = DEFAULT_LIGHTGBM_STACKER if spec == "lightgbm" else spec
            label = spec if isinstance(spec, str) else spec.get("name", spec["type"])
            res = self.train_cv(f"stack-{label}", table, Z, y, Z_new, folds, task, self.problem.metric,
                                threads=self.threads, log=self.log, **({} if sw is None else {"sample_weight": sw}))
            return res.oof, res.test
        ks = np.unique(folds)
        oof = np.zeros((len(y), task.n_outputs))
        new = np.zeros((len(Z_new), task.n_outputs))
        for k in ks:
            held = folds == k
            idx = np.flatnonzero(held)
            both = _concat(Z.iloc[idx], Z_new)
            p = self.linear_fit_predict(Z.iloc[np.flatnonzero(~held)], y[~held], both, passthrough=passthrough,
                                        sample_weight=None if sw is None else sw[~held]).reshape(len(both), -1)
            oof[idx] = p[: len(idx)]
            new += p[len(idx):] / len(ks)
        return task.squeeze(oof), task.squeeze(new)

    def fit_predict(self, levels: list[list], Z, y: np.ndarray, folds: np.ndarray, Z_new, *,
                    passthrough: bool, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Predictions for Z_new of a stack trained on (Z, y) alone: each level's stackers give the next
        level OOF inputs made under CV within these rows, so no label outside them is used."""
        sw = sample_weight
        if len(levels) == 1:
            if levels[0][0] == "linear":
                return self.linear_fit_predict(Z, y, Z_new, passthrough=passthrough, sample_weight=sw)
            return self.cross_predict(levels[0][0], Z, y, folds, Z_new, passthrough=passthrough, sample_weight=sw)[1]
        oofs, news = zip(*(self.cross_predict(s, Z, y, folds, Z_new, passthrough=passthrough, sample_weight=sw)
                           for s in levels[0]))
        names = [_stacker_name(s, i) for i, s in enumerate(levels[0])]
        return self.fit_predict(levels[1:], _level_frame(self.problem, names, list(oofs)), y, folds,
                                _level_frame(self.problem, names, list(news)), passthrough=False, sample_weight=sw)


def _concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def _stacker_name(spec, i: int) -> str:
    return spec if isinstance(spec, str) else str(spec.get("name", f"{spec.get('type', 'model')}{i}"))


def stack(problem: Problem, *, levels: list[list] | None = None, X=None, X_test=None, threads: int = 1,
          log: Callable[[str], None] = lambda m: None, train_cv: Callable[..., Any] | None = None) -> EnsembleResult:
    """Stacking on the shared folds: fold k's rows are predicted by a stack trained on the other
    folds' rows only, so the stacker's OOF score is honest -- with several levels too (the inner
    levels' inputs for fold k's model are themselves made by CV within the other folds).

    `levels` lists the stackers of each level above the members, e.g. [["linear", "lightgbm"],
    ["linear"]] (default [["linear"]]). A stacker is "linear" (logistic regression on logits or ridge,
    in the metric's transformed space for regression), "lightgbm" (DEFAULT_LIGHTGBM_STACKER: fixed
    rounds, no early stopping on the held-out fold), or a model table ({"type": ..., "params": ...})
    trained by `train_cv` (default `models.train_cv`; the runner passes one that knows the
    competition's plug-in folder). `X`/`X_test` (feature tables) join the first level's inputs. The
    last level holds one stacker."""
    levels = levels or [["linear"]]
    if not all(levels) or len(levels[-1]) != 1:
        raise UserError(f"stacking levels {levels} must each name a model and the last exactly one; "
                        f"add a final level such as ['linear']")
    if train_cv is None:
        from models._cv import train_cv
    if problem.task.kind.multi_target:
        return _stack_per_column(problem, levels=levels, X=X, X_test=X_test, threads=threads, log=log,
                                 train_cv=train_cv)
    run = _Stacking(problem, threads, log, train_cv)
    passthrough = X is not None
    Z = _level_frame(problem, problem.names, [m.oof for m in problem.members], X)
    Z_test = _level_frame(problem, problem.names, [m.test for m in problem.members], X_test)
    y, folds, task, sw = problem.y, problem.folds, problem.task, problem.sample_weight
    if len(levels) == 1:
        oof, test = run.cross_predict(levels[0][0], Z, y, folds, Z_test, passthrough=passthrough, sample_weight=sw)
    else:
        ks = np.unique(folds)
        oof = np.zeros((len(y), task.n_outputs))
        test = np.zeros((len(Z_test), task.n_outputs))
        for k in ks:
            held = folds == k
            idx, rest = np.flatnonzero(held), np.flatnonzero(~held)
            both = _concat(Z.iloc[idx], Z_test)
            p = run.fit_predict(levels, Z.iloc[rest].reset_index(drop=True), y[rest], folds[rest], both,
                                passthrough=passthrough, sample_weight=None if sw is None else sw[rest])
            p = np.asarray(p).reshape(len(both), -1)
            oof[idx] = p[: len(idx)]
            test += p[len(idx):] / len(ks)
        oof, test = task.squeeze(oof), task.squeeze(test)
    return _result(problem, "stack", oof, test, None,
                   levels=[[_stacker_name(s, i) for i, s in enumerate(lv)] for lv in levels],
                   passthrough=passthrough)


def _stack_per_column(problem: Problem, **options: Any) -> EnsembleResult:
    """A multi-target stack: each target column's own single-target stack on that column's predictions of
    every member (and the features with passthrough), scored as a whole by the problem's metric. Its
    stackers are fitted and scored on the column's task with the metric's column form (`_column_metric`)."""
    column_task, metric = problem.task.column(), _column_metric(problem)
    say = options.get("log") or (lambda m: None)
    results = []
    for j, target in enumerate(problem.task.prediction_columns()):
        members = [Member(m.name, np.asarray(m.oof)[:, j], np.asarray(m.test)[:, j]) for m in problem.members]
        column = Problem(members, problem.y[:, j], problem.folds, column_task, metric, problem.sample_weight)
        results.append(stack(column, **{**options, "log": lambda m, t=target: say(f"{t}: {m}")}))
    return _result(problem, "stack", np.column_stack([r.oof for r in results]),
                   np.column_stack([r.test for r in results]), None, **results[0].details)


def _column_metric(problem: Problem):
    """The metric a multi-target problem's column is scored by inside its stack: the problem's own where it
    scores the column's task (the built-ins score a column as they score the whole), else the column task's
    default metric with the problem metric's target transform (a competition's metric may need every column)."""
    from core.metrics import get_metric

    column_task, metric = problem.task.column(), problem.metric
    if column_task.task in metric.tasks and not metric.source:
        return metric
    return replace(get_metric(column_task.kind.default_metric), target_transform=metric.target_transform)


def _stack(problem: Problem, **options: Any) -> EnsembleResult:
    return stack(problem, **options)


def _stack_lightgbm(problem: Problem, **options: Any) -> EnsembleResult:
    """The stack with the small LightGBM (DEFAULT_LIGHTGBM_STACKER) at level 2, on the members' predictions
    alone: trees can trust a member in one range of its predictions and not in another, which a linear
    level 2 cannot. Beside `stack` (whatever ensemble.stackers makes it); only when pinned (the registry says
    why)."""
    return replace(stack(problem, levels=[["lightgbm"]], **options), method="stack_lightgbm")


# ---- calibration ---------------------------------------------------------------------------------
def _tempered(problem: Problem, pred: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their log-odds (binary, per column for multilabel) or log-probabilities
    (multiclass, renormalised) divided by `temperature`: > 1 softens, < 1 sharpens; no order is reversed
    and each row keeps its most likely class."""
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 1 or problem.task.n_targets > 1:
        q = np.clip(p, _TINY, 1.0 - _TINY)
        return 1.0 / (1.0 + np.exp(-(np.log(q) - np.log1p(-q)) / temperature))
    z = np.log(np.clip(p, _TINY, 1.0)) / temperature
    g = np.exp(z - z.max(axis=1, keepdims=True))
    return g / g.sum(axis=1, keepdims=True)


def _fit_temperature(problem: Problem, pred: np.ndarray, rows: np.ndarray | None = None) -> float:
    """The temperature (between e^-2 and e^2) that gives `pred` the best metric on the rows (all: None)."""
    from scipy.optimize import minimize_scalar

    y = problem.y if rows is None else problem.y[rows]
    p = pred if rows is None else pred[rows]
    sw = problem.weights_of(rows)
    res = minimize_scalar(lambda t: -problem.metric.sign * problem.metric.objective(
        y, _tempered(problem, p, float(np.exp(t))), sw), bounds=(-2.0, 2.0), method="bounded",
        options={"xatol": 1e-3})
    return float(np.exp(res.x))


def calibrated(problem: Problem, result: EnsembleResult) -> EnsembleResult:
    """`result` with a temperature on its probabilities, for a metric that scores calibration (log loss:
    `Metric.calibrate`). Fold k's rows get the temperature fitted on the other folds' rows of the result's
    honest OOF predictions (as a stack's level 2 is fitted), test the one fitted on every row. Kept only
    when that honest OOF score beats the result's own: on a small, near-separable table a few confident
    rows move each fold's temperature, and the temperature then costs more than it corrects."""
    oof = np.array(result.oof, dtype=np.float64)
    by_fold = {}
    for k in np.unique(problem.folds):
        held = problem.folds == k
        by_fold[int(k)] = _fit_temperature(problem, result.oof, ~held)
        oof[held] = _tempered(problem, result.oof[held], by_fold[int(k)])
    score = problem.score(oof)
    if problem.metric.sign * score <= problem.metric.sign * result.score:
        return EnsembleResult(result.method, result.oof, result.test, result.score, result.fold_scores, result.weights,
                              result.fit_score, {**result.details, "temperature_tried": round(score, 6)})
    temperature = _fit_temperature(problem, result.oof)
    details = {**result.details, "temperature": round(temperature, 4),
               "temperature_by_fold": {k: round(t, 4) for k, t in by_fold.items()},
               "uncalibrated_score": result.score}
    return EnsembleResult(result.method, oof, _tempered(problem, result.test, temperature), score,
                          problem.fold_scores(oof), result.weights, result.fit_score, details)


def calibrates(task, metric) -> bool:
    """Whether the ensemble's results get a temperature: class probabilities scored by a metric that
    rewards calibration (`Metric.calibrate`: log loss)."""
    return task.is_classification and metric.calibrate


# ---- registry ------------------------------------------------------------------------------------
def _always(task, metric) -> bool:
    return True


def _has_log_space(task, metric) -> bool:
    """Whether a geometric blend differs from the plain one: probabilities, or a metric with a target transform."""
    return task.is_classification or metric.target_transform is not None


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("best", "the single model with the best OOF score (chosen on the other folds)", _best, _always,
           linear=True),
    Method("mean", "plain average of the members", _mean, _always, linear=True),
    Method("rank", "average of ranks (AUC: only the order matters; per target column for multilabel)", _rank,
           lambda task, metric: (task.n_outputs == 1 or task.n_targets > 1) and task.is_classification
           and metric.rank_based),
    Method("geometric", "geometric mean of probabilities (for regression: the mean in the metric's "
                        "transformed space, e.g. log1p for rmsle)", _geometric,
           _has_log_space),
    Method("hill_climb", "Caruana greedy forward selection with replacement", _hill_climb, _always, linear=True),
    # geometric_hill_climb is pinned only: as a candidate of `auto` it scored -0.02 % on the suite's nested choice
    # (benchmarks/method_choice.py --candidate geometric_hill_climb, 2026-12-06; on leaf its weights lost to the plain
    # geometric mean's equal ones).
    Method("geometric_hill_climb", "hill climbing whose blend is a weighted geometric mean (pinned only)",
           _geometric_hill_climb, _has_log_space,
           automatic=False),
    # bagged_hill_climb is pinned only: always used, it beat plain hill climbing on the suite's nested choice
    # (-2.7 % against the best-OOF choice, hill climbing -4.5 %), but as a candidate of `auto` it added +0.005 %
    # (benchmarks/method_choice.py --candidate bagged_hill_climb, 2026-12-06), for 16 climbs' time.
    Method("bagged_hill_climb", "hill climbing on bootstrap samples of the rows, the weights averaged (pinned only)",
           _bagged_hill_climb, _always, automatic=False, linear=True),
    Method("weighted", "weights optimised on OOF for the metric (non-negative, sum 1)", _weighted, _always,
           linear=True),
    Method("stack", "a level-2 model trained on the OOF predictions with the same folds (multi-target: one per "
                    "target column)", _stack, _always),
    # stack_lightgbm is pinned only: as a candidate of `auto` it raised the suite's nested OOF by +0.29 % (taxi, hpc,
    # wage), but a LightGBM level 2 is noisy (its score moves 0.01-0.02 AUC between fold seeds; as run against fully
    # nested it leans optimistic on taxi, benchmarks/stacking_leak.py), and its OOF wins did not hold on rows no
    # run had seen (benchmarks/holdout.py, a fifth of train.csv held out, 12 splits of taxi, hpc and wage: on the 4
    # where the best OOF picked it, the held-out score was 0.88 % worse on average than the pick without it, taxi
    # -7.0 % on one). Its cost grows with the square of the classes (leaf, 32 classes: 5.8 s of level-2 fits).
    Method("stack_lightgbm", "a stack whose level 2 is a small LightGBM on the members' OOF predictions "
                             "(pinned only)", _stack_lightgbm, _always, automatic=False),
]}


def get_method(name: str) -> Method:
    """Look a method up by name; unknown names raise UserError with a suggestion."""
    try:
        return METHODS[name]
    except KeyError:
        raise UserError(f"unknown ensemble method {name!r}{did_you_mean(name, tuple(METHODS))}") from None


def applicable(task, metric) -> list[str]:
    """Names of the methods that make sense for this task (TaskInfo) and metric, in registry order."""
    return [m.name for m in METHODS.values() if m.applies(task, metric)]


def automatic(task, metric) -> list[str]:
    """The applicable methods `method = "auto"` tries (and `run_methods` runs when none is named)."""
    return [name for name in applicable(task, metric) if METHODS[name].automatic]


def run_methods(problem: Problem, methods: list[str] | None = None, *,
                options: dict[str, dict[str, Any]] | None = None, calibrate: bool = False,
                log: Callable[[str], None] = lambda m: None) -> dict[str, EnsembleResult]:
    """Run the named methods (default: those `method = "auto"` tries); `options` maps method -> keywords. With
    `calibrate`, a metric that scores calibration (`calibrates`) gets each result's temperature fitted
    (`calibrated`)."""
    names = methods or automatic(problem.task, problem.metric)
    results = {}
    for name in names:
        method = get_method(name)
        if not method.applies(problem.task, problem.metric):
            classes = f" of {problem.task.n_outputs} classes" if problem.task.kind.per_class_outputs else ""
            raise UserError(f"ensemble method {name!r} does not fit task {problem.task.task!r}{classes} with metric "
                            f"{problem.metric.name!r} (it is {method.doc}); use one of "
                            f"{', '.join(applicable(problem.task, problem.metric))}")
        results[name] = method.build(problem, **(options or {}).get(name, {}))
        if calibrate and calibrates(problem.task, problem.metric):
            results[name] = calibrated(problem, results[name])
        log(f"{name}: {problem.metric.name} {results[name].score:.5f}")
    return results


def average_repeats(per_repeat: list[EnsembleResult], problem: "Problem") -> EnsembleResult:
    """One method's results on several CV repeats (each fitted and scored on its own folds) as one:
    OOF and test predictions and weights averaged, scored on `problem` (the repeats' mean target
    rows), every repeat's fold scores."""
    if len(per_repeat) == 1:
        return per_repeat[0]
    first = per_repeat[0]
    oof = np.mean([r.oof for r in per_repeat], axis=0)
    weights = {n: float(np.mean([r.weights.get(n, 0.0) for r in per_repeat])) for n in first.weights}
    fits = [r.fit_score for r in per_repeat if r.fit_score is not None]
    details = {**first.details, "repeats": len(per_repeat)}
    if any({"temperature", "temperature_tried"} & set(r.details) for r in per_repeat):  # each repeat's own
        for key in ("temperature", "temperature_by_fold", "uncalibrated_score", "temperature_tried"):
            details.pop(key, None)
        details["temperature_by_repeat"] = [r.details.get("temperature") for r in per_repeat]
    return EnsembleResult(first.method, oof, np.mean([r.test for r in per_repeat], axis=0), problem.score(oof),
                          [s for r in per_repeat for s in r.fold_scores], weights,
                          float(np.mean(fits)) if fits else None, details)


def optimistic(result: EnsembleResult) -> bool:
    """Whether a result's OOF score overstates it: a stack whose level-2 model also sees the features
    (passthrough). Its level-2 model for fold k learns from the other folds' member predictions, made
    by models that trained on fold k; given the features it can exploit that ("stacked overfitting").
    Caravan: OOF AUC 0.788 as run against 0.737 with the members retrained inside each fold
    (benchmarks/stacking_leak.py). Without passthrough the two agree (0.7420 / 0.7420)."""
    return bool(result.details.get("passthrough"))


def select(results: dict[str, EnsembleResult], metric) -> EnsembleResult:
    """The result with the best honest OOF score; ties go to the simpler (earlier) method. A result
    whose score is optimistic competes only when it is the only one (a pinned method)."""
    fair = [r for r in results.values() if not optimistic(r)] or list(results.values())
    return max(fair, key=lambda r: metric.sign * r.score)
