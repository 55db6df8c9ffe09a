"""Seconds a default-zoo run spends on the run registry, SQLite against PostgreSQL.

Runs titanic's default zoo (the shipped competition.toml, every model) through the cv stage once per
registry -- the workspace's SQLite runs.db, then a PostgreSQL server started like the tests' one
(tests/postgres_server.py) -- and times, inside the run, every registry call: opening it (engine and
tables), recording the batch, reading the history. Prints the seconds of each beside the run's wall time.

    .venv/bin/python benchmarks/registry.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed_run(url: str | None) -> tuple[float, dict[str, float]]:
    """(wall seconds of `run --stage cv --force`, seconds per registry call kind) in a fresh workspace."""
    from pipeline import run_registry
    from pipeline.cli import main
    from tests.conftest import make_workspace

    spent = {"open": 0.0, "record": 0.0, "read": 0.0}
    originals = {"open": run_registry.Registry.__init__, "record": run_registry.Registry.record,
                 "read": run_registry.Registry.leaderboard}

    def timer(kind):
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return originals[kind](*args, **kwargs)
            finally:
                spent[kind] += time.perf_counter() - t0
        return wrapped

    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    ws = make_workspace(tmp, all_models=True)
    if url:
        os.environ[run_registry.ENV_URL] = url
    else:
        os.environ.pop(run_registry.ENV_URL, None)
    os.environ["PIPELINE_PROGRESS"] = "off"
    assert main(["run", "--stage", "features", "--root", str(ws)]) == 0
    run_registry.Registry.__init__ = timer("open")
    run_registry.Registry.record = timer("record")
    run_registry.Registry.leaderboard = timer("read")
    try:
        t0 = time.perf_counter()
        assert main(["run", "--stage", "cv", "--force", "--root", str(ws)]) == 0
        wall = time.perf_counter() - t0
    finally:
        run_registry.Registry.__init__ = originals["open"]
        run_registry.Registry.record = originals["record"]
        run_registry.Registry.leaderboard = originals["read"]
        shutil.rmtree(tmp, ignore_errors=True)
    return wall, spent


def main() -> int:
    import contextlib
    import io

    from tests import postgres_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per registry (the median is printed)")
    args = parser.parse_args()
    why = postgres_server.unavailable()
    server = None if why else postgres_server.start()
    rows = []
    try:
        for label in ("sqlite", "postgresql"):
            if label == "postgresql" and server is None:
                print(f"postgresql: skipped ({why})")
                continue
            results = []
            for _ in range(args.repeats):
                url = server.create_database() if label == "postgresql" else None
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    results.append(timed_run(url))
            results.sort(key=lambda r: r[0])
            wall, spent = results[len(results) // 2]
            rows.append((label, wall, spent))
    finally:
        if server is not None:
            server.close()
    print(f"titanic default zoo, cv stage (median of {args.repeats}); registry seconds inside the run:")
    print(f"{'registry':<11} {'run s':>7} {'open':>7} {'record':>7} {'read':>7} {'total':>7} {'share':>7}")
    for label, wall, spent in rows:
        total = sum(spent.values())
        print(f"{label:<11} {wall:7.2f} {spent['open']:7.3f} {spent['record']:7.3f} {spent['read']:7.3f} "
              f"{total:7.3f} {100 * total / wall:6.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
