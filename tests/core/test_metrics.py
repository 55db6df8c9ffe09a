"""Every built-in metric against scikit-learn or a reference implementation on random inputs; the
decisions f1 and qwk score are fitted on other rows than the ones they decide; a competition's own
metrics.py is loaded, checked and travels to worker processes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn import metrics as skm

from core.errors import UserError
from core.metrics import (METRICS, cross_fitted, f1_threshold, get_metric, kappa_thresholds, metric_names,
                          quadratic_kappa)

SEEDS = range(5)


def _binary(seed, n=300):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)


def _multiclass(seed, n=300, k=5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_r2_pr_auc_roc_auc_ovr_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=200)
    p = y + rng.normal(size=200)
    assert get_metric("r2")(y, p) == pytest.approx(skm.r2_score(y, p))
    yb, pb = _binary(seed)
    assert get_metric("pr_auc")(yb, pb) == pytest.approx(skm.average_precision_score(yb, pb))
    ym, pm = _multiclass(seed)
    assert get_metric("roc_auc_ovr")(ym, pm) == pytest.approx(skm.roc_auc_score(ym, pm, multi_class="ovr"))


def _apk(actual, predicted, k):
    """Kaggle's reference average precision at k (benhamner/Metrics, ml_metrics.average_precision.apk)."""
    predicted = list(predicted)[:k]
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_map_at_k_matches_the_reference(seed, k):
    y, p = _multiclass(seed)
    ranked = np.argsort(-p, axis=1, kind="stable")
    reference = np.mean([_apk([t], row, k) for t, row in zip(y, ranked)])
    assert get_metric(f"map@{k}")(y, p) == pytest.approx(reference)
    if k == 1:
        assert get_metric("map@1")(y, p) == pytest.approx(skm.accuracy_score(y, p.argmax(axis=1)))


def test_map_needs_a_positive_k():
    with pytest.raises(UserError, match=r"K in map@K must be a positive integer"):
        get_metric("map@0")
    assert "map@K" in metric_names()


@pytest.mark.parametrize("seed", SEEDS)
def test_quadratic_kappa_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 6, 400), rng.integers(1, 5, 400)
    assert quadratic_kappa(a, b) == pytest.approx(skm.cohen_kappa_score(a, b, weights="quadratic"))
    y, p = _multiclass(seed)
    assert get_metric("qwk")(y, p) == pytest.approx(skm.cohen_kappa_score(y, p.argmax(axis=1), weights="quadratic"))


def _part_of(n):
    """The fixed parts cross_fitted splits n rows into."""
    seen = {}
    cross_fitted(np.zeros(n), np.arange(n, dtype=float),
                 lambda y, p: seen.setdefault(len(seen), set(p.astype(int).tolist())) and (lambda q: q))
    return [set(range(n)) - rows for rows in seen.values()]


@pytest.mark.parametrize("seed", SEEDS)
def test_f1_decides_each_row_by_a_threshold_fitted_on_the_other_parts(seed):
    y, p = _binary(seed)
    decided = np.empty(len(y))
    for own in _part_of(len(y)):
        own = np.array(sorted(own))
        rest = np.setdiff1d(np.arange(len(y)), own)
        # brute force over every threshold on the other rows (F1 = 2 TP / (2 TP + FP + FN))
        cuts = np.r_[-np.inf, np.unique(p[rest])]
        best = max(cuts, key=lambda t: 2 * np.sum((p[rest] > t) & (y[rest] == 1))
                   / (np.sum(p[rest] > t) + np.sum(y[rest] == 1)))
        assert skm.f1_score(y[rest], p[rest] > f1_threshold(y[rest], p[rest])) == pytest.approx(
            skm.f1_score(y[rest], p[rest] > best))
        decided[own] = p[own] > f1_threshold(y[rest], p[rest])
    assert get_metric("f1")(y, p) == pytest.approx(skm.f1_score(y, decided))


@pytest.mark.parametrize("name, make", [("f1", _binary),
                                        ("qwk", lambda s: (np.random.default_rng(s).integers(0, 5, 300).astype(float),
                                                           np.random.default_rng(s + 9).normal(2, 1.5, 300)))])
