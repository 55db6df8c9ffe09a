"""Per-block cache: hits and misses counted by recomputations; atomic entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import build_features
from features._target import TargetEncoding

BLOCKS = [{"block": "numeric"}, {"block": "count", "columns": ["sex", "pclass"]},
          {"block": "target_encoding", "columns": ["sex"]}, {"block": "label", "columns": ["pclass"]}]


def _misses(fs) -> list[str]:
    return [r["block"] for r in fs.report if not r["cached"]]


def test_second_build_loads_every_block_from_cache(titanic, tmp_path, calls):
    first = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(first) == ["numeric", "count", "target_encoding", "label"]
    second = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(second) == [] and calls == {"count": 1, "target_encoding": 1}
    pd.testing.assert_frame_equal(first.train, second.train)
    pd.testing.assert_frame_equal(first.test, second.test)
    assert second.train.dtypes.tolist() == first.train.dtypes.tolist()


def test_changed_parameter_recomputes_only_that_block(titanic, tmp_path, calls):
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    changed = [dict(b) for b in BLOCKS]
    changed[2]["smoothing"] = 50.0
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, changed))
    assert _misses(fs) == ["target_encoding"] and calls == {"count": 1, "target_encoding": 2}
    # and back: the earlier entry is still there
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(fs) == [] and calls == {"count": 1, "target_encoding": 2}


def test_changed_input_column_recomputes_blocks_reading_it(titanic, tmp_path, calls):
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    train = titanic.train.copy()
    train.loc[0, "pclass"] = "3rd" if train.loc[0, "pclass"] != "3rd" else "1st"
    fs = build_features(train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(fs) == ["count", "label"] and calls == {"count": 2, "target_encoding": 1}
    train.loc[1, "age"] = 99.0
    fs = build_features(train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(fs) == ["numeric"]


def test_changed_folds_or_target_recompute_only_supervised_blocks(titanic, tmp_path, calls):
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    folds = np.roll(titanic.folds, 1)
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS, folds=folds))
    assert _misses(fs) == ["target_encoding"]
    train = titanic.train.copy()
    train.loc[0, titanic.target] = 1 - train.loc[0, titanic.target]
    fs = build_features(train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS, folds=folds))
    assert _misses(fs) == ["target_encoding"] and calls == {"count": 1, "target_encoding": 3}


PLUGIN = '''
import pandas as pd
from features import feature_block


@feature_block("family", columns=["sibsp", "parch"])
def family(frame, offset=1):
    return pd.DataFrame({"family": frame["sibsp"] + frame["parch"] + offset})
'''


def test_changed_plugin_source_recomputes_that_block_only(titanic, tmp_path):
    plugin = tmp_path / "features.py"
    plugin.write_text(PLUGIN)
    blocks = [{"block": "family"}, {"block": "count", "columns": ["sex"]}]
    kw = titanic.kwargs(tmp_path / "cache", blocks, plugin_file=plugin)
    fs = build_features(titanic.train, titanic.test, **kw)
    assert fs.train["family"].tolist()[:5] == (titanic.train.sibsp + titanic.train.parch + 1).tolist()[:5]
    assert _misses(build_features(titanic.train, titanic.test, **kw)) == []
    plugin.write_text(PLUGIN.replace("+ offset", "+ offset * 2"))
    fs = build_features(titanic.train, titanic.test, **kw)
    assert _misses(fs) == ["family"]
    assert fs.train["family"][0] == titanic.train.sibsp[0] + titanic.train.parch[0] + 2


def test_failing_block_leaves_no_partial_entry(titanic, tmp_path, monkeypatch):
    def boom(self, train, test, ctx):
        raise RuntimeError("crash inside the block")

    monkeypatch.setattr(TargetEncoding, "build", boom)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="crash inside"):
        build_features(titanic.train, titanic.test, **titanic.kwargs(cache, BLOCKS))
    assert {p.name for p in cache.iterdir() if p.is_dir()} == {"numeric", "count"}  # finished blocks are cached
    assert not (cache / "target_encoding").exists()
    leftovers = [p for p in cache.rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []


def test_damaged_entry_is_recomputed(titanic, tmp_path):
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    for f in (tmp_path / "count").rglob("train.feather"):
        f.write_bytes(b"not feather")
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, BLOCKS))
    assert _misses(fs) == ["count"]


def test_column_kinds_are_remembered_by_content(titanic, tmp_path, monkeypatch):
    import features._build as build

    inspected: list[str] = []
    original = build.column_kinds

    def counting(train, test, cols):
        inspected.extend(cols)
        return original(train, test, cols)

    monkeypatch.setattr(build, "column_kinds", counting)
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, []))
    assert sorted(inspected) == ["age", "parch", "pclass", "sex", "sibsp"]
    inspected.clear()
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, []))
    assert inspected == []
    train = titanic.train.copy()
    train.loc[0, "sex"] = "female" if train.loc[0, "sex"] == "male" else "male"
    build_features(train, titanic.test, **titanic.kwargs(tmp_path, []))
    assert inspected == ["sex"]


def test_old_entries_are_pruned_least_recently_used_first(titanic, tmp_path, monkeypatch):
    import os

    from features import _cache

    monkeypatch.setattr(_cache, "KEEP_PER_BLOCK", 2)

    def run(m: float, stamp: int):
        fs = build_features(titanic.train, titanic.test, **titanic.kwargs(
            tmp_path, [{"block": "target_encoding", "columns": ["sex"], "smoothing": m}]))
        for meta in (tmp_path / "target_encoding").glob("*/meta.json"):  # make mtimes distinct
            if meta.stat().st_mtime > stamp:
                os.utime(meta, (stamp, stamp))
        return fs

    run(1.0, 1000)
    run(2.0, 2000)
    assert _misses(run(1.0, 3000)) == []  # a hit refreshes the entry
    run(3.0, 4000)  # third entry: the least recently used one (smoothing 2) goes
    assert len(list((tmp_path / "target_encoding").iterdir())) == 2
    assert _misses(run(1.0, 5000)) == [] and _misses(run(2.0, 6000)) == ["target_encoding"]
