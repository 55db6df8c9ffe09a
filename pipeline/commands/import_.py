"""`import PATH`: add a teammate's bundle (or notebook CSVs made on our folds) to the competition."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "add a teammate's run: a bundle from `export`, or --oof/--test CSVs made on our folds.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", nargs="?", type=Path, default=None,
                   help="bundle zip (or folder) written by `python -m pipeline export`")
    p.add_argument("--oof", type=Path, default=None,
                   help="CSV of OOF predictions: id, fold (from runs/folds.csv), prediction column(s)")
    p.add_argument("--test", type=Path, default=None, help="CSV of test predictions: id, prediction column(s)")
    p.add_argument("--name", default=None,
                   help="run name in imports/ (default: the bundle's run, or the OOF file's stem)")
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--no-models", action="store_true",
                   help="a bundle's predictions only, without the fold models and feature states it carries")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError
    from pipeline.exchange import import_bundle, import_csv
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace, competition_lock, log

    csvs = (args.oof, args.test)
    if args.no_models and args.path is None:
        raise UserError("--no-models applies to a bundle PATH; CSVs carry predictions only")
    if args.path is not None and any(csvs):
        raise UserError("pass either a bundle PATH or --oof and --test CSVs, not both")
    if args.path is None and not all(csvs):
        raise UserError("pass a bundle PATH, or both --oof OOF.csv and --test TEST.csv")
    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    with competition_lock(comp):
        runner = Runner(build_pipeline(), comp, log=log)
        runner.run("folds")  # the fold file the import is checked against
        if args.path is not None:
            dest = import_bundle(comp, args.path, name=args.name, log=log, context=runner.competition,
                                 models=not args.no_models)
        else:
            dest = import_csv(comp, args.oof, args.test, name=args.name, log=log, context=runner.competition)
    log("[import] the ensemble stage will combine it on the next `python -m pipeline run`")
    print(dest)
    return 0
