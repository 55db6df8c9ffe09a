"""The ensembling library on real data: honest stacking, hill-climbing, blend weights, each method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.ensemble import (METHODS, Member, Problem, applicable, automatic, get_method, hill_climb_weights,
                             optimise_weights, optimistic, run_methods, select, stack)
from core.errors import UserError
from core.metrics import get_metric
from pipeline.schemes import assign_folds
from core.tasks import TaskInfo
from tests.conftest import DATA


def _members(name: str, target: str, task: str, estimators: dict, *, rows: int | None = None):
    """(members, y, folds, TaskInfo, X_train, X_test) from scikit-learn models on a shipped data set."""
    from sklearn.base import clone

    train = pd.read_csv(DATA / name / "train.csv")
    test = pd.read_csv(DATA / name / "test.csv")
    if rows:
        train = train.iloc[:rows].reset_index(drop=True)
    cols = [c for c in train.columns if c not in ("id", target) and pd.api.types.is_numeric_dtype(train[c])]
    X, X_test = train[cols].fillna(0).to_numpy(float), test[cols].fillna(0).to_numpy(float)
    info = TaskInfo.from_target(task, train[target])
    y = info.encode(train[target])
    folds = assign_folds(train, target=target, task=task, scheme="auto", n_splits=5, seed=0)
    members = []
    for label, est in estimators.items():
        oof = np.zeros((len(y), info.n_classes if task == "multiclass" else 1))
        for k in range(5):
            model = clone(est).fit(X[folds != k], y[folds != k])
            oof[folds == k] = _predict(model, X[folds == k], task)
        full = clone(est).fit(X, y)
        members.append(Member(label, _squeeze(oof), _squeeze(_predict(full, X_test, task))))
    return members, y, folds, info, train[cols], test[cols]


def _predict(model, X, task):
    if task == "regression":
        return model.predict(X).reshape(-1, 1)
    p = model.predict_proba(X)
    return p[:, 1:] if task == "binary" else p


def _squeeze(p):
    return p[:, 0] if p.shape[1] == 1 else p


@pytest.fixture(scope="module")
def cancer():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    members, y, folds, info, X, X_test = _members("breast_cancer", "target", "binary", {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.1)),
        "nb": GaussianNB(),
        "tree": DecisionTreeClassifier(max_depth=3, random_state=0),
    })
    rng = np.random.default_rng(0)
    noise = Member("noise", rng.random(len(y)), rng.random(len(members[0].test)))
    return members, noise, y, folds, info, X, X_test


@pytest.mark.parametrize("levels,passthrough", [
    ([["linear"]], False),
    ([["linear"]], True),
    ([["linear", "lightgbm"], ["linear"]], False),
    ([["lightgbm"]], False),  # the stack_lightgbm method's
])
def test_stacker_oof_for_a_row_comes_from_a_model_that_never_saw_its_fold(cancer, levels, passthrough):
    members, _, y, folds, info, X, X_test = cancer
    metric = get_metric("roc_auc")
    kw = {"levels": levels, "X": X if passthrough else None, "X_test": X_test if passthrough else None}
    base = stack(Problem(members, y, folds, info, metric), **kw)
    # Scramble fold 0's labels: a stack that never saw them predicts fold 0 exactly as before,
    # while the other folds' models (which train on fold 0) change.
    poisoned = y.copy()
    held = folds == 0
    poisoned[held] = np.random.default_rng(1).permutation(poisoned[held]) ^ 1
    again = stack(Problem(members, poisoned, folds, info, metric), **kw)
    np.testing.assert_allclose(again.oof[held], base.oof[held])
    assert not np.allclose(again.oof[~held], base.oof[~held])
    assert base.score == pytest.approx(metric(y, base.oof))
    assert base.score > 0.95


def test_stack_lightgbm_is_the_lightgbm_level_2_stack_beside_the_configured_one(cancer):
    """`auto` runs both stacks: `stack` as ensemble.stackers makes it (linear by default) and `stack_lightgbm`."""
    members, _, y, folds, info, _, _ = cancer
    problem = Problem(members, y, folds, info, get_metric("roc_auc"))
    results = run_methods(problem, ["stack", "stack_lightgbm"])
    lightgbm = stack(problem, levels=[["lightgbm"]])
    assert results["stack_lightgbm"].method == "stack_lightgbm"
    np.testing.assert_allclose(results["stack_lightgbm"].oof, lightgbm.oof)
    assert not np.allclose(results["stack"].oof, lightgbm.oof)
    assert results["stack_lightgbm"].details["levels"] == [["lightgbm"]]


def test_stack_lightgbm_runs_only_when_pinned():
    """auto does not try it (a noisy level 2 whose OOF wins did not hold on held-out rows); named, it runs."""
    auc, info = get_metric("roc_auc"), TaskInfo("binary", (0, 1))
    assert "stack_lightgbm" in applicable(info, auc) and "stack_lightgbm" not in automatic(info, auc)
    pinned_only = {"stack_lightgbm", "bagged_hill_climb", "geometric_hill_climb"}  # none paid as a candidate of auto
    assert automatic(info, auc) == [n for n in applicable(info, auc) if n not in pinned_only]
    y = (np.arange(40) // 4) % 2
    members = [Member("a", np.linspace(0.2, 0.8, 40), np.full(4, 0.5))]
    assert "stack_lightgbm" not in run_methods(Problem(members, y, np.arange(40) % 4, info, auc))
    multi = TaskInfo("multiregression", (), ("t1", "t2"))
    assert "stack_lightgbm" in applicable(multi, get_metric("rmse")) and "stack" in automatic(multi, get_metric("rmse"))


def test_hill_climbing_picks_the_real_model_over_pure_noise(cancer):
    members, noise, y, folds, info, _, _ = cancer
    metric = get_metric("roc_auc")
    good = members[0]
    assert hill_climb_weights([noise.oof, good.oof], y, metric).tolist() == [0.0, 1.0]
    assert hill_climb_weights([good.oof, noise.oof], y, metric).tolist() == [1.0, 0.0]
    result = run_methods(Problem([noise, good], y, folds, info, metric), ["hill_climb"])["hill_climb"]
    assert result.weights == {"noise": 0.0, "logreg": 1.0}
    assert max(w[0] for w in result.details["weights_by_fold"].values()) < 0.2  # noise, fitted per fold


def test_bagged_hill_climbing_spreads_weight_over_bootstrap_samples_and_repeats_itself(cancer):
    members, noise, y, folds, info, _, _ = cancer
    metric = get_metric("roc_auc")
    problem = Problem([*members, noise], y, folds, info, metric)
    plain = run_methods(problem, ["hill_climb"])["hill_climb"]
    bagged = run_methods(problem, ["bagged_hill_climb"])["bagged_hill_climb"]
    w = np.array(list(bagged.weights.values()))
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    assert bagged.weights["noise"] < 0.05
    # each sample's climb picks its own members: more of them share the weight than in one climb on all rows
    assert np.count_nonzero(w) > np.count_nonzero(list(plain.weights.values()))
    assert bagged.score == pytest.approx(metric(y, bagged.oof))
    again = run_methods(problem, ["bagged_hill_climb"])["bagged_hill_climb"]
    assert again.weights == bagged.weights and np.array_equal(again.oof, bagged.oof)


def test_geometric_hill_climbing_blends_log_probabilities_with_the_climbs_weights():
    """Each fold's rows get the softmax of the members' log-probabilities weighted as the climb on the other
    folds chose; a member the climb leaves out weighs nothing, which the plain geometric mean cannot do."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    members, y, folds, info, _, _ = _members("digits", "target", "multiclass", {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500)),
        "nb": GaussianNB()}, rows=600)
    rng = np.random.default_rng(0)
    noise = Member("noise", rng.dirichlet(np.ones(10), 600), rng.dirichlet(np.ones(10), len(members[0].test)))
    metric = get_metric("log_loss")
    problem = Problem([*members, noise], y, folds, info, metric)
    results = run_methods(problem, ["geometric", "geometric_hill_climb"])
    climbed = results["geometric_hill_climb"]
    assert climbed.weights["noise"] == 0.0 and climbed.score < results["geometric"].score
    for k, w_k in climbed.details["weights_by_fold"].items():
        held = folds == k
        logs = sum(w * np.log(np.clip(m.oof[held], 1e-6, 1.0)) for w, m in zip(w_k, problem.members))
        expected = np.exp(logs - logs.max(axis=1, keepdims=True))
        np.testing.assert_allclose(climbed.oof[held], expected / expected.sum(axis=1, keepdims=True), atol=2e-4)
    np.testing.assert_allclose(climbed.test.sum(axis=1), 1.0, atol=1e-9)
    assert climbed.score == pytest.approx(metric(y, climbed.oof))
    assert "geometric_hill_climb" in applicable(TaskInfo("regression"), get_metric("rmsle"))
    assert "geometric_hill_climb" not in applicable(TaskInfo("regression"), get_metric("rmse"))  # hill climbing there


