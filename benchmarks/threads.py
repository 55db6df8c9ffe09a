"""Why automatic threads are one per fit on a small table and OpenMP threads spin briefly before they sleep.

Times one LightGBM fit (100 rounds on a prebuilt Dataset, mean of 2) per setting, each in a fresh
interpreter, because the wait settings must be in the environment before LightGBM loads:

    python benchmarks/threads.py           # wait settings: 1 vs 2 threads alone, and 2 beside a busy process
    python benchmarks/threads.py --grid    # 1 vs 2 threads by rows x columns, PASSIVE vs the pipeline's
    python benchmarks/threads.py --end-to-end --sets titanic,hpc,ames_clean   # default runs, quiet and busy
    python benchmarks/threads.py --end-to-end --own-session  # the busy process in a session of its own
    python benchmarks/threads.py --end-to-end --busy 2     # beside two busy processes (every core taken)

The end-to-end mode runs `init` + the default `run` of each set (benchmarks/quality.py's data sets)
once per setting of `runtime.threads` (`--settings auto,1`: automatic and one thread; `cores` is an
explicit thread per core, what automatic threads were before the one-thread rule; `jobs1` is
`runtime.n_jobs = 1`, every fit in the run's own process, the default before automatic workers; `workers` is
one worker per core whatever the load, `runtime.n_jobs` = the cores), quiet and then
beside a process that keeps one core busy (`--busy N`: N of them; a Python busy loop, in the benchmark's session, or with
`--own-session` in a session of its own, as a browser or a notebook kernel started elsewhere is: with
Linux's autogroup the scheduler then shares the cores between the two sessions, not between their
processes, so the run's workers together get about one core), and prints the wall times, busy /
quiet, and whether every run wrote the same predictions (the submission and every model's OOF and
test parquet files, byte for byte) as the first.

The settings: PASSIVE (threads sleep at once: OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=0), the
pipeline's (`core.threads.configure_openmp`: GOMP_SPINCOUNT=1000) and GNU libgomp's default (300,000
spin turns, what a script gets when nothing is set).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from core.threads import SPIN_COUNT  # noqa: E402

CHILD = r"""
import json, sys, time
import numpy as np, lightgbm as lgb
n, threads, cols = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
X = rng.normal(size=(n, cols)).astype("float32"); y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
params = dict(objective="binary", num_threads=threads, verbose=-1, learning_rate=0.1, num_leaves=31, seed=0)
ds = lgb.Dataset(X, y, free_raw_data=False); ds.construct()
t0 = time.perf_counter()
for _ in range(2):
    lgb.train(params, ds, 100)
print(json.dumps((time.perf_counter() - t0) / 2))
"""
_OMP_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
SETTINGS = {"PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"},
            "pipeline": {"GOMP_SPINCOUNT": str(SPIN_COUNT)},
            "GNU default": {}}


def _busy(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _fit_seconds(n: int, threads: int, setting: str, cols: int = 20) -> float:
    env = {k: v for k, v in os.environ.items() if k not in _OMP_KEYS} | SETTINGS[setting]
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(threads), str(cols)], env=env, check=True,
                         capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout)


def grid() -> None:
    """1 vs 2 threads by rows x columns, PASSIVE beside the pipeline's setting (quiet machine)."""
    print(f"cores: {os.cpu_count()}; one LightGBM fit of 100 rounds; speed-up of 2 threads over 1")
    print(f"{'rows':>8} {'cols':>5} | {'PASSIVE 1t s':>12} {'2t s':>6} {'x':>6} | {'pipeline 1t s':>13} {'2t s':>6} {'x':>6}")
    for n, cols in ((200, 5), (1_000, 10), (5_000, 20), (20_000, 20), (100_000, 20), (100_000, 100), (300_000, 100)):
        cells = []
        for setting in ("PASSIVE", "pipeline"):
            one, two = _fit_seconds(n, 1, setting, cols), _fit_seconds(n, 2, setting, cols)
            cells.append(f"{one:>12.3f} {two:>6.3f} {one / two:>5.2f}x")
        print(f"{n:>8} {cols:>5} | {cells[0]} | {' ' + cells[1]}", flush=True)


def _digests(root) -> dict[str, str]:
    """sha256 of the submission and of every model run's OOF and test predictions under a workspace."""
    import hashlib
    from pathlib import Path

    root = Path(root)
    files = sorted(root.glob("submissions/*/latest.csv")) + sorted(root.glob("competition/*/runs/*/*/*.parquet")) \
        + sorted(root.glob("competition/*/runs/ensemble/*.parquet"))
    return {str(p.relative_to(root)).split("/runs/")[-1]: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _timed_run(name: str, root, data, setting: str, busy: int,
               own_session: bool = False) -> tuple[float, dict[str, str], list[float]]:
    """init + default run of one set with runtime.threads = setting, beside `busy` busy loops; (seconds,
    digests, load at start).
    `own_session`: the busy process starts in a session of its own (setsid), as a program started elsewhere
    (a browser, a notebook kernel) is: the scheduler then shares the cores between sessions (Linux's
    autogroup; systemd's scopes and containers do the same with cgroups), not between processes."""
    from benchmarks.quality import _cli, init_set, loadavg
    from core.threads import cpu_count

    named = {"auto": None, "cores": {"threads": cpu_count()}, "jobs1": {"n_jobs": 1},
             "workers": {"n_jobs": cpu_count()}}  # workers: one per core whatever the load
    init_set(name, root, data, runtime=named[setting] if setting in named else {"threads": int(setting)})
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=own_session)
            for _ in range(busy)]
    try:
        if hogs:
            time.sleep(0.5)
        load = loadavg()
        t0 = time.perf_counter()
        _cli(root, "run")
        seconds = time.perf_counter() - t0
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return seconds, _digests(root), load


