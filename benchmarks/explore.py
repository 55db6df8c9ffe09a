"""Explore stage on a large table: seconds for the EDA report on 1,000,000 x 100 (target: under 60 s).

    python benchmarks/explore.py [--rows 1000000] [--cols 100] [--test-rows 250000] [--keep DIR]

Builds a synthetic binary competition in a temporary workspace -- numeric columns (some skewed, some
with missing values, a few drifted in test), integer counts and categoricals of 3 to 5,000 levels --
writes it as CSV, then times `run --stage explore` twice: cold (parsing the CSV files, which every
stage pays once per data version) and warm (the data snapshot is read back, as when only the
explore stage re-runs). Prints the stage's seconds, its parts (summary.json timings) and where the
report went. The target applies to the warm run: the stage's own work.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIG = """[competition]
task = "binary"
target = "target"
id = "id"
metric = "roc_auc"
submission = "proba"
"""


def make_tables(rows: int, cols: int, test_rows: int, seed: int = 0):
    """(train, test, sample) DataFrames: `cols` feature columns plus id (and target in train)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = rows + test_rows
    n_cat = max(1, cols // 8)
    n_int = max(1, cols // 10)
    n_num = cols - n_cat - n_int
    data: dict[str, np.ndarray] = {"id": np.arange(n)}
    logit = np.zeros(n)
    for j in range(n_num):
        x = rng.standard_normal(n).astype(np.float32)
        if j % 5 == 1:
            x = np.exp(x)  # skewed
        if j < 3:
            x[rows:] += 0.3  # drifted in test
        logit += x * (0.5 if j < 5 else 0.02)
        x = np.round(x, 3)
        if j % 7 == 2:
            x[rng.random(n) < 0.2] = np.nan
        data[f"num_{j}"] = x
    for j in range(n_int):
        data[f"count_{j}"] = rng.poisson(1 + j, n)
    for j in range(n_cat):
        levels = [3, 12, 50, 300, 5000][j % 5]
        codes = rng.integers(0, levels, n)
        data[f"cat_{j}"] = np.array([f"c{j}_{k}" for k in range(levels)], dtype=object)[codes]
        logit += (codes % 3 - 1) * 0.3 if j == 0 else 0.0
    frame = pd.DataFrame(data)
    frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    train = frame.iloc[:rows].reset_index(drop=True)
    test = frame.iloc[rows:].drop(columns="target").reset_index(drop=True)
    sample = pd.DataFrame({"id": test["id"], "target": 0.5})
    return train, test, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=100, help="feature columns (besides id and target)")
    parser.add_argument("--test-rows", type=int, default=250_000)
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace here and keep it")
    args = parser.parse_args()

    from pyarrow import csv as pa_csv
    import pyarrow as pa

    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace
    from core import io as _io

    root = args.keep or Path(tempfile.mkdtemp(prefix="explore-bench-"))
    try:
        t0 = time.perf_counter()
        train, test, sample = make_tables(args.rows, args.cols, args.test_rows)
        comp_dir = root / "competition" / "big"
        comp_dir.mkdir(parents=True, exist_ok=True)
        for name, frame in (("train", train), ("test", test), ("sample_submission", sample)):
            pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), comp_dir / f"{name}.csv")
        (comp_dir / "competition.toml").write_text(CONFIG)
        print(f"data: train {args.rows:,} x {train.shape[1]}, test {args.test_rows:,} x {test.shape[1]} "
              f"({(comp_dir / 'train.csv').stat().st_size / 2**20:,.0f} MB CSV), built in "
              f"{time.perf_counter() - t0:.1f}s")
        del train, test, sample
        comp = Workspace(root).competition("big")
        quiet = lambda _m: None  # noqa: E731
        for label in ("cold (CSV parse + snapshot)", "warm (snapshot read)"):
            runner = Runner(build_pipeline(), comp, log=quiet)
            t = time.perf_counter()
            runner.run("explore", force=True)
            seconds = time.perf_counter() - t
            summary = _io.read_json(comp.runs / "explore" / "summary.json")
            parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(summary["timings"].items(), key=lambda kv: -kv[1]))
            print(f"explore stage, {label}: {seconds:.1f}s   analysis parts (s): {parts}")
        report = comp.runs / "explore" / "report.html"
        auc = summary["adversarial"]["auc"]
        print(f"report: {report} ({report.stat().st_size / 2**20:.1f} MB); adversarial AUC {auc:.3f}; "
              f"{len(summary['warnings'])} warnings")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
