"""The model run folder: one documented, portable layout written atomically.

    runs/models/<run>/oof.parquet    id + prediction columns, one row per train row
    runs/models/<run>/test.parquet   id + prediction columns, one row per test row
    runs/models/<run>/scores.json    {"metric", "greater_is_better", "folds": [...], "overall"}
    runs/models/<run>/params.json    model type and parameters; "features": the feature blocks and
                                     columns it trained on (read by `python -m pipeline diff`)
    runs/models/<run>/timings.json   seconds per fold and in total
    runs/models/<run>/oof_repeats.parquet  with cv.repeats > 1: id, repeat + each repeat's OOF columns
    runs/models/<run>/fitted/manifest.json  the fold models (runtime.save_models): per CV repeat, per
                                     fold its folder r<repeat>/f<fold>/ (each library's own files,
                                     models.persist), their SHA-256 digests, clip range and test weight
    (+ optional extra tables, e.g. feature_importance.csv)

The features stage's matrices, read by every model stage through `load_features`:

    runs/features/train.parquet, test.parquet    the tables (train.repeat<r>.parquet: CV repeat r's own)
    runs/features/<name>.train.npy, .test.npy     array inputs (token sequences, image grids)

Prediction columns (see core.tasks.TaskInfo.prediction_columns): "pred" for binary
(P(positive class)) and regression (target scale); one column per class label for multiclass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from core import io as _io
from core.tasks import TaskInfo

FEATURES_DIR = "features"  # under runs/: the features stage's output folder
FEATURES_MANIFEST = ".manifest.json"  # in FEATURES_DIR: the outputs' digest, files and the blocks that made them
# in FEATURES_DIR: the blocks' saved states (features.save_states; repeat 0's plan: the test side is the same for
# every CV repeat, supervised blocks' full-train fits included), read by `predict` through features.FrozenFeatures
FEATURE_STATES_DIR = "states"


@dataclass
class Run:
    """A model run loaded from its folder: predictions as arrays aligned with the id columns."""

    name: str
    path: Path
    oof_ids: np.ndarray
    oof: np.ndarray
    test_ids: np.ndarray
    test: np.ndarray
    scores: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    oof_repeats: list[np.ndarray] = field(default_factory=list)  # per CV repeat (aligned with oof_ids)

    def repeat_oof(self, repeat: int) -> np.ndarray:
        """OOF predictions of CV repeat `repeat` (a run of one repeat: its OOF, as repeat 0)."""
        return self.oof_repeats[repeat] if self.oof_repeats else self.oof

    @property
    def repeats(self) -> int:
        return max(1, len(self.oof_repeats))

    @property
    def overall(self) -> float:
        return float(self.scores["overall"])


def prediction_frame(id_col: str, ids, task: TaskInfo, pred: np.ndarray):
    """A DataFrame of ids plus prediction columns."""
    import pandas as pd

    data = {id_col: np.asarray(ids)}
    data.update(task.to_frame_values(pred))
    return pd.DataFrame(data)


def scores_record(metric, fold_scores: list[float], overall: float, **extra: Any) -> dict:
    """A run's scores.json: the metric, its direction, per-fold and overall scores (plus `extra`)."""
    return {"metric": metric.name, "greater_is_better": metric.greater_is_better,
            "folds": [float(s) for s in fold_scores], "overall": float(overall), **extra}


def by_column(scores: dict, targets: Iterable[str]) -> str:
    """A multi-target run's score per target column, in the `targets` order, for a log line (`toxic 0.9812,
    obscene 0.9903`); "" for a run of one target (its scores.json holds no `columns`)."""
    columns = scores.get("columns", {})
    return ", ".join(f"{t} {columns[t]:.4f}" for t in targets if t in columns)


def write_run(path: str | os.PathLike, *, id_col: str, task: TaskInfo, train_ids, oof: np.ndarray,
              test_ids, test: np.ndarray, scores: dict, params: dict, timings: dict,
              extra_tables: dict[str, Any] | None = None,
              test_by_fold: list[np.ndarray] | None = None, oof_repeats: list[np.ndarray] | None = None,
              fitted: list[list] | None = None, fold_share: list | None = None,
              fitted_about: dict | None = None, files: dict[str, bytes] | None = None) -> Path:
    """Write a complete run folder atomically; `extra_tables` maps file name -> DataFrame (CSV); `files`
    relative path -> bytes (an imported run's fold models and feature states, checked by the caller).

    `test_by_fold` (each fold model's test predictions) goes to test_by_fold.parquet with a `fold`
    column; pseudo-labelling reads it so that fold k's pseudo-labels come from fold k's model only.
    """
    path = Path(path)
    with _io.atomic_dir(path) as tmp:
        prediction_frame(id_col, train_ids, task, oof).to_parquet(tmp / "oof.parquet", index=False)
        prediction_frame(id_col, test_ids, task, test).to_parquet(tmp / "test.parquet", index=False)
        if test_by_fold:
            _stacked(id_col, test_ids, task, test_by_fold, "fold").to_parquet(tmp / "test_by_fold.parquet", index=False)
        if oof_repeats and len(oof_repeats) > 1:
            _stacked(id_col, train_ids, task, oof_repeats, "repeat").to_parquet(tmp / "oof_repeats.parquet",
                                                                                index=False)
        _io.write_json(tmp / "scores.json", scores)
        _io.write_json(tmp / "params.json", params)
        _io.write_json(tmp / "timings.json", timings)
        for name, frame in (extra_tables or {}).items():
            frame.to_csv(tmp / name, index=False)
        if fitted:
            write_fitted(tmp / FITTED_DIR, fitted, fold_share or [None] * len(fitted), fitted_about or {})
        for rel, content in (files or {}).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(content)
    return path