@pytest.mark.parametrize("metric_name", ["roc_auc", "log_loss"])
def test_blend_weights_are_non_negative_and_sum_to_one(cancer, metric_name):
    members, noise, y, folds, info, _, _ = cancer
    metric = get_metric(metric_name)
    flipped = Member("flipped", 1.0 - members[1].oof, 1.0 - members[1].test)  # anti-correlated
    problem = Problem([*members, noise, flipped], y, folds, info, metric)
    results = run_methods(problem, ["hill_climb", "weighted"])
    for r in results.values():
        w = np.array(list(r.weights.values()))
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
        assert r.weights["flipped"] == 0.0
        for fold_w in r.details["weights_by_fold"].values():
            assert min(fold_w) >= 0 and sum(fold_w) == pytest.approx(1.0, abs=1e-3)
        # fitted on all rows, the weights beat equal weights and the best single member in-sample
        equal = metric(y, np.mean([m.oof for m in problem.members], axis=0))
        best_single = max(metric.sign * metric(y, m.oof) for m in problem.members)
        assert metric.sign * r.fit_score >= max(metric.sign * equal, best_single) - 1e-9
    w = optimise_weights([m.oof for m in members], y, metric)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)


def test_every_method_scores_its_own_oof_and_select_keeps_the_best(cancer):
    members, _, y, folds, info, _, _ = cancer
    metric = get_metric("roc_auc")
    results = run_methods(Problem(members, y, folds, info, metric))
    assert list(results) == automatic(TaskInfo("binary", (0, 1)), get_metric("roc_auc")) == [
        name for name, method in METHODS.items() if method.automatic]
    for r in results.values():
        assert r.score == pytest.approx(metric(y, r.oof))
        assert len(r.fold_scores) == 5 and r.test.shape == members[0].test.shape
        assert ((r.test >= 0) & (r.test <= 1)).all()
    best = select(results, metric)
    assert best.score == max(r.score for r in results.values())
    assert best.score >= results["best"].score


