"""scikit-learn estimators by import path, wrapped with the preprocessing they need.

Feature frames hold float columns and pandas categoricals with missing values; most scikit-learn
estimators accept neither. `Preprocessed` imputes (median + missing indicators; a "missing" level),
one-hot encodes categoricals (rare levels pooled, at most `max_categories` columns each) and
optionally standardises, all fitted on the training rows of each fold only; `preprocess = "splines"`
adds a cubic B-spline basis of each numeric column (knots at its quantiles), so a linear model fits a
curve per column (a GAM) instead of one slope. Per-row weights
(`sample_weight`: [competition] weight, soft pseudo-labels) reach the estimator's fit when it takes
them (`takes_sample_weight`); the preprocessing itself is fitted unweighted (medians, levels, scales).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if

from core.params import check_init_params, import_object, init_params
from models._types import ModelContext
from core.errors import UserError

_SPLINE_KNOTS = 8  # per numeric column: 10 basis columns (cubic), enough for a bump, few enough for small data
# Each `preprocess` mode: the Preprocessed settings it means (None: the estimator as it is).
_MODES: dict[str, dict | None] = {"none": None, "impute": {"scale": False}, "scale": {"scale": True},
                                  "splines": {"scale": True, "splines": _SPLINE_KNOTS}}
PREPROCESS = ("auto", *_MODES)
_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree")
_NATIVE_MISSING = ("HistGradientBoosting",)


def _inner_has(attr: str):
    return lambda self: hasattr(self.estimator, attr)


class Preprocessed(BaseEstimator):
    """An estimator behind imputation, one-hot encoding and (when `scale`) standardisation."""

    def __init__(self, estimator: Any = None, scale: bool = True, max_categories: int = 32, min_frequency: int = 5,
                 splines: int = 0):
        self.estimator = estimator
        self.scale = scale
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        self.splines = splines

    def _transformer(self, X):
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

        numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
        other = [c for c in X.columns if c not in numeric]
        num_steps = [SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
        if self.scale:
            num_steps.append(StandardScaler())
        cat = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="__missing__", keep_empty_features=True),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=self.min_frequency,
                          max_categories=self.max_categories, sparse_output=False))
        parts = [("num", make_pipeline(*num_steps), numeric), ("cat", cat, other)]
        if self.splines:  # constant beyond the training range
            curved = [c for c in numeric if _distinct_knots(X[c], self.splines)]
            parts.append(("spline", make_pipeline(SimpleImputer(strategy="median"), SplineTransformer(
                n_knots=self.splines, degree=3, knots="quantile", extrapolation="constant")), curved))
        return ColumnTransformer(parts, verbose_feature_names_out=False), other

    @staticmethod
    def _objects(X, cols):
        if not cols:
            return X
        X = X.copy()
        for c in cols:  # categorical/str -> object so the imputer and encoder treat all alike
            X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
        return X

    def wants_validation(self) -> bool:
        """Whether the wrapped estimator's fit uses validation rows (the CV loop then holds some out)."""
        return {"X_valid", "y_valid"} <= init_params(self.estimator.fit)[0]

    def takes_sample_weight(self) -> bool:
        """Whether the wrapped estimator's fit takes sample_weight (this fit then passes it on)."""
        return "sample_weight" in init_params(self.estimator.fit)[0]

    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None) -> "Preprocessed":
        """Fit the preprocessing on X, then the estimator on the transformed rows (with `sample_weight`
        when given: ValueError if the estimator's fit takes none)."""
        self.transformer_, self._cat_cols = self._transformer(X)
        Xt = self.transformer_.fit_transform(self._objects(X, self._cat_cols))
        self.estimator_ = clone(self.estimator)
        names, _ = init_params(self.estimator_.fit)
        kwargs = {}
        if sample_weight is not None:
            if "sample_weight" not in names:
                raise ValueError(f"{type(self.estimator_).__name__}.fit takes no sample_weight")
            kwargs["sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
        if X_valid is not None and {"X_valid", "y_valid"} <= names:
            Xv = self.transformer_.transform(self._objects(X_valid, self._cat_cols))
            self.estimator_.fit(Xt, y, X_valid=Xv, y_valid=y_valid, **kwargs)
        else:
            self.estimator_.fit(Xt, y, **kwargs)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        self.feature_names_out_ = np.asarray(self.transformer_.get_feature_names_out(), dtype=object)
        return self

    def _t(self, X):
        return self.transformer_.transform(self._objects(X, self._cat_cols))

    def predict(self, X) -> np.ndarray:
        """The estimator's predictions on the transformed rows."""
        return self.estimator_.predict(self._t(X))

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """The estimator's class probabilities on the transformed rows."""
        return self.estimator_.predict_proba(self._t(X))

    @property
    def feature_importances_(self) -> np.ndarray:
        """The estimator's importances (tree models) or absolute coefficients (linear models)."""
        est = self.estimator_
        if hasattr(est, "feature_importances_"):
            return np.asarray(est.feature_importances_)
        if hasattr(est, "coef_"):
            coef = np.abs(np.atleast_2d(est.coef_))
            return coef.mean(axis=0)
        raise AttributeError("the estimator exposes no importances")


def _distinct_knots(column, knots: int) -> bool:
    """Whether a column's `knots` quantiles are all distinct: a curve needs values spread over its range.
    A column that is mostly one value (a TF-IDF weight, a rare count, a coded level) keeps its one slope."""
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    return len(values) > 0 and len(np.unique(np.quantile(values, np.linspace(0.0, 1.0, knots)))) == knots


def _mode(name: str, spec: dict, estimator: Any, *, default: str) -> str:
    mode = spec.get("preprocess", "auto")
    if mode not in PREPROCESS:
        raise UserError(f"models.{name}.preprocess = {mode!r} is not one of {', '.join(PREPROCESS)}")
    if mode == "auto":
        mode = default
    if mode not in ("none", "impute") and type(estimator).__module__.startswith(_TREE_MODULES):
        mode = "impute"  # trees need neither scaled inputs nor a basis of a column they can split anywhere
    return mode


def wrap(name: str, estimator: Any, spec: dict, *, default: str) -> Any:
    """`estimator` behind the preprocessing that `spec['preprocess']` asks for (auto -> `default`)."""
    settings = _MODES[_mode(name, spec, estimator, default=default)]
    return estimator if settings is None else Preprocessed(estimator, **settings)


def check_task(name: str, estimator: Any, ctx: ModelContext) -> None:
    """UserError when a classification model cannot give what the metric needs."""
    if not ctx.task.is_classification:
        return
    if ctx.metric.needs_proba and not hasattr(estimator, "predict_proba"):
        raise UserError(f"models.{name}: {type(estimator).__name__} has no predict_proba, which metric "
                        f"{ctx.metric.name!r} needs; choose a probabilistic estimator (e.g. sklearn.linear_model."
                        f"LogisticRegression) or a label metric such as accuracy")


def build(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The template estimator for a `type = "sklearn"` table (`estimator` = import path)."""
    path = spec.get("estimator", "")
    if not path:
        raise UserError(f"models.{name}: type = 'sklearn' needs estimator = '<import path>', "
                        f"e.g. 'sklearn.linear_model.LogisticRegression'")
    cls = import_object(path, where=f"models.{name}.estimator")
    if not callable(cls):
        raise UserError(f"models.{name}.estimator = {path!r} is not a class")
    params = dict(spec.get("params", {}))
    check_init_params(cls, params, where=f"models.{name}.params")
    names, _ = init_params(cls)
    if "random_state" in names and "random_state" not in params:
        params["random_state"] = 0
    if params.get("n_jobs") is not None:  # threads come from [runtime]; joblib's context caps n_jobs=None
        params["n_jobs"] = ctx.threads
    estimator = instantiate(cls, params, where=f"models.{name}")
    check_task(name, estimator, ctx)
    default = "impute" if type(estimator).__name__.startswith(_NATIVE_MISSING) else "scale"
    return wrap(name, estimator, spec, default=default)


def instantiate(cls: Any, params: dict, *, where: str) -> Any:
    """`cls(**params)`, with a constructor's rejection of a parameter as a UserError."""
    try:
        return cls(**params)
    except TypeError as exc:
        raise UserError(f"{where}.params: {getattr(cls, '__name__', cls)} rejected {params!r} ({exc})") from None
