"""Pseudo stage: retrain models with test rows labelled by models that never saw the fold scored.

For each pseudo-trained model (`pseudo.models`, or the `top_k` best by CV), fold k's model is
retrained on the other folds' rows plus test rows labelled for fold k, and scored on fold k's rows
as in the cv stage. Rounds repeat this, each labelling with the previous round's fold models, while
the CV score improves by more than `tolerance` (at most `rounds`); the best round is kept as
`runs/pseudo/<model>-pseudo/` (the run-folder layout, each fold model's test predictions included),
recorded in the registry, and joins the ensemble like any run. Each round's CV score, rows added
per fold and label distribution are in that run's params.json under "pseudo" -> "rounds".

Which test rows get a label, and what label, is a selection mode, and who labels is a label source
(both registries in `pipeline/pseudo_labels.py`).

The leak guard -- the rule: a row of fold k is never scored by a model whose pseudo-labels were
produced with fold k's labels. Fold k's labels, and the choice of which test rows get one, are made
only from
  1. fold k's models: the per-fold test predictions (`test_by_fold.parquet`) of the runs in the
     pool, each trained without fold k's rows -- never a run's fold-averaged test predictions, to
     which the other folds' models (trained on fold k's rows) contribute. The regression agreement
     is measured between the pool's fold-k models too, not between one run's fold models;
  2. for `labels = "ensemble"`, blend weights fitted on the other folds' OOF rows only. The
     ensemble stage's own weights are fitted on every OOF row, fold k's included: a member that
     happens to be right on fold k's rows (a teammate's run trained on all rows, a lucky model) gets
     weight because of fold k's labels, and labels blended with those weights carry fold k's labels
     into fold k's training set. The ensemble stage's output is therefore never a label source, and
     neither is an imported run (it has no per-fold test predictions);
  3. the class shares of the other folds' rows (`top`);
and round r's pool holds round r-1's fold models, made under the same rule (by induction).
What the rule leaves, knowingly: the OOF predictions the blend weights are fitted on come from
models that trained on fold k (fold j's model saw every fold but j), so fold k's labels reach the
weights as training rows of the members weighed, never as the targets the weights are fitted to --
the convention of the ensemble stage's cross-fitted honest scores. And a LightGBM fold model stops
early on its validation fold (README), in the pseudo run as in the cv run it is compared with.
"""

from __future__ import annotations

import functools
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.errors import UserError, did_you_mean
from pipeline.context import StageContext
from pipeline.pseudo_labels import (SELECTIONS, SOURCES, Candidates, FoldRun, Labels, Selection, Source,
                                    label_summary, selection_for, training_rows)

PSEUDO_DIR = "pseudo"


# ---- the rounds ------------------------------------------------------------------------------------
@dataclass
class Round:
    """One round of one model: its CV result, rows labelled per fold, label distribution, source notes."""

    number: int
    result: Any  # models.CVResult
    rows_per_fold: list[int]
    labels: dict
    notes: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {"round": self.number, "overall": float(self.result.overall),
                "folds": [float(s) for s in self.result.fold_scores], "rows_per_fold": self.rows_per_fold,
                "labels": self.labels, **({"weights_by_fold": self.notes} if self.notes else {})}


def fold_labels(pool: dict[str, FoldRun], model: str, k: int, *, training, selection: Selection,
                source: Source, threshold: float, fraction: float) -> tuple[Labels, dict]:
    """Fold k's pseudo-labels for `model`, made only as the module docstring's rule allows."""
    task, metric, y, folds = training.task, training.metric, training.y, training.folds
    pred, notes = source.labels(pool, model, k, y, folds, metric)
    spread = None
    if not task.is_classification and len(pool) > 1:  # disagreement of the pool's fold-k models
        tf = metric.target_transform
        stack = np.stack([tf.forward(np.clip(r.by_fold[k], 0, None)) if tf else r.by_fold[k]
                          for r in pool.values()])
        spread = stack.std(axis=0)
        if spread.ndim == 2:  # multiregression: each column's in its own scale (the other folds' spread), averaged
            scale = np.asarray(tf.forward(np.clip(y[folds != k], 0, None)) if tf else y[folds != k]).std(axis=0)
            spread = (spread / np.where(scale > 0, scale, 1.0)).mean(axis=1)
    prior = None
    if task.is_classification and not task.kind.multi_target:
        prior = np.bincount(y[folds != k], minlength=task.n_classes) / float((folds != k).sum())
    return selection.select(Candidates(pred, spread, prior, task, threshold, fraction)), notes