def test_select_passes_over_a_stack_that_saw_the_features_unless_it_is_pinned(cancer):
    """A passthrough stack's OOF score is optimistic (stacked overfitting: benchmarks/stacking_leak.py),
    so it is shown but never chosen over an honest score; pinned alone, it is the result."""
    members, _, y, folds, info, X, X_test = cancer
    metric = get_metric("roc_auc")
    problem = Problem(members, y, folds, info, metric)
    results = run_methods(problem, ["best", "stack"], options={"stack": {"X": X, "X_test": X_test}})
    assert optimistic(results["stack"]) and not optimistic(results["best"])
    results["stack"].score = 1.0  # better than anything honest: still not chosen
    assert select(results, metric).method == "best"
    assert select({"stack": results["stack"]}, metric).method == "stack"
    plain = run_methods(problem, ["stack"])["stack"]
    assert not optimistic(plain)
    assert select({"best": results["best"], "stack": plain}, metric).score == max(results["best"].score, plain.score)


def test_rank_and_geometric_means(cancer):
    members, _, y, folds, info, _, _ = cancer
    metric = get_metric("roc_auc")
    one = run_methods(Problem(members[:1], y, folds, info, metric), ["rank"])["rank"]
    # ranked within the member's OOF distribution: order kept, OOF and test on one scale
    assert metric(y, one.oof) == pytest.approx(metric(y, members[0].oof))
    order = np.argsort(members[0].test, kind="stable")
    assert np.all(np.diff(one.test[order]) >= 0)
    geo = run_methods(Problem(members[:2], y, folds, info, metric), ["geometric"])["geometric"]
    logit = lambda p: np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))  # noqa: E731
    expected = 1 / (1 + np.exp(-(logit(members[0].oof) + logit(members[1].oof)) / 2))
    np.testing.assert_allclose(geo.oof, expected, rtol=1e-5)


