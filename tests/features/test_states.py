"""Saved block states: a fresh FrozenFeatures gives the run's test rows exactly the run's X_test and
arrays, whole or in chunks, for every built-in block and the automatic blocks; function blocks are
used on new rows only when row-wise; damaged or altered states and plug-ins are refused; no pickle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from features import BUILTIN_BLOCKS, FrozenFeatures, build_features, save_states
from tests.features.test_blocks import _all_blocks, _with_dates

STATE_SETS = ("titanic", "hpc", "digits", "fine_foods")  # categorical, numeric keys, pixels, free text


def _same(ff: FrozenFeatures, rows, fs) -> None:
    """transform(rows) equals the run's X_test and arrays exactly (values and dtypes); so do chunks."""
    X, arrays = ff.transform(rows)
    pd.testing.assert_frame_equal(X, fs.test, check_exact=True)
    assert sorted(arrays) == sorted(fs.arrays)
    for name, (_, test) in fs.arrays.items():
        assert arrays[name].dtype == test.dtype and np.array_equal(arrays[name], test), name
    cuts = [0, len(rows) // 3, len(rows) // 3 + 1, len(rows)]
    parts = [ff.transform(rows.iloc[a:b]) for a, b in zip(cuts, cuts[1:])]
    pd.testing.assert_frame_equal(pd.concat([p[0] for p in parts], ignore_index=True), X, check_exact=True)
    for name in arrays:
        assert np.array_equal(np.concatenate([p[1][name] for p in parts]), arrays[name]), name


def _frozen(fs, folder) -> FrozenFeatures:
    save_states(fs, folder)
    return FrozenFeatures.load(folder)


@pytest.mark.parametrize("name", STATE_SETS)
def test_every_builtin_block_gives_new_rows_the_runs_test_columns(name, load, tmp_path):
    ds = load(name)
    train, test = _with_dates(ds.train, ds.id_col), _with_dates(ds.test, ds.id_col)
    fs = build_features(train, test, **ds.kwargs(tmp_path / "cache", _all_blocks(ds)))
    _same(_frozen(fs, tmp_path / "states"), test.sample(frac=1.0, random_state=0).sort_index(), fs)
    # a second build reads every block from the cache: its states are the same
    cached = build_features(train, test, **ds.kwargs(tmp_path / "cache", _all_blocks(ds)))
    assert all(r["cached"] for r in cached.report)
    _same(_frozen(cached, tmp_path / "states2"), test, fs)


def test_the_state_sets_cover_every_builtin_block(load):
    ran = set()
    for name in STATE_SETS:
        ds = load(name)
        ran |= {b["block"] for b in _all_blocks(ds)}
    assert ran == set(BUILTIN_BLOCKS)


@pytest.mark.parametrize("name", ["titanic", "fine_foods", "ames_clean"])
def test_automatic_blocks_give_new_rows_the_runs_test_columns(name, load, tmp_path):
    ds = load(name)
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path / "cache", []))
    _same(_frozen(fs, tmp_path / "states"), ds.test, fs)


def test_new_values_follow_the_frozen_conventions(titanic, tmp_path):
    blocks = [{"block": "rank", "columns": ["age"]}, {"block": "count", "columns": ["pclass"]},
              {"block": "category", "columns": ["pclass"]}, {"block": "label", "columns": ["pclass"]},
              {"block": "target_encoding", "columns": ["pclass"]}]
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path / "cache", blocks))
    ff = _frozen(fs, tmp_path / "states")
    both = pd.concat([titanic.train, titanic.test], ignore_index=True)
    ages = np.sort(both["age"].dropna().to_numpy())
    rows = pd.DataFrame({"age": [ages[-1] * 2, ages[0] / 2, ages[-1]], "pclass": ["9th", None, "1st"]})
    X, _ = ff.transform(rows)
    assert X["age__rank"].tolist()[0] == 1.0 and X["age__rank"].iloc[2] == 1.0  # above every run value: 1.0
    assert 0.0 < X["age__rank"].iloc[1] < fs.test["age__rank"].min()  # below every run value: a small rank
    assert X["pclass__count"].iloc[0] == 0  # a value the run never counted
    assert X["pclass__count"].iloc[2] == (both["pclass"] == "1st").sum()  # new rows never count
    assert pd.isna(X["pclass"].iloc[0]) and X["pclass"].iloc[2] == "1st"
    assert X["pclass"].dtype == fs.test["pclass"].dtype
    assert X["pclass__label"].tolist()[:2] == [-2, -1]
    prior = titanic.task.encode(titanic.train[titanic.target]).mean()
    assert X["pclass__te"].iloc[0] == np.float32(prior)


