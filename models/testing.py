"""Conformance checks for models: run `check_model(model, task)` on your plug-in before using it.

    from models.testing import check_model
    check_model(MyModel(alpha=1.0), "binary")      # raises ModelCheckError listing every problem

The checks follow the contract the CV loop relies on (see models/plugins.py): constructor parameters
readable and left untouched by `fit`, a fresh clone per fold, `fit` returning self and leaving its
input alone, predictions of the right shape (probability rows summing to 1 for classification),
row-wise predictions (a row's prediction does not depend on the other rows predicted with it), and
validation rows accepted when `fit` names `X_valid` and `y_valid`.

A model that reads array inputs (images, token sequences) names `arrays` in `fit` and in its predict
methods; it is checked with `arrays` ({name: array with one row per row of X}, default `make_arrays`):
fit gets the training rows' slices only, predictions the predicted rows' slices.

    check_model(MyCNN(), "multiclass", arrays={"image": images})
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models._cv import fit_model, predict_model, takes_arrays
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


def make_arrays(y: np.ndarray, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Learnable array inputs for encoded targets `y` (like the features stage's): "image", (n, 1, 8, 8)
    floats with a bright column whose position follows the target, and "tokens", (n, 12) pre-padded
    token ids (0 = padding) in which a target-dependent token appears among random ones."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    n = len(y)
    level = (y.astype(np.int64) if np.issubdtype(y.dtype, np.integer)
             else np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])))  # regression: three target levels
    image = rng.normal(0.0, 0.3, size=(n, 1, 8, 8)).astype(np.float32)
    image[np.arange(n), 0, :, 1 + 2 * (level % 3)] += 1.0
    tokens = np.zeros((n, 12), dtype=np.int32)
    for i in range(n):
        length = int(rng.integers(3, 13))
        row = rng.integers(10, 40, size=length)
        row[rng.integers(0, length)] = 2 + level[i] % 8
        tokens[i, 12 - length:] = row
    return {"image": image, "tokens": tokens}


def _rows(arrays: dict | None, rows) -> dict | None:
    return None if arrays is None else {k: v[rows] for k, v in arrays.items()}


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


def check_model(model: Any, task: Any, *, X=None, y=None, arrays: dict | None = None,
                needs_proba: bool = True) -> None:
    """Check `model` (an unfitted estimator) against the plug-in contract; raise ModelCheckError if broken.

    `task` is "binary", "multiclass", "regression" or a TaskInfo; `X`, `y` (encoded labels) default
    to a small synthetic table from `make_data`; `arrays` (for a fit that names `arrays`) default to
    `make_arrays(y)`."""
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
    reads_arrays = takes_arrays(model)
    if reads_arrays:
        for method in ("predict", "predict_proba"):
            if callable(getattr(model, method, None)) and "arrays" not in init_params(getattr(model, method))[0]:
                problems.append(f"fit() takes arrays but {method}() does not; give it an `arrays=None` parameter "
                                f"(the predicted rows' array inputs)")
        arrays = make_arrays(y) if arrays is None else arrays
        for key, value in arrays.items():
            if len(value) != len(X):
                problems.append(f"array {key!r} has {len(value)} rows, X has {len(X)}; pass one row per row of X")
    else:
        arrays = None
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
    a_tr, a_va = _rows(arrays, slice(None, cut)), _rows(arrays, slice(cut, None))
    X_copy = X_tr.copy()
    a_copy = {k: np.array(v, copy=True) for k, v in (a_tr or {}).items()}
    try:
        returned = fit_model(fresh, X_tr, y_tr, X_va, y_va, arrays=a_tr, arrays_valid=a_va)
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
    if any(not np.array_equal(a_copy[k], a_tr[k]) for k in a_copy):
        problems.append("fit() modified its input arrays; work on a copy")
    problems += _check_predictions(fresh, info, X_va, needs_proba, a_va)
    if problems:
        raise ModelCheckError(_message(model, problems))


def _check_predictions(model: Any, info, X_va, needs_proba: bool, arrays: dict | None = None) -> list[str]:
    problems = []
    try:
        if info.is_classification and hasattr(model, "predict_proba"):
            extra = {} if arrays is None else {"arrays": arrays}
            proba = np.asarray(model.predict_proba(X_va, **extra), dtype=float)
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
        pred = predict_model(model, X_va, info, needs_proba=needs_proba, arrays=arrays)
    except Exception as exc:  # noqa: BLE001
        return [*problems, f"prediction failed ({type(exc).__name__}: {exc})"]
    if problems:
        return problems
    expected = (len(X_va), info.n_outputs) if info.n_outputs > 1 else (len(X_va),)
    if pred.shape != expected:
        return [f"predictions have shape {pred.shape}; expected {expected}"]
    if not np.isfinite(pred).all():
        return ["predictions contain NaN or infinity"]
    half = predict_model(model, X_va.iloc[: len(X_va) // 2], info, needs_proba=needs_proba,
                         arrays=_rows(arrays, slice(None, len(X_va) // 2)))
    if not np.allclose(half, pred[: len(X_va) // 2], rtol=1e-5, atol=1e-8):
        problems.append("a row's prediction depends on the other rows predicted with it; predict row by row")
    return problems


def _message(model: Any, problems: list[str]) -> str:
    return f"{type(model).__name__} breaks the model contract:\n" + "\n".join(f"  - {p}" for p in problems)
