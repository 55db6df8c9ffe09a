"""Out-of-fold target encoding and the supervised-block machinery: no row sees its own target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import Block, BlockOutput, SupervisedBlock, build_features
from features._build import BUILTIN_BLOCKS
from core.tasks import TaskInfo


def _build(train, test, blocks, tmp_path, *, task, folds, registry_extra=None, monkeypatch=None):
    if registry_extra:
        for name, cls in registry_extra.items():
            monkeypatch.setitem(BUILTIN_BLOCKS, name, cls)
    return build_features(train, test, id_col="id", target="y", task=task, folds=folds, blocks=blocks,
                          drop=[], cache_dir=tmp_path, log=lambda m: None)


def test_unique_categories_get_the_other_folds_prior_never_their_own_target(tmp_path):
    # Every train row has its own category: an in-fold encoding would move toward the row's target.
    n = 100
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, n)
    folds = np.arange(n) % 5
    train = pd.DataFrame({"id": range(n), "c": [f"row{i}" for i in range(n)], "y": y})
    test = pd.DataFrame({"id": [n, n + 1], "c": ["row0", "unseen"]})
    m = 10.0
    fs = _build(train, test, [{"block": "target_encoding", "columns": ["c"], "smoothing": m}], tmp_path,
                task=TaskInfo.from_target("binary", train["y"]), folds=folds)
    for k in range(5):
        rows = folds == k
        prior = y[~rows].mean()  # fitted on the other folds only
        np.testing.assert_allclose(fs.train["c__te"][rows], prior, rtol=1e-6)
    # test rows: fitted on every train row; row0 is known, "unseen" gets the prior
    prior_all = y.mean()
    assert fs.test["c__te"][0] == pytest.approx((y[0] + m * prior_all) / (1 + m), rel=1e-6)
    assert fs.test["c__te"][1] == pytest.approx(prior_all, rel=1e-6)


def test_a_category_living_in_one_fold_carries_no_target_information_for_train_rows(tmp_path):
    # Category == fold and target == (fold is even): a leak would encode the target perfectly.
    n = 200
    folds = np.arange(n) % 4
    y = (folds % 2 == 0).astype(int)
    train = pd.DataFrame({"id": range(n), "c": [f"f{k}" for k in folds], "y": y})
    test = pd.DataFrame({"id": [n], "c": ["f0"]})
    fs = _build(train, test, [{"block": "target_encoding", "columns": ["c"], "smoothing": 1}], tmp_path,
                task=TaskInfo.from_target("binary", train["y"]), folds=folds)
    te = fs.train["c__te"].to_numpy()
    for k in range(4):  # each fold's rows only see other folds' statistics: the prior of those folds
        np.testing.assert_allclose(te[folds == k], y[folds != k].mean(), rtol=1e-6)
    assert fs.test["c__te"][0] > 0.95  # on test the category's real mean shows (smoothed)


def test_smoothed_mean_by_hand(tmp_path):
    train = pd.DataFrame({"id": range(6), "c": ["a", "a", "a", "b", "b", "b"], "y": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]})
    test = pd.DataFrame({"id": [6, 7], "c": ["a", None]})
    fs = _build(train, test, [{"block": "target_encoding", "columns": ["c"], "smoothing": 2}], tmp_path,
                task=TaskInfo("regression"), folds=np.array([0, 1, 2, 0, 1, 2]))
    prior = 11.0
    assert fs.test["c__te"].tolist() == pytest.approx([(6 + 2 * prior) / (3 + 2), prior])
    # row 0 (fold 0, "a"): fitted on rows 1, 2, 4, 5 -> a: 2 + 3 = 5 over 2 rows, prior (2+3+20+30)/4
    prior0 = 55 / 4
    assert fs.train["c__te"][0] == pytest.approx((5 + 2 * prior0) / (2 + 2), rel=1e-6)


def test_multiclass_gives_one_column_per_class_summing_to_one(load, tmp_path):
    ds = load("hpc")
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path, [{"block": "target_encoding",
                                                                   "columns": ["protocol"]}]))
    cols = [f"protocol__te_{c}" for c in ds.task.prediction_columns()]
    assert list(fs.train.columns) == cols
    np.testing.assert_allclose(fs.train[cols].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(fs.test[cols].sum(axis=1), 1.0, rtol=1e-5)
    # encoded with task.encode: the per-class means follow the class order of the task
    y = ds.task.encode(ds.train[ds.target])
    top = ds.train["protocol"].value_counts().index[0]
    rows = (ds.train["protocol"] == top).to_numpy()
    mean_top = np.bincount(y[rows], minlength=ds.task.n_classes) / rows.sum()
    got = fs.test.loc[ds.test["protocol"] == top, cols].iloc[0].to_numpy()
    np.testing.assert_allclose(got, mean_top, atol=0.01)  # many rows: smoothing barely moves it


class _Spy(SupervisedBlock):
    """Records which rows (by the `row` column) each fit saw and tags its outputs with the fit number."""

    name = "spy"
    fits: list[set] = []

    def fit(self, X, y, ctx):
        _Spy.fits.append(set(X["row"].tolist()))
        return len(_Spy.fits) - 1

    def apply(self, state, X):
        return pd.DataFrame({"fit": np.full(len(X), state)})


def test_supervised_blocks_never_fit_on_the_rows_they_produce_values_for(tmp_path, monkeypatch):
    _Spy.fits = []
    n = 50
    folds = np.random.default_rng(0).integers(0, 5, n)
    train = pd.DataFrame({"id": range(n), "row": range(n), "y": np.arange(n) % 2})
    test = pd.DataFrame({"id": range(n, n + 5), "row": range(n, n + 5)})
    fs = _build(train, test, [{"block": "spy", "columns": ["row"]}], tmp_path,
                task=TaskInfo.from_target("binary", train["y"]), folds=folds,
                registry_extra={"spy": _Spy}, monkeypatch=monkeypatch)
    assert len(_Spy.fits) == 6  # one per fold + one on every train row for test
    for row, fit in enumerate(fs.train["fit"]):
        assert row not in _Spy.fits[fit]
        assert _Spy.fits[fit] == set(np.flatnonzero(folds != folds[row]).tolist())
    assert set(fs.test["fit"]) == {5} and _Spy.fits[5] == set(range(n))


def test_unsupervised_blocks_never_receive_the_target(tmp_path, monkeypatch):
    seen = {}

    class Peek(Block):
        name = "peek"

        def build(self, train, test, ctx):
            seen["y"], seen["cols"] = ctx.y, list(train.columns)
            return BlockOutput(pd.DataFrame({"z": np.zeros(len(train))}), pd.DataFrame({"z": np.zeros(len(test))}))

    train = pd.DataFrame({"id": [1, 2], "a": [1, 2], "b": [3, 4], "y": [0, 1]})
    test = pd.DataFrame({"id": [3], "a": [5], "b": [6]})
    _build(train, test, [{"block": "peek", "columns": ["a"]}], tmp_path,
           task=TaskInfo.from_target("binary", train["y"]), folds=np.array([0, 1]),
           registry_extra={"peek": Peek}, monkeypatch=monkeypatch)
    assert seen["y"] is None and seen["cols"] == ["a"]  # only the declared columns, no target


def test_a_multi_target_task_fits_each_supervised_block_once_per_target_column(load, tmp_path):
    # titanic made multilabel (survived, female): each target column gets the encoding a single-target run
    # on that column gives, named after it; new rows get the run's test columns from the saved states
    from features import FrozenFeatures, save_states

    ds = load("titanic")
    train, test = ds.train.copy(), ds.test.drop(columns=["sex"])
    train["female"] = (train.pop("sex") == "female").astype(int)
    targets = ["survived", "female"]
    column = TaskInfo.from_target("binary", train["survived"])
    blocks = [{"block": "target_encoding", "columns": ["pclass", "parch"]}]
    kwargs = dict(ds.kwargs(tmp_path / "cache", blocks), task=column)
    fs = build_features(train, test, **{**kwargs, "target": targets})
    for target in targets:
        single = build_features(train.drop(columns=[t for t in targets if t != target]), test,
                                **{**kwargs, "target": target})
        assert list(single.train.columns) == ["pclass__te", "parch__te"]
        for name in single.train.columns:
            np.testing.assert_array_equal(fs.train[f"{name}__{target}"], single.train[name])
            np.testing.assert_array_equal(fs.test[f"{name}__{target}"], single.test[name])
    # each column's own means: survival (0.26 to 0.62) parts the classes more than the share of women does
    by_class = fs.test.groupby(test["pclass"].to_numpy()).mean()
    spread = by_class.max() - by_class.min()
    assert spread["pclass__te__survived"] > 2 * spread["pclass__te__female"] > 0.2
    save_states(fs, tmp_path / "states")
    X, _ = FrozenFeatures.load(tmp_path / "states").transform(test)
    pd.testing.assert_frame_equal(X, fs.test, check_exact=True)
