"""AutoGluon medium_quality on one data set by ANCHORS.md's protocol; prints {"test": score} as JSON.

    <python with autogluon.tabular> benchmarks/autogluon_medium.py ../shared/data titanic

Run by `benchmarks/quality.py --autogluon PYTHON`, which times this whole process (its imports included, as
our run's seconds include the CLI's), so that both wall times come from the same machine in the same
run: ANCHORS.md's seconds were measured once, on another day's machine. It needs only AutoGluon
(`pip install "autogluon.tabular[all]==1.6.3" -c constraints.txt` in a virtual environment of its own; it
pins an older pandas), not this project. The protocol: train.csv without the id column, the set's metric
as eval_metric (rmsle: RMSE on log1p of the target, predictions mapped back), presets medium_quality,
time limit 120 s, the test score against solution.csv.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score

_EVAL_METRIC = {"roc_auc": "roc_auc", "log_loss": "log_loss", "accuracy": "accuracy",
                "rmse": "root_mean_squared_error", "rmsle": "root_mean_squared_error"}


def _score(metric: str, predictor, X: pd.DataFrame, truth: np.ndarray) -> float:
    """The test score in the set's metric (rmsle: the model predicts log1p of the target)."""
    if metric == "roc_auc":
        return float(roc_auc_score(truth, predictor.predict_proba(X).iloc[:, 1]))
    if metric == "log_loss":
        proba = predictor.predict_proba(X)
        return float(log_loss(truth, proba.to_numpy(), labels=list(proba.columns)))
    if metric == "accuracy":
        return float(accuracy_score(truth, predictor.predict(X)))
    pred = predictor.predict(X).to_numpy()
    if metric == "rmsle":
        return float(np.sqrt(mean_squared_error(np.log1p(truth), np.log1p(np.clip(np.expm1(pred), 0, None)))))
    return float(np.sqrt(mean_squared_error(truth, pred)))


def main(data: Path, name: str) -> dict:
    from autogluon.tabular import TabularPredictor

    about = json.loads((data / name / "about.json").read_text())
    train, test, solution = (pd.read_csv(data / name / f"{f}.csv") for f in ("train", "test", "solution"))
    target, metric = about["target"], about["metric"]
    train = train.drop(columns=[about["id"]])
    if metric == "rmsle":
        train[target] = np.log1p(train[target])
    truth = solution.set_index(about["id"]).loc[test[about["id"]]].iloc[:, 0].to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        predictor = TabularPredictor(label=target, eval_metric=_EVAL_METRIC[metric], problem_type=about["task"],
                                     path=tmp, verbosity=0)
        predictor.fit(train, presets="medium_quality", time_limit=120)
        return {"test": _score(metric, predictor, test.drop(columns=[about["id"]]), truth)}


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
