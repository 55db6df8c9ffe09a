"""Snapshot ensembles: M snapshots of one training run vs one net vs M independently trained nets.

    python benchmarks/snapshot.py                      # titanic, ames_clean
    python benchmarks/snapshot.py --sets hpc --m 5

For each set, the pipeline's folds and default feature blocks are built in a temporary workspace;
then the `mlp` model is trained under the same 5-fold CV four ways, all with the same number of
epochs per net (`epochs`, split into `cycles` equal cycles):
  one net         one cosine cycle over all epochs (the usual schedule), seed 0
  last snapshot   M cosine cycles, only the weights at the end of the last cycle
  snapshots       M cosine cycles, the M end-of-cycle weights averaged (same training run)
  independent     M nets, one cycle each, seeds 0..M-1, averaged (M times the training)
It prints OOF and test scores (test against solution.csv) and the training seconds of each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pipeline  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
from benchmarks.ensemble import _test_score, _workspace  # noqa: E402
from pipeline.context import CompetitionContext, StageContext
from pipeline.runner import Runner  # noqa: E402
from pipeline.stages import build_pipeline  # noqa: E402
from pipeline.artifacts import load_features  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402

SETS = ("titanic", "ames_clean")


def bench(name: str, root: Path, m: int, epochs: int) -> None:
    from models import train_cv

    _workspace(root, name)
    comp = Workspace(root).competition(name)
    pipe = build_pipeline()
    runner = Runner(pipe, comp, log=lambda msg: None)
    runner.run("features")
    ctx = StageContext(CompetitionContext(comp, log=lambda msg: None), pipe.get("cv"), None, runner.state)
    train, test, _ = ctx.data()
    task, metric = ctx.task_info(), ctx.metric()
    y, folds = task.encode(train[comp.target]), ctx.folds()
    X, X_test, _ = load_features(comp)
    per_cycle = epochs // m

    def run(params: dict) -> tuple[np.ndarray, np.ndarray, float]:
        t0 = time.perf_counter()
        res = train_cv("mlp", {"type": "mlp", "params": params}, X, y, X_test, folds, task, metric,
                       threads=1, log=lambda msg: None)
        return res.oof, res.test, time.perf_counter() - t0

    rows = {
        "one net": run({"cycles": 1, "epochs": epochs, "snapshots": 1, "seed": 0}),
        "last snapshot": run({"cycles": m, "epochs": per_cycle * m, "snapshots": 1}),
        f"{m} snapshots": run({"cycles": m, "epochs": per_cycle * m, "snapshots": m}),
    }
    nets = [rows["one net"]] + [run({"cycles": 1, "epochs": epochs, "snapshots": 1, "seed": s})
                                for s in range(1, m)]
    rows[f"{m} independent"] = (np.mean([n[0] for n in nets], axis=0), np.mean([n[1] for n in nets], axis=0),
                                sum(n[2] for n in nets))
    better = "higher" if metric.greater_is_better else "lower"
    print(f"\n{name}: {metric.name} ({better} is better), {len(X)} train rows, {X.shape[1]} features, "
          f"{epochs} epochs per net")
    print(f"  {'':<16} {'OOF':>9} {'test':>9} {'train s':>8}")
    for label, (oof, pred, seconds) in rows.items():
        print(f"  {label:<16} {metric(y, oof):>9.5f} {_test_score(comp, metric, task, pred, test[comp.id_col]):>9.5f} "
              f"{seconds:>8.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    p.add_argument("--m", type=int, default=5, help="snapshots (and independent nets)")
    p.add_argument("--epochs", type=int, default=50, help="epochs per net")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            bench(name.strip(), Path(tmp) / name.strip(), args.m, args.epochs)


if __name__ == "__main__":
    main()
