"""`run`: run the stale stages up to a stage (default: through submit)."""

from __future__ import annotations

import argparse

from pipeline.commands import duration

HELP = "run the pipeline's stale stages (make-like); --stage X stops after X"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--stage", "-s", default=None,
                   help="run this stage and the stale stages it needs, nothing after it")
    p.add_argument("--force", action="store_true", help="re-run the named stage (all stages without --stage)")
    p.add_argument("--models", default=None, help="comma-separated models to (re)train in the cv stage")
    p.add_argument("--time-budget", type=duration, default=None, metavar="SECONDS",
                   help="time for the whole run, in seconds or with s, m or h (1.5h): models train cheapest "
                        "first, those that would not fit are skipped (overrides [runtime] time_budget)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run folds on a dask cluster: the scheduler's address, e.g. tcp://host:8786 "
                        "(overrides [runtime] backend and scheduler)")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError, did_you_mean
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace, competition_lock, log

    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    if args.time_budget is not None:
        if not args.time_budget > 0:
            raise UserError(f"--time-budget must be a positive number of seconds, got {args.time_budget}")
        comp.cfg["runtime"]["time_budget"] = args.time_budget
    if args.scheduler is not None:
        comp.cfg["runtime"].update(backend="dask", scheduler=args.scheduler)
    if comp.cfg["runtime"]["backend"] == "dask":  # an unreachable cluster fails now, not after the features
        from pipeline.execution import backend_for

        backend_for(comp, log=log)
    pipe = build_pipeline()
    if args.stage:
        pipe.get(args.stage)
    only = None
    if args.models:
        only = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in only if m not in comp.models]
        if unknown:
            base = unknown[0].removesuffix("-pseudo")
            close = did_you_mean(unknown[0], list(comp.models))  # the list of models follows in any case
            hint = (f" ({unknown[0]!r} is the pseudo stage's run of {base!r}: --models {base} retrains both)"
                    if base != unknown[0] and base in comp.models else close if "did you mean" in close else "")
            raise UserError(f"--models names {unknown[0]!r}, which is not an enabled model in "
                            f"{comp.config_path.name}{hint}; models: {', '.join(comp.models)}")
    with competition_lock(comp):  # a second run of this competition waits here; state is read after
        runner = Runner(pipe, comp, log=log, alongside=comp.cfg["runtime"]["alongside"])
        runner.run(args.stage, force=args.force, only_units=only)
    if args.stage in (None, "submit"):
        paths = runner.state["submit"].get("paths", [])
        if paths:
            print(comp.workspace / paths[0])
    return 0
