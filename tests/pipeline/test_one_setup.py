"""Registries are the single source, and every model stage shares one setup.

A metric registered in core.metrics (one entry, nowhere else) runs a competition end to end; a
plug-in model from competition/<name>/models/ trains in cv, in pseudo-labelling and as a stacker.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.metrics import METRICS, Metric
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.workspace import Workspace
from tests.conftest import DATA

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

_CONFIG = """
[competition]
task = "binary"
target = "survived"
id = "id"
metric = "{metric}"

[pseudo]
enabled = {pseudo}
models = ["mine"]
threshold = 0.6

[ensemble]
method = "{method}"
stackers = [{stackers}]

[models.lgbm]
type = "lightgbm"
params = {{ num_leaves = 7 }}

[models.mine]
type = "mine"
params = {{ C = 0.5 }}
"""

_PLUGIN = '''
"""A teammate's model: logistic regression on the numeric columns (imputed)."""
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.columns_ = [c for c in X.columns if X[c].dtype.kind == "f"]
        self.model_ = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=self.C))
        self.model_.fit(X[self.columns_], y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X[self.columns_])

    def predict(self, X):
        return self.model_.predict(X[self.columns_])
'''


def _workspace(tmp_path, *, metric: str, pseudo: bool = False, stackers: str = '"linear"', method: str = "auto"):
    ws = tmp_path / "ws"
    comp = ws / "competition" / "titanic"
    (comp / "models").mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        (comp / f).write_bytes((DATA / "titanic" / f).read_bytes())
    (comp / "competition.toml").write_text(_CONFIG.format(metric=metric, pseudo=str(pseudo).lower(),
                                                          stackers=stackers, method=method))
    (comp / "models" / "mine.py").write_text(_PLUGIN)
    return Workspace(ws).competition("titanic")


def _brier(y, p):
    return float(np.mean((np.asarray(y, dtype=float) - p) ** 2))


def test_a_metric_registered_in_one_place_runs_a_competition_end_to_end(tmp_path, monkeypatch):
    brier = Metric("brier", _brier, False, ("binary",), True, "log_loss")
    monkeypatch.setitem(METRICS, "brier", brier)  # the one entry; no other file knows the name
    comp = _workspace(tmp_path, metric="brier")
    runner = Runner(build_pipeline(), comp, log=lambda m: None)
    ran = runner.run()
    assert {"cv", "ensemble", "submit"} <= set(ran)
    scores = json.loads((comp.runs / "models" / "lgbm" / "scores.json").read_text())
    assert scores["metric"] == "brier" and scores["greater_is_better"] is False
    oof = pd.read_parquet(comp.runs / "models" / "lgbm" / "oof.parquet")
    train = pd.read_csv(comp.train_path)
    y = (train.set_index("id").loc[oof["id"], "survived"].to_numpy() == 1).astype(float)
    assert abs(scores["overall"] - _brier(y, oof["pred"].to_numpy())) < 1e-12
    assert 0.1 < scores["overall"] < 0.2  # learnt something: predicting the base rate scores ~0.236
    ensemble = json.loads((comp.runs / "ensemble" / "scores.json").read_text())
    assert ensemble["metric"] == "brier" and "rank" not in ensemble["methods"]  # brier is not rank-based
    sub = pd.read_csv(comp.submissions_dir / "latest.csv")
    assert len(sub) == 262 and sub["survived"].between(0, 1).all()


def test_an_unregistered_metric_is_refused_with_the_registry_names(tmp_path):
    from core.errors import UserError

    try:
        _workspace(tmp_path, metric="brier")
    except UserError as exc:
        assert "competition.metric: unknown metric 'brier'; use one of roc_auc, log_loss" in str(exc)
    else:
        raise AssertionError("an unknown metric was accepted")


def test_a_plugin_model_trains_in_cv_in_pseudo_labelling_and_as_a_stacker(tmp_path):
    comp = _workspace(tmp_path, metric="roc_auc", pseudo=True, stackers='"mine"', method="stack")
    lines: list[str] = []
    Runner(build_pipeline(), comp, log=lines.append).run()
    assert (comp.runs / "models" / "mine" / "oof.parquet").is_file()
    pseudo = json.loads((comp.runs / "pseudo" / "mine-pseudo" / "params.json").read_text())
    assert pseudo["type"] == "mine" and sum(pseudo["pseudo"]["rows_per_fold"]) > 0
    ensemble = json.loads((comp.runs / "ensemble" / "params.json").read_text())
    assert ensemble["method"] == "stack" and ensemble["details"]["levels"] == [["mine"]]
    assert any(line.startswith("[cv] stack-mine fold") for line in lines)  # the plug-in fitted at level 2
    assert json.loads((comp.runs / "ensemble" / "scores.json").read_text())["overall"] > 0.8
