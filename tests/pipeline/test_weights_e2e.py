"""End to end through the CLI: a weighted titanic run ([competition] weight = a column 1 + class) trains;
its CV scores, the ensemble's, an import's and diff's blends are the weighted metric; the weight
column is no feature; a model that takes no weights says so in one line; and a bad weight column or
a metric without a weighted form stops the run with one line (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.cli import main
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

COMP = ("competition", "titanic")
MODELS = '''
[models.lgbm]
type = "lightgbm"
params = { n_estimators = 40 }

[models.linear]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }

[models.knn]
type = "sklearn"
estimator = "sklearn.neighbors.KNeighborsClassifier"
params = { n_neighbors = 25 }
'''


def _workspace(tmp_path, weight: str = "w", values=None, metric: str = "roc_auc"):
    ws = make_workspace(tmp_path)
    comp = ws.joinpath(*COMP)
    train = pd.read_csv(comp / "train.csv")
    train["w"] = 1 + train["pclass"].str[0].astype(int) if values is None else values(train)
    train.to_csv(comp / "train.csv", index=False)
    cfg = comp / "competition.toml"
    text = cfg.read_text().split("\n[models.")[0]
    text = text.replace("[competition]\n", f'[competition]\nweight = "{weight}"\n', 1)
    text = text.replace('metric = "roc_auc"', f'metric = "{metric}"')
    text = text.replace("[explore]\n", "[explore]\nenabled = false\n")
    cfg.write_text(text + MODELS)
    return ws, comp, train


def test_a_weighted_run_scores_with_the_weights(tmp_path, capsys):
    ws, comp, train = _workspace(tmp_path)
    assert main(["run", "--stage", "ensemble", "--root", str(ws)]) == 0
    out = "\n".join(capsys.readouterr())
    said = [line for line in out.splitlines() if "takes no sample_weight" in line]
    assert said == [("[cv] knn: KNeighborsClassifier.fit takes no sample_weight; it trains unweighted "
                     "(competition.weight), its scores are still weighted")]
    folds = pd.read_csv(comp / "runs" / "folds.csv").set_index("id")["fold"].loc[train["id"]].to_numpy()
    y, w = train["survived"].to_numpy(), train["w"].to_numpy(dtype=float)
    for name, weighted_fit in (("lgbm", True), ("linear", True), ("knn", False)):
        run = comp / "runs" / "models" / name
        scores = json.loads((run / "scores.json").read_text())
        oof = pd.read_parquet(run / "oof.parquet").set_index("id").loc[train["id"]].iloc[:, 0].to_numpy()
        fold0 = folds == 0
        assert scores["folds"][0] == pytest.approx(roc_auc_score(y[fold0], oof[fold0], sample_weight=w[fold0]),
                                                   abs=1e-12)
        assert scores["folds"][0] != pytest.approx(roc_auc_score(y[fold0], oof[fold0]), abs=1e-6)
        assert scores["overall"] == pytest.approx(roc_auc_score(y, oof, sample_weight=w), abs=1e-12)
        params = json.loads((run / "params.json").read_text())
        assert params["sample_weight"] is weighted_fit and "w" not in params["features"]["columns"]
    ensemble = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())
    oof = pd.read_parquet(comp / "runs" / "ensemble" / "oof.parquet").set_index("id").loc[train["id"]]
    assert ensemble["overall"] == pytest.approx(roc_auc_score(y, oof.iloc[:, 0], sample_weight=w), abs=1e-12)
    lgbm = pd.read_parquet(comp / "runs" / "models" / "lgbm" / "oof.parquet").set_index("id").loc[train["id"]]
    assert ensemble["members"]["lgbm"] == pytest.approx(roc_auc_score(y, lgbm.iloc[:, 0], sample_weight=w),
                                                        abs=1e-12)
    # a teammate's import is scored as the cv runs are: exported and imported back, lgbm scores the same
    assert main(["export", "lgbm", "--root", str(ws)]) == 0
    bundle = ws / "exports" / "titanic" / "titanic-lgbm.zip"
    assert main(["import", str(bundle), "--name", "again", "--root", str(ws)]) == 0
    again = json.loads((comp / "imports" / "again" / "scores.json").read_text())
    mine = json.loads((comp / "runs" / "models" / "lgbm" / "scores.json").read_text())
    assert again["overall"] == pytest.approx(mine["overall"], abs=1e-12)
    assert again["folds"] == pytest.approx(mine["folds"], abs=1e-12)
    # diff scores its blends as the runs were scored
    linear = pd.read_parquet(comp / "runs" / "models" / "linear" / "oof.parquet").set_index("id").loc[train["id"]]
    half = 0.5 * lgbm.iloc[:, 0].to_numpy() + 0.5 * linear.iloc[:, 0].to_numpy()
    capsys.readouterr()
    assert main(["diff", "lgbm", "linear", "--root", str(ws)]) == 0
    blend = roc_auc_score(y, half, sample_weight=w)
    assert f"blend on OOF: 50/50 roc_auc {blend:.5f};" in capsys.readouterr().out


def _error(capsys) -> str:
    """The run's error: exactly one line starting with 'error:' on stderr."""
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    return errors[0]


@pytest.mark.parametrize("values,metric,message", [
    (lambda t: -t["sibsp"], "roc_auc", "competition.weight column 'w' has {negative} negative value(s) (id "),
    (lambda t: t["age"], "roc_auc", "competition.weight column 'w' has {missing} missing or infinite value(s)"),
    (lambda t: t["sex"], "roc_auc", "competition.weight column 'w' is not numeric ("),  # str / object dtype
    (lambda t: t["sex"], "roc_auc", ", e.g. 'female'); name a column of numbers"),
    (lambda t: 0 * t["sibsp"], "roc_auc", "competition.weight column 'w' is 0 on every row"),
    (None, "f1", "metric 'f1' takes no sample weights, which competition.weight gives"),
])
def test_a_bad_weight_column_or_an_unweighted_metric_is_one_line(tmp_path, capsys, values, metric, message):
    ws, comp, train = _workspace(tmp_path, values=values, metric=metric)
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 2
    w = pd.to_numeric(train["w"], errors="coerce")
    assert message.format(negative=int((w < 0).sum()), missing=int(w.isna().sum())) in _error(capsys)
    assert not (comp / "runs" / "folds.csv").exists()  # refused before the first stage, not after the features


def test_a_weight_column_that_is_not_there_is_one_line(tmp_path, capsys):
    ws, comp, train = _workspace(tmp_path, weight="wieght")
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 2
    assert "train.csv: competition.weight 'wieght' not found" in _error(capsys)
