"""Built-in blocks: identical train/test columns on every data set, and each block's values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import BUILTIN_BLOCKS, build_features
from features.columns import column_kinds

DATASETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")
SMALL_TEXT = {"ngram_max": 1, "max_features": 3000}


def _all_blocks(ds) -> list[dict]:
    """Every built-in block, on the columns of this data set it can read (defaults where possible)."""
    cols = [c for c in ds.train.columns if c not in (ds.id_col, ds.target)]
    kinds = column_kinds(ds.train, ds.test, cols)
    numeric = [c for c in cols if kinds[c] == "numeric"]
    keyed = sorted(cols, key=lambda c: ds.train[c].nunique())
    blocks = [{"block": "numeric"}, {"block": "missing_indicator"}, {"block": "log"}, {"block": "rank"},
              {"block": "label"}, {"block": "count"}, {"block": "onehot"}, {"block": "target_encoding"},
              {"block": "datetime"},
              {"block": "group_agg", "by": keyed[0], "columns": [c for c in numeric if c != keyed[0]][:3],
               "aggs": ["mean", "std", "count"], "diff": True},
              {"block": "text_sequence", "maxlen": 30}, {"block": "bag_of_words", "max_words": 20},
              {"block": "tfidf_svd", "n_components": 4, **SMALL_TEXT}, {"block": "tfidf_linear", **SMALL_TEXT},
              {"block": "image"},
              {"block": "pairs", "columns": numeric[:4]} if len(numeric) >= 2 else {"block": "pairs"}]
    if not [c for c in numeric if c != keyed[0]]:
        blocks = [b for b in blocks if b["block"] != "group_agg"]
    cats = [c for c in cols if kinds[c] == "categorical"]
    # category keeps the column name: give it columns the numeric block does not also emit
    blocks.append({"block": "category", "columns": cats} if cats else {"block": "category"})
    return blocks


def _with_dates(frame: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """The frame plus a date-like string column derived from the id (no set ships one)."""
    days = pd.to_timedelta(frame[id_col].to_numpy() % 1500, unit="D")
    return frame.assign(when=(pd.Timestamp("2020-01-01") + days).strftime("%Y-%m-%d"))


@pytest.mark.parametrize("name", DATASETS)
def test_every_builtin_block_gives_identical_train_and_test_columns(name, load, tmp_path):
    ds = load(name)
    blocks = _all_blocks(ds)
    assert {b["block"] for b in blocks} | {"group_agg"} == set(BUILTIN_BLOCKS)
    train, test = _with_dates(ds.train, ds.id_col), _with_dates(ds.test, ds.id_col)
    fs = build_features(train, test, **ds.kwargs(tmp_path, blocks))
    assert list(fs.train.columns) == list(fs.test.columns)
    assert fs.train.dtypes.tolist() == fs.test.dtypes.tolist()
    assert len(fs.train) == len(ds.train) and len(fs.test) == len(ds.test)
    assert ds.id_col not in fs.train.columns and ds.target not in fs.train.columns
    assert fs.train.shape[1] > 0
    assert all(not isinstance(t, np.dtypes.ObjectDType) for t in fs.train.dtypes), "object columns reach models"
    for arr_name, (tr, te) in fs.arrays.items():
        assert tr.shape[0] == len(ds.train) and te.shape[0] == len(ds.test) and tr.shape[1:] == te.shape[1:]
    ran = {r["block"] for r in fs.report}
    kinds = set(column_kinds(ds.train, ds.test, [c for c in ds.train.columns
                                                  if c not in (ds.id_col, ds.target)]).values())
    if "text" in kinds:
        assert {"text_sequence", "bag_of_words", "tfidf_svd", "tfidf_linear"} <= ran
        assert fs.arrays["review_seq"][0].shape == (len(ds.train), 30)
    if "categorical" in kinds:
        assert {"label", "count", "onehot", "target_encoding", "category"} <= ran
    assert "datetime" in ran and "when__year" in fs.train.columns
    if name == "digits":
        assert fs.arrays["image"][0].shape == (len(ds.train), 1, 8, 8)


@pytest.mark.parametrize("name", DATASETS)
def test_default_blocks_run_on_every_data_set(name, load, tmp_path):
    ds = load(name)
    logs: list[str] = []
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path, [], log=logs.append))
    assert any("automatic blocks" in m for m in logs)
    assert list(fs.train.columns) == list(fs.test.columns)
    assert fs.train.dtypes.tolist() == fs.test.dtypes.tolist()
    if name == "fine_foods":  # free text gets a real representation for tabular models
        assert "review__tfidf_lr" in fs.train.columns and "review__svd_0" in fs.train.columns
        assert "review_seq" in fs.arrays
    if name == "digits":
        assert "image" in fs.arrays


def _frames(train: dict, test: dict):
    return pd.DataFrame(train), pd.DataFrame(test)


def _build(train, test, blocks, tmp_path, *, target="y", task=None, folds=None):
    from core.tasks import TaskInfo

    task = task or TaskInfo("regression")
    folds = np.arange(len(train)) % 2 if folds is None else folds
    return build_features(train, test, id_col="id", target=target, task=task, folds=folds, blocks=blocks,
                          drop=[], cache_dir=tmp_path, log=lambda m: None)


def test_numeric_downcasts_and_keeps_missing(tmp_path):
    train, test = _frames({"id": [1, 2, 3], "small": [1, 2, 3], "big": [0, 70000, 5], "f": [0.5, np.nan, 2.0],
                           "y": [0.0, 1.0, 2.0]},
                          {"id": [4], "small": [-4], "big": [9], "f": [1.0]})
    fs = _build(train, test, [{"block": "numeric"}, {"block": "missing_indicator"}], tmp_path)
    assert fs.train["small"].dtype == np.int8 and fs.train["big"].dtype == np.int32
    assert fs.train["f"].dtype == np.float32 and np.isnan(fs.train["f"][1])
    assert fs.test["small"].tolist() == [-4]
    assert list(fs.train.columns) == ["small", "big", "f", "f__isna"]  # only columns with missing values
    assert fs.train["f__isna"].tolist() == [0, 1, 0]


def test_infinite_values_are_missing_and_flagged(tmp_path):
    # XGBoost and scikit-learn's estimators refuse inf; numeric, log and missing_indicator read it as missing
    train, test = _frames({"id": [1, 2, 3], "f": [np.inf, 1.0, -np.inf], "huge": [1e39, 1.0, 2.0],
                           "g": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0]},
                          {"id": [4, 5], "f": [2.0, -np.inf], "huge": [3.0, 4.0], "g": [4.0, np.inf]})
    fs = _build(train, test, [{"block": "numeric"}, {"block": "missing_indicator"}, {"block": "log",
                                                                                     "columns": ["f"]}], tmp_path)
    assert np.isnan(fs.train["f"]).tolist() == [True, False, True] and np.isnan(fs.test["f"]).tolist() == [False, True]
    assert np.isnan(fs.train["huge"]).tolist() == [True, False, False]  # beyond float32
    assert fs.train["f__isna"].tolist() == [1, 0, 1] and fs.test["g__isna"].tolist() == [0, 1]
    assert fs.train["huge__isna"].tolist() == [1, 0, 0]
    assert np.isnan(fs.train["f__log"]).tolist() == [True, False, True]
    assert all(np.isfinite(fs.train[c]).sum() + np.isnan(fs.train[c]).sum() == 3 for c in fs.train.columns)


def test_estimators_that_refuse_inf_train_on_a_column_with_it(tmp_path):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    x[::7] = np.inf
    train, test = _frames({"id": np.arange(60), "x": x, "z": rng.normal(size=60), "y": rng.normal(size=60)},
                          {"id": [60, 61], "x": [-np.inf, 0.5], "z": [0.0, 1.0]})
    fs = _build(train, test, [{"block": "numeric"}, {"block": "missing_indicator"}], tmp_path)
    for model in (make_pipeline(SimpleImputer(), Ridge()), HistGradientBoostingRegressor(max_iter=5)):
        assert np.isfinite(model.fit(fs.train, train["y"]).predict(fs.test)).all()
    xgboost = pytest.importorskip("xgboost")
    model = xgboost.XGBRegressor(n_estimators=5, nthread=1).fit(fs.train, train["y"])
    assert np.isfinite(model.predict(fs.test)).all()


def test_log_and_rank(tmp_path):
    train, test = _frames({"id": [1, 2, 3], "x": [-9.0, 0.0, 99.0], "y": [0.0, 1.0, 2.0]}, {"id": [4], "x": [3.0]})
    fs = _build(train, test, [{"block": "log"}, {"block": "rank"}], tmp_path)
    np.testing.assert_allclose(fs.train["x__log"], [-np.log(10), 0.0, np.log(100)], rtol=1e-6)
    assert fs.train["x__rank"].tolist() == [0.25, 0.5, 1.0] and fs.test["x__rank"].tolist() == [0.75]


def test_pairs_products_and_ratios(tmp_path):
    train, test = _frames({"id": [1, 2, 3], "a": [6.0, 1.0, np.nan], "b": [3.0, 0.0, 2.0], "c": [1e38, 2.0, 1.0],
                           "y": [0.0, 1.0, 2.0]},
                          {"id": [4], "a": [-2.0], "b": [4.0], "c": [0.5]})
    fs = _build(train, test, [{"block": "pairs", "columns": ["a", "b", "c"]}], tmp_path)
    assert list(fs.train.columns) == ["a__x__b", "a__per__b", "a__x__c", "a__per__c", "b__x__c", "b__per__c"]
    assert fs.train["a__x__b"].tolist()[:2] == [18.0, 0.0] and np.isnan(fs.train["a__x__b"][2])  # missing stays
    assert fs.train["a__per__b"][0] == 2.0 and np.isnan(fs.train["a__per__b"][1])  # a zero denominator
    assert np.isnan(fs.train["a__x__c"][0])  # 6e38 is beyond float32: missing, not inf
    assert fs.test["a__per__b"].tolist() == [-0.5] and fs.train.dtypes.unique().tolist() == [np.float32]
    ratios = _build(train, test, [{"block": "pairs", "columns": ["a", "b"], "products": False}], tmp_path)
    assert list(ratios.train.columns) == ["a__per__b"]


@pytest.mark.parametrize("entry, message", [
    ({"block": "pairs", "columns": [f"x{i}" for i in range(21)]}, "21 columns make 210 pairs"),
    ({"block": "pairs", "columns": ["x0", "x1"], "products": False, "ratios": False}, "make no column"),
])
def test_pairs_refuses_what_cannot_work(entry, message, tmp_path):
    from core.errors import UserError

    frame = pd.DataFrame({"id": range(4), **{f"x{i}": np.arange(4.0) for i in range(21)}, "y": np.arange(4.0)})
    with pytest.raises(UserError, match=message):
        _build(frame, frame.drop(columns="y"), [entry], tmp_path)


def test_default_pairs_take_a_few_quantities_only():
    from features import default_blocks

    rng = np.random.default_rng(0)
    quantities = {f"q{i}": rng.normal(size=40) for i in range(3)}
    flags = {"flag": np.arange(40) % 2, "count": np.arange(40) % 5}  # fewer than 10 values: not quantities
    frame = pd.DataFrame({**quantities, **flags})
    kinds = dict.fromkeys(frame.columns, "numeric")
    pairs = [b for b in default_blocks(frame, frame, kinds) if b["block"] == "pairs"]
    assert pairs == [{"block": "pairs", "columns": ["q0", "q1", "q2"]}]
    wide = pd.DataFrame({f"q{i}": rng.normal(size=40) for i in range(9)})  # 36 pairs: too many
    assert not [b for b in default_blocks(wide, wide, dict.fromkeys(wide.columns, "numeric")) if b["block"] == "pairs"]
    one = frame[["q0", "flag"]]
    assert not [b for b in default_blocks(one, one, {"q0": "numeric", "flag": "numeric"}) if b["block"] == "pairs"]


def test_label_codes_unseen_and_missing(tmp_path):
    train, test = _frames({"id": [1, 2, 3, 4], "c": ["b", "a", None, "b"], "y": [0.0, 1.0, 0.0, 1.0]},
                          {"id": [5, 6, 7], "c": ["a", "zzz", None]})
    fs = _build(train, test, [{"block": "label", "columns": ["c"]}, {"block": "count", "columns": ["c"]},
                              {"block": "onehot", "columns": ["c"]}], tmp_path)
    assert fs.train["c__label"].tolist() == [1, 0, -1, 1]
    assert fs.test["c__label"].tolist() == [0, -2, -1]  # unseen -> -2, missing -> -1
    assert fs.train["c__count"].tolist() == [2, 2, 2, 2] and fs.test["c__count"].tolist() == [2, 1, 2]
    assert [c for c in fs.train.columns if c.startswith("c=")] == ["c=a", "c=b", "c=__other__"]
    assert fs.test[["c=a", "c=b", "c=__other__"]].to_numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_label_leaves_a_value_of_one_row_uncoded(tmp_path):
    """A value in one row only (a title, a product id) gets no code: in train its code would name that
    row, and no test row could share it. Rows of train and test count together."""
    train, test = _frames({"id": [1, 2, 3, 4], "c": ["solo", "pair", "pair", "shared"], "y": [0.0, 1.0, 0.0, 1.0]},
                          {"id": [5, 6], "c": ["shared", "new"]})
    fs = _build(train, test, [{"block": "label", "columns": ["c"]}], tmp_path)
    assert fs.train["c__label"].tolist() == [-2, 0, 0, 1] and fs.test["c__label"].tolist() == [1, -2]
    fs = _build(train, test, [{"block": "label", "columns": ["c"], "min_count": 1}], tmp_path / "one")
    assert fs.train["c__label"].tolist() == [2, 0, 0, 1] and fs.test["c__label"].tolist() == [1, -2]


def test_category_shares_categories_so_unseen_test_values_never_crash_lightgbm(tmp_path):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    n = 200
    train = pd.DataFrame({"id": range(n), "c": rng.choice(["a", "b", "c"], n), "y": rng.integers(0, 2, n)})
    test = pd.DataFrame({"id": range(n, n + 4), "c": ["a", "new1", "new2", None]})
    blocks = [{"block": b, "columns": ["c"]} for b in ("category", "label", "count", "onehot", "target_encoding")]
    from core.tasks import TaskInfo

    fs = _build(train, test, blocks, tmp_path, task=TaskInfo.from_target("binary", train["y"]),
                folds=np.arange(n) % 5)
    assert fs.train["c"].dtype == fs.test["c"].dtype and "new1" in fs.test["c"].cat.categories
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                        lgb.Dataset(fs.train, train["y"]), 5)
    pred = booster.predict(fs.test)
    assert pred.shape == (4,) and np.isfinite(pred).all()


def test_datetime_parts(tmp_path):
    train, test = _frames({"id": [1, 2], "d": ["2024-01-31", "2024-03-01"], "y": [0.0, 1.0]},
                          {"id": [3], "d": ["2025-02-03"]})
    fs = _build(train, test, [{"block": "datetime"}], tmp_path)
    assert list(fs.train.columns) == ["d__year", "d__month", "d__day", "d__dayofweek", "d__elapsed"]  # no time
    assert fs.train["d__month"].tolist() == [1, 3] and fs.test["d__year"].tolist() == [2025]
    assert fs.train["d__dayofweek"].tolist() == [2, 4]  # Wednesday, Friday
    assert fs.train["d__elapsed"].tolist() == [0.0, 30.0]


def test_group_aggregations_match_pandas(load, tmp_path):
    ds = load("hpc")
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path, [
        {"block": "group_agg", "by": "protocol", "columns": ["compounds"], "aggs": ["mean", "max", "count"]}]))
    both = pd.concat([ds.train, ds.test], ignore_index=True)
    expect = both.groupby("protocol")["compounds"].transform("mean").to_numpy(dtype=np.float32)
    got = np.concatenate([fs.train["compounds__by_protocol__mean"], fs.test["compounds__by_protocol__mean"]])
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    assert fs.train["compounds__by_protocol__count"].iloc[0] == (both["protocol"] == ds.train["protocol"][0]).sum()


def test_image_block_reshapes_and_scales_digits(load, tmp_path):
    ds = load("digits")
    fs = build_features(ds.train, ds.test, **ds.kwargs(tmp_path, [{"block": "image", "scale": 16.0}]))
    tr, te = fs.arrays["image"]
    assert tr.dtype == np.float32 and tr.shape == (len(ds.train), 1, 8, 8) and te.shape == (len(ds.test), 1, 8, 8)
    assert tr[0, 0, 2, 5] == np.float32(ds.train["pixel_2_5"][0] / 16.0)
    assert 0.0 <= tr.min() and tr.max() <= 1.0
    assert fs.train.shape[1] == 0  # arrays only


def test_column_kinds_and_pixel_grids():
    from features.columns import column_kind, pixel_grid

    s = pd.Series
    assert column_kind(s([1, 2]), s([3.5])) == "numeric"
    assert column_kind(s(["2024-01-02", "2024-02-03 10:00"]), s(["2025-01-01"])) == "datetime"
    assert column_kind(s(["a quick brown fox", "jumps over the lazy dog"]), s(["and so on and on"])) == "text"
    assert column_kind(s(["red", "blue", "red"]), s(["green"])) == "categorical"
    assert column_kind(s(["1 2", "3"]), s([None])) == "categorical"
    titles = s(["The Big Sleep", "Big Fish", "Sleepless in Seattle", "The Fish Tank"])  # short, all distinct
    assert column_kind(titles, s(["Seattle Nights"])) == "text"
    assert column_kind(s(["New York", "San Jose"] * 10), s(["New York"])) == "categorical"  # few values
    cols, shape = pixel_grid([f"pixel_{r}_{c}" for c in range(5) for r in range(4)])
    assert shape == (1, 4, 5) and cols[:2] == ["pixel_0_0", "pixel_0_1"]
    assert pixel_grid([f"pixel{i}" for i in range(3 * 16)])[1] == (3, 4, 4)
    assert pixel_grid([f"pixel{i}" for i in range(10)]) is None and pixel_grid(["a", "b"]) is None


@pytest.mark.parametrize("task_name", ["multiclass", "regression"])
def test_tfidf_linear_for_multiclass_and_regression(load, tmp_path, task_name):
    from core.tasks import TaskInfo

    ds = load("fine_foods")
    train, test = ds.train.iloc[:600].copy(), ds.test.iloc[:50]
    words = train["review"].str.split().str.len()
    if task_name == "multiclass":
        train["y"] = np.where(words < 30, "short", np.where(words < 80, "mid", "long"))
    else:
        train["y"] = np.log(words.astype(float))
    task = TaskInfo.from_target(task_name, train["y"])
    fs = build_features(train, test, id_col="id", target="y", task=task, folds=np.arange(600) % 3,
                        blocks=[{"block": "tfidf_linear", "columns": ["review"], "ngram_max": 1}], drop=[],
                        cache_dir=tmp_path, log=lambda m: None)
    if task_name == "multiclass":
        cols = [f"review__tfidf_lr_{c}" for c in task.prediction_columns()]
        assert list(fs.train.columns) == cols
        np.testing.assert_allclose(fs.train[cols].sum(axis=1), 1.0, rtol=1e-5)
    else:
        assert list(fs.train.columns) == ["review__tfidf_lr"]
        assert np.corrcoef(fs.train["review__tfidf_lr"], train["y"])[0, 1] > 0.3


def test_two_blocks_emitting_the_same_column_is_an_error(titanic, tmp_path):
    from core.errors import UserError

    with pytest.raises(UserError, match=r"column 'sibsp' is produced by both numeric\(.*\) and category\(sibsp\)"):
        build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, [
            {"block": "numeric"}, {"block": "category", "columns": ["sibsp"]}]))


def test_train_and_test_dtypes_are_unified_for_plugin_blocks(titanic, tmp_path):
    plugin = tmp_path / "features.py"
    plugin.write_text(
        "import numpy as np, pandas as pd\n"
        "from features import Block, BlockOutput\n\n"
        "class Sloppy(Block):\n"
        "    name = 'sloppy'\n\n"
        "    def build(self, train, test, ctx):\n"
        "        return BlockOutput(pd.DataFrame({'k': np.zeros(len(train), dtype=np.int64),\n"
        "                                         'c': pd.Categorical(['a'] * len(train))}),\n"
        "                           pd.DataFrame({'k': np.full(len(test), 0.5),\n"
        "                                         'c': pd.Categorical(['b'] * len(test))}))\n")
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(
        tmp_path / "cache", [{"block": "sloppy", "columns": ["age"]}], plugin_file=plugin))
    assert fs.train.dtypes.tolist() == fs.test.dtypes.tolist()
    assert fs.train["k"].dtype == np.float32 and fs.test["k"][0] == 0.5
    assert list(fs.train["c"].cat.categories) == ["a", "b"]