def test_a_rows_decision_never_reads_its_own_label(name, make):
    """Flipping the labels of one part's rows changes no decision in that part (decisions come from
    the other parts), so the score cannot fit itself to the rows it scores."""
    y, p = make(0)
    metric = get_metric(name)
    fit = metric.decide
    own = np.array(sorted(_part_of(len(y))[0]))
    before = cross_fitted(y, p, fit)
    y2 = y.copy()
    y2[own] = y2[own].max() - y2[own]
    after = cross_fitted(y2, p, fit)
    assert np.array_equal(before[own], after[own])


def test_qwk_rounds_a_regression_by_thresholds_that_beat_plain_rounding():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 2000).astype(float)
    p = 0.6 * y + rng.normal(0, 0.5, 2000) + 0.4  # a shrunk, shifted regression: plain rounding is poor
    classes, t = kappa_thresholds(y, p)
    fitted = quadratic_kappa(y, classes[np.searchsorted(t, p, side="right")])
    assert fitted > quadratic_kappa(y, np.clip(np.rint(p), 0, 4)) + 0.02
    assert get_metric("qwk")(y, p) > quadratic_kappa(y, np.clip(np.rint(p), 0, 4))


@pytest.mark.parametrize("name", sorted(METRICS))
def test_fast_forms_equal_the_metric(name):
    metric = METRICS[name]
    task = metric.tasks[0]
    if task == "binary":
        y, p = _binary(1)
    elif task == "multiclass":
        y, p = _multiclass(1)
    else:
        rng = np.random.default_rng(1)
        y = rng.integers(1, 6, 200).astype(float)
        p = np.abs(y + rng.normal(size=200))
    assert metric.objective(y, p) == pytest.approx(metric(y, p))
    assert pickle.loads(pickle.dumps(metric)) == metric


OWN = '''
import numpy as np
from core.metrics import Metric

def worst_decile_error(y, p):
    err = np.abs(np.asarray(y, float) - np.asarray(p, float))
    return float(np.sort(err)[-max(1, len(err) // 10):].mean())

tail = Metric("tail_mae", worst_decile_error, False, ("regression",), False, "metric")
'''


def test_a_competitions_metrics_file_defines_metrics(tmp_path):
    (tmp_path / "metrics.py").write_text(OWN)
    metric = get_metric("tail_mae", tmp_path)
    assert metric.name == "tail_mae" and not metric.greater_is_better and metric.stop_on == "metric"
    assert metric([0, 0, 0, 10], [0, 0, 0, 0]) == 10.0
    back = pickle.loads(pickle.dumps(metric))  # how it reaches worker processes: reloaded from its file
    assert back.name == "tail_mae" and back([0, 0, 0, 10], [0, 0, 0, 0]) == 10.0
    assert "tail_mae" in metric_names(tmp_path)
    with pytest.raises(UserError, match=r"unknown metric 'tail_ma'.*did you mean 'tail_mae'.*metrics\.py"):
        get_metric("tail_ma", tmp_path)


