"""Pseudo-label selection modes and label sources: registries the config validates against (`SELECTIONS`,
`SOURCES`), and the step from labels to extra training rows. The pseudo stage (pipeline/stages/pseudo.py)
runs the rounds; its docstring states the leak guard these follow.

Which test rows get a label, and what label, is a selection mode (`SELECTIONS`: hard labels above a
probability threshold, the top fraction per class in the training class balance, soft labels, or
the regression rows the models agree on most); who labels is a label source (`SOURCES`: the
model's own fold models, or a blend of every cv run's). Pseudo rows weigh `weight` (the fold's own
rows weigh 1); soft labels become weighted duplicates -- each test row once per class, weighted by
the class probability -- so any model whose `fit` takes `sample_weight` learns probability targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from core.errors import UserError


# ---- what fold k's labels are made of --------------------------------------------------------------
@dataclass
class FoldRun:
    """A run that may label: OOF predictions (every train row) and each fold model's test predictions."""

    name: str
    oof: np.ndarray
    by_fold: dict[int, np.ndarray]  # fold k -> fold k's model's test predictions (the convention's shape)
    overall: float


@dataclass(frozen=True)
class Candidates:
    """What a selection mode sees for fold k: the labelling predictions for every test row, the
    disagreement of the pool's fold-k models (regression; None with one model), the class shares of
    the other folds' rows (classification), and the settings."""

    pred: np.ndarray
    spread: np.ndarray | None
    prior: np.ndarray | None
    task: Any  # core.tasks.TaskInfo
    threshold: float
    fraction: float


@dataclass(frozen=True)
class Labels:
    """Fold k's pseudo-labels: test row indices and, per row, a class code or value (hard) or the
    class probabilities (soft, shape (rows, n_classes))."""

    rows: np.ndarray
    target: np.ndarray
    soft: bool = False


@dataclass(frozen=True)
class Selection:
    """A selection mode: which test rows get a label and what label; `applies(task kind)`;
    `weighted`: its rows need a model whose fit takes sample_weight (soft labels)."""

    name: str
    doc: str
    select: Callable[[Candidates], Labels]
    applies: Callable[[Any], bool]  # core.tasks.Task -> whether the mode fits it
    weighted: bool = False


def _proba(pred: np.ndarray, task) -> np.ndarray:
    """(n, n_classes) class probabilities from the convention (binary: P(class 1))."""
    pred = np.asarray(pred, dtype=np.float64)
    return np.column_stack([1.0 - pred, pred]) if task.n_outputs == 1 else pred


def _threshold(c: Candidates) -> Labels:
    if c.task.kind.multi_target:  # multilabel: a row whose every column is that sure, 0/1 per column
        pred = np.asarray(c.pred, dtype=np.float64)
        rows = np.flatnonzero(np.maximum(pred, 1.0 - pred).min(axis=1) >= c.threshold)
        return Labels(rows, (pred[rows] >= 0.5).astype(np.int64))
    proba = _proba(c.pred, c.task)
    rows = np.flatnonzero(proba.max(axis=1) >= c.threshold)
    return Labels(rows, proba[rows].argmax(axis=1))


def _quotas(n: int, prior: np.ndarray) -> np.ndarray:
    """n split in proportion to `prior` (largest remainders), summing to n."""
    raw = n * np.asarray(prior, dtype=np.float64)
    out = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - out), kind="stable")[: n - int(out.sum())]:
        out[i] += 1
    return out


def _top(c: Candidates) -> Labels:
    proba = _proba(c.pred, c.task)
    quotas = _quotas(int(round(c.fraction * len(proba))), c.prior)
    taken = np.zeros(len(proba), dtype=bool)
    rows, labels = [], []
    for cls in np.argsort(quotas, kind="stable"):  # the rarest class first: it has the fewest good rows
        order = [i for i in np.argsort(-proba[:, cls], kind="stable") if not taken[i]][: quotas[cls]]
        taken[order] = True
        rows.extend(order)
        labels.extend([cls] * len(order))
    order = np.argsort(rows, kind="stable")
    return Labels(np.asarray(rows, dtype=np.int64)[order], np.asarray(labels, dtype=np.int64)[order])


