"""Data snapshots: identical to parsing the CSVs, used while the files are unchanged, replaced when
a value changes; folds remembered by the folds file's content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pipeline.data
from pipeline import data as _datacache
from pipeline.workspace import Workspace
from tests.conftest import make_workspace


def _comp(ws):
    return Workspace(ws).competition(None)


@pytest.mark.parametrize("name", ["titanic", "fine_foods"])
def test_snapshot_is_identical_to_the_parsed_csv_and_replaces_parsing(tmp_path, name, monkeypatch):
    comp = _comp(make_workspace(tmp_path, name))
    parsed = pipeline.data.read_data(comp)
    first = _datacache.read_data(comp)
    snapshots = [p for p in _datacache.cache_root(comp).iterdir() if p.is_dir()]
    assert len(snapshots) == 1

    def no_parsing(comp):
        raise AssertionError("parsed the CSVs although they did not change")

    monkeypatch.setattr(pipeline.data, "_parse_data", no_parsing)
    again = _datacache.read_data(comp)
    for a, b, c in zip(parsed, first, again):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
        assert a.dtypes.tolist() == c.dtypes.tolist()


def test_changed_value_or_setting_gives_a_new_snapshot(titanic_ws):
    comp = _comp(titanic_ws)
    before = _datacache.read_data(comp)[0]
    train = pd.read_csv(comp.train_path)
    train.loc[3, "age"] = 1234.5
    train.to_csv(comp.train_path, index=False)
    after = _datacache.read_data(comp)[0]
    assert after.loc[3, "age"] == 1234.5 and before.loc[3, "age"] != 1234.5
    pd.testing.assert_frame_equal(after, pipeline.data.read_data(comp)[0])
    old_key = _datacache.data_digest(comp)
    comp.cfg["cv"]["n_splits"] = 3  # the row-count check depends on it: a different snapshot
    assert _datacache.data_digest(comp) != old_key
    assert len([p for p in _datacache.cache_root(comp).iterdir() if p.is_dir()]) <= _datacache.KEEP


def test_bad_data_leaves_nothing_behind(titanic_ws):
    from core.errors import UserError

    comp = _comp(titanic_ws)
    lines = comp.train_path.read_text().splitlines()
    comp.train_path.write_text("\n".join(lines + [lines[1]]) + "\n")  # a duplicate id
    with pytest.raises(UserError, match="duplicate id"):
        _datacache.read_data(comp)
    assert not comp.runs.exists()


def test_folds_follow_the_folds_file(titanic_ws):
    from pipeline.cli import main

    assert main(["run", "--stage", "folds", "--root", str(titanic_ws)]) == 0
    comp = _comp(titanic_ws)
    train = _datacache.read_data(comp)[0]
    folds = _datacache.read_folds(comp, train)
    np.testing.assert_array_equal(folds, pipeline.data.read_folds(comp, train))
    saved = pd.read_csv(comp.folds_path)
    saved["fold"] = (saved["fold"] + 1) % saved["fold"].nunique()
    saved.to_csv(comp.folds_path, index=False)
    np.testing.assert_array_equal(_datacache.read_folds(comp, train), (folds + 1) % len(np.unique(folds)))
