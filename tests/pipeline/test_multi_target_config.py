"""Multi-target config and init: `target = [...]` is parsed and checked; `init` infers multilabel or
multiregression from a sample submission whose prediction columns are train columns; the folds of
`auto` stratify on the rarest label; the submission style `targets` writes one column per target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from core.tasks import TaskInfo
from pipeline.config import parse_config
from pipeline.init_competition import infer
from pipeline.schemes import assign_folds, rarest_label
from pipeline.submission import make_submission

BASE = {"competition": {"task": "multilabel", "target": ["a", "b"], "id": "id", "metric": "roc_auc"},
        "models": {"lgbm": {"type": "lightgbm"}}}


def _parse(tmp_path, **competition):
    raw = {**BASE, "competition": {**BASE["competition"], **competition}}
    return parse_config(raw, tmp_path / "competition.toml")


def test_a_list_target_parses_and_the_style_is_targets(tmp_path):
    cfg = _parse(tmp_path)
    assert cfg["competition"]["target"] == ["a", "b"] and cfg["competition"]["submission"] == "targets"
    assert _parse(tmp_path, task="multiregression", metric="mae")["competition"]["target"] == ["a", "b"]


def test_trim_outliers_is_a_setting_of_multiregression_but_not_of_multilabel(tmp_path):
    trimmed = {"lgbm": {"type": "lightgbm", "trim_outliers": 4.0}}
    cfg = parse_config({"competition": {**BASE["competition"], "task": "multiregression", "metric": "rmse"},
                        "models": trimmed}, tmp_path / "competition.toml")
    assert cfg["models"]["lgbm"]["trim_outliers"] == 4.0
    with pytest.raises(UserError, match=r"trim_outliers = 4\.0 must be 0 \(off\).*applies to regression only"):
        parse_config({**BASE, "models": trimmed}, tmp_path / "competition.toml")


@pytest.mark.parametrize("change, message", [
    ({"target": ["a"]}, r"needs at least 2 target columns, got 1"),
    ({"target": "a"}, r"needs at least 2 target columns, got competition\.target = 'a'"),
    ({"target": ["a", "a"]}, r"names 'a' twice"),
    ({"target": ["a", 3]}, r"must list column names, got 3"),
    ({"task": "binary"}, r"competition\.target is a list \(2 columns\) but task 'binary' has one target"),
    ({"metric": "f1"}, r"metric 'f1' does not fit task 'multilabel'; use one of roc_auc, log_loss, accuracy"),
    ({"task": "multiregression", "metric": "roc_auc"}, r"metric 'roc_auc' does not fit task 'multiregression'"),
    ({"submission": "classes"}, r"competition\.submission = 'classes' does not fit task 'multilabel'"),
])
def test_bad_multi_target_configs_are_one_line(tmp_path, change, message):
    with pytest.raises(UserError, match=message) as err:
        _parse(tmp_path, **change)
    assert "\n" not in str(err.value)


def _tables(y: dict):
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"id": np.arange(100), "x": rng.random(100), **y})
    test = pd.DataFrame({"id": np.arange(100, 120), "x": rng.random(20)})
    sample = pd.DataFrame({"id": test["id"], **{c: 0.5 for c in y}})
    return train, test, sample


def test_init_infers_multilabel_from_the_sample_columns():
    rng = np.random.default_rng(1)
    train, test, sample = _tables({"toxic": rng.integers(0, 2, 100), "threat": rng.integers(0, 2, 100)})
    inf = infer(train, test, sample)
    assert (inf.task, inf.target, inf.metric, inf.submission) == ("multilabel", ["toxic", "threat"], "roc_auc",
                                                                  "targets")
    assert inf.train_only == []


def test_init_infers_multiregression_when_a_column_is_not_0_1():
    rng = np.random.default_rng(2)
    train, test, sample = _tables({"cohesion": rng.random(100) * 4, "syntax": rng.integers(0, 2, 100)})
    inf = infer(train, test, sample)
    assert (inf.task, inf.target, inf.metric) == ("multiregression", ["cohesion", "syntax"], "rmse")


def test_init_keeps_multiclass_when_the_sample_columns_are_classes():
    rng = np.random.default_rng(3)
    train, test, _ = _tables({"label": rng.choice(["cat", "dog", "eel"], 100)})
    sample = pd.DataFrame({"id": test["id"], "cat": 0.3, "dog": 0.3, "eel": 0.4})
    assert infer(train, test, sample).task == "multiclass"


def test_init_given_multilabel_refuses_a_column_that_is_not_0_1():
    rng = np.random.default_rng(4)
    train, test, sample = _tables({"a": rng.integers(0, 2, 100), "b": rng.integers(0, 3, 100)})
    with pytest.raises(UserError, match=r"--task multilabel: target column 'b' is not 0/1 .* use --task "
                                        r"multiregression"):
        infer(train, test, sample, task="multilabel")


def test_auto_folds_stratify_on_the_rarest_label():
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"common": rng.integers(0, 2, 500), "rare": (rng.random(500) < 0.03).astype(int)})
    assert rarest_label(train, ["common", "rare"]) == "rare" and rarest_label(train, "common") == "common"
    folds = assign_folds(train, target=["common", "rare"], task="multilabel", scheme="auto", n_splits=5, seed=0)
    per_fold = np.bincount(folds[train["rare"].to_numpy() == 1], minlength=5)
    assert per_fold.max() - per_fold.min() <= 1  # the rare label's positives spread evenly
    assert set(assign_folds(train, target=["common", "rare"], task="multiregression", scheme="auto", n_splits=5,
                            seed=0)) == set(range(5))


def test_the_targets_style_writes_the_sample_columns_in_its_order():
    task = TaskInfo("multilabel", (0, 1), ("toxic", "threat"))
    sample = pd.DataFrame({"id": [3, 1, 2], "threat": 0.5, "toxic": 0.5})
    pred = np.array([[0.1, 0.2], [0.3, 1.4], [0.5, 0.6]])  # rows of test ids 1, 2, 3; columns toxic, threat
    sub = make_submission(sample, id_col="id", test_ids=[1, 2, 3], pred=pred, task=task)
    assert list(sub.columns) == ["id", "threat", "toxic"] and sub["id"].tolist() == [3, 1, 2]
    assert sub["toxic"].tolist() == [0.5, 0.1, 0.3] and sub["threat"].tolist() == [0.6, 0.2, 1.0]  # clipped
    with pytest.raises(UserError, match=r"style 'targets' needs a multi-target task whose target columns"):
        make_submission(sample.rename(columns={"threat": "insult"}), id_col="id", test_ids=[1, 2, 3], pred=pred,
                        task=task)