def _soft(c: Candidates) -> Labels:
    proba = _proba(c.pred, c.task)
    return Labels(np.arange(len(proba)), proba, soft=True)


def _agreement(c: Candidates) -> Labels:
    n = int(round(c.fraction * len(c.pred)))
    if n >= len(c.pred):
        rows = np.arange(len(c.pred))
    elif c.spread is None:
        raise UserError("pseudo.selection = 'agreement' ranks test rows by how much the models' fold-k "
                        "predictions disagree, which needs at least two cv models; add a [models.NAME] "
                        "table, or set pseudo.fraction = 1.0 to label every test row")
    else:
        rows = np.sort(np.argsort(c.spread, kind="stable")[:n])
    return Labels(rows, np.asarray(c.pred, dtype=np.float64)[rows])


def _classification(kind) -> bool:
    return kind.classification


def _one_target_classification(kind) -> bool:
    """Classification of one target: soft labels and per-class quotas are of one target's classes."""
    return kind.classification and not kind.multi_target


# The selection modes; `pseudo.selection = "auto"` is the first that fits the task and the model: soft
# labels for classification (the best CV score of the modes on the dev sets, `python
# benchmarks/pseudo.py`), threshold for a model whose fit takes no sample_weight.
SELECTIONS: dict[str, Selection] = {s.name: s for s in [
    Selection("soft", "every test row with its predicted class probabilities as targets (weighted "
                      "duplicates, one per class)", _soft, _one_target_classification, weighted=True),
    Selection("threshold", "hard labels for the test rows whose top class probability is at least "
                           "`threshold` (multilabel: in every target column)", _threshold, _classification),
    Selection("top", "hard labels for the `fraction` of test rows most confidently in each class, classes "
                     "in the training rows' proportions", _top, _one_target_classification),
    Selection("agreement", "regression: the `fraction` of test rows whose fold-k predictions the models "
                           "agree on most (multiregression: over the columns, each in its training spread)",
              _agreement, lambda kind: not kind.classification),
]}


def selection_for(name: str, kind, *, takes_weight: bool = True) -> Selection:
    """The selection mode `name` ("auto": the first that fits the task kind and the model -- a
    weighted mode only for a model whose fit takes sample_weight)."""
    if name == "auto":
        return next(s for s in SELECTIONS.values() if s.applies(kind) and (takes_weight or not s.weighted))
    return SELECTIONS[name]


# ---- label sources ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Who labels fold k: `labels(pool, model, k, y, folds, metric)` -> (test predictions, what it chose)."""

    name: str
    doc: str
    labels: Callable[..., tuple[np.ndarray, dict]]


def _own_model(pool: dict[str, FoldRun], model: str, k: int, y, folds, metric) -> tuple[np.ndarray, dict]:
    return pool[model].by_fold[k], {}


def _ensemble(pool: dict[str, FoldRun], model: str, k: int, y, folds, metric) -> tuple[np.ndarray, dict]:
    from models.ensemble import blend, hill_climb_weights

    runs = list(pool.values())
    other = folds != k  # the weights never see fold k's rows (module docstring, rule 2)
    w = hill_climb_weights([r.oof[other] for r in runs], y[other], metric)
    return blend([r.by_fold[k] for r in runs], w), {r.name: round(float(x), 4) for r, x in zip(runs, w) if x}


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("model", "the pseudo-trained model's own fold-k model (its previous round's after round 1)",
           _own_model),
    Source("ensemble", "Caruana hill-climbing blend of every cv run's fold-k models (the pseudo-trained "
                       "model's previous round in its place), weights fitted on the other folds' OOF rows",
           _ensemble),
]}


