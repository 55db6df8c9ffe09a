"""Automatic thread counts: one thread on small tables (rows x columns), all cores / workers on large ones."""

from __future__ import annotations

import pytest

from core import threads as T


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(T, "cpu_count", lambda: 4)


def test_small_tables_get_one_thread_and_large_ones_the_cores(four_cores):
    assert T.resolve_threads(n_rows=20_000, n_cols=20) == 1  # 400,000 cells: a second thread gained nothing
    assert T.resolve_threads(n_rows=20_000, n_cols=100) == 4  # 2,000,000 cells
    assert T.resolve_threads(n_rows=100_000, n_cols=20) == 4
    assert T.resolve_threads(n_rows=10_000) == 1 and T.resolve_threads(n_rows=30_000) == 4  # columns unknown: 50


def test_workers_share_the_cores_and_an_explicit_setting_wins(four_cores):
    assert T.resolve_threads(n_jobs=2, n_rows=1_000_000, n_cols=50) == 2
    assert T.resolve_threads(3, n_rows=100) == 3
    assert T.resolve_threads(3, n_jobs=2) == 2  # never workers x threads beyond the cores
