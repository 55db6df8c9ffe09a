"""Pseudo-labelling: selection modes, soft labels, sample weights, the leak guard, rounds, several
models, the registry and the ensemble, a disabled stage, and the [pseudo] range checks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from core.tasks import TASKS, TaskInfo
from pipeline.context import CompetitionContext, StageContext
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.pseudo_labels import (SELECTIONS, SOFT_FLOOR, SOURCES, Candidates, FoldRun, label_summary, soft_shares,
                                    soft_targets, training_rows)
from pipeline.stages.pseudo import chosen_models, fold_labels, load_pool, pseudo_rounds, takes_sample_weight
from pipeline.workspace import Workspace
from tests.conftest import DATA, make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

_EXTRA_MODELS = """
[models.lgbm_bag]
type = "lightgbm"
params = { num_leaves = 15, learning_rate = 0.05, feature_fraction = 0.7, bagging_fraction = 0.8, bagging_freq = 1 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }

[models.knn]
type = "sklearn"
estimator = "sklearn.neighbors.KNeighborsClassifier"
params = { n_neighbors = 25 }
"""


@pytest.fixture(scope="module")
def titanic(tmp_path_factory):
    """The titanic competition trained through the cv stage with four models (lgbm, lgbm_bag, logreg, knn)."""
    ws = make_workspace(tmp_path_factory.mktemp("pseudo"), "titanic")
    config = ws / "competition" / "titanic" / "competition.toml"
    base = config.read_text() + _EXTRA_MODELS
    config.write_text(base)
    comp, ctx, training = _through_cv(ws)
    return SimpleNamespace(ws=ws, config=config, base=base, comp=comp, ctx=ctx, training=training,
                           pool=load_pool(ctx, training))


def _through_cv(ws):
    """(competition, the pseudo stage's context, its training setup) once titanic in `ws` is trained through cv."""
    comp = Workspace(ws).competition("titanic")
    pipe = build_pipeline()
    runner = Runner(pipe, comp, log=lambda m: None)
    runner.run("cv")
    ctx = StageContext(CompetitionContext(comp, log=lambda m: None), pipe.get("pseudo"), None, runner.state)
    return comp, ctx, ctx.training()


def _run_with(titanic, pseudo: str, *, log=None) -> list[str]:
    """Run the whole pipeline with `pseudo` as the [pseudo] section's keys."""
    titanic.config.write_text(titanic.base.replace("[pseudo]\n", "[pseudo]\n" + pseudo + "\n", 1))
    comp = Workspace(titanic.ws).competition("titanic")
    return Runner(build_pipeline(), comp, log=log or (lambda m: None)).run()


@pytest.fixture(scope="module")
def hpc_proba():
    """Real 4-class probabilities for hpc's test rows (a gradient-boosting model on its numeric
    columns) and the training class shares: imbalanced classes, 51% / 31% / 12% / 6%."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = pd.read_csv(DATA / "hpc" / "train.csv"), pd.read_csv(DATA / "hpc" / "test.csv")
    cols = ["compounds", "input_fields", "iterations", "num_pending", "hour"]
    task = TaskInfo.from_target("multiclass", train["class"])
    y = task.encode(train["class"])
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(train[cols], y)
    return task, model.predict_proba(test[cols]), np.bincount(y) / len(y)


# ---- selection modes -------------------------------------------------------------------------------
def _candidates(task, pred, prior=None, *, threshold=0.95, fraction=0.3, spread=None):
    return Candidates(pred, spread, prior, task, threshold, fraction)


def test_threshold_selection_takes_exactly_the_rows_at_or_above_it(hpc_proba, titanic):
    task, proba, prior = hpc_proba
    for t in (0.6, 0.8, 0.95):
        labels = SELECTIONS["threshold"].select(_candidates(task, proba, prior, threshold=t))
        chosen = np.zeros(len(proba), dtype=bool)
        chosen[labels.rows] = True
        assert (proba[chosen].max(axis=1) >= t).all() and (proba[~chosen].max(axis=1) < t).all()
        assert np.array_equal(labels.target, proba[labels.rows].argmax(axis=1))
    p = titanic.pool["lgbm"].by_fold[0]  # binary: P(survived) far enough from 0.5 either way
    labels = SELECTIONS["threshold"].select(_candidates(titanic.training.task, p, threshold=0.8))
    assert labels.rows.tolist() == np.flatnonzero((p >= 0.8) | (p <= 0.2)).tolist() and len(labels.rows) > 20
    assert np.array_equal(labels.target, (p[labels.rows] >= 0.5).astype(int))


def test_top_selection_keeps_the_training_class_balance_and_the_most_confident_rows(hpc_proba):
    task, proba, prior = hpc_proba
    labels = SELECTIONS["top"].select(_candidates(task, proba, prior, fraction=0.4))
    n = int(round(0.4 * len(proba)))
    counts = np.bincount(labels.target, minlength=4)
    assert len(labels.rows) == n == counts.sum() and len(set(labels.rows.tolist())) == n
    assert np.abs(counts - n * prior).max() <= 1  # the training shares, to the row
    rest = np.setdiff1d(np.arange(len(proba)), labels.rows)
    for c in range(4):  # each class's rows are the most confident for that class among those left
        assert proba[labels.rows[labels.target == c], c].min() >= proba[rest, c].max()
    confident = np.argsort(-proba.max(axis=1))[:n]  # the n most confident rows alone skew the shares
    skewed = np.bincount(proba[confident].argmax(axis=1), minlength=4)
    assert np.abs(skewed - n * prior).max() > 50


def test_soft_labels_round_trip_into_weighted_duplicates_and_back(hpc_proba, titanic):
    task, proba, prior = hpc_proba
    labels = SELECTIONS["soft"].select(_candidates(task, proba, prior))
    X_test = pd.DataFrame({"row": np.arange(len(proba))})
    X, y, w = training_rows(X_test, labels, weight=0.5)
    assert set(np.unique(y)) <= {0, 1, 2, 3} and (w > 0).all()
    np.testing.assert_allclose(np.bincount(X["row"], weights=w, minlength=len(proba)), 0.5)  # each row weighs 0.5
    back = soft_targets(y, w, X["row"].to_numpy(), len(proba), 4)
    np.testing.assert_allclose(back, soft_shares(proba), atol=1e-12)
    faint = proba < SOFT_FLOOR  # below the floor: no duplicate, its share goes to the row's other classes
    assert faint.sum() > 100 and (back[faint] == 0).all()
    np.testing.assert_allclose(back[~faint.any(axis=1)], proba[~faint.any(axis=1)], atol=1e-12)
    p = titanic.pool["lgbm"].by_fold[0]  # binary: two rows per test row, label 1 weighted p, label 0 weighted 1 - p
    labels = SELECTIONS["soft"].select(_candidates(titanic.training.task, p))
    X, y, w = training_rows(pd.DataFrame({"row": np.arange(len(p))}), labels)
    back = soft_targets(y, w, X["row"].to_numpy(), len(p), 2)
    inside = (p >= SOFT_FLOOR) & (p <= 1 - SOFT_FLOOR)
    np.testing.assert_allclose(back[inside, 1], p[inside], atol=1e-12)
    np.testing.assert_array_equal(back[~inside, 1], np.round(p[~inside]))  # a near-certain row: its class alone


def test_the_soft_floor_keeps_a_rows_most_likely_class_when_every_class_is_faint():
    """With more classes than 1 / SOFT_FLOOR a row can have no class above the floor: its most likely class
    is kept, so every test row still weighs `weight`."""
    proba = np.full((2, 200), 1 / 200)
    proba[1, 7] += 0.001
    proba[1] /= proba[1].sum()
    shares = soft_shares(proba)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(shares[0], 1 / 200)  # a tie at the top keeps every tied class
    assert shares[1, 7] == 1.0


def test_lightgbm_learns_soft_labels_from_weighted_duplicates(titanic):
    """The weights reach the fit: trained only on soft-labelled test rows, LightGBM gives those rows
    back their probabilities; without the weights every row is half 0, half 1 and it learns nothing."""
    from models.lgbm import LightGBMModel

    X_test = titanic.training.features[1]
    p = titanic.pool["lgbm"].by_fold[0]
    X, y, w = training_rows(X_test, SELECTIONS["soft"].select(_candidates(titanic.training.task, p)))
    params = {"objective": "binary", "verbose": -1, "min_data_in_leaf": 5, "num_threads": 1, "seed": 0}
    learnt = LightGBMModel(params, num_boost_round=150, early_stopping_rounds=0).fit(X, y, sample_weight=w)
    q = learnt.predict_proba(X_test)[:, 1]
    assert np.corrcoef(p, q)[0, 1] > 0.9 and np.abs(p - q).mean() < 0.08
    flat = LightGBMModel(params, num_boost_round=150, early_stopping_rounds=0).fit(X, y).predict_proba(X_test)[:, 1]
    assert np.abs(flat - 0.5).max() < 0.05


def test_agreement_takes_the_rows_the_models_agree_on_and_needs_two_models():
    task = TaskInfo("regression")
    pred = np.array([100.0, 200.0, 300.0, 400.0])
    labels = SELECTIONS["agreement"].select(_candidates(task, pred, fraction=0.5, spread=np.array([5, 0.1, 3, 0.2])))
    assert labels.rows.tolist() == [1, 3] and labels.target.tolist() == [200.0, 400.0]
    with pytest.raises(UserError, match="needs at least two cv models.*fraction = 1.0"):
        SELECTIONS["agreement"].select(_candidates(task, pred, fraction=0.5))
    assert SELECTIONS["agreement"].select(_candidates(task, pred, fraction=1.0)).rows.tolist() == [0, 1, 2, 3]


# ---- validation rows, weights, the leak guard -------------------------------------------------------
_SPY = '''
import json
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    """Logs the row ids it is fitted on (and with what weight), stops early on and predicts."""

    def __init__(self, log_path=""):
        self.log_path = log_path

    def _log(self, **entry):
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(entry) + "\\n")

    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None):
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight)
        self._log(fit=X["rowid"].astype(int).tolist(), weight=w.tolist(),
                  valid=[] if X_valid is None else X_valid["rowid"].astype(int).tolist())
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        self._log(predict=X["rowid"].astype(int).tolist())
        p = np.full(len(X), 0.4)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return np.zeros(len(X), dtype=int)
'''


def test_validation_rows_never_contain_pseudo_rows(titanic, tmp_path):
    """Fold k's fit gets its own training rows (weight 1) and fold k's pseudo rows (weight x
    probability); neither its early-stopping rows nor the rows it is scored on are ever pseudo rows."""
    from models import train_cv

    (tmp_path / "spy.py").write_text(_SPY)
    log = tmp_path / "spy.log"
    tr = titanic.training
    X = tr.features[0].assign(rowid=np.arange(len(tr.y)))
    X_test = tr.features[1].assign(rowid=100_000 + np.arange(len(tr.features[1])))
    labels = {k: SELECTIONS["soft"].select(_candidates(tr.task, titanic.pool["lgbm"].by_fold[k]))
              for k in range(5)}
    train_cv("spy", {"type": "spy", "params": {"log_path": str(log)}}, X, tr.y, X_test, tr.folds, tr.task,
             tr.metric, plugin_dir=tmp_path, extra_rows=lambda k: training_rows(X_test, labels[k], weight=0.5),
             log=lambda m: None)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    fits = [e for e in entries if "fit" in e]
    scored = [e["predict"] for e in entries if "predict" in e and min(e["predict"]) < 100_000]
    assert len(fits) == len(scored) == 5
    for k, (fit, rows) in enumerate(zip(fits, scored)):
        own = set(np.flatnonzero(tr.folds != k).tolist())
        assert set(rows) == set(np.flatnonzero(tr.folds == k).tolist())  # scored: fold k, no pseudo row
        assert not set(fit["valid"]) - own  # early stopping: own rows only
        ids, w = np.array(fit["fit"]), np.array(fit["weight"])
        assert set(ids[ids < 100_000].tolist()) | set(fit["valid"]) == own and (w[ids < 100_000] == 1).all()
        pseudo = ids >= 100_000
        assert pseudo.sum() == 2 * len(X_test)  # soft: each test row once per class
        np.testing.assert_allclose(np.bincount(ids[pseudo] - 100_000, weights=w[pseudo]), 0.5)


def test_multilabel_threshold_takes_the_rows_sure_in_every_column():
    task = TaskInfo("multilabel", (0, 1), ("a", "b"))
    pred = np.array([[0.97, 0.02], [0.97, 0.6], [0.01, 0.99], [0.5, 0.99]])
    labels = SELECTIONS["threshold"].select(_candidates(task, pred, threshold=0.95))
    assert labels.rows.tolist() == [0, 2] and labels.target.tolist() == [[1, 0], [0, 1]]
    assert label_summary({0: labels}, task) == {"a": {"0": 0.5, "1": 0.5}, "b": {"0": 0.5, "1": 0.5}}


def test_multiregression_agreement_weighs_each_column_in_its_own_scale():
    """A column of values near 1,000 and one near 0.1: the rows chosen are those the models agree on in both,
    each column's disagreement measured against its own spread, not the large column's alone."""
    task = TaskInfo("multiregression", (), ("big", "small"))
    rng = np.random.default_rng(0)
    y = np.column_stack([rng.normal(1000, 100, 200), rng.normal(0.1, 0.01, 200)])
    folds = np.arange(200) % 4
    base = np.column_stack([np.full(6, 1000.0), np.full(6, 0.1)])
    disagree = np.array([[1, 0], [0, 3], [0, 0], [5, 0], [0, 5], [0, 0]], dtype=float)  # unscaled: 1, 2, 5
    scale = np.array([100.0, 0.01])
    pool = {"a": FoldRun("a", y, {0: base + disagree * scale}, 0.0), "b": FoldRun("b", y, {0: base}, 0.0)}
    training = SimpleNamespace(task=task, metric=SimpleNamespace(target_transform=None), y=y, folds=folds)
    labels, _ = fold_labels(pool, "a", 0, training=training, selection=SELECTIONS["agreement"],
                            source=SOURCES["model"], threshold=0.9, fraction=0.5)
    assert labels.rows.tolist() == [0, 2, 5] and labels.target.shape == (3, 2)
    summary = label_summary({0: labels}, task)
    assert set(summary) == {"big", "small"} and summary["big"]["max"] == 1100.0


def test_fold_k_labels_do_not_depend_on_fold_k_labels(titanic):
    """By construction: changing fold k's targets, and what every run predicted for fold k's rows,
    leaves fold k's pseudo-labels (and the rows chosen) unchanged, for every source and mode."""
    tr = titanic.training
    pool = {n: titanic.pool[n] for n in ("lgbm", "lgbm_bag", "logreg")}
    k = 2
    held = tr.folds == k
    rng = np.random.default_rng(0)
    y_flipped = np.where(held, 1 - tr.y, tr.y)
    scrambled = {n: FoldRun(n, np.where(held, rng.random(len(tr.y)), r.oof), r.by_fold, r.overall)
                 for n, r in pool.items()}
    other = SimpleNamespace(task=tr.task, metric=tr.metric, y=y_flipped, folds=tr.folds)
    for source in SOURCES.values():
        for mode in ("threshold", "top", "soft"):
            kw = {"selection": SELECTIONS[mode], "source": source, "threshold": 0.8, "fraction": 0.3}
            a, _ = fold_labels(pool, "lgbm", k, training=tr, **kw)
            b, _ = fold_labels(scrambled, "lgbm", k, training=other, **kw)
            assert np.array_equal(a.rows, b.rows) and np.allclose(a.target, b.target)


def test_labels_that_exist_only_in_fold_ks_rows_do_not_raise_fold_ks_score(titanic):
    """Test rows that are copies of fold 0's rows, and a member that knows fold 0's labels (right on
    fold 0's OOF rows and on the copies, uninformative elsewhere: a teammate's run trained on every
    row). Blend weights fitted on all OOF rows give it weight, its labels reach fold 0's training set
    and fold 0's score jumps; the guarded ensemble source (weights fitted on the other folds) does not."""
    from models import train_cv
    from models.ensemble import blend, hill_climb_weights

    tr = titanic.training
    X, y, folds = tr.features[0], tr.y, tr.folds
    fold0 = np.flatnonzero(folds == 0)
    X_copies = X.iloc[fold0].reset_index(drop=True)
    spec = titanic.comp.models["lgbm"]

    def cv(extra=None):
        return train_cv("lgbm", spec, X, y, X_copies, folds, tr.task, tr.metric, extra_rows=extra, log=lambda m: None)

    base = cv()
    honest = FoldRun("lgbm", base.oof, dict(enumerate(base.test_by_fold)), base.overall)
    oracle = FoldRun("oracle", np.where(folds == 0, y, 0.5).astype(float),
                     {k: y[fold0].astype(float) for k in range(5)}, 0.0)
    pool = {"lgbm": honest, "oracle": oracle}

    def score_with(pred0):
        labels = SELECTIONS["soft"].select(_candidates(tr.task, pred0))
        none = (X_copies.iloc[:0], np.zeros(0, dtype=np.int64))
        return cv(lambda k: training_rows(X_copies, labels) if k == 0 else none).fold_scores[0]

    guarded, _ = SOURCES["ensemble"].labels(pool, "lgbm", 0, y, folds, tr.metric)
    w_all = hill_climb_weights([r.oof for r in pool.values()], y, tr.metric)  # fitted on fold 0's rows too
    leaky = blend([r.by_fold[0] for r in pool.values()], w_all)
    assert w_all[1] > 0  # the all-rows weights trust the oracle
    before, after_guarded, after_leaky = base.fold_scores[0], score_with(guarded), score_with(leaky)
    assert after_leaky > before + 0.03  # a leak shows in fold 0's score ...
    assert after_guarded < before + 0.01  # ... and the guarded labels show none


# ---- the stage ---------------------------------------------------------------------------------------
def test_rounds_several_models_registry_and_ensemble(titanic):
    lines: list[str] = []
    ran = _run_with(titanic, 'enabled = true\ntop_k = 2\nselection = "soft"\nweight = 0.5\nrounds = 2\n'
                             'tolerance = 0.0', log=lines.append)
    assert "pseudo" in ran
    comp = titanic.comp
    by_cv = sorted(titanic.pool, key=lambda n: -titanic.pool[n].overall)
    chosen = [n for n in by_cv if n != "knn"][:2]  # knn's fit takes no sample_weight: passed over
    assert any("passing over knn" in m for m in lines) or by_cv.index("knn") >= 2
    members = json.loads((comp.runs / "ensemble" / "scores.json").read_text())["members"]
    from pipeline.run_registry import open_registry

    registry = open_registry(comp.workspace)
    try:
        board = {row["model"] for row in registry.leaderboard("titanic")}
    finally:
        registry.dispose()
    for name in chosen:
        run_dir = comp.runs / "pseudo" / f"{name}-pseudo"
        params = json.loads((run_dir / "params.json").read_text())["pseudo"]
        scores = json.loads((run_dir / "scores.json").read_text())
        rounds = params["rounds"]
        assert 1 <= len(rounds) <= 2 and params["selection"] == "soft" and params["source"] == name
        first = rounds[0]
        assert first["rows_per_fold"] == [262] * 5 and set(first["labels"]) == {"0", "1"}
        assert abs(sum(first["labels"].values()) - 1) < 1e-3 and 0.2 < first["labels"]["1"] < 0.6
        if len(rounds) == 2:  # a second round only after the first improved on the cv run
            assert first["overall"] > titanic.pool[name].overall
        kept = max(rounds, key=lambda r: r["overall"])
        assert params["round"] == kept["round"] and scores["overall"] == pytest.approx(kept["overall"])
        assert len(pd.read_parquet(run_dir / "test_by_fold.parquet")) == 5 * 262
        assert f"{name}-pseudo" in members and f"{name}-pseudo" in board
        lgbm_params = json.loads((run_dir / "params.json").read_text())["params"].get("params", {})
        if comp.models[name]["type"] == "lightgbm":  # soft labels train with LightGBM's own hessian floor
            assert lgbm_params["min_sum_hessian_in_leaf"] == 1e-3
    assert any(comp.models[n]["type"] == "lightgbm" for n in chosen)
    assert sorted(p.name for p in (comp.runs / "pseudo").iterdir() if not p.name.startswith(".")) == \
        sorted(f"{n}-pseudo" for n in chosen)
    again: list[str] = []
    ran = Runner(build_pipeline(), Workspace(titanic.ws).competition("titanic"), log=again.append).run()
    assert "pseudo" not in ran, again  # nothing changed: the pseudo stage stays fresh


def test_disabled_is_a_no_op(titanic):
    _run_with(titanic, 'enabled = true\nmodels = ["lgbm"]\nselection = "threshold"\nthreshold = 0.9')
    assert (titanic.comp.runs / "pseudo" / "lgbm-pseudo" / "oof.parquet").is_file()
    ran = _run_with(titanic, "enabled = false")
    assert "pseudo" not in ran and "ensemble" in ran  # the ensemble drops the pseudo run
    members = json.loads((titanic.comp.runs / "ensemble" / "scores.json").read_text())["members"]
    assert not any(m.endswith("-pseudo") for m in members)
    comp = Workspace(titanic.ws).competition("titanic")
    ctx = StageContext(CompetitionContext(comp, log=lambda m: None), build_pipeline().get("pseudo"), None, {})
    from pipeline.stages.pseudo import run

    assert run(ctx) == []  # called directly, it trains nothing and needs no cv run


def test_models_without_sample_weight_are_refused_for_soft_labels(titanic):
    tr, pool = titanic.training, titanic.pool
    # logreg's LogisticRegression takes sample_weight through the preprocessing wrapper; knn's estimator none
    assert takes_sample_weight(tr, "lgbm") and takes_sample_weight(tr, "logreg")
    assert not takes_sample_weight(tr, "knn")
    cfg = {"models": ["knn"], "top_k": 1}
    with pytest.raises(UserError, match="'knn', whose fit takes no sample_weight.*selection = 'threshold'"):
        chosen_models(cfg, pool, tr.metric, weighted=True, takes_weight=lambda n: takes_sample_weight(tr, n))
    assert chosen_models(cfg, pool, tr.metric) == ["knn"]  # hard labels, weight 1: fine
    auto = chosen_models({"models": [], "top_k": 4}, pool, tr.metric, weighted=True,
                         takes_weight=lambda n: takes_sample_weight(tr, n), log=lambda m: None)
    assert sorted(auto) == ["lgbm", "lgbm_bag", "logreg"]


def test_label_summary_reports_shares_and_values(hpc_proba):
    task, proba, prior = hpc_proba
    hard = SELECTIONS["top"].select(_candidates(task, proba, prior, fraction=0.5))
    shares = label_summary({0: hard}, task)
    assert list(shares) == ["F", "L", "M", "VF"] and abs(sum(shares.values()) - 1) < 1e-3
    soft = label_summary({0: SELECTIONS["soft"].select(_candidates(task, proba, prior))}, task)
    assert soft == pytest.approx({c: float(v) for c, v in zip(task.classes, proba.mean(axis=0))}, abs=1e-4)
    reg = label_summary({0: SELECTIONS["agreement"].select(
        _candidates(TaskInfo("regression"), np.array([1.0, 3.0]), fraction=1.0))}, TaskInfo("regression"))
    assert reg == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}


