"""The fitting primitives every fit in `models` shares: how a model's fit and predict are called
(`fit_model`, `predict_model`), what a model takes (`takes_sample_weight`, `takes_arrays`,
`wants_validation`) and a fold's honest fit (`fit_honest`: early-stopping rows held out of the
training rows). The k-fold loop (`models._cv`) and the per-target wrapper (`models._multi`) both build
on them; they import neither, so neither imports the other through them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from core.errors import UserError
from core.params import init_params


def fit_model(model: Any, X, y, X_valid=None, y_valid=None, *, log: Callable[[str], None] | None = None,
              sample_weight: np.ndarray | None = None, arrays: dict | None = None,
              arrays_valid: dict | None = None) -> Any:
    """`model.fit`, passing the validation rows when its fit names X_valid and y_valid, a one-line
    progress callback when it names `log` (long trainings report as they go), and `sample_weight`
    when given (a model that takes none, `takes_sample_weight`, is refused unless every weight is 1)."""
    names, _ = init_params(model.fit)
    kwargs: dict[str, Any] = {}
    if sample_weight is not None and takes_sample_weight(model):
        kwargs["sample_weight"] = sample_weight
    elif sample_weight is not None and not np.all(sample_weight == 1.0):
        raise UserError(f"{type(model).__name__}.fit takes no sample_weight, which weighted (or soft) pseudo "
                        f"rows need; use pseudo.weight = 1 with hard labels, or a model whose fit takes it "
                        f"(lightgbm)")
    if X_valid is not None and {"X_valid", "y_valid"} <= names:
        kwargs.update(X_valid=X_valid, y_valid=y_valid)
    if log is not None and "log" in names:
        kwargs["log"] = log
    if "arrays" in names:  # array inputs (images, sequences): only the rows being fitted
        kwargs["arrays"] = arrays or {}
        if X_valid is not None and "arrays_valid" in names:
            kwargs["arrays_valid"] = arrays_valid or {}
    return model.fit(X, y, **kwargs)


def takes_sample_weight(model: Any) -> bool:
    """Whether `model` fits with per-row weights: its fit names `sample_weight`; a wrapper that only
    passes them on (models.sk.Preprocessed) answers with a `takes_sample_weight()` method of its own."""
    ask = getattr(model, "takes_sample_weight", None)
    if callable(ask):
        return bool(ask())
    return "sample_weight" in init_params(model.fit)[0]



def takes_arrays(model: Any) -> bool:
    """Whether `model.fit` names `arrays` (it then gets each array input's rows, like X's)."""
    return "arrays" in init_params(model.fit)[0]



def _with_arrays(method: Callable, arrays: dict | None) -> dict:
    return {"arrays": arrays or {}} if "arrays" in init_params(method)[0] else {}


def _shown_name(model: Any) -> str:
    """The class a message names: the estimator itself, not the preprocessing wrapper around it."""
    inner = getattr(model, "estimator", None)
    return type(inner if inner is not None and hasattr(inner, "fit") else model).__name__


def predict_model(model: Any, X, task, *, needs_proba: bool = True, arrays: dict | None = None) -> np.ndarray:
    """Predictions in the pipeline's convention: binary P(class 1), multiclass (n, k), regression values.
    `arrays` (the rows' array inputs) reach a predict method that names `arrays`."""
    if not task.is_classification:
        return np.asarray(model.predict(X, **_with_arrays(model.predict, arrays)), dtype=np.float64).reshape(-1)
    k = task.n_classes
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X, **_with_arrays(model.predict_proba, arrays)), dtype=np.float64)
        classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[-1] if proba.ndim else 0)))
    elif needs_proba:
        raise UserError(f"{type(model).__name__} has no predict_proba, which the metric needs")
    else:  # hard labels as one-hot "probabilities" (label metrics only)
        labels = np.asarray(model.predict(X, **_with_arrays(model.predict, arrays))).astype(np.int64)
        classes = np.arange(k)
        proba = np.eye(k)[labels]
    if proba.ndim != 2 or proba.shape[0] != len(X) or proba.shape[1] != len(classes):
        raise UserError(f"{_shown_name(model)}.predict_proba returned shape {proba.shape}; expected "
                        f"({len(X)}, {len(classes)}): one row per input row, one column per class in classes_")
    finite = proba[np.isfinite(proba)]  # NaN or inf: the fold's own check names the model and the fold
    if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
        raise UserError(f"{_shown_name(model)}.predict_proba returned {finite.min():.4g}..{finite.max():.4g}; "
                        f"class probabilities lie in 0..1")
    sums = proba[np.isfinite(proba).all(axis=1)].sum(axis=1)
    if not task.kind.multi_target and len(sums) and not np.allclose(sums, 1.0, atol=1e-3):  # multilabel: P(1) each
        raise UserError(f"{_shown_name(model)}.predict_proba returned rows summing to {sums.min():.4g}.."
                        f"{sums.max():.4g}; each row's class probabilities sum to 1")
    return task.from_proba(task.class_matrix(proba, classes))  # a fold may lack a class: its column is 0



