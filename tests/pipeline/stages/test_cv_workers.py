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
    # beside a busy process two workers still get a share of the core they share, where this process gets one
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
