"""Predicting new rows with a finished run: exactness, bundle size, time and memory.

    python benchmarks/predict.py                          # the six dev sets + 1,000,000 rows of titanic
    python benchmarks/predict.py --sets titanic,hpc --rows 200000

For each dev set (benchmarks/data/<set>): `init` + `run` with the default zoo in a temporary
workspace, then `predict --test test.csv` in a fresh process. Printed side by side: the run's wall
time, its models' own test-prediction share is not separable, so the comparison is `predict`'s wall
time against the run's; predict's peak RSS; the largest difference between predict's CSV and the
run's latest.csv (0 = byte-identical values) and whether the files are byte-identical; the bundle's
size without wheels (models, states, predictor files).

Then a generated file of --rows rows (test.csv's rows drawn with replacement, new ids) is scored by
the first set's run twice: in 100,000-row chunks (the default) and in one chunk, so the figures show
what chunking bounds (peak RSS) and what it costs (wall time).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"
SETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")


def _cli(*args: str) -> float:
    """Run `python -m pipeline ARGS` in a fresh process; its wall seconds."""
    env = {**os.environ, "PIPELINE_PROGRESS": "plain", "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def _peak_rss(*args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `python -m pipeline ARGS` process (it reports its own)."""
    env = {**os.environ, "PIPELINE_PROGRESS": "plain", "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"pipeline {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return seconds, float(proc.stdout.strip().splitlines()[-1])


# runs the CLI in this process and prints its own peak RSS (MB) last
_MEASURE = """
import resource, sys
from pipeline.cli import main
code = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(code)
"""


def _max_diff(a: Path, b: Path) -> float:
    import numpy as np
    import pandas as pd

    x, y = pd.read_csv(a), pd.read_csv(b)
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return float("inf")
    worst = 0.0
    for col in x.columns:
        if pd.api.types.is_numeric_dtype(y[col]):
            worst = max(worst, float(np.max(np.abs(x[col].to_numpy(float) - y[col].to_numpy(float)))))
        elif x[col].tolist() != y[col].tolist():
            return float("inf")
    return worst


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_set(name: str, work: Path) -> dict:
    ws = work / name
    comp = ws / "competition" / name
    (ws / "competition").mkdir(parents=True)
    _cli("init", name, "--root", str(ws),
         *[f"--{f.replace('_', '-')}={DATA / name / (f + '.csv')}" for f in ("train", "test", "sample_submission")])
    run_s = _cli("run", "--root", str(ws))
    out = work / f"{name}-predicted.csv"
    pred_s, rss = _peak_rss("predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out))
    latest = ws / "submissions" / name / "latest.csv"
    bundle = work / f"{name}-bundle"
    _cli("bundle", "--root", str(ws), "--out", str(bundle), "--no-wheels")
    return {"set": name, "run_s": run_s, "predict_s": pred_s, "rss_mb": rss,
            "max_diff": _max_diff(out, latest), "identical": filecmp.cmp(out, latest, shallow=False),
            "bundle_mb": _size(bundle) / 1e6, "ws": ws, "comp": comp}


def big_file(comp: Path, rows: int, path: Path) -> None:
    import numpy as np
    import pandas as pd

    test = pd.read_csv(comp / "test.csv")
    id_col = pd.read_csv(comp / "sample_submission.csv", nrows=1).columns[0]
    pick = np.random.default_rng(0).integers(0, len(test), size=rows)
    big = test.iloc[pick].reset_index(drop=True)
    big[id_col] = np.arange(10_000_000, 10_000_000 + rows)
    big.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="predict-bench-"))
    results = []
    try:
        print(f"{'set':<14}{'run s':>8}{'predict s':>11}{'ratio':>7}{'peak RSS MB':>13}{'max |diff|':>12}"
              f"{'identical':>11}{'bundle MB':>11}", flush=True)
        for name in args.sets.split(","):
            r = run_set(name, work)
            results.append(r)
            print(f"{name:<14}{r['run_s']:>8.1f}{r['predict_s']:>11.1f}{r['predict_s'] / r['run_s']:>7.2f}"
                  f"{r['rss_mb']:>13.0f}{r['max_diff']:>12.2g}{str(r['identical']):>11}{r['bundle_mb']:>11.1f}",
                  flush=True)
        if args.rows and results:
            first = results[0]
            path = work / "big.csv"
            big_file(first["comp"], args.rows, path)
            print(f"\n{args.rows:,} rows drawn from {first['set']}'s test.csv ({path.stat().st_size / 1e6:.0f} MB CSV):")
            for label, chunk in (("chunks of 100,000", "100000"), ("one chunk", str(args.rows))):
                s, rss = _peak_rss("predict", "--root", str(first["ws"]), "--test", str(path), "--out",
                                   str(work / "big-pred.csv"), "--chunk-rows", chunk)
                print(f"  {label:<20} {s:>7.1f} s  peak RSS {rss:>6.0f} MB  ({args.rows / s:,.0f} rows/s)", flush=True)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
