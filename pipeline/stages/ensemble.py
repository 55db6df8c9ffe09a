"""Ensemble stage: combine the model runs' predictions on their OOF scores into runs/ensemble/."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.artifacts import read_run, write_run
from pipeline.errors import UserError
from pipeline.graph import StageContext

ENSEMBLE_DIR = "ensemble"


def run(ctx: StageContext) -> list[Path]:
    comp = ctx.comp
    train, test, _ = ctx.data()
    task, metric = ctx.task_info(), ctx.metric()
    y = task.encode(train[comp.target])
    dirs = ctx.model_run_dirs()
    wanted = ctx.cfg["ensemble"]["models"] or list(dirs)
    missing = [m for m in wanted if m not in dirs]
    if missing:
        raise UserError(f"ensemble.models names {missing[0]!r}, which has no run; runs: {', '.join(dirs)}")
    runs = [read_run(dirs[m], id_col=comp.id_col, task=task) for m in wanted]
    for r in runs:
        ctx.log(f"[ensemble] member {r.name}: {metric.name} {metric(y, r.oof):.5f}")
    candidates = {f"best ({max(runs, key=lambda r: metric.sign * metric(y, r.oof)).name})":
                  max(runs, key=lambda r: metric.sign * metric(y, r.oof))}
    best_name, best = next(iter(candidates.items()))
    oof, test_pred, method = best.oof, best.test, best_name
    if len(runs) > 1:
        mean_oof = np.mean([r.oof for r in runs], axis=0)
        if metric.better(metric(y, mean_oof), metric(y, oof)):
            oof, test_pred, method = mean_oof, np.mean([r.test for r in runs], axis=0), "mean"
    score = metric(y, oof)
    ctx.log(f"[ensemble] chose {method}: {metric.name} {score:.5f}")
    scores = {"metric": metric.name, "greater_is_better": metric.greater_is_better, "folds": [],
              "overall": score, "method": method, "members": [r.name for r in runs]}
    path = write_run(comp.runs / ENSEMBLE_DIR, id_col=comp.id_col, task=task, train_ids=train[comp.id_col],
                     oof=oof, test_ids=test[comp.id_col], test=test_pred, scores=scores,
                     params={"method": method}, timings={})
    return [path / f for f in ("oof.parquet", "test.parquet", "scores.json")]
