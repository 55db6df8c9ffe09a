"""`predict --test FILE`: score new rows with the latest run's saved feature states, fold models and ensemble."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score new rows (a CSV with test.csv's columns) with the latest run's fold models and ensemble"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--test", "-t", required=True,
                   help="CSV (or Parquet) of rows to score, with test.csv's columns (extra ones are ignored)")
    p.add_argument("--out", "-o", default=None,
                   help="output CSV (default: submissions/<competition>/predict-<FILE's name>.csv; with --from: "
                        "predictions.csv beside the predictor)")
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--from", dest="source", default=None, metavar="DIR",
                   help="a predictor folder made by `python -m pipeline bundle` (its competition folder) instead "
                        "of the workspace's latest run")
    p.add_argument("--chunk-rows", type=int, default=None, help="rows read and scored at a time (default 100000)")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError
    from pipeline.predict import CHUNK_ROWS, Predictor
    from pipeline.workspace import log

    chunk = args.chunk_rows or CHUNK_ROWS
    if chunk < 1:
        raise UserError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    test = Path(args.test)
    if args.source:
        predictor = Predictor.from_folder(Path(args.source), log=log)
        out = Path(args.out) if args.out else Path(args.source) / "predictions.csv"
    else:
        from pipeline.context import CompetitionContext
        from pipeline.workspace import Workspace

        comp = Workspace(args.root).competition(args.competition)
        predictor = Predictor.from_workspace(CompetitionContext(comp, log=log), log=log)
        out = Path(args.out) if args.out else comp.submissions_dir / f"predict-{test.stem}.csv"
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give the output CSV's file name")
    path = predictor.predict_file(test, out, chunk_rows=chunk)
    print(path)
    return 0
