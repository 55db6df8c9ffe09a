"""Bad block configuration: one clear UserError line, raised before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import build_features
from core.errors import UserError


@pytest.mark.parametrize("blocks,message", [
    ([{"block": "target_encode", "columns": ["sex"]}],
     r"features.blocks\[0\]: unknown block 'target_encode' \(did you mean 'target_encoding'\?\)"),
    ([{"block": "numeric"}, {"block": "target_encoding", "columns": ["sexx"]}],
     r"features.blocks\[1\] \(target_encoding\): column 'sexx' not found in train \(did you mean 'sex'\?\)"),
    ([{"block": "tfidf_svd", "columns": ["age"]}],
     r"column 'age' is numeric, but block 'tfidf_svd' reads text or categorical columns"),
    ([{"block": "text_sequence", "columns": ["sibsp"]}], r"column 'sibsp' is numeric"),
    ([{"block": "target_encoding", "columns": ["sex"], "smooth": 3}],
     r"unknown parameter 'smooth' \(did you mean 'smoothing'\?\)"),
    ([{"block": "target_encoding", "columns": ["sex"], "smoothing": "high"}],
     r"parameter 'smoothing' must be a number, got 'high'"),
    ([{"block": "count", "columns": ["sex"], "scope": "tran"}],
     r"parameter 'scope' has 'tran', expected one of 'all', 'train' \(did you mean 'train'\?\)"),
    ([{"block": "datetime", "columns": ["sex"]}], r"column 'sex' is categorical, but block 'datetime' reads datetime"),
    ([{"block": "group_agg", "columns": ["age"]}], r"missing parameter 'by'"),
    ([{"block": "group_agg", "by": "klass", "columns": ["age"]}], r"column 'klass' not found in train"),
    ([{"block": "label", "columns": ["survived"]}], r"column 'survived' is the target"),
    ([{"block": "label", "columns": ["id"]}], r"column 'id' is the id column"),
    (["numeric"], r"each block must be a table like \{block = \"numeric\"\}, got 'numeric'"),
    ([{"columns": ["age"]}], r"each block must be a table"),
    ([{"block": "numeric", "columns": "age"}], r"parameter 'columns' must be a list, got 'age'"),
    ([{"block": "image", "columns": ["age", "sibsp", "parch"]}], r"3 pixel columns do not fill shape"),
    ([{"block": "image", "columns": ["age", "sibsp", "parch"], "shape": [1, "a", 3]}],
     r"shape must be \[channels, height, width\] as positive integers"),
    ([{"block": "text_sequence", "columns": ["sex"], "maxlen": -1}], r"parameter 'maxlen' must be at least 0, got -1"),
    ([{"block": "target_encoding", "columns": ["sex"], "smoothing": -1}], r"'smoothing' must be at least 0.0"),
])
def test_bad_block_entries_raise_one_clear_line_before_writing(titanic, tmp_path, blocks, message):
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match=message) as info:
        build_features(titanic.train, titanic.test, **titanic.kwargs(cache, blocks))
    assert "\n" not in str(info.value)
    assert not cache.exists()  # validated before any cache file was written


def test_column_missing_from_test(titanic, tmp_path):
    train = titanic.train.assign(extra=1)
    with pytest.raises(UserError, match="column 'extra' is in train but not in test"):
        build_features(train, titanic.test, **titanic.kwargs(tmp_path, [{"block": "numeric", "columns": ["extra"]}]))


def test_plugin_problems_are_user_errors(titanic, tmp_path):
    plugin = tmp_path / "features.py"
    plugin.write_text("def broken(:\n")
    with pytest.raises(UserError, match=r"features.py: the feature plug-in failed to import \(SyntaxError"):
        build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, [], plugin_file=plugin))
    plugin.write_text("from features import Block\n\nclass Mine(Block):\n    name = 'numeric'\n")
    with pytest.raises(UserError, match="block name 'numeric' is a built-in block; rename"):
        build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, [], plugin_file=plugin))


ONE_FUNCTION = """
import pandas as pd
from features import feature_block


@feature_block("mine", columns=["sibsp", "parch"])
def mine(frame):
    return pd.DataFrame({BODY})
