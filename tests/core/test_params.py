"""One parameter validator for config sections, model tables and feature blocks."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.params import REQUIRED, check_choice, validate

SCHEMA = {"n": (int, 5, "count"), "rate": (float, 0.1, "rate"), "mode": (str, REQUIRED, "mode"),
          "cols": (list, [], "columns")}


def test_defaults_are_filled_as_fresh_copies_and_ints_become_floats():
    a = validate({"mode": "x", "rate": 1}, SCHEMA, where="t")
    b = validate({"mode": "y"}, SCHEMA, where="t")
    assert a == {"n": 5, "rate": 1.0, "mode": "x", "cols": []} and isinstance(a["rate"], float)
    a["cols"].append("z")
    assert b["cols"] == [] and SCHEMA["cols"][1] == []


@pytest.mark.parametrize("given,message", [
    ({"mode": "x", "nn": 1}, r"t: unknown key 'nn' \(did you mean 'n'\?\)"),
    ({}, r"t: missing key 'mode' \(mode\)"),
    ({"mode": "x", "n": 1.5}, r"t: key 'n' must be an integer, got 1.5"),
    ({"mode": "x", "n": True}, r"t: key 'n' must be an integer, got True"),
    ({"mode": "x", "rate": "fast"}, r"t: key 'rate' must be a number, got 'fast'"),
    ({"mode": "q"}, r"t: key 'mode' has 'q', expected one of 'x', 'y'"),
    ({"mode": "x", "n": 0}, r"t: key 'n' must be at least 1, got 0"),
])
def test_every_problem_is_one_line_naming_the_key(given, message):
    with pytest.raises(UserError, match=message):
        validate(given, SCHEMA, where="t", choices={"mode": ("x", "y")}, minimum={"n": 1})


def test_check_choice_suggests_the_closest_registry_name():
    check_choice("rmse", ("rmse", "mae"), where="metric")
    with pytest.raises(UserError, match=r"metric = 'rmsee' is not one of rmse, mae \(did you mean 'rmse'\?\)"):
        check_choice("rmsee", ("rmse", "mae"), where="metric")


def test_threads_go_to_a_plugins_own_parameter_but_a_scikit_learn_estimator_keeps_its_n_jobs():
    import warnings

    import lightgbm as lgb
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from core.metrics import get_metric
    from core.params import with_threads
    from core.tasks import TaskInfo
    from models import train_cv
    from models.testing import make_data

    class Teammate(ClassifierMixin, BaseEstimator):  # scikit-learn's base classes, its own n_jobs
        def __init__(self, n_jobs=None):
            self.n_jobs = n_jobs

    assert with_threads(Teammate, {"C": 1}, 3) == {"C": 1, "n_jobs": 3}
    assert with_threads(lgb.LGBMClassifier, {}, 3) == {"n_jobs": 3}
    # scikit-learn's own: joblib's context in each fit gives None the run's threads
    assert with_threads(LogisticRegression, {"C": 1}, 3) == {"C": 1}
    assert with_threads(RandomForestClassifier, {}, 3) == {}
    # so a plug-in LogisticRegression trains without sklearn 1.8+'s deprecation warning on every fold
    info = TaskInfo("binary", (0, 1))
    X, y = make_data(info, n=120)
    X = X.select_dtypes("number")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = train_cv("lr", {"type": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 500}}, X, y,
                       X.iloc[:5], np.arange(len(y)) % 3, info, get_metric("roc_auc"))
    assert res.overall > 0.5
    assert not [w for w in caught if issubclass(w.category, FutureWarning) and "n_jobs" in str(w.message)]
