"""Column kinds (numeric, categorical, text, datetime), pixel grids and column digests: what the default blocks,
the EDA report and the model zoo decide from."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from core.columns import pixel_grid  # noqa: F401 - part of this module's API

# A string column counts as free text when its values average at least two words and most are distinct:
# values that distinct carry nothing as category codes, while their words recur (movies' titles,
# 2.9 words, 96 % distinct: as text its OOF RMSE fell 2 %). A two-word column of few values stays categorical.
TEXT_MIN_WORDS = 2.0  # mean whitespace-separated tokens for a string column to count as free text
TEXT_MIN_UNIQUE = 0.3  # ... and share of distinct values among non-missing ones
SAMPLE_ROWS = 5000  # rows of train and of test looked at to decide a column's kind
_DATE_RE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                      r"([ T]\d{1,2}:\d{2}.*)?\s*$")


def column_kind(train_col, test_col) -> str:
    """'numeric', 'datetime', 'text' or 'categorical' for a column present in train and test."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(train_col) or (pd.api.types.is_numeric_dtype(train_col)
                                                 and pd.api.types.is_numeric_dtype(test_col)):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(train_col):
        return "datetime"
    parts = [col.iloc[:: max(1, len(col) // SAMPLE_ROWS)] for col in (train_col, test_col)]
    sample = pd.concat(parts, ignore_index=True).dropna().astype(str)  # evenly spaced rows
    if len(sample) == 0:
        return "categorical"
    head = sample.iloc[:: max(1, len(sample) // 2000)]
    if head.map(lambda v: bool(_DATE_RE.match(v))).mean() >= 0.95:
        parsed = pd.to_datetime(head, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.95:
            return "datetime"
    words = head.str.count(r"\s+") + 1
    if words.mean() >= TEXT_MIN_WORDS and sample.nunique() >= TEXT_MIN_UNIQUE * len(sample):
        return "text"
    return "categorical"


def column_kinds(train, test, columns: list[str]) -> dict[str, str]:
    """Kind of every named column."""
    return {c: column_kind(train[c], test[c]) for c in columns}


def digest_series(series) -> str:
    """Content digest of one column (dtype, missing mask and values); fast on Arrow strings."""
    import pandas as pd

    h = hashlib.sha256(str(series.dtype).encode())
    h.update(len(series).to_bytes(8, "little"))
    arr = series.array
    pa_array = getattr(arr, "_pa_array", None)
    if pa_array is not None:  # Arrow-backed (pandas' default str dtype)
        for chunk in pa_array.chunks:
            h.update(f"{chunk.type}:{chunk.offset}:{len(chunk)}".encode())
            for buf in chunk.buffers():
                h.update(b"-" if buf is None else memoryview(buf))
        return h.hexdigest()
    if isinstance(series.dtype, pd.CategoricalDtype):
        h.update(digest_series(pd.Series(series.cat.categories)).encode())
        h.update(np.ascontiguousarray(series.cat.codes.to_numpy()).data)
        return h.hexdigest()
    values = series.to_numpy()
    if values.dtype.kind in "biufcmM":
        h.update(np.ascontiguousarray(values).data)
    else:
        h.update(np.ascontiguousarray(pd.util.hash_array(values.astype(object))).data)
    return h.hexdigest()
