"""Thread control for OpenMP libraries (LightGBM, torch) on small machines.

OpenMP workers busy-wait by default; on 2 cores a fit competing with another busy process was
measured 10-1000x slower. `configure_openmp` makes them sleep instead; it must run before those
libraries load, which `import pipeline` does. Explicit values in the environment win.
"""

from __future__ import annotations

import os
from typing import Callable

# Below this many cells (rows x feature columns) one thread is faster than two under the PASSIVE wait
# policy (2 cores, LightGBM 100 rounds, `python benchmarks/threads.py --grid`, quiet machine, 2026-11-26):
# 2 threads ran at 0.36x the speed of 1 at 400,000 cells, 0.68-0.89x at 2,000,000, 1.37-1.39x at
# 8,000,000-10,000,000 and 1.74x at 40,000,000 (the waits for each parallel region cost more than a
# small histogram saves). The default run on a generated 50,000-row table: 175 s on 2 threads, 95 s on 1.
SMALL_DATA_CELLS = 5_000_000
ASSUMED_COLUMNS = 50  # when the column count is not known yet


def configure_openmp() -> None:
    """Set a passive OpenMP wait policy unless the user already chose one."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GOMP_SPINCOUNT", "0")
    os.environ.setdefault("KMP_BLOCKTIME", "0")


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_WARNED: set[tuple[int, int]] = set()  # (setting, cap) pairs already warned about in this process


def resolve_threads(threads: int = 0, *, n_jobs: int = 1, n_rows: int | None = None,
                    n_cols: int | None = None, warn: Callable[[str], None] | None = None,
                    cores: int | None = None) -> int:
    """Threads for one fit: the explicit setting, else 1 on small data (rows x columns below
    SMALL_DATA_CELLS), else cores / workers.

    Never returns more than cores // n_jobs, so that workers x threads stay within the cores: more
    OpenMP threads than cores only wait on each other (1000 threads made a LightGBM fold 1700x slower
    on 2 cores; 100,000 crashed it). A larger setting is capped, and `warn` told so once per process.
    `cores` are those of the machine the fits run on (default: this one's; a cluster's workers differ).
    """
    where = "this machine's" if cores is None else "a worker's"
    cores = cpu_count() if cores is None else max(1, cores)
    budget = max(1, cores // max(1, n_jobs))
    if threads > budget:
        if warn is not None and (threads, budget) not in _WARNED:
            _WARNED.add((threads, budget))
            warn(f"warning: runtime.threads = {threads} is more than {where} {cores} core(s)"
                 f"{f' shared by runtime.n_jobs = {n_jobs} workers' if n_jobs > 1 else ''}; using {budget}")
        return budget
    if threads > 0:
        return threads
    if n_rows is not None and n_rows * (n_cols or ASSUMED_COLUMNS) < SMALL_DATA_CELLS:
        return 1
    return budget
