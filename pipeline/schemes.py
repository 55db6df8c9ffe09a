"""CV schemes: how train rows are split into folds (`cv.scheme`), one `Scheme` entry each in `SCHEMES`.

Config validation reads the registry; the folds stage calls `assign_folds` / `train_from_of` and saves
the result as runs/folds.csv. Forward chaining adds `train_from`, the first fold allowed to train on
each row (core.folds reads it)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.errors import UserError, shown
from core.io import separator_hint


@dataclass(frozen=True)
class Scheme:
    """A CV scheme: how rows are split into folds, and the cv key naming the column it needs."""

    name: str
    doc: str
    # (train, n_splits, seed, target, column, *, id_col, repeat) -> (train_idx, valid_idx) splits or folds
    split: Callable[..., Any]
    column_key: str = ""  # cv.<key> that must be set: a column (group_column, time_column) or the fold file
    # (train, folds, column, gap) -> per row the first fold that may train on it (core.folds.train_mask);
    # None: every fold trains on all rows it does not validate
    train_from: Callable[..., np.ndarray] | None = None
    shuffled: bool = True  # another seed (a fold file: its next repeat) gives other folds (cv.repeats needs it)
    column_is_file: bool = False  # column_key names a file (cv.file), not a train column
    # its folds follow time, or were chosen by whoever made them (a fold file): explore's split-in-time hint is moot
    validates_in_time: bool = False


def _kfold(train, n_splits, seed, target, column, **_):
    from sklearn.model_selection import KFold

    return KFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)))


def _classes(train, target: str | list[str], n_splits: int, scheme: str) -> np.ndarray:
    y = train[rarest_label(train, target)].astype(str).to_numpy()
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        raise UserError(f"cv.scheme = {scheme!r}: the rarest class has {counts.min()} rows, fewer "
                        f"than cv.n_splits = {n_splits}; lower n_splits or use scheme = "
                        f"{'kfold' if scheme == 'stratified' else 'group'!r}")
    return y


def rarest_label(train, target: str | list[str]) -> str:
    """The column stratified schemes keep the shares of: the target, or of several target columns the
    one whose rarest value has the fewest rows (a multilabel task's rarest label: kept in every fold)."""
    if isinstance(target, str):
        return target
    return min(target, key=lambda column: int(train[column].value_counts().min()))


def _stratified(train, n_splits, seed, target, column, **_):
    from sklearn.model_selection import StratifiedKFold

    y = _classes(train, target, n_splits, "stratified")
    return StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)), y)


MISSING_GROUP = "\x00missing"  # the one group every row without a group value joins


def groups_of(train, column: str, n_splits: int) -> np.ndarray:
    """The group per row as text; rows with a missing value form one group of their own (they are rows
    like the others, and unknown groups may well be one: together, none of them validates a model that
    trained on another). Fewer groups than folds -> UserError."""
    values = train[column]
    groups = np.where(values.isna().to_numpy(), MISSING_GROUP, values.astype(str).fillna(MISSING_GROUP).to_numpy())
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise UserError(f"cv.group_column {column!r} has {n_groups} distinct group(s) (missing values count as "
                        f"one), fewer than cv.n_splits = {n_splits}; lower n_splits or choose another column")
    return groups.astype(str)


def _group(train, n_splits, seed, target, column, **_):
    from sklearn.model_selection import GroupKFold

    groups = groups_of(train, column, n_splits)
    return GroupKFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)), groups=groups)


def _stratified_group(train, n_splits, seed, target, column, **_):
    from sklearn.model_selection import StratifiedGroupKFold

    y = _classes(train, target, n_splits, "stratified_group")
    groups = groups_of(train, column, n_splits)
    return StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(np.arange(len(train)), y, groups)


