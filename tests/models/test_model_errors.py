"""Bad model tables: exit code 2, one line naming the model, the value and the fix; no run folder left."""

from __future__ import annotations

import re

import pytest

from pipeline.cli import main

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

CASES = {
    "misspelt estimator": ('type = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegresion"',
                           r"models\.bad\.estimator = 'sklearn\.linear_model\.LogisticRegresion': module "
                           r"'sklearn\.linear_model' has no 'LogisticRegresion' \(did you mean 'LogisticRegression'\?\)"),
    "missing module": ('type = "sklearn"\nestimator = "sklearnx.linear.Model"',
                       r"models\.bad\.estimator = 'sklearnx\.linear\.Model': cannot import module 'sklearnx\.linear'"),
    "missing estimator key": ('type = "sklearn"', r"type = 'sklearn' needs estimator = '<import path>'"),
    "no predict_proba": ('type = "sklearn"\nestimator = "sklearn.svm.SVC"',
                         r"models\.bad: SVC has no predict_proba, which metric 'roc_auc' needs"),
    "unknown sklearn parameter": ('type = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\n'
                                  'params = { Cc = 1.0 }',
                                  r"models\.bad\.params: LogisticRegression does not accept parameter 'Cc' "
                                  r"\(did you mean 'C'\?\)"),
    "bad sklearn value": ('type = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\n'
                          'params = { C = -1.0 }', r"models\.bad\.params: The 'C' parameter of LogisticRegression"),
    "unknown lightgbm parameter": ('type = "lightgbm"\nparams = { num_leave = 4 }',
                                   r"LightGBM has no parameter 'num_leave' \(did you mean 'num_leaves'\?\)"),
    "bad lightgbm value": ('type = "lightgbm"\nparams = { num_leaves = 1 }', r"models\.bad\.params: .*num_leaves"),
    "one lightgbm parameter twice": ('type = "lightgbm"\nparams = { min_data_in_leaf = 20, min_child_samples = 5 }',
                                     r"^error: models\.bad\.params: min_data_in_leaf = 20 and min_child_samples = 5 "
                                     r"set one LightGBM parameter under two names; keep one of them$"),
    "one xgboost parameter twice": ('type = "xgboost"\nparams = { eta = 0.1, learning_rate = 0.2 }',
                                    r"^error: models\.bad\.params: eta = 0\.1 and learning_rate = 0\.2 set one "
                                    r"XGBoost parameter under two names; keep one of them$"),
    "unknown catboost parameter": ('type = "catboost"\nparams = { deptj = 4 }',
                                   r"^error: models\.bad\.params: CatBoost has no parameter 'deptj' "
                                   r"\(did you mean 'depth'\?\)"),
    "bad xgboost value": ('type = "xgboost"\nparams = { subsample = 2.0 }',
                          r"^error: models\.bad\.params: value 2 for Parameter subsample exceed bound \[0,1\]$"),
    "unknown type": ('type = "lightgmb"', r"models\.bad\.type = 'lightgmb' is not a model type "
                                          r"\(did you mean 'lightgbm'\?\)"),
    "missing import path": ('type = "mypkg.models.Fancy"', r"models\.bad\.type = 'mypkg\.models\.Fancy': cannot import"),
    "plug-in without Model": ('type = "helper"', r"helper\.py: no class 'Model' \(valid: Helper\); name it Model or set models\.bad\.estimator"),
    "plug-in bad parameter": ('type = "helper"\nestimator = "Helper"\nparams = { depth = 3 }',
                              r"models\.bad\.params: Helper does not accept parameter 'depth' \(valid: alpha\)"),
    "bad preprocess": ('type = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\npreprocess = "max"',
                       r"models\.bad\.preprocess = 'max' is not one of auto, none, impute, scale"),
}

HELPER = '''
class Helper:
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        return self

    def predict(self, X):
        return X.iloc[:, 0].to_numpy()
'''


@pytest.mark.parametrize("table,message", CASES.values(), ids=CASES.keys())
def test_bad_model_table_exits_2_with_one_line(titanic_ws, capsys, table, message):
    ws = titanic_ws
    comp = ws / "competition" / "titanic"
    (comp / "models").mkdir()
    (comp / "models" / "helper.py").write_text(HELPER)
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text() + f"\n[models.bad]\n{table}\n")
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")
    assert re.search(message, err[-1]), err[-1]
    assert not any(line.startswith("Traceback") for line in err)
    assert not (comp / "runs" / "models" / "bad").exists()