def test_pseudo_rounds_stop_when_the_score_stops_improving(titanic):
    """With an impossible tolerance, one round is trained and reported, never a second."""
    tr = titanic.training
    lines: list[str] = []
    done = pseudo_rounds(tr, titanic.pool, "lgbm", titanic.comp.models["lgbm"], selection=SELECTIONS["threshold"],
                         source=SOURCES["model"], threshold=0.9, fraction=0.3, weight=1.0, rounds=3,
                         tolerance=1.0, log=lines.append)
    assert len(done) == 1 and done[0].rows_per_fold == [
        int((np.maximum(p, 1 - p) >= 0.9).sum()) for p in titanic.pool["lgbm"].by_fold.values()]
    assert any("round 1: roc_auc" in m and "before" in m for m in lines)


# ---- [pseudo] config ------------------------------------------------------------------------------------
@pytest.mark.parametrize("keys, message", [
    ("threshold = 2.0", r"pseudo.threshold must be between 0 and 1, got 2.0"),
    ("threshold = nan", r"pseudo.threshold must be between 0 and 1, got nan"),
    ("fraction = -0.2", r"pseudo.fraction must be between 0 and 1, got -0.2"),
    ("fraction = 1.5", r"pseudo.fraction must be between 0 and 1, got 1.5"),
    ("weight = -1", r"pseudo.weight must be between 0 and 1000, got -1.0"),
    ("rounds = 0", r"pseudo.rounds must be between 1 and 100, got 0"),
    ("top_k = 0", r"pseudo.top_k must be at least 1, got 0"),
    ("tolerance = -0.01", r"pseudo.tolerance must be at least 0, got -0.01"),
    ('selection = "agreement"', r"pseudo.selection = 'agreement' does not fit task 'binary'; use auto or one "
                                r"of soft, threshold, top"),
    ('selection = "sof"', r"pseudo.selection = 'sof' is not one of auto, soft, threshold, top, agreement"),
    ('labels = "blend"', r"pseudo.labels = 'blend' is not one of model, ensemble"),
    ('models = ["lgb"]', r"pseudo.models names 'lgb', which is not an enabled \[models.NAME\] table \(did you "
                         r"mean 'lgbm'\?\)"),
    ('model = "lgbm"', r"unknown key pseudo.model \(did you mean 'models'\?\)"),
])
def test_pseudo_config_is_range_checked(keys, message):
    import tomllib

    from pipeline.config import parse_config

    raw = {"competition": {"task": "binary", "target": "t", "id": "i", "metric": "roc_auc"},
           "pseudo": tomllib.loads(keys), "models": {"lgbm": {"type": "lightgbm"}}}
    with pytest.raises(UserError, match=message):
        parse_config(raw, Path("competition.toml"))


