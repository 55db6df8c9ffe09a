"""Columns of a built feature matrix whose values alone tell train rows from test rows.

A feature that separates the two tables (a code given to train rows only, a row counter, a date in a
time-split competition) lets the models split on values the test never has, and the OOF score cannot
show it: every validation row comes from train. The features stage warns about such columns; the
EDA report's adversarial validation looks at the raw columns instead.
"""

from __future__ import annotations

import numpy as np

SEPARABLE_AUC = 0.9  # a column whose values alone rank test rows above (or below) train rows this well
_SAMPLE_ROWS = 20_000  # rows of each table the check reads (the AUC of a column is stable long before)


def separable_columns(train, test, *, threshold: float = SEPARABLE_AUC, sample_rows: int = _SAMPLE_ROWS,
                      seed: int = 0) -> list[tuple[str, float]]:
    """(column, AUC) for each numeric column of `train` and `test` (DataFrames with the same columns)
    whose values tell test rows from train rows with an AUC of at least `threshold` (either direction:
    max(AUC, 1 - AUC)), most separable first. Missing and infinite values rank as one lowest value."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    if len(train) == 0 or len(test) == 0:
        return []
    rng = np.random.default_rng(seed)
    a, b = (t.iloc[np.sort(rng.choice(len(t), sample_rows, replace=False))] if len(t) > sample_rows else t
            for t in (train, test))
    is_test = np.r_[np.zeros(len(a)), np.ones(len(b))]
    found = []
    for column in a.columns:
        dtype = a[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or not (pd.api.types.is_numeric_dtype(dtype)
                                                          or pd.api.types.is_bool_dtype(dtype)):
            continue
        values = np.concatenate([a[column].to_numpy(dtype=np.float64, na_value=np.nan),
                                 b[column].to_numpy(dtype=np.float64, na_value=np.nan)])
        values[~np.isfinite(values)] = np.nan
        if np.isnan(values).all():
            continue  # nothing to rank: AUC 0.5
        values = np.where(np.isnan(values), np.nanmin(values) - 1.0, values)  # missing: one lowest value
        auc = roc_auc_score(is_test, values)  # ties count a half, as Mann-Whitney's U
        auc = max(auc, 1.0 - auc)
        if auc >= threshold:
            found.append((str(column), float(auc)))
    return sorted(found, key=lambda item: -item[1])
