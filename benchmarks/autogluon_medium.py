"""AutoGluon medium_quality on one data set by ANCHORS.md's protocol; prints {"test": score} as JSON.

    <python with autogluon.tabular> benchmarks/autogluon_medium.py ../shared/data titanic [PREDICTIONS.csv]
    <python with autogluon.tabular> benchmarks/autogluon_medium.py ../shared/data movies --preset best_quality

`--preset best_quality` runs ANCHORS.md's other anchor (time limit 300 s), for a set that has none there.

Run by `benchmarks/quality.py --autogluon PYTHON`, which times this whole process (its imports included, as
our run's seconds include the CLI's), so that both wall times come from the same machine in the same
run: ANCHORS.md's seconds were measured once, on another day's machine. It needs only AutoGluon
(`pip install "autogluon.tabular[all]==1.6.3" -c constraints.txt` in a virtual environment of its own; it
pins an older pandas), not this project. The protocol: train.csv without the id column, the set's metric
as eval_metric (rmsle: RMSE on log1p of the target, predictions mapped back), presets medium_quality,
time limit 120 s (best_quality: 300 s), the test score against solution.csv. With a third argument it also writes its test
predictions there in the submission's shape (the id, then one probability column for a binary target, one
column per class for log loss, the label for accuracy, the value for a regression), so that
benchmarks/quality.py can compare them with ours row by row on the same test rows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score


def _rmse(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(mean_squared_error(truth, pred)))


# metric -> (AutoGluon's eval_metric, the test score from the fitted predictor). rmsle: the model was fitted
# on log1p of the target, so its predictions are the log already.
_METRICS = {
    "roc_auc": ("roc_auc", lambda p, X, y: float(roc_auc_score(y, p.predict_proba(X).iloc[:, 1]))),
    "log_loss": ("log_loss", lambda p, X, y: float(log_loss(y, (proba := p.predict_proba(X)).to_numpy(),
                                                            labels=list(proba.columns)))),
    "accuracy": ("accuracy", lambda p, X, y: float(accuracy_score(y, p.predict(X)))),
    "rmse": ("root_mean_squared_error", lambda p, X, y: _rmse(y, p.predict(X).to_numpy())),
    "rmsle": ("root_mean_squared_error",
              lambda p, X, y: _rmse(np.log1p(y), np.log1p(np.clip(np.expm1(p.predict(X).to_numpy()), 0, None)))),
}


def _positive(proba: pd.DataFrame) -> np.ndarray:
    return proba[sorted(proba.columns)[1]].to_numpy()  # the second label, as sorted: our positive class too


def _classes(proba: pd.DataFrame) -> dict:
    values = proba.to_numpy(np.float64)
    values /= values.sum(axis=1, keepdims=True)  # its float32 rows sum to 1 only to 1e-7
    return {str(c): values[:, i] for i, c in enumerate(proba.columns)}


# metric -> the test predictions' columns in the shape of our submission file (benchmarks/score_submission.py
# reads both): one probability column, one per class, the label, or the value.
_PREDICTIONS = {
    "roc_auc": lambda p, X, target: {target: _positive(p.predict_proba(X))},
    "log_loss": lambda p, X, target: _classes(p.predict_proba(X)),
    "accuracy": lambda p, X, target: {target: p.predict(X).to_numpy()},
    "rmse": lambda p, X, target: {target: p.predict(X).to_numpy()},
    "rmsle": lambda p, X, target: {target: np.clip(np.expm1(p.predict(X).to_numpy()), 0, None)},
}


# preset -> time limit in seconds, as ANCHORS.md measured each
PRESETS = {"medium_quality": 120, "best_quality": 300}


def main(data: Path, name: str, predictions: Path | None = None, preset: str = "medium_quality") -> dict:
    from autogluon.tabular import TabularPredictor

    about = json.loads((data / name / "about.json").read_text())
    train, test, solution = (pd.read_csv(data / name / f"{f}.csv") for f in ("train", "test", "solution"))
    target, metric = about["target"], about["metric"]
    train = train.drop(columns=[about["id"]])
    if metric == "rmsle":
        train[target] = np.log1p(train[target])
    truth = solution.set_index(about["id"]).loc[test[about["id"]]].iloc[:, 0].to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        eval_metric, score = _METRICS[metric]
        predictor = TabularPredictor(label=target, eval_metric=eval_metric, problem_type=about["task"], path=tmp,
                                     verbosity=0)
        predictor.fit(train, presets=preset, time_limit=PRESETS[preset])
        X = test.drop(columns=[about["id"]])
        if predictions is not None:
            columns = _PREDICTIONS[metric](predictor, X, target)
            pd.DataFrame({about["id"]: test[about["id"]].to_numpy(), **columns}).to_csv(predictions, index=False)
        return {"test": score(predictor, X, truth)}


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder of data sets (../shared/data)")
    parser.add_argument("name", help="the data set")
    parser.add_argument("predictions", type=Path, nargs="?", help="write the test predictions here")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="medium_quality", help="AutoGluon's preset")
    args = parser.parse_args()
    print(json.dumps(main(args.data, args.name, args.predictions, args.preset)))
