"""CV schemes: a fold file made elsewhere (cv.scheme = "file") checked like every input, stratified
group k-fold, and groups with missing values (one group of their own)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from pipeline.schemes import MISSING_GROUP, assign_folds, groups_of


def _train(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(100, 100 + n), "y": rng.integers(0, 2, n),
                         "g": rng.integers(0, 10, n).astype(float)})


def _file(tmp_path, frame) -> str:
    path = tmp_path / "folds_team.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _from_file(train, path, *, n_splits=4, repeat=0, repeats=1):
    return assign_folds(train, target="y", task="binary", scheme="file", n_splits=n_splits, seed=0, file=path,
                        id_col="id", repeat=repeat, repeats=repeats)


def test_a_fold_file_gives_its_folds_in_train_order(tmp_path):
    train = _train()
    folds = np.arange(len(train)) % 4
    shuffled = pd.DataFrame({"id": train["id"], "fold": folds}).sample(frac=1, random_state=1)
    assert np.array_equal(_from_file(train, _file(tmp_path, shuffled)), folds)


def test_a_fold_file_with_repeats(tmp_path):
    train = _train()
    a, b = np.arange(len(train)) % 4, (np.arange(len(train)) // 10) % 4
    frame = pd.concat([pd.DataFrame({"id": train["id"], "fold": a, "repeat": 0}),
                       pd.DataFrame({"id": train["id"], "fold": b, "repeat": 1})])
    path = _file(tmp_path, frame)
    assert np.array_equal(_from_file(train, path, repeats=2), a)
    assert np.array_equal(_from_file(train, path, repeat=1, repeats=2), b)


def _bad(train, change):
    frame = pd.DataFrame({"id": train["id"], "fold": np.arange(len(train)) % 4})
    return change(frame)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.iloc[1:], r"1 train id\(s\) have no fold \(first: 100\); every train id needs one"),
    (lambda f: pd.concat([f, f.iloc[:1]]), r"id 100 appears more than once; each train id needs exactly one fold"),
    (lambda f: pd.concat([f, pd.DataFrame({"id": [999], "fold": [0]})]),
     r"id 999 is not in the train file \(1 such row\(s\)\); the fold file must list the train ids only"),
    (lambda f: f.assign(fold=f["fold"] + 1), r"folds 1\.\.4, but cv.n_splits = 4 needs exactly 0\.\.3; number the folds 0, 1, ... without gaps"),
    (lambda f: f.assign(fold=f["fold"] % 3), r"folds 0\.\.2, but cv.n_splits = 4 needs exactly 0\.\.3; set cv.n_splits = 3"),
    (lambda f: f.assign(fold=f["fold"] + 0.5), r"fold 0.5 is not an integer"),
    (lambda f: f.rename(columns={"fold": "k"}), r"no column 'fold'; it needs the columns id, fold and optionally repeat"),
    (lambda f: f.rename(columns={"fold": "kfold"}), r"no column 'fold' \(did you mean 'kfold'\? rename it\); it needs"),
    (lambda f: f.rename(columns={"id": "ID"}), r"no column 'id' \(did you mean 'ID'\? rename it\)"),
    (lambda f: f.iloc[:0], r"holds no rows; it needs one row per train id \(id, fold\)"),
    (lambda f: f.assign(extra=1), r"unexpected column 'extra'"),
    (lambda f: f.assign(repeat=1), r"repeats 1, but cv.repeats = 1 needs exactly 0\.\.0; number the repeats"),
])
def test_a_bad_fold_file_is_one_line(tmp_path, change, message):
    train = _train()
    with pytest.raises(UserError, match=message) as info:
        _from_file(train, _file(tmp_path, _bad(train, change)))
    assert "\n" not in str(info.value) and "np." not in str(info.value)


def test_a_fold_file_separated_by_semicolons_says_so(tmp_path):
    train = _train()
    path = tmp_path / "folds_team.csv"
    pd.DataFrame({"id": train["id"], "fold": np.arange(len(train)) % 4}).to_csv(path, index=False, sep=";")
    with pytest.raises(UserError, match=r"no column 'id'; the file has 1 column: its fields look separated by ';'"):
        _from_file(train, str(path))


def test_missing_group_values_form_one_group_of_their_own():
    train = _train()
    train.loc[[0, 5, 9, 20], "g"] = np.nan
    groups = groups_of(train, "g", 5)
    assert (groups[[0, 5, 9, 20]] == MISSING_GROUP).all() and MISSING_GROUP not in set(groups[[1, 2, 3]])
    for scheme in ("group", "stratified_group"):
        folds = assign_folds(train, target="y", task="binary", scheme=scheme, n_splits=4, seed=0, group_column="g")
        assert len(set(folds[[0, 5, 9, 20]])) == 1 and sorted(set(folds)) == [0, 1, 2, 3]
        for value in train["g"].dropna().unique():  # no group spans two folds
            assert len(set(folds[train["g"].to_numpy() == value])) == 1


def test_text_groups_with_missing_values():
    train = _train()
    train["g"] = train["g"].map(lambda v: f"shop{int(v)}")
    train.loc[[1, 2], "g"] = None
    folds = assign_folds(train, target="y", task="binary", scheme="group", n_splits=4, seed=0, group_column="g")
    assert folds[1] == folds[2]


def test_stratified_group_keeps_class_shares_better_than_group():
    rng = np.random.default_rng(0)
    n = 2000
    g = rng.integers(0, 200, n)
    y = (rng.random(n) < np.where(g % 4 == 0, 0.6, 0.1)).astype(int)  # groups differ in class share
    train = pd.DataFrame({"id": np.arange(n), "y": y, "g": g})

    def spread(scheme):
        folds = assign_folds(train, target="y", task="binary", scheme=scheme, n_splits=5, seed=0, group_column="g")
        return np.ptp([y[folds == k].mean() for k in range(5)])

    assert spread("stratified_group") < spread("group")


def test_fewer_groups_than_folds_is_one_line():
    train = _train()
    train["g"] = train["g"] % 2
    with pytest.raises(UserError, match=r"cv.group_column 'g' has 2 distinct group\(s\).*fewer than cv.n_splits = 4"):
        assign_folds(train, target="y", task="binary", scheme="group", n_splits=4, seed=0, group_column="g")
