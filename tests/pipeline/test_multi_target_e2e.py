"""End to end through the CLI on real data made multi-target: `init` infers the task from the sample
submission's columns, `run` trains every model once per target column, blends column-wise, and writes
a submission in the sample's format; `predict` on test.csv writes that submission again.

multilabel: titanic's train rows, three 0/1 columns of the table as targets (survived, sex = female,
parch > 0: travels with parents or children) predicted from pclass, age and sibsp; multiregression:
breast_cancer's train rows, two numeric columns (worst texture, worst smoothness) predicted from the
others. Each set's own train rows are split
80/20 (seed 0) into train.csv and test.csv, as the targets of test.csv are not public."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.cli import main
from tests.conftest import DATA

# End to end (the CLI on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

MODELS = '''
[models.lgbm]
type = "lightgbm"
params = { n_estimators = 60 }

[models.linear]
type = "sklearn"
estimator = "{linear}"
'''


def _competition(tmp_path, table: pd.DataFrame, targets: list[str], id_col: str = "id"):
    """train.csv / test.csv / sample_submission.csv of `table` in tmp_path/src (80/20, seed 0)."""
    src = tmp_path / "src"
    src.mkdir()
    test_rows = np.random.default_rng(0).permutation(len(table))[: len(table) // 5]
    is_test = np.zeros(len(table), dtype=bool)
    is_test[test_rows] = True
    train, test = table[~is_test], table[is_test]
    train.to_csv(src / "train.csv", index=False)
    test.drop(columns=targets).to_csv(src / "test.csv", index=False)
    sample = pd.DataFrame({id_col: test[id_col].to_numpy(), **{t: 0.5 for t in targets}})
    sample.to_csv(src / "sample_submission.csv", index=False)
    return src, train, sample


def _init_and_run(tmp_path, src, name: str, linear: str, capsys, features: str = "") -> tuple:
    """`init` then `run` with MODELS (and `features`, lines for the [features] table, when given)."""
    ws = tmp_path / "ws"
    files = [f"--{key}={src / f'{file}.csv'}" for key, file in
             (("train", "train"), ("test", "test"), ("sample-submission", "sample_submission"))]
    assert main(["init", name, "--root", str(ws), *files]) == 0
    said = capsys.readouterr().out
    comp = ws / "competition" / name
    text = (comp / "competition.toml").read_text().split("\n[models.")[0]
    text = text.replace("[explore]\n", "[explore]\nenabled = false\n")
    text = text.replace("[features]\n", f"[features]\n{features}")
    (comp / "competition.toml").write_text(text + MODELS.replace("{linear}", linear))
    assert main(["run", "--root", str(ws)]) == 0
    run = capsys.readouterr()
    return comp, said, run.out + run.err


def test_multilabel_titanic_end_to_end(tmp_path, capsys):
    table = pd.read_csv(DATA / "titanic" / "train.csv")
    table["female"] = (table["sex"] == "female").astype(int)
    table["parch"] = (table["parch"] > 0).astype(int)  # travels with parents or children
    table = table.drop(columns=["sex"])
    targets = ["survived", "female", "parch"]
    src, train, sample = _competition(tmp_path, table, targets)
    # the class encoded by each target column's mean (fitted once per column, out of fold), numbers as they are
    blocks = 'blocks = [{block = "target_encoding", columns = ["pclass"]}, {block = "numeric"}]\n'
    comp, said, out = _init_and_run(tmp_path, src, "tml", "sklearn.linear_model.LogisticRegression", capsys,
                                    features=blocks)
    assert "task: multilabel" in said and "metric: roc_auc" in said
    X = pd.read_parquet(comp / "runs" / "features" / "test.parquet")
    assert [f"pclass__te__{t}" for t in targets] == [c for c in X.columns if c.startswith("pclass")]
    config = (comp / "competition.toml").read_text()
    assert 'target = ["survived", "female", "parch"]' in config and 'submission = "targets"' in config
    sub = pd.read_csv(comp.parents[1] / "submissions" / "tml" / "latest.csv")
    assert list(sub.columns) == list(sample.columns)
    assert sub["id"].tolist() == sample["id"].tolist() and len(sub) == len(sample)
    values = sub[targets].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
    # OOF: one column per target; the score is the mean of the columns' ROC AUCs (scikit-learn's)
    y = train.set_index("id")[targets]
    for run in ("models/lgbm", "models/linear", "ensemble"):
        oof = pd.read_parquet(comp / "runs" / run / "oof.parquet").set_index("id").loc[y.index]
        assert list(oof.columns[-3:]) == targets
        expected = np.mean([roc_auc_score(y[t], oof[t]) for t in targets])
        scores = json.loads((comp / "runs" / run / "scores.json").read_text())
        assert scores["overall"] == pytest.approx(expected, abs=1e-9)
        # each column's own score beside the mean, as a competitor reads the labels one by one
        assert scores["columns"] == pytest.approx({t: roc_auc_score(y[t], oof[t]) for t in targets}, abs=1e-12)
        assert expected > 0.68  # survived, female and parch > 0 from pclass, age and sibsp
    assert f"[ensemble] roc_auc by target column: survived {scores['columns']['survived']:.4f}" in out
    linear = json.loads((comp / "runs" / "models" / "linear" / "scores.json").read_text())["columns"]
    assert f"by target column survived {linear['survived']:.4f}, female {linear['female']:.4f}" in out
    methods = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["methods"]
    assert "stack" in methods  # a stacker per target column
    _predicts_latest(comp, tmp_path)
    _reports(comp, "survived")
    # a teammate's multilabel run imports (its rows need not sum to 1) and joins the ensemble, with its fold
    # models (one per target column, each a pipeline around the estimator: nested folders), which predict
    ws, bundle = comp.parents[1], tmp_path / "linear.zip"
    assert main(["export", "linear", "--root", str(ws), "--out", str(bundle)]) == 0
    assert main(["import", str(bundle), "--root", str(ws), "--name", "mate"]) == 0
    assert main(["run", "--root", str(ws)]) == 0
    assert "mate" in json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["members"]
    mate = json.loads(next(comp.rglob("mate/scores.json")).read_text())
    assert set(mate["columns"]) == set(targets) and np.mean(list(mate["columns"].values())) == pytest.approx(
        mate["overall"], abs=1e-12)  # scored again on import, column by column
    _predicts_latest(comp, tmp_path)


def test_multiregression_breast_cancer_end_to_end(tmp_path, capsys):
    table = pd.read_csv(DATA / "breast_cancer" / "train.csv")
    targets = ["worst texture", "worst smoothness"]
    src, train, sample = _competition(tmp_path, table, targets)
    comp, said, out = _init_and_run(tmp_path, src, "tmr", "sklearn.linear_model.Ridge", capsys)
    assert "task: multiregression" in said and "metric: rmse" in said
    sub = pd.read_csv(comp.parents[1] / "submissions" / "tmr" / "latest.csv")
    assert list(sub.columns) == list(sample.columns) and sub["id"].tolist() == sample["id"].tolist()
    y = train.set_index("id")[targets]
    oof = pd.read_parquet(comp / "runs" / "ensemble" / "oof.parquet").set_index("id").loc[y.index]
    per_column = [float(np.sqrt(np.mean((y[t] - oof[t]) ** 2))) for t in targets]
    scores = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())
    assert scores["overall"] == pytest.approx(np.mean(per_column), abs=1e-9)  # MCRMSE
    # each column well below predicting its mean (its standard deviation)
    assert all(rmse < 0.6 * y[t].std(ddof=0) for rmse, t in zip(per_column, targets))
    # regression predictions are clipped to each column's own training range (not all columns' together)
    for run in ("models/lgbm", "models/linear"):
        oof = pd.read_parquet(comp / "runs" / run / "oof.parquet").set_index("id").loc[y.index]
        for t in targets:
            assert oof[t].min() >= y[t].min() - 1e-12 and oof[t].max() <= y[t].max() + 1e-12
    _predicts_latest(comp, tmp_path)
    _reports(comp, "worst texture")
    # a notebook's CSVs must name the target columns (not "classes", not "probability")
    ws, folds = comp.parents[1], pd.read_csv(comp / "runs" / "folds.csv")[["id", "fold"]]
    oof = pd.read_parquet(comp / "runs" / "models" / "linear" / "oof.parquet").merge(folds, on="id")
    oof.rename(columns={targets[1]: "smoothness"}).to_csv(tmp_path / "oof.csv", index=False)
    pd.read_parquet(comp / "runs" / "models" / "linear" / "test.parquet").to_csv(tmp_path / "test.csv", index=False)
    capsys.readouterr()
    assert main(["import", "--oof", str(tmp_path / "oof.csv"), "--test", str(tmp_path / "test.csv"), "--name", "nb",
                 "--root", str(ws)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"must be the target columns {targets}, one prediction column each")
    # a stack pinned: a stacker per target column, honest per column, and `predict` writes its submission again
    config = comp / "competition.toml"
    config.write_text(config.read_text().replace("[ensemble]\n", '[ensemble]\nmethod = "stack"\n', 1))
    assert main(["run", "--root", str(ws)]) == 0
    scores = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())
    assert scores["method"] == "stack" and scores["overall"] < min(scores["members"].values())
    _predicts_latest(comp, tmp_path)


@pytest.mark.parametrize("kind", ["multilabel", "multiregression"])
def test_pseudo_labels_on_a_multi_target_competition(tmp_path, capsys, kind):
    """Pseudo-labelling column by column: multilabel test rows sure in every column (threshold) get 0/1 per column,
    multiregression rows the models agree on in every column (agreement) get their values; the pseudo run joins the
    ensemble, and `predict` writes its submission again."""
    if kind == "multilabel":
        table = pd.read_csv(DATA / "titanic" / "train.csv")
        table["female"] = (table["sex"] == "female").astype(int)
        table = table.drop(columns=["sex"])
        targets, linear, pseudo = ["survived", "female"], "sklearn.linear_model.LogisticRegression", "threshold = 0.8"
    else:
        table = pd.read_csv(DATA / "breast_cancer" / "train.csv")
        targets, linear, pseudo = ["worst texture", "worst smoothness"], "sklearn.linear_model.Ridge", "fraction = 0.5"
    src, train, sample = _competition(tmp_path, table, targets)
    ws = tmp_path / "ws"
    assert main(["init", "p", "--root", str(ws), f"--train={src / 'train.csv'}", f"--test={src / 'test.csv'}",
                 f"--sample-submission={src / 'sample_submission.csv'}"]) == 0
    comp = ws / "competition" / "p"
    text = (comp / "competition.toml").read_text().split("\n[models.")[0]
    text = text.replace("[explore]\n", "[explore]\nenabled = false\n").replace(
        "[pseudo]\n", f"[pseudo]\nenabled = true\nmodels = [\"lgbm\"]\nrounds = 1\n{pseudo}\n")
    (comp / "competition.toml").write_text(text + MODELS.replace("{linear}", linear))
    assert main(["run", "--root", str(ws)]) == 0
    said = capsys.readouterr()
    params = json.loads((comp / "runs" / "pseudo" / "lgbm-pseudo" / "params.json").read_text())["pseudo"]
    assert params["selection"] == ("threshold" if kind == "multilabel" else "agreement")
    first = params["rounds"][0]
    assert all(n > 0 for n in first["rows_per_fold"]) and set(first["labels"]) == set(targets)
    if kind == "multiregression":  # half the test rows a fold, each labelled in both columns
        assert first["rows_per_fold"] == [round(0.5 * len(sample))] * 5
    oof = pd.read_parquet(comp / "runs" / "pseudo" / "lgbm-pseudo" / "oof.parquet")
    assert list(oof.columns[-2:]) == targets and len(oof) == len(train)
    assert "lgbm-pseudo" in json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["members"]
    assert "[pseudo] lgbm-pseudo round 1:" in said.out + said.err
    _predicts_latest(comp, tmp_path)


def _predicts_latest(comp, tmp_path) -> None:
    """`predict --test test.csv` writes the run's latest.csv byte for byte (every target column)."""
    ws, out = comp.parents[1], tmp_path / "predicted.csv"
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out)]) == 0
    assert out.read_bytes() == (ws / "submissions" / comp.name / "latest.csv").read_bytes()


def _reports(comp, first: str) -> None:
    """The results report shows the first target column's OOF predictions and the two best runs' rows."""
    assert main(["report", "--root", str(comp.parents[1])]) == 0
    page = (comp / "runs" / "report.html").read_text()
    assert f"The first target column, {first}, of" in page
    assert "by target column:" in page and f"<th>{first}</th>" in page  # each run's score per column
