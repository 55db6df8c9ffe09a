"""`export RUN_ID`: write a model run as a portable bundle for a teammate."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a run (a model's folder name, or 'ensemble') as a portable bundle zip for a teammate"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_ids", metavar="RUN_ID", nargs="+",
                   help="the run's folder name (the model name), or 'ensemble'; several: a bundle each")
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--out", "-o", default=None,
                   help="bundle path, or a folder to write it into: an existing one, or any path ending in '/' "
                        "(created) (default: exports/<competition>/<competition>-<RUN_ID>.zip)")
    p.add_argument("--no-models", action="store_true",
                   help="predictions only: leave out the fold models and feature states that let the teammate's "
                        "`predict` and `bundle` score new rows with the run (a smaller file)")


def main(args: argparse.Namespace) -> int:
    import os

    from core.errors import UserError, did_you_mean
    from pipeline.exchange import export_run
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace, log

    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    pipe = build_pipeline()
    runner = Runner(pipe, comp, log=log)
    runs = runner.competition.run_dirs(runner.state)
    if (comp.runs / "ensemble" / "oof.parquet").exists():
        runs["ensemble"] = comp.runs / "ensemble"
    for run_id in args.run_ids:  # every name checked before the first bundle is written
        if run_id not in runs:
            hint = did_you_mean(run_id, tuple(runs)) if runs else "; run `python -m pipeline run` first"
            raise UserError(f"no run {run_id!r} in {comp.runs}{hint}")
    folder = bool(args.out) and str(args.out).endswith(("/", os.sep))  # Path() drops the slash that says so
    if len(args.run_ids) > 1 and args.out and not (folder or Path(args.out).is_dir()):
        raise UserError(f"--out {args.out}: several runs are written as a bundle each; give a folder (end it "
                        f"with '/')")
    for run_id in dict.fromkeys(args.run_ids):
        name = f"{comp.name}-{run_id}.zip"
        out = Path(args.out) if args.out else ws.root / "exports" / comp.name / name
        if out.is_dir() or folder:  # a folder (created when new): the bundle goes into it under its usual name
            out = out / name
        print(export_run(comp, runs[run_id], out, context=runner.competition, models=not args.no_models, log=log))
    return 0
