"""Per-row sample weights ([competition] weight): the weighted metrics against scikit-learn and against
repeated rows, the scikit-learn wrapper passing weights through its preprocessing, the k-fold loop
(weighted fits and scores, the one line of a model that takes none, pseudo rows' weights on top) and
the ensemble's weighted scores and searches."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from core.errors import UserError
from core.metrics import METRICS, get_metric
from core.tasks import TaskInfo
from models import train_cv
from models.sk import Preprocessed
from models.testing import make_data

BINARY = TaskInfo("binary", (0, 1))


def _inputs(name: str, n: int, rng):
    metric = METRICS[name]
    if "regression" in metric.tasks:
        y = rng.gamma(2.0, 2.0, n)
        return y, np.clip(y + rng.normal(0, 1.5, n), 0, None)
    if "binary" in metric.tasks:
        y = rng.integers(0, 2, n)
        return y, np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0.01, 0.99)
    p = rng.dirichlet(np.ones(3), n)
    return rng.integers(0, 3, n), p


@pytest.mark.parametrize("name", [n for n, m in METRICS.items() if m.weighted is not None])
def test_integer_weights_score_as_repeated_rows(name):
    # the reference every weighted form must meet: weight k = the row k times, unweighted
    rng = np.random.default_rng(3)
    y, p = _inputs(name, 300, rng)
    w = rng.integers(0, 4, len(y)).astype(float)
    w[:3] = 1.0  # some of every kind of row stays
    metric = METRICS[name]
    reps = w.astype(int)
    assert metric(y, p, w) == pytest.approx(metric(np.repeat(y, reps, axis=0), np.repeat(p, reps, axis=0)),
                                            rel=1e-9, abs=1e-12)
    assert metric(y, p, np.ones(len(y))) == pytest.approx(metric(y, p), rel=1e-9, abs=1e-12)
    assert metric.objective(y, p, w) == metric(y, p, w)  # the search loops' form: no unweighted shortcut


def test_weighted_roc_auc_is_sklearns_and_differs_from_the_unweighted():
    rng = np.random.default_rng(0)
    y, p = _inputs("roc_auc", 400, rng)
    w = rng.uniform(0.1, 3.0, len(y))
    assert METRICS["roc_auc"](y, p, w) == roc_auc_score(y, p, sample_weight=w)
    assert METRICS["roc_auc"](y, p, w) != pytest.approx(METRICS["roc_auc"](y, p), abs=1e-6)


@pytest.mark.parametrize("name", ["f1", "qwk", "map@3"])
def test_a_metric_without_a_weighted_form_refuses_weights_in_one_line(name):
    metric = get_metric(name)
    with pytest.raises(UserError) as err:
        metric(np.array([0, 1]), np.array([0.2, 0.8]), np.ones(2))
    text = str(err.value)
    assert f"metric {name!r} takes no sample weights, which competition.weight gives" in text and "\n" not in text
    assert "roc_auc" in text  # it names those that do


def test_the_sklearn_wrapper_passes_weights_through_its_preprocessing():
    X, y = make_data(BINARY, n=300, categorical=True)
    w = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    weighted = Preprocessed(LogisticRegression(max_iter=2000)).fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(len(y)), w.astype(int))  # weight 2 = the row twice (same preprocessing fit
    repeated = Preprocessed(LogisticRegression(max_iter=2000))  # on the distinct rows, then the estimator)
    repeated.transformer_, repeated._cat_cols = repeated._transformer(X)
    Xt = repeated.transformer_.fit_transform(repeated._objects(X, repeated._cat_cols))
    reference = LogisticRegression(max_iter=2000).fit(Xt[rows], y[rows])
    assert np.allclose(weighted.estimator_.coef_, reference.coef_, atol=1e-4)
    plain = Preprocessed(LogisticRegression(max_iter=2000)).fit(X, y)
    assert not np.allclose(weighted.estimator_.coef_, plain.estimator_.coef_, atol=1e-3)
    from sklearn.neighbors import KNeighborsClassifier

    knn = Preprocessed(KNeighborsClassifier())
    assert weighted.takes_sample_weight() and not knn.takes_sample_weight()
    with pytest.raises(ValueError, match="KNeighborsClassifier.fit takes no sample_weight"):
        knn.fit(X, y, sample_weight=w)


class Recorder(LogisticRegression):
    """A logistic regression that records the weights each fit receives (same process)."""

    seen: ClassVar[list] = []

    def fit(self, X, y, sample_weight=None):
        Recorder.seen.append(None if sample_weight is None else np.asarray(sample_weight).copy())
        return super().fit(X, y, sample_weight=sample_weight)


def test_the_cv_loop_fits_and_scores_with_the_weights(monkeypatch):
    X, y = make_data(BINARY, n=240)
    folds = np.arange(len(y)) % 3
    w = 1.0 + (np.arange(len(y)) % 4)
    metric = get_metric("roc_auc")
    lines: list[str] = []
    Recorder.seen = []
    spec = {"type": "tests.models.test_sample_weight.Recorder", "preprocess": "scale"}
    res = train_cv("rec", spec, X, y, X.iloc[:10], folds, BINARY, metric, sample_weight=w, log=lines.append)
    assert [len(s) for s in Recorder.seen] == [160] * 3
    assert all(np.array_equal(s, w[folds != k]) for k, s in enumerate(Recorder.seen))
    for k in range(3):
        assert res.fold_scores[k] == roc_auc_score(y[folds == k], res.oof[folds == k], sample_weight=w[folds == k])
    assert res.overall == roc_auc_score(y, res.oof, sample_weight=w)
    assert not [line for line in lines if "takes no sample_weight" in line]
    # pseudo rows on top: their weight (here 0.5) is relative to an average own row of the fold
    Recorder.seen = []

    def extra(k: int) -> tuple:
        return X.iloc[:20], y[:20], np.full(20, 0.5)

    train_cv("rec", spec, X, y, X.iloc[:10], folds, BINARY, metric, sample_weight=w, extra_rows=extra,
             log=lines.append)
    for k, s in enumerate(Recorder.seen):
        own = w[folds != k]
        assert np.array_equal(s[:160], own) and np.allclose(s[160:], 0.5 * own.mean())
    # a model that takes none trains unweighted and says so once; its scores are still weighted
    lines.clear()
    knn = {"type": "sklearn", "estimator": "sklearn.neighbors.KNeighborsClassifier"}
    res = train_cv("knn", knn, X, y, X.iloc[:10], folds, BINARY, metric, sample_weight=w, log=lines.append)
    said = [line for line in lines if "takes no sample_weight" in line]
    assert said == [("[cv] knn: KNeighborsClassifier.fit takes no sample_weight; it trains unweighted "
                     "(competition.weight), its scores are still weighted")]
    assert res.overall == roc_auc_score(y, res.oof, sample_weight=w) and res.params["sample_weight"] is False
    # soft pseudo rows still need a fit that takes weights: refused in one line, as without competition weights
    with pytest.raises(UserError, match="takes no sample_weight, which weighted \\(or soft\\) pseudo rows need"):
        train_cv("knn", knn, X, y, X.iloc[:10], folds, BINARY, metric, sample_weight=w, extra_rows=extra,
                 log=lines.append)


def test_the_ensemble_scores_and_searches_with_the_weights():
    from sklearn.metrics import mean_squared_error

    from models.ensemble import Member, Problem, run_methods

    rng = np.random.default_rng(1)
    n = 400
    y = rng.normal(0, 3, n)
    folds = np.arange(n) % 4
    heavy = np.arange(n) % 2 == 0
    w = np.where(heavy, 10.0, 1.0)
    a = y + rng.normal(0, 1, n) * np.where(heavy, 0.2, 1.0)  # good where the weight is
    b = y + rng.normal(0, 1, n) * np.where(heavy, 1.0, 0.2)  # as good, on the light rows
    members = [Member("a", a, a[:5]), Member("b", b, b[:5])]
    metric, task = get_metric("rmse"), TaskInfo("regression")
    weighted = Problem(members, y, folds, task, metric, w)
    plain = Problem(members, y, folds, task, metric)
    assert weighted.score(a) == pytest.approx(np.sqrt(mean_squared_error(y, a, sample_weight=w)), rel=1e-12)
    res_w = run_methods(weighted, ["best", "hill_climb", "weighted"])
    res_p = run_methods(plain, ["weighted"])
    assert res_w["best"].weights == {"a": 1.0, "b": 0.0}
    for name, r in res_w.items():
        assert r.score == metric(y, r.oof, w)
        assert r.fold_scores[1] == metric(y[folds == 1], r.oof[folds == 1], w[folds == 1])
    assert res_w["weighted"].weights["a"] > 0.8 and res_w["hill_climb"].weights["a"] > 0.7
    assert 0.3 < res_p["weighted"].weights["a"] < 0.7  # unweighted, the two members are as good
