"""`tune`: an Optuna study over a model's search space, scored by full k-fold CV; --apply writes the best back."""

from __future__ import annotations

import argparse

from pipeline.commands import duration

HELP = "tune a model's parameters with Optuna (full k-fold CV, pruning, resumable shared study)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("model_name", metavar="MODEL", nargs="?", default=None,
                   help="the [models.NAME] table to tune (or --model NAME)")
    p.add_argument("--model", "-m", default=None, help="the [models.NAME] table to tune")
    p.add_argument("--trials", "-n", type=int, required=True,
                   help="finished trials the study should hold (a resumed study runs only the rest)")
    p.add_argument("--timeout", type=duration, default=None,
                   help="stop starting trials after this long (seconds, or with s, m or h: 30m)")
    p.add_argument("--apply", action="store_true",
                   help="write the best parameters into competition.toml (not when the current ones score better)")
    p.add_argument("--storage", default=None,
                   help="SQLAlchemy URL of the study store (default: the run registry, <workspace>/runs.db)")
    p.add_argument("--seed", type=int, default=None,
                   help="sampler seed (default: random per process, so parallel workers differ)")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.tune import apply_params, inline_table, space_note, tune
    from pipeline.workspace import Workspace, competition_lock, log

    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.model and args.model_name and args.model != args.model_name:
        raise UserError(f"tune: two models named, {args.model_name!r} and --model {args.model!r}; tune one at a time")
    args.model = args.model or args.model_name
    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    if not args.model:
        example = next(iter(comp.models), "lgbm")
        raise UserError(f"tune: name the model to tune, e.g. `python -m pipeline tune {example} --trials 20` "
                        f"(models: {', '.join(comp.models)})")
    if args.model not in comp.models:
        from core.errors import did_you_mean

        raise UserError(f"tune: {args.model!r} is not an enabled model in {comp.config_path.name}"
                        f"{did_you_mean(args.model, tuple(comp.models))}")
    with competition_lock(comp):  # trials need fresh folds and features; a run writing them goes first
        runner = Runner(build_pipeline(), comp, log=log)
        runner.run("features")
    digest = str(runner.state["features"].get("outputs")) + str(runner.state["folds"].get("outputs"))
    if note := space_note(comp, args.model):
        log(note)
    threads = runner.competition.threads()
    try:
        result = tune(comp, args.model, trials=args.trials, timeout=args.timeout, storage=args.storage,
                      seed=args.seed, threads=threads, data_digest=digest, log=log)
    except KeyboardInterrupt:
        log("interrupted: finished trials are kept in the study; run the same command to resume")
        return 130
    others = result.n_complete + result.n_pruned + result.n_failed - result.ran
    log(f"[tune] {result.n_complete} complete, {result.n_pruned} pruned, {result.n_failed} failed "
        f"({result.ran} trained by this command" + (f", {others} by earlier or other processes sharing the study"
                                                    if others > 0 else "") + ")")
    print(f"best {comp.metric_name} {result.best_value:.5f}: params = {inline_table(result.best_params)}")
    current = _current_score(runner, args.model)
    sign = runner.competition.metric().sign  # +1 where higher is better
    worse = current is not None and sign * result.best_value <= sign * current[0]
    if current is not None:
        log(f"[tune] the current params of {args.model} score {current[0]:.5f} ({current[1]}, on the trials' folds): "
            + ("the best trial is no better; keep them" if worse else "the best trial beats them"))
    if args.apply and worse:
        print(f"not written: the current params of [models.{args.model}] score better than the best trial; "
              f"copy the params line above by hand to use it anyway")
    elif args.apply:
        with competition_lock(comp):
            merged = apply_params(comp.config_path, args.model, result.best_params)
        print(f"wrote [models.{args.model}] params = {inline_table(merged)} to {comp.config_path}")
    return 0


def _current_score(runner, model: str) -> tuple[float, str] | None:
    """The model's OOF score as configured now -- its cv run, when that run is fresh (same table, folds,
    features and code), on CV repeat 1 alone as each trial trains -- and where it comes from; None when there
    is none to compare the trials with."""
    from core.errors import UserError
    from pipeline.diff import first_repeat_score
    from pipeline.stages.cv import MODELS_DIR

    verdict = runner.verdict(runner.pipeline.stages["cv"])
    if model not in verdict.unit_fingerprints or model in verdict.stale_units:
        return None
    folder = runner.comp.runs / MODELS_DIR / model
    try:
        score = first_repeat_score(runner.competition, f"{MODELS_DIR}/{model}")
    except (UserError, OSError, ValueError, KeyError):
        return None
    return None if score is None else (score, f"its cv run, {folder.relative_to(runner.comp.workspace)}")
