"""The rows a fold's early stopping holds out (`models._fit.early_stopping_rows`): a random share of each class."""

from __future__ import annotations

import numpy as np

from core.tasks import TaskInfo
from models._fit import early_stopping_rows

BINARY = TaskInfo("binary", (0, 1))


def test_a_fifth_of_each_class_is_drawn():
    y = np.array([0] * 80 + [1] * 20)
    held = early_stopping_rows(y, BINARY, seed=0)
    assert (np.bincount(y[held]) == [16, 4]).all()
    assert not np.array_equal(held, np.arange(80, 100))  # drawn, not the last rows