def test_input_columns_parsed_differently_in_a_chunk_are_aligned(tmp_path):
    from core.tasks import TaskInfo

    train = pd.DataFrame({"id": range(6), "k": [1, 2, 3, 1, 2, 3], "x": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
                          "y": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]})
    test = pd.DataFrame({"id": [6, 7], "k": [2, 3], "x": [1.0, 2.0]})
    fs = build_features(train, test, id_col="id", target="y", task=TaskInfo("regression"), folds=np.arange(6) % 2,
                        blocks=[{"block": "label", "columns": ["k"]}, {"block": "count", "columns": ["k"]},
                                {"block": "numeric", "columns": ["x"]}], drop=[], cache_dir=tmp_path / "c",
                        log=lambda m: None)
    ff = _frozen(fs, tmp_path / "states")
    rows = pd.DataFrame({"k": [2.0, np.nan, 3.0], "x": ["1.0", "2.0", "7"]})  # floats with a gap, text numbers
    X, _ = ff.transform(rows)
    assert X["k__label"].tolist() == [1, -1, 2] and X["k__count"].tolist() == [3, 0, 3]
    assert X["x"].dtype == np.float32 and X["x"].tolist() == [1.0, 2.0, 7.0]
    with pytest.raises(UserError, match=r"^column 'x': value 'abc' is not a number"):
        ff.transform(pd.DataFrame({"k": [1], "x": ["abc"]}))
    with pytest.raises(UserError, match=r"lack column\(s\) 'x'"):
        ff.transform(pd.DataFrame({"k": [1]}))


FUNCTIONS = '''
import numpy as np
import pandas as pd
from features import Block, BlockOutput, SupervisedBlock, Transformed, feature_block


@feature_block("family", columns=["sibsp", "parch"])
def family(frame, offset=1):
    return pd.DataFrame({"family": frame["sibsp"] + frame["parch"] + offset})


@feature_block("per_parent", columns=["sibsp", "parch"])
def per_parent(frame):
    return pd.DataFrame({"per_parent": frame["sibsp"] / frame["parch"]})  # inf where parch is 0: read as missing


@feature_block("age_centred", columns=["age"])
def age_centred(frame):
    return pd.DataFrame({"age_centred": frame["age"] - frame["age"].mean()})


class AgeBand(Block):  # the README's example
    name = "age_band"

    def fit_state(self, train, test, ctx):
        both = pd.concat([train["age"], test["age"]])
        return {"edges": np.nanquantile(both, [0.25, 0.5, 0.75])}

    def transform(self, state, X):
        return Transformed(pd.DataFrame({"age_band": np.searchsorted(state["edges"], X["age"]).astype("int8")}))


class OnlyBuild(Block):
    name = "only_build"

    def build(self, train, test, ctx):
        return BlockOutput(pd.DataFrame({"one": [1.0] * len(train)}), pd.DataFrame({"one": [1.0] * len(test)}))


class SexRate(SupervisedBlock):
    name = "sex_rate"

    def fit(self, X, y, ctx):
        rates = pd.Series(y).groupby(X["sex"].to_numpy()).mean()
        return {"sex": rates.index.tolist(), "rate": rates.to_numpy()}

    def apply(self, state, X):
        rates = pd.Series(state["rate"], index=state["sex"])
        return pd.DataFrame({"sex_rate": X["sex"].map(rates).astype("float32").to_numpy()})


class SeriesState(SupervisedBlock):
    name = "series_state"

    def fit(self, X, y, ctx):
        return pd.Series(y).groupby(X["sex"].to_numpy()).mean()

    def apply(self, rates, X):
        return pd.DataFrame({"sex_rate2": X["sex"].map(rates).astype("float32").to_numpy()})
'''


def _plugin_run(titanic, tmp_path, names):
    plugin = tmp_path / "features.py"
    plugin.write_text(FUNCTIONS)
    columns = {"only_build": ["sex"], "sex_rate": ["sex"], "series_state": ["sex"], "age_band": ["age"]}
    blocks = [{"block": n, **({"columns": columns[n]} if n in columns else {})} for n in names]
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path / "cache", blocks, plugin_file=plugin))
    save_states(fs, tmp_path / "states")
    return fs, plugin


def test_row_wise_function_and_stateful_plugin_blocks_transform_new_rows(titanic, tmp_path):
    fs, plugin = _plugin_run(titanic, tmp_path, ["family", "sex_rate", "age_band", "per_parent", "numeric"])
    assert fs.test["age_band"].nunique() == 4
    assert fs.test["per_parent"].isna().any() and not np.isinf(fs.test["per_parent"].to_numpy()).any()
    assert [s.state for s in fs.states][0] == {"row_wise": True}
    with pytest.raises(UserError, match=r"come from the competition's features.py; pass plugin_file"):
        FrozenFeatures.load(tmp_path / "states")
    _same(FrozenFeatures.load(tmp_path / "states", plugin_file=plugin), titanic.test, fs)
    plugin.write_text(FUNCTIONS + "\n# edited\n")
    with pytest.raises(UserError, match=r"features.py: changed since the run saved its feature states"):
        FrozenFeatures.load(tmp_path / "states", plugin_file=plugin)