def test_every_selection_mode_fits_some_task_and_auto_picks_one():
    from pipeline.pseudo_labels import selection_for

    assert selection_for("auto", TASKS["binary"]).name == "soft"
    assert selection_for("auto", TASKS["binary"], takes_weight=False).name == "threshold"
    assert selection_for("auto", TASKS["regression"]).name == "agreement"
    assert selection_for("auto", TASKS["multilabel"]).name == "threshold"  # no soft labels of several columns
    assert selection_for("auto", TASKS["multiregression"]).name == "agreement"
    assert [s.name for s in SELECTIONS.values() if s.applies(TASKS["multilabel"])] == ["threshold"]
    for s in SELECTIONS.values():
        assert any(s.applies(kind) for kind in TASKS.values()) and s.doc


_DIGITS = """
[competition]
task = "multiclass"
target = "target"
id = "id"
metric = "accuracy"
submission = "label"

[cv]
repeats = 1

[pseudo]
enabled = true
top_k = 2

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 500 }

[models.cnn]
type = "densenet"
params = { epochs = 1, cycles = 1, snapshots = 1, blocks = [1, 1, 1] }
"""


def test_the_automatic_choice_passes_over_a_model_of_array_inputs_and_naming_one_is_one_line(tmp_path):
    """On an image set the DenseNet reads the pixel array, which pseudo-labelled rows do not carry: with
    top_k = 2 the stage pseudo-trains the feature table's model and says it passed over the DenseNet
    (it used to fail inside the DenseNet's CV); naming it is a one-line error before anything trains."""
    ws = make_workspace(tmp_path, "digits", config=_DIGITS, repeats=None)
    comp = Workspace(ws).competition("digits")
    lines: list[str] = []
    ran = Runner(build_pipeline(), comp, log=lines.append).run("ensemble")
    assert "pseudo" in ran
    assert any("passing over cnn: reads array inputs" in line for line in lines)
    assert sorted(p.name for p in (comp.runs / "pseudo").iterdir() if not p.name.startswith(".")) == ["logreg-pseudo"]
    members = json.loads((comp.runs / "ensemble" / "scores.json").read_text())["members"]
    assert "logreg-pseudo" in members and "cnn" in members

    config = ws / "competition" / "digits" / "competition.toml"
    config.write_text(_DIGITS.replace("top_k = 2", 'models = ["cnn"]'))
    comp = Workspace(ws).competition("digits")
    with pytest.raises(UserError, match=r"^pseudo.models names 'cnn', which reads array inputs \(image\)"):
        Runner(build_pipeline(), comp, log=lambda m: None).run("pseudo")


