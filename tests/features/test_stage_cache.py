"""The features stage through the runner: a forced run with nothing changed recomputes and rewrites
nothing; a changed data value, a changed block or a touched output file is noticed."""

from __future__ import annotations

import pandas as pd

from pipeline.cli import main

BLOCKS = ('[{block = "numeric"}, {block = "count", columns = ["sex", "pclass"]}, '
          '{block = "target_encoding", columns = ["sex"]}]')


def _setup(ws):
    comp = ws / "competition" / "titanic"
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace("[features]", f"[features]\nblocks = {BLOCKS}", 1))
    return comp


def _run(ws, *extra: str) -> None:
    assert main(["run", "--stage", "features", "--root", str(ws), *extra]) == 0


def _stamps(out) -> dict[str, int]:
    """Every output file's mtime, the saved block states under states/ included."""
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_forced_run_with_nothing_changed_recomputes_and_rewrites_nothing(titanic_ws, calls, capsys):
    comp = _setup(titanic_ws)
    out = comp / "runs" / "features"
    _run(titanic_ws)
    assert calls == {"count": 1, "target_encoding": 1}
    first = pd.read_parquet(out / "train.parquet")
    stamps = _stamps(out)
    capsys.readouterr()
    _run(titanic_ws, "--force")
    assert calls == {"count": 1, "target_encoding": 1}
    assert _stamps(out) == stamps
    logged = capsys.readouterr()
    assert "outputs unchanged (9 files), not rewritten" in logged.err + logged.out  # 2 tables, 7 state files
    # another input that no block key reads (threads): blocks planned again, same keys, nothing rewritten
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace("[runtime]", "[runtime]\nthreads = 1", 1))
    _run(titanic_ws, "--force")
    logged = capsys.readouterr()
    assert "outputs unchanged (9 files), not rewritten" in logged.err + logged.out
    assert calls == {"count": 1, "target_encoding": 1} and _stamps(out) == stamps
    # a touched output is written again, from the block cache
    (out / "train.parquet").write_bytes(b"not a parquet file")
    _run(titanic_ws, "--force")
    assert calls == {"count": 1, "target_encoding": 1}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "train.parquet"), first)
    # deleted outputs: the runner re-runs the stage without --force, blocks come from the cache
    (out / "test.parquet").unlink()
    _run(titanic_ws)
    assert calls == {"count": 1, "target_encoding": 1} and (out / "test.parquet").is_file()


def test_changed_data_value_recomputes_the_blocks_reading_it(titanic_ws, calls):
    comp = _setup(titanic_ws)
    out = comp / "runs" / "features"
    _run(titanic_ws)
    train = pd.read_csv(comp / "train.csv")
    row = int((train["sex"] == "male").idxmax())
    train.loc[row, "sex"] = "female"
    train.to_csv(comp / "train.csv", index=False)
    _run(titanic_ws, "--force")
    assert calls == {"count": 2, "target_encoding": 2}
    X = pd.read_parquet(out / "train.parquet")
    n_female = int((train["sex"] == "female").sum() + (pd.read_csv(comp / "test.csv")["sex"] == "female").sum())
    assert X.loc[row, "sex__count"] == n_female
    # a numeric value: only numeric recomputes (count and target encoding stay cached)
    train.loc[0, "age"] = 77.0
    train.to_csv(comp / "train.csv", index=False)
    _run(titanic_ws)
    assert calls == {"count": 2, "target_encoding": 2}
    assert pd.read_parquet(out / "train.parquet").loc[0, "age"] == 77.0


def test_changed_block_parameter_rewrites_outputs(titanic_ws, calls):
    comp = _setup(titanic_ws)
    out = comp / "runs" / "features"
    _run(titanic_ws)
    before = pd.read_parquet(out / "train.parquet")["sex__te"]
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace('columns = ["sex"]}', 'columns = ["sex"], smoothing = 500}', 1))
    _run(titanic_ws)
    assert calls == {"count": 1, "target_encoding": 2}
    after = pd.read_parquet(out / "train.parquet")["sex__te"]
    assert not after.equals(before)


PLUGIN = """
import pandas as pd
from features import feature_block


@feature_block("fare_class", columns=["pclass"])
def fare_class(frame):
    return pd.DataFrame({"fare_class": frame["pclass"].str.len()})
"""


def test_changed_plugin_source_is_noticed_by_a_forced_run(titanic_ws):
    comp = _setup(titanic_ws)
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace('{block = "numeric"}', '{block = "fare_class"}', 1))
    (comp / "features.py").write_text(PLUGIN)
    _run(titanic_ws)
    out = comp / "runs" / "features"
    first = pd.read_parquet(out / "train.parquet")["fare_class"]
    (comp / "features.py").write_text(PLUGIN.replace(".str.len()", ".str.len() * 10"))
    _run(titanic_ws, "--force")
    pd.testing.assert_series_equal(pd.read_parquet(out / "train.parquet")["fare_class"], first * 10)
