"""Execution backends (pipeline/execution.py): the cv stage and a tuning study on worker processes (joblib
loky) and on a real dask.distributed LocalCluster give exactly the sequential run's predictions; the shared
data is sent once per stage; an unreachable scheduler, code the workers cannot import and a worker killed
mid-run each end in one line and exit code 2, and a re-run after a killed worker completes identically."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, make_workspace
from pipeline import execution
from pipeline.cli import main

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

MODELS = '''[models.lgbm]
type = "lightgbm"
params = { n_estimators = 60, early_stopping_rounds = 10 }

[models.small]
type = "lightgbm"
params = { num_leaves = 7, n_estimators = 30, early_stopping_rounds = 0 }

[models.guarded]
type = "guarded"
preprocess = "impute"

[models.lgbm.search_space]
num_leaves = { low = 4, high = 64, log = true }
learning_rate = { low = 0.05, high = 0.3, log = true }
'''

# a plug-in model that kills its own process while the file KILL exists next to it (a worker dying mid-run),
# once the runs KILL names are written: which models finished is then the same however the folds are timed
GUARDED = '''"""Logistic regression ; its process dies (SIGKILL) while a file KILL sits beside it, once the
model runs named in KILL are written (at most a minute's wait)."""
import os
import signal
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression


class Model(BaseEstimator):
    def __init__(self, C: float = 0.5):
        self.C = C

    def fit(self, X, y):
        kill = Path(__file__).parent / "KILL"
        if kill.exists():
            runs = Path(__file__).parent.parent / "runs" / "models"
            for _ in range(600):
                if all((runs / name).is_dir() for name in kill.read_text().split()):
                    break
                time.sleep(0.1)
            os.kill(os.getpid(), signal.SIGKILL)
        X = np.nan_to_num(np.asarray(X, dtype=np.float64))
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(np.nan_to_num(np.asarray(X, dtype=np.float64)))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
'''
RUN_MODELS = ("lgbm", "small", "guarded")


def _workspace(tmp_path: Path, runtime: str = "", repeats: int = 1) -> Path:
    """Titanic with two small LightGBM models and the plug-in above; `runtime` lines go in [runtime]."""
    shipped = (REPO / "competition" / "titanic" / "competition.toml").read_text()
    config = shipped[: shipped.index("[models.")].replace("[runtime]\n", f"[runtime]\n{runtime}\n") + MODELS
    ws = make_workspace(tmp_path, config=config, repeats=repeats)
    plugins = ws / "competition" / "titanic" / "models"
    plugins.mkdir()
    (plugins / "guarded.py").write_text(GUARDED)
    return ws


def _runs(ws: Path) -> Path:
    return ws / "competition" / "titanic" / "runs"


def _predictions(ws: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in RUN_MODELS:
        for part in ("oof", "test"):
            out[f"{name}/{part}"] = pd.read_parquet(_runs(ws) / "models" / name / f"{part}.parquet")
    return out


def _assert_identical(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key in want:
        pd.testing.assert_frame_equal(got[key], want[key], check_exact=True, obj=key)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> dict:
    """The cv stage's predictions with the sequential backend (the reference)."""
    ws = _workspace(tmp_path_factory.mktemp("sequential"))
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    return _predictions(ws)


# The scheduler serves HTTP (health, metrics) even without a dashboard, on 8787 unless told otherwise; a
# second cluster beside the module's would find it taken and warn. Any free port keeps the two apart.
_ANY_PORT = ":0"


@pytest.fixture(scope="module")
def cluster():
    """A real dask.distributed LocalCluster: 2 worker processes, 1 thread each."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=_ANY_PORT) as c:
        yield c
        execution.close_all()


@pytest.fixture(autouse=True)
def _close_backends():
    yield
    execution.close_all()


def _runtime(kind: str, cluster) -> str:
    # "processes" forced: the test competition is small enough that "auto" would train in this process
    return 'n_jobs = 2\nbackend = "processes"' if kind == "processes" else \
        f'backend = "dask"\nscheduler = "{cluster.scheduler_address}"'


def test_shared_file_maps_the_arrays_and_reads_back_equal(tmp_path):
    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from models._cv import CVData

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=500).astype("float32"), "b": rng.normal(size=500),
                      "c": pd.Categorical(rng.choice(["x", "y", "z"], 500))})
    data = CVData(X, rng.integers(0, 2, 500), X.iloc[:50], np.arange(500) % 5, TaskInfo("binary", (0, 1)),
                  get_metric("roc_auc"), {"img": (rng.normal(size=(500, 4, 4)), rng.normal(size=(50, 4, 4)))})
    execution.write_shared(tmp_path / "shared.bin", data)
    back = execution.read_shared(tmp_path / "shared.bin")
    pd.testing.assert_frame_equal(back.X_train, X, check_exact=True)
    assert np.array_equal(back.y, data.y) and np.array_equal(back.arrays["img"][1], data.arrays["img"][1])
    assert back.metric.name == "roc_auc" and back.task.n_classes == 2
    base = back.arrays["img"][0]
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)  # mapped from the file, not copied


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_cv_stage_on_workers_equals_the_sequential_run_and_sends_the_data_once(kind, tmp_path, sequential,
                                                                               cluster, monkeypatch, capsys):
    published = []
    cls = execution.ProcessesBackend if kind == "processes" else execution.DaskBackend
    original = cls._publish
    monkeypatch.setattr(cls, "_publish", lambda self, shared: published.append(1) or original(self, shared))
    ws = _workspace(tmp_path, _runtime(kind, cluster))
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    _assert_identical(_predictions(ws), sequential)
    assert len(published) == 1  # three models x five folds, one copy of the matrices
    err = capsys.readouterr().err
    assert f"[runtime] tasks run on {kind}" in err


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_a_tuning_study_on_workers_runs_trial_loops_in_worker_processes_with_sequential_scores(kind, tmp_path,
                                                                                              cluster, capsys):
    import os
    import socket

    import optuna

    from pipeline.config import load_competition
    from pipeline.execution import SEQUENTIAL
    from pipeline.context import CompetitionContext

    ws = _workspace(tmp_path, _runtime(kind, cluster))
    assert main(["tune", "--root", str(ws), "--model", "lgbm", "--trials", "4", "--seed", "3"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "failed with value" not in err
    url = f"sqlite:///{ws / 'runs.db'}"
    (summary,) = optuna.get_all_study_summaries(url)
    study = optuna.load_study(study_name=summary.study_name, storage=url)
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 4
    # two trial loops share the study; how many trials each trains depends on when its process starts (one
    # started late on a loaded machine may train none), so only where they trained is asserted
    assert "[tune] 2 trial loops on" in out + err
    workers = {t.user_attrs["worker"] for t in done}
    assert 1 <= len(workers) <= 2 and f"{socket.gethostname()}:{os.getpid()}" not in workers
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # their samplers' seeds differ
    # the best trial's score is exactly what a sequential CV with its parameters gives
    comp = load_competition(ws / "competition" / "titanic")
    training = CompetitionContext(comp, log=lambda m: None).training(backend=SEQUENTIAL)
    spec = comp.models["lgbm"]
    best = study.best_trial
    result = training.train_cv("lgbm", {**spec, "params": {**spec["params"], **best.params}}, threads=1,
                               progress=False)
    assert result.overall == best.value
    assert result.fold_scores == best.user_attrs["fold_scores"]
    assert f"best roc_auc {best.value:.5f}" in out


def test_an_unreachable_scheduler_exits_2_with_one_line(tmp_path):
    """The connection gives up after execution.CONNECT_TIMEOUT_S (a setting, not a measured time: a
    loaded machine must not fail this test); the subprocess timeout only guards against a hang."""
    ws = _workspace(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--root", str(ws), "--scheduler",
                           f"tcp://127.0.0.1:{port}"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot reach the dask scheduler at 'tcp://127.0.0.1:{port}'")
    assert not (_runs(ws) / "models").exists()  # nothing ran


@pytest.mark.parametrize("address", ["garbage", "localhost"])
def test_a_scheduler_address_that_is_not_one_says_what_an_address_looks_like(address):
    """Not an address (no port): the line shows one, rather than `dask worker garbage` to start a scheduler at it."""
    from core.errors import UserError

    with pytest.raises(UserError, match=rf"^cannot reach the dask scheduler at '{address}' \(ValueError: .*\); give "
                                        r"its address as `dask scheduler` prints it, e.g. tcp://host:8786"):
        execution.DaskBackend(address)


def test_model_code_the_workers_cannot_import_is_one_clear_line(tmp_path, cluster, monkeypatch, capsys):
    # a plug-in package importable here (its folder added to sys.path after the workers started), not there
    package = tmp_path / "pkgs"
    package.mkdir()
    (package / "only_here_model.py").write_text("from sklearn.linear_model import LogisticRegression as Model\n")
    monkeypatch.syspath_prepend(str(package))
    ws = _workspace(tmp_path, _runtime("dask", cluster))
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text() + '\n[models.here]\ntype = "only_here_model.Model"\npreprocess = "impute"\n')
    assert main(["run", "--root", str(ws), "--stage", "cv", "--models", "here"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: on worker ") and "only_here_model" in err[-1]
    assert "must be importable on every worker" in err[-1]
    assert sum("error:" in line for line in err) == 1 and not any("Traceback" in line for line in err)
    assert not (_runs(ws) / "models" / "here").exists()


def test_auto_trains_small_work_in_this_process_even_with_n_jobs(tmp_path, sequential, capsys):
    ws = _workspace(tmp_path, "n_jobs = 2")
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    _assert_identical(_predictions(ws), sequential)
    err = capsys.readouterr().err
    assert "s of training: less than starting 2 worker processes costs, so it runs in this process" in err


def test_each_cv_repeat_goes_to_the_workers_as_one_set_of_tasks_with_the_sequential_predictions(tmp_path, capsys):
    """With two CV repeats, the second repeat's folds of all models are one set of tasks too (no model waits
    for another's last fold); the predictions equal the sequential run's."""
    published = []
    original = execution.ProcessesBackend._publish

    def count(self, shared):
        published.append(1)
        return original(self, shared)

    runs = {}
    for kind in ("sequential", "processes"):
        ws = _workspace(tmp_path / kind, _runtime(kind, None) if kind == "processes" else "", repeats=2)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(execution.ProcessesBackend, "_publish", count)
            assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
        runs[kind] = _predictions(ws)
        repeats = pd.read_parquet(_runs(ws) / "models" / "small" / "oof_repeats.parquet")
        assert sorted(repeats["repeat"].unique()) == [0, 1]
    _assert_identical(runs["processes"], runs["sequential"])
    assert len(published) == 2  # one copy of each repeat's matrices
    err = capsys.readouterr().err
    assert "[cv] CV repeat 2 of 2: lgbm, small, guarded" in err and "lgbm: CV repeat 2 of 2" in err


def test_a_worker_killed_mid_run_fails_the_stage_cleanly_and_a_rerun_completes_identically(tmp_path, sequential,
                                                                                           capsys):
    ws = _workspace(tmp_path, _runtime("processes", None))
    kill = ws / "competition" / "titanic" / "models" / "KILL"
    kill.write_text("lgbm small")  # their folds go to the workers first; the guarded model dies after them
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: a worker process died while running this stage's tasks")
    assert sum("error:" in line for line in err) == 1 and not any("Traceback" in line for line in err)
    models = _runs(ws) / "models"
    assert not (models / "guarded").exists()  # the unfinished model left nothing
    assert sorted(p.name for p in models.iterdir()) == ["lgbm", "small"]  # the finished ones are complete
    kill.unlink()
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    _assert_identical(_predictions(ws), sequential)


def test_on_a_dask_cluster_a_task_that_kills_its_worker_fails_the_stage_in_one_line_and_a_rerun_completes(
        tmp_path, sequential, capsys):
    import dask
    from distributed import LocalCluster

    # a task whose worker died is retried on another (allowed-failures); here no retry, to fail at once
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=_ANY_PORT) as c:
        ws = _workspace(tmp_path, _runtime("dask", c))
        kill = ws / "competition" / "titanic" / "models" / "KILL"
        kill.write_text("")
        assert main(["run", "--root", str(ws), "--stage", "cv", "--models", "guarded"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: a worker process died while running this stage's tasks")
        assert not (_runs(ws) / "models" / "guarded").exists()
        kill.unlink()
        assert main(["run", "--root", str(ws), "--stage", "cv", "--models", "guarded"]) == 0
        got = {f"guarded/{part}": pd.read_parquet(_runs(ws) / "models" / "guarded" / f"{part}.parquet")
               for part in ("oof", "test")}
        _assert_identical(got, {k: v for k, v in sequential.items() if k.startswith("guarded/")})
        execution.close_all()


def _grow_and_report(shared, item: int) -> int:
    """Task `item`: after the first, hold 200 MB more and wait past loky's one-second check interval."""
    import time

    if item > 0:  # kept by the worker's sys module: outlives the task, as an imported library's memory
        sys.__dict__.setdefault("_test_held", []).append(np.ones(25_000_000))  # 200 MB, written: resident
        time.sleep(1.2)
    return os.getpid()


def test_a_worker_whose_memory_grows_like_a_torch_import_is_not_restarted(tmp_path):
    """loky takes 300 MB of growth after a worker's first task for a leak and starts a new worker (which
    imports every library again): the first net fold's torch import did that on every run with workers."""
    backend = execution.ProcessesBackend(2, scratch=tmp_path)  # one worker would run in this process
    try:
        pids = list(backend.map(_grow_and_report, {"x": np.arange(3)}, list(range(8))))
    finally:
        backend.close()
    assert len(set(pids)) <= backend.workers, pids


def _loky_workers() -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True)
            if any("loky" in part for part in p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())]


def test_the_command_line_ends_its_workers_when_the_command_returns_and_main_keeps_them(tmp_path, monkeypatch):
    """`console` (python -m pipeline, kpipe) closes the backends it opened before the interpreter's exit, where
    loky would wait for the workers to wind down; callers of `main` keep them for their next call."""
    ws = _workspace(tmp_path / "main", _runtime("processes", None))
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    assert execution._OPEN and _loky_workers()
    ws = _workspace(tmp_path / "console", _runtime("processes", None))
    monkeypatch.setattr(sys, "argv", ["pipeline", "run", "--root", str(ws), "--stage", "cv"])
    from pipeline.cli import console

    assert console() == 0
    assert not execution._OPEN
    for worker in _loky_workers():  # killed: gone, or a zombie until loky's manager thread reaps it
        assert worker.status() == "zombie"


def test_workers_started_before_the_code_was_edited_are_refused_in_one_line(tmp_path):
    """A dask worker keeps the modules it imported: after an edit of the project's code it would train the
    old models while the run records the new code's fingerprints. A real scheduler and worker run a copy
    of the project; the first run trains, the same run after an edit of that copy exits 2 with one line
    before any stage, and a worker started after the edit trains again."""
    import json
    import shutil
    import time

    project = tmp_path / "project"
    for package in ("core", "features", "models", "pipeline"):
        shutil.copytree(REPO / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(project)}
    ws = _workspace(tmp_path)
    address_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m"]
    started = [subprocess.Popen([*dask, "distributed.cli.dask_scheduler", "--port", "0", "--dashboard-address",
                                 ":0", "--scheduler-file", str(address_file)], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]

    def worker() -> subprocess.Popen:
        return subprocess.Popen([*dask, "distributed.cli.dask_worker", "--scheduler-file", str(address_file),
                                 "--nthreads", "1", "--nworkers", "1"], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline", "run", "--root", str(ws), "--stage", "cv",
                               "--models", "lgbm", "--scheduler", address], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)

    try:
        for _ in range(600):  # the scheduler writes its address when it listens
            if address_file.exists() and address_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        started.append(worker())
        first = run()
        assert first.returncode == 0, first.stderr
        (project / "models" / "lgbm.py").write_text((project / "models" / "lgbm.py").read_text() + "# edited\n")
        edited = run()
        assert edited.returncode == 2, edited.stderr
        lines = edited.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: 1 of 1 dask worker(s) at '{address}' run other "
                                                      f"project code than this process"), lines
        assert "started before the code was edited" in lines[0] and "restart them" in lines[0]
        started.pop().terminate()
        started.append(worker())
        again = run()
        assert again.returncode == 0, again.stderr
        assert "[cv] lgbm: roc_auc" in again.stderr  # the edit is code: the model trained again, on the new worker
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=60)


INTERRUPTING = '''
import os
import signal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression


class Model(BaseEstimator):
    """Presses Ctrl-C for the command (its parent) from inside a worker's fit."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        os.kill(os.getppid(), signal.SIGINT)
        self.model_ = LogisticRegression(C=self.C).fit(np.nan_to_num(np.asarray(X, dtype=float)), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(np.nan_to_num(np.asarray(X, dtype=float)))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
'''


def test_ctrl_c_while_workers_train_ends_in_one_line_and_leaves_no_run(tmp_path):
    """Ctrl-C reaches the command while its worker processes train: exit 130, the run's last line says so, no
    run folder of the model it interrupted, and nothing from loky's resource tracker after that line (it
    warned, on some runs, of "leaked folder objects": folders joblib registers and never makes here)."""
    import signal

    ws = _workspace(tmp_path, _runtime("processes", None))
    config = ws / "competition" / "titanic" / "competition.toml"
    config.write_text(config.read_text() + '\n[models.interrupting]\ntype = "interrupting"\npreprocess = "scale"\n')
    (ws / "competition" / "titanic" / "models" / "interrupting.py").write_text(INTERRUPTING)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--root", str(ws), "--stage", "cv", "--models",
                           "interrupting"], capture_output=True, text=True, cwd=REPO, timeout=600,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("interrupted: finished stages are kept, the unfinished one left "
                                                    "nothing behind"), proc.stderr
    assert not (_runs(ws) / "models" / "interrupting").exists()


def test_the_processes_backend_quiets_the_resource_trackers_note_on_folders_it_never_made(monkeypatch):
    """The filter the backend adds to PYTHONWARNINGS (which loky's tracker process starts with) silences that
    note, and only that one, in a process started from this environment."""
    monkeypatch.setenv("PYTHONWARNINGS", "default")
    execution.ProcessesBackend(2)
    assert os.environ["PYTHONWARNINGS"] == "default," + execution._TRACKER_NOTE
    execution.ProcessesBackend(2)  # once
    assert os.environ["PYTHONWARNINGS"].count(execution._TRACKER_NOTE) == 1
    code = ("import warnings; warnings.warn('resource_tracker: There appear to be 1 leaked folder objects', "
            "UserWarning); warnings.warn('another note', UserWarning)")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stderr
    assert "leaked folder" not in err and "another note" in err


def _slow_square(_shared, item: int) -> int:
    import time

    time.sleep(0.3)
    return item * item


@pytest.mark.filterwarnings("error::UserWarning")
def test_a_map_stopped_after_its_first_result_says_nothing_of_the_tasks_it_dropped(tmp_path):
    """A pruned trial or a member stopped past its time budget closes the map early: joblib's note that
    tasks ran or were cancelled in vain is not the user's news."""
    backend = execution.ProcessesBackend(2, scratch=tmp_path)
    try:
        results = backend.map(_slow_square, {"x": np.arange(3)}, list(range(8)))
        assert next(results) == 0
        results.close()
    finally:
        backend.close()