@pytest.mark.parametrize("name, message", [
    ("age_centred", r"^feature block 'age_centred' cannot transform new rows: .* write it as a Block class"),
    ("only_build", r"^block 'only_build' \(OnlyBuild\) implements only build, so it has no state for new rows"),
    ("series_state", r"^block 'series_state': its state cannot be saved without pickle \(state\['fit'\] is a "
                     r"pandas.Series"),
])
def test_blocks_without_a_usable_state_run_but_refuse_new_rows_in_one_line(titanic, tmp_path, name, message):
    fs, plugin = _plugin_run(titanic, tmp_path, [name, "numeric"])
    assert len(fs.test) == len(titanic.test) and fs.train.shape[1] > 3  # the run itself works
    ff = FrozenFeatures.load(tmp_path / "states", plugin_file=plugin)
    with pytest.raises(UserError, match=message) as err:
        ff.transform(titanic.test)
    assert "\n" not in str(err.value)


def test_tampered_or_missing_state_files_are_refused(titanic, tmp_path):
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path / "cache", []))
    folder = save_states(fs, tmp_path / "states")
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(e for e in manifest["blocks"] if e["name"] == "count")
    state = folder / entry["dir"] / "state.json"
    original = state.read_bytes()
    state.write_bytes(original.replace(b"]", b", 1]", 1))
    with pytest.raises(UserError, match=r"block 'count': .*state.json does not match the digest") as err:
        FrozenFeatures.load(folder)
    assert "\n" not in str(err.value)
    state.write_bytes(original)
    array = next(folder / entry["dir"] / f for f in entry["files"] if f.endswith(".npy"))
    array.unlink()
    with pytest.raises(UserError, match=r"block 'count': .*\.npy is missing"):
        FrozenFeatures.load(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match=r"not a saved feature-states folder"):
        FrozenFeatures.load(folder)
    with pytest.raises(UserError, match=r"not a saved feature-states folder"):
        FrozenFeatures.load(tmp_path / "nowhere")


def test_states_hold_only_json_and_arrays_without_pickle(load, tmp_path):
    ds = load("fine_foods")
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path / "cache", []))
    folder = save_states(fs, tmp_path / "states")
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".npy"}
    for path in files:
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)  # raises for pickled (object) arrays
        else:
            json.loads(path.read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [e["name"] for e in manifest["blocks"]] == [r["block"] for r in fs.report]
    assert [c["name"] for c in manifest["columns"]] == list(fs.test.columns)
    assert manifest["arrays"]["review_seq"]["shape"] == list(fs.arrays["review_seq"][1].shape[1:])
    linear = next(e for e in manifest["blocks"] if e["name"] == "tfidf_linear")
    assert linear["class"] == "features.text.TfidfLinear" and linear["outputs"] == ["review__tfidf_lr"]


def test_categorical_dtypes_and_categories_are_kept(titanic, tmp_path):
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path / "cache", []))
    ff = _frozen(fs, tmp_path / "states")
    cats = [c for c in fs.test.columns if isinstance(fs.test[c].dtype, pd.CategoricalDtype)]
    assert cats
    X, _ = ff.transform(titanic.test.iloc[:1])
    for c in cats:
        assert X[c].dtype == fs.test[c].dtype


def test_cache_entries_written_without_a_state_are_recomputed(titanic, tmp_path, calls):
    blocks = [{"block": "count", "columns": ["sex"]}, {"block": "target_encoding", "columns": ["sex"]}]
    build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, blocks))
    for meta_path in (tmp_path / "count").glob("*/meta.json"):  # as an entry from before states
        meta = json.loads(meta_path.read_text())
        del meta["state"]
        meta_path.write_text(json.dumps(meta))
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, blocks))
    assert [r["cached"] for r in fs.report] == [False, True]
    assert calls == {"count": 2, "target_encoding": 1}
    assert isinstance(fs.states[0].state, dict) and fs.states[0].state["rows"] == len(titanic.train) + len(titanic.test)


def test_features_stage_saves_states_that_give_test_csv_the_runs_test_table(titanic_ws):
    from pipeline.cli import main

    comp = titanic_ws / "competition" / "titanic"
    assert main(["run", "--stage", "features", "--root", str(titanic_ws)]) == 0
    out = comp / "runs" / "features"
    listed = json.loads((out / ".manifest.json").read_text())["files"]
    assert "states/manifest.json" in listed and all((out / name).is_file() for name in listed)
    ff = FrozenFeatures.load(out / "states", plugin_file=comp / "features.py")
    rows = pd.read_csv(comp / "test.csv")
    X, _ = ff.transform(rows)
    pd.testing.assert_frame_equal(X, pd.read_parquet(out / "test.parquet"), check_exact=True)
    X_parts = [ff.transform(rows.iloc[i:i + 100])[0] for i in range(0, len(rows), 100)]
    pd.testing.assert_frame_equal(pd.concat(X_parts, ignore_index=True), X, check_exact=True)
