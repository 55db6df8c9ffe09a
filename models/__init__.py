"""Model trainers under k-fold CV on the competition's saved folds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass
class CVResult:
    """Out-of-fold predictions for every train row, fold-averaged test predictions, and scores."""

    oof: np.ndarray
    test: np.ndarray
    fold_scores: list[float]
    overall: float
    params: dict[str, Any]
    timings: dict[str, Any]
    test_by_fold: list[np.ndarray] = field(default_factory=list)
    extra_tables: dict[str, Any] = field(default_factory=dict)


def train_cv(name: str, spec: dict, X_train, y: np.ndarray, X_test, folds: np.ndarray, task, metric, *,
             threads: int = 1, arrays: dict | None = None, plugin_dir: Path | None = None,
             extra_rows: Callable[[int], tuple] | None = None,
             log: Callable[[str], None] = print) -> CVResult:
    """Train `spec` (a [models.NAME] table) once per fold; predict the held-out fold and the test set.

    `extra_rows(k)` -> (X, y) adds rows to fold k's training set only (pseudo-labels)."""
    import pandas as pd

    import lightgbm as lgb

    params = {"objective": {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task.task],
              "learning_rate": 0.05, "num_leaves": 31, "verbose": -1, "num_threads": threads, "seed": 0}
    if task.task == "multiclass":
        params["num_class"] = task.n_classes
    params.update(spec.get("params", {}))
    n_rounds = int(params.pop("n_estimators", 1000))
    log_target = metric.name == "rmsle"
    y_fit = np.log1p(y) if log_target else y
    n_out = task.n_classes if task.task == "multiclass" else 1
    oof = np.zeros((len(y), n_out))
    test = np.zeros((len(X_test), n_out))
    fold_scores, fold_times, test_by_fold = [], [], []
    for k in sorted(np.unique(folds)):
        t0 = time.perf_counter()
        tr, va = folds != k, folds == k
        X_tr, y_tr = X_train[tr], y_fit[tr]
        if extra_rows is not None:
            X_extra, y_extra = extra_rows(int(k))
            y_extra = np.log1p(y_extra) if log_target else y_extra
            X_tr = pd.concat([X_tr, X_extra], ignore_index=True)
            y_tr = np.concatenate([y_tr, y_extra])
        dtrain = lgb.Dataset(X_tr, y_tr)
        dvalid = lgb.Dataset(X_train[va], y_fit[va], reference=dtrain)
        booster = lgb.train(params, dtrain, n_rounds, valid_sets=[dvalid],
                            callbacks=[lgb.early_stopping(100, verbose=False)])
        p_va = booster.predict(X_train[va], num_iteration=booster.best_iteration).reshape(va.sum(), -1)
        p_te = booster.predict(X_test, num_iteration=booster.best_iteration).reshape(len(X_test), -1)
        if log_target:
            p_va, p_te = np.expm1(p_va), np.expm1(p_te)
        oof[va] = p_va
        test += p_te / len(np.unique(folds))
        test_by_fold.append(p_te.squeeze() if n_out == 1 else p_te)
        score = metric(y[va], p_va.squeeze() if n_out == 1 else p_va)
        fold_scores.append(score)
        fold_times.append(time.perf_counter() - t0)
        log(f"[cv] {name} fold {k}: {metric.name} {score:.5f} ({fold_times[-1]:.1f}s)")
    oof_out = oof[:, 0] if n_out == 1 else oof
    test_out = test[:, 0] if n_out == 1 else test
    return CVResult(oof_out, test_out, fold_scores, metric(y, oof_out),
                    {"type": spec.get("type", "lightgbm"), "params": params, "num_boost_round": n_rounds},
                    {"folds": fold_times, "total": sum(fold_times)}, test_by_fold)
