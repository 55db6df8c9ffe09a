"""Helpers for feature-block tests: the shipped data sets with their task and folds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features._categorical import Count
from features._target import TargetEncoding
from pipeline.schemes import assign_folds
from core.tasks import TaskInfo

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"


class DataSet:
    """A shipped data set loaded for `build_features` (train, test, task, folds, kwargs)."""

    def __init__(self, name: str):
        self.name = name
        self.about = json.loads((DATA / name / "about.json").read_text())
        self.train = pd.read_csv(DATA / name / "train.csv")
        self.test = pd.read_csv(DATA / name / "test.csv")
        self.target = self.about["target"]
        self.id_col = self.about["id"]
        self.task = TaskInfo.from_target(self.about["task"], self.train[self.target])
        self.folds = assign_folds(self.train, target=self.target, task=self.about["task"], scheme="auto",
                                  n_splits=5, seed=0)

    def kwargs(self, cache_dir: Path, blocks: list, **extra) -> dict:
        base = dict(id_col=self.id_col, target=self.target, task=self.task, folds=self.folds, blocks=blocks,
                    drop=[], cache_dir=cache_dir, log=lambda m: None)
        return {**base, **extra}


_LOADED: dict[str, DataSet] = {}


def dataset(name: str) -> DataSet:
    """Load (once per session) a shipped data set."""
    if name not in _LOADED:
        _LOADED[name] = DataSet(name)
    return _LOADED[name]


@pytest.fixture
def titanic() -> DataSet:
    return dataset("titanic")


@pytest.fixture
def load():
    """The loader: load("hpc") -> DataSet."""
    return dataset


@pytest.fixture
def calls(monkeypatch):
    """Counts real computations of the count and target_encoding blocks."""
    counter = {"count": 0, "target_encoding": 0}
    for cls in (Count, TargetEncoding):
        original = cls.build

        def counted(self, train, test, ctx, _original=original):
            counter[self.name] += 1
            return _original(self, train, test, ctx)

        monkeypatch.setattr(cls, "build", counted)
    return counter
