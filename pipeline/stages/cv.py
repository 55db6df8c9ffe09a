"""CV stage: train each configured model (a unit) on the saved folds; one run folder per model.

Each finished run is also recorded in the run registry (pipeline/registry.py) in one batch at the
end of the stage, and a summary table (best first) closes the stage's output."""

from __future__ import annotations

import shutil
import time
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
    records = []
    try:
        for name in ctx.units or []:
            spec = comp.models[name]
            t0 = time.perf_counter()
            result = train_cv(name, spec, X_train, y, X_test, folds, task, metric,
                              threads=ctx.threads(*X_train.shape), arrays=arrays,
                              plugin_dir=plugin_dir if plugin_dir.is_dir() else None, log=ctx.log)
            seconds = time.perf_counter() - t0
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
            ctx.unit_done(name, produced[name])  # kept fresh even if a later model fails
            records.append(_record(comp, name, spec, result, metric, seconds))
    finally:  # runs that finished are recorded even when a later model fails
        _save_records(ctx, records)
    if records:
        for line in summary_table(records):
            ctx.log(f"[cv] {line}")
    models_root = comp.runs / MODELS_DIR
    if models_root.is_dir():  # runs of models removed from the config
        for old in models_root.iterdir():
            if old.is_dir() and not old.name.startswith(".") and old.name not in comp.models:
                shutil.rmtree(old, ignore_errors=True)
    return produced


def _record(comp, name: str, spec: dict, result, metric, seconds: float):
    from pipeline.registry import RunRecord

    params = {k: spec.get(k) for k in ("type", "estimator", "preprocess", "params")}
    return RunRecord(competition=comp.name, model=name, model_type=spec["type"], params=params,
                     metric=metric.name, greater_is_better=metric.greater_is_better, overall=result.overall,
                     fold_scores=list(result.fold_scores), fold_seconds=list(result.timings.get("folds", [])),
                     seconds=seconds, workspace=str(comp.workspace))


def _save_records(ctx: StageContext, records: list) -> None:
    """Write the batch; a registry that cannot be reached costs a warning, never the trained runs."""
    if not records:
        return
    from pipeline.registry import open_registry

    try:
        registry = open_registry(ctx.comp.workspace)
        try:
            registry.record(records)
        finally:
            registry.dispose()
    except Exception as exc:  # noqa: BLE001 - the run folders are written; only the leaderboard misses them
        ctx.log(f"[cv] warning: runs not recorded in the registry ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})")


def summary_table(records: list) -> list[str]:
    """Lines of a table of runs, best first: model, type, overall score, fold mean ± std, seconds."""
    import numpy as np

    rows = sorted(records, key=lambda r: -r.overall if r.greater_is_better else r.overall)
    header = ("model", "type", rows[0].metric, "folds mean ± std", "seconds")
    body = [(r.model, r.model_type, f"{r.overall:.5f}",
             f"{np.mean(r.fold_scores):.5f} ± {np.std(r.fold_scores):.5f}", f"{r.seconds:.1f}") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(b) for b in body)]
