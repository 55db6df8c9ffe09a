"""The cv stage's automatic workers (runtime.n_jobs = 0): one worker process per core once the estimated
training pays for starting them, else this process; an explicit n_jobs or backend is left alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import execution
from pipeline.planner import Cost
from pipeline.stages import cv


def _ctx(n_jobs: int = 0, backend: str = "auto", repeats: int = 1, models: dict | None = None):
    made = []

    def training(*, backend=None):
        made.append(backend)
        return SimpleNamespace(backend=backend)

    comp = SimpleNamespace(cfg={"runtime": {"n_jobs": n_jobs, "backend": backend, "scheduler": ""}}, runs=None,
                           models=models or {"a": {}, "b": {}})
    return SimpleNamespace(cfg=comp.cfg, comp=comp, log=lambda m: None, training=training,
                           repeats=lambda: repeats), made


@pytest.fixture
def opened(monkeypatch):
    """backend_for records the worker count asked for instead of starting processes."""
    asked = []
    monkeypatch.setattr(execution, "backend_for", lambda comp, *, log, n_jobs=None: asked.append(n_jobs) or "workers")
    monkeypatch.setattr("core.threads.cpu_count", lambda: 4)
    monkeypatch.setattr("core.threads.idle_cores", lambda: 3.8)
    monkeypatch.setattr("core.threads.busy_only_in_other_groups", lambda: False)  # not this machine's load
    return asked


def _costs(seconds: float):
    def costs(training, names, *, measured=True):
        assert not measured, "where the folds train must not depend on measured seconds"
        return {name: Cost(seconds / len(names), "estimated") for name in names}

    return costs


def test_work_that_pays_for_workers_runs_on_one_per_core(monkeypatch, opened):
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS + 1))
    ctx, _ = _ctx()
    assert cv._training(ctx, ["a", "b"]).backend == "workers"
    assert opened == [4]


@pytest.mark.parametrize(("idle", "workers"), [(1.4, 2), (2.6, 3), (0.2, 2), (3.8, 4)])
def test_workers_take_the_idle_cores_and_two_at_least(monkeypatch, opened, idle, workers):
    # beside a busy process of the run's own group two workers still get a share of the core they share, where
    # this process gets one
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS + 1))
    monkeypatch.setattr("core.threads.idle_cores", lambda: idle)
    ctx, _ = _ctx()
    assert cv._training(ctx, ["a"]).backend == "workers"
    assert opened == [workers]


def test_one_core_trains_in_this_process(monkeypatch, opened):
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS + 1))
    monkeypatch.setattr("core.threads.cpu_count", lambda: 1)
    ctx, _ = _ctx()
    assert cv._training(ctx, ["a"]).backend is None and opened == []


def test_idle_cores_are_a_share_of_this_process_cores():
    from core.threads import cpu_count, idle_cores

    assert 0.0 <= idle_cores(0.05) <= cpu_count() + 1e-9


def test_small_work_trains_in_this_process(monkeypatch, opened):
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS - 1))
    ctx, _ = _ctx()
    assert cv._training(ctx, ["a", "b"]).backend is None
    assert opened == []


def test_the_work_counts_every_cv_repeat(monkeypatch, opened):
    """Workers start once and share every repeat's folds: two repeats of work just below the line pay."""
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS * 0.6))
    ctx, _ = _ctx(repeats=1)
    assert cv._training(ctx, ["a", "b"]).backend is None
    ctx, _ = _ctx(repeats=2)
    assert cv._training(ctx, ["a", "b"]).backend == "workers"
    assert opened == [4]


def test_a_model_capped_at_one_repeat_counts_once(monkeypatch, opened):
    """models.NAME.repeats = 1 (the zoo's MLP): its second repeat is no work for the workers."""
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS * 0.8))  # 0.4 of the line each
    ctx, _ = _ctx(repeats=2, models={"a": {"repeats": 1}, "b": {"repeats": 1}})
    assert cv._training(ctx, ["a", "b"]).backend is None  # 0.4 + 0.4: under the line
    ctx, _ = _ctx(repeats=2, models={"a": {"repeats": 1}, "b": {}})
    assert cv._training(ctx, ["a", "b"]).backend == "workers"  # 0.4 + 0.4 x 2: over it
    assert opened == [4]


@pytest.mark.parametrize(("n_jobs", "backend"), [(1, "auto"), (2, "auto"), (0, "sequential"), (0, "processes")])
def test_an_explicit_setting_is_left_alone(monkeypatch, opened, n_jobs, backend):
    monkeypatch.setattr(cv, "_costs", _costs(1000.0))
    ctx, _ = _ctx(n_jobs, backend)
    assert cv._training(ctx, ["a"]).backend is None  # the backend [runtime] names, opened by ModelSetup
    assert opened == []


