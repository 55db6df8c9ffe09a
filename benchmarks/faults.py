"""Faults: kill a full run at random moments, resume it, and compare with a run that was never killed.

    python benchmarks/faults.py                     # 20 SIGKILLs + 10 SIGINTs on titanic, two LightGBM models
    python benchmarks/faults.py --kills 5 --interrupts 2

A clean `python -m pipeline run` in a fresh workspace gives the reference submission (latest.csv) and
its duration T. Then, each time in a fresh copy of the workspace, a run is started and sent SIGKILL
(or SIGINT, Ctrl-C) at a moment drawn uniformly from [0, 0.8 T] (seeded), its leftovers are checked,
and the run is started again without interruption. A run that finished before its signal (a busy
machine runs faster or slower than the clean run) does not count: the trial is drawn again, with T
set to that run's duration, until the wanted number of runs were stopped mid-way. The script prints, per signal:

- resumed: how many resumed runs wrote a latest.csv byte-identical to the clean run's (target: all);
- corrupt: how many killed runs left an artifact that does not read back -- a parquet, JSON, CSV or
  .npy file under runs/ or submissions/ that fails to parse, or a recorded stage output that is
  missing (target 0). Temporary files (hidden `.*.tmp`) are not artifacts: a SIGKILL cannot remove
  them, and no reader looks at them;
- for SIGINT also: exit code 130 with one line and no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"

MODELS = """
[models.lgbm]
type = "lightgbm"
params = {}

[models.lgbm_slow]
type = "lightgbm"
params = { num_leaves = 15, learning_rate = 0.02, feature_fraction = 0.7, bagging_fraction = 0.8, bagging_freq = 1 }
"""


def make_workspace(root: Path) -> Path:
    """A workspace with titanic's data and the shipped config, its models replaced by two LightGBMs."""
    dest = root / "competition" / "titanic"
    dest.mkdir(parents=True)
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / "titanic" / name, dest / name)
    config = (REPO / "competition" / "titanic" / "competition.toml").read_text()
    (dest / "competition.toml").write_text(config.split("\n[models.")[0] + "\n" + MODELS)
    return root


def run(ws: Path, *, stop_after: float | None = None, sig: int = signal.SIGKILL) -> tuple[int, str, float]:
    """(exit code, stderr, seconds) of `python -m pipeline run`, sent `sig` after `stop_after` seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PIPELINE_PROGRESS": "off"}
    t0 = time.perf_counter()
    # a shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored:
    # restore the default, so that the run gets Ctrl-C as a user's terminal would send it
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--root", str(ws)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if stop_after is not None:
        try:
            proc.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err, time.perf_counter() - t0


def corrupt_artifacts(ws: Path) -> list[str]:
    """Artifacts under runs/ and submissions/ that do not read back, and recorded outputs that are missing."""
    import numpy as np
    import pandas as pd

    readers = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".json": lambda p: json.loads(p.read_text()),
               ".npy": np.load, ".feather": pd.read_feather}
    comp = ws / "competition" / "titanic"
    bad = []
    for root in (comp / "runs", ws / "submissions"):
        for path in root.rglob("*") if root.exists() else []:
            hidden = any(part.startswith(".") and part != ".state" for part in path.relative_to(root).parts)
            if not path.is_file() or hidden or path.suffix not in readers:
                continue
            try:
                readers[path.suffix](path)
            except Exception as exc:  # noqa: BLE001 - any failure to read is corruption
                bad.append(f"{path.relative_to(ws)} ({type(exc).__name__})")
    for state in (comp / "runs" / ".state").glob("*.json") if (comp / "runs" / ".state").exists() else []:
        try:
            recorded = json.loads(state.read_text())
        except ValueError:
            continue  # counted above
        paths = list(recorded.get("paths", []) if isinstance(recorded, dict) else [])
        for unit in (recorded.get("units", {}) if isinstance(recorded, dict) else {}).values():
            paths += unit.get("paths", [])
        bad += [f"{p} (recorded by {state.name}, missing)" for p in paths if not (ws / p).exists()]
    return bad


def trial(template: Path, tmp: Path, reference: bytes, moment: float, sig: int) -> dict:
    """Kill one run at `moment`, check what it left, resume it; what happened."""
    ws = tmp / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(template, ws)
    code, err, seconds = run(ws, stop_after=moment, sig=sig)
    out = {"moment": moment, "code": code, "seconds": seconds, "corrupt": corrupt_artifacts(ws),
           "one_line": sum(line.startswith(("error:", "interrupted:")) for line in err.splitlines()) <= 1
           and "Traceback" not in err}
    resumed, err2, _ = run(ws)
    latest = ws / "submissions" / "titanic" / "latest.csv"
    out["identical"] = resumed == 0 and latest.is_file() and latest.read_bytes() == reference
    out["resume_error"] = "" if resumed == 0 else err2.strip().splitlines()[-1:]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20, help="SIGKILL trials")
    p.add_argument("--interrupts", type=int, default=10, help="SIGINT trials")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp_name:
        tmp = Path(tmp_name)
        template = make_workspace(tmp / "template")
        clean = tmp / "clean"
        shutil.copytree(template, clean)
        code, err, seconds = run(clean)
        if code != 0:
            sys.exit(f"the clean run failed: {err.strip().splitlines()[-1:]}")
        reference = (clean / "submissions" / "titanic" / "latest.csv").read_bytes()
        window = 0.8 * seconds
        print(f"clean run: {seconds:.1f}s (titanic, 2 LightGBM models); signals at uniform moments in "
              f"[0, {window:.1f}]s", flush=True)
        for name, sig, n in (("SIGKILL", signal.SIGKILL, args.kills), ("SIGINT", signal.SIGINT, args.interrupts)):
            results, finished_first = [], 0
            while len(results) < n:
                r = trial(template, tmp, reference, rng.uniform(0, window), sig)
                if r["code"] == 0:  # finished before the signal: not a fault, draw again
                    finished_first += 1
                    window = 0.8 * r["seconds"]
                    continue
                results.append(r)
                note = "" if r["identical"] else f"  NOT identical {r['resume_error']}"
                note += f"  corrupt: {r['corrupt']}" if r["corrupt"] else ""
                print(f"  {name} {len(results):>2}/{n} at {r['moment']:5.2f}s: exit {r['code']}{note}", flush=True)
            identical = sum(r["identical"] for r in results)
            corrupt = sum(bool(r["corrupt"]) for r in results)
            line = (f"{name}: {n} runs stopped mid-way ({finished_first} more had finished before the signal and "
                    f"were drawn again); resumed byte-identical {identical}/{n}; corrupt artifacts after the "
                    f"signal {corrupt}/{n}")
            if sig == signal.SIGINT:
                clean_exit = sum(r["code"] == 130 and r["one_line"] for r in results)
                line += f"; exited 130 with one line and no traceback {clean_exit}/{n}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
