"""Thread control for OpenMP libraries (LightGBM, torch) on small machines.

OpenMP workers wait for the next parallel region by spinning. A long spin (GNU's default, 300,000
turns) made a fit beside another busy process 3.5-20x slower on 2 cores; no spin at all (PASSIVE)
made two threads slower than one below millions of cells, since LightGBM enters a parallel region
many times per tree. `configure_openmp` sets a short spin; it must run before those libraries load,
which `import core` does. Explicit values in the environment win.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable

# Spin turns before an idle OpenMP thread sleeps (GNU libgomp; LightGBM's and torch's Linux wheels).
# One LightGBM fit, 2 threads vs 1, quiet 2-core machine (`python benchmarks/threads.py`, 2026-11-26):
# PASSIVE (0 turns) 0.05x at 200 x 5, 0.10x at 1,000 x 10, 0.24x at 20,000 x 20, 1.32x at 100,000 x 100;
# 1,000 turns 1.09x, 1.45x, 1.61x and 1.98x, so automatic threads need no small-data exception. Beside
# a busy process two threads took 1.1-2.4x one thread's time alone with 1,000 turns, 3.5-20x with
# GNU's default 300,000.
SPIN_COUNT = 1000


def configure_openmp() -> None:
    """Set a short OpenMP spin-then-sleep wait unless the user already chose a policy."""
    if "OMP_WAIT_POLICY" in os.environ:
        return
    os.environ.setdefault("GOMP_SPINCOUNT", str(SPIN_COUNT))
    os.environ.setdefault("KMP_BLOCKTIME", "1")  # LLVM's libomp (macOS): the shortest spin it takes, 1 ms


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_WARNED: set[tuple[int, int]] = set()  # (setting, cap) pairs already warned about in this process

# Automatic threads look at the load: a thread per core that is idle now, never fewer than one. Beside
# one busy process on 2 cores, two threads per fit made titanic's cv stage 1.9x slower than quiet (each
# OpenMP region waits for the thread that shares a core with the other process); one thread per fit
# kept it near its quiet time, and a quiet machine keeps a thread per core, as before.
# A core counts as idle when at least 1 - IDLE_SLACK of it was idle over IDLE_SAMPLE_S (jiffies are
# 10 ms, so a 0.1 s sample of 2 cores reads idle cores in steps of 0.1); a measurement is reused for
# IDLE_TTL_S, as a run asks once per model and stage.
IDLE_SAMPLE_S = 0.1
IDLE_SLACK = 0.25
IDLE_TTL_S = 10.0
_IDLE: list[float] = []  # [time measured, idle cores] of the last measurement in this process


def _cpu_times() -> tuple[float, float, int] | None:
    """(idle jiffies, all jiffies, CPUs) over all CPUs from /proc/stat; None where it cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    total = next((line.split()[1:] for line in lines if line.startswith("cpu ")), None)
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    if not total or len(total) < 5 or not cpus:
        return None
    values = [float(v) for v in total[:8]]  # user nice system idle iowait irq softirq steal (no guest: in user)
    return values[3] + values[4], sum(values), cpus


def idle_cores(sample_s: float = IDLE_SAMPLE_S) -> float | None:
    """How many of the machine's CPUs were idle over the last `sample_s` seconds (None: unknown)."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(sample_s)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1]) * second[2]


def _idle_now() -> float | None:
    """idle_cores(), measured at most once per IDLE_TTL_S in this process."""
    now = time.monotonic()
    if _IDLE and now - _IDLE[0] < IDLE_TTL_S:
        return _IDLE[1]
    idle = idle_cores()
    if idle is not None:
        _IDLE[:] = [now, idle]
    return idle


def automatic_threads(budget: int, idle: float | None, *, n_jobs: int = 1) -> int:
    """The automatic thread count: `budget` (cores / workers) when the idle cores are unknown, else a
    thread per idle core shared by the workers, between 1 and `budget`."""
    if idle is None:
        return budget
    return max(1, min(budget, math.floor((idle + IDLE_SLACK) / max(1, n_jobs))))


def resolve_threads(threads: int = 0, *, n_jobs: int = 1, warn: Callable[[str], None] | None = None,
                    cores: int | None = None, idle: float | None = None) -> int:
    """Threads for one fit: the explicit setting, else cores / workers, fewer when cores are busy.

    Never returns more than cores // n_jobs, so that workers x threads stay within the cores: more
    OpenMP threads than cores only wait on each other (1000 threads made a LightGBM fold 1700x slower
    on 2 cores; 100,000 crashed it). A larger setting is capped, and `warn` told so once per process.
    `cores` are those of the machine the fits run on (default: this one's; a cluster's workers differ).
    Automatic threads on this machine count its idle cores (`idle`, default: measured from /proc/stat,
    `automatic_threads`); a cluster's cores are not measured.
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
    if where != "this machine's":
        return budget
    return automatic_threads(budget, _idle_now() if idle is None else idle, n_jobs=n_jobs)
