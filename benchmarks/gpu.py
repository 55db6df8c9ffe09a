"""CPU against GPU for every member type that has a GPU path: one fold's fit and prediction, side by side.

    python benchmarks/gpu.py                    # every part (a minute or two on a GPU machine)
    python benchmarks/gpu.py --only mlp,catboost --threads 4

Each part builds a temporary workspace from benchmarks/data/<set> with the config `init` writes, runs the
folds and features stages, then trains one model on fold 0's training rows and scores fold 0's rows (its
OOF score), once with `device = "cpu"` (`--threads` threads) and once on the GPU, in one process:

  mlp       type = "mlp" (defaults) on hpc
  densenet  type = "densenet" (defaults) on digits' 8x8 images
  rnn       type = "rnn" (defaults) on fine_foods' review tokens
  catboost  type = "catboost" (defaults) on hpc, device "cuda" (CatBoost's task_type GPU)
  xgboost   type = "xgboost" (defaults) on hpc, device "cuda" (skipped without the package)

It prints, per part: seconds on each device, CPU / GPU, and each fold score (they differ a little: the
GPU's random streams and, for the boosters, its histograms are not the CPU's). On a machine without a
GPU it says so and prints the CPU figures only. Choices are never made on these scores.
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

import core  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
from benchmarks.nets import _training, _workspace  # noqa: E402

# part -> (data set, model table, the GPU spelling of its device)
PARTS = {
    "mlp": ("hpc", {"type": "mlp", "params": {}}, "cuda"),
    "densenet": ("digits", {"type": "densenet", "params": {}}, "cuda"),
    "rnn": ("fine_foods", {"type": "rnn", "params": {}}, "cuda"),
    "catboost": ("hpc", {"type": "catboost", "params": {}}, "cuda"),
    "xgboost": ("hpc", {"type": "xgboost", "params": {}}, "cuda"),
}


def _one_fold(tr, spec: dict, threads: int) -> tuple[float, float]:
    """(seconds, fold-0 score) of one fit on the other folds' rows and a prediction of fold 0's."""
    from models import ModelContext, build_model
    from models._cv import fit_model, predict_model, wanted_arrays

    X, X_test, arrays = tr.features
    model = build_model("m", spec, ModelContext(tr.task, tr.metric, threads, None, arrays))
    fold = tr.folds == np.unique(tr.folds)[0]
    wanted = wanted_arrays(model, arrays)
    train = {k: a[~fold] for k, (a, _) in wanted.items()}
    held = {k: a[fold] for k, (a, _) in wanted.items()}
    t0 = time.perf_counter()
    fit_model(model, X[~fold], tr.y[~fold], arrays=train or None)
    pred = predict_model(model, X[fold], tr.task, arrays=held or None)
    return time.perf_counter() - t0, float(tr.metric(tr.y[fold], pred))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--threads", type=int, default=4, help="CPU threads per fit (default 4)")
    args = p.parse_args()
    import torch

    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}, GPU: {torch.cuda.get_device_name(0) if gpu else 'none'}, "
          f"CPU threads per fit {args.threads}")
    print(f"{'part':<9} {'set':<11} {'CPU s':>7} {'GPU s':>7} {'CPU/GPU':>8} {'CPU fold score':>15} "
          f"{'GPU fold score':>15}")
    if gpu:
        torch.ones(1, device="cuda").sum().item()  # CUDA's start-up, before any timing
    with tempfile.TemporaryDirectory() as tmp:
        setups = {}
        for part in [s.strip() for s in args.only.split(",")]:
            name, spec, device = PARTS[part]
            library = spec["type"] if spec["type"] in ("catboost", "xgboost") else "torch"
            try:
                __import__(library)
            except ImportError:
                print(f"{part:<9} {name:<11} skipped: {library} is not installed")
                continue
            if name not in setups:
                _workspace(Path(tmp), name)
                setups[name] = _training(Path(tmp), name)
            tr = setups[name]
            cpu_s, cpu_score = _one_fold(tr, {**spec, "params": {**spec["params"], "device": "cpu"}}, args.threads)
            if not gpu:
                print(f"{part:<9} {name:<11} {cpu_s:>7.1f} {'-':>7} {'-':>8} {cpu_score:>15.4f} {'-':>15}")
                continue
            gpu_s, gpu_score = _one_fold(tr, {**spec, "params": {**spec["params"], "device": device}}, args.threads)
            print(f"{part:<9} {name:<11} {cpu_s:>7.1f} {gpu_s:>7.1f} {cpu_s / gpu_s:>7.1f}x {cpu_score:>15.4f} "
                  f"{gpu_score:>15.4f}", flush=True)


if __name__ == "__main__":
    main()
