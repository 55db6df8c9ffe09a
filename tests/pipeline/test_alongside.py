"""A stage declared `alongside` (the EDA report) runs in its own process beside the others: recorded as
any stage, its lines printed, its errors raised after the run; in turn when the runner's `alongside` is
off (the default of the Runner class; `python -m pipeline run` turns it on from [runtime] alongside)."""

from __future__ import annotations

import os
import re

import pytest

from core.errors import UserError
from pipeline.graph import Pipeline, Stage
from pipeline.runner import Runner, _beside_done
from pipeline.workspace import Workspace

_HERE = "tests.pipeline._alongside_stages"


def _pipeline(report: str = "report", work: str = "work") -> Pipeline:
    return Pipeline([Stage("report", "a report", f"{_HERE}:{report}", data=True, alongside=True),
                     Stage("work", "the main work", f"{_HERE}:{work}", data=True)])


def _runner(ws, pipeline: Pipeline, logs: list[str], *, alongside: bool = True) -> Runner:
    return Runner(pipeline, Workspace(ws).competition("titanic"), log=logs.append, alongside=alongside)


def _pid(ws, stage: str) -> int:
    return int((ws / "competition" / "titanic" / "runs" / stage / "pid.txt").read_text())


def test_an_alongside_stage_runs_in_its_own_process_and_is_recorded(titanic_ws):
    logs: list[str] = []
    assert _runner(titanic_ws, _pipeline(), logs).run() == ["work", "report"]
    assert _pid(titanic_ws, "work") == os.getpid()
    assert _pid(titanic_ws, "report") != os.getpid()
    assert "[report] running beside the other stages (never run)" in logs
    assert any(line.startswith("[report] wrote ") for line in logs)  # its own lines reach the run's log
    assert re.fullmatch(r"\[report\] done in \d+\.\ds \(beside the other stages; the run waited \d+\.\ds for it\)",
                        logs[-1])
    again: list[str] = []
    assert _runner(titanic_ws, _pipeline(), again).run() == []
    assert again == ["[report] fresh, skipped", "[work] fresh, skipped"]


def test_it_starts_before_the_main_work_even_when_listed_after_it(titanic_ws):
    """It needs no stage, so it starts first and has the core the first stages leave idle; in turn (off),
    the pipeline's own order stands."""
    late = Pipeline([Stage("work", "the main work", f"{_HERE}:work", data=True),
                     Stage("report", "a report", f"{_HERE}:report", data=True, alongside=True)])
    logs: list[str] = []
    assert _runner(titanic_ws, late, logs).run() == ["work", "report"]
    started = [line for line in logs if " running " in line]
    assert started == ["[report] running beside the other stages (never run)", "[work] running (never run)"]
    again: list[str] = []
    assert _runner(titanic_ws, late, again, alongside=False).run(force=True) == ["work", "report"]


def test_off_or_as_the_target_it_runs_in_turn_in_this_process(titanic_ws, tmp_path):
    logs: list[str] = []
    assert _runner(titanic_ws, _pipeline(), logs, alongside=False).run() == ["report", "work"]
    assert _pid(titanic_ws, "report") == os.getpid()
    assert _runner(titanic_ws, _pipeline(), logs).run("report", force=True) == ["report"]
    assert _pid(titanic_ws, "report") == os.getpid()


def test_its_error_ends_the_run_in_one_line_after_the_other_stages(titanic_ws):
    logs: list[str] = []
    with pytest.raises(UserError, match="has no column 'nope'"):
        _runner(titanic_ws, _pipeline(report="report_fails"), logs).run()
    assert _pid(titanic_ws, "work") == os.getpid()  # the main work finished and is kept
    assert _runner(titanic_ws, _pipeline(), []).run() == ["report"]  # nothing recorded for the failed one


def test_a_crash_in_the_main_work_still_keeps_the_report(titanic_ws):
    logs: list[str] = []
    with pytest.raises(RuntimeError, match="a bug, not bad input"):
        _runner(titanic_ws, _pipeline(work="work_crashes"), logs).run()
    assert _pid(titanic_ws, "report") != os.getpid()
    assert _runner(titanic_ws, _pipeline(), []).run() == ["work"]  # the report was recorded: fresh


def test_bad_input_found_by_the_main_work_stops_an_unfinished_report_and_leaves_nothing(titanic_ws):
    runs = titanic_ws / "competition" / "titanic" / "runs"
    with pytest.raises(UserError, match="something a user must fix"):
        _runner(titanic_ws, _pipeline(report="report_slow", work="work_fails"), []).run()
    assert not (runs / "report").exists() and not (runs / ".state" / "report.json").exists()
    assert _runner(titanic_ws, _pipeline(), []).run() == ["work", "report"]  # nothing was recorded


def test_a_stage_another_needs_cannot_run_alongside():
    with pytest.raises(ValueError, match="runs alongside, but 'b' needs it"):
        Pipeline([Stage("a", "", "m:f", alongside=True), Stage("b", "", "m:f", needs=("a",))])


