"""Caruana's hill climbing (greedy ensemble selection), on its own so that the cv stage can ask which
models the ensemble would leave out without depending on the ensemble's code (editing models/ensemble.py
keeps the trained models fresh)."""

from __future__ import annotations

import numpy as np


def hill_climb_weights(preds: list[np.ndarray], y: np.ndarray, metric, *, max_iter: int = 50,
                       patience: int = 10, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Caruana et al. (2004) ensemble selection: start from the best single model, then greedily add
    (with replacement) the member that most improves the metric (weighted by `sample_weight`, per
    row); weights = how often each was picked, at the best point of the path. Non-negative, summing to 1."""
    n = len(preds)
    singles = [metric.sign * metric.objective(y, p, sample_weight) for p in preds]
    first = int(np.argmax(singles))
    counts = np.zeros(n)
    counts[first] = 1
    total = np.asarray(preds[first], dtype=np.float64).copy()
    best_score, best_counts, stale = singles[first], counts.copy(), 0
    for _ in range(max_iter):
        size = counts.sum() + 1
        trials = [metric.sign * metric.objective(y, (total + p) / size, sample_weight) for p in preds]
        j = int(np.argmax(trials))
        counts[j] += 1
        total += preds[j]
        if trials[j] > best_score + 1e-12:
            best_score, best_counts, stale = trials[j], counts.copy(), 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best_counts / best_counts.sum()


def unused(names: list[str], preds: list[np.ndarray], y: np.ndarray, metric, *, max_iter: int = 50,
           sample_weight: np.ndarray | None = None) -> list[str]:
    """The names whose predictions hill climbing on all rows (in sample, so it gives weight more readily
    than the honest cross-fitted blend) never picks: what the ensemble would not use."""
    weights = hill_climb_weights(preds, y, metric, max_iter=max_iter, sample_weight=sample_weight)
    return [name for name, w in zip(names, weights) if w == 0]