@pytest.mark.parametrize("text, message", [
    ("from core.metrics import Metric\nm = Metric('rmse', abs, False, ('regression',), False, 'rmse')\n",
     r"'rmse' is a built-in's name"),
    ("from core.metrics import Metric\nm = Metric('x', abs, False, ('regression',), False, 'huber')\n",
     r"stop_on = 'huber'; use one of log_loss, rmse, mae, metric"),
    ("from core.metrics import Metric\nm = Metric('x', abs, False, ('ranking',), False, 'rmse')\n",
     r"tasks \('ranking',\)"),
    ("x = 1\n", r"defines no metric"),
    ("raise ValueError('oops')\n", r"the metrics file failed to import \(ValueError: oops\)"),
])
def test_a_bad_metrics_file_is_one_line(tmp_path, text, message):
    (tmp_path / "metrics.py").write_text(text)
    with pytest.raises(UserError, match=message):
        get_metric("x", tmp_path)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_fast_roc_auc_is_the_rank_sum_statistic_to_the_bit_ties_included(seed):
    from scipy.stats import rankdata

    y, p = _binary(seed, n=400)
    p = np.round(p, 2)  # many ties
    pos = y == 1
    n_pos, n_neg = pos.sum(), len(y) - pos.sum()
    want = (rankdata(p)[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    fast = METRICS["roc_auc"].objective(y, p)
    assert fast == want
    assert fast == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    p[3] = np.nan
    assert np.isnan(METRICS["roc_auc"].objective(y, p))


def test_relative_gain_reads_a_higher_is_better_score_by_its_headroom():
    from core.metrics import get_metric, relative_gain

    assert relative_gain(get_metric("roc_auc"), 0.80, 0.90) == pytest.approx(0.5)  # error 0.2 -> 0.1
    assert relative_gain(get_metric("rmse"), 2.0, 2.5) == pytest.approx(-0.25)
    assert np.isnan(relative_gain(get_metric("accuracy"), 1.0, 0.9))  # no error left to reduce


def test_the_paired_interval_uses_the_weights_and_the_same_rows_for_both():
    from core.metrics import get_metric, paired_gain_interval

    metric = get_metric("rmse")
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    base, other = y + rng.normal(scale=1.0, size=300), y + rng.normal(scale=0.7, size=300)
    lo, hi = paired_gain_interval(metric, y, base, other)
    assert 0 < lo < hi
    assert paired_gain_interval(metric, y, base, base) == (0.0, 0.0)
    # weights 0 on the rows where `other` is better: the same predictions now look worse on every draw
    w = (np.abs(other - y) > np.abs(base - y)).astype(float)
    lo_w, hi_w = paired_gain_interval(metric, y, base, other, sample_weight=w)
    assert hi_w < 0


@pytest.mark.parametrize("weights", [None, np.ones(6)])
def test_a_score_the_rows_cannot_define_is_nan_without_a_warning(weights, recwarn):
    # a fold of one class: the cv stage says so in its own words, scikit-learn's warning would be noise
    assert np.isnan(get_metric("roc_auc")(np.zeros(6), np.linspace(0, 1, 6), weights))
    assert not [w for w in recwarn if "ROC AUC" in str(w.message)]


def test_two_metrics_of_one_name_are_refused_one_object_under_two_names_is_not(tmp_path):
    text = "from core.metrics import Metric\nm = Metric('x', abs, False, ('regression',), False, 'rmse')\n"
    (tmp_path / "metrics.py").write_text(text + "alias = m\n")
    assert get_metric("x", tmp_path).name == "x"
    (tmp_path / "metrics.py").write_text(text + "n = Metric('x', abs, True, ('regression',), False, 'rmse')\n")
    with pytest.raises(UserError, match=r"metrics\.py: two metrics are named 'x'; give each its own name"):
        get_metric("x", tmp_path)


@pytest.mark.parametrize("name", [*METRICS, "map@3"])
def test_every_score_lies_within_the_metrics_bounds(name):
    # bounds tell a typed leaderboard score (84.65 for 0.8465) from a real one; they must hold every score
    metric, rng = get_metric(name), np.random.default_rng(0)
    task = metric.tasks[0]
    for _ in range(5):
        if task in ("binary",):
            y, p = rng.integers(0, 2, 60), rng.random(60)
        elif task == "multiclass":
            y, p = rng.integers(0, 3, 60), rng.dirichlet(np.ones(3), 60)
        else:
            y, p = rng.gamma(2.0, 2.0, 60), rng.gamma(2.0, 2.0, 60) * rng.choice([0.1, 1.0, 5.0])
        low, high = metric.bounds
        assert low <= metric(y, p) <= high


def test_column_scores_score_each_target_column_and_only_a_built_in_metric():
    from core.metrics import Metric, column_scores, get_metric
    from core.tasks import TaskInfo

    task = TaskInfo("multilabel", (0, 1), ("a", "b"))
    y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    p = np.array([[0.1, 0.2], [0.9, 0.4], [0.8, 0.9], [0.3, 0.1]])
    auc = get_metric("roc_auc")
    assert column_scores(auc, task, y, p) == {"a": 1.0, "b": 0.75}
    assert column_scores(auc, TaskInfo("binary", (0, 1)), y[:, 0], p[:, 0]) == {}
    own = Metric("worst", lambda y, p: 0.0, True, ("multilabel",), True, "log_loss", source="metrics.py")
    assert column_scores(own, task, y, p) == {}  # a competition's metric may score only the whole
