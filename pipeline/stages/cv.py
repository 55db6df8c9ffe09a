"""CV stage: train each configured model (a unit) on the saved folds; one run folder per model."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.artifacts import write_run
from pipeline.graph import StageContext

MODELS_DIR = "models"


def run(ctx: StageContext) -> dict[str, list[Path]]:
    from models import train_cv
    from pipeline.stages.features import load_features

    comp = ctx.comp
    train, test, _ = ctx.data()
    task, metric = ctx.task_info(), ctx.metric()
    y = task.encode(train[comp.target])
    folds = ctx.folds()
    X_train, X_test, arrays = load_features(comp)
    produced: dict[str, list[Path]] = {}
    plugin_dir = comp.root / "models"
    for name in ctx.units or []:
        spec = comp.models[name]
        result = train_cv(name, spec, X_train, y, X_test, folds, task, metric,
                          threads=ctx.threads(len(X_train)), arrays=arrays,
                          plugin_dir=plugin_dir if plugin_dir.is_dir() else None, log=ctx.log)
        scores = {"metric": metric.name, "greater_is_better": metric.greater_is_better,
                  "folds": result.fold_scores, "overall": result.overall}
        path = write_run(comp.runs / MODELS_DIR / name, id_col=comp.id_col, task=task,
                         train_ids=train[comp.id_col], oof=result.oof, test_ids=test[comp.id_col],
                         test=result.test, scores=scores, params=result.params, timings=result.timings,
                         extra_tables=result.extra_tables,
                         test_by_fold=result.test_by_fold)
        ctx.log(f"[cv] {name}: {metric.name} {result.overall:.5f} overall "
                f"(folds {', '.join(f'{s:.4f}' for s in result.fold_scores)})")
        produced[name] = [path / f for f in ("oof.parquet", "test.parquet", "scores.json", "params.json")]
        ctx.unit_done(name, produced[name])  # kept even if a later model fails
    models_root = comp.runs / MODELS_DIR
    if models_root.is_dir():  # runs of models removed from the config
        for old in models_root.iterdir():
            if old.is_dir() and not old.name.startswith(".") and old.name not in comp.models:
                shutil.rmtree(old, ignore_errors=True)
    return produced
