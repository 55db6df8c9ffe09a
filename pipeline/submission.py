"""The submission writer: predictions -> exactly the sample submission's format, validated first.

Five formats cover Kaggle's tabular competitions (`STYLES`): a probability column (`proba`), one
probability column per class (`classes`), a predicted label (`label`), a regression value
(`value`), and one column per target of a multi-target task (`targets`: P(1) per label for
multilabel, a value per column for multiregression; the sample's column names and order). Predictions follow the artifact convention (core.tasks: already on the target's scale),
values are clipped to the valid range (the metric's `non_negative`), and the frame is validated against the sample (columns, order, id set, row count,
dtypes, no NaN/inf, ranges) before anything is written. A failed validation writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from core.errors import UserError, did_you_mean, shown



def infer_style(sample, id_col: str, *, classification: bool, multi_target: bool = False) -> str:
    """proba (one probability column), classes (one column per class), label, value, or targets (one
    column per target of a multi-target task)."""
    cols = [c for c in sample.columns if c != id_col]
    if multi_target:
        return "targets"
    if not classification:
        return "value"
    if len(cols) > 1:
        return "classes"
    values = sample[cols[0]]
    if values.dtype.kind == "f" and ((values > 0) & (values < 1)).any():
        return "proba"
    return "label"


def _proba(pred: np.ndarray, cols: list, sample, task) -> dict:
    if pred.ndim == 2 and pred.shape[1] == 2:
        pred = pred[:, 1]
    if pred.ndim != 1 or len(cols) != 1:
        raise UserError(f"submission style 'proba' needs one probability column and binary predictions, got "
                        f"{len(cols)} column(s) and predictions of shape {pred.shape}; use style 'classes'")
    return {cols[0]: np.clip(pred, 0.0, 1.0)}


def _classes(pred: np.ndarray, cols: list, sample, task) -> dict:
    if pred.ndim == 1:  # binary P(positive) -> [P(negative), P(positive)]
        pred = np.column_stack([1.0 - pred, pred])
    names = [str(c) for c in task.classes]
    if sorted(map(str, cols)) != sorted(names) or pred.shape[1] != len(names):
        raise UserError(f"sample submission columns {[str(c) for c in cols]} do not match the classes "
                        f"{names} found in the training target; check competition.target")
    pred = np.clip(pred, 0.0, 1.0)
    sums = pred.sum(axis=1, keepdims=True)
    pred = np.divide(pred, sums, out=np.full_like(pred, 1.0 / pred.shape[1]), where=sums > 0)
    return {c: pred[:, names.index(str(c))] for c in cols}


def _label(pred: np.ndarray, cols: list, sample, task) -> dict:
    import pandas as pd

    if not task.is_classification:
        raise UserError("submission style 'label' needs a classification task; use style 'value'")
    codes = pred.argmax(axis=1) if pred.ndim == 2 else (pred >= 0.5).astype(int)
    labels = pd.Series(task.decode_labels(codes))
    try:  # the sample's dtype when the labels fit it (ints stay ints, strings stay strings)
        cast = labels.astype(sample[cols[0]].dtype)
        if cast.astype(str).tolist() == labels.astype(str).tolist():
            labels = cast
    except (TypeError, ValueError):
        pass
    return {cols[0]: labels.to_numpy()}


def _value(pred: np.ndarray, cols: list, sample, task) -> dict:
    if pred.ndim != 1 or len(cols) != 1:
        raise UserError(f"submission style 'value' needs one value column and 1-D predictions, got "
                        f"{len(cols)} column(s) and predictions of shape {pred.shape}")
    if sample[cols[0]].dtype.kind in "iu":
        return {cols[0]: np.rint(pred).astype(sample[cols[0]].dtype)}
    return {cols[0]: pred}


def _targets(pred: np.ndarray, cols: list, sample, task) -> dict:
    names = list(getattr(task, "targets", ()))
    if getattr(task, "n_targets", 1) < 2 or sorted(map(str, cols)) != sorted(names) or pred.ndim != 2 \
            or pred.shape[1] != len(names):
        raise UserError(f"submission style 'targets' needs a multi-target task whose target columns "
                        f"{names} are the sample submission's columns {[str(c) for c in cols]}; check "
                        f"competition.target and competition.task")
    out = {}
    for c in cols:
        values = pred[:, names.index(str(c))]
        if task.is_classification:  # P(1) of the label
            values = np.clip(values, 0.0, 1.0)
        elif sample[c].dtype.kind in "iu":
            values = np.rint(values).astype(sample[c].dtype)
        out[c] = values
    return out


STYLES: dict[str, Callable[..., dict]] = {"proba": _proba, "classes": _classes, "label": _label,
                                          "value": _value, "targets": _targets}


def make_submission(sample, *, id_col: str, test_ids, pred: np.ndarray, task, style: str = "", metric=None):
    """Build the submission DataFrame in the sample's column order, id order and dtypes; validate it.

    `pred` rows follow `test_ids` (on the target's scale); `style` defaults to the one inferred from
    the sample; a `metric` (core.metrics.Metric) with `non_negative` clips values at 0."""
    import pandas as pd

    style = style or infer_style(sample, id_col, classification=task.is_classification,
                                 multi_target=getattr(task, "n_targets", 1) > 1)
    if style not in STYLES:
        raise UserError(f"unknown submission style {style!r}{did_you_mean(style, tuple(STYLES))}")
    pred = np.asarray(pred, dtype=np.float64)
    test_ids = pd.Index(test_ids)
    if len(pred) != len(test_ids):
        raise UserError(f"{len(pred)} test predictions for {len(test_ids)} test ids")
    if test_ids.has_duplicates:
        raise UserError(f"test predictions repeat id {shown(test_ids[test_ids.duplicated()][0])}; ids must be unique")
    order = test_ids.get_indexer(sample[id_col])
    if (order < 0).any():
        first = sample[id_col].to_numpy()[order < 0][0]
        raise UserError(f"test predictions miss {int((order < 0).sum())} id(s) of the sample submission "
                        f"(first: {shown(first)}); re-run the cv stage on the current test.csv")
    pred = pred[order]
    if metric is not None and metric.non_negative:
        pred = np.clip(pred, 0.0, None)
    cols = [c for c in sample.columns if c != id_col]
    out = pd.DataFrame({id_col: sample[id_col].to_numpy()})
    for c, values in STYLES[style](pred, cols, sample, task).items():
        out[c] = values
    out = out[list(sample.columns)]
    validate_submission(out, sample, id_col=id_col, style=style, task=task, metric=metric)
    return out


def check_format(sample, *, id_col: str, task, style: str = "", where: str = "sample submission") -> None:
    """UserError, before any model trains, when no submission in `sample`'s format can be written for
    `task`: placeholder predictions go through `make_submission` and its checks."""
    n_outputs = task.n_outputs
    placeholder = task.squeeze(np.full((len(sample), n_outputs), 1.0 / n_outputs if n_outputs > 1 else 0.0))
    try:
        make_submission(sample, id_col=id_col, test_ids=sample[id_col], pred=placeholder, task=task, style=style)
    except UserError as exc:
        raise UserError(f"{where}: no submission in its format can be written ({exc}); make its columns hold "
                        f"what the target holds, or set competition.submission to one of "
                        f"{', '.join(STYLES)}") from None


def _kind_ok(sample_kind: str, sub_kind: str) -> bool:
    if sample_kind in "iu":
        return sub_kind in "iu"
    if sample_kind == "f":
        return sub_kind in "fiu"
    if sample_kind == "b":
        return sub_kind == "b"
    return sub_kind in "OUST"  # strings (object or the str dtype)


def validate_submission(sub, sample, *, id_col: str, style: str = "", task=None, metric=None) -> None:
    """Columns, order, id set, row count, dtypes, no NaN/inf, valid ranges -- or UserError saying which."""
    if list(sub.columns) != list(sample.columns):
        raise UserError(f"submission columns {list(sub.columns)} differ from the sample's {list(sample.columns)}")
    if len(sub) != len(sample):
        raise UserError(f"submission has {len(sub)} rows, the sample submission {len(sample)}")
    if sub[id_col].duplicated().any():
        raise UserError(f"submission repeats id {shown(sub[id_col][sub[id_col].duplicated()].iloc[0])}")
    if set(sub[id_col].tolist()) != set(sample[id_col].tolist()):
        extra = set(sub[id_col].tolist()) - set(sample[id_col].tolist())
        raise UserError(f"submission ids differ from the sample submission's "
                        f"({len(extra)} not in the sample, e.g. {shown(next(iter(extra), None))})")
    for c in sample.columns:
        if sub[c].isna().any():
            raise UserError(f"submission column {c!r} has {int(sub[c].isna().sum())} missing value(s)")
        if not _kind_ok(sample[c].dtype.kind, sub[c].dtype.kind):
            raise UserError(f"submission column {c!r} has dtype {sub[c].dtype}, the sample's is {sample[c].dtype}")
        if sub[c].dtype.kind == "f" and not np.isfinite(sub[c].to_numpy()).all():
            raise UserError(f"submission column {c!r} has infinite values")
    values = sub[[c for c in sample.columns if c != id_col]]
    if style in ("proba", "classes") or (style == "targets" and task is not None and task.is_classification):
        arr = values.to_numpy(dtype=np.float64)
        if (arr < 0).any() or (arr > 1).any():
            raise UserError(f"submission probabilities must lie in [0, 1]; found {arr.min():.4g}..{arr.max():.4g}")
        if style == "classes" and not np.allclose(arr.sum(axis=1), 1.0, atol=1e-6):
            raise UserError("submission class probabilities must sum to 1 in every row")
    if style == "label" and task is not None:
        known = {str(c) for c in task.classes}
        unknown = sorted(set(values.iloc[:, 0].astype(str)) - known)
        if unknown:
            raise UserError(f"submission labels {unknown[:3]} are not classes of the training target {sorted(known)}")
    if style == "value" and metric is not None and metric.non_negative and (values.to_numpy(dtype=float) < 0).any():
        raise UserError(f"metric {metric.name} needs non-negative predictions; found negative values")


def write_submission(path: str | os.PathLike, sub, sample, *, id_col: str) -> Path:
    """Write `sub` as CSV atomically, after checking that the file reads back in the sample's format."""
    import pandas as pd

    from core import io as _io

    path = Path(path)
    with _io.atomic_path(path) as tmp:
        sub.to_csv(tmp, index=False)
        back = pd.read_csv(tmp)
        validate_submission(back, sample, id_col=id_col)
        if back[id_col].tolist() != sample[id_col].tolist():
            raise UserError("submission rows are not in the sample submission's id order")
    return path
