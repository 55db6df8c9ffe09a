"""Automatic thread counts: one thread on small tables (rows x columns), all cores / workers on large ones."""

from __future__ import annotations

import pytest

from core import threads as T


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(T, "cpu_count", lambda: 4)


def test_small_tables_get_one_thread_and_large_ones_the_cores(four_cores):
    assert T.resolve_threads(n_rows=20_000, n_cols=20) == 1  # 400,000 cells: a second thread cost time
    assert T.resolve_threads(n_rows=100_000, n_cols=20) == 1  # 2,000,000 cells: still
    assert T.resolve_threads(n_rows=100_000, n_cols=100) == 4  # 10,000,000 cells
    assert T.resolve_threads(n_rows=50_000) == 1 and T.resolve_threads(n_rows=200_000) == 4  # columns unknown: 50


def test_workers_share_the_cores_and_an_explicit_setting_wins(four_cores):
    assert T.resolve_threads(n_jobs=2, n_rows=1_000_000, n_cols=50) == 2
    assert T.resolve_threads(3, n_rows=100) == 3
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
