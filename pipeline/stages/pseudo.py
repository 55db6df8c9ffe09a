"""Pseudo stage: retrain a model with confident test predictions added as training rows.

Leak-free by construction: fold k's extra rows are labelled by fold k's own model from the cv
stage (it never saw fold k), so the pseudo run's OOF score stays honest. The run joins the
ensemble as `<model>-pseudo`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.errors import UserError
from pipeline.graph import StageContext


def select_pseudo_rows(pred_k: np.ndarray, spread: np.ndarray | None, task, *, threshold: float,
                       fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, encoded labels) of test rows confident enough to use as training rows."""
    if task.is_classification and pred_k.ndim == 2:  # multiclass: the most probable class
        conf = pred_k.max(axis=1)
        rows = np.flatnonzero(conf >= threshold)
        return rows, pred_k[rows].argmax(axis=1)
    if task.is_classification:  # binary: P(positive) far enough from 0.5 either way
        rows = np.flatnonzero((pred_k >= threshold) | (pred_k <= 1 - threshold))
        return rows, (pred_k[rows] >= 0.5).astype(np.int64)
    n = int(round(fraction * len(pred_k)))
    rows = np.argsort(spread, kind="stable")[:n] if spread is not None else np.arange(n)
    return np.sort(rows), pred_k[np.sort(rows)]


def run(ctx: StageContext) -> list[Path]:
    import pandas as pd

    from pipeline.artifacts import read_run

    training = ctx.training()
    comp, cfg = ctx.comp, ctx.cfg["pseudo"]
    test, task, metric = training.test, training.task, training.metric
    cv_runs = {u: comp.runs / "models" / u for u in ctx.state["cv"].get("units", {})}
    if not cv_runs:
        raise UserError("pseudo-labelling needs at least one model run; run the cv stage first")
    name = cfg["model"] or max(cv_runs, key=lambda u: metric.sign * read_run(
        cv_runs[u], id_col=comp.id_col, task=task).overall)
    if name not in cv_runs or name not in comp.models:
        raise UserError(f"pseudo.model = {name!r} is not a trained model; choose one of {', '.join(cv_runs)}")
    by_fold_path = cv_runs[name] / "test_by_fold.parquet"
    if not by_fold_path.exists():
        raise UserError(f"{by_fold_path}: per-fold test predictions missing; re-run cv with --force")
    by_fold = pd.read_parquet(by_fold_path)
    preds = {k: task.from_frame(g.sort_values(comp.id_col).set_index(comp.id_col)
                                .reindex(test[comp.id_col]).reset_index())
             for k, g in by_fold.groupby("fold")}
    spread = None if task.is_classification else np.std(np.stack(list(preds.values())), axis=0)
    X_test = training.features[1]

    def extra_rows(k: int):
        rows, labels = select_pseudo_rows(preds[k], spread, task, threshold=cfg["threshold"],
                                          fraction=cfg["fraction"])
        return X_test.iloc[rows].reset_index(drop=True), labels

    counts = [len(extra_rows(k)[0]) for k in sorted(preds)]
    ctx.log(f"[pseudo] {name}: pseudo-labelled test rows per fold: {counts}")
    t0 = time.perf_counter()
    result = training.train_cv(f"{name}-pseudo", comp.models[name], extra_rows=extra_rows)
    path = training.write(comp.runs / "pseudo" / f"{name}-pseudo", result, by_fold=False,
                          params={**result.params, "pseudo": {**cfg, "source": name, "rows_per_fold": counts}})
    training.save_records([training.record(f"{name}-pseudo", comp.models[name], result,
                                           time.perf_counter() - t0, stage="pseudo")], prefix="[pseudo]")
    ctx.log(f"[pseudo] {name}-pseudo: {metric.name} {result.overall:.5f} "
            f"(source {metric(training.y, read_run(cv_runs[name], id_col=comp.id_col, task=task).oof):.5f})")
    return [path / f for f in ("oof.parquet", "test.parquet", "scores.json", "params.json")]