def read_fold_file(path, train, *, id_col: str, n_splits: int, repeats: int) -> tuple:
    """(the fold file's frame: id, fold, repeat and `_key`, the id as matched; train's ids as matched) of
    a fold file made elsewhere (columns id, fold[, repeat]), checked:
    every train id exactly once per repeat, no id outside train, folds 0..n_splits-1 each validating
    some rows, repeats 0..repeats-1. Anything else -> UserError naming the file and the fix."""
    import pandas as pd

    where = f"{path} (cv.file)"
    try:
        table = pd.read_csv(path, encoding="utf-8-sig")  # as every CSV the pipeline reads (pipeline.config)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{where}: cannot read it as CSV ({type(exc).__name__}); save it as a CSV with columns "
                        f"{id_col}, fold[, repeat]") from None
    columns = [str(c) for c in table.columns]
    for column in (id_col, "fold"):
        if column not in table.columns:
            hint = separator_hint(columns) or f"it needs the columns {id_col}, fold and optionally repeat"
            close = [c for c in columns if c.lower() in (column.lower(), f"k{column}".lower())]
            raise UserError(f"{where}: no column {column!r}"
                            f"{f' (did you mean {close[0]!r}? rename it)' if close else ''}; {hint}")
    if table.empty:
        raise UserError(f"{where}: holds no rows; it needs one row per train id ({id_col}, fold)")
    extra = [c for c in table.columns if c not in (id_col, "fold", "repeat")]
    if extra:
        raise UserError(f"{where}: unexpected column {str(extra[0])!r}; it holds {id_col}, fold and optionally repeat")
    if "repeat" not in table.columns:
        table["repeat"] = 0
    for column, high, key in (("fold", n_splits, "cv.n_splits"), ("repeat", repeats, "cv.repeats")):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            raise UserError(f"{where}: {column} {shown(table[column][bad].iloc[0])} is not an integer; "
                            f"{column}s are 0, 1, ...")
        table[column] = values.astype(np.int64)
        seen = sorted(set(table[column].tolist()))
        if seen != list(range(high)):
            fix = (f"set {key} = {max(seen) + 1} or fix the file" if seen == list(range(len(seen)))
                   else f"number the {column}s 0, 1, ... without gaps")
            raise UserError(f"{where}: {column}s {_range(seen)}, but {key} = {high} needs exactly 0..{high - 1}; {fix}")
    train_ids = pd.Index(train[id_col])
    ids = table[id_col]
    if ids.dtype != train_ids.dtype:  # the same id read as another type (e.g. text) still matches
        ids = ids.astype(str)
        train_ids = pd.Index(train[id_col].astype(str))
    outside = ~ids.isin(train_ids)
    if outside.any():
        raise UserError(f"{where}: id {shown(table[id_col][outside].iloc[0])} is not in the train file "
                        f"({int(outside.sum())} such row(s)); the fold file must list the train ids only")
    for r, rows in table.groupby("repeat"):
        per = ids[rows.index]
        if per.duplicated().any():
            raise UserError(f"{where}: id {shown(rows[id_col][per.duplicated()].iloc[0])} appears more than once"
                            f"{f' in repeat {r}' if repeats > 1 else ''}; each train id needs exactly one fold")
        missing = ~train_ids.isin(per)
        if missing.any():
            raise UserError(f"{where}: {int(missing.sum())} train id(s) have no fold{f' in repeat {r}' if repeats > 1 else ''} "
                            f"(first: {shown(train[id_col].to_numpy()[missing][0])}); every train id needs one")
    table["_key"] = ids
    return table, train_ids


def _range(values: list[int]) -> str:
    if len(values) == 1:
        return str(values[0])
    return f"{values[0]}..{values[-1]}" if values and values == list(range(values[0], values[-1] + 1)) else \
        ", ".join(map(str, values[:6])) + ("..." if len(values) > 6 else "")


def _from_file(train, n_splits, seed, target, column, *, id_col: str = "id", repeat: int = 0, repeats: int = 1):
    table, train_ids = read_fold_file(column, train, id_col=id_col, n_splits=n_splits, repeats=repeats)
    rows = table[table["repeat"] == repeat]
    return rows.set_index("_key")["fold"].reindex(train_ids).to_numpy(dtype=np.int64)


def lies_after_train(train_values: np.ndarray, test_values: np.ndarray) -> bool:
    """Whether every test value lies at or after train's last and some beyond it (train holding two values or
    more; missing ones ignored): a split in time when the column is time. A random split of the rows almost
    never puts every test row at train's end."""
    a, b = (np.asarray(v, dtype=np.float64) for v in (train_values, test_values))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    return len(np.unique(a)) >= 2 and len(b) > 0 and b.min() >= a.max() and b.max() > a.max()


def time_values(train, column: str) -> np.ndarray:
    """The time column as sortable numbers: numbers as they are, dates (datetime64, or text in one date
    format pandas recognises) as integers of their resolution (pandas 3 reads text as microseconds; only
    the order and the distinct times count here). Text that is neither -- weekday names, mixed formats --
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


def _time(train, n_splits, seed, target, column, **_):
    return time_blocks(time_values(train, column), n_splits, column=column)


def _forward(train, n_splits, seed, target, column, **_):
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
    Scheme("group", "a group never spans two folds (rows without a group value form one group)", _group,
           "group_column"),
    Scheme("stratified_group", "a group never spans two folds, class shares kept as far as the groups allow "
           "(scikit-learn's StratifiedGroupKFold)", _stratified_group, "group_column"),
    Scheme("file", "the folds in cv.file (columns id, fold[, repeat]), made elsewhere", _from_file, "file",
           column_is_file=True, validates_in_time=True),
    Scheme("time", "contiguous blocks in time order (each fold also trains on later blocks)", _time, "time_column",
           shuffled=False, validates_in_time=True),
    Scheme("forward", "forward chaining in time: fold k trains only on earlier blocks (less cv.gap distinct "
           "times) and validates on the next; the earliest block is never validated", _forward, "time_column",
           _forward_train_from, shuffled=False, validates_in_time=True),
]}


def assign_folds(train, *, target: str, task: str, scheme: str, n_splits: int, seed: int,
                 group_column: str = "", time_column: str = "", file: str = "", id_col: str = "id",
                 repeat: int = 0, repeats: int = 1) -> np.ndarray:
    """Fold number (0..n_splits-1) per row for the given CV scheme; 'auto' = the task's default
    (stratified for classification, kfold for regression). 'time' gives contiguous blocks in time
    order (fold k validates on the k-th block); 'file' reads repeat `repeat` of the fold file `file`
    (a path)."""
    from core.tasks import TASKS

    chosen = SCHEMES[TASKS[task].default_cv if scheme == "auto" else scheme]
    column = {"group_column": group_column, "time_column": time_column, "file": file}.get(chosen.column_key, "")
    splits = chosen.split(train, n_splits, seed, target, column, id_col=id_col, repeat=repeat, repeats=repeats)
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
