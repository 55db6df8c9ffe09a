"""The submission writer: every shipped data set's format, transforms, clipping, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from core.metrics import get_metric
from pipeline.submission import check_format, make_submission, write_submission
from core.tasks import TaskInfo
from tests.conftest import DATA, DATASETS


def _load(name: str):
    about = json.loads((DATA / name / "about.json").read_text())
    train = pd.read_csv(DATA / name / "train.csv")
    test = pd.read_csv(DATA / name / "test.csv")
    sample = pd.read_csv(DATA / name / "sample_submission.csv")
    return about, TaskInfo.from_target(about["task"], train[about["target"]]), train, test, sample


def _predictions(task: TaskInfo, train, target: str, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if task.task == "multiclass":
        return rng.dirichlet(np.ones(task.n_classes), n)
    if task.task == "binary":
        return rng.random(n)
    return rng.normal(train[target].mean(), train[target].std(), n)


@pytest.mark.parametrize("name", DATASETS)
def test_submission_file_matches_the_sample_format_exactly(tmp_path, name):
    about, task, train, test, sample = _load(name)
    pred = _predictions(task, train, about["target"], len(test))
    shuffled = np.random.default_rng(1).permutation(len(test))  # predictions in another row order
    sub = make_submission(sample, id_col="id", test_ids=test["id"].to_numpy()[shuffled], pred=pred[shuffled],
                          task=task, style=about["submission"], metric=get_metric(about["metric"]))
    path = write_submission(tmp_path / "sub.csv", sub, sample, id_col="id")
    back = pd.read_csv(path)
    assert list(back.columns) == list(sample.columns)
    assert back.dtypes.tolist() == sample.dtypes.tolist()
    assert back["id"].tolist() == sample["id"].tolist()
    assert not back.isna().any().any()
    values = back.drop(columns="id")
    if about["submission"] in ("proba", "classes"):
        assert values.to_numpy().min() >= 0 and values.to_numpy().max() <= 1
    if about["submission"] == "classes":
        np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-9)
    if about["submission"] == "label":  # each row's label is its most probable class
        row = test["id"].tolist().index(back["id"][0])
        assert back.iloc[0, 1] == task.classes[int(pred[row].argmax())]
    if about["metric"] == "rmsle":
        assert (values.to_numpy() >= 0).all()
    # the same predictions in test order give the same file
    again = make_submission(sample, id_col="id", test_ids=test["id"], pred=pred, task=task,
                            style=about["submission"], metric=get_metric(about["metric"]))
    pd.testing.assert_frame_equal(again, sub)


def test_clipping_to_the_valid_range():
    about, task, train, test, sample = _load("ames_clean")
    negative = np.full(len(test), -5.0)
    sub = make_submission(sample, id_col="id", test_ids=test["id"], pred=negative, task=task, style="value",
                          metric=get_metric("rmsle"))
    assert (sub["Sale_Price"] == 0).all()
    about, task, train, test, sample = _load("titanic")
    sub = make_submission(sample, id_col="id", test_ids=test["id"], pred=np.linspace(-0.5, 1.5, len(test)),
                          task=task, style="proba", metric=get_metric("roc_auc"))
    assert sub["survived"].min() == 0.0 and sub["survived"].max() == 1.0


@pytest.mark.parametrize("change,message", [
    (lambda ids, pred: (ids[1:], pred[1:]), r"miss 1 id\(s\) of the sample submission \(first: "),
    (lambda ids, pred: (ids, np.where(np.arange(len(pred)) == 3, np.nan, pred)), "missing value"),
    (lambda ids, pred: (np.r_[ids[:-1], ids[:1]], pred), "repeat id"),
    (lambda ids, pred: (ids, np.column_stack([pred, pred, pred])), "do not match the classes"),
])
def test_bad_predictions_are_refused_with_one_line_and_nothing_written(tmp_path, change, message):
    about, task, train, test, sample = _load("titanic")
    ids, pred = change(test["id"].to_numpy(), np.random.default_rng(0).random(len(test)))
    style = "classes" if pred.ndim == 2 else "proba"
    with pytest.raises(UserError, match=message) as err:
        make_submission(sample, id_col="id", test_ids=ids, pred=pred, task=task, style=style,
                        metric=get_metric("roc_auc"))
    assert "\n" not in str(err.value)
    sub = pd.DataFrame({"id": sample["id"], "survived": "yes"})  # strings where the sample has floats
    with pytest.raises(UserError, match="dtype"):
        write_submission(tmp_path / "sub.csv", sub, sample, id_col="id")
    assert list(tmp_path.iterdir()) == []


def test_labels_keep_the_sample_dtype_for_string_classes():
    about, task, train, test, sample = _load("hpc")
    label_sample = pd.DataFrame({"id": sample["id"], "class": "F"})
    pred = np.random.default_rng(0).dirichlet(np.ones(4), len(test))
    sub = make_submission(label_sample, id_col="id", test_ids=test["id"], pred=pred, task=task, style="label")
    assert set(sub["class"]) <= {"F", "L", "M", "VF"}
    assert sub["class"].tolist()[:5] == [task.classes[i] for i in pred.argmax(axis=1)[
        pd.Index(test["id"]).get_indexer(sample["id"][:5])]]
    with pytest.raises(UserError, match="unknown submission style 'prob' \\(did you mean 'proba'\\?\\)"):
        make_submission(sample, id_col="id", test_ids=test["id"], pred=pred, task=task, style="prob")


@pytest.mark.parametrize("name", DATASETS)
def test_check_format_passes_every_shipped_sample(name):
    about, task, train, test, sample = _load(name)
    check_format(sample, id_col="id", task=task, style=about["submission"])


def test_check_format_names_the_sample_and_what_cannot_be_written():
    task = TaskInfo.from_target("binary", pd.Series(["yes", "no", "yes"]))
    sample = pd.DataFrame({"id": [1, 2], "y": [0.5, 0.5]})
    check_format(sample, id_col="id", task=task)  # probabilities: fine
    with pytest.raises(UserError, match=r"^sub\.csv: no submission in its format can be written \(submission "
                                        r"column 'y' has dtype .*, the sample's is float64\)"):
        check_format(sample, id_col="id", task=task, style="label", where="sub.csv")
    with pytest.raises(UserError, match="do not match the classes"):
        check_format(pd.DataFrame({"id": [1], "a": [0.5], "b": [0.5]}), id_col="id", task=task)
