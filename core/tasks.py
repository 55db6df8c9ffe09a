"""The competition's task: what kind of target it has, how labels are encoded, and the shape of predictions.

`TASKS` is the registry of task kinds; code asks a `TaskInfo` (the kind plus the class labels found
in the training target) what it needs (`is_classification`, `n_outputs`, `squeeze`) instead of
comparing the kind's name. Predictions follow one convention everywhere: binary -> 1-D P(positive
class); multiclass -> (n_rows, n_classes) probabilities in class order; regression -> 1-D values
in the target's scale.
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


# The task registry.
TASKS: dict[str, Task] = {t.name: t for t in [
    Task("binary", "two classes; predictions are P(positive class)", True, False, "roc_auc", "stratified"),
    Task("multiclass", "more than two classes; one probability per class", True, True, "log_loss", "stratified"),
    Task("regression", "a numeric target", False, False, "rmse", "kfold"),
]}


@dataclass(frozen=True)
class TaskInfo:
    """Task kind plus the ordered class labels (classification) found in the training target."""

    task: str
    classes: tuple = ()

    @classmethod
    def from_target(cls, task: str, target) -> "TaskInfo":
        """Build from the raw train target column (class order = sorted unique labels)."""
        if not TASKS[task].classification:
            return cls(task)
        values = sorted(np.unique(np.asarray(target)).tolist())
        return cls(task, tuple(values))

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
        """Prediction columns per row: the class count (multiclass), else 1."""
        return self.n_classes if self.kind.per_class_outputs else 1

    def squeeze(self, pred: np.ndarray) -> np.ndarray:
        """(n, n_outputs) -> the convention's shape: 1-D when there is one output."""
        pred = np.asarray(pred)
        return pred.reshape(len(pred), -1)[:, 0] if self.n_outputs == 1 else pred

    def class_matrix(self, proba: np.ndarray, classes) -> np.ndarray:
        """(n, n_classes) probabilities from a model's predict_proba, whose columns follow its `classes_`
        (class codes); a class the model never saw (absent from its training rows) gets 0."""
        full = np.zeros((len(proba), max(self.n_classes, 2)))
        full[:, np.asarray(classes).astype(np.int64)] = proba
        return full

    def from_proba(self, full: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities -> the convention: binary P(class 1), multiclass as is."""
        return full if self.kind.per_class_outputs else full[:, 1]

    def encode(self, target) -> np.ndarray:
        """Raw labels -> 0..k-1 ints (classification) or float64 (regression)."""
        arr = np.asarray(target)
        if not self.is_classification:
            return arr.astype(np.float64)
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[v] for v in arr.tolist()], dtype=np.int64)

    def decode_labels(self, codes: np.ndarray) -> np.ndarray:
        """0..k-1 ints -> raw class labels."""
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=int)]

    def prediction_columns(self) -> list[str]:
        """Column names used for predictions in oof/test artifacts."""
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
