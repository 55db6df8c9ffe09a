"""Plug-ins end to end: a teammate's model file (and an import path) trains under the folds and joins the ensemble."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.threads import resolve_threads
from pipeline.cli import main

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

PLUGIN = '''
"""A teammate's model: logistic regression on a few hand-picked interactions."""
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0, n_jobs=None):
        self.C = C
        self.n_jobs = n_jobs

    def _design(self, X):
        X = np.asarray(X, dtype=float)
        return np.column_stack([X, X[:, :3] ** 2])

    def fit(self, X, y):
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._design(X), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(self._design(X))

    def predict(self, X):
        return self.model_.predict(self._design(X))
'''

MODELS = '''
[models.lgbm]
type = "lightgbm"
params = { n_estimators = 200 }

[models.mine]
type = "teammate"
preprocess = "scale"
params = { C = 0.3 }

[models.nb]
type = "sklearn.naive_bayes.GaussianNB"
preprocess = "scale"
'''


@pytest.fixture
def ws(titanic_ws):
    ws = titanic_ws
    comp = ws / "competition" / "titanic"
    text = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(text[: text.index("[models.lgbm]")] + MODELS)
    (comp / "models").mkdir()
    (comp / "models" / "teammate.py").write_text(PLUGIN)
    return ws


def test_plugin_file_and_import_path_join_the_run_and_the_ensemble(ws, capsys):
    assert main(["run", "--root", str(ws)]) == 0
    runs = ws / "competition" / "titanic" / "runs"
    for name in ("lgbm", "mine", "nb"):
        oof = pd.read_parquet(runs / "models" / name / "oof.parquet")
        assert len(oof) == 1047 and oof["pred"].between(0, 1).all()
        scores = json.loads((runs / "models" / name / "scores.json").read_text())
        assert len(scores["folds"]) == 5 and scores["overall"] > 0.75
    params = json.loads((runs / "models" / "mine" / "params.json").read_text())
    assert params["params"]["C"] == 0.3 and params["params"]["n_jobs"] == resolve_threads(rows=1047)  # threads handed to the plug-in (titanic: one)
    ensemble = json.loads((runs / "ensemble" / "scores.json").read_text())
    assert set(ensemble["members"]) == {"lgbm", "mine", "nb"}
    err = capsys.readouterr().err
    assert "[cv] mine fold 4:" in err
    table = [line for line in err.splitlines() if line.startswith("[cv] ") and "fold" not in line
             and line.split()[1] in ("lgbm", "mine", "nb")]
    assert len(table) == 3  # the summary table closes the stage, best first
    scores = [float(line.split()[3]) for line in table]
    assert scores == sorted(scores, reverse=True)


def test_editing_the_plugin_file_retrains_it(ws):
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    run = ws / "competition" / "titanic" / "runs" / "models" / "mine" / "oof.parquet"
    before = pd.read_parquet(run)["pred"].to_numpy()
    plugin = ws / "competition" / "titanic" / "models" / "teammate.py"
    plugin.write_text(PLUGIN.replace("X[:, :3] ** 2", "X[:, :2] ** 3"))
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    assert not np.allclose(pd.read_parquet(run)["pred"].to_numpy(), before)


BROKEN = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        FIT
        return self

    def predict_proba(self, X):
        return PROBA

    def predict(self, X):
        return np.zeros(len(X))
'''


@pytest.mark.parametrize("fit, proba, message", [
    ("raise KeyError('age')", "None", "models.mine (plug-in file {path}): fold 0's fit failed (KeyError: 'age'); "
                                      "fix the model (--debug for the traceback)"),
    ("float('3rd')", "None", "models.mine (plug-in file {path}): fold 0's fit failed (ValueError: could not "
                                "convert string to float: '3rd'); fix the model, or set preprocess = \"impute\" to "
                                "give it numeric arrays"),
    ("pass", "1 / 0", "models.mine (plug-in file {path}): fold 0's predictions failed (ZeroDivisionError: "
                      "division by zero)"),
    ("pass", "np.full(len(X), 0.5)", "Model.predict_proba returned shape ("),
    ("pass", "np.full((len(X), 2), 1.5)", "Model.predict_proba returned 1.5..1.5; class probabilities lie in 0..1"),
    ("pass", "np.full((len(X), 2), 0.3)", "Model.predict_proba returned rows summing to 0.6..0.6; each row's class "
                                          "probabilities sum to 1"),
])
def test_a_plugin_that_fails_or_breaks_the_contract_is_its_authors_one_line(ws, capsys, fit, proba, message):
    plugin = ws / "competition" / "titanic" / "models" / "teammate.py"
    plugin.write_text(BROKEN.replace("FIT", fit).replace("PROBA", proba))
    assert main(["run", "--stage", "cv", "--models", "mine", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message.format(path=str(plugin)) in err[-1] and "internal error" not in err[-1]


def test_a_plugin_without_get_params_behind_preprocessing_is_one_line_before_any_fold(ws, capsys):
    """preprocess = "scale" wraps the model, and the wrapper's per-fold copy is scikit-learn's clone, which
    needs get_params: a class without it failed in fold 0 with clone's TypeError, cut mid-sentence. Without
    preprocessing the model is copied as it is and trains."""
    plugin = ws / "competition" / "titanic" / "models" / "plain.py"
    plugin.write_text(BROKEN.replace("(ClassifierMixin, BaseEstimator)", "").replace("FIT", "pass")
                      .replace("PROBA", "np.full((len(X), 2), 0.5)"))
    config = ws / "competition" / "titanic" / "competition.toml"
    base = config.read_text()
    config.write_text(base + '\n[models.plain]\ntype = "plain"\npreprocess = "scale"\n')
    assert main(["run", "--stage", "cv", "--models", "plain", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("error: models.plain: Model has no get_params, which preprocess = 'scale' needs to copy it for "
                   "each fold; subclass sklearn.base.BaseEstimator (get_params and set_params from __init__'s "
                   "arguments) or set preprocess = \"none\"")
    config.write_text(base + '\n[models.plain]\ntype = "plain"\n')
    assert main(["run", "--stage", "cv", "--models", "plain", "--root", str(ws)]) == 0
