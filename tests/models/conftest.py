"""Fixtures for the model tests: titanic's feature matrices built by the real folds and features stages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make_titanic_workspace(root: Path) -> Path:
    """A workspace under `root` with the shipped titanic competition (its data and config)."""
    dest = root / "ws" / "competition" / "titanic"
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(REPO / "benchmarks" / "data" / "titanic" / f, dest / f)
    config = (REPO / "competition" / "titanic" / "competition.toml").read_text()
    (dest / "competition.toml").write_text(config[: config.index("[models.lgbm_slow]")])  # lgbm only
    return root / "ws"


class Titanic:
    """Features, encoded target, folds, task and metric of the titanic competition."""

    def __init__(self, ws: Path):
        from pipeline.runner import Runner
        from pipeline.stages import build_pipeline
        from pipeline.artifacts import load_features
        from pipeline.data import read_data, read_folds
        from core.metrics import get_metric
        from core.tasks import TaskInfo
        from pipeline.workspace import Workspace

        self.ws = ws
        self.comp = Workspace(ws).competition("titanic")
        Runner(build_pipeline(), self.comp, log=lambda m: None).run("features")
        train, _, _ = read_data(self.comp)
        self.task = TaskInfo.from_target("binary", train["survived"])
        self.metric = get_metric("roc_auc")
        self.y = self.task.encode(train["survived"])
        self.folds = read_folds(self.comp, train)
        self.X, self.X_test, _ = load_features(self.comp)


@pytest.fixture(scope="module")
def titanic(tmp_path_factory) -> Titanic:
    """Titanic features for direct `train_cv` calls (shared by a module's tests; do not modify)."""
    return Titanic(make_titanic_workspace(tmp_path_factory.mktemp("titanic")))
