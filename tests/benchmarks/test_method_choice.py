"""benchmarks/method_choice.py: rules for choosing the ensemble's method, each judged on the other folds."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks.method_choice import _choose, _fold_gain_interval
from core.metrics import get_metric


def _results(n: int = 800, seed: int = 0):
    """hill_climb, a near-copy of it (a tie), and a clearly sharper method, as OOF predictions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = y + rng.normal(0, 1.0, n)
    results = {"hill_climb": base, "tie": base + rng.normal(0, 0.01, n), "sharp": y + rng.normal(0, 0.4, n)}
    return y, {name: SimpleNamespace(oof=oof) for name, oof in results.items()}, np.arange(n) % 5


def test_hill_climbing_is_kept_unless_another_method_beats_it_beyond_the_noise():
    y, results, folds = _results()
    auc, rows = get_metric("roc_auc"), folds != 0
    assert _choose("best", results, y, rows, auc) == "sharp"
    assert _choose("hill_climb+", results, y, rows, auc) == "sharp"  # far better on every resample
    del results["sharp"]
    best = _choose("best", results, y, rows, auc)
    assert _choose("hill_climb+", results, y, rows, auc) == "hill_climb"  # a tie does not move it
    assert best in ("hill_climb", "tie") and _choose("tie", results, y, rows, auc) == "tie"


def test_the_fold_bootstrap_sees_a_clear_gain_and_none_between_equal_choices():
    y, results, folds = _results()
    auc, ks = get_metric("roc_auc"), np.arange(5)
    lo, hi = _fold_gain_interval(auc, y, folds, ks, results, ["hill_climb"] * 5, ["sharp"] * 5, resamples=100)
    assert 0 < lo <= hi
    assert _fold_gain_interval(auc, y, folds, ks, results, ["tie"] * 5, ["tie"] * 5) == [0.0, 0.0]


def test_a_rule_without_a_method_chooses_among_the_others():
    y, results, folds = _results()
    auc, rows = get_metric("roc_auc"), folds != 0
    assert _choose("best without sharp", results, y, rows, auc) in ("hill_climb", "tie")
    assert _choose("best without tie", results, y, rows, auc) == "sharp"
