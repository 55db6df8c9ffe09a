"""`init NAME`: create a competition from train/test/sample-submission files."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "create competition/NAME from Kaggle files, inferring id, target, task and metric"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="competition name (folder under competition/)")
    p.add_argument("--data", type=Path, default=None,
                   help="the competition's download: its folder, or the zip `kaggle competitions download` writes "
                        "(train.csv, test.csv and the sample submission are found by name)")
    p.add_argument("--train", type=Path, default=None, help="train.csv (with --data: instead of the one found)")
    p.add_argument("--test", type=Path, default=None, help="test.csv")
    p.add_argument("--sample-submission", type=Path, default=None, help="sample_submission.csv")
    p.add_argument("--target", default=None, help="target column (default: inferred)")
    p.add_argument("--id", default=None, help="id column (default: the sample submission's first)")
    p.add_argument("--metric", default=None, help="metric (default: inferred per task)")
    p.add_argument("--task", default=None, help="task: binary, multiclass or regression (default: inferred)")


def main(args: argparse.Namespace) -> int:
    import tempfile

    from core.errors import UserError
    from pipeline.init_competition import download_files, init_competition

    root = Path(args.root or Path.cwd()).resolve()
    given = {"train": args.train, "test": args.test, "sample_submission": args.sample_submission}
    with tempfile.TemporaryDirectory(prefix="pipeline-init-") as unpacked:
        if args.data is not None:
            files = download_files(args.data, Path(unpacked), given)
        elif all(given.values()):
            files = given
        else:
            raise UserError("init: pass --data with the competition's download (its folder or its .zip), or "
                            "--train, --test and --sample-submission")
        dest = init_competition(root, args.name, train=files["train"], test=files["test"],
                                sample_submission=files["sample_submission"], target=args.target,
                                id_col=args.id, metric=args.metric, task=args.task)
    print(f"created {dest}; next: python -m pipeline run --competition {args.name}")
    return 0