def test_multiclass_and_rmsle_regression_methods():
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    members, y, folds, info, _, _ = _members("digits", "target", "multiclass", {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500)),
        "nb": GaussianNB()}, rows=600)
    metric = get_metric("log_loss")
    results = run_methods(Problem(members, y, folds, info, metric))
    assert "rank" not in results and "geometric" in results
    for r in results.values():
        assert r.oof.shape == (600, 10)
        np.testing.assert_allclose(r.test.sum(axis=1), 1.0, atol=1e-6)
    assert select(results, metric).score <= min(metric(y, m.oof) for m in members)

    members, y, folds, info, _, _ = _members("ames_clean", "Sale_Price", "regression", {
        "ridge": make_pipeline(StandardScaler(), Ridge(alpha=10.0)),
        "knn": make_pipeline(StandardScaler(), KNeighborsRegressor(15))}, rows=800)
    rmsle = get_metric("rmsle")
    assert applicable(TaskInfo("regression"), get_metric("rmse")) == ["best", "mean", "hill_climb", "bagged_hill_climb",
                                                                  "weighted", "stack", "stack_lightgbm"]
    results = run_methods(Problem(members, y, folds, info, rmsle), ["geometric", "stack"])
    assert results["stack"].score < min(rmsle(y, m.oof) for m in members)
    assert (results["geometric"].test > 0).all()


def test_unknown_or_unfit_methods_are_refused_with_one_line(cancer):
    members, _, y, folds, info, _, _ = cancer
    with pytest.raises(UserError, match=r"unknown ensemble method 'hil_climb' \(did you mean 'hill_climb'\?\)"):
        get_method("hil_climb")
    rmse_problem = Problem([Member("a", y * 1.0, members[0].test)], y * 1.0, folds,
                           TaskInfo("regression"), get_metric("rmse"))
    with pytest.raises(UserError, match="'rank' does not fit task 'regression' with metric 'rmse'"):
        run_methods(rmse_problem, ["rank"])
    with pytest.raises(UserError, match="last exactly one"):
        stack(Problem(members, y, folds, info, get_metric("roc_auc")), levels=[["linear", "linear"]])


def _sharpened(member: Member, temperature: float) -> Member:
    """A member whose log-odds are divided by `temperature` (< 1: over-confident), same order."""
    def sharpen(p):
        q = np.clip(p, 1e-6, 1 - 1e-6)
        return 1 / (1 + np.exp(-np.log(q / (1 - q)) / temperature))
    return Member(member.name, sharpen(member.oof), sharpen(member.test))


