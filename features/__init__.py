"""Feature blocks: small units that turn raw columns into model inputs, fitted without leakage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass
class FeatureSet:
    """Model inputs: train/test tables with identical columns, plus named array inputs (text, image)."""

    train: "object"
    test: "object"
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def build_features(train, test, *, id_col: str, target: str, task, folds: np.ndarray, blocks: list[dict],
                   drop: list[str], cache_dir: Path, plugin_file: Path | None = None,
                   log: Callable[[str], None] = print) -> FeatureSet:
    """Raw columns: numerics as float32, text-like columns as pandas categories shared by train/test."""
    import pandas as pd

    skip = {id_col, target, *drop}
    cols = [c for c in train.columns if c not in skip and c in test.columns]
    X_train, X_test = {}, {}
    for c in cols:
        a, b = train[c], test[c]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            X_train[c], X_test[c] = a.astype("float32"), b.astype("float32")
        else:
            cats = pd.Index(pd.concat([a, b]).dropna().astype(str).unique()).sort_values()
            dtype = pd.CategoricalDtype(cats)
            X_train[c] = a.astype(str).where(a.notna()).astype(dtype)
            X_test[c] = b.astype(str).where(b.notna()).astype(dtype)
    return FeatureSet(pd.DataFrame(X_train).reset_index(drop=True), pd.DataFrame(X_test).reset_index(drop=True))
