"""`export RUN_ID`: write a model run as a portable bundle for a teammate."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a run (a model's folder name, or 'ensemble') as a portable bundle zip for a teammate"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN_ID", help="the run's folder name (the model name), or 'ensemble'")
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
    if args.run_id not in runs:
        hint = did_you_mean(args.run_id, tuple(runs)) if runs else "; run `python -m pipeline run` first"
        raise UserError(f"no run {args.run_id!r} in {comp.runs}{hint}")
    name = f"{comp.name}-{args.run_id}.zip"
    out = Path(args.out) if args.out else ws.root / "exports" / comp.name / name
    folder = bool(args.out) and str(args.out).endswith(("/", os.sep))  # Path() drops the slash that says so
    if out.is_dir() or folder:  # a folder (created when new): the bundle goes into it under its usual name
        out = out / name
    path = export_run(comp, runs[args.run_id], out, context=runner.competition, models=not args.no_models, log=log)
    print(path)
    return 0
