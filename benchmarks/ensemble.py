"""Ensembling: each model's OOF and test score, each method's OOF and test score, and the submission's.

    python benchmarks/ensemble.py                        # titanic, hpc, ames_clean
    python benchmarks/ensemble.py --sets titanic         # one set

For each set, a temporary workspace gets several diverse models (LightGBM variants,
scikit-learn estimators through `type = "sklearn"`, a torch snapshot-ensemble MLP, and for regression a plug-in linear model on
log-scaled features), the pipeline runs end to end with the default
ensemble config (`method = "auto"`: every applicable method, the best honest OOF score wins), and
the script prints, side by side: every model's OOF score and its test score against solution.csv,
every ensemble method's honest OOF score and test score, and the written submission's test score.
The last line per set compares the submission with the best single model (the one a user would
pick by OOF, and the best on test in hindsight). The pipeline never reads solution.csv.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import core  # noqa: E402,F401  (sets the OpenMP wait policy before LightGBM loads)
from benchmarks.score_submission import score_submission  # noqa: E402
from pipeline.context import CompetitionContext, StageContext
from pipeline.runner import Runner  # noqa: E402
from pipeline.stages import build_pipeline  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402

DATA = REPO / "benchmarks" / "data"
SETS = ("titanic", "hpc", "ames_clean")

_LGBM = """
[models.lgbm]
type = "lightgbm"
params = {}

[models.lgbm_slow]
type = "lightgbm"
params = { num_leaves = 15, learning_rate = 0.02, feature_fraction = 0.7, bagging_fraction = 0.8, bagging_freq = 1, min_child_samples = 10 }

[models.lgbm_extra]
type = "lightgbm"
params = { extra_trees = true, num_leaves = 63, learning_rate = 0.03, feature_fraction = 0.6 }
"""
_CLASSIFIERS = """
[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }

[models.forest]
type = "sklearn"
estimator = "sklearn.ensemble.RandomForestClassifier"
params = { n_estimators = 300, min_samples_leaf = 2, max_features = 0.5, random_state = 0 }

[models.extra_trees]
type = "sklearn"
estimator = "sklearn.ensemble.ExtraTreesClassifier"
params = { n_estimators = 300, min_samples_leaf = 3, max_features = 0.7, random_state = 0 }

[models.hist_gb]
type = "sklearn"
estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
params = { learning_rate = 0.05, max_iter = 200, max_depth = 3, random_state = 0 }

[models.knn]
type = "sklearn"
estimator = "sklearn.neighbors.KNeighborsClassifier"
params = { n_neighbors = 30 }

[models.naive_bayes]
type = "sklearn"
estimator = "sklearn.naive_bayes.GaussianNB"

[models.mlp]
type = "mlp"
params = {}
"""
_REGRESSORS = """
[models.ridge]
type = "sklearn"
estimator = "sklearn.linear_model.Ridge"
params = { alpha = 10.0 }
trim_outliers = 4.0  # by OOF: 0.1354 -> 0.1303

[models.forest]
type = "sklearn"
estimator = "sklearn.ensemble.RandomForestRegressor"
params = { n_estimators = 300, min_samples_leaf = 2, max_features = 0.5, random_state = 0 }

[models.extra_trees]
type = "sklearn"
estimator = "sklearn.ensemble.ExtraTreesRegressor"
params = { n_estimators = 300, min_samples_leaf = 2, max_features = 0.7, random_state = 0 }

[models.loglinear]
type = "loglinear"  # the plug-in file below, written into competition/<name>/models/
params = { alpha = 10.0 }
trim_outliers = 4.0  # by OOF: 0.1310 -> 0.1283

[models.mlp]
type = "mlp"
params = {}
"""

# A plug-in model (scikit-learn contract): ridge on log-scaled numerics and one-hot categoricals.
_LOGLINEAR = '''"""Ridge on sign*log1p(|numeric|) (imputed, standardised) and one-hot categoricals."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


def _signed_log(a):
    return np.sign(a) * np.log1p(np.abs(a))


class Model(RegressorMixin, BaseEstimator):
    """A linear model that sees skewed numerics on a log scale."""

    def __init__(self, alpha: float = 10.0):
        self.alpha = alpha

    @staticmethod
    def _objects(X):
        import pandas as pd

        X = X.copy()
        for c in X.columns:
            if isinstance(X[c].dtype, pd.CategoricalDtype):
                X[c] = X[c].astype(object).where(X[c].notna(), "missing")
        return X

    def fit(self, X, y):
        """Fit the preprocessing and the ridge on the training rows only."""
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        nums = [c for c in X.columns if c not in cats]
        numeric = make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(_signed_log),
                                StandardScaler())
        categorical = OneHotEncoder(handle_unknown="ignore", min_frequency=5)
        self.model_ = make_pipeline(ColumnTransformer([("num", numeric, nums), ("cat", categorical, cats)]),
                                    Ridge(alpha=self.alpha)).fit(self._objects(X), y)
        return self

    def predict(self, X):
        """Predictions on the scale the model was fitted on."""
        return self.model_.predict(self._objects(X))
