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
the numeric columns. Methods: hill climbing, the weighted blend, the linear stack, and the linear
stack with the features (`ensemble.passthrough`). Binary sets, OOF AUC.

    python benchmarks/stacking_leak.py                 # caravan, stackoverflow, cells, attrition
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


def _members() -> dict:
    import lightgbm as lgb
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "linear": lambda: make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=0.3, max_iter=3000)),
        "lgbm": lambda: lgb.LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, subsample=0.8,
                                           subsample_freq=1, colsample_bytree=0.7, verbose=-1, n_jobs=1),
        "lgbm_deep": lambda: lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=63,
                                                min_child_samples=5, verbose=-1, n_jobs=1),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _oof(members: dict, X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each member's OOF logits under the given folds."""
    out = np.zeros((len(y), len(members)))
    for k in np.unique(folds):
        for j, make in enumerate(members.values()):
            out[folds == k, j] = make().fit(X[folds != k], y[folds != k]).predict_proba(X[folds == k])[:, 1]
    return _logit(out)


def _fit_all(members: dict, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    """Each member trained on all of (X, y): its logits for X_new."""
    return _logit(np.column_stack([make().fit(X, y).predict_proba(X_new)[:, 1] for make in members.values()]))


def _table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A binary set's numeric columns (missing values kept) and 0/1 target."""
    import json

    import pandas as pd

    about = json.loads((DATA / name / "about.json").read_text()) if (DATA / name / "about.json").is_file() else {}
    train = pd.read_csv(DATA / name / "train.csv")
    target = about.get("target") or train.columns[-1]
    y_raw = train[target]
    y = (y_raw == sorted(y_raw.dropna().unique())[-1]).to_numpy().astype(int)
    X = train.drop(columns=[target, about.get("id", "id")], errors="ignore").select_dtypes("number")
    return X.to_numpy(dtype=float), y


METHODS = (("hill_climb", "hill_climb", False), ("weighted", "weighted", False), ("stack", "stack", False),
           ("stack + features", "stack", True))


def _methods(M: np.ndarray, y: np.ndarray, folds: np.ndarray, M_new: np.ndarray, X, X_new) -> dict:
    """Each method's result (models.ensemble) on member logits M (OOF) and M_new (the rows to predict)."""
    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from models.ensemble import Member, Problem, run_methods

    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    members = [Member(f"m{j}", sigmoid(M[:, j]), sigmoid(M_new[:, j])) for j in range(M.shape[1])]
    problem = Problem(members, y, folds, TaskInfo("binary", (0, 1)), get_metric("roc_auc"))
    out = {}
    for label, method, with_x in METHODS:
        options = {"stack": {"X": X, "X_test": X_new}} if with_x else {}
        out[label] = run_methods(problem, [method], options=options)[method]
    return out


def measure(name: str, seed: int = 0) -> dict[str, float]:
    """OOF AUC of each member, and of each method as run and nested."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = _table(name)
    folds = np.zeros(len(y), dtype=int)
    for k, (_, idx) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y)):
        folds[idx] = k
    members = _members()
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    M = _oof(members, X, y, folds)
    out = {f"member {n}": roc_auc_score(y, M[:, j]) for j, n in enumerate(members)}
    for label, result in _methods(M, y, folds, M[:1], frame, frame.iloc[:1]).items():
        out[f"{label}, as run"] = result.score
    nested = {label: np.zeros(len(y)) for label, _, _ in METHODS}
    for k in np.unique(folds):
        rest, held = folds != k, folds == k
        inner = _oof(members, X[rest], y[rest], folds[rest])
        outer = _fit_all(members, X[rest], y[rest], X[held])
        results = _methods(inner, y[rest], folds[rest], outer, frame[rest].reset_index(drop=True),
                           frame[held].reset_index(drop=True))
        for label, result in results.items():
            nested[label][held] = result.test
    for label, pred in nested.items():
        out[f"{label}, nested"] = roc_auc_score(y, pred)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="caravan,stackoverflow,cells,attrition", help="comma-separated binary sets")
    args = parser.parse_args()
    labels = [label for label, _, _ in METHODS]
    print("OOF AUC as the ensemble stage computes it / fully nested")
    print(f"{'set':<14}" + "".join(f"{label:>22}" for label in labels) + "   members   s")
    for name in args.sets.split(","):
        t0 = time.perf_counter()
        r = measure(name)
        members = " ".join(f"{k.split()[1]} {v:.4f}" for k, v in r.items() if k.startswith("member"))
        cells = "".join(f"{r[f'{label}, as run']:>13.4f} /{r[f'{label}, nested']:.4f}" for label in labels)
        print(f"{name:<14}{cells}   {members}   {time.perf_counter() - t0:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
