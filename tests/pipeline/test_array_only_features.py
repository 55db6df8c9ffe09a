"""A competition whose only feature blocks produce arrays (text_sequence for an RNN): the feature table
has no columns, and still one row per train and test row."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core import io as _io
from pipeline.artifacts import FEATURES_DIR, load_features
from pipeline.cli import main
from tests.conftest import DATA


def test_a_table_without_columns_keeps_the_arrays_rows(tmp_path):
    out = tmp_path / "runs" / FEATURES_DIR
    out.mkdir(parents=True)
    _io.write_parquet(out / "train.parquet", pd.DataFrame(index=range(7)))
    _io.write_parquet(out / "test.parquet", pd.DataFrame(index=range(3)))
    np.save(out / "review_seq.train.npy", np.zeros((7, 4), dtype=np.int32))
    np.save(out / "review_seq.test.npy", np.zeros((3, 4), dtype=np.int32))
    X_train, X_test, arrays = load_features(SimpleNamespace(runs=tmp_path / "runs"))
    assert (len(X_train), len(X_test)) == (7, 3) and X_train.shape[1] == 0
    assert set(arrays) == {"review_seq"}


CONFIG = """
[competition]
task = "binary"
target = "score"
id = "id"
metric = "roc_auc"

[explore]
enabled = false

[features]
blocks = [{ block = "text_sequence", columns = ["review"], maxlen = 40 }]

[models.rnn]
type = "rnn"
params = { epochs = 1, units = 16, embedding_dim = 16 }
"""


@pytest.mark.slow
def test_an_rnn_on_text_sequences_only_runs_to_a_submission(tmp_path, capsys):
    comp = tmp_path / "ws" / "competition" / "ff"
    comp.mkdir(parents=True)
    train = pd.read_csv(DATA / "fine_foods" / "train.csv").iloc[:800]
    train.to_csv(comp / "train.csv", index=False)
    for f in ("test.csv", "sample_submission.csv"):
        (comp / f).write_bytes((DATA / "fine_foods" / f).read_bytes())
    (comp / "competition.toml").write_text(CONFIG)
    assert main(["run", "--root", str(tmp_path / "ws")]) == 0
    sub = pd.read_csv(tmp_path / "ws" / "submissions" / "ff" / "latest.csv")
    assert len(sub) == 1000 and sub["score"].between(0, 1).all()
