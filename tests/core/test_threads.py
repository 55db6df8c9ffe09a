"""Automatic thread counts (one per fit on a small table, else the cores shared by the workers) and the
OpenMP wait settings."""

from __future__ import annotations

import os

import pytest

from core import threads as T



@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(T, "cpu_count", lambda: 4)


@pytest.mark.parametrize(("rows", "n_jobs", "expected"), [
    (None, 1, 4),        # rows unknown: cores / workers, as before
    (1_047, 1, 1),       # titanic: one thread per fit, whatever the machine's load
    (49_999, 1, 1),
    (50_000, 1, 4),      # from LightGBM's row-wise size on: the cores
    (1_000_000, 2, 2),   # ... shared by the workers
    (1_000, 4, 1),
])
def test_automatic_threads_follow_the_table_not_the_load(four_cores, rows, n_jobs, expected):
    assert T.resolve_threads(rows=rows, n_jobs=n_jobs) == expected


def test_an_explicit_setting_wins_on_a_small_table(four_cores):
    assert T.resolve_threads(3, rows=100) == 3
    assert T.resolve_threads(cores=16, n_jobs=2, rows=10**6) == 8  # a cluster worker's host


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
