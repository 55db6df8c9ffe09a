"""Why `[runtime] threads` defaults to 1 on small data and OpenMP waits passively.

Times one LightGBM fit (titanic-sized and 100,000-row synthetic data) per setting: threads 1 vs 2,
OpenMP wait policy ACTIVE vs PASSIVE, alone and beside a competing busy process. Each setting runs
in a fresh interpreter, because the wait policy must be set before LightGBM loads.

    python benchmarks/threads.py           # wait policies, alone and beside a busy process
    python benchmarks/threads.py --grid    # 1 vs 2 threads (PASSIVE) by rows x columns: where 2 pay off
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import numpy as np, lightgbm as lgb
n, threads = int(sys.argv[1]), int(sys.argv[2])
cols = int(sys.argv[3]) if len(sys.argv) > 3 else 20
rng = np.random.default_rng(0)
X = rng.normal(size=(n, cols)); y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
params = dict(objective="binary", num_threads=threads, verbose=-1, learning_rate=0.1, num_leaves=31, seed=0)
t0 = time.perf_counter()
for _ in range(3):
    lgb.train(params, lgb.Dataset(X, y), 100)
print(json.dumps((time.perf_counter() - t0) / 3))
"""


def _busy(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _fit_seconds(n: int, threads: int, policy: str, cols: int = 20) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy, "GOMP_SPINCOUNT": "0" if policy == "PASSIVE" else "300000"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(threads), str(cols)], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)


def grid() -> None:
    """1 vs 2 threads under the pipeline's PASSIVE policy on a quiet machine, by rows x columns."""
    print(f"cores: {os.cpu_count()}; OMP_WAIT_POLICY=PASSIVE; one LightGBM fit of 100 rounds, mean of 3")
    print(f"{'rows':>8} {'cols':>5} {'cells':>11} {'1 thread s':>11} {'2 threads s':>12} {'speed-up':>9}")
    for n in (20_000, 100_000, 400_000):
        for cols in (20, 100):
            one, two = _fit_seconds(n, 1, "PASSIVE", cols), _fit_seconds(n, 2, "PASSIVE", cols)
            print(f"{n:>8} {cols:>5} {n * cols:>11,} {one:>11.3f} {two:>12.3f} {one / two:>8.2f}x")


def main() -> None:
    if "--grid" in sys.argv[1:]:
        grid()
        return
    print(f"cores: {os.cpu_count()}")
    print(f"{'rows':>8} {'threads':>7} {'policy':>8} {'alone s':>9} {'beside busy s':>14} {'slowdown':>9}")
    for n in (1_000, 100_000):
        for threads in (1, 2):
            for policy in ("ACTIVE", "PASSIVE"):
                alone = _fit_seconds(n, threads, policy)
                stop = mp.Event()
                proc = mp.Process(target=_busy, args=(stop,))
                proc.start()
                time.sleep(0.2)
                try:
                    busy = _fit_seconds(n, threads, policy)
                finally:
                    stop.set()
                    proc.join()
                print(f"{n:>8} {threads:>7} {policy:>8} {alone:>9.3f} {busy:>14.3f} {busy / alone:>8.1f}x")


if __name__ == "__main__":
    main()
