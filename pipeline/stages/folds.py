"""Folds stage: one fold per train row, fixed for the competition, saved as runs/folds.csv (id, fold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import io as _io
from pipeline.graph import StageContext


def assign_folds(train, *, target: str, task: str, scheme: str, n_splits: int, seed: int,
                 group_column: str = "", time_column: str = "") -> np.ndarray:
    """Fold number (0..n_splits-1) per row for the given CV scheme; 'auto' = stratified for
    classification, kfold for regression. 'time' gives contiguous blocks in time order (fold k
    validates on the k-th block)."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    n = len(train)
    if scheme == "auto":
        scheme = "kfold" if task == "regression" else "stratified"
    folds = np.full(n, -1, dtype=np.int64)
    idx = np.arange(n)
    if scheme == "kfold":
        splits = KFold(n_splits, shuffle=True, random_state=seed).split(idx)
    elif scheme == "stratified":
        y = train[target].astype(str).to_numpy()
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < n_splits:
            from core.errors import UserError

            raise UserError(f"cv.scheme = 'stratified': the rarest class has {counts.min()} rows, fewer "
                            f"than cv.n_splits = {n_splits}; lower n_splits or use scheme = 'kfold'")
        splits = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(idx, y)
    elif scheme == "group":
        groups = train[group_column].astype(str).to_numpy()
        splits = GroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, groups=groups)
    elif scheme == "time":
        order = np.argsort(train[time_column].to_numpy(), kind="stable")
        for k, block in enumerate(np.array_split(order, n_splits)):
            folds[block] = k
        return folds
    else:  # validated in config
        raise ValueError(scheme)
    for k, (_, valid) in enumerate(splits):
        folds[valid] = k
    return folds


def run(ctx: StageContext) -> list[Path]:
    import pandas as pd

    train = ctx.data()[0]
    cv = ctx.cfg["cv"]
    folds = assign_folds(train, target=ctx.comp.target, task=ctx.comp.task, scheme=cv["scheme"],
                         n_splits=cv["n_splits"], seed=cv["seed"], group_column=cv["group_column"],
                         time_column=cv["time_column"])
    frame = pd.DataFrame({ctx.comp.id_col: train[ctx.comp.id_col], "fold": folds})
    _io.write_csv(ctx.comp.folds_path, frame)
    sizes = np.bincount(folds)
    ctx.log(f"[folds] {cv['n_splits']} folds ({cv['scheme']}), rows per fold: {sizes.tolist()}")
    return [ctx.comp.folds_path]
