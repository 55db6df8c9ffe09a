"""`init NAME`: create a competition from train/test/sample-submission files."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "create competition/NAME from Kaggle files, inferring id, target, task and metric"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="competition name (folder under competition/)")
    p.add_argument("--train", required=True, type=Path, help="train.csv")
    p.add_argument("--test", required=True, type=Path, help="test.csv")
    p.add_argument("--sample-submission", required=True, type=Path, help="sample_submission.csv")
    p.add_argument("--target", default=None, help="target column (default: inferred)")
    p.add_argument("--id", default=None, help="id column (default: the sample submission's first)")
    p.add_argument("--metric", default=None, help="metric (default: inferred per task)")
    p.add_argument("--task", default=None, help="task: binary, multiclass or regression (default: inferred)")


def main(args: argparse.Namespace) -> int:
    from pipeline.init_competition import init_competition

    root = Path(args.root or Path.cwd()).resolve()
    dest = init_competition(root, args.name, train=args.train, test=args.test,
                            sample_submission=args.sample_submission, target=args.target,
                            id_col=args.id, metric=args.metric, task=args.task)
    print(f"created {dest}; next: python -m pipeline run --competition {args.name}")
    return 0
