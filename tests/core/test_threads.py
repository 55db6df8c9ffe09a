"""Automatic thread counts (the idle cores shared by the workers) and the OpenMP wait settings."""

from __future__ import annotations

import os

import pytest

from core import threads as T

MEASURE_IDLE_CORES = T.idle_cores  # tests/conftest.py replaces it in every test (load unknown)


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(T, "cpu_count", lambda: 4)
    monkeypatch.setattr(T, "_idle_now", lambda: None)  # the load is unknown: no test depends on this machine's


@pytest.mark.parametrize(("budget", "idle", "n_jobs", "expected"), [
    (2, None, 1, 2),   # load unknown (not Linux): the cores, as before
    (2, 2.0, 1, 2),    # quiet
    (2, 1.8, 1, 2),    # quiet, a little background work
    (2, 1.7, 1, 1),    # less than 3/4 of the second core free
    (2, 1.0, 1, 1),    # beside one busy process
    (2, 0.0, 1, 1),    # never fewer than one
    (16, 6.9, 1, 7),
    (8, 30.0, 1, 8),   # never more than the budget (affinity, workers)
    (2, 4.0, 2, 2),    # idle cores shared by the workers
    (1, 4.0, 2, 1),
])
def test_automatic_threads_are_a_thread_per_idle_core(budget, idle, n_jobs, expected):
    assert T.automatic_threads(budget, idle, n_jobs=n_jobs) == expected


def test_automatic_threads_look_at_this_machines_load_only(four_cores, monkeypatch):
    assert T.resolve_threads(idle=1.0) == 1
    assert T.resolve_threads(idle=3.9) == 4
    assert T.resolve_threads(n_jobs=2, idle=1.0) == 1
    assert T.resolve_threads(3, idle=0.0) == 3  # an explicit setting wins over the load
    monkeypatch.setattr(T, "_idle_now", lambda: pytest.fail("a cluster worker's load is not this machine's"))
    assert T.resolve_threads(cores=16, n_jobs=2) == 8


def test_idle_cores_read_from_proc_stat_deltas(monkeypatch):
    samples = iter([(100.0, 400.0, 2), (130.0, 440.0, 2)])  # 30 of 40 jiffies idle on 2 CPUs
    monkeypatch.setattr(T, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(T.time, "sleep", lambda s: None)
    assert MEASURE_IDLE_CORES() == pytest.approx(1.5)
    monkeypatch.setattr(T, "_cpu_times", lambda: None)
    assert MEASURE_IDLE_CORES() is None


def test_this_machines_proc_stat_reads_as_idle_cores():
    idle = MEASURE_IDLE_CORES(0.02)
    assert idle is None or 0 <= idle <= (os.cpu_count() or 1) + 0.01


def test_the_idle_measurement_is_reused_for_a_while(monkeypatch):
    calls, clock = [], [1000.0]
    monkeypatch.setattr(T, "_IDLE", [])
    monkeypatch.setattr(T, "idle_cores", lambda: calls.append(1) or 1.0)
    monkeypatch.setattr(T.time, "monotonic", lambda: clock[0])
    assert T._idle_now() == 1.0 and T._idle_now() == 1.0 and len(calls) == 1
    clock[0] += T.IDLE_TTL_S + 1
    assert T._idle_now() == 1.0 and len(calls) == 2


def test_automatic_threads_are_the_cores_shared_by_the_workers(four_cores):
    assert T.resolve_threads() == 4
    assert T.resolve_threads(n_jobs=2) == 2
    assert T.resolve_threads(n_jobs=3) == 1
    assert T.resolve_threads(n_jobs=8) == 1
    assert T.resolve_threads(cores=16, n_jobs=2) == 8  # a cluster worker's host


def test_an_explicit_setting_wins_within_the_cores(four_cores):
    assert T.resolve_threads(3) == 3
    assert T.resolve_threads(3, n_jobs=2) == 2  # never workers x threads beyond the cores


def test_a_setting_above_the_cores_is_capped_and_warned_once(four_cores):
    T._WARNED.clear()
    said: list[str] = []
    assert T.resolve_threads(100_000, warn=said.append) == 4  # 100,000 OpenMP threads crashed LightGBM
    assert T.resolve_threads(100_000, warn=said.append) == 4
    assert T.resolve_threads(8, n_jobs=2, warn=said.append) == 2
    assert said == ["warning: runtime.threads = 100000 is more than this machine's 4 core(s); using 4",
                    "warning: runtime.threads = 8 is more than this machine's 4 core(s) shared by "
                    "runtime.n_jobs = 2 workers; using 2"]


def test_openmp_threads_spin_briefly_unless_the_user_chose_a_policy(monkeypatch):
    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        monkeypatch.delenv(key, raising=False)
    T.configure_openmp()
    assert os.environ["GOMP_SPINCOUNT"] == str(T.SPIN_COUNT) and os.environ["KMP_BLOCKTIME"] == "1"
    assert "OMP_WAIT_POLICY" not in os.environ  # PASSIVE made two threads 10x slower than one on small data

    for key in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    T.configure_openmp()
    assert "GOMP_SPINCOUNT" not in os.environ and "KMP_BLOCKTIME" not in os.environ

    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "50")
    T.configure_openmp()
    assert os.environ["GOMP_SPINCOUNT"] == "50"