"""


@pytest.mark.parametrize("body, message", [
    ('"f": frame["sibsq"]', r"features.py: feature block 'mine' failed \(KeyError: 'sibsq'\); fix the block"),
    ('"f": frame["sibsp"].astype(str)', r"block 'mine': column 'f' holds str values; a feature column holds numbers"),
    ('"f": pd.to_datetime(frame["sibsp"])', r"column 'f' holds datetime64\[ns\] values"),
])
def test_a_plugin_block_that_fails_or_gives_no_numbers_is_the_users_one_line(titanic, tmp_path, body, message):
    # the user's code: one line naming the file, not an internal error (or LightGBM's own complaint later)
    plugin = tmp_path / "features.py"
    plugin.write_text(ONE_FUNCTION.replace("BODY", body))
    with pytest.raises(UserError, match=message):
        build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, [{"block": "mine"}], plugin_file=plugin))


def test_a_plugin_blocks_inf_and_nullable_columns_become_what_the_models_take(titanic, tmp_path):
    plugin = tmp_path / "features.py"
    plugin.write_text(ONE_FUNCTION.replace("BODY", '"ratio": frame["sibsp"] / frame["parch"], '
                                             '"any": (frame["sibsp"] > 0).astype("boolean"), '
                                             '"kids": frame["parch"].astype("Int64"), '
                                             '"band": frame["parch"].astype("category")'))
    fs = build_features(titanic.train, titanic.test, **titanic.kwargs(tmp_path, [{"block": "mine"}], plugin_file=plugin))
    for X in (fs.train, fs.test):
        assert not np.isinf(X["ratio"].to_numpy()).any() and X["ratio"].isna().any()  # x / 0: missing, as numeric
        assert X["any"].dtype == np.float64 and X["kids"].dtype == np.float64
        assert isinstance(X["band"].dtype, pd.CategoricalDtype)


def _set_blocks(ws, blocks_toml: str) -> None:
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[features]\n", f"[features]\nblocks = {blocks_toml}\n", 1))


@pytest.mark.parametrize("blocks_toml,message", [
    ('[{block = "target_encode", columns = ["sex"]}]',
     "unknown block 'target_encode' (did you mean 'target_encoding'?)"),
    ('[{block = "label", columns = ["sexx"]}]', "column 'sexx' not found in train (did you mean 'sex'?)"),
    ('[{block = "tfidf_svd", columns = ["age"]}]', "column 'age' is numeric, but block 'tfidf_svd' reads text"),
])
def test_cli_exits_2_with_one_line(titanic_ws, blocks_toml, message):
    _set_blocks(titanic_ws, blocks_toml)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--stage", "features", "--root", str(titanic_ws)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()  # progress lines, then the error on one line
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == [lines[-1]] and message in lines[-1]
    runs = titanic_ws / "competition" / "titanic" / "runs"
    assert not (runs / "cache" / "features").exists() and not (runs / "features").exists()


PLUGIN = '''
import numpy as np
import pandas as pd
from features import SupervisedBlock, feature_block


@feature_block("family", columns=["sibsp", "parch"])
def family(frame, offset=1):
    """Family size aboard."""
    return pd.DataFrame({"family": frame["sibsp"] + frame["parch"] + offset})


class SexRate(SupervisedBlock):
    """Survival rate by sex, out of fold."""

    name = "sex_rate"

    def fit(self, X, y, ctx):
        return pd.Series(y).groupby(X["sex"].to_numpy()).mean()

    def apply(self, rates, X):
        return pd.DataFrame({"sex_rate": X["sex"].map(rates).astype("float32").to_numpy()})
'''


def test_competition_plugin_blocks_run_through_the_stage(titanic_ws):
    import pandas as pd

    from pipeline.cli import main

    comp = titanic_ws / "competition" / "titanic"
    (comp / "features.py").write_text(PLUGIN)
    _set_blocks(titanic_ws, '[{block = "numeric"}, {block = "family", offset = 0}, '
                            '{block = "sex_rate", columns = ["sex"]}, {block = "category", columns = ["sex"]}]')
    assert main(["run", "--stage", "features", "--root", str(titanic_ws)]) == 0
    X = pd.read_parquet(comp / "runs" / "features" / "train.parquet")
    assert list(X.columns) == ["age", "sibsp", "parch", "family", "sex_rate", "sex"]
    assert (X["family"] == X["sibsp"] + X["parch"]).all()
    assert X["sex_rate"].nunique() > 2  # out of fold: each fold's rates differ slightly
    assert X["sex"].dtype == "category"


def test_stage_writes_default_arrays_and_tables(tmp_path):
    import numpy as np
    import pandas as pd

    from pipeline.cli import main

    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "digits"
    ws = tmp_path / "ws"
    ws.mkdir()
    assert main(["init", "digits", "--root", str(ws), "--train", str(data / "train.csv"), "--test",
                 str(data / "test.csv"), "--sample-submission", str(data / "sample_submission.csv")]) == 0
    assert main(["run", "--stage", "features", "--root", str(ws)]) == 0
    out = ws / "competition" / "digits" / "runs" / "features"
    tr, te = np.load(out / "image.train.npy"), np.load(out / "image.test.npy")
    assert tr.shape == (1437, 1, 8, 8) and te.shape == (360, 1, 8, 8) and tr.dtype == np.float32
    X = pd.read_parquet(out / "train.parquet")
    assert X.shape == (1437, 64)