def test_log_loss_results_get_a_temperature_fitted_on_the_other_folds(cancer):
    members, _, y, folds, info, _, _ = cancer
    log_loss = get_metric("log_loss")
    bayes = [members[1]]  # naive Bayes: famously over-confident
    problem = Problem(bayes, y, folds, info, log_loss)
    plain = run_methods(problem, ["mean"])["mean"]
    tempered = run_methods(problem, ["mean"], calibrate=True)["mean"]
    # the temperature softens the over-confident probabilities: better log loss, the same order per fold
    assert tempered.details["temperature"] > 2.0
    assert tempered.score < 0.6 * plain.score
    assert tempered.details["uncalibrated_score"] == pytest.approx(plain.score)
    assert tempered.score == pytest.approx(log_loss(y, tempered.oof))
    for k in np.unique(folds):  # one temperature per fold: no order within a fold is reversed
        order = np.argsort(plain.oof[folds == k], kind="stable")
        assert (np.diff(tempered.oof[folds == k][order]) >= 0).all()
    assert (np.diff(tempered.test[np.argsort(plain.test, kind="stable")]) >= 0).all()
    # honest: fold 0's rows get a temperature fitted without their labels, so scrambling them changes
    # nothing there, while the other folds' temperatures (fitted on fold 0 too) move
    poisoned = y.copy()
    held = folds == 0
    poisoned[held] = 1 - poisoned[held]
    again = run_methods(Problem(bayes, poisoned, folds, info, log_loss), ["mean"], calibrate=True)["mean"]
    np.testing.assert_allclose(again.oof[held], tempered.oof[held])
    assert not np.allclose(again.oof[~held], tempered.oof[~held])


def test_a_temperature_that_does_not_pay_on_the_other_folds_is_not_kept(cancer):
    members, _, y, folds, info, _, _ = cancer
    # logistic regression sharpened to about its best temperature: the per-fold temperatures scatter
    # around 1 and cost more honest OOF log loss than they correct, so the result stays as it was
    problem = Problem([_sharpened(members[0], 0.5)], y, folds, info, get_metric("log_loss"))
    plain = run_methods(problem, ["mean"])["mean"]
    kept = run_methods(problem, ["mean"], calibrate=True)["mean"]
    assert "temperature" not in kept.details and kept.details["temperature_tried"] > plain.score
    np.testing.assert_array_equal(kept.oof, plain.oof)
    assert kept.score == plain.score


def test_only_a_metric_that_scores_calibration_gets_a_temperature(cancer):
    members, _, y, folds, info, _, _ = cancer
    for name in ("roc_auc", "accuracy"):
        result = run_methods(Problem(members, y, folds, info, get_metric(name)), ["mean"], calibrate=True)["mean"]
        assert not {"temperature", "temperature_tried"} & set(result.details)
    result = run_methods(Problem(members, y, folds, info, get_metric("log_loss")), ["mean"])["mean"]
    assert not {"temperature", "temperature_tried"} & set(result.details)  # calibrate off


def test_a_multiclass_temperature_keeps_each_rows_class_and_sums_to_one():
    from sklearn.naive_bayes import GaussianNB

    members, y, folds, info, _, _ = _members("digits", "target", "multiclass", {"nb": GaussianNB()}, rows=600)
    metric = get_metric("log_loss")
    problem = Problem(members, y, folds, info, metric)
    plain = run_methods(problem, ["mean"])["mean"]
    tempered = run_methods(problem, ["mean"], calibrate=True)["mean"]
    assert tempered.score < 0.5 * plain.score
    assert tempered.details["temperature"] > 1.0
    np.testing.assert_allclose(tempered.test.sum(axis=1), 1.0, atol=1e-9)
    assert np.array_equal(tempered.oof.argmax(axis=1), plain.oof.argmax(axis=1))


def test_cv_repeats_keep_each_repeats_own_temperature(cancer):
    from models.ensemble import average_repeats

    members, _, y, folds, info, _, _ = cancer
    metric = get_metric("log_loss")
    shuffled = np.random.default_rng(3).permutation(folds)  # a second fold assignment
    parts = [run_methods(Problem([members[1]], y, f, info, metric), ["mean"], calibrate=True)["mean"]
             for f in (folds, shuffled)]
    merged = average_repeats(parts, Problem([members[1]], y, folds, info, metric))
    assert merged.details["temperature_by_repeat"] == [p.details["temperature"] for p in parts]
    assert not {"temperature", "uncalibrated_score", "temperature_by_fold"} & set(merged.details)
    np.testing.assert_allclose(merged.oof, (parts[0].oof + parts[1].oof) / 2)


