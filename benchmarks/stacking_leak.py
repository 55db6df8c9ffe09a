"""Are the ensemble's OOF scores honest? Each method as the ensemble stage fits it against fully nested.

Every ensemble method predicts fold k with weights or a level-2 model fitted on the other folds' member
OOF predictions. Those were made by member models that trained on fold k, so fold k's labels reach
the combiner through its inputs. This script measures how much that matters, on real sets, with the
ensemble library's own methods (`models.ensemble.run_methods`):

- "as run": member OOF predictions from one 5-fold CV, each method's honest OOF as the stage computes it;
- "nested": for each outer fold k the members are cross-validated again inside the other folds, the
  method is fitted on those inner OOF predictions, and fold k is predicted by members (trained on the
  other folds) and a combiner that never saw fold k's labels at all.

Members: a scaled logistic regression and two LightGBM shapes (fixed rounds, no early stopping), on
the numeric columns. Methods: hill climbing, the weighted blend, the linear stack, the linear
stack with the features (`ensemble.passthrough`), and the stack with a small LightGBM at level 2. Binary and regression sets, the set's metric.

    python benchmarks/stacking_leak.py                 # caravan, stackoverflow, cells, attrition, deliveries, wage
    python benchmarks/stacking_leak.py --sets caravan
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def _members(task: str) -> dict:
    """Three members for a binary or a regression task: a scaled linear model, two LightGBM shapes."""
    import lightgbm as lgb
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    binary = task == "binary"
    boost = lgb.LGBMClassifier if binary else lgb.LGBMRegressor
    linear = (lambda: LogisticRegression(C=0.3, max_iter=3000)) if binary else (lambda: Ridge(alpha=10.0))
    return {
        "linear": lambda: make_pipeline(SimpleImputer(), StandardScaler(), linear()),
        "lgbm": lambda: boost(n_estimators=300, learning_rate=0.03, num_leaves=15, subsample=0.8, subsample_freq=1,
                              colsample_bytree=0.7, verbose=-1, n_jobs=1),
        "lgbm_deep": lambda: boost(n_estimators=200, learning_rate=0.05, num_leaves=63, min_child_samples=5,
                                   verbose=-1, n_jobs=1),
    }


def _predict(model, X: np.ndarray, task: str) -> np.ndarray:
    return model.predict_proba(X)[:, 1] if task == "binary" else model.predict(X)


def _oof(members: dict, X: np.ndarray, y: np.ndarray, folds: np.ndarray, task: str) -> np.ndarray:
    """Each member's OOF predictions (P(positive) or values) under the given folds, one column each."""
    out = np.zeros((len(y), len(members)))
    for k in np.unique(folds):
        for j, make in enumerate(members.values()):
            out[folds == k, j] = _predict(make().fit(X[folds != k], y[folds != k]), X[folds == k], task)
    return out


def _fit_all(members: dict, X: np.ndarray, y: np.ndarray, X_new: np.ndarray, task: str) -> np.ndarray:
    """Each member trained on all of (X, y): its predictions for X_new."""
    return np.column_stack([_predict(make().fit(X, y), X_new, task) for make in members.values()])


def _table(name: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    """A binary or regression set's numeric columns (missing values kept), target (0/1 for binary),
    task and metric (about.json)."""
    import json

    import pandas as pd

    about = json.loads((DATA / name / "about.json").read_text())
    if about["task"] not in ("binary", "regression"):
        raise SystemExit(f"{name}: a {about['task']} set; this benchmark takes binary and regression sets")
    train = pd.read_csv(DATA / name / "train.csv")
    y_raw = train[about["target"]]
    if about["task"] == "binary":
        y = (y_raw == sorted(y_raw.dropna().unique())[-1]).to_numpy().astype(int)
    else:
        y = y_raw.to_numpy(dtype=float)
    X = train.drop(columns=[about["target"], about.get("id", "id")], errors="ignore").select_dtypes("number")
    return X.to_numpy(dtype=float), y, about["task"], about["metric"]


METHODS = (("hill_climb", "hill_climb", False), ("weighted", "weighted", False), ("stack", "stack", False),
           ("stack + features", "stack", True), ("stack_lightgbm", "stack_lightgbm", False))


def _methods(M: np.ndarray, y: np.ndarray, folds: np.ndarray, M_new: np.ndarray, X, X_new, task: str,
             metric) -> dict:
    """Each method's result (models.ensemble) on member predictions M (OOF) and M_new (the rows to predict)."""
    from core.tasks import TaskInfo
    from models.ensemble import Member, Problem, run_methods

    members = [Member(f"m{j}", M[:, j], M_new[:, j]) for j in range(M.shape[1])]
    info = TaskInfo("binary", (0, 1)) if task == "binary" else TaskInfo("regression")
    problem = Problem(members, y, folds, info, metric)
    out = {}
    for label, method, with_x in METHODS:
        options = {"stack": {"X": X, "X_test": X_new}} if with_x else {}
        out[label] = run_methods(problem, [method], options=options)[method]
    return out


def measure(name: str, seed: int = 0) -> tuple[str, dict[str, float]]:
    """(the metric, the OOF score of each member and of each method as run and nested)."""
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold

    from core.metrics import get_metric

    X, y, task, metric_name = _table(name)
    metric = get_metric(metric_name)
    splitter = (StratifiedKFold if task == "binary" else KFold)(5, shuffle=True, random_state=seed)
    folds = np.zeros(len(y), dtype=int)
    for k, (_, idx) in enumerate(splitter.split(X, y)):
        folds[idx] = k
    members = _members(task)
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    M = _oof(members, X, y, folds, task)
    out = {f"member {n}": metric(y, M[:, j]) for j, n in enumerate(members)}
    for label, result in _methods(M, y, folds, M[:1], frame, frame.iloc[:1], task, metric).items():
        out[f"{label}, as run"] = result.score
    nested = {label: np.zeros(len(y)) for label, _, _ in METHODS}
    for k in np.unique(folds):
        rest, held = folds != k, folds == k
        inner = _oof(members, X[rest], y[rest], folds[rest], task)
        outer = _fit_all(members, X[rest], y[rest], X[held], task)
        results = _methods(inner, y[rest], folds[rest], outer, frame[rest].reset_index(drop=True),
                           frame[held].reset_index(drop=True), task, metric)
        for label, result in results.items():
            nested[label][held] = result.test
    for label, pred in nested.items():
        out[f"{label}, nested"] = metric(y, pred)
    return metric_name, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="caravan,stackoverflow,cells,attrition,deliveries,wage",
                        help="comma-separated binary or regression sets")
    args = parser.parse_args()
    labels = [label for label, _, _ in METHODS]
    print("OOF score as the ensemble stage computes it / fully nested")
    print(f"{'set':<14}{'metric':<9}" + "".join(f"{label:>22}" for label in labels) + "   members   s")
    for name in args.sets.split(","):
        t0 = time.perf_counter()
        metric, r = measure(name)
        members = " ".join(f"{k.split()[1]} {v:.4f}" for k, v in r.items() if k.startswith("member"))
        cells = "".join(f"{r[f'{label}, as run']:>13.4f} /{r[f'{label}, nested']:.4f}" for label in labels)
        print(f"{name:<14}{metric:<9}{cells}   {members}   {time.perf_counter() - t0:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
