"""Feature blocks: LightGBM 5-fold CV with raw columns vs the default blocks, and cache speed.

    python benchmarks/features.py                 # ames_clean and fine_foods scores + 1,000,000-row timing
    python benchmarks/features.py --rows 200000   # smaller synthetic table
    python benchmarks/features.py --skip-scores   # timing only

Scores: raw columns (numerics as float32, strings as pandas categories, as in ANCHORS.md) and the
default blocks (`[features] blocks = []`), each trained by the same LightGBM loop on the same
folds (stratified for classification, seed 0; learning rate 0.05, up to 1000 rounds, early
stopping 100, log1p target for rmsle). The holdout score against solution.csv is printed beside.
Timing, measured side by side in one invocation (medians where a figure says so):
- `build_features` in memory on a synthetic table (numeric with missing values, low- and
  high-cardinality categoricals, a date string column; binary target): empty block cache (cold),
  every block from the cache with the input columns hashed again for the keys, and every block
  from the cache with the column digests remembered under a data digest (what the stage does,
  passing the CSV files' SHA-256);
- the whole features stage through the runner (`Runner.run("features", force=True)` in this
  process, i.e. without interpreter start-up): cold (no block cache, no data snapshot: CSV parse,
  folds, every block, parquet write), blocks from the cache with the outputs deleted (load +
  parquet write), --force with nothing changed (every block's key computed from the data snapshot,
  outputs kept), and without --force (the runner skips the fresh stage);
- the same cases as `python -m pipeline run --stage features [--force]` processes (wall time,
  interpreter start-up and imports included: about 0.2 s even when the stage is skipped);
then `build_features` on the same table plus a short free-text column (the default text blocks).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import core  # noqa: E402,F401  (sets the OpenMP wait policy before LightGBM loads)
from features import build_features  # noqa: E402
from core.metrics import get_metric  # noqa: E402
from pipeline.schemes import assign_folds  # noqa: E402
from core.tasks import TaskInfo  # noqa: E402
from core.threads import resolve_threads  # noqa: E402

DATA = REPO / "benchmarks" / "data"


def raw_columns(train: pd.DataFrame, test: pd.DataFrame, skip: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ANCHORS baseline: numerics as float32, everything else as categories shared by train/test."""
    X_tr, X_te = {}, {}
    for c in train.columns:
        if c in skip or c not in test.columns:
            continue
        a, b = train[c], test[c]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            X_tr[c], X_te[c] = a.astype("float32"), b.astype("float32")
        else:
            dtype = pd.CategoricalDtype(pd.Index(pd.concat([a, b]).dropna().astype(str).unique()).sort_values())
            X_tr[c], X_te[c] = a.astype(str).astype(dtype), b.astype(str).astype(dtype)
    return pd.DataFrame(X_tr), pd.DataFrame(X_te)


def lgb_cv(X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, folds: np.ndarray, task: TaskInfo, metric,
           threads: int) -> tuple[float, np.ndarray]:
    """Out-of-fold score and fold-averaged test predictions of LightGBM with early stopping."""
    import lightgbm as lgb

    params = {"objective": {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task.task],
              "learning_rate": 0.05, "verbose": -1, "num_threads": threads, "seed": 0}
    if task.task == "multiclass":
        params["num_class"] = task.n_classes
    log_target = metric.name == "rmsle"
    y_fit = np.log1p(y) if log_target else y
    n_out = task.n_classes if task.task == "multiclass" else 1
    oof, test = np.zeros((len(y), n_out)), np.zeros((len(X_test), n_out))
    ks = np.unique(folds)
    for k in ks:
        tr, va = folds != k, folds == k
        dtrain = lgb.Dataset(X[tr], y_fit[tr])
        dvalid = lgb.Dataset(X[va], y_fit[va], reference=dtrain)
        booster = lgb.train(params, dtrain, 1000, valid_sets=[dvalid],
                            callbacks=[lgb.early_stopping(100, verbose=False)])
        oof[va] = booster.predict(X[va], num_iteration=booster.best_iteration).reshape(va.sum(), -1)
        test += booster.predict(X_test, num_iteration=booster.best_iteration).reshape(len(X_test), -1) / len(ks)
    if log_target:
        oof, test = np.expm1(oof), np.expm1(test)
    squeeze = (lambda a: a[:, 0]) if n_out == 1 else (lambda a: a)
    return metric(y, squeeze(oof)), squeeze(test)