def end_to_end(sets: list[str], settings: list[str], data, own_session: bool = False, busy: int = 1) -> None:
    """Default runs of each set per thread setting, quiet and beside `busy` busy processes (in this session,
    or with `own_session` in a session of its own)."""
    import tempfile
    from pathlib import Path

    from benchmarks.quality import loadavg

    where = "in a session of its own" if own_session else "in this session"
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    grouped = autogroup.read_text().strip() == "1" if autogroup.exists() else False
    loops = "a Python loop keeping one core busy" if busy == 1 else f"{busy} Python loops each keeping a core busy"
    print(f"cores: {os.cpu_count()}; init + default run; busy = beside {loops}, {where} "
          f"(autogroup {'on' if grouped else 'off'}); load at start {loadavg()}")
    print(f"{'set':<12}{'threads':>8}{'quiet s':>9}{'load':>6}{'busy s':>9}{'load':>6}{'busy/quiet':>11}  predictions")
    with tempfile.TemporaryDirectory() as tmp:
        for name in sets:
            first = None
            for setting in settings:
                figures = []
                for hogs in (0, busy):
                    root = Path(tmp) / f"{name}-{setting}-{'busy' if hogs else 'quiet'}"
                    seconds, digests, load = _timed_run(name, root, data, setting, hogs, own_session)
                    first = first or digests
                    same = digests == first
                    figures.append((seconds, load, same, sorted(k for k in first if first[k] != digests.get(k))))
                (q, ql, qs, qd), (b, bl, bs, bd) = figures
                differ = sorted(set(qd) | set(bd))
                print(f"{name:<12}{setting:>8}{q:>9.1f}{ql[0]:>6.2f}{b:>9.1f}{bl[0]:>6.2f}{b / q:>10.2f}x  "
                      f"{'identical' if qs and bs else 'differ: ' + ', '.join(differ)}", flush=True)
    print(f"load at end {loadavg()}")


def main() -> None:
    if "--end-to-end" in sys.argv[1:]:
        import argparse

        from benchmarks.quality import default_data

        p = argparse.ArgumentParser(description="default runs, quiet and beside a busy process")
        p.add_argument("--end-to-end", action="store_true")
        p.add_argument("--sets", default="titanic,hpc,ames_clean")
        p.add_argument("--settings", default="auto,1", help="auto (the defaults) | cores (threads = cores) | jobs1 "
                                                            "(n_jobs = 1: no workers) | workers (n_jobs = cores) | N (threads = N), "
                                                            "comma-separated")
        p.add_argument("--data", default=None, help="folder of data sets (default: benchmarks/quality.py's)")
        p.add_argument("--own-session", action="store_true",
                       help="start the busy process in a session of its own, as a program started elsewhere is")
        p.add_argument("--busy", type=int, default=1, help="busy processes beside the run (default: one)")
        args = p.parse_args()
        if args.busy < 1:
            p.error(f"--busy must be 1 or more busy processes, got {args.busy}")
        from pathlib import Path

        end_to_end([s for s in args.sets.split(",") if s], [s for s in args.settings.split(",") if s],
                   Path(args.data) if args.data else default_data(), own_session=args.own_session, busy=args.busy)
        return
    if "--grid" in sys.argv[1:]:
        grid()
        return
    print(f"cores: {os.cpu_count()}; one LightGBM fit of 100 rounds")
    print(f"{'rows x cols':>12} {'setting':>12} {'1 thread s':>10} {'2 threads s':>11} {'speed-up':>8} "
          f"{'2 beside busy s':>15} {'vs 1 alone':>10}")
    for n, cols in ((5_000, 20), (100_000, 100)):
        for setting in SETTINGS:
            one, two = _fit_seconds(n, 1, setting, cols), _fit_seconds(n, 2, setting, cols)
            stop = mp.Event()
            proc = mp.Process(target=_busy, args=(stop,))
            proc.start()
            time.sleep(0.2)
            try:
                busy = _fit_seconds(n, 2, setting, cols)
            finally:
                stop.set()
                proc.join()
            print(f"{f'{n} x {cols}':>12} {setting:>12} {one:>10.3f} {two:>11.3f} {one / two:>7.2f}x "
                  f"{busy:>15.3f} {busy / one:>9.1f}x", flush=True)


if __name__ == "__main__":
    main()
