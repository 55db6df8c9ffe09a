"""features.separable_columns: a feature whose values alone tell test rows from train rows is named,
and the features stage warns about it (the OOF score cannot show such a column)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import separable_columns
from pipeline.cli import main


def _tables(n_train: int = 600, n_test: int = 300):
    rng = np.random.default_rng(0)
    n = n_train + n_test
    frame = pd.DataFrame({
        "row": np.arange(n, dtype=float),                           # a row counter: test rows come last
        "noise": rng.normal(size=n),                                # the same distribution in both
        "code": np.where(np.arange(n) < n_train, rng.integers(0, 50, n), -2),  # coded in train only
        "city": pd.Categorical(rng.choice(["a", "b"], n)),          # categorical: not ranked
    })
    frame.loc[rng.choice(n, 40, replace=False), "noise"] = np.nan   # missing values rank as one value
    return frame.iloc[:n_train], frame.iloc[n_train:]


def test_a_row_counter_and_a_train_only_code_are_named_a_shared_distribution_is_not():
    train, test = _tables()
    found = dict(separable_columns(train, test))
    assert set(found) == {"row", "code"}
    assert found["row"] == 1.0 and found["code"] == 1.0  # either direction counts: test below train here
    assert [c for c, _ in separable_columns(train, test)][0] in ("row", "code")


def test_threshold_sampling_and_empty_tables():
    train, test = _tables(3000, 1500)
    shifted = test.assign(noise=test["noise"] + 0.8)  # a moderate shift: AUC about 0.7
    auc = dict(separable_columns(train, shifted, threshold=0.6))["noise"]
    assert 0.65 < auc < 0.8
    assert "noise" not in dict(separable_columns(train, shifted))
    sampled = dict(separable_columns(train, shifted, threshold=0.6, sample_rows=500))["noise"]
    assert abs(sampled - auc) < 0.06  # a sample of each table gives about the same figure
    assert separable_columns(train, test.iloc[:0]) == []


def test_features_stage_warns_about_a_separable_feature(titanic_ws, capsys):
    comp = titanic_ws / "competition" / "titanic"
    assert main(["run", "--stage", "features", "--root", str(titanic_ws)]) == 0
    assert "separates test rows" not in "".join(capsys.readouterr())
    test = pd.read_csv(comp / "test.csv")
    test["sibsp"] = test["sibsp"] + 20  # every test passenger with more siblings than any train passenger
    test.to_csv(comp / "test.csv", index=False)
    assert main(["run", "--stage", "features", "--root", str(titanic_ws)]) == 0
    logged = "".join(capsys.readouterr())
    assert "warning: 'sibsp" in logged and "separates test rows from train rows (AUC 1.00)" in logged
