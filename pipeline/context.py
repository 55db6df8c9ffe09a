"""One competition's state, read once: `CompetitionContext`; and what a stage's run function receives:
`StageContext`, that context plus the stage's units, the recorded state and the time budget.

The runner makes one `CompetitionContext` per run and hands it to every stage; `tune`, `exchange`
and the reports make one the same way, so data, task, metric, folds, `train_from`, threads and the
run folders are read by one piece of code, from one data digest.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pipeline.config import Competition
from pipeline.graph import Stage
from pipeline.state import StateStore


class CompetitionContext:
    """The competition's data, task, metric, folds, threads and run folders, each read once.

    Frames are cached until `release_data` (the runner releases them between stages, so one stage's
    frames are not held while the next runs); the data digest, task and metric are kept for the run."""

    def __init__(self, comp: Competition, *, log: Callable[[str], None] = print):
        self.comp = comp
        self.log = log
        self._cache: dict[Any, Any] = {}

    @property
    def cfg(self) -> dict:
        return self.comp.cfg

    @property
    def runs(self) -> Path:
        return self.comp.runs

    @functools.cached_property
    def digest(self) -> str:
        """Content digest of train/test/sample_submission and of how they are parsed (pipeline.data)."""
        from pipeline.data import data_digest

        return data_digest(self.comp)

    def data(self):
        """(train, test, sample_submission) DataFrames, read once (from a snapshot when unchanged)."""
        if "data" not in self._cache:
            from pipeline.data import read_data

            self._cache["data"] = read_data(self.comp, self.digest)
        return self._cache["data"]

    def release_data(self) -> None:
        """Drop the hold on the data frames and what was built from them (their snapshot's mapped pages
        leave memory, and the memory they held goes back to the system); `data()` maps them again."""
        from pipeline.data import release_memory

        for key in [k for k in self._cache if k != "task"]:
            self._cache.pop(key, None)
        release_memory()  # pandas frames sit in reference cycles: without a collection their pages stay

    def folds(self, repeat: int = 0):
        """Fold number per train row (-1: never validated), aligned with train.csv's row order, of CV
        repeat `repeat` (cv.repeats)."""
        key = ("folds", repeat)
        if key not in self._cache:
            from pipeline.data import read_folds

            self._cache[key] = read_folds(self.comp, self.data()[0], repeat=repeat, digest=self.digest)
        return self._cache[key]

    def folds_sha256(self) -> str:
        """The digest of runs/folds.csv's first repeat (its validated rows; core.folds.folds_digest): every run
        folder records the one it was made on, so the ensemble and `export` know a run made on other folds."""
        if "folds_sha256" not in self._cache:
            from core.folds import folds_digest, validated

            folds = self.folds()
            rows = validated(folds)
            self._cache["folds_sha256"] = folds_digest(self.data()[0][self.comp.id_col].to_numpy()[rows], folds[rows])
        return self._cache["folds_sha256"]

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

    def sample_weight(self):
        """Per train row its sample weight ([competition] weight, checked), or None."""
        if "sample_weight" not in self._cache:
            from pipeline.data import read_weights

            self._cache["sample_weight"] = read_weights(self.comp, self.data()[0])
        return self._cache["sample_weight"]

    def task_info(self):
        """The task with the class labels found in train.csv's target."""
        if "task" not in self._cache:
            from core.tasks import TaskInfo

            self._cache["task"] = TaskInfo.from_target(self.comp.task, self.data()[0][self.comp.target])
        return self._cache["task"]

    def metric(self):
        """The competition's metric (core.metrics.Metric)."""
        from core.metrics import get_metric

        return get_metric(self.comp.metric_name, self.comp.root)

    def threads(self) -> int:
        """Threads per fit from runtime.threads / n_jobs and the train table's rows (core.threads)."""
        from core.threads import resolve_threads

        rt = self.comp.cfg["runtime"]
        return resolve_threads(rt["threads"], n_jobs=rt["n_jobs"], warn=self.log, rows=len(self.data()[0]))

    def training(self, *, backend: Any = None):
        """The model stages' one setup (pipeline.model_setup.ModelSetup) on these data, task, metric and folds;
        `backend`: the execution backend its folds run on (default: the one [runtime] names)."""
        key = ("training", id(backend))
        if key not in self._cache:
            from pipeline.model_setup import ModelSetup

            self._cache[key] = ModelSetup(self.comp, *self.data()[:2], self.task_info(), self.metric(), self.folds(),
                                        self.log, backend=backend, train_from=self.train_from(),
                                        sample_weight=self.sample_weight(), folds_sha256=self.folds_sha256())
        return self._cache[key]

    def run_dirs(self, state: dict[str, dict] | None = None) -> dict[str, Path]:
        """Every model run the ensemble may combine, by name: trained (cv; pseudo when enabled) as the
        runner recorded them (`state`, else read from runs/.state/), and imported."""
        if state is None:
            store = StateStore(self.runs)
            state = {name: store.load(name) for name in ("cv", "pseudo")}
        dirs: dict[str, Path] = {}
        for unit in state.get("cv", {}).get("units", {}):
            path = self.runs / "models" / unit
            if (path / "oof.parquet").exists():
                dirs[unit] = path
        if self.cfg["pseudo"]["enabled"]:
            for rel in state.get("pseudo", {}).get("paths", []):
                path = self.comp.workspace / rel
                if path.name == "oof.parquet":
                    dirs[path.parent.name] = path.parent
        if self.comp.imports_dir.is_dir():
            for path in sorted(self.comp.imports_dir.iterdir()):
                if (path / "oof.parquet").exists():
                    dirs[path.name] = path
        return dirs


@dataclass
class StageContext:
    """What a stage's run function receives: the competition's context (shared by the run's stages), the
    stage, its units to run, the recorded state of every stage, and the time budget's start."""

    competition: CompetitionContext
    stage: Stage
    units: list[str] | None
    state: dict[str, dict]  # recorded state of every stage (upstream outputs, unit lists)
    started: float | None = None  # pipeline.planner.clock() when the run began: the time budget counts from it
    _unit_done: Callable[[str, list], None] | None = field(default=None, repr=False)

    @property
    def comp(self) -> Competition:
        return self.competition.comp

    @property
    def log(self) -> Callable[[str], None]:
        return self.competition.log

    @property
    def cfg(self) -> dict:
        return self.competition.cfg

    @property
    def runs(self) -> Path:
        return self.competition.runs

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

    def data(self):
        return self.competition.data()

    def release_data(self) -> None:
        self.competition.release_data()

    def folds(self, repeat: int = 0):
        return self.competition.folds(repeat)

    def repeats(self) -> int:
        return self.competition.repeats()

    def train_from(self):
        return self.competition.train_from()

    def task_info(self):
        return self.competition.task_info()

    def sample_weight(self):
        return self.competition.sample_weight()

    def metric(self):
        return self.competition.metric()

    def threads(self) -> int:
        return self.competition.threads()

    def training(self, *, backend: Any = None):
        """The model stages' one setup (pipeline.model_setup.ModelSetup); `backend`: where its folds run
        (default: the one [runtime] names)."""
        return self.competition.training(backend=backend)

    def model_run_dirs(self) -> dict[str, Path]:
        """Every model run the ensemble may combine: trained (cv, pseudo) and imported, by name."""
        return self.competition.run_dirs(self.state)