def pseudo_rounds(training, pool: dict[str, FoldRun], model: str, spec: dict, *, selection: Selection,
                  source: Source, threshold: float, fraction: float, weight: float, rounds: int,
                  tolerance: float, log: Callable[[str], None] = print) -> list[Round]:
    """Train `model` with pseudo-labels round after round, while the CV score improves by more than
    `tolerance` (round 0: its cv run in `pool`), at most `rounds`; returns the rounds trained."""
    metric = training.metric
    X_test = training.features[1]
    fold_ids = sorted(int(k) for k in np.unique(training.folds))
    pool = dict(pool)
    previous = pool[model].overall
    done: list[Round] = []
    for number in range(1, rounds + 1):
        labels, notes = {}, {}
        for k in fold_ids:
            labels[k], note = fold_labels(pool, model, k, training=training, selection=selection,
                                          source=source, threshold=threshold, fraction=fraction)
            if note:
                notes[str(k)] = note
        counts = [len(labels[k].rows) for k in fold_ids]
        if not any(counts):
            log(f"[pseudo] {model} round {number}: no test row qualifies in any fold "
                f"(selection {selection.name}); stopping")
            break
        summary = label_summary(labels, training.task)
        log(f"[pseudo] {model} round {number}: {selection.name} labels from {source.name}, test rows per fold "
            f"{counts}, labels {summary}")
        result = training.train_cv(f"{model}-pseudo", spec, extra_rows=lambda k, labels=labels: training_rows(
            X_test, labels[k], weight=weight))
        done.append(Round(number, result, counts, summary, notes))
        gain = metric.sign * (result.overall - previous)
        log(f"[pseudo] {model}-pseudo round {number}: {metric.name} {result.overall:.5f} "
            f"(before {previous:.5f}: {abs(gain):.5f} {'better' if gain > 0 else 'worse' if gain else 'same'})")
        if not gain > tolerance:
            break
        previous = result.overall
        pool[model] = FoldRun(model, result.oof, dict(zip(fold_ids, result.test_by_fold)), result.overall)
    return done


# ---- the stage -------------------------------------------------------------------------------------
def load_pool(ctx: StageContext, training) -> dict[str, FoldRun]:
    """The cv runs with their per-fold test predictions, aligned with train.csv's and test.csv's rows, each
    scored on CV repeat 0, the folds a pseudo run trains on (a run of two repeats averages its OOF predictions
    over both, which scores better than one repeat does: the rounds would count that as pseudo-labels' loss)."""
    import pandas as pd

    from pipeline.artifacts import read_run

    comp, task = ctx.comp, training.task
    pool = {}
    for name in ctx.state.get("cv", {}).get("units", {}):
        path = comp.runs / "models" / name
        if name not in comp.models or not (path / "oof.parquet").exists():
            continue
        by_fold_path = path / "test_by_fold.parquet"
        if not by_fold_path.exists():
            raise UserError(f"{by_fold_path}: per-fold test predictions missing; re-run cv with --force")
        run = read_run(path, id_col=comp.id_col, task=task)
        oof = run.repeat_oof(0)[pd.Index(run.oof_ids).get_indexer(training.train[comp.id_col])]  # repeat 0: its folds
        by_fold = {}
        for k, g in pd.read_parquet(by_fold_path).groupby("fold"):
            pos = pd.Index(g[comp.id_col]).get_indexer(training.test[comp.id_col])
            if (pos < 0).any():
                raise UserError(f"{by_fold_path}: fold {k} lacks {int((pos < 0).sum())} test id(s); "
                                f"re-run cv with --force")
            by_fold[int(k)] = task.from_frame(g.iloc[pos])
        pool[name] = FoldRun(name, oof, by_fold, run.overall if run.repeats == 1 else
                             training.metric(training.y, oof, training.sample_weight))
    return pool


def takes_sample_weight(training, name: str) -> bool:
    """Whether [models.NAME]'s estimator's fit takes sample_weight (weighted and soft pseudo rows; a
    scikit-learn model through its preprocessing when the estimator's fit takes it)."""
    from models import ModelContext, build_model, takes_sample_weight as takes

    ctx = ModelContext(training.task, training.metric, 1, training.plugin_dir, training.features[2])
    return takes(build_model(name, training.comp.models[name], ctx))


def reads_arrays(training, name: str) -> list[str]:
    """The array inputs (an image, token sequences) [models.NAME]'s estimator reads: pseudo-labelled rows
    carry only the feature table's columns, so such a model cannot be pseudo-trained."""
    from models import ModelContext, build_model, wanted_arrays

    arrays = training.features[2]
    ctx = ModelContext(training.task, training.metric, 1, training.plugin_dir, arrays)
    return list(wanted_arrays(build_model(name, training.comp.models[name], ctx), arrays))


