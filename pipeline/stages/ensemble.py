"""Ensemble stage: combine the model runs (cv, pseudo, imported) on their OOF predictions.

Runs every method that fits the task and metric (or the one pinned by ensemble.method), reports
each member's OOF score, each method's honest OOF score and the weights it chose, and keeps the
best into runs/ensemble/ (the run-folder layout, plus leaderboard.csv).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.artifacts import by_column, read_run, scores_record, write_run
from core.errors import UserError, did_you_mean
from pipeline.context import StageContext

if TYPE_CHECKING:
    from models.ensemble import Problem

ENSEMBLE_DIR = "ensemble"
_BUILTIN_STACKERS = ("linear", "lightgbm")


def load_members(ctx: StageContext, names: list[str] | None = None) -> list:
    """The named runs (default: all) as ensemble members aligned with the validated train rows (every
    row but forward chaining's earliest block, which no fold predicts) and test.csv's rows; in name
    order, so that the blend does not depend on the order the models are listed or imported in (the
    weights' search goes member by member, and on AUC or accuracy, step functions, it ends elsewhere)."""
    import pandas as pd

    from core.folds import validated
    from models.ensemble import Member

    comp = ctx.comp
    train, test, _ = ctx.data()
    train = train[validated(ctx.folds())]
    task = ctx.task_info()
    dirs = ctx.model_run_dirs()
    if not dirs:
        raise UserError(f"no model runs to ensemble in {comp.runs / 'models'} or {comp.imports_dir}; "
                        f"enable a [models.NAME] table or import a teammate's run")
    names = sorted(names or dirs)
    for name in names:
        if name not in dirs:
            raise UserError(f"ensemble.models names {name!r}, which has no run"
                            f"{did_you_mean(str(name), tuple(dirs))}")
    members, elsewhere = [], []
    ours = ctx.competition.folds_sha256()
    for name in names:
        run = read_run(dirs[name], id_col=comp.id_col, task=task)
        if run.scores.get("folds_sha256") not in (None, ours):  # its rows' OOF models trained on other rows
            elsewhere.append(name)
            continue
        parts = []
        for ids, preds, want, what in ((run.oof_ids, [run.oof, *run.oof_repeats], train[comp.id_col], "train"),
                                       (run.test_ids, [run.test], test[comp.id_col], "test")):
            pos = pd.Index(ids).get_indexer(want)
            if (pos < 0).any():
                raise UserError(f"run {name!r} ({dirs[name]}) lacks {int((pos < 0).sum())} {what} id(s); "
                                f"re-run it (or re-import it) on this competition's data")
            aligned = [pred[pos] for pred in preds]
            if not all(np.isfinite(a).all() for a in aligned):
                raise UserError(f"run {name!r} has missing or infinite {what} predictions; re-run it")
            parts.append(aligned)
        members.append(Member(name, parts[0][0], parts[1][0], parts[0][1:]))
    if elsewhere:
        trained = [n for n in elsewhere if not (comp.imports_dir / n).is_dir()]
        fixes = [f"retrain with --models {','.join(trained)}"] if trained else []
        if len(trained) < len(elsewhere):
            fixes.append("re-import the teammates' runs made on the current folds")
        ctx.log(f"[ensemble] left out {', '.join(elsewhere)}: made on other folds than {comp.folds_path.name} holds "
                f"now (a stack or a weight fitted on the other folds would see rows their models trained on); "
                f"{'; '.join(fixes)}")
    if not members:
        raise UserError(f"every run was made on other folds than {comp.folds_path} holds now; retrain them "
                        f"(python -m pipeline run --stage cv)")
    return members


def resolve_stackers(specs: list, tables: dict) -> list:
    """ensemble.stackers resolved: built-in names, [models.NAME] tables (`tables`), inline tables."""
    out = []
    for spec in specs:
        if isinstance(spec, dict):
            if "type" not in spec:
                raise UserError(f"ensemble.stackers: inline table {spec!r} needs a type, e.g. "
                                f"{{type = 'lightgbm', params = {{num_leaves = 7}}}}")
            out.append(spec)
        elif spec in _BUILTIN_STACKERS:
            out.append(spec)
        elif spec in tables:
            out.append({**tables[spec], "name": spec})
        else:
            choices = tuple(dict.fromkeys((*_BUILTIN_STACKERS, *tables)))
            raise UserError(f"ensemble.stackers names {spec!r}, which is neither linear, lightgbm nor a "
                            f"[models.NAME] table{did_you_mean(str(spec), choices)}")
    if not out:
        raise UserError("ensemble.stackers is empty; use ['linear'] (the default) or name level-2 models")
    return out


def method_options(cfg: dict, stackers: list, *, trainer, threads: int, log, X_train=None, X_test=None) -> dict:
    """The methods' options from [ensemble] (`cfg`) and the resolved stackers: the stack's levels, its
    k-fold trainer and threads, its passthrough features (`X_train`, `X_test`), hill climbing's rounds.
    `pipeline.predict` replays the chosen method with the same options."""
    levels = [stackers] + ([["linear"]] if len(stackers) > 1 else [])
    level_2 = {"log": log, "train_cv": trainer, "threads": threads}
    stack = {"levels": levels, **level_2}
    if cfg["passthrough"]:
        stack.update(X=X_train, X_test=X_test)
    # the LightGBM-level-2 stack reports its score, not each of its level-2 folds
    quiet = {**level_2, "log": lambda _message: None}
    climb = {"max_iter": cfg["hill_climb_rounds"]}
    return {"stack": stack, "stack_lightgbm": quiet,
            **{name: climb for name in ("hill_climb", "bagged_hill_climb", "geometric_hill_climb")}}


def _method_options(ctx: StageContext, repeat: int = 0) -> dict:
    cfg = ctx.cfg["ensemble"]
    training = ctx.training()
    X_train = X_test = None
    if cfg["passthrough"]:
        from core.folds import validated

        X_train, X_test, _ = training.for_repeat(repeat).features  # the repeat's out-of-fold encodings
        rows = validated(ctx.folds())
        if not rows.all():  # the ensemble's rows: the validated ones
            X_train = X_train.iloc[np.flatnonzero(rows)].reset_index(drop=True)
    return method_options(cfg, resolve_stackers(cfg["stackers"], ctx.cfg["models"]), trainer=training.trainer,
                          threads=training.threads(), log=ctx.log, X_train=X_train, X_test=X_test)


def _temperature_text(details: dict) -> str:
    """'  (temperature 0.746; without 0.01134)', or per CV repeat ('—' where it did not pay); '' without one."""
    if "temperature" in details:
        return f"  (temperature {details['temperature']:.3f}; without {details['uncalibrated_score']:.5f})"
    temps = details.get("temperature_by_repeat", [])
    if not any(t is not None for t in temps):
        return ""
    return "  (temperature per CV repeat: " + ", ".join("—" if t is None else f"{t:.3f}" for t in temps) + ")"


def _weights_text(weights: dict[str, float]) -> str:
    used = sorted(((w, n) for n, w in weights.items() if w > 0), reverse=True)
    return ", ".join(f"{n} {w:.3f}" for w, n in used)


@dataclass(frozen=True)
class FittedMethods:
    """Every method the stage ran, fitted and scored honestly (each CV repeat on its own folds, averaged):
    `problem` holds the members' OOF predictions averaged over the repeats, on the first repeat's folds."""

    problem: Problem
    results: dict  # method name -> models.ensemble.EnsembleResult
    timings: dict[str, float]
    member_scores: dict[str, float]


def fit_methods(ctx: StageContext) -> FittedMethods:
    """Load the members and fit every applicable method (or the pinned one), logging each one's honest
    OOF score; `run` chooses among them and writes the chosen one."""
    from core.folds import validated
    from models.ensemble import (METHODS, Member, Problem, automatic, average_repeats, get_method, optimistic,
                                 run_methods)

    comp, cfg = ctx.comp, ctx.cfg["ensemble"]
    train, test, _ = ctx.data()
    task, metric = ctx.task_info(), ctx.metric()
    rows = validated(ctx.folds())
    y = task.encode(train[comp.target])[rows]
    weights = ctx.sample_weight()
    sw = None if weights is None else weights[rows]  # [competition] weight: every score and search is weighted
    if cfg["method"] == "auto":
        methods = automatic(task, metric)
    else:
        get_method(cfg["method"])
        methods = [cfg["method"]]
    if cfg["hill_climb_rounds"] < 1:
        raise UserError(f"ensemble.hill_climb_rounds must be at least 1, got {cfg['hill_climb_rounds']}")
    loaded = load_members(ctx, cfg["models"] or None)
    if len(loaded) == 1 and cfg["method"] == "auto":
        # every blend of one member is that member's predictions; a stack can only recalibrate them,
        # which a rank-based metric (AUC) cannot see: there it is not worth a level-2 fit per fold
        methods = [m for m in methods if m == "best" or (m == "stack" and not metric.rank_based)]
        ctx.log(f"[ensemble] one member ({loaded[0].name}): "
                + ("its own predictions, or recalibrated by a stack" if "stack" in methods else
                   "its own predictions (a blend of one is itself; a stack cannot change its ranking)"))
    # CV repeats: each method is fitted and scored on each repeat's own folds and OOF predictions (so
    # every guarantee holds per repeat), then averaged; a member of fewer repeats (an import, a pseudo
    # run, a model the first repeat's ensemble left out) brings its own OOF to every repeat
    repeats = ctx.repeats()
    own_repeats = {m.name: max(1, len(m.oof_repeats)) for m in loaded}  # one repeat keeps no per-repeat OOF
    fewer = [name for name, own in own_repeats.items() if own < repeats]
    problems = [Problem([m.repeat(r) for m in loaded], y, ctx.folds(r)[rows], task, metric, sw)
                for r in range(repeats)]
    options = [_method_options(ctx, r) for r in range(repeats)]
    members = [Member(m.name, np.mean([p.members[i].oof for p in problems], axis=0), m.test)
               for i, m in enumerate(loaded)]
    problem = Problem(members, y, ctx.folds()[rows], task, metric, sw)
    if not rows.all():
        ctx.log(f"[ensemble] {int((~rows).sum())} train rows are never validated (forward chaining's earliest "
                f"block): the methods are fitted and scored on the other {int(rows.sum())}")
    if repeats > 1:
        ctx.log(f"[ensemble] {repeats} CV repeats: methods fitted per repeat, then averaged"
                + (f" ({', '.join(fewer)}: fewer repeats, their own OOF in each)" if fewer else ""))
    direction = "higher" if metric.greater_is_better else "lower"
    width = max(len(n) for n in [*problem.names, *METHODS])
    ctx.log(f"[ensemble] {len(members)} member(s), OOF {metric.name} ({direction} is better):")
    member_scores = {}
    for m in members:
        member_scores[m.name] = problem.score(m.oof)
        ctx.log(f"[ensemble]   {m.name:<{width}}  {member_scores[m.name]:.5f}"
                + (f"  ({own_repeats[m.name]} of {repeats} repeats; an average of more scores better)"
                   if m.name in fewer else ""))
    ctx.log("[ensemble] methods, honest OOF (weights fitted on the other folds):")
    results, timings = {}, {}
    for name in methods:
        t0 = time.perf_counter()
        results[name] = average_repeats([run_methods(p, [name], options=o, calibrate=cfg["calibrate"])[name]
                                         for p, o in zip(problems, options)], problem)
        timings[name] = time.perf_counter() - t0
        r = results[name]
        extra = f"  (in-sample {r.fit_score:.5f})" if r.fit_score is not None else ""
        extra += _temperature_text(r.details)
        weights = f"  weights: {_weights_text(r.weights)}" if r.weights else ""
        caveat = ("  (optimistic: the level-2 model sees the features and member predictions made with the "
                  "held-out fold's labels; chosen only if pinned)") if optimistic(r) else ""
        ctx.log(f"[ensemble]   {name:<{width}}  {r.score:.5f}{extra}{weights}{caveat}")
    return FittedMethods(problem, results, timings, member_scores)


def run(ctx: StageContext) -> list[Path]:
    from core.metrics import column_scores
    from models.ensemble import select

    cfg, metric = ctx.cfg["ensemble"], ctx.metric()
    fitted = fit_methods(ctx)
    results, member_scores = fitted.results, fitted.member_scores
    chosen = select(results, metric)
    how = "pinned by ensemble.method" if cfg["method"] != "auto" else "best honest OOF score"
    ctx.log(f"[ensemble] chose {chosen.method} ({how}): {metric.name} {chosen.score:.5f}")
    problem = fitted.problem
    columns = column_scores(metric, problem.task, problem.y, chosen.oof, problem.sample_weight)
    if columns:
        ctx.log(f"[ensemble] {metric.name} by target column: {by_column({'columns': columns}, columns)}")
    scores = scores_record(metric, chosen.fold_scores, chosen.score, folds_sha256=ctx.competition.folds_sha256(),
                           method=chosen.method, weights=chosen.weights, members=member_scores,
                           methods={n: r.score for n, r in results.items()},
                           **({"columns": columns} if columns else {}))
    params = {"method": chosen.method, "config": cfg, "weights": chosen.weights, "details": chosen.details,
              "members": fitted.problem.names}  # in the order fitted (a stack's inputs follow it)
    paths = _write(ctx, chosen, scores, params, fitted.timings, member_scores, results)
    from pipeline.tracking import mirror_ensemble

    mirror_ensemble(ctx.comp, ctx.comp.runs / ENSEMBLE_DIR, scores, params, log=ctx.log)
    return paths


def _write(ctx: StageContext, chosen, scores: dict, params: dict, timings: dict, member_scores: dict,
           results: dict) -> list[Path]:
    import pandas as pd

    from core.folds import validated
    from models.ensemble import optimistic

    comp = ctx.comp
    train, test, _ = ctx.data()
    train = train[validated(ctx.folds())]
    rows = [{"kind": "member", "name": n, "oof_score": s, "in_sample_score": None, "weights": "", "optimistic": False}
            for n, s in member_scores.items()]
    rows += [{"kind": "method", "name": n, "oof_score": r.score, "in_sample_score": r.fit_score,
              "weights": json.dumps({k: round(v, 6) for k, v in r.weights.items()}), "optimistic": optimistic(r)}
             for n, r in results.items()]
    board = pd.DataFrame(rows)
    path = write_run(comp.runs / ENSEMBLE_DIR, id_col=comp.id_col, task=ctx.task_info(),
                     train_ids=train[comp.id_col], oof=chosen.oof, test_ids=test[comp.id_col],
                     test=chosen.test, scores=scores, params=params,
                     timings={"methods": timings, "total": sum(timings.values())},
                     extra_tables={"leaderboard.csv": board})
    return [path / f for f in ("oof.parquet", "test.parquet", "scores.json", "params.json", "leaderboard.csv")]
