"""Stage functions for tests/pipeline/test_alongside.py, importable by the process a stage runs alongside in."""

from __future__ import annotations

import os
from pathlib import Path

from core import io as _io
from core.errors import UserError


def _write_pid(ctx, name: str) -> list[Path]:
    out = ctx.runs / name
    out.mkdir(parents=True, exist_ok=True)
    _io.write_text(out / "pid.txt", str(os.getpid()))
    ctx.log(f"[{name}] wrote {out / 'pid.txt'}")
    return [out / "pid.txt"]


def report(ctx) -> list[Path]:
    """The alongside stage: reads the data, writes the pid of the process it ran in."""
    train, _, _ = ctx.data()
    assert len(train) > 0
    return _write_pid(ctx, "report")


def report_fails(ctx) -> list[Path]:
    raise UserError("report: the data has no column 'nope'; name an existing column in [explore]")


def work(ctx) -> list[Path]:
    return _write_pid(ctx, "work")


def work_fails(ctx) -> list[Path]:
    raise UserError("work: something a user must fix")


def work_crashes(ctx) -> list[Path]:
    raise RuntimeError("work: a bug, not bad input")


def report_slow(ctx) -> list[Path]:
    """The alongside stage when it is still running at the main work's end (it waits for a file that
    never comes, so the run must stop it)."""
    import time

    while not (ctx.runs / "never").exists():
        time.sleep(0.05)
    return _write_pid(ctx, "report")


def _never_in_its_own_process() -> None:
    """Block for ever in a spawned process (a report starved beside busy processes); return in the run's."""
    import multiprocessing
    import time

    while multiprocessing.parent_process() is not None:
        time.sleep(0.05)


def report_starved(ctx) -> list[Path]:
    """The alongside stage as it is beside busy processes it may not be lifted above: in its own process it
    never ends (the run must stop it and run it again in turn); in the run's process it writes its pid."""
    _never_in_its_own_process()
    return _write_pid(ctx, "report")


def report_starved_fails(ctx) -> list[Path]:
    """As report_starved, but failing when it runs again in the run's process."""
    _never_in_its_own_process()
    raise UserError("report: the data has no column 'nope'; name an existing column in [explore]")
