"""CV schemes: how train rows are split into folds (`cv.scheme`), one `Scheme` entry each in `SCHEMES`.

Config validation reads the registry; the folds stage calls `assign_folds` / `train_from_of` and saves
the result as runs/folds.csv. Forward chaining adds `train_from`, the first fold allowed to train on
each row (core.folds reads it)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.errors import UserError


@dataclass(frozen=True)
class Scheme:
    """A CV scheme: how rows are split into folds, and the cv key naming the column it needs."""

    name: str
    doc: str
    split: Callable[..., Any]  # (train, n_splits, seed, target, column) -> (train_idx, valid_idx) splits or folds
    column_key: str = ""  # cv.<key> that must name a column ("" = none)
    # (train, folds, column, gap) -> per row the first fold that may train on it (core.folds.train_mask);
    # None: every fold trains on all rows it does not validate
    train_from: Callable[..., np.ndarray] | None = None
    shuffled: bool = True  # another seed gives other folds (cv.repeats needs it)


def _kfold(train, n_splits, seed, target, column):
    from sklearn.model_selection import KFold

    return KFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)))


def _stratified(train, n_splits, seed, target, column):
    from sklearn.model_selection import StratifiedKFold

    y = train[target].astype(str).to_numpy()
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        raise UserError(f"cv.scheme = 'stratified': the rarest class has {counts.min()} rows, fewer "
                        f"than cv.n_splits = {n_splits}; lower n_splits or use scheme = 'kfold'")
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)), y)


def _group(train, n_splits, seed, target, column):
    from sklearn.model_selection import GroupKFold

    groups = train[column].astype(str).to_numpy()
    return GroupKFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)), groups=groups)


def time_values(train, column: str) -> np.ndarray:
    """The time column as sortable numbers: numbers as they are, dates (datetime64, or text in one date
    format pandas recognises) as nanoseconds. Text that is neither -- weekday names, mixed formats --
    would sort as strings, so it is refused, as are missing times."""
    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    values = train[column]
    where = f"cv.time_column {column!r}"
    if values.isna().any():
        raise UserError(f"{where}: {int(values.isna().sum())} row(s) have no time; fill or drop them")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("int64").to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64)
    text = values.astype(str)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64)
    dates = None
    for dayfirst in (False, True):  # 01/02/2024: month first unless some value only reads day first
        with warnings.catch_warnings():  # "parsing dates in %d/%m/%Y format when dayfirst=False": we try both
            warnings.simplefilter("ignore", UserWarning)
            fmt = guess_datetime_format(text.iloc[0], dayfirst=dayfirst)
        dates = pd.to_datetime(text, format=fmt, errors="coerce") if fmt else None
        if dates is not None and dates.notna().all():
            break
    if dates is None or dates.isna().any():
        bad = text.iloc[0] if dates is None else text[dates.isna()].iloc[0]
        raise UserError(f"{where} holds {bad[:40]!r}, neither a number nor a date in one format, so its order is "
                        f"unknown (text sorts alphabetically); use a column of dates (YYYY-MM-DD) or numbers")
    return dates.astype("int64").to_numpy(dtype=np.float64)


def time_blocks(times: np.ndarray, n_blocks: int, *, column: str) -> np.ndarray:
    """Block number (0 = earliest) per row: `n_blocks` contiguous blocks in time order of about equal
    rows, cut only between distinct times, so rows of one time always share a block."""
    distinct, inverse, counts = np.unique(times, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts  # rows earlier than each distinct time
    block_of = np.minimum(before * n_blocks // len(times), n_blocks - 1)
    used, block_of = np.unique(block_of, return_inverse=True)
    if len(used) < n_blocks:
        raise UserError(f"cv.time_column {column!r}: {len(distinct)} distinct time(s) (the most frequent holds "
                        f"{int(counts.max())} rows) cannot make {n_blocks} blocks without splitting rows of one "
                        f"time; lower cv.n_splits")
    return block_of[inverse].astype(np.int64)


def _time(train, n_splits, seed, target, column):
    return time_blocks(time_values(train, column), n_splits, column=column)


def _forward(train, n_splits, seed, target, column):
    # n_splits + 1 blocks in time order: fold k validates block k + 1; block 0 only ever trains (-1)
    return time_blocks(time_values(train, column), n_splits + 1, column=column) - 1


def _forward_train_from(train, folds: np.ndarray, column: str, gap: int) -> np.ndarray:
    """Fold k trains on the rows at least `gap` distinct times before its validation block starts:
    per row, the first such fold (n_splits: none)."""
    _, rank = np.unique(time_values(train, column), return_inverse=True)
    starts = np.array([rank[folds == k].min() for k in range(int(folds.max()) + 1)])
    train_from = np.searchsorted(starts, rank + gap, side="right").astype(np.int64)
    if not (train_from <= 0).any():
        raise UserError(f"cv.gap = {gap} leaves the first fold no training rows (the earliest block holds "
                        f"{int(starts[0])} distinct time(s)); lower cv.gap or cv.n_splits")
    return train_from


# The CV-scheme registry (`cv.scheme`; "auto" picks the task's default, core.tasks.Task.default_cv).
SCHEMES: dict[str, Scheme] = {s.name: s for s in [
    Scheme("kfold", "shuffled k-fold", _kfold),
    Scheme("stratified", "k-fold keeping the class shares in every fold", _stratified),
    Scheme("group", "a group never spans two folds", _group, "group_column"),
    Scheme("time", "contiguous blocks in time order (each fold also trains on later blocks)", _time, "time_column",
           shuffled=False),
    Scheme("forward", "forward chaining in time: fold k trains only on earlier blocks (less cv.gap distinct "
           "times) and validates on the next; the earliest block is never validated", _forward, "time_column",
           _forward_train_from, shuffled=False),
]}


def assign_folds(train, *, target: str, task: str, scheme: str, n_splits: int, seed: int,
                 group_column: str = "", time_column: str = "") -> np.ndarray:
    """Fold number (0..n_splits-1) per row for the given CV scheme; 'auto' = the task's default
    (stratified for classification, kfold for regression). 'time' gives contiguous blocks in time
    order (fold k validates on the k-th block)."""
    from core.tasks import TASKS

    chosen = SCHEMES[TASKS[task].default_cv if scheme == "auto" else scheme]
    column = {"group_column": group_column, "time_column": time_column}.get(chosen.column_key, "")
    splits = chosen.split(train, n_splits, seed, target, column)
    if isinstance(splits, np.ndarray):
        return splits
    folds = np.full(len(train), -1, dtype=np.int64)
    for k, (_, valid) in enumerate(splits):
        folds[valid] = k
    return folds


def train_from_of(train, folds: np.ndarray, *, scheme: str, time_column: str = "", gap: int = 0) -> np.ndarray | None:
    """Per row the first fold that may train on it, for a scheme that restricts training (forward
    chaining); None for the others."""
    chosen = SCHEMES.get(scheme)
    if chosen is None or chosen.train_from is None:
        return None
    return chosen.train_from(train, folds, time_column, gap)
