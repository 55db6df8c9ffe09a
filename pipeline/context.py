"""What a stage's run function receives: `StageContext`, the competition's data, task, metric, folds and
threads read once, and the stage's units and logging."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.config import Competition
from pipeline.graph import Stage


@dataclass
class StageContext:
    """What a stage's run function receives: the competition, its units to run, and helpers."""

    comp: Competition
    stage: Stage
    units: list[str] | None
    log: Callable[[str], None]
    state: dict[str, dict]  # recorded state of every stage (upstream outputs, unit lists)
    started: float | None = None  # pipeline.planner.clock() when the run began: the time budget counts from it
    _cache: dict[str, Any] = field(default_factory=dict)
    _unit_done: Callable[[str, list], None] | None = None

    @property
    def budget(self):
        """The run's time budget (pipeline.planner.Budget; `[runtime] time_budget`, 0 = none)."""
        from pipeline.planner import Budget

        seconds = self.comp.cfg["runtime"].get("time_budget") or None
        return Budget(seconds, started=self.started)

    def unit_done(self, unit: str, paths: list) -> None:
        """Tell the runner a unit (e.g. one model) finished with these output files; recorded at once."""
        if self._unit_done is not None:
            self._unit_done(unit, paths)

    @property
    def cfg(self) -> dict:
        return self.comp.cfg

    @property
    def runs(self) -> Path:
        return self.comp.runs

    def threads(self) -> int:
        """Threads per fit from runtime.threads / n_jobs."""
        from core.threads import resolve_threads

        rt = self.comp.cfg["runtime"]
        return resolve_threads(rt["threads"], n_jobs=rt["n_jobs"], warn=self.log)

    def data(self):
        """(train, test, sample_submission) DataFrames, read once (from a snapshot when unchanged)."""
        if "data" not in self._cache:
            from pipeline.data import read_data

            self._cache["data"] = read_data(self.comp)
        return self._cache["data"]

    def release_data(self) -> None:
        """Drop this stage's hold on the data frames (their snapshot's mapped pages leave memory, and
        the memory they held goes back to the system); a later `data()` maps them again."""
        from pipeline.data import release_memory

        for key in ("data", "model_setup"):
            self._cache.pop(key, None)
        release_memory()  # pandas frames sit in reference cycles: without a collection their pages stay

    def folds(self, repeat: int = 0):
        """Fold number per train row (-1: never validated), aligned with train.csv's row order, of CV
        repeat `repeat` (cv.repeats)."""
        key = ("folds", repeat)
        if key not in self._cache:
            from pipeline.data import read_folds

            self._cache[key] = read_folds(self.comp, self.data()[0], repeat=repeat)
        return self._cache[key]

    def repeats(self) -> int:
        """How many CV repeats runs/folds.csv holds."""
        from pipeline.data import fold_repeats

        return fold_repeats(self.comp, self.data()[0])

    def train_from(self):
        """Per train row the first fold that may train on it (forward chaining), or None."""
        if "train_from" not in self._cache:
            from pipeline.data import read_train_from

            self._cache["train_from"] = read_train_from(self.comp, self.data()[0])
        return self._cache["train_from"]

    def training(self):
        """The model stages' one setup (pipeline.training.Training): data, task, metric, folds, features."""
        if "model_setup" not in self._cache:
            from pipeline.training import Training

            self._cache["model_setup"] = Training(self.comp, *self.data()[:2], self.task_info(), self.metric(),
                                               self.folds(), self.log, train_from=self.train_from())
        return self._cache["model_setup"]

    def task_info(self):
        """The task with the class labels found in train.csv's target."""
        from core.tasks import TaskInfo

        if "task" not in self._cache:
            self._cache["task"] = TaskInfo.from_target(self.comp.task, self.data()[0][self.comp.target])
        return self._cache["task"]

    def metric(self):
        from core.metrics import get_metric

        return get_metric(self.comp.metric_name)

    def model_run_dirs(self) -> dict[str, Path]:
        """Every model run the ensemble may combine: trained (cv, pseudo) and imported, by name."""
        dirs: dict[str, Path] = {}
        for unit in self.state.get("cv", {}).get("units", {}):
            path = self.runs / "models" / unit
            if (path / "oof.parquet").exists():
                dirs[unit] = path
        if self.cfg["pseudo"]["enabled"]:
            for rel in self.state.get("pseudo", {}).get("paths", []):
                path = self.comp.workspace / rel
                if path.name == "oof.parquet":
                    dirs[path.parent.name] = path.parent
        if self.comp.imports_dir.is_dir():
            for path in sorted(self.comp.imports_dir.iterdir()):
                if (path / "oof.parquet").exists():
                    dirs[path.name] = path
        return dirs