def _multilabel(cancer):
    """breast_cancer as a two-label problem: its target, and whether `mean radius` is above its median
    (from the other columns); two members, each a model per column."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, _, target, folds, _, X, X_test = cancer
    radius = X["mean radius"].to_numpy()
    y = np.column_stack([target, (radius > np.median(radius)).astype(np.int64)])
    cols = [c for c in X.columns if "radius" not in c and "perimeter" not in c and "area" not in c]
    Xv, Xt = X[cols].to_numpy(float), X_test[cols].to_numpy(float)
    members = []
    for name, est in {"logreg": make_pipeline(StandardScaler(), LogisticRegression(C=0.1)), "nb": GaussianNB()}.items():
        oof, test = np.zeros(y.shape), np.zeros((len(Xt), 2))
        for j in range(2):
            for k in np.unique(folds):
                oof[folds == k, j] = est.fit(Xv[folds != k], y[folds != k, j]).predict_proba(Xv[folds == k])[:, 1]
            test[:, j] = est.fit(Xv, y[:, j]).predict_proba(Xt)[:, 1]
        members.append(Member(name, oof, test))
    return members, y, folds, TaskInfo("multilabel", (0, 1), ("malignant", "large"))


def test_a_multi_target_stack_is_each_columns_own_stack_and_stays_honest(cancer):
    """Column j of the stack is the single-target stack of the members' column j: fold k's rows of a column
    come from stackers that never saw fold k's labels of that column, and no column reads another's labels."""
    members, y, folds, info = _multilabel(cancer)
    auc = get_metric("roc_auc")
    result = run_methods(Problem(members, y, folds, info, auc), ["stack"])["stack"]
    assert result.oof.shape == y.shape and result.test.shape == members[0].test.shape
    for j in range(2):
        alone = stack(Problem([Member(m.name, m.oof[:, j], m.test[:, j]) for m in members], y[:, j], folds,
                              info.column(), auc))
        np.testing.assert_allclose(result.oof[:, j], alone.oof)
        np.testing.assert_allclose(result.test[:, j], alone.test)
    assert result.score == pytest.approx(np.mean([auc(y[:, j], result.oof[:, j]) for j in range(2)]))
    assert result.score > 0.95
    poisoned, held = y.copy(), folds == 0
    poisoned[held, 0] ^= 1
    again = stack(Problem(members, poisoned, folds, info, auc))
    np.testing.assert_allclose(again.oof[held, 0], result.oof[held, 0])
    np.testing.assert_allclose(again.oof[:, 1], result.oof[:, 1])
    assert not np.allclose(again.oof[~held, 0], result.oof[~held, 0])


def test_a_competitions_multi_target_metric_scores_the_whole_stack_not_its_columns(cancer):
    """A metric of the competition's own may need every column at once: each column's stackers are scored
    by the column task's default metric, the stack as a whole by the competition's."""
    from core.metrics import Metric

    def worst_column_auc(y, p):
        from sklearn.metrics import roc_auc_score

        assert np.ndim(y) == 2, "needs every column"
        return min(roc_auc_score(y[:, j], p[:, j]) for j in range(y.shape[1]))

    members, y, folds, info = _multilabel(cancer)
    own = Metric("worst_auc", worst_column_auc, True, ("multilabel",), True, "log_loss", source="metrics.py")
    result = run_methods(Problem(members, y, folds, info, own), ["stack", "mean"])
    plain = stack(Problem(members, y, folds, info, get_metric("roc_auc")))
    np.testing.assert_allclose(result["stack"].oof, plain.oof)
    assert result["stack"].score == pytest.approx(worst_column_auc(y, plain.oof))


def test_a_label_absent_from_a_stackers_rows_is_predicted_as_its_one_value(cancer):
    """A rare label with no positive outside one fold: that fold's stacker has one class to learn from."""
    members, y, folds, info = _multilabel(cancer)
    y = y.copy()
    y[:, 1] = 0
    y[np.flatnonzero(folds == 0)[:3], 1] = 1
    result = stack(Problem(members, y, folds, info, get_metric("log_loss")))
    assert np.isfinite(result.oof).all() and (result.oof[folds == 0, 1] == 0).all()
