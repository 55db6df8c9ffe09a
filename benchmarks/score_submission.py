"""Score a written submission against the true test labels (benchmarks/data/<set>/solution.csv).

The pipeline never reads solution.csv; this script is how we measure what a submission would score.

    python benchmarks/score_submission.py                       # submissions/titanic/latest.csv
    python benchmarks/score_submission.py --competition titanic --data titanic --submission PATH
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.config import load_competition  # noqa: E402
from core.metrics import get_metric  # noqa: E402
from core.tasks import TaskInfo  # noqa: E402


def submission_predictions(submission: Path, solution: Path, *, comp_dir: Path):
    """(metric, true labels, predictions) of a submission file against a solution file, rows in the
    solution's order and encoded as the competition's metric reads them."""
    comp = load_competition(comp_dir)
    sub, sol = pd.read_csv(submission), pd.read_csv(solution)
    train_target = pd.read_csv(comp.train_path, usecols=[comp.target])[comp.target]
    task = TaskInfo.from_target(comp.task, train_target)
    sub = sub.set_index(comp.id_col).loc[sol[comp.id_col]]
    y = task.encode(sol[comp.target])
    cols = list(sub.columns)
    if comp.task == "multiclass" and len(cols) > 1:
        pred = sub[[str(c) for c in task.classes]].to_numpy(float)
    elif comp.task == "multiclass":
        pred = task.encode(sub[cols[0]])
        pred = np.eye(task.n_classes)[pred]
    elif comp.task == "binary" and sub[cols[0]].dtype.kind != "f":
        pred = task.encode(sub[cols[0]]).astype(float)
    else:
        pred = sub[cols[0]].to_numpy(float)
    return get_metric(comp.metric_name, comp.root), y, pred


def score_submission(submission: Path, solution: Path, *, comp_dir: Path) -> tuple[str, float]:
    """(metric name, score) of a submission file against a solution file."""
    metric, y, pred = submission_predictions(submission, solution, comp_dir=comp_dir)
    return metric.name, metric(y, pred)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--competition", default="titanic")
    p.add_argument("--data", default=None, help="benchmarks/data set holding solution.csv (default: the name)")
    p.add_argument("--submission", type=Path, default=None)
    p.add_argument("--root", type=Path, default=REPO)
    args = p.parse_args()
    sub = args.submission or args.root / "submissions" / args.competition / "latest.csv"
    solution = REPO / "benchmarks" / "data" / (args.data or args.competition) / "solution.csv"
    name, score = score_submission(sub, solution, comp_dir=args.root / "competition" / args.competition)
    print(f"{args.competition}: test {name} = {score:.5f}  ({sub})")


if __name__ == "__main__":
    main()
