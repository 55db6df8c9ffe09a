"""The competition's task: what kind of target it has, how labels are encoded, and the shape of predictions.

`TASKS` is the registry of task kinds; code asks a `TaskInfo` (the kind plus the class labels found
in the training target) what it needs (`is_classification`, `n_outputs`, `squeeze`, `n_targets`)
instead of comparing the kind's name. Predictions follow one convention everywhere: binary -> 1-D
P(positive class); multiclass -> (n_rows, n_classes) probabilities in class order; regression -> 1-D
values in the target's scale; multilabel -> (n_rows, n_targets) P(1) per target column, in the
`[competition] target` list's order; multiregression -> (n_rows, n_targets) values per target column.

A multi-target kind (`Task.column_task` set) is several single-target problems side by side: its
labels are an (n_rows, n_targets) array (multilabel 0/1 ints, multiregression floats), and a model
type that does not handle several columns natively is trained once per target column on that
column's own task (`TaskInfo.column`, models._multi.PerTarget).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Task:
    """A kind of target: its name, whether it is classification, and its defaults."""

    name: str
    doc: str
    classification: bool
    per_class_outputs: bool  # one prediction column per class (else one column)
    default_metric: str
    default_cv: str  # the fold scheme `cv.scheme = "auto"` means
    # multi-target kinds: the task of each target column (its labels, models, early stopping); None: one target
    column_task: str | None = None

    @property
    def multi_target(self) -> bool:
        """Several target columns (`[competition] target` is a list), one prediction column each."""
        return self.column_task is not None


# The task registry.
TASKS: dict[str, Task] = {t.name: t for t in [
    Task("binary", "two classes; predictions are P(positive class)", True, False, "roc_auc", "stratified"),
    Task("multiclass", "more than two classes; one probability per class", True, True, "log_loss", "stratified"),
    Task("regression", "a numeric target", False, False, "rmse", "kfold"),
    # `auto` folds for multilabel stratify on the rarest label's column (pipeline.schemes): under plain
    # k-fold a rare label's few positives can miss a fold, whose column-wise AUC is then undefined; the
    # common labels' shares stay close to even by chance alone
    Task("multilabel", "several 0/1 target columns; predictions are P(1) per column", True, False, "roc_auc",
         "stratified", column_task="binary"),
    Task("multiregression", "several numeric target columns; one value per column", False, False, "rmse", "kfold",
         column_task="regression"),
]}


@dataclass(frozen=True)
class TaskInfo:
    """Task kind plus the ordered class labels (classification) found in the training target."""

    task: str
    classes: tuple = ()
    targets: tuple = ()  # the target columns of a multi-target kind, in the config's order

    @classmethod
    def from_target(cls, task: str, target) -> "TaskInfo":
        """Build from the raw train target column (class order = sorted unique labels); a multi-target
        kind from the target columns' frame (multilabel classes are 0 and 1 in every column)."""
        kind = TASKS[task]
        if kind.multi_target:
            return cls(task, (0, 1) if kind.classification else (), tuple(str(c) for c in target.columns))
        if not kind.classification:
            return cls(task)
        values = sorted(np.unique(np.asarray(target)).tolist())
        return cls(task, tuple(values))

    @property
    def n_targets(self) -> int:
        """Target columns: 1, or the multi-target kind's columns."""
        return len(self.targets) if self.kind.multi_target else 1

    def column(self) -> "TaskInfo":
        """The single-target task of one target column (multilabel: binary 0/1; multiregression:
        regression); a single-target task is its own column task."""
        if not self.kind.multi_target:
            return self
        return TaskInfo(self.kind.column_task, self.classes)

    @property
    def kind(self) -> Task:
        return TASKS[self.task]

    @property
    def is_classification(self) -> bool:
        return self.kind.classification

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Prediction columns per row: the class count (multiclass), the targets (multi-target), else 1."""
        if self.kind.multi_target:
            return self.n_targets
        return self.n_classes if self.kind.per_class_outputs else 1

    def squeeze(self, pred: np.ndarray) -> np.ndarray:
        """(n, n_outputs) -> the convention's shape: 1-D when there is one output."""
        pred = np.asarray(pred)
        return pred.reshape(len(pred), -1)[:, 0] if self.n_outputs == 1 else pred

    def class_matrix(self, proba: np.ndarray, classes) -> np.ndarray:
        """(n, n_classes) probabilities from a model's predict_proba, whose columns follow its `classes_`
        (class codes); a class the model never saw (absent from its training rows) gets 0. A
        multi-target model's predict_proba is already P(1) per target column: returned as it is."""
        if self.kind.multi_target:
            return np.asarray(proba)
        full = np.zeros((len(proba), max(self.n_classes, 2)))
        full[:, np.asarray(classes).astype(np.int64)] = proba
        return full

    def from_proba(self, full: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities -> the convention: binary P(class 1), multiclass as is
        (multilabel: P(1) per target column, as is)."""
        return full if self.kind.per_class_outputs or self.kind.multi_target else full[:, 1]

    def encode(self, target) -> np.ndarray:
        """Raw labels -> 0..k-1 ints (classification) or float64 (regression); a multi-target kind's
        target columns -> (n, n_targets): multilabel 0/1 ints, multiregression floats."""
        arr = np.asarray(target)
        if self.kind.multi_target:
            return arr.astype(np.int64 if self.is_classification else np.float64).reshape(len(arr), -1)
        if not self.is_classification:
            return arr.astype(np.float64)
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[v] for v in arr.tolist()], dtype=np.int64)

    def decode_labels(self, codes: np.ndarray) -> np.ndarray:
        """0..k-1 ints -> raw class labels."""
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=int)]

    def prediction_columns(self) -> list[str]:
        """Column names used for predictions in oof/test artifacts: the target columns (multi-target),
        the classes (multiclass), else "pred"."""
        if self.kind.multi_target:
            return list(self.targets)
        if self.kind.per_class_outputs:
            return [str(c) for c in self.classes]
        return ["pred"]

    def to_frame_values(self, pred: np.ndarray) -> dict[str, np.ndarray]:
        """Prediction array -> {column: values} following `prediction_columns`."""
        pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
        return {c: pred[:, i] for i, c in enumerate(self.prediction_columns())}

    def from_frame(self, frame) -> np.ndarray:
        """Inverse of `to_frame_values`: the prediction array from an artifact frame."""
        return self.squeeze(frame[self.prediction_columns()].to_numpy(dtype=np.float64))
