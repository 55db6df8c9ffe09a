"""Default quality: `init` + default `run` on the six dev sets against raw LightGBM and AutoGluon.

    python benchmarks/quality.py                       # all six sets, one table
    python benchmarks/quality.py --sets titanic,hpc    # a subset
    python benchmarks/quality.py --time-budget 30      # the same with `run --time-budget 30`
    python benchmarks/quality.py --generated 50000     # default run on a generated mixed table (time only)

Each set gets a temporary workspace; the script runs `python -m pipeline init` and `python -m
pipeline run` exactly as a new user would (through the CLI, no config edits), then scores the
written submission against solution.csv (which the pipeline never reads). It prints, side by side:
test score, CV score (the ensemble's honest OOF score), wall time, and the ANCHORS.md figures (raw
LightGBM, AutoGluon medium_quality and best_quality, with their seconds); the last line counts the
wins. Choose defaults by the CV column, never by the test column.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO / "benchmarks" / "data"
SETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")


def anchors() -> dict[str, dict]:
    """ANCHORS.md's table: set -> {metric, better, lgbm, lgbm_s, ag_medium, ag_medium_s, ag_best, ag_best_s}."""
    rows = {}
    for line in (DATA / "ANCHORS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and cells[0] in SETS:
            name, metric, better, *nums = cells
            keys = ("lgbm", "lgbm_s", "ag_medium", "ag_medium_s", "ag_best", "ag_best_s")
            rows[name] = {"metric": metric, "better": better, **{k: float(v) for k, v in zip(keys, nums)}}
    return rows


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--root", str(root), *args],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def run_set(name: str, root: Path, run_args: list[str]) -> dict:
    """init + run one set; its test score, CV score, seconds, and what the run said it skipped."""
    from benchmarks.score_submission import score_submission

    (root / "competition").mkdir(parents=True)
    _cli(root, "init", name, *[f"--{f.replace('_', '-')}={DATA / name / (f + '.csv')}"
                               for f in ("train", "test", "sample_submission")])
    t0 = time.perf_counter()
    proc = _cli(root, "run", *run_args)
    seconds = time.perf_counter() - t0
    comp_dir = root / "competition" / name
    scores = json.loads((comp_dir / "runs" / "ensemble" / "scores.json").read_text())
    _, test = score_submission(root / "submissions" / name / "latest.csv", DATA / name / "solution.csv",
                               comp_dir=comp_dir)
    skipped = [line for line in proc.stderr.splitlines() if re.search(r"\bskip", line, re.I)
               and "fresh, skipped" not in line]
    return {"set": name, "test": test, "cv": float(scores["overall"]), "seconds": seconds,
            "members": len(scores.get("members", {})), "method": scores.get("method", "?"), "skipped": skipped}


def generated(root: Path, rows: int, *, seed: int = 0) -> float:
    """init + default run on a generated binary table (20 numeric columns with missing values, 5
    categorical ones); returns the run's seconds."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = rows + rows // 4
    frame = pd.DataFrame({f"num{i}": rng.normal(size=n) for i in range(20)})
    for i in range(5):
        frame[f"cat{i}"] = rng.choice([f"level{j}" for j in range(8 + 10 * i)], size=n)
    frame.loc[rng.random(n) < 0.05, "num3"] = np.nan
    signal = frame["num0"] + 0.5 * frame["num1"] * frame["num2"] + (frame["cat0"] == "level1")
    frame["target"] = (signal + rng.normal(size=n) > 0.3).astype(int)
    frame.insert(0, "id", np.arange(n))
    data = root / "data"
    data.mkdir(parents=True)
    frame.iloc[:rows].to_csv(data / "train.csv", index=False)
    frame.iloc[rows:].drop(columns="target").to_csv(data / "test.csv", index=False)
    frame.iloc[rows:][["id"]].assign(target=0.5).to_csv(data / "sample_submission.csv", index=False)
    (root / "competition").mkdir()
    _cli(root, "init", "generated", *[f"--{f.replace('_', '-')}={data / (f + '.csv')}"
                                      for f in ("train", "test", "sample_submission")])
    t0 = time.perf_counter()
    _cli(root, "run")
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    p.add_argument("--time-budget", type=float, default=None, help="pass --time-budget SECONDS to run")
    p.add_argument("--keep", metavar="DIR", help="build the workspaces under DIR and keep them")
    p.add_argument("--generated", type=int, default=0, metavar="ROWS",
                   help="instead: time the default run on a generated mixed table of ROWS train rows")
    args = p.parse_args()
    if args.generated:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = generated(Path(args.keep or tmp) / "generated", args.generated)
        print(f"default run on a generated {args.generated:,}-row mixed table (20 numeric, 5 categorical): "
              f"{seconds:.0f} s")
        return
    run_args = ["--time-budget", str(args.time_budget)] if args.time_budget else []
    ref = anchors()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows.append(run_set(name, Path(args.keep or tmp) / name, run_args))
    head = (f"{'set':<14}{'metric':<9}{'test':>9}{'cv':>9}{'s':>6} | {'lgbm':>8}{'AG med':>8}{'s':>5}"
            f"{'AG best':>9}{'s':>5} | beats")
    print(head)
    print("-" * len(head))
    wins = {"lgbm": 0, "ag_medium": 0, "ag_best": 0}
    for r in rows:
        a = ref[r["set"]]
        higher = a["better"] == "higher"
        beats = [k for k in wins if (r["test"] > a[k] if higher else r["test"] < a[k])]
        for k in beats:
            wins[k] += 1
        label = ", ".join({"lgbm": "lgbm", "ag_medium": "AG medium", "ag_best": "AG best"}[k] for k in beats) or "-"
        print(f"{r['set']:<14}{a['metric']:<9}{r['test']:>9.4f}{r['cv']:>9.4f}{r['seconds']:>6.0f} | "
              f"{a['lgbm']:>8.4f}{a['ag_medium']:>8.4f}{a['ag_medium_s']:>5.0f}{a['ag_best']:>9.4f}"
              f"{a['ag_best_s']:>5.0f} | {label}")
        for line in r["skipped"]:
            print(f"{'':14}{line.strip()}")
    n = len(rows)
    total = sum(r["seconds"] for r in rows)
    ag_total = sum(ref[r["set"]]["ag_medium_s"] for r in rows)
    print(f"wins: raw LightGBM {wins['lgbm']}/{n}, AutoGluon medium {wins['ag_medium']}/{n}, AutoGluon best "
          f"{wins['ag_best']}/{n}; total {total:.0f} s (AutoGluon medium {ag_total:.0f} s), slowest set "
          f"{max(r['seconds'] for r in rows):.0f} s")


if __name__ == "__main__":
    main()
