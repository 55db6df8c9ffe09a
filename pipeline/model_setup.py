"""One setup for every stage that trains models: cv, pseudo, the ensemble's stackers and tune.

`ModelSetup` gathers, once, what they all need -- the data, task, metric, encoded target, saved
folds, feature matrices (loaded when first used), the competition's plug-in folder and the thread
count -- and trains a model table under k-fold CV with all of it (`train_cv`), writes the run
folder, and records runs in the registry. A stage that trains models builds nothing by hand, so a
plug-in model from `competition/<name>/models/` works in every one of them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pipeline.artifacts import scores_record, write_run
from pipeline.config import Competition

if TYPE_CHECKING:
    from core.fingerprint import CodeFingerprints


@dataclass
class ModelSetup:
    """What model stages train on; get it from the competition's context (`pipeline.context.CompetitionContext.training`)."""

    comp: Competition
    train: Any  # DataFrame, train.csv's rows
    test: Any  # DataFrame, test.csv's rows
    task: Any  # core.tasks.TaskInfo
    metric: Any  # core.metrics.Metric
    folds: np.ndarray  # fold per train row; -1: never validated (forward chaining's earliest block)
    log: Callable[[str], None]
    backend: Any = None  # pipeline.execution.Backend running the folds; None: the one [runtime] names
    train_from: np.ndarray | None = None  # per row the first fold that may train on it (core.folds)
    repeat: int = 0  # which CV repeat's folds (and, with supervised feature blocks, train matrix)
    sample_weight: np.ndarray | None = None  # per train row ([competition] weight), or None
    # the first repeat's folds as a run folder records them (CompetitionContext.folds_sha256); "": not recorded
    folds_sha256: str = ""

    @functools.cached_property
    def repeats(self) -> int:
        """How many CV repeats runs/folds.csv holds (cv.repeats)."""
        from pipeline.data import fold_repeats

        return fold_repeats(self.comp, self.train)

    def for_repeat(self, repeat: int) -> "ModelSetup":
        """The same setup on CV repeat `repeat`'s folds and train matrix (repeat 0: this one)."""
        if repeat == self.repeat:
            return self
        from pipeline.data import read_folds

        return dataclasses.replace(self, folds=read_folds(self.comp, self.train, repeat=repeat), repeat=repeat)

    @functools.cached_property
    def y(self) -> np.ndarray:
        """The encoded target (classification: 0..k-1; regression: float)."""
        return self.task.encode(self.train[self.comp.target])

    @functools.cached_property
    def features(self) -> tuple:
        """(X_train, X_test, arrays) as the features stage wrote them."""
        from pipeline.data import release_arrow_memory
        from pipeline.artifacts import load_features

        features = load_features(self.comp, self.repeat)
        release_arrow_memory()  # parquet decoding's buffers: not needed once the frames are built
        return features

    @property
    def plugin_dir(self) -> Path | None:
        """competition/<name>/models/ when it exists: plug-in model files."""
        path = self.comp.root / "models"
        return path if path.is_dir() else None

    def threads(self, *, here: bool = False) -> int:
        """Threads per fit from [runtime], within the backend's share of the cores (`here`: all of
        this machine's, for fits run one after another in this process)."""
        from pipeline.execution import SEQUENTIAL

        backend = SEQUENTIAL if here else self.executor
        return backend.threads(self.comp.cfg["runtime"]["threads"], warn=self.log, rows=len(self.train))

    @property
    def executor(self) -> Any:
        """The execution backend the folds run on (pipeline.execution): `backend`, else [runtime]'s."""
        if self.backend is None:
            from pipeline.execution import backend_for

            self.backend = backend_for(self.comp, log=self.log)
        return self.backend

    @property
    def trainer(self) -> Callable[..., Any]:
        """`models.train_cv` with this competition's plug-in folder bound (for the ensemble's stackers)."""
        from models import train_cv

        return functools.partial(train_cv, plugin_dir=self.plugin_dir, map_folds=self.executor.fold_map)

    def train_cv(self, name: str, spec: dict, *, extra_rows: Callable[[int], tuple] | None = None,
                 on_fold: Callable | None = None, log: Callable[[str], None] | None = None,
                 threads: int | None = None, progress: bool = True, save_models: bool | None = None) -> Any:
        """Train the model table `spec` on the saved folds and the feature matrices (a CVResult).

        With `progress`, a bar over the folds (elapsed, estimate) shows on a terminal, plain lines elsewhere.
        `save_models` (default: [runtime] save_models) keeps the fold models for `write`."""
        from core.folds import fold_ids
        from core.progress import progress as progress_bar

        X_train, X_test, arrays = self.features
        bar = progress_bar(len(fold_ids(self.folds)), f"[cv] {name}", unit="fold") if progress else None

        def after_fold(report) -> None:
            if bar is not None:
                bar.update(note=f"{self.metric.name} {report.score:.5f}")
            if on_fold is not None:
                on_fold(report)

        try:
            return self.trainer(name, spec, X_train, self.y, X_test, self.folds, self.task, self.metric,
                                threads=self.threads() if threads is None else threads, arrays=arrays,
                                extra_rows=extra_rows, log=self.log if log is None else log, on_fold=after_fold,
                                train_from=self.train_from, sample_weight=self.sample_weight,
                                save_models=self.save_models if save_models is None else save_models)
        finally:
            if bar is not None:
                bar.close()

    def train_cv_many(self, specs: dict[str, dict], *, log: Callable[[str], None] | None = None,
                      here: bool = False):
        """Several model tables' folds as one set of tasks on the backend (models.train_cv_many), or in
        this process with `here`: yields (name, CVResult) as each model is done."""
        from models import train_cv_many

        X_train, X_test, arrays = self.features
        yield from train_cv_many(specs, X_train, self.y, X_test, self.folds, self.task, self.metric,
                                 threads=self.threads(here=here), arrays=arrays, plugin_dir=self.plugin_dir,
                                 log=self.log if log is None else log,
                                 map_folds=None if here else self.executor.fold_map, train_from=self.train_from,
                                 sample_weight=self.sample_weight, save_models=self.save_models)

    @property
    def save_models(self) -> bool:
        """Whether model runs keep their fold models ([runtime] save_models)."""
        return bool(self.comp.cfg["runtime"].get("save_models", True))

    def scores(self, result: Any, **extra: Any) -> dict:
        """scores.json of a CV result (a multi-target task's: each target column's score too, `columns`)."""
        from core.folds import validated
        from core.metrics import column_scores

        made_on = {"folds_sha256": self.folds_sha256} if self.folds_sha256 else {}
        rows = validated(self.folds)
        weights = None if self.sample_weight is None else self.sample_weight[rows]
        columns = column_scores(self.metric, self.task, self.y[rows], np.asarray(result.oof)[rows], weights)
        return scores_record(self.metric, result.fold_scores, result.overall, **made_on,
                             **({"columns": columns} if columns else {}), **extra)

    def write(self, path: Path, result: Any, *, params: dict | None = None, scores: dict | None = None,
              by_fold: bool = True) -> Path:
        """Write a CV result's run folder (ids, predictions, scores, params, timings) atomically; with
        `by_fold`, also each fold model's test predictions and the extra tables (feature importance).
        The OOF file holds the validated rows only (forward chaining never predicts its earliest block)."""
        from core.folds import validated

        comp = self.comp
        rows = validated(self.folds)
        params = {**(params or result.params), "features": self.feature_info()}
        return write_run(path, id_col=comp.id_col, task=self.task, train_ids=self.train[comp.id_col][rows],
                         oof=result.oof[rows], test_ids=self.test[comp.id_col], test=result.test,
                         scores=scores or self.scores(result), params=params,
                         timings=result.timings, extra_tables=result.extra_tables if by_fold else None,
                         test_by_fold=result.test_by_fold if by_fold else None,
                         oof_repeats=[oof[rows] for oof in result.oof_repeats],
                         fitted=result.fitted, fold_share=result.fold_share,
                         fitted_about={"competition": comp.name, "features_digest": self.features_digest()})

    def features_digest(self) -> str:
        """The digest of the feature matrices the models train on (the features stage's manifest)."""
        from core import io as _io
        from pipeline.artifacts import FEATURES_DIR, FEATURES_MANIFEST

        try:
            return str(_io.read_json(self.comp.runs / FEATURES_DIR / FEATURES_MANIFEST).get("digest", ""))
        except (OSError, ValueError):
            return ""

    def feature_info(self) -> dict:
        """What a run trained on, for its params.json: the feature blocks (`name(columns)`, as the features
        stage wrote them), the feature columns and the array inputs."""
        from pipeline.artifacts import feature_blocks

        X_train, _, arrays = self.features
        return {"blocks": feature_blocks(self.comp.runs), "columns": [str(c) for c in X_train.columns],
                "arrays": sorted(arrays)}

    def params_of(self, spec: dict) -> dict:
        """What identifies a model table's training in the registry: type, estimator, preprocessing,
        params, and the digest of the user code it runs (plug-in file, factory), when it runs any."""
        params = {k: spec.get(k) for k in ("type", "estimator", "preprocess", "params")}
        code = self.user_code(spec)
        return {**params, "code": code} if code else params

    def user_code(self, spec: dict) -> str:
        """Digest of the user code a model table runs ("" for none): the runner's rule (`model_code`)."""
        from core import fingerprint

        return model_code(self.comp, spec, fingerprint.shared())  # the process's fingerprints, remembered

    def params_hash(self, spec: dict) -> str:
        """The registry's short hash of `params_of(spec)` (RunRecord.params_hash)."""
        from core.io import hash_obj

        return hash_obj(self.params_of(spec))[:12]

    def record(self, name: str, spec: dict, result: Any, seconds: float, *, stage: str = "cv"):
        """The registry's RunRecord of a finished CV result."""
        from pipeline.run_registry import RunRecord

        comp, metric = self.comp, self.metric
        params = self.params_of(spec)
        return RunRecord(competition=comp.name, model=name, model_type=spec["type"], params=params,
                         metric=metric.name, greater_is_better=metric.greater_is_better, overall=result.overall,
                         fold_scores=list(result.fold_scores), fold_seconds=list(result.timings.get("folds", [])),
                         seconds=seconds, stage=stage, workspace=str(comp.workspace))

    def save_records(self, records: list, *, prefix: str = "[cv]", folder: Path | None = None) -> None:
        """Write a batch of RunRecords (the runs in `folder`/<model>, default runs/models/) to the run registry
        and, when `[tracking] mlflow_uri` is set, to MLflow; an unreachable registry or MLflow store costs
        a warning line, never the trained runs."""
        if not records:
            return
        from pipeline.run_registry import PENDING_DIR, record_runs
        from pipeline.tracking import mirror_runs

        folder = folder or self.comp.runs / "models"
        mirror_runs(self.comp, [(r, folder / r.model) for r in records], log=self.log, prefix=prefix)
        recorded, error = record_runs(self.comp.workspace, records)
        if error:  # the run folders are written; only the leaderboard misses them until the next run
            self.log(f"{prefix} warning: registry write skipped ({error}); {len(records)} run(s) kept in "
                     f"{self.comp.workspace / PENDING_DIR} and recorded by the next run that reaches the registry")
        elif recorded > len(records):
            self.log(f"{prefix} registry: also recorded {recorded - len(records)} run(s) an earlier run could not")


def model_code(comp: Competition, cfg: dict, code: "CodeFingerprints") -> str:
    """Digest of the user code a model table runs ("" for none): its plug-in file (competition/<name>/
    models/<type>.py) and every file an import path in it names (a net's `factory`, an `estimator`)
    inside the project, the workspace or the competition folder, with the project modules they import.
    Part of the cv unit's fingerprint and of the registry's params hash."""
    import sys

    files = []
    plugin = comp.root / "models" / f"{cfg.get('type', '')}.py"
    if isinstance(cfg, dict) and plugin.is_file():
        files.append(plugin)
    files += code.named_in(cfg, roots=[code.root, comp.workspace, comp.root],
                           search=[str(comp.root), str(comp.workspace), *sys.path])
    return code.files(files)
