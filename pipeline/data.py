"""Reading a competition's data and its saved folds, with the checks that need the rows."""

from __future__ import annotations

import numpy as np

from pipeline.config import Competition
from core.errors import UserError


def read_data(comp: Competition):
    """(train, test, sample_submission) as DataFrames; ids are checked unique and consistent."""
    import pandas as pd

    frames = []
    for path in (comp.train_path, comp.test_path, comp.sample_path):
        try:
            frames.append(pd.read_csv(path, low_memory=False))
        except pd.errors.EmptyDataError:
            raise UserError(f"{path}: file is empty; it needs a header row and data") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: cannot parse CSV ({str(exc).splitlines()[0]})") from None
    train, test, sample = frames
    if len(train) == 0:
        raise UserError(f"{comp.train_path}: no data rows; the training file needs at least one row per fold")
    if len(test) == 0:
        raise UserError(f"{comp.test_path}: no data rows")
    for frame, path in ((train, comp.train_path), (test, comp.test_path), (sample, comp.sample_path)):
        dup = frame[comp.id_col].duplicated()
        if dup.any():
            first = frame[comp.id_col][dup].iloc[0]
            raise UserError(f"{path}: {int(dup.sum())} duplicate id(s) in column {comp.id_col!r} "
                            f"(first: {first!r}); ids must be unique")
    if train[comp.target].isna().any():
        n = int(train[comp.target].isna().sum())
        raise UserError(f"{comp.train_path}: target {comp.target!r} is missing in {n} row(s); drop or fill them")
    if set(sample[comp.id_col].tolist()) != set(test[comp.id_col].tolist()):
        raise UserError(f"{comp.sample_path}: ids differ from {comp.test_path.name}; "
                        f"the sample submission must list exactly the test ids")
    n_splits = comp.cfg["cv"]["n_splits"]
    if len(train) < n_splits:
        raise UserError(f"{comp.train_path}: {len(train)} rows is fewer than cv.n_splits = {n_splits}")
    return train, test, sample


def read_folds(comp: Competition, train) -> np.ndarray:
    """Fold per train row from runs/folds.csv, aligned with train's row order."""
    import pandas as pd

    folds = pd.read_csv(comp.folds_path)
    mapping = dict(zip(folds[comp.id_col].tolist(), folds["fold"].tolist()))
    missing = [i for i in train[comp.id_col].tolist() if i not in mapping]
    if missing:
        raise UserError(f"{comp.folds_path}: {len(missing)} train id(s) have no fold (first: {missing[0]!r}); "
                        f"re-run `python -m pipeline run --stage folds --force`")
    return np.array([mapping[i] for i in train[comp.id_col].tolist()], dtype=np.int64)
