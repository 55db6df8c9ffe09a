"""`import PATH`: add a teammate's bundle (or notebook CSVs made on our folds) to the competition."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "add a teammate's run: a bundle from `export`, or --oof/--test CSVs made on our folds.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", metavar="PATH", nargs="*", type=Path, default=[],
                   help="bundle zip (or folder) written by `python -m pipeline export`; several: each in turn")
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
    if args.no_models and not args.paths:
        raise UserError("--no-models applies to a bundle PATH; CSVs carry predictions only")
    if args.paths and any(csvs):
        raise UserError("pass either a bundle PATH or --oof and --test CSVs, not both")
    if not args.paths and not all(csvs):
        raise UserError("pass a bundle PATH, or both --oof OOF.csv and --test TEST.csv")
    if len(args.paths) > 1 and args.name:
        raise UserError(f"--name {args.name!r} names one import; give one PATH with it (each bundle's run name is "
                        f"its import's name otherwise)")
    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    with competition_lock(comp):
        runner = Runner(build_pipeline(), comp, log=log)
        runner.run("folds")  # the fold file the import is checked against
        if args.paths:
            # each bundle is checked and written whole, in turn: a refused one leaves the ones before it imported
            dests, earlier = [], {}
            for path in args.paths:
                dests.append(import_bundle(comp, path, name=args.name, log=log, context=runner.competition,
                                           models=not args.no_models, earlier=earlier))
                earlier[dests[-1].name] = path
        else:
            dests = [import_csv(comp, args.oof, args.test, name=args.name, log=log, context=runner.competition)]
    log("[import] the ensemble stage will combine " + ("it" if len(dests) == 1 else "them")
        + " on the next `python -m pipeline run`")
    for dest in dests:
        print(dest)
    return 0
