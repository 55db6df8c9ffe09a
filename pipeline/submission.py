"""The submission writer: predictions -> exactly the sample submission's format, validated first."""

from __future__ import annotations

import numpy as np

from pipeline.errors import UserError


def infer_style(sample, id_col: str, task: str) -> str:
    """proba (one probability column), classes (one column per class), label, or value."""
    cols = [c for c in sample.columns if c != id_col]
    if task == "regression":
        return "value"
    if len(cols) > 1:
        return "classes"
    values = sample[cols[0]]
    if values.dtype.kind == "f" and ((values > 0) & (values < 1)).any():
        return "proba"
    return "label"


def make_submission(sample, *, id_col: str, test_ids, pred: np.ndarray, task, style: str, metric_name: str):
    """Build the submission DataFrame in the sample's column order, id order and dtypes; validate it."""
    import pandas as pd

    style = style or infer_style(sample, id_col, task.task)
    cols = [c for c in sample.columns if c != id_col]
    pred = np.asarray(pred, dtype=np.float64)
    order = pd.Index(test_ids).get_indexer(sample[id_col])
    if (order < 0).any():
        raise UserError("test predictions miss ids of the sample submission; re-run the cv stage")
    pred = pred[order]
    out = pd.DataFrame({id_col: sample[id_col].to_numpy()})
    if style == "value":
        values = np.clip(pred, 0, None) if metric_name == "rmsle" else pred
        out[cols[0]] = values
    elif style == "proba":
        out[cols[0]] = np.clip(pred, 0.0, 1.0)
    elif style == "classes":
        names = [str(c) for c in task.classes]
        if sorted(map(str, cols)) != sorted(names):
            raise UserError(f"sample submission columns {cols} do not match the classes {names}")
        for c in cols:
            out[c] = pred[:, names.index(str(c))]
    elif style == "label":
        codes = pred.argmax(axis=1) if pred.ndim == 2 else (pred >= 0.5).astype(int)
        labels = task.decode_labels(codes)
        out[cols[0]] = pd.Series(labels).astype(sample[cols[0]].dtype).to_numpy()
    validate_submission(out, sample, id_col=id_col)
    return out


def validate_submission(sub, sample, *, id_col: str) -> None:
    """Columns, order, id set, row count, dtypes kinds, no NaN/inf -- or UserError saying which."""
    if list(sub.columns) != list(sample.columns):
        raise UserError(f"submission columns {list(sub.columns)} differ from the sample's {list(sample.columns)}")
    if len(sub) != len(sample):
        raise UserError(f"submission has {len(sub)} rows, the sample submission {len(sample)}")
    if set(sub[id_col].tolist()) != set(sample[id_col].tolist()):
        raise UserError("submission ids differ from the sample submission's")
    for c in sample.columns:
        if sub[c].isna().any():
            raise UserError(f"submission column {c!r} has missing values")
        if sub[c].dtype.kind == "f" and not np.isfinite(sub[c].to_numpy()).all():
            raise UserError(f"submission column {c!r} has infinite values")
        if sample[c].dtype.kind in "iu" and sub[c].dtype.kind not in "iu":
            raise UserError(f"submission column {c!r} must be integers like the sample's")
