"""Folds stage: one fold per train row, fixed for the competition, saved as runs/folds.csv (id, fold).

The schemes live in `pipeline/schemes.py`. Forward chaining (scheme = "forward") adds a `train_from`
column, the first fold allowed to train on each row, and marks the earliest block's rows fold -1
(never validated); core.folds reads both."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import io as _io
from core.errors import UserError
from pipeline.context import StageContext
from pipeline.schemes import assign_folds, train_from_of


def run(ctx: StageContext) -> list[Path]:
    import pandas as pd

    from core.folds import train_mask

    train = ctx.data()[0]
    cv = ctx.cfg["cv"]
    repeats = cv["repeats"] or _automatic_repeats(ctx, train)
    where = dict(target=ctx.comp.target, task=ctx.comp.task, scheme=cv["scheme"], n_splits=cv["n_splits"],
                 group_column=cv["group_column"], time_column=cv["time_column"], id_col=ctx.comp.id_col,
                 file=str(ctx.comp.fold_file) if ctx.comp.fold_file else "", repeats=repeats)
    folds = assign_folds(train, seed=cv["seed"], **where)
    train_from = train_from_of(train, folds, scheme=cv["scheme"], time_column=cv["time_column"], gap=cv["gap"])
    frame = pd.DataFrame({ctx.comp.id_col: train[ctx.comp.id_col], "fold": folds})
    if train_from is not None:
        frame["train_from"] = train_from
    _check_classes(ctx, train, folds, train_from, repeat=0)
    _check_groups(ctx, train, ctx.data()[1])
    for r in range(1, repeats):  # repeat r: the same scheme with seed + r (a fold file: its repeat r)
        frame[f"fold_r{r}"] = assign_folds(train, seed=(cv["seed"] + r) % 2**32, repeat=r, **where)
        _check_classes(ctx, train, frame[f"fold_r{r}"].to_numpy(), train_from, repeat=r)
    _io.write_csv(ctx.comp.folds_path, frame)
    sizes = np.bincount(folds[folds >= 0])
    said = (f"; {repeats} repeats{'' if cv['repeats'] else ' (automatic)'}, seeds {cv['seed']}.."
            f"{cv['seed'] + repeats - 1}") if repeats > 1 else ""
    ctx.log(f"[folds] {cv['n_splits']} folds ({cv['scheme']}{said}), rows per fold: {sizes.tolist()}")
    if train_from is not None:
        trained = [int(train_mask(folds, k, train_from).sum()) for k in range(len(sizes))]
        ctx.log(f"[folds] forward chaining: training rows per fold {trained}; the earliest {int((folds < 0).sum())} "
                f"rows are never validated (no OOF prediction; the ensemble and every score leave them out)")
    if cv["scheme"] == "time":
        ctx.log("[folds] note: scheme = 'time' validates on contiguous blocks in time order, but each fold's model "
                "also trains on the later blocks (every row gets an OOF prediction); it is not a forecast's score -- "
                "scheme = 'forward' trains only on the past")
    return [ctx.comp.folds_path]


def _check_classes(ctx: StageContext, train, folds: np.ndarray, train_from, *, repeat: int) -> None:
    """A fold whose training rows miss a class of the target trains models that never see it (a fold file, a
    group or time scheme can do that): a binary target's models would predict one constant -> UserError;
    a multiclass fold or a multilabel column -> a warning naming the fold and the class."""
    from core.folds import train_mask
    from core.tasks import TASKS

    task = TASKS[ctx.comp.task]
    if not task.classification:
        return
    how = f"cv.file {ctx.cfg['cv']['file']!r}" if ctx.comp.fold_file else f"scheme {ctx.cfg['cv']['scheme']!r}"
    in_repeat = f" in repeat {repeat}" if repeat else ""
    for column in ctx.comp.target_columns:
        y = train[column].astype(str).to_numpy()
        classes = np.unique(y)
        for k in np.unique(folds[folds >= 0]).tolist():
            missing = np.setdiff1d(classes, y[train_mask(folds, k, train_from)])
            if not len(missing):
                continue
            said = (f"fold {k}'s training rows{in_repeat} hold no row of {column} = {missing[0]!r} ({how}), so "
                    f"its models never see that class")
            if task.name == "binary":
                raise UserError(f"{said} and would predict one constant; make every fold's training rows hold "
                                f"both classes (scheme = 'stratified' or 'stratified_group', or fewer folds)")
            ctx.log(f"[folds] warning: {said}; its validation rows are scored without it")
            break


# a test set with at least this share of its rows in groups seen in train is not one of new groups
_SEEN_GROUPS_WARN = 0.5


def _check_groups(ctx: StageContext, train, test) -> None:
    """Group folds validate every group unseen, which is honest when the test's groups are new. When most
    test rows' groups occur in train (a random split of the rows), CV scores a harder task than the test
    and favours what generalises to new groups: a warning saying so."""
    from pipeline.schemes import SCHEMES

    scheme = SCHEMES.get(ctx.cfg["cv"]["scheme"])
    column = ctx.cfg["cv"]["group_column"]
    if scheme is None or scheme.column_key != "group_column" or column not in test.columns or not len(test):
        return
    seen = float(test[column].isin(set(train[column].dropna())).mean())
    if seen >= _SEEN_GROUPS_WARN:
        ctx.log(f"[folds] warning: {seen:.0%} of the test rows have a {column} seen in train, but group folds "
                f"score every group unseen: CV measures a harder task than the test's and favours what "
                f"generalises to new groups; group folds fit a test of new groups (else scheme = 'kfold' or "
                f"'stratified')")


def _automatic_repeats(ctx: StageContext, train) -> int:
    """cv.repeats = 0: the zoo's rule for this table (pipeline.zoo.default_repeats) where another seed gives
    other folds; 1 for a fold file or a time scheme."""
    from pipeline.schemes import SCHEMES
    from pipeline.zoo import default_repeats, header_facts, round_trees

    scheme = SCHEMES.get(ctx.cfg["cv"]["scheme"])
    if scheme is not None and (not scheme.shuffled or scheme.column_is_file):
        return 1
    comp = ctx.comp
    test = ctx.data()[1]
    shared = [c for c in train.columns if c in test.columns and c not in (comp.id_col, *comp.target_columns)]
    # the header's facts (a pixel grid by its column names), so the folds' code holds no feature module
    return default_repeats(header_facts(shared, len(train), round_trees(comp.task, train[comp.target_columns[0]])))