def test_a_pseudo_run_is_compared_with_its_cv_run_on_the_same_folds(tmp_path):
    """A cv run of two repeats averages its OOF predictions over both; a pseudo run trains on repeat 0's
    folds. Its rounds are judged against the cv run's repeat-0 score (the round's gain, the top_k ranking and
    the closing line), not the two repeats' average, which was a better score for reasons pseudo-labels have
    no part in (titanic: lgbm's 0.85532 over two repeats against 0.85706 on repeat 0)."""
    from pipeline.artifacts import read_run

    comp, ctx, training = _through_cv(make_workspace(tmp_path, "titanic", repeats=2))
    run = read_run(comp.runs / "models" / "lgbm", id_col=comp.id_col, task=training.task)
    assert run.repeats == 2
    pool = load_pool(ctx, training)
    repeat0 = training.metric(training.y, pool["lgbm"].oof, None)
    assert pool["lgbm"].overall == pytest.approx(repeat0) and repeat0 != pytest.approx(run.overall, abs=1e-6)
    lines: list[str] = []
    pseudo_rounds(training, pool, "lgbm", comp.models["lgbm"], selection=SELECTIONS["threshold"],
                  source=SOURCES["model"], threshold=0.9, fraction=0.3, weight=1.0, rounds=1, tolerance=0.0,
                  log=lines.append)
    assert any(f"(before {repeat0:.5f}:" in line for line in lines)
