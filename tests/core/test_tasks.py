"""The task registry's multi-target entries: what TaskInfo answers for multilabel and multiregression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.tasks import TASKS, TaskInfo


def test_multi_target_entries_name_their_column_task():
    assert {t.name: t.column_task for t in TASKS.values() if t.multi_target} == {
        "multilabel": "binary", "multiregression": "regression"}
    assert not any(TASKS[name].multi_target for name in ("binary", "multiclass", "regression"))
    assert TASKS["multilabel"].classification and not TASKS["multiregression"].classification


def test_multilabel_task_info():
    frame = pd.DataFrame({"toxic": [0, 1, 0], "obscene": [1, 1, 0], "threat": [0, 0, 1]})
    task = TaskInfo.from_target("multilabel", frame)
    assert task.targets == ("toxic", "obscene", "threat") and task.classes == (0, 1)
    assert task.n_targets == 3 and task.n_outputs == 3 and task.is_classification
    assert task.column() == TaskInfo("binary", (0, 1))
    y = task.encode(frame)
    assert y.dtype == np.int64 and y.shape == (3, 3) and (y == frame.to_numpy()).all()
    p = np.array([[0.1, 0.9, 0.2], [0.8, 0.7, 0.1], [0.3, 0.2, 0.6]])
    assert task.squeeze(p) is not None and task.squeeze(p).shape == (3, 3)
    assert task.prediction_columns() == ["toxic", "obscene", "threat"]
    assert np.array_equal(task.from_proba(task.class_matrix(p, np.arange(3))), p)  # P(1) per column as is
    values = task.to_frame_values(p)
    assert list(values) == ["toxic", "obscene", "threat"]
    assert np.array_equal(task.from_frame(pd.DataFrame(values)), p)


def test_multiregression_task_info():
    frame = pd.DataFrame({"a": [1.5, 2.0], "b": [3, 4]})
    task = TaskInfo.from_target("multiregression", frame)
    assert task.targets == ("a", "b") and task.classes == () and not task.is_classification
    assert task.n_outputs == 2 and task.column() == TaskInfo("regression")
    assert task.encode(frame).dtype == np.float64 and task.encode(frame).shape == (2, 2)


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
def test_single_target_tasks_are_their_own_column_task(name):
    task = TaskInfo.from_target(name, pd.Series([0, 1, 2, 1]))
    assert task.n_targets == 1 and task.column() is task and task.targets == ()