# ---- from labels to training rows ------------------------------------------------------------------
SOFT_FLOOR = 0.01
"""A class below this share of a test row's probability gets no weighted duplicate of the row; the row's
other classes share its weight. Such a duplicate carries next to nothing but costs a training row: on leaf
(32 classes) 12,224 pseudo rows a fold, 392 with the floor, and the pseudo-trained LightGBM's CV 8 min against
3.7 (2026-12-06). What keeps a LightGBM stable on soft labels is its hessian floor
(`models.soft_label_spec`), not this one."""


def soft_shares(proba: np.ndarray) -> np.ndarray:
    """The class probabilities soft labels train on: classes below SOFT_FLOOR dropped (a row's most likely
    class always kept), each row renormalised to sum 1."""
    proba = np.asarray(proba, dtype=np.float64)
    kept = np.where((proba >= SOFT_FLOOR) | (proba == proba.max(axis=1, keepdims=True)), proba, 0.0)
    return kept / kept.sum(axis=1, keepdims=True)


def training_rows(X_test, labels: Labels, *, weight: float = 1.0) -> tuple:
    """Fold k's extra training rows for `train_cv`'s `extra_rows`: (X, y), or (X, y, sample weights)
    when a weight differs from 1. Soft labels become one row per class, weighted `weight` x P(class)
    (`soft_shares`: classes below SOFT_FLOOR left out)."""
    if labels.soft:
        proba = soft_shares(labels.target)
        n_classes = proba.shape[1]
        rows = np.repeat(labels.rows, n_classes)
        classes = np.tile(np.arange(n_classes), len(labels.rows))
        w = weight * proba.reshape(-1)
        keep = w > 0
        return X_test.iloc[rows[keep]].reset_index(drop=True), classes[keep], w[keep]
    X = X_test.iloc[labels.rows].reset_index(drop=True)
    if weight == 1.0:
        return X, labels.target
    return X, labels.target, np.full(len(labels.rows), float(weight))


def soft_targets(y_extra: np.ndarray, w_extra: np.ndarray, row_of: np.ndarray, n_rows: int,
                 n_classes: int) -> np.ndarray:
    """Inverse of `training_rows` for soft labels: the (n_rows, n_classes) class probabilities that
    weighted duplicates `(y_extra, w_extra)` of test rows `row_of` stand for."""
    out = np.zeros((n_rows, n_classes))
    np.add.at(out, (row_of, np.asarray(y_extra, dtype=np.int64)), w_extra)
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def label_summary(labels: dict[int, Labels], task) -> dict:
    """Label distribution over the folds: class shares (classification; soft: expected shares) or
    mean, std, min and max (regression)."""
    if task.kind.multi_target:  # per target column: the share of 1s (multilabel) or the values' summary
        stacked = np.concatenate([np.asarray(lab.target, dtype=np.float64).reshape(-1, task.n_targets)
                                  for lab in labels.values()])
        column = task.column()
        return {t: label_summary({0: Labels(np.arange(len(stacked)), stacked[:, j].astype(np.int64)
                                            if column.is_classification else stacked[:, j])}, column)
                for j, t in enumerate(task.targets)}
    if not task.is_classification:
        values = np.concatenate([np.asarray(lab.target, dtype=np.float64) for lab in labels.values()])
        if not len(values):
            return {}
        return {name: float(f"{value:.6g}") for name, value in  # six digits, as the class shares' four
                (("mean", values.mean()), ("std", values.std()), ("min", values.min()), ("max", values.max()))}
    counts = np.zeros(task.n_classes)
    for lab in labels.values():
        if lab.soft:
            counts += np.asarray(lab.target).sum(axis=0)
        else:
            counts += np.bincount(np.asarray(lab.target, dtype=np.int64), minlength=task.n_classes)
    total = counts.sum()
    return {str(c): round(float(n / total), 4) if total else 0.0 for c, n in zip(task.classes, counts)}
