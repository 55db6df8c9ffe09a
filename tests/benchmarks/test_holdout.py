"""benchmarks/holdout.py: a data set made of train.csv alone, its held-out rows scored like a test set."""

from __future__ import annotations

import json

import pandas as pd

from benchmarks.holdout import split_set


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
