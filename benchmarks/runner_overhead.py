"""Runner latency: `python -m pipeline --help` and a no-op `run` (nothing changed), median of 5.

    python benchmarks/runner_overhead.py    # targets: --help < 0.3 s, no-op run < 1 s
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], cwd: Path, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        shutil.copytree(REPO / "competition" / "titanic", ws / "competition" / "titanic",
                        ignore=shutil.ignore_patterns("runs"))
        py = [sys.executable, "-m", "pipeline"]
        t_help = _time(py + ["--help"], REPO)
        t0 = time.perf_counter()
        subprocess.run(py + ["run"], cwd=ws, check=True, capture_output=True)
        t_cold = time.perf_counter() - t0
        t_noop = _time(py + ["run"], ws)
        print(f"--help:           {t_help:.3f} s  (target < 0.3 s)")
        print(f"cold run titanic: {t_cold:.3f} s")
        print(f"no-op run:        {t_noop:.3f} s  (target < 1 s)")


if __name__ == "__main__":
    main()
