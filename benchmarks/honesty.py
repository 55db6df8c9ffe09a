"""Honesty of the CV score: each set's OOF score next to its test score, and the gap between them.

    python benchmarks/honesty.py                      # the six dev sets + titanic with 200 folds
    python benchmarks/honesty.py --sets titanic hpc   # some sets
    python benchmarks/honesty.py --no-many-folds      # skip the 200-fold titanic row

For each set a temporary workspace gets the configuration `init` writes (default model: LightGBM),
the pipeline trains it under k-fold CV, and the script prints its OOF score (what the pipeline
reports), its test score (fold models' averaged test predictions against solution.csv, which the
pipeline never reads) and the optimism: how much better the OOF score looks than the test score
(OOF - test for higher-is-better metrics, test - OOF for losses; positive = the CV flatters). An
honest CV has optimism near zero on average, positive and negative from set to set (an 80/20 split
of a few thousand rows is itself noisy). A leak shows as optimism that grows with the number of
folds: each fold's validation rows shrink, and a model that picks its rounds on them fits their noise.
"""

from __future__ import annotations

import argparse
import shutil
import warnings
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import core  # noqa: E402,F401  (sets the OpenMP wait policy before LightGBM loads)

DATA = REPO / "benchmarks" / "data"
SETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")


def _workspace(root: Path, name: str, n_splits: int | None) -> None:
    from pipeline.init_competition import _read, infer, render_config

    dest = root / "competition" / name
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / name / f, dest / f)
    frames = [_read(dest / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]
    config = render_config(infer(*frames), {})
    if n_splits is not None:  # plain k-fold, so that every fold holds a few rows of each class
        config = config.replace("[cv]", f'[cv]\nscheme = "kfold"\nn_splits = {n_splits}', 1)
    (dest / "competition.toml").write_text(config)


def bench(name: str, root: Path, n_splits: int | None = None) -> dict:
    """Train the default model on one set; its OOF score, test score and optimism."""
    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace

    _workspace(root, name, n_splits)
    comp = Workspace(root).competition(name)
    t0 = time.perf_counter()
    Runner(build_pipeline(), comp, log=lambda m: None).run("cv")
    seconds = time.perf_counter() - t0
    run = comp.runs / "models" / "lgbm"
    train = pd.read_csv(comp.train_path, usecols=[comp.target])
    task = TaskInfo.from_target(comp.task, train[comp.target])
    metric = get_metric(comp.metric_name, comp.root)
    oof = pd.read_json(run / "scores.json", typ="series")["overall"]
    test = pd.read_parquet(run / "test.parquet")
    sol = pd.read_csv(DATA / name / "solution.csv")
    pred = task.from_frame(test.set_index(comp.id_col).loc[sol[comp.id_col]])
    score = metric(task.encode(sol[comp.target]), pred)
    optimism = (oof - score) if metric.greater_is_better else (score - oof)
    return {"set": name if n_splits is None else f"{name} ({n_splits} folds)", "metric": metric.name,
            "oof": float(oof), "test": float(score), "optimism": float(optimism), "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--many-folds", type=int, default=200,
                   help="also titanic under plain k-fold with this many folds (0 = skip)")
    p.add_argument("--no-many-folds", dest="many_folds", action="store_const", const=0)
    args = p.parse_args()
    warnings.simplefilter("ignore")  # a 5-row fold with one class has no AUC: sklearn warns, the overall score stands
    runs = [(s, None) for s in args.sets] + ([("titanic", args.many_folds)] if args.many_folds else [])
    rows = []
    print(f"{'set':<22} {'metric':<9} {'OOF':>9} {'test':>9} {'optimism':>9} {'s':>6}", flush=True)
    for name, n_splits in runs:
        with tempfile.TemporaryDirectory(prefix="honesty-") as tmp:
            (Path(tmp) / "competition").mkdir()
            row = bench(name, Path(tmp), n_splits)
        rows.append(row)
        print(f"{row['set']:<22} {row['metric']:<9} {row['oof']:>9.5f} {row['test']:>9.5f} "
              f"{row['optimism']:>+9.5f} {row['seconds']:>6.1f}", flush=True)
    plain = [r["optimism"] for r, (_, n) in zip(rows, runs) if n is None]
    if plain:
        print(f"mean optimism over the {len(plain)} default runs: {np.mean(plain):+.5f} "
              f"(mean |optimism| {np.mean(np.abs(plain)):.5f})")


if __name__ == "__main__":
    main()