'''


def _workspace(root: Path, name: str) -> Path:
    from pipeline.init_competition import _read, infer, render_config

    dest = root / "competition" / name
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / name / f, dest / f)
    config = render_config(infer(*[_read(dest / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]), {})
    config = config[: config.index("[models.")] if "[models." in config else config
    task = config.split('task = "', 1)[1].split('"', 1)[0]
    lgbm = _LGBM.replace("min_child_samples = 10 }", "min_child_samples = 10 }\ntrim_outliers = 4.0  # by OOF: 0.1240 -> 0.1233") \
        if task == "regression" else _LGBM
    (dest / "competition.toml").write_text(config + lgbm + (_REGRESSORS if task == "regression" else _CLASSIFIERS))
    if task == "regression":
        (dest / "models").mkdir()
        (dest / "models" / "loglinear.py").write_text(_LOGLINEAR)
    return dest


def _test_score(comp, metric, task, pred: np.ndarray, test_ids) -> float:
    sol = pd.read_csv(DATA / comp.name / "solution.csv")
    pos = pd.Index(test_ids).get_indexer(sol[comp.id_col])
    return metric(task.encode(sol[comp.target]), pred[pos])


def bench(name: str, root: Path) -> dict:
    """Run the pipeline on one set and print the side-by-side table; returns the headline numbers."""
    from models.ensemble import Problem, run_methods
    from pipeline.stages.ensemble import _method_options, load_members

    comp_dir = _workspace(root, name)
    comp = Workspace(root).competition(name)
    pipe = build_pipeline()
    runner = Runner(pipe, comp, log=lambda m: None)
    t0 = time.perf_counter()
    runner.run()
    elapsed = time.perf_counter() - t0
    ctx = StageContext(CompetitionContext(comp, log=lambda m: None), pipe.get("ensemble"), None, runner.state)
    train, test, _ = ctx.data()
    task, metric = ctx.task_info(), ctx.metric()
    members = load_members(ctx)
    problem = Problem(members, task.encode(train[comp.target]), ctx.folds(), task, metric)
    results = run_methods(problem, options=_method_options(ctx, len(train)))
    scores = pd.read_json(comp.runs / "ensemble" / "scores.json", typ="series")
    sub_path = comp.workspace / runner.state["submit"]["paths"][0]
    _, sub_score = score_submission(sub_path, DATA / name / "solution.csv", comp_dir=comp_dir)

    better = "higher" if metric.greater_is_better else "lower"
    print(f"\n{name}: {metric.name} ({better} is better), {len(train)} train / {len(test)} test rows, "
          f"pipeline {elapsed:.0f}s")
    print(f"  {'':7} {'name':<12} {'OOF':>9} {'test':>9}")
    singles = {}
    for m in members:
        singles[m.name] = (problem.score(m.oof), _test_score(comp, metric, task, m.test, test[comp.id_col]))
        print(f"  {'model':7} {m.name:<12} {singles[m.name][0]:>9.5f} {singles[m.name][1]:>9.5f}")
    for method, r in results.items():
        mark = "  <- chosen" if method == scores["method"] else ""
        print(f"  {'method':7} {method:<12} {r.score:>9.5f} "
              f"{_test_score(comp, metric, task, r.test, test[comp.id_col]):>9.5f}{mark}")
    print(f"  {'submit':7} {scores['method']:<12} {scores['overall']:>9.5f} {sub_score:>9.5f}  ({sub_path.name})")
    by_oof = max(singles, key=lambda n: metric.sign * singles[n][0])
    by_test = max(singles, key=lambda n: metric.sign * singles[n][1])
    beats = metric.better(sub_score, singles[by_oof][1])
    beats_hindsight = metric.better(sub_score, singles[by_test][1])
    print(f"  submission {sub_score:.5f} vs best single by OOF ({by_oof}) {singles[by_oof][1]:.5f}: "
          f"{'beats it' if beats else 'does not beat it'}; vs best single on test ({by_test}) "
          f"{singles[by_test][1]:.5f}: {'beats it' if beats_hindsight else 'does not beat it'}")
    return {"set": name, "beats_best_by_oof": beats, "beats_best_on_test": beats_hindsight}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    p.add_argument("--keep", metavar="DIR", help="build the workspaces under DIR and keep them (default: a "
                                                "temporary folder)")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        for name in args.sets.split(","):
            rows.append(bench(name.strip(), root / name.strip()))
    n = sum(r["beats_best_by_oof"] for r in rows)
    m = sum(r["beats_best_on_test"] for r in rows)
    print(f"\ndefault ensemble beats the best single model (by OOF) on test in {n} of {len(rows)} sets; "
          f"the best single model on test (hindsight) in {m} of {len(rows)}")


if __name__ == "__main__":
    main()