def test_automatic_n_jobs_is_one_worker_for_every_other_stage():
    comp = SimpleNamespace(cfg={"runtime": {"n_jobs": 0, "backend": "auto", "scheduler": ""}}, runs=Path("runs"))
    s = execution.settings(comp)
    assert (s.backend, s.n_jobs) == ("sequential", 1)
    assert execution.settings(comp, n_jobs=2).backend == "processes"


@pytest.mark.parametrize(("apart", "expected"), [(True, "here"), (False, "workers")])
def test_fewer_than_two_idle_cores_train_here_when_the_busy_process_is_in_another_group(monkeypatch, opened,
                                                                                           apart, expected):
    """Beside a busy process of another session or cgroup the scheduler shares the cores between the groups,
    so two workers would get what this process gets; beside one of the run's own group they get more."""
    monkeypatch.setattr(cv, "_costs", _costs(cv.AUTO_WORKERS_FROM_SECONDS + 1))
    monkeypatch.setattr("core.threads.cpu_count", lambda: 2)
    monkeypatch.setattr("core.threads.idle_cores", lambda: 1.1)
    monkeypatch.setattr("core.threads.busy_only_in_other_groups", lambda: apart)
    ctx, _ = _ctx()
    said = []
    ctx.log = said.append
    assert (cv._training(ctx, ["a"]).backend or "here") == expected
    assert opened == ([] if apart else [2])
    assert said == (["[runtime] another session keeps a core busy: the folds train in this process"] if apart else [])
    monkeypatch.setattr("core.threads.idle_cores", lambda: 1.6)  # two idle cores: workers, wherever the rest is
    monkeypatch.setattr("core.threads.busy_only_in_other_groups", lambda: pytest.fail("not asked when idle"))
    assert cv._training(ctx, ["a"]).backend == "workers"


def test_busy_processes_count_by_their_scheduling_group(monkeypatch):
    """Busy processes outside the run decide by their group; idle ones and the run's own children do not."""
    import psutil

    from core import threads

    class Proc:
        def __init__(self, pid, cpu):
            self.pid, self.cpu = pid, cpu

        def cpu_percent(self, interval=None):
            return self.cpu

    class Me:
        pid = 1

        def children(self, recursive=False):
            return [Proc(2, 99.0)]

    groups = {"self": ("cg", "/autogroup-1"), 2: ("cg", "/autogroup-1"), 3: ("cg", "/autogroup-9"),
              4: ("cg", "/autogroup-1"), 5: ("other", "/autogroup-1")}
    monkeypatch.setattr(threads, "_group", lambda pid: groups.get(pid))
    monkeypatch.setattr(psutil, "Process", Me)
    table = {"another session": ([Proc(2, 99.0), Proc(3, 98.0), Proc(4, 3.0)], True),
             "another cgroup": ([Proc(5, 80.0)], True),
             "the same group": ([Proc(3, 98.0), Proc(4, 70.0)], False),
             "nothing busy": ([Proc(4, 10.0)], False),
             "gone before it was read": ([Proc(6, 99.0)], False)}
    for case, (procs, apart) in table.items():
        monkeypatch.setattr(psutil, "process_iter", lambda procs=procs: iter(procs))
        assert threads.busy_only_in_other_groups(0.0) is apart, case
    monkeypatch.setattr(threads, "_group", lambda pid: None)  # /proc cannot tell: keep the workers
    assert threads.busy_only_in_other_groups(0.0) is False


def test_a_process_in_a_new_session_is_in_another_autogroup_exactly_when_autogroup_is_on():
    """Read from /proc for real: a child started in a session of its own (as a program started elsewhere is)
    and one in this session, against this process."""
    import subprocess
    import sys

    from core.threads import _group

    if not Path("/proc/self/cgroup").exists():
        pytest.skip("no /proc here")
    flag = Path("/proc/sys/kernel/sched_autogroup_enabled")
    autogroup_on = flag.exists() and flag.read_text().strip() == "1"
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    apart, beside = subprocess.Popen(sleeper, start_new_session=True), subprocess.Popen(sleeper)
    try:
        mine = _group("self")
        assert mine is not None and _group(beside.pid) == mine
        assert (_group(apart.pid) != mine) == autogroup_on
        assert _group(apart.pid)[0] == mine[0]  # the same cgroups: only the session differs
    finally:
        for p in (apart, beside):
            p.kill()
            p.wait()
    assert _group(2 ** 22 + 1) is None  # no such process


