"""The k-fold loop every model type shares: a fresh clone per fold, OOF and fold-averaged test predictions."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from core.folds import fold_ids as validated_fold_ids, train_mask, validated
# the fitting primitives live in models._fit (models._multi builds on them too); imported from here as before
from models._fit import (EARLY_STOPPING_FRACTION, MIN_EARLY_STOPPING_ROWS, _take, _with_arrays,  # noqa: F401
                         early_stopping_rows, fit_honest, fit_model, predict_model, takes_arrays, takes_sample_weight,
                         wants_validation)
from models._types import ModelContext, model_type
from core.errors import UserError, exception_line


@dataclass
class CVResult:
    """Out-of-fold predictions for every train row, fold-averaged test predictions, and scores."""

    oof: np.ndarray
    test: np.ndarray
    fold_scores: list[float]
    overall: float
    params: dict[str, Any]
    timings: dict[str, Any]
    test_by_fold: list[np.ndarray] = field(default_factory=list)
    extra_tables: dict[str, Any] = field(default_factory=dict)
    oof_repeats: list[np.ndarray] = field(default_factory=list)  # per CV repeat, when there are several
    # per CV repeat, per fold: the fitted model's files and how its predictions were finished
    # (`FittedFold`); empty when the models were not saved (train_cv(save_models=False))
    fitted: list[list["FittedFold"]] = field(default_factory=list)
    fold_share: list[list[float] | None] = field(default_factory=list)  # per repeat: test weight per fold

    def cap_note(self, name: str) -> str | None:
        """One line when most of the folds (every repeat's) ran into the cap on their training length while
        still improving on their inner split (the models' `capped_`), else None: one fold's luck is not
        worth a line. Alone the member may score better with a higher cap; the ensemble often does not."""
        capped, folds = int(self.params.get("capped_folds", 0)), len(self.fold_scores)
        if 2 * capped <= folds:
            return None
        return (f"[cv] note: {name}: still improving on its inner split when it reached {self.params['capped_at']} "
                f"in {capped} of {folds} folds; alone it may score better with a higher cap")


@dataclass
class FittedFold:
    """One fold's fitted model as portable files (`models.persist.model_files`; None with `unsaved`,
    the one line saying why it could not be saved) and the clip range its regression predictions were
    clipped to (in the metric's transformed space), so new rows are predicted exactly as the test rows."""

    fold: int
    files: dict[str, bytes] | None
    clip: tuple[float, float] | None = None
    unsaved: str | None = None


def average_repeats(results: list[CVResult], y: np.ndarray, metric, rows: np.ndarray | None = None,
                    sample_weight: np.ndarray | None = None) -> CVResult:
    """One result from the same model trained on several CV repeats (fold assignments): OOF and test
    predictions averaged (each repeat's OOF row still comes from models that never saw it), every
    repeat's fold scores, and the repeats' OOF kept for the ensemble, which is fitted per repeat.
    Test predictions per fold (pseudo-labelling's) and the extra tables are the first repeat's.
    `sample_weight` ([competition] weight, per row of y): the overall score is the weighted metric."""
    if len(results) == 1:
        return results[0]
    first = results[0]
    oof = np.mean([r.oof for r in results], axis=0)
    rows = np.ones(len(y), dtype=bool) if rows is None else rows
    timings = {"folds": [t for r in results for t in r.timings.get("folds", [])],
               "total": float(sum(r.timings.get("total", 0.0) for r in results)), "repeats": len(results)}
    params = {**first.params, "repeats": len(results)}
    capped = [r.params for r in results if r.params.get("capped_folds")]
    if capped:  # every repeat's folds count
        params["capped_folds"] = sum(p["capped_folds"] for p in capped)
        params["capped_at"] = capped[0]["capped_at"]
    return CVResult(oof, np.mean([r.test for r in results], axis=0), [s for r in results for s in r.fold_scores],
                    metric(y[rows], oof[rows], None if sample_weight is None else sample_weight[rows]),
                    params, timings,
                    first.test_by_fold, first.extra_tables, [r.oof for r in results],
                    [f for r in results for f in r.fitted], [f for r in results for f in r.fold_share])


@dataclass(frozen=True)
class FoldReport:
    """What `on_fold` callbacks receive after each fold: the scores so far and the fold's seconds."""

    model: str
    fold: int
    step: int  # 0 for the first fold trained, 1 for the second, ...
    score: float
    scores: tuple[float, ...]
    seconds: float


def unweighted_note(name: str, model: Any, sample_weight: np.ndarray | None) -> str | None:
    """The one line a model that takes no sample_weight prints when the competition has weights (it
    trains unweighted; its scores are still the weighted metric's), else None."""
    if sample_weight is None or takes_sample_weight(model):
        return None
    from models.sk import Preprocessed

    inner = model.estimator if isinstance(model, Preprocessed) else model  # the estimator, not its wrapper
    return (f"[cv] {name}: {type(inner).__name__}.fit takes no sample_weight; it trains unweighted "
            f"(competition.weight), its scores are still weighted")


def wanted_arrays(model: Any, arrays: dict | None) -> dict:
    """The array inputs (name -> (train, test)) `model` reads: none unless its fit names `arrays`;
    then those its optional `array_inputs({name: train array})` lists, else every one."""
    if not arrays or not takes_arrays(model):
        return {}
    pick = getattr(model, "array_inputs", None)
    names = list(arrays) if pick is None else list(pick({n: tr for n, (tr, _) in arrays.items()}))
    return {n: arrays[n] for n in names}


def _importance(model: Any, columns) -> np.ndarray | None:
    try:
        values = np.asarray(model.feature_importances_, dtype=np.float64)
    except AttributeError:
        return None
    names = getattr(model, "feature_names_out_", None)
    if names is None:
        names = getattr(model, "feature_names_in_", columns)
    return (np.asarray(names, dtype=object), values) if len(values) == len(names) else None


def _importance_table(parts: list) -> Any:
    import pandas as pd

    frames = [pd.Series(values, index=names, name=f"fold_{i}") for i, (names, values) in enumerate(parts)]
    table = pd.concat(frames, axis=1).fillna(0.0)
    table.insert(0, "importance", table.mean(axis=1))
    table = table.sort_values("importance", ascending=False)
    return table.rename_axis("feature").reset_index()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if callable(value) and not hasattr(value, "get_params"):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}"
    text = repr(value)
    return type(value).__name__ if " at 0x" in text else text


def _model_params(model: Any) -> dict:
    """The template's constructor parameters as JSON (a preprocessing wrapper's inner estimator's)."""
    from models.sk import Preprocessed

    if isinstance(model, Preprocessed):
        return {**_model_params(model.estimator), "preprocess": {"scale": model.scale,
                                                                 "max_categories": model.max_categories,
                                                                 "min_frequency": model.min_frequency,
                                                                 "splines": model.splines}}
    get = getattr(model, "get_params", None)
    return _jsonable(get(deep=False)) if get else {}


@dataclass(frozen=True)
class CVData:
    """What every fold of every model trained on one table reads: the feature matrices, the target, the
    folds, task, metric, array inputs and plug-in folder. An execution backend sends it to its workers
    once (not once per fold); `FoldTask`s are small and travel one per task."""

    X_train: Any
    y: np.ndarray
    X_test: Any
    folds: np.ndarray
    task: Any
    metric: Any
    arrays: dict | None = None
    plugin_dir: Path | None = None
    train_from: np.ndarray | None = None  # per row the first fold that may train on it (core.folds)
    sample_weight: np.ndarray | None = None  # per row ([competition] weight): fits that take it, and scores
    save_models: bool = False  # each fold's fitted model comes back as files (FoldResult.fitted)


@dataclass(frozen=True)
class FoldTask:
    """One fold of one model: the [models.NAME] table, the fold, the thread count of its fit, and the
    fold's extra training rows (pseudo-labels: (X, y) or (X, y, sample weights)), if any."""

    name: str
    spec: dict
    fold: int
    threads: int
    extra: tuple | None = None


@dataclass
class FoldResult:
    """What one fold's fit sends back: its validation and test predictions (n, outputs) in the target's
    scale, score, seconds, feature importance, best iteration, the rows trimming dropped, and the cap its
    training length ran into while still improving (e.g. "n_estimators = 1000"; the model's `capped_`)."""

    fold: int
    valid: np.ndarray
    test: np.ndarray
    score: float
    seconds: float
    importance: tuple | None = None
    best_iteration: int | None = None
    dropped: int = 0
    fitted: FittedFold | None = None
    capped: str | None = None


# map_folds(run_fold, data, tasks): run_fold(data, task) for each task, results in the tasks' order.
FoldMap = Callable[[Callable[[CVData, FoldTask], FoldResult], CVData, Iterable[FoldTask]], Iterable[FoldResult]]


def train_cv(name: str, spec: dict, X_train, y: np.ndarray, X_test, folds: np.ndarray, task, metric, *,
             threads: int = 1, arrays: dict | None = None, plugin_dir: Path | None = None,
             extra_rows: Callable[[int], tuple] | None = None, log: Callable[[str], None] = print,
             on_fold: Callable[[FoldReport], None] | None = None, map_folds: FoldMap | None = None,
             train_from: np.ndarray | None = None, sample_weight: np.ndarray | None = None,
             save_models: bool = False) -> CVResult:
    """Train `spec` (a [models.NAME] table) once per fold; predict the held-out fold and the test set.

    Each fold fits a fresh clone of the model on the other folds' rows -- with `train_from` (forward
    chaining) only the rows it admits to the fold, core.folds.train_mask; rows of fold -1 are never
    validated and keep a NaN OOF prediction -- (plus `extra_rows(k)` -> (X, y)
    or (X, y, sample weights), pseudo-labels for fold k's training set only; with weights, the fold's
    own rows weigh 1 and the fit gets `sample_weight`). `sample_weight` (per row of y, [competition]
    weight) reaches every fit that takes it (`takes_sample_weight`; a pseudo row then weighs its
    pseudo weight times the mean weight of the fold's own training rows) and every score, fold and
    overall, is the weighted metric; a model that takes none trains unweighted and says so in one
    line. `on_fold(FoldReport)` runs after each fold; an exception it raises (e.g.
    optuna.TrialPruned) stops the loop. The model fits the metric's target transform of y (rmsle:
    log1p) and its predictions are mapped back. `arrays` (name -> (train, test) array inputs) reach a
    model whose fit names `arrays`: fold k's model is fitted on its training rows' slices and
    predicts with its validation rows' slices and the test arrays.

    The folds are independent tasks (`run_fold`); `map_folds` (an execution backend's map, see
    `FoldMap`) may run them elsewhere, e.g. in worker processes. Without it they run here, one after
    another. Either way the results are combined in fold order, so the predictions are identical.

    `save_models`: every fold's fitted model comes back as portable files (`CVResult.fitted`,
    `models.persist`), so new rows can later be predicted as the test rows were (`predict_folds`)."""
    ctx = ModelContext(task, metric, threads, plugin_dir, arrays)
    template = model_type(name, spec, plugin_dir).build(name, spec, ctx)
    _check_target(y, task, metric)
    _check_weights(name, template, sample_weight, y, metric, log)
    fold_ids = validated_fold_ids(folds)
    if wanted_arrays(template, arrays) and extra_rows is not None:
        raise UserError(f"models.{name} reads array inputs ({', '.join(wanted_arrays(template, arrays))}), which "
                        f"pseudo-labelled rows do not carry yet; pseudo-label a model of the feature table")
    data = CVData(X_train, y, X_test, folds, task, metric, arrays, plugin_dir, train_from, sample_weight, save_models)
    tasks = (FoldTask(name, spec, int(k), threads, extra_rows(int(k)) if extra_rows is not None else None)
             for k in fold_ids)  # lazy: fold k's extra rows are built when its task is sent
    results = _run_tasks(data, tasks, {name: template}, log=log, map_folds=map_folds)
    try:
        return _combine(name, spec, template, data, fold_ids, results, log=log, on_fold=on_fold)
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # stopped early (on_fold raised): the backend drops the folds not yet run
            close()


def train_cv_many(specs: dict[str, dict], X_train, y: np.ndarray, X_test, folds: np.ndarray, task, metric, *,
                  threads: int = 1, arrays: dict | None = None, plugin_dir: Path | None = None,
                  log: Callable[[str], None] = print, map_folds: FoldMap | None = None,
                  train_from: np.ndarray | None = None,
                  sample_weight: np.ndarray | None = None,
                  save_models: bool = False) -> Iterator[tuple[str, CVResult]]:
    """`train_cv` for several model tables at once: their folds are one set of tasks (model x fold),
    so a backend's workers go from one model's folds to the next without waiting for a model's last
    fold. Yields (name, CVResult) in the tables' order as each model's folds are done; the results
    equal `train_cv`'s, one model at a time."""
    import itertools

    ctx = ModelContext(task, metric, threads, plugin_dir, arrays)
    templates = {name: model_type(name, spec, plugin_dir).build(name, spec, ctx) for name, spec in specs.items()}
    _check_target(y, task, metric)
    for name, template in templates.items():
        _check_weights(name, template, sample_weight, y, metric, log)
    fold_ids = validated_fold_ids(folds)
    data = CVData(X_train, y, X_test, folds, task, metric, arrays, plugin_dir, train_from, sample_weight, save_models)
    tasks = [FoldTask(name, spec, int(k), threads) for name, spec in specs.items() for k in fold_ids]
    results = _run_tasks(data, tasks, templates, log=log, map_folds=map_folds)
    stream = iter(results)
    try:
        for name, spec in specs.items():
            yield name, _combine(name, spec, templates[name], data, fold_ids,
                                 itertools.islice(stream, len(fold_ids)), log=log, on_fold=None)
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # a model failed or the caller stopped: the backend drops the rest
            close()


def _check_target(y: np.ndarray, task, metric) -> None:
    metric.check_target(y, classification=task.is_classification)


def _check_weights(name: str, template: Any, sample_weight: np.ndarray | None, y: np.ndarray, metric,
                   log: Callable[[str], None]) -> None:
    """Per-row weights: one per row of y, a metric that scores with them, and the one line of a model
    that trains without them."""
    if sample_weight is None:
        return
    if len(sample_weight) != len(y):
        raise ValueError(f"{len(sample_weight)} sample weights for {len(y)} rows")
    metric.check_weighted()
    note = unweighted_note(name, template, sample_weight)
    if note is not None:
        log(note)


def _run_tasks(data: CVData, tasks: Iterable[FoldTask], templates: dict[str, Any], *,
               log: Callable[[str], None], map_folds: FoldMap | None) -> Iterable[FoldResult]:
    """The tasks' results in order: here, one after another (with the models' templates), or through
    the backend's `map_folds`."""
    if map_folds is None:
        return (run_fold(data, t, template=templates[t.name], log=log) for t in tasks)
    return map_folds(run_fold, data, tasks)


def run_fold(data: CVData, task: FoldTask, *, template: Any = None,
             log: Callable[[str], None] | None = None) -> FoldResult:
    """Fit one fold's fresh clone and predict its validation rows and the test set (one task).

    `template` is the unfitted model built from the table; without it (in a worker process) it is built
    here from `task.spec`, so no estimator object, and no plug-in class, has to travel between processes."""
    import pandas as pd

    name, k, dtask, metric = task.name, task.fold, data.task, data.metric
    mtype = model_type(name, task.spec, data.plugin_dir)
    if template is None:
        template = mtype.build(name, task.spec, ModelContext(dtask, metric, task.threads, data.plugin_dir,
                                                             data.arrays))
    log = print if log is None else log
    transform = metric.target_transform if not dtask.is_classification else None
    y, folds, X_train, X_test = data.y, data.folds, data.X_train, data.X_test
    y_fit = transform.forward(y) if transform else y
    trim = float(task.spec.get("trim_outliers", 0.0) or 0.0)
    arrays = wanted_arrays(template, data.arrays)
    with contextlib.nullcontext() if mtype.own_threads else _thread_limits(task.threads):
        t0 = time.perf_counter()
        tr, va = train_mask(folds, k, data.train_from), folds == k
        # the fold's training rows are taken from X_train only where the fit needs them (no fold-sized
        # copy of the table besides those the model is given); pseudo rows are appended to a copy
        weights = data.sample_weight
        w_own = weights[tr].astype(np.float64) if weights is not None and takes_sample_weight(template) else None
        X_tr, rows, y_tr, w_tr = X_train, np.flatnonzero(tr), y_fit[tr], w_own
        if task.extra is not None:
            X_extra, y_extra, *w_extra = task.extra
            y_extra = transform.forward(y_extra) if transform else np.asarray(y_extra)
            # a pseudo row weighs its pseudo weight (1 without one) relative to an average own row
            scale = 1.0 if w_own is None else float(w_own.mean())
            if w_extra and w_extra[0] is not None:
                w_tr = np.concatenate([np.ones(len(y_tr)) if w_own is None else w_own,
                                       np.asarray(w_extra[0], dtype=np.float64) * scale])
            elif w_own is not None:
                w_tr = np.concatenate([w_own, np.full(len(y_extra), scale)])
            X_tr, rows = pd.concat([X_train[tr], X_extra], ignore_index=True), None
            y_tr = np.concatenate([y_tr, y_extra])
        a_tr, a_va = ({n: a[mask] for n, (a, _) in arrays.items()} for mask in (tr, va))
        a_te = {n: a for n, (_, a) in arrays.items()}
        low, high = _target_range(y_tr)  # the fold's training target range (per target column)
        progress = (lambda msg: log(f"[cv] {name} fold {k}: {msg}"))
        try:
            model, dropped = _fit_fold(template, X_tr, y_tr, dtask, n_own=int(tr.sum()), seed=int(k),
                                       trim=0.0 if dtask.is_classification else trim, log=progress,
                                       sample_weight=w_tr, arrays=a_tr, rows=rows)
        except UserError:
            raise
        except Exception as exc:
            _raise_if_bad_params(name, exc)
            _raise_if_plugin(name, mtype, exc, f"fold {k}'s fit")
            raise
        # a model should not predict far outside what it was trained on: linear models extrapolate
        # wildly on outlying rows; the range is the fold's own training rows
        clip = (low, high) if not dtask.is_classification and task.spec.get("clip", True) else None
        finish = dict(clip=clip, one_job=not mtype.own_threads)
        try:
            p_va = fold_predict(model, X_train[va], dtask, metric, arrays=a_va, **finish)
            p_te = fold_predict(model, X_test, dtask, metric, arrays=a_te, **finish)
        except UserError:
            raise
        except Exception as exc:
            _raise_if_plugin(name, mtype, exc, f"fold {k}'s predictions")
            raise
        if not (np.isfinite(p_va).all() and np.isfinite(p_te).all()):
            raise UserError(f"models.{name}: fold {k} predictions contain NaN or infinity; check the model")
        score = metric(y[va], dtask.squeeze(p_va), None if data.sample_weight is None else data.sample_weight[va])
        seconds = time.perf_counter() - t0
        imp = _importance(model, list(X_tr.columns) if hasattr(X_tr, "columns") else [])
        best = int(model.best_iteration_) if hasattr(model, "best_iteration_") else None
    fitted = _fitted(model, int(k), clip) if data.save_models else None
    return FoldResult(int(k), p_va, p_te, score, seconds, imp, best, dropped, fitted, getattr(model, "capped_", None))


def _target_range(y: np.ndarray) -> tuple:
    """(low, high) of a fold's training target: numbers for one target, per-column arrays for several."""
    y = np.asarray(y)
    if y.ndim == 1:
        return float(np.min(y)), float(np.max(y))
    return np.min(y, axis=0).astype(np.float64), np.max(y, axis=0).astype(np.float64)


def _fitted(model: Any, fold: int, clip: tuple[float, float] | None) -> FittedFold:
    """The fold's model as files (or the one line saying why it cannot be saved)."""
    from models.persist import NotSaveable, model_files

    try:  # written once: asking why_not_saveable first would serialise the model twice
        return FittedFold(fold, model_files(model), clip)
    except NotSaveable as exc:
        return FittedFold(fold, None, clip, str(exc))


def fold_predict(model: Any, X, task, metric, *, arrays: dict | None = None,
                 clip: tuple[float, float] | None = None, one_job: bool = True) -> np.ndarray:
    """A fold model's predictions (n, outputs) on the target's scale, finished as the CV loop finishes
    them: clipped to the fold's training range `clip` (in the metric's transformed space) and mapped
    back through the metric's target transform. The test rows of a run and new rows later
    (`predict_folds`) go through this one function, so they are predicted alike."""
    transform = metric.target_transform if not task.is_classification else None
    with _one_job() if one_job else contextlib.nullcontext():
        p = predict_model(model, X, task, needs_proba=metric.needs_proba, arrays=arrays).reshape(len(X), -1)
    if clip is not None:
        p = np.clip(p, clip[0], clip[1])
    if transform:
        p = transform.inverse(p)
    return p


def fold_share(folds: np.ndarray, fold_ids: list, train_from: np.ndarray | None) -> np.ndarray | None:
    """How the folds' test predictions are averaged: equally (None), or with forward chaining by each
    fold's training rows (the later folds have seen more of the past)."""
    if train_from is None:
        return None
    share = np.array([train_mask(folds, k, train_from).sum() for k in fold_ids], dtype=np.float64)
    return share / share.sum()


def add_fold(total: np.ndarray, pred: np.ndarray, step: int, n_folds: int, share: np.ndarray | None) -> np.ndarray:
    """Add one fold's test predictions to the running average (in place; the one rule for runs and `predict`)."""
    total += pred / n_folds if share is None else pred * share[step]
    return total


def predict_folds(models: list[Any], clips: list, X, task, metric, *, share: np.ndarray | None = None,
                  arrays: dict | None = None, one_job: bool = True) -> np.ndarray:
    """One CV repeat's fold models applied to new rows and averaged as the run averaged its test
    predictions (squeezed: binary and regression 1-D)."""
    total = np.zeros((len(X), task.n_outputs))
    for step, (model, clip) in enumerate(zip(models, clips)):
        add_fold(total, fold_predict(model, X, task, metric, arrays=arrays, clip=clip, one_job=one_job),
                 step, len(models), share)
    return task.squeeze(total)


def _combine(name: str, spec: dict, template: Any, data: CVData, fold_ids: list, results: Iterable[FoldResult], *,
             log: Callable[[str], None], on_fold: Callable[[FoldReport], None] | None) -> CVResult:
    """Assemble the folds' results, in fold order, into OOF and fold-averaged test predictions."""
    task, metric, y, folds = data.task, data.metric, data.y, data.folds
    n_out = task.n_outputs
    oof = np.full((len(y), n_out), np.nan)
    test = np.zeros((len(data.X_test), n_out))
    fold_scores: list[float] = []
    fold_times: list[float] = []
    test_by_fold: list[np.ndarray] = []
    importances, best_iterations, trimmed, capped = [], [], [], []
    trim = float(spec.get("trim_outliers", 0.0) or 0.0)
    # the folds' test predictions are averaged; forward chaining weighs them by training rows (the
    # later folds have seen more of the past)
    share = fold_share(folds, fold_ids, data.train_from)
    fitted: list[FittedFold] = []
    for step, (k, res) in enumerate(zip(fold_ids, results)):
        oof[folds == k] = res.valid
        add_fold(test, res.test, step, len(fold_ids), share)
        if res.fitted is not None:
            fitted.append(res.fitted)
        test_by_fold.append(task.squeeze(res.test))
        fold_scores.append(res.score)
        fold_times.append(res.seconds)
        if trim:
            trimmed.append(res.dropped)
        if res.importance is not None:
            importances.append(res.importance)
        if res.best_iteration is not None:
            best_iterations.append(res.best_iteration)
        if res.capped:
            capped.append(res.capped)
        note = f", {res.dropped} outlying training rows dropped" if res.dropped else ""
        log(f"[cv] {name} fold {k}: {metric.name} {res.score:.5f} ({res.seconds:.1f}s{note})")
        if on_fold is not None:
            on_fold(FoldReport(name, int(k), step, res.score, tuple(fold_scores), res.seconds))
    rows = validated(folds)
    if np.isnan(oof[rows]).any():
        raise UserError(f"models.{name}: some train rows have no fold; re-run the folds stage")
    undefined = int(np.sum(~np.isfinite(fold_scores)))
    if undefined:  # e.g. AUC on a fold of one class: the overall score (all OOF rows) is still defined
        log(f"[cv] warning: {name}: {metric.name} is undefined on {undefined} of {len(fold_scores)} folds (a fold "
            f"holding a single class, or too few rows); the overall score uses every row -- use fewer folds or "
            f"scheme = 'stratified'")
    oof_out, test_out = task.squeeze(oof), task.squeeze(test)
    params = {"type": spec["type"], "estimator": spec.get("estimator", ""),
              "preprocess": spec.get("preprocess", "auto"), "params": _model_params(template)}
    if best_iterations:
        params["best_iterations"] = best_iterations
    if trimmed:
        params["trimmed_rows"] = trimmed
    if capped:
        params["capped_folds"], params["capped_at"] = len(capped), capped[0]
    extra = {"feature_importance.csv": _importance_table(importances)} if importances else {}
    if data.sample_weight is not None:
        params["sample_weight"] = takes_sample_weight(template)  # whether the fits were weighted
    overall = metric(y[rows], oof_out[rows], None if data.sample_weight is None else data.sample_weight[rows])
    if not np.isfinite(overall):  # its predictions are finite (each fold's are checked): the metric gave none
        raise UserError(f"models.{name}: {metric.name} of its OOF predictions is {overall}, so no model or blend "
                        f"can be chosen by it; " + (f"metric {metric.name!r} ({metric.source}) must return a "
                                                   f"finite number" if metric.source else
                                                   "check the target holds more than one value"))
    unsaved = next((f.unsaved for f in fitted if f.unsaved), None)
    if unsaved:
        log(f"[cv] {name}: fold models not saved ({unsaved}); `predict` cannot apply this model to new rows")
    return CVResult(oof_out, test_out, fold_scores, overall, params,
                    {"folds": fold_times, "total": float(sum(fold_times))}, test_by_fold, extra, [],
                    [fitted] if fitted else [], [None if share is None else [float(x) for x in share]] if fitted else [])


def _fit_fold(template: Any, X_tr, y_tr: np.ndarray, task, *, n_own: int, seed: int, trim: float,
              log: Callable[[str], None], sample_weight: np.ndarray | None = None,
              arrays: dict | None = None, rows: np.ndarray | None = None) -> tuple[Any, int]:
    """A fresh clone fitted on the fold's training rows (the first `n_own` are the fold's own, any after
    them pseudo-labelled; with `rows`, the training rows are those rows of X_tr), and how many rows
    trimming dropped: with `trim`, it is refitted without the rows whose residual exceeds `trim`
    robust standard deviations."""
    from sklearn.base import clone

    model = clone(template, safe=False)
    fit_honest(model, X_tr, y_tr, task, n_own=n_own, seed=seed, log=log, sample_weight=sample_weight,
               arrays=arrays, rows=rows)
    if not trim:
        return model, 0
    X_tr = X_tr if rows is None else _take(X_tr, rows)
    n = len(y_tr)  # one column per target of a multiregression (predict_model gives its values flat)
    keep = inliers(y_tr.reshape(n, -1) - predict_model(model, X_tr, task, arrays=arrays).reshape(n, -1), trim)
    if keep.all():
        return model, 0
    rows = np.flatnonzero(keep)
    X_kept = _take(X_tr, rows)
    model = clone(template, safe=False)
    fit_honest(model, X_kept, y_tr[rows], task, n_own=int((rows < n_own).sum()), seed=seed, log=log,
               sample_weight=None if sample_weight is None else sample_weight[rows],
               arrays={n: a[rows] for n, a in (arrays or {}).items()})
    return model, int(len(y_tr) - len(rows))


def inliers(residuals: np.ndarray, k: float) -> np.ndarray:
    """Rows whose residual lies within k robust standard deviations (1.4826 x MAD) of the median one; with
    several target columns (multiregression), in every column, each against its own spread."""
    r = np.asarray(residuals, dtype=np.float64).reshape(len(residuals), -1)
    centre = np.median(r, axis=0)
    sigma = 1.4826 * np.median(np.abs(r - centre), axis=0)
    spread = sigma > 0  # a column without spread has no outliers
    return (np.abs(r[:, spread] - centre[spread]) <= k * sigma[spread]).all(axis=1)


@contextlib.contextmanager
def _thread_limits(threads: int):
    """Cap joblib workers (n_jobs=None in scikit-learn) and BLAS/OpenMP pools at `threads` (~5 ms to enter).
    joblib runs threads inside a fit: LogisticRegression prefers processes, and starting them took
    1.3 s of titanic's 1.5 s of five folds."""
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    with parallel_config(backend="threading", n_jobs=threads), threadpool_limits(limits=threads):
        yield


def _one_job():
    """Predict in one joblib job: a scikit-learn forest's threads add their trees' predictions in the
    order they finish, so the same model's predictions would differ in the last bits from run to run."""
    from joblib import parallel_config

    return parallel_config(n_jobs=1)


# what numpy, scikit-learn and pandas say when a model takes the feature table's categorical columns for numbers
_TEXT_AS_NUMBER = ("could not convert string to float", "Cannot cast str dtype to float",
                   "Cannot cast object dtype to float")


def _raise_if_plugin(name: str, mtype, exc: Exception, what: str) -> None:
    """A plug-in model's failure is its author's code: one line naming the model (exit 2), not an internal
    error to report; a built-in's stays one."""
    if mtype.plugin:
        fix = ("fix the model, or set preprocess = \"impute\" to give it numeric arrays (by default it gets the "
               "feature table, categorical columns included)" if any(m in str(exc) for m in _TEXT_AS_NUMBER)
               else "fix the model")
        raise UserError(f"models.{name} ({mtype.doc}): {what} failed ({exception_line(exc)}); {fix} "
                        f"(--debug for the traceback)") from exc


def _raise_if_bad_params(name: str, exc: Exception) -> None:
    """Turn a library's rejection of a parameter value into a one-line UserError."""
    kinds = []
    try:
        from sklearn.utils._param_validation import InvalidParameterError

        kinds.append(InvalidParameterError)
    except ImportError:  # pragma: no cover - older scikit-learn
        pass
    try:
        from lightgbm.basic import LightGBMError

        kinds.append(LightGBMError)
    except ImportError:  # pragma: no cover
        pass
    import sys

    # CatBoost's and XGBoost's errors, if the library is loaded at all (else the error cannot be theirs)
    for module, attr in (("catboost", "CatBoostError"), ("xgboost.core", "XGBoostError")):
        kind = getattr(sys.modules.get(module), attr, None)
        if kind is not None:
            kinds.append(kind)
    if kinds and isinstance(exc, tuple(kinds)):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"models.{name}.params: {_plain(first)}") from None


def _plain(message: str) -> str:
    """A native library's check as a sentence: LightGBM's "Check failed: (num_leaves) > (1) at
    /path/config_auto.cpp, line 352 ." -> "num_leaves must be > 1" (no source paths, CatBoost's and
    XGBoost's source-path prefixes dropped too)."""
    import re

    message = re.sub(r"\s+at \S+\.(?:cpp|cc|h|hpp), line \d+\s*\.?", "", message).strip()
    # CatBoost's "catboost/.../json_helper.h:41: ...", XGBoost's "[09:04:45] /path/learner.cc:782: ..."
    message = re.sub(r"^(?:\[[\d:]+\]\s+)?\S+\.(?:cpp|cc|h|hpp|cu):\d+:\s*", "", message).strip()
    check = re.fullmatch(r"Check failed: \((\w+)\) (\S+) \(([^)]*)\)", message)
    if check:
        key, op, bound = check.groups()
        return f"{key} must be {op} {bound}; fix its value"
    return message
