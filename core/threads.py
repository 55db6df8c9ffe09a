"""Thread control for OpenMP libraries (LightGBM, torch) on small machines.

OpenMP workers wait for the next parallel region by spinning. A long spin (GNU's default, 300,000
turns) made a fit beside another busy process 3.5-20x slower on 2 cores; no spin at all (PASSIVE)
made two threads slower than one below millions of cells, since LightGBM enters a parallel region
many times per tree. `configure_openmp` sets a short spin; it must run before those libraries load,
which `import core` does. Explicit values in the environment win.
"""

from __future__ import annotations

import os
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


def idle_cores(sample_seconds: float = 0.3) -> float:
    """Cores of this process's affinity that nothing but this run used over a short sample (psutil):
    what a stage can give worker processes without taking a core from someone else's work. The run's
    own child processes (a stage running alongside, idle workers) count as idle: their work is the run's."""
    import psutil

    try:
        mine = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        mine = None
    children = psutil.Process().children(recursive=True)
    for child in children:
        _cpu_percent(child)  # the first call starts the child's sample
    busy = psutil.cpu_percent(interval=sample_seconds, percpu=True)
    chosen = [busy[i] for i in mine if i < len(busy)] if mine else busy
    idle = sum(max(0.0, 100.0 - b) for b in chosen) / 100.0
    ours = sum(_cpu_percent(child) for child in children) / 100.0
    return min(float(len(chosen)), idle + ours)


def busy_only_in_other_groups(sample_seconds: float = 0.3) -> bool:
    """Whether every process outside this run that kept a core busy over a short sample competes from
    another scheduling group: another session under Linux's autogroup (a browser, a notebook kernel, a
    second terminal) or another cgroup (a systemd scope, a container). The scheduler then shares the cores
    between the groups, not their processes, so the run's worker processes together get about what its own
    process alone would, and only add their start. False when nothing else is busy, when one busy process
    shares this run's group, or where /proc cannot tell (not Linux)."""
    import time

    import psutil

    mine = _group("self")
    if mine is None:
        return False
    me = psutil.Process()
    ours = {me.pid, *(child.pid for child in me.children(recursive=True))}
    others = [p for p in psutil.process_iter() if p.pid not in ours]
    for p in others:
        _cpu_percent(p)  # the first call starts each process's sample
    time.sleep(sample_seconds)
    busy = [p.pid for p in others if _cpu_percent(p) >= 50.0]
    return bool(busy) and all(_group(pid) not in (None, mine) for pid in busy)


def _group(pid: int | str) -> tuple[str, str] | None:
    """The scheduling group a process competes in: (its CPU cgroup, its autogroup where that decides);
    None where /proc does not say (not Linux, or the process is gone). Autogroup applies only inside the
    root CPU cgroup, so elsewhere the cgroup alone is the group."""
    from pathlib import Path

    try:
        cpu = _cpu_cgroup(Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    except OSError:
        return None
    autogroup = ""
    try:
        if cpu == "/" and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1":
            autogroup = Path(f"/proc/{pid}/autogroup").read_text().split()[0]  # "/autogroup-42 nice 0"
    except (OSError, IndexError):
        pass
    return cpu, autogroup


def _cpu_cgroup(lines: list[str], root: str = "/sys/fs/cgroup") -> str:
    """The cgroup whose CPU share the scheduler gives a process (`lines`: its /proc/PID/cgroup): cgroup v1's
    cpu hierarchy; on v2 the deepest ancestor whose parent enables the cpu controller ("/" when none does,
    however deep the process sits for memory or accounting)."""
    from pathlib import Path

    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
    unified = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
    parts = [part for part in (unified[0] if unified else "/").split("/") if part]
    group = "/"
    for depth in range(len(parts)):
        try:
            enabled = Path(root, *parts[:depth], "cgroup.subtree_control").read_text().split()
        except OSError:
            break
        if "cpu" not in enabled:
            break
        group = "/" + "/".join(parts[:depth + 1])
    return group


def _cpu_percent(process) -> float:
    """A process's CPU percent since the previous call on it (0 once it has ended or cannot be read)."""
    import psutil

    try:
        return process.cpu_percent(None)
    except psutil.Error:
        return 0.0


_WARNED: set[tuple[int, int]] = set()  # (setting, cap) pairs already warned about in this process

# Automatic threads: one thread per fit on a table below this many training rows, cores / workers from
# it on. One thread is deterministic by construction -- a fit's predictions do not depend on the thread
# count, hence not on the machine's load or its cores -- and it survives a busy machine: beside one busy
# process on 2 cores, two threads per fit made titanic's cv stage 1.9x slower than quiet (each OpenMP
# region waits for the thread sharing a core with the other process), one thread kept it near its quiet
# time, and quiet, one thread per fit was as fast as two there. From this size on LightGBM builds
# row-wise histograms (models/lgbm.py ROW_WISE_FROM_ROWS) and a fit is long enough for two threads to pay.
ONE_THREAD_BELOW_ROWS = 50_000


def resolve_threads(threads: int = 0, *, n_jobs: int = 1, warn: Callable[[str], None] | None = None,
                    cores: int | None = None, rows: int | None = None) -> int:
    """Threads for one fit: the explicit setting, else one on a table of fewer than ONE_THREAD_BELOW_ROWS
    training `rows`, else cores / workers.

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
    return 1 if rows is not None and rows < ONE_THREAD_BELOW_ROWS else budget