def scores(name: str, threads: int) -> None:
    about = json.loads((DATA / name / "about.json").read_text())
    train = pd.read_csv(DATA / name / "train.csv")
    test = pd.read_csv(DATA / name / "test.csv")
    solution = pd.read_csv(DATA / name / "solution.csv").set_index(about["id"]).loc[test[about["id"]]]
    task = TaskInfo.from_target(about["task"], train[about["target"]])
    metric = get_metric(about["metric"])
    y = task.encode(train[about["target"]])
    y_test = task.encode(solution[about["target"]])
    folds = assign_folds(train, target=about["target"], task=about["task"], scheme="auto", n_splits=5, seed=0)
    X_raw, X_raw_test = raw_columns(train, test, {about["id"], about["target"]})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fs = build_features(train, test, id_col=about["id"], target=about["target"], task=task, folds=folds,
                            blocks=[], drop=[], cache_dir=Path(tmp), log=lambda m: None, threads=threads)
        t_feat = time.perf_counter() - t0
    for label, (X, X_te) in (("raw columns", (X_raw, X_raw_test)), ("default blocks", (fs.train, fs.test))):
        t0 = time.perf_counter()
        cv, pred = lgb_cv(X, y, X_te, folds, task, metric, threads)
        holdout = metric(y_test, pred)
        extra = f", features {t_feat:.1f}s" if label == "default blocks" else ""
        print(f"{name:<11} {label:<15} {X.shape[1]:>4} cols  CV {metric.name} {cv:.4f}  "
              f"holdout {holdout:.4f}  ({time.perf_counter() - t0:.1f}s{extra})", flush=True)


