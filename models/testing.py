"""Conformance checks for models: run `check_model(model, task)` on your plug-in before using it.

    from models.testing import check_model
    check_model(MyModel(alpha=1.0), "binary")      # raises ModelCheckError listing every problem

The checks follow the contract the CV loop relies on (see models/plugins.py): constructor parameters
readable and left untouched by `fit`, a fresh clone per fold, `fit` returning self and leaving its
input alone, predictions of the right shape (probability rows summing to 1 for classification),
row-wise predictions (a row's prediction does not depend on the other rows predicted with it), and
validation rows accepted when `fit` names `X_valid` and `y_valid`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models._cv import fit_model, predict_model
from core.params import init_params


class ModelCheckError(AssertionError):
    """A model breaks the contract; the message lists each failed check on its own line."""


def _task_info(task: Any):
    from core.tasks import TASKS, TaskInfo

    if isinstance(task, TaskInfo):
        return task
    if task not in TASKS:
        raise ValueError(f"task must be a TaskInfo or one of {', '.join(TASKS)}; got {task!r}")
    kind = TASKS[task]
    # two classes for one output column, three when there is one column per class
    classes = ((0, 1, 2) if kind.per_class_outputs else (0, 1)) if kind.classification else ()
    return TaskInfo(task, classes)


def make_data(task: Any, *, n: int = 300, seed: int = 0, categorical: bool = False):
    """A small learnable table for `task`: (X DataFrame, encoded y); with `categorical`, a pandas
    categorical column and missing values as in the pipeline's feature frames."""
    import pandas as pd

    info = _task_info(task)
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(5)})
    signal = X["x0"].to_numpy() + 0.5 * X["x1"].to_numpy()
    if categorical:
        levels = np.array(["a", "b", "c"])
        cat = levels[rng.integers(0, 3, n)]
        signal = signal + np.where(cat == "a", 1.0, 0.0)
        X["c0"] = pd.Categorical(cat, categories=levels)
        X.loc[rng.random(n) < 0.1, "x2"] = np.nan
    if not info.is_classification:
        y = signal + 0.1 * rng.normal(size=n)
    elif info.n_classes == 2:
        y = (signal + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
    else:
        k = info.n_classes
        y = np.digitize(signal + 0.3 * rng.normal(size=n), np.quantile(signal, np.linspace(0, 1, k + 1)[1:-1]))
    return X, np.asarray(y)


def _params(model: Any) -> dict:
    if hasattr(model, "get_params"):
        return model.get_params(deep=False)
    names, _ = init_params(type(model))
    return {n: getattr(model, n) for n in names if hasattr(model, n)}


def _same(a: Any, b: Any) -> bool:
    import joblib

    try:
        return joblib.hash(a) == joblib.hash(b)
    except Exception:  # noqa: BLE001 - unhashable parameter: fall back to equality
        return a is b or a == b


def check_model(model: Any, task: Any, *, X=None, y=None, needs_proba: bool = True) -> None:
    """Check `model` (an unfitted estimator) against the plug-in contract; raise ModelCheckError if broken.

    `task` is "binary", "multiclass", "regression" or a TaskInfo; `X`, `y` (encoded labels) default
    to a small synthetic table from `make_data`."""
    from sklearn.base import clone

    info = _task_info(task)
    if X is None:
        X, y = make_data(info)
    problems: list[str] = []
    for method in ("fit", "predict"):
        if not callable(getattr(model, method, None)):
            problems.append(f"has no {method}() method")
    if info.is_classification and needs_proba and not hasattr(model, "predict_proba"):
        problems.append("has no predict_proba(), which classification with a probability metric needs")
    if problems:
        raise ModelCheckError(_message(model, problems))

    before = {k: v for k, v in _params(model).items()}
    try:
        fresh = clone(model, safe=False)
    except Exception as exc:  # noqa: BLE001 - reported as a contract failure
        raise ModelCheckError(_message(model, [f"cannot be cloned ({type(exc).__name__}: {exc})"])) from None
    for key, value in before.items():
        if not _same(value, _params(fresh).get(key)):
            problems.append(f"clone() does not keep constructor parameter {key!r}; store each __init__ "
                            f"argument unchanged under its own name")
    cut = int(len(X) * 0.8)
    X_tr, y_tr, X_va, y_va = X.iloc[:cut], y[:cut], X.iloc[cut:], y[cut:]
    X_copy = X_tr.copy()
    try:
        returned = fit_model(fresh, X_tr, y_tr, X_va, y_va)
    except Exception as exc:  # noqa: BLE001
        raise ModelCheckError(_message(model, [*problems, f"fit() failed ({type(exc).__name__}: {exc})"])) from None
    if returned is not fresh:
        problems.append("fit() must return self")
    after = _params(fresh)
    for key, value in before.items():
        if not _same(value, after.get(key)):
            problems.append(f"fit() changed constructor parameter {key!r} (from {value!r} to {after.get(key)!r}); "
                            f"keep parameters as given and store fitted state in attributes ending in '_'")
    if not X_copy.equals(X_tr):
        problems.append("fit() modified its input X; work on a copy")
    problems += _check_predictions(fresh, info, X_va, needs_proba)
    if problems:
        raise ModelCheckError(_message(model, problems))


def _check_predictions(model: Any, info, X_va, needs_proba: bool) -> list[str]:
    problems = []
    try:
        if info.is_classification and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(X_va), dtype=float)
            k = len(getattr(model, "classes_", range(info.n_classes)))
            if proba.shape != (len(X_va), k):
                problems.append(f"predict_proba() returned shape {proba.shape}; expected ({len(X_va)}, {k}): "
                                f"one row per input row, one column per class")
            else:
                if not np.all((proba >= 0) & (proba <= 1)):
                    problems.append("predict_proba() returned values outside [0, 1]")
                if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
                    worst = float(np.abs(proba.sum(axis=1) - 1).max())
                    problems.append(f"predict_proba() rows do not sum to 1 (off by up to {worst:.3g}); normalise them")
        pred = predict_model(model, X_va, info, needs_proba=needs_proba)
    except Exception as exc:  # noqa: BLE001
        return [*problems, f"prediction failed ({type(exc).__name__}: {exc})"]
    if problems:
        return problems
    expected = (len(X_va), info.n_outputs) if info.n_outputs > 1 else (len(X_va),)
    if pred.shape != expected:
        return [f"predictions have shape {pred.shape}; expected {expected}"]
    if not np.isfinite(pred).all():
        return ["predictions contain NaN or infinity"]
    half = predict_model(model, X_va.iloc[: len(X_va) // 2], info, needs_proba=needs_proba)
    if not np.allclose(half, pred[: len(X_va) // 2], rtol=1e-5, atol=1e-8):
        problems.append("a row's prediction depends on the other rows predicted with it; predict row by row")
    return problems


def _message(model: Any, problems: list[str]) -> str:
    return f"{type(model).__name__} breaks the model contract:\n" + "\n".join(f"  - {p}" for p in problems)
