"""benchmarks/holdout.py: a data set made of train.csv alone, its held-out rows scored like a test set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.holdout import split_set

REPO = Path(__file__).resolve().parents[2]


def test_a_split_holds_out_a_fifth_of_train_with_its_labels_and_nothing_else(tmp_path):
    src = tmp_path / "data" / "tiny"
    src.mkdir(parents=True)
    train = pd.DataFrame({"id": range(100, 200), "x": range(100), "y": [i % 3 for i in range(100)]})
    train.to_csv(src / "train.csv", index=False)
    pd.DataFrame({"id": [1], "y": [0.5]}).to_csv(src / "sample_submission.csv", index=False)
    (src / "about.json").write_text(json.dumps({"target": "y", "id": "id", "task": "regression", "metric": "rmse"}))
    split_set(tmp_path / "data", "tiny", tmp_path / "split", seed=3)
    out = tmp_path / "split"
    kept, test = pd.read_csv(out / "train.csv"), pd.read_csv(out / "test.csv")
    solution, sample = pd.read_csv(out / "solution.csv"), pd.read_csv(out / "sample_submission.csv")
    assert len(test) == 20 and len(kept) == 80 and not set(kept["id"]) & set(test["id"])
    assert "y" not in test.columns and list(sample["id"]) == list(test["id"]) == list(solution["id"])
    assert (solution.set_index("id")["y"] == train.set_index("id").loc[solution["id"], "y"]).all()
    assert json.loads((out / "about.json").read_text())["rows_test"] == 20
    split_set(tmp_path / "data", "tiny", tmp_path / "again", seed=3)
    assert pd.read_csv(tmp_path / "again" / "test.csv").equals(test)  # the seed fixes the split


def test_stack_arguments_are_ensemble_tables_and_a_wrong_one_says_what_is_wrong():
    from benchmarks.holdout import parse_stacks

    got = parse_stacks(['features={ passthrough = true, stackers = [{ type = "lightgbm" }, "linear"] }'])
    assert got == {"features": {"passthrough": True, "stackers": [{"type": "lightgbm"}, "linear"]}}
    for text, says in (("a=3", "inline"), ("a={ passthru = true }", "passthru cannot be set"),
                       ("a={ method = \"mean\" }", "method cannot be set"), ("a={ x = ", "not TOML")):
        with pytest.raises(ValueError, match=says):
            parse_stacks([text])


def test_the_summary_counts_gains_and_the_ones_beyond_the_interval():
    from benchmarks.holdout import stack_summary

    rows = [{"stacks": {"f": {"gain": 0.02, "interval": [0.01, 0.03]}}},
            {"stacks": {"f": {"gain": -0.01, "interval": [-0.03, 0.01]}}},
            {"stacks": {"f": {"gain": float("nan"), "interval": [float("nan")] * 2}}}, {}]
    assert stack_summary("f", rows) == (
        "stack f: held-out gain over the default's pick, mean +0.50%, median +0.50% over 2 split(s); better on 1 "
        "(1 beyond the interval), worse on 1 (0 beyond it)")


@pytest.mark.slow
def test_a_stack_that_sees_the_features_is_scored_on_rows_no_model_trained_on(tmp_path):
    """titanic's train.csv split; the default run on four fifths; the stack with the features fitted on that run
    and scored on the held-out fifth, against the default's pick."""
    from benchmarks.holdout import one_split

    row = one_split(REPO / "benchmarks" / "data", "titanic", 0, tmp_path, "stack_lightgbm",
                    {"features": {"passthrough": True}})
    solution = pd.read_csv(tmp_path / "data" / "titanic" / "solution.csv")
    rows = len(pd.read_csv(REPO / "benchmarks" / "data" / "titanic" / "train.csv"))
    assert len(solution) == int(rows * 0.2) and row["default"] in row["methods"]
    got = row["stacks"]["features"]
    assert got["without"] == row["default"] and 0.7 < got["held_out"] < 1.0
    assert got["held_out"] != row["methods"].get("stack", {}).get("held_out")  # the features changed the stack
    base = row["methods"][row["default"]]["held_out"]  # AUC: the error is 1 - AUC
    assert abs(got["gain"] - (got["held_out"] - base) / (1 - base)) < 1e-12
    assert got["interval"][0] <= got["interval"][1]


def test_an_unknown_set_or_seed_exits_2_with_one_line_naming_the_choices(tmp_path, monkeypatch, capsys):
    from benchmarks.holdout import main

    data = tmp_path / "data"
    (data / "tiny").mkdir(parents=True)
    (data / "tiny" / "train.csv").write_text("id,y\n1,0\n")
    for argv, says in ((["--sets", "tiny,nope"], "no data set ['nope']"),
                       (["--sets", "tiny", "--seeds", "a"], "--seeds")):
        monkeypatch.setattr("sys.argv", ["holdout.py", "--data", str(data), *argv])
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert says in err and ("choose from tiny" in err or "integers" in err)
