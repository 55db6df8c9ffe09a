"""Is a stack's OOF score honest? The stack as the ensemble stage fits it against a fully nested one.

The ensemble stage's stack predicts fold k with a level-2 model trained on the other folds' member
OOF predictions. Those were made by member models that trained on fold k, so fold k's labels reach
the level-2 model through its inputs. This script measures how much that matters, on a real set:

- "as run": member OOF predictions from one 5-fold CV, level-2 model cross-fitted on the same folds
  (what `models.ensemble.stack` does);
- "nested": for each outer fold k the members are cross-validated again inside the other folds, and
  fold k is predicted by members and a level-2 model that never saw fold k's labels at all.

Members: a scaled logistic regression and two LightGBM shapes (fixed rounds, no early stopping).
The level-2 model is the stack's linear stacker (logistic regression on standardised logits, C 0.1),
with and without the original features (`ensemble.passthrough`). Binary sets only.

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


def _stacker():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))  # models.ensemble's


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _oof(members: dict, X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), len(members)))
    for k in np.unique(folds):
        for j, make in enumerate(members.values()):
            out[folds == k, j] = make().fit(X[folds != k], y[folds != k]).predict_proba(X[folds == k])[:, 1]
    return _logit(out)


def _fit_all(members: dict, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
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


def measure(name: str, seed: int = 0) -> dict[str, float]:
    """OOF AUC of each member, and of the stack with and without features, as run and nested."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = _table(name)
    folds = np.zeros(len(y), dtype=int)
    for k, (_, idx) in enumerate(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y)):
        folds[idx] = k
    members = _members()
    M = _oof(members, X, y, folds)
    out = {f"member {n}": roc_auc_score(y, M[:, j]) for j, n in enumerate(members)}
    Xf = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)  # the stacker's features, medians for missing
    for label, with_x in (("stack", False), ("stack + features", True)):
        Z = np.column_stack([M, Xf]) if with_x else M
        oof = np.zeros(len(y))
        for k in np.unique(folds):
            oof[folds == k] = _stacker().fit(Z[folds != k], y[folds != k]).predict_proba(Z[folds == k])[:, 1]
        out[f"{label}, as run"] = roc_auc_score(y, oof)
        oof = np.zeros(len(y))
        for k in np.unique(folds):
            rest, held = folds != k, folds == k
            inner = _oof(members, X[rest], y[rest], folds[rest])
            outer = _fit_all(members, X[rest], y[rest], X[held])
            Z_in = np.column_stack([inner, Xf[rest]]) if with_x else inner
            Z_out = np.column_stack([outer, Xf[held]]) if with_x else outer
            oof[held] = _stacker().fit(Z_in, y[rest]).predict_proba(Z_out)[:, 1]
        out[f"{label}, nested"] = roc_auc_score(y, oof)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="caravan,stackoverflow,cells,attrition", help="comma-separated binary sets")
    args = parser.parse_args()
    print(f"{'set':<14}{'stack as run':>14}{'nested':>9}{'+features as run':>18}{'nested':>9}   members   s")
    for name in args.sets.split(","):
        t0 = time.perf_counter()
        r = measure(name)
        members = " ".join(f"{k.split()[1]} {v:.4f}" for k, v in r.items() if k.startswith("member"))
        print(f"{name:<14}{r['stack, as run']:>14.4f}{r['stack, nested']:>9.4f}"
              f"{r['stack + features, as run']:>18.4f}{r['stack + features, nested']:>9.4f}   {members}"
              f"   {time.perf_counter() - t0:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