def run_model_type(params: dict) -> str:
    """The model type a run's params.json records ("" when none): a cv run's own, an imported run's as its
    exporter recorded it (under "params", once per export and import it went through)."""
    while isinstance(params, dict) and not params.get("type") and "imported" in params:
        params = params.get("params")
    return str(params.get("type", "")) if isinstance(params, dict) else ""


FITTED_DIR = "fitted"  # in a run folder: the fold models (manifest.json + r<repeat>/f<fold>/ files)


def write_fitted(folder: Path, fitted: list[list], fold_share: list, about: dict) -> dict:
    """Write the fold models (models._cv.FittedFold, per CV repeat) under `folder` (inside a run folder
    being written atomically) with a manifest of their files' SHA-256 digests and `about` (the
    competition and the digest of the features they were trained on); returns the manifest."""
    import hashlib

    repeats, total, unsaved = [], 0, None
    for r, folds in enumerate(fitted):
        entries = []
        for f in folds:
            if f.files is None:
                unsaved = unsaved or f.unsaved
                continue
            sub = f"r{r}/f{f.fold}"
            (folder / sub).mkdir(parents=True, exist_ok=True)
            digests = {}
            for fname, content in f.files.items():  # a name may hold folders ("estimator/model.json")
                (folder / sub / fname).parent.mkdir(parents=True, exist_ok=True)
                (folder / sub / fname).write_bytes(content)
                digests[fname] = hashlib.sha256(content).hexdigest()
                total += len(content)
            entries.append({"fold": f.fold, "dir": sub, "files": digests,
                            "clip": None if f.clip is None else [np.asarray(c, dtype=np.float64).tolist()
                                                                 for c in f.clip]})  # numbers, or lists per target
        repeats.append({"folds": entries, "share": fold_share[r] if r < len(fold_share) else None})
    manifest = {**about, "repeats": [] if unsaved else repeats, "bytes": total, "unsaved": unsaved}
    folder.mkdir(parents=True, exist_ok=True)
    _io.write_json(folder / "manifest.json", manifest)
    return manifest


def _stacked(id_col: str, ids, task: TaskInfo, preds: list[np.ndarray], key: str):
    """Several prediction sets for the same ids as one long frame: id, `key` (0, 1, ...), predictions."""
    import pandas as pd

    parts = []
    for k, pred in enumerate(preds):
        frame = prediction_frame(id_col, ids, task, pred)
        frame.insert(1, key, k)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def read_run(path: str | os.PathLike, *, id_col: str, task: TaskInfo) -> Run:
    """Load a run folder written by `write_run` (or imported from a teammate)."""
    import pandas as pd

    path = Path(path)
    oof = pd.read_parquet(path / "oof.parquet")
    test = pd.read_parquet(path / "test.parquet")
    params_path = path / "params.json"
    repeats = []
    if (path / "oof_repeats.parquet").is_file():  # written in oof.parquet's row order, repeat after repeat
        frame = pd.read_parquet(path / "oof_repeats.parquet")
        repeats = [task.from_frame(g.drop(columns="repeat")) for _, g in frame.groupby("repeat", sort=True)]
    return Run(
        name=path.name,
        path=path,
        oof_ids=oof[id_col].to_numpy(),
        oof=task.from_frame(oof),
        test_ids=test[id_col].to_numpy(),
        test=task.from_frame(test),
        scores=_io.read_json(path / "scores.json"),
        params=_io.read_json(params_path) if params_path.exists() else {},
        oof_repeats=repeats,
    )


def feature_blocks(runs: Path) -> list[str]:
    """The feature blocks (`name(columns)`) the features stage last wrote its matrices from; [] when unknown."""
    try:
        blocks = _io.read_json(Path(runs) / FEATURES_DIR / FEATURES_MANIFEST).get("blocks", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [str(b) for b in blocks] if isinstance(blocks, list) else []


def load_features(comp, repeat: int = 0) -> "tuple":
    """(X_train, X_test, arrays) written by the features stage; arrays maps name -> (train, test). CV
    repeat r > 0 has its own train matrix when supervised blocks made one (else repeat 0's)."""
    import pandas as pd

    out = comp.runs / FEATURES_DIR
    X_train = read_feature_table(out, repeat)
    X_test = pd.read_parquet(out / "test.parquet")
    arrays = {}
    for path in sorted(out.glob("*.train.npy")):
        name = path.name[: -len(".train.npy")]
        arrays[name] = (np.load(path), np.load(out / f"{name}.test.npy"))
    if arrays and not len(X_train.columns):  # only array inputs: a table without columns keeps no rows in
        first = next(iter(arrays.values()))  # parquet, so it gets back one (empty) row per array row
        X_train, X_test = (pd.DataFrame(index=pd.RangeIndex(len(a))) for a in first)
    return X_train, X_test, arrays


def read_feature_table(folder: Path, repeat: int = 0):
    """The train feature table of CV repeat `repeat` in a features folder (its own when supervised
    blocks made one, else repeat 0's)."""
    import pandas as pd

    folder = Path(folder)
    own = folder / f"train.repeat{repeat}.parquet"
    return pd.read_parquet(own if repeat and own.is_file() else folder / "train.parquet")