def synthetic(n: int, seed: int = 0, *, text: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A train/test table with n rows in all: numerics, categoricals, dates, a binary target, and
    with `text` a short free-text column (3-12 words from a Zipf-distributed 5,000-word vocabulary)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": np.arange(n)})
    for i in range(6):
        x = rng.normal(size=n) * (i + 1)
        x[rng.random(n) < 0.05] = np.nan
        frame[f"num_{i}"] = x
    frame["count_int"] = rng.poisson(3, n)
    frame["city"] = rng.choice([f"city_{i}" for i in range(20)], n)
    frame["color"] = rng.choice(["red", "green", "blue", "black"], n)
    frame["user"] = np.char.add("u", rng.integers(0, 50_000, n).astype(str))
    days = rng.integers(0, 3 * 365, n)
    frame["signup"] = (pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    logit = 0.3 * np.nan_to_num(frame["num_0"]) + (frame["color"] == "red") - 0.5
    if text:
        vocab = np.array([f"w{i}" for i in range(5000)])
        weights = 1 / np.arange(1, 5001)
        lengths = rng.integers(3, 13, n)
        words = rng.choice(vocab, size=int(lengths.sum()), p=weights / weights.sum())
        frame["title"] = [" ".join(ws) for ws in np.split(words, np.cumsum(lengths)[:-1])]
        logit = logit + 1.5 * frame["title"].str.contains(r"\bw7\b", regex=True)
    frame["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    cut = int(n * 0.8)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].drop(columns="target").reset_index(drop=True)


def timing(n: int, threads: int, *, text: bool, rounds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`build_features` in memory: empty cache (cold) vs every block from the cache (cached), the
    columns hashed for the cache keys each time, and with their digests remembered under a data digest."""
    train, test = synthetic(n, text=text)
    task = TaskInfo.from_target("binary", train["target"])
    folds = assign_folds(train, target="target", task="binary", scheme="auto", n_splits=5, seed=0)
    colds, cacheds, remembered = [], [], []
    for r in range(rounds):  # each round: an empty cache (cold), then five runs of each cached kind
        with tempfile.TemporaryDirectory() as tmp:
            kwargs = dict(id_col="id", target="target", task=task, folds=folds, blocks=[], drop=[],
                          cache_dir=Path(tmp), log=lambda m: None, threads=threads)
            digest = f"synthetic table {n} rows, text {text}, round {r}"  # the stage passes the CSVs' SHA-256
            t0 = time.perf_counter()
            fs = build_features(train, test, **kwargs)
            colds.append(time.perf_counter() - t0)
            build_features(train, test, **kwargs, data_digest=digest)  # remembers the column digests
            for _ in range(5):
                t0 = time.perf_counter()
                fs2 = build_features(train, test, **kwargs)
                cacheds.append(time.perf_counter() - t0)
                assert fs2.train.equals(fs.train) and all(r["cached"] for r in fs2.report)
                t0 = time.perf_counter()
                fs3 = build_features(train, test, **kwargs, data_digest=digest)
                remembered.append(time.perf_counter() - t0)
                assert fs3.train.equals(fs.train) and all(r["cached"] for r in fs3.report)
    cold, cached, rem = (float(np.median(t)) for t in (colds, cacheds, remembered))
    kind = "numeric/categorical/date + short text" if text else "numeric/categorical/date"
    print(f"build_features in memory, {n:,} rows ({kind}), {fs.train.shape[1]} feature columns"
          f"{', arrays ' + ', '.join(fs.arrays) if fs.arrays else ''}, {threads} thread(s); blocks: "
          f"{', '.join(r['block'] for r in fs.report)}")
    print(f"  cold (empty block cache) {cold:.3f}s (median of {len(colds)})", flush=True)
    print(f"  every block from cache, all input columns re-hashed for the keys: {cached:.3f}s "
          f"(median of {len(cacheds)}) -> {cold / cached:.1f}x", flush=True)
    print(f"  every block from cache, column digests remembered by data digest (what the stage does): "
          f"{rem:.3f}s (median of {len(remembered)}) -> {cold / rem:.1f}x  (target >= 20x)", flush=True)
    return train, test


def stage_timing(train: pd.DataFrame, test: pd.DataFrame, rounds: int = 2) -> None:
    """The whole features stage through the runner (CSV read, folds, blocks, parquet): in this
    process via `Runner.run("features", force=True)` (the figure without interpreter start-up), then
    as `python -m pipeline run --stage features --force` processes (wall time, start-up included)."""
    import shutil

    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        comp_dir = Path(tmp) / "competition" / "synthetic"
        comp_dir.mkdir(parents=True)
        train.to_csv(comp_dir / "train.csv", index=False)
        test.to_csv(comp_dir / "test.csv", index=False)
        pd.DataFrame({"id": test["id"], "target": 0.5}).to_csv(comp_dir / "sample_submission.csv", index=False)
        (comp_dir / "competition.toml").write_text('[competition]\ntask = "binary"\ntarget = "target"\n'
                                                   'id = "id"\nmetric = "roc_auc"\n')
        cmd = [sys.executable, "-m", "pipeline", "run", "--stage", "features"]
        subprocess.run(cmd[:-1] + ["folds"], cwd=tmp, check=True, capture_output=True, env=_env())
        runs = comp_dir / "runs"
        logs: list[str] = []

        def stage(force: bool) -> float:
            comp = Workspace(Path(tmp)).competition(None)
            t0 = time.perf_counter()
            ran = Runner(build_pipeline(), comp, log=logs.append).run("features", force=force)
            seconds = time.perf_counter() - t0
            assert ran == (["features"] if force else []), ran
            return seconds

        def fresh_outputs() -> None:  # block cache kept, written outputs gone: blocks load + parquet write
            shutil.rmtree(runs / "features")

        def empty_caches() -> None:  # block cache, data snapshot and outputs gone: everything computed
            shutil.rmtree(runs / "cache", ignore_errors=True)
            shutil.rmtree(runs / "features", ignore_errors=True)

        t = {"cold": [], "blocks": [], "planned": [], "skipped": []}
        for _ in range(rounds):
            empty_caches()
            t["cold"].append(stage(True))
            for _ in range(2):
                fresh_outputs()
                t["blocks"].append(stage(True))
            for _ in range(3):
                t["planned"].append(stage(True))
            t["skipped"].append(stage(False))
        assert any("outputs unchanged" in line for line in logs)
        med = {k: float(np.median(v)) for k, v in t.items()}
        print(f"features stage via Runner.run in this process, {len(train) + len(test):,} rows (medians of "
              f"{' / '.join(str(len(v)) for v in t.values())}):")
        rows = [("cold", "cold: no block cache, no data snapshot (CSV parse, every block, parquet write)"),
                ("blocks", "--force, every block from the cache, outputs deleted (load + parquet write)"),
                ("planned", "--force, nothing changed: every block key computed from the data snapshot, outputs kept"),
                ("skipped", "no --force: the runner finds the stage fresh and skips it")]
        for key, label in rows:
            ratio = "" if key == "cold" else f" -> {med['cold'] / med[key]:.1f}x"
            target = "  (target >= 20x)" if key == "planned" else ""
            print(f"  {label:<82} {med[key]:.3f}s{ratio}{target}", flush=True)

        def cli(force: bool) -> float:
            t0 = time.perf_counter()
            subprocess.run(cmd + (["--force"] if force else []), cwd=tmp, check=True, capture_output=True,
                           env=_env())
            return time.perf_counter() - t0

        empty_caches()
        cold = cli(True)
        fresh_outputs()
        blocks = cli(True)
        planned = cli(True)
        skipped = cli(False)
        print("features stage as `python -m pipeline run --stage features [--force]` processes, wall time "
              "including interpreter start-up and imports (one run each, same cases):")
        print(f"  cold {cold:.2f}s | blocks from cache {blocks:.2f}s ({cold / blocks:.1f}x) | keys computed "
              f"{planned:.2f}s ({cold / planned:.1f}x) | "
              f"skipped {skipped:.2f}s ({cold / skipped:.1f}x)", flush=True)


def _env() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic table")
    parser.add_argument("--skip-scores", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-text", action="store_true", help="skip the table with a text column (slowest)")
    args = parser.parse_args()
    threads = resolve_threads(0)
    if not args.skip_scores:
        for name in ("ames_clean", "fine_foods"):
            scores(name, threads)
    if not args.skip_timing:
        train, test = timing(args.rows, threads, text=False, rounds=2)
        stage_timing(train, test)
        if not args.skip_text:
            timing(args.rows, threads, text=True, rounds=1)


if __name__ == "__main__":
    main()