def test_the_run_command_runs_the_report_beside_unless_the_config_says_no(titanic_ws, capsys):
    from pipeline.cli import main

    assert main(["run", "--root", str(titanic_ws), "--stage", "features"]) == 0  # the target's upstream only
    assert main(["run", "--root", str(titanic_ws)]) == 0
    err = capsys.readouterr().err
    assert "[explore] running beside the other stages" in err and "(beside the other stages; the run waited" in err
    assert (titanic_ws / "competition" / "titanic" / "runs" / "explore" / "report.html").is_file()
    config = titanic_ws / "competition" / "titanic" / "competition.toml"
    config.write_text(config.read_text().replace("[runtime]\n", "[runtime]\nalongside = false\n", 1))
    assert main(["run", "--root", str(titanic_ws), "--force"]) == 0  # every stage again, the report in turn
    err = capsys.readouterr().err
    assert "[explore] running (forced)" in err and "beside" not in err


def test_the_closing_line_gives_the_reports_own_time_and_the_runs_wait_for_it():
    # its own time runs from its start to its result, not to when the run collected it
    assert _beside_done("explore", 4.04, 0.0) == ("[explore] done in 4.0s (beside the other stages; "
                                                   "the run waited 0.0s for it)")
    assert _beside_done("explore", 3.0, 2.56).endswith("the run waited 2.6s for it)")
    assert _beside_done("explore", -0.01, 0.0).startswith("[explore] done in 0.0s")  # a wall-clock step back


def _lift_allowed() -> bool:
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling policies")
def test_a_report_the_run_waits_for_is_lifted_to_normal_priority_thread_by_thread():
    """Idle-only (as `_yield_cpu` starts it), with a second thread that inherited it: `_lift` puts every
    thread back to normal priority where Linux allows it, and says False, changing nothing, where not."""
    import subprocess
    import sys

    from pipeline.runner import _lift

    code = ("import os, sys, threading; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)); "
            "threading.Thread(target=sys.stdin.read, daemon=True).start(); print('ready', flush=True); "
            "sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        threads = [int(t) for t in os.listdir(f"/proc/{child.pid}/task")]
        assert len(threads) == 2 and all(os.sched_getscheduler(t) == os.SCHED_IDLE for t in threads)
        lifted = _lift(child.pid)
        policies = {os.sched_getscheduler(t) for t in threads}
        if _lift_allowed():
            assert lifted and policies == {os.SCHED_OTHER}
        else:
            assert not lifted and policies == {os.SCHED_IDLE}
    finally:
        child.stdin.close()
        child.wait()
    assert not _lift(child.pid)  # gone: nothing to lift, no error


def test_the_run_lifts_the_report_only_when_it_has_to_wait_for_it(monkeypatch):
    import pipeline.runner as runner_module

    lifted: list[int] = []
    monkeypatch.setattr(runner_module, "_lift", lifted.append)

    class Results:
        def __init__(self, ready: bool):
            self.ready = ready

        def poll(self):
            return self.ready

        def recv(self):
            return False, RuntimeError("the report failed"), [], 0.0

    class Process:
        pid, exitcode = 4242, 1

        def join(self):
            pass

    logs: list[str] = []
    runner = type("R", (), {"log": staticmethod(logs.append)})()
    for ready in (True, False):
        beside = runner_module._Alongside(Stage("report", "", "m:f", alongside=True), None, Process(), Results(ready), 0.0)
        beside.finish(runner, raise_error=False)
    assert lifted == [4242] and logs == ["[report] failed: the report failed"] * 2


def test_a_starved_report_that_may_not_be_lifted_runs_again_in_the_runs_process(titanic_ws, monkeypatch):
    import pipeline.runner as runner_module

    monkeypatch.setattr(runner_module, "_lift", lambda pid: False)
    monkeypatch.setattr(runner_module, "_starved", lambda pid: True)
    logs: list[str] = []
    assert _runner(titanic_ws, _pipeline(report="report_starved"), logs).run() == ["work", "report"]
    assert _pid(titanic_ws, "report") == os.getpid()
    assert ("[report] gets no CPU at idle priority beside this machine's other work, and may not be lifted: "
            "running it again in this process") in logs
    assert re.fullmatch(r"\[report\] done in \d+\.\ds", logs[-1])
    assert _runner(titanic_ws, _pipeline(), []).run() == []  # recorded as any stage: fresh


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux process states")
def test_a_sleeping_or_finished_process_is_not_starved():
    """Only a process ready to run counts: one asleep (waiting on input) reads as not starved whatever its
    CPU, and so does one that has ended. (A starved one's reading depends on the machine's load: not tested.)"""
    import subprocess
    import sys

    from pipeline.runner import _starved

    child = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    import psutil

    assert child.stdout.readline().strip() == "ready"
    while psutil.Process(child.pid).status() != psutil.STATUS_SLEEPING:  # until it waits on its input
        pass
    assert not _starved(child.pid, sample_seconds=0.05)
    child.stdin.close()
    child.wait()
    assert not _starved(child.pid, sample_seconds=0.05)


def test_after_a_crash_in_the_main_work_a_starved_reports_own_error_is_only_logged(titanic_ws, monkeypatch):
    import pipeline.runner as runner_module

    monkeypatch.setattr(runner_module, "_lift", lambda pid: False)
    monkeypatch.setattr(runner_module, "_starved", lambda pid: True)
    logs: list[str] = []
    with pytest.raises(RuntimeError, match="a bug, not bad input"):  # the main work's error, not the report's
        _runner(titanic_ws, _pipeline(report="report_starved_fails", work="work_crashes"), logs).run()
    assert logs[-1] == "[report] failed: report: the data has no column 'nope'; name an existing column in [explore]"
    with pytest.raises(UserError, match="has no column 'nope'"):  # after a good main work: raised
        _runner(titanic_ws, _pipeline(report="report_starved_fails"), []).run()