def chosen_models(cfg: dict, pool: dict[str, FoldRun], metric, *, weighted: bool = False,
                  takes_weight: Callable[[str], bool] = lambda name: True,
                  arrays_of: Callable[[str], list[str]] = lambda name: [],
                  log: Callable[[str], None] = print) -> list[str]:
    """pseudo.models, or the top_k cv runs by CV score, of the models that read no array inputs
    (`arrays_of`); with `weighted` rows (soft labels, a weight other than 1), only models whose fit takes
    sample weights. A named model that does not qualify is an error; the automatic choice passes over it
    (on an image set the DenseNet is the best member, and the models of the feature table qualify)."""
    if not pool:
        raise UserError("pseudo-labelling needs at least one model run; run the cv stage first")
    for name in cfg["models"]:
        if name not in pool:
            raise UserError(f"pseudo.models names {name!r}, which has no cv run{did_you_mean(str(name), tuple(pool))}"
                            f"; run `pipeline run --stage cv` or choose one of {', '.join(pool)}")
        if arrays_of(name):
            raise UserError(f"pseudo.models names {name!r}, which reads array inputs ({', '.join(arrays_of(name))}) "
                            f"that pseudo-labelled rows do not carry; pseudo-train a model of the feature table")
        if weighted and not takes_weight(name):
            raise UserError(f"pseudo.models names {name!r}, whose fit takes no sample_weight, which soft labels "
                            f"and pseudo.weight != 1 need; use selection = 'threshold' or 'top' with weight = 1, "
                            f"or pseudo-train a model that takes it (lightgbm)")
    if cfg["models"]:
        return list(cfg["models"])
    ranked = sorted(pool, key=lambda n: -metric.sign * pool[n].overall)
    on_arrays = [n for n in ranked if arrays_of(n)]
    if on_arrays:
        log(f"[pseudo] passing over {', '.join(on_arrays)}: reads array inputs, which pseudo-labelled rows do "
            f"not carry")
        ranked = [n for n in ranked if n not in on_arrays]
        if not ranked:
            raise UserError("every cv model reads array inputs, which pseudo-labelled rows do not carry; add a model "
                            "of the feature table (lightgbm) or set pseudo.enabled = false")
    if weighted:
        skipped = [n for n in ranked if not takes_weight(n)]
        ranked = [n for n in ranked if n not in skipped]
        if skipped:
            log(f"[pseudo] passing over {', '.join(skipped)}: fit takes no sample_weight, which soft labels "
                f"and pseudo.weight != 1 need")
        if not ranked:
            raise UserError("no cv model's fit takes sample_weight, which soft labels and pseudo.weight != 1 "
                            "need; use selection = 'threshold' or 'top' with weight = 1, or add a lightgbm model")
    return ranked[: cfg["top_k"]]


def run(ctx: StageContext) -> list[Path]:
    from models import soft_label_spec

    cfg = ctx.cfg["pseudo"]
    if not cfg["enabled"]:
        return []
    training = ctx.training()
    comp, metric = ctx.comp, training.metric
    pinned = None if cfg["selection"] == "auto" else SELECTIONS[cfg["selection"]]
    source = SOURCES[cfg["labels"]]
    pool = load_pool(ctx, training)
    takes_weight = functools.cache(lambda name: takes_sample_weight(training, name))
    names = chosen_models(cfg, pool, metric, weighted=bool(pinned and pinned.weighted) or cfg["weight"] != 1.0,
                          takes_weight=takes_weight, log=ctx.log,
                          arrays_of=functools.cache(lambda name: reads_arrays(training, name)))
    paths: list[Path] = []
    records = []
    try:
        for name in names:
            t0 = time.perf_counter()
            selection = pinned or selection_for("auto", training.task.kind, takes_weight=takes_weight(name))
            spec = soft_label_spec(comp.models[name]) if selection.weighted else comp.models[name]
            rounds = pseudo_rounds(training, pool, name, spec, selection=selection, source=source,
                                   threshold=cfg["threshold"], fraction=cfg["fraction"], weight=cfg["weight"],
                                   rounds=cfg["rounds"], tolerance=cfg["tolerance"], log=ctx.log)
            if not rounds:
                continue
            best = max(rounds, key=lambda r: metric.sign * r.result.overall)
            result = best.result
            ctx.log(f"[pseudo] {name}-pseudo: kept round {best.number} of {len(rounds)}, {metric.name} "
                    f"{result.overall:.5f} (cv run on the same folds {pool[name].overall:.5f})")
            settings = {**cfg, "selection": selection.name, "source": name, "round": best.number,
                        "rows_per_fold": best.rows_per_fold, "rounds": [r.record() for r in rounds]}
            path = training.write(comp.runs / PSEUDO_DIR / f"{name}-pseudo", result,
                                  params={**result.params, "pseudo": settings})
            paths += [path / f for f in ("oof.parquet", "test.parquet", "test_by_fold.parquet", "scores.json",
                                         "params.json")]
            records.append(training.record(f"{name}-pseudo", spec, result,
                                           time.perf_counter() - t0, stage="pseudo"))
    finally:  # runs that finished are recorded even when a later model fails
        training.save_records(records, prefix="[pseudo]", folder=comp.runs / PSEUDO_DIR)
    kept = {p.parent.name for p in paths}
    root = comp.runs / PSEUDO_DIR
    if root.is_dir():  # runs of models no longer pseudo-trained
        for old in root.iterdir():
            if old.is_dir() and not old.name.startswith(".") and old.name not in kept:
                shutil.rmtree(old, ignore_errors=True)
    return paths

