"""The competition's task: target encoding and the names of prediction columns in artifacts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TASKS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class TaskInfo:
    """Task kind plus the ordered class labels (classification) found in the training target."""

    task: str
    classes: tuple = ()

    @classmethod
    def from_target(cls, task: str, target) -> "TaskInfo":
        """Build from the raw train target column (class order = sorted unique labels)."""
        if task == "regression":
            return cls(task)
        values = sorted(np.unique(np.asarray(target)).tolist())
        return cls(task, tuple(values))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def encode(self, target) -> np.ndarray:
        """Raw labels -> 0..k-1 ints (classification) or float64 (regression)."""
        arr = np.asarray(target)
        if self.task == "regression":
            return arr.astype(np.float64)
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[v] for v in arr.tolist()], dtype=np.int64)

    def decode_labels(self, codes: np.ndarray) -> np.ndarray:
        """0..k-1 ints -> raw class labels."""
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=int)]

    def prediction_columns(self) -> list[str]:
        """Column names used for predictions in oof/test artifacts."""
        if self.task == "multiclass":
            return [str(c) for c in self.classes]
        return ["pred"]

    def to_frame_values(self, pred: np.ndarray) -> dict[str, np.ndarray]:
        """Prediction array -> {column: values} following `prediction_columns`."""
        pred = np.asarray(pred, dtype=np.float64)
        cols = self.prediction_columns()
        if self.task == "multiclass":
            return {c: pred[:, i] for i, c in enumerate(cols)}
        return {cols[0]: pred.reshape(-1)}

    def from_frame(self, frame) -> np.ndarray:
        """Inverse of `to_frame_values`: the prediction array from an artifact frame."""
        cols = self.prediction_columns()
        if self.task == "multiclass":
            return frame[cols].to_numpy(dtype=np.float64)
        return frame[cols[0]].to_numpy(dtype=np.float64)