# Share of a fold's training rows held out for a model's early stopping (stratified by class).
# Measured by honest OOF score on the six dev sets (LightGBM, held-out rows then refitted on):
# 20% + refit beat 20% without refit on 5 of 6 (`python benchmarks/honesty.py`). On the 18 sets
# (benchmarks/quality.py --compare, 2026-12-06) both neighbours lost: 10 % -3.37 % (worse on 11 of 18),
# 30 % -0.33 % (worse on 10; benchmarks/SUITE.md "The share of a fold's rows held out for early stopping").
EARLY_STOPPING_FRACTION = 0.2
MIN_EARLY_STOPPING_ROWS = 10  # fewer training rows: no early stopping, no rows held out


def early_stopping_rows(y: np.ndarray, task, *, seed: int,
                        fraction: float = EARLY_STOPPING_FRACTION) -> np.ndarray:
    """Positions (sorted) of the rows held out for early stopping: `fraction` of the rows, of each
    class for classification (at least one row of every class stays in training); none on tiny data."""
    if len(y) < MIN_EARLY_STOPPING_ROWS:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if task.is_classification:
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    else:
        groups = [np.arange(len(y))]
    held = [rng.permutation(rows)[:min(int(round(fraction * len(rows))), len(rows) - 1)] for rows in groups]
    return np.sort(np.concatenate(held)).astype(np.int64)


def wants_validation(model: Any) -> bool:
    """Whether `model.fit` uses validation rows: it names X_valid and y_valid; a wrapper that only passes
    them on (models.sk.Preprocessed) answers with a `wants_validation()` method of its own."""
    ask = getattr(model, "wants_validation", None)
    if callable(ask):
        return bool(ask())
    names, _ = init_params(model.fit)
    return {"X_valid", "y_valid"} <= names


def _take(a, rows: np.ndarray):
    """Rows (positions) of a DataFrame or array."""
    return a.iloc[rows] if hasattr(a, "iloc") else a[rows]


def fit_honest(model: Any, X, y: np.ndarray, task, *, seed: int, n_own: int | None = None,
               log: Callable[[str], None] | None = None, sample_weight: np.ndarray | None = None,
               arrays: dict | None = None, rows: np.ndarray | None = None) -> Any:
    """`fit_model` for a fold: a fit that names X_valid and y_valid gets rows held out of its own
    training rows (`early_stopping_rows` of the first `n_own`, never pseudo-labelled rows), and X the
    rest; X and X_valid together are the training rows, so such a model may refit on both once it
    has chosen when to stop (LightGBM does). The rows a CV score is computed on never reach the fit,
    so early stopping cannot flatter the OOF score (titanic, 200 folds: OOF AUC 0.914 when LightGBM
    stopped on the scored rows, test 0.825).

    With `rows`, X is a larger table and the training rows are its `rows` (positions): each part the
    fit gets is taken from X directly, so the training rows are never copied as a whole first."""
    n_own = len(y) if n_own is None else n_own
    held = early_stopping_rows(y[:n_own], task, seed=seed) if wants_validation(model) else []
    at = (lambda r: r) if rows is None else (lambda r: rows[r])
    if not len(held):
        return fit_model(model, X if rows is None else _take(X, rows), y, log=log, sample_weight=sample_weight,
                         arrays=arrays)
    rest = np.setdiff1d(np.arange(len(y)), held, assume_unique=True)
    return fit_model(model, _take(X, at(rest)), y[rest], _take(X, at(held)), y[held], log=log,
                     sample_weight=None if sample_weight is None else sample_weight[rest],
                     arrays={n: a[rest] for n, a in (arrays or {}).items()},
                     arrays_valid={n: a[held] for n, a in (arrays or {}).items()})


def cap_reached(best: int, cap: int, name: str = "n_estimators") -> str | None:
    """"NAME = CAP" when the best round (epoch) an inner split chose lies in the last tenth of the cap on
    them -- its loss was still falling when training ran out, so the member may score better with more --
    else None: a fitted model's `capped_`, which the k-fold loop counts (CVResult.cap_note)."""
    return f"{name} = {cap}" if best > 0.9 * cap else None