def test_the_cpu_cgroup_is_where_the_cpu_controller_groups_a_process(tmp_path):
    """cgroup v1: the cpu hierarchy's path, whatever the memory cgroup; v2: the deepest ancestor whose parent
    enables the cpu controller, "/" when none does (autogroup then decides)."""
    from core.threads import _cpu_cgroup

    v1 = ["9:name=systemd:/user.slice", "4:memory:/process_api/e95d", "3:cpuset:/", "2:cpu,cpuacct:/user.slice",
          "1:cpuacct:/"]
    assert _cpu_cgroup(v1, root=str(tmp_path)) == "/user.slice"
    assert _cpu_cgroup(["4:memory:/process_api/e95d", "1:cpu:/"], root=str(tmp_path)) == "/"
    scope = ["0::/user.slice/user-1000.slice/app.slice/browser.scope"]
    assert _cpu_cgroup(scope, root=str(tmp_path)) == "/"  # no controller files: the root group
    (tmp_path / "cgroup.subtree_control").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "user.slice").mkdir()
    (tmp_path / "user.slice" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    (tmp_path / "user.slice" / "user-1000.slice").mkdir()
    (tmp_path / "user.slice" / "user-1000.slice" / "cgroup.subtree_control").write_text("memory pids\n")
    assert _cpu_cgroup(scope, root=str(tmp_path)) == "/user.slice/user-1000.slice"
    assert _cpu_cgroup(["0::/"], root=str(tmp_path)) == "/"


def test_the_runs_own_child_processes_count_as_idle(monkeypatch):
    """Both cores busy, one of them with this run's own child (the EDA report beside the cv stage): one
    core is the run's to give its workers; the other process's core is not."""
    import psutil

    from core.threads import idle_cores

    class Child:
        def cpu_percent(self, interval=None):
            return 97.0

    class Me:
        def children(self, recursive=False):
            return [Child()]

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(psutil, "Process", Me)
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval, percpu: [100.0, 99.0])
    assert idle_cores(0.0) == pytest.approx(0.98)
    monkeypatch.setattr(Me, "children", lambda self, recursive=False: [])
    assert idle_cores(0.0) == pytest.approx(0.01)


def test_the_folds_go_to_the_workers_longest_model_first():
    """A worker that ends early takes the short folds: the DenseNet's folds first, not last (ties and
    models without an estimate keep the config's order)."""
    costs = {"lgbm": Cost(34.0, "estimated"), "linear": Cost(0.5, "estimated"), "mlp": Cost(15.0, "measured"),
             "cnn": Cost(198.0, "estimated"), "ridge": Cost(0.5, "estimated")}
    assert cv._longest_first(["lgbm", "linear", "mlp", "cnn", "ridge", "new"], costs) == [
        "cnn", "lgbm", "mlp", "linear", "ridge", "new"]


def test_a_batched_model_records_its_folds_seconds_not_the_wait_for_its_result():
    """Models trained as one set of tasks record what their folds took (as a model trained alone would),
    whatever the order their results arrive in: the time between two results recorded a LightGBM at 0.02 s
    and put it before the MLP on the next run."""
    results = {"mlp": SimpleNamespace(timings={"folds": [1.5, 0.5, 1.0]}),
               "lgbm": SimpleNamespace(timings={"folds": [0.25, 0.25, 0.5]})}
    asked = []

    def train_cv_many(specs, *, here):
        asked.append(list(specs))
        yield from ((name, results[name]) for name in specs)

    setup = SimpleNamespace(train_cv_many=train_cv_many)
    ctx = SimpleNamespace(comp=SimpleNamespace(models={"lgbm": {}, "mlp": {}}))
    costs = {"lgbm": Cost(1.0, "measured"), "mlp": Cost(3.0, "measured")}
    took = {name: seconds for name, _, seconds in cv._batch(ctx, setup, ["lgbm", "mlp"], lambda: costs, False)}
    assert asked == [["mlp", "lgbm"]]
    assert took == {"mlp": 3.0, "lgbm": 1.0}


def test_a_long_training_says_how_long_it_expects_and_a_short_one_says_nothing():
    """A large table's cv stage may train for minutes before its first fold is reported: it says up front
    what the models' estimates add up to, shared by the workers (each model's seconds times its repeats)."""
    costs = {"lgbm": Cost(492.0, "estimated"), "linear": Cost(246.0, "estimated")}
    line = cv.expected_line(costs, {"lgbm": 1, "linear": 1}, workers=2)
    assert line == ("[cv] expected training: about 6 min for 2 model(s) on 2 workers (a rough estimate from the "
                    "model types' costs on this table); each fold is reported as it finishes")
    assert "about 25 min" in cv.expected_line(costs, {"lgbm": 2, "linear": 2}, workers=1)
    assert "from their earlier runs here" in cv.expected_line({"a": Cost(80.0, "measured")}, {"a": 1}, workers=1)
    assert "about 80 s for 1 model(s) (from" in cv.expected_line({"a": Cost(80.0, "measured")}, {"a": 1}, workers=1)
    assert cv.expected_line({"a": Cost(100.0, "estimated")}, {"a": 1}, workers=2) is None  # 50 s of wall time
