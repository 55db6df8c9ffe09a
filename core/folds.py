"""Which rows a fold validates on and which it may train on: one rule for every consumer of the folds.

The folds are one integer per train row: the fold that validates it, or -1 for a row no fold
validates (forward chaining in time: the earliest block only ever trains). A scheme may also give
`train_from`, per row the first fold allowed to train on it: forward chaining sets it so that fold k
trains only on rows before its validation block (less a gap). Without it every fold trains on all
the rows it does not validate (k-fold)."""

from __future__ import annotations

import numpy as np


def fold_ids(folds: np.ndarray) -> list[int]:
    """The folds that validate rows, in order (-1, never validated, is not a fold)."""
    return [int(k) for k in np.unique(folds) if k >= 0]


def validated(folds: np.ndarray) -> np.ndarray:
    """Rows some fold validates (each gets an out-of-fold prediction)."""
    return np.asarray(folds) >= 0


def train_mask(folds: np.ndarray, k: int, train_from: np.ndarray | None = None) -> np.ndarray:
    """Rows fold k's models may train on: not fold k's own, and (forward chaining) only those
    `train_from` admits to fold k."""
    rows = np.asarray(folds) != k
    if train_from is not None:
        rows &= np.asarray(train_from) <= k
    return rows


def folds_digest(ids, folds) -> str:
    """SHA-256 of a fold assignment as sorted (id, fold) pairs, independent of row order and file format: a
    run folder records the one its OOF predictions were made on, so a member made on other folds is known."""
    from core import io as _io

    pairs = sorted(zip((str(i) for i in ids), (int(f) for f in folds)))
    return _io.hash_bytes("\n".join(f"{i}\t{f}" for i, f in pairs))
