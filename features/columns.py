"""Column kinds (numeric, categorical, text, datetime), pixel grids and column digests: what the default blocks,
the EDA report and the model zoo decide from."""

from __future__ import annotations

import hashlib
import re

import numpy as np

TEXT_MIN_WORDS = 4.0  # mean whitespace-separated tokens for a string column to count as free text
TEXT_MIN_UNIQUE = 0.3  # ... and share of distinct values among non-missing ones
SAMPLE_ROWS = 5000  # rows of train and of test looked at to decide a column's kind
_DATE_RE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                      r"([ T]\d{1,2}:\d{2}.*)?\s*$")
_PIXEL_RE = re.compile(r"^(?:pixel|px|pix)[_\-]?(\d+)(?:[_\-x](\d+))?$", re.IGNORECASE)


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


def pixel_grid(columns: list[str]) -> tuple[list[str], tuple[int, int, int]] | None:
    """Pixel columns (named like pixel_<r>_<c> or pixel<i>) and their (C, H, W), or None."""
    matches = [(c, _PIXEL_RE.match(c)) for c in columns]
    pix = [(c, m) for c, m in matches if m]
    if len(pix) < 16:
        return None
    cols = [c for c, _ in pix]
    if all(m.group(2) is not None for _, m in pix):
        rows = [int(m.group(1)) for _, m in pix]
        cols_ = [int(m.group(2)) for _, m in pix]
        h, w = max(rows) + 1, max(cols_) + 1
        if h * w == len(pix):
            order = sorted(range(len(pix)), key=lambda i: (rows[i], cols_[i]))
            return [cols[i] for i in order], (1, h, w)
        return None
    n = len(pix)
    order = sorted(range(n), key=lambda i: int(pix[i][1].group(1)))
    for channels in (1, 3):
        side = int(round((n / channels) ** 0.5))
        if channels * side * side == n:
            return [cols[i] for i in order], (channels, side, side)
    return None


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
