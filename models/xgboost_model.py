"""XGBoost as a scikit-learn-style estimator over `xgboost.train` and `DMatrix`: native categoricals
(pandas category columns, `enable_categorical` with the hist tree method), early stopping on the
validation rows the k-fold loop holds out of the training rows, then the refit LightGBM's wrapper does
(models._boost.refit_rounds), or with `refit = false` the early-stopped model kept (one fit per fold)."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from models._boost import (EarlyStoppedBooster, one_name_each, refit_rounds, require, safe_names, stack_rows,
                           take_refit, take_rounds, with_defaults)
from models._fit import cap_reached
from models._types import ModelContext
from core.errors import UserError, did_you_mean

# The metric's early-stopping loss (core.metrics.Metric.stop_on) -> XGBoost's eval_metric for the task,
# as models/lgbm.py's _ES_METRIC: classification metrics all stop on the log loss.
_ES_METRIC = {"log_loss": {"binary": "logloss", "multiclass": "mlogloss"},
              "rmse": {"regression": "rmse"}, "mae": {"regression": "mae"}}
_OBJECTIVE = {"binary": "binary:logistic", "multiclass": "multi:softprob", "regression": "reg:squarederror"}
_ROUND_KEYS = ("num_boost_round", "n_estimators", "num_round", "nrounds")
_EARLY_KEYS = ("early_stopping_rounds",)
_THREAD_KEYS = ("nthread", "n_jobs")
# The "TD" defaults of Holzmueller et al. 2024 ("Better by Default"; pytabkit, models/sklearn/default_params.py,
# XGB_TD_CLASS / XGB_TD_REG), meta-tuned on 71 classification and 47 regression benchmark sets. pytabkit's
# lr is XGBoost's learning_rate.
_TD_CLASS = {"learning_rate": 0.08, "max_depth": 6, "min_child_weight": 5e-6, "reg_lambda": 0.0,
             "colsample_bylevel": 0.9, "subsample": 0.65, "tree_method": "hist", "max_bin": 256}
_TD_REG = {"learning_rate": 0.05, "max_depth": 9, "min_child_weight": 2.0, "reg_lambda": 0.0,
           "subsample": 0.7, "tree_method": "hist", "max_bin": 256}
DEFAULT_ROUNDS = 1000
DEFAULT_EARLY_STOPPING = 300  # TD's patience
# XGBoost's names for one parameter: a default is dropped when the user gives any of them
_ALIASES = (("learning_rate", "eta"), ("reg_lambda", "lambda"), ("reg_alpha", "alpha"), ("seed", "random_state"),
            ("min_split_loss", "gamma"))
DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
# XGBoost refuses feature names holding these characters
_FORBIDDEN = frozenset("[]<")


def param_aliases(name: str) -> set[str]:
    """Every name XGBoost knows parameter `name` by (`_ALIASES`; a name of no group is its own)."""
    return set(next((group for group in _ALIASES if name in group), (name,)))

class XGBoostModel(EarlyStoppedBooster):
    """`xgboost.train` with the given params; with (X_valid, y_valid), rounds chosen by early stopping on
    them, then a refit on all rows."""

    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None) -> "XGBoostModel":
        """Train (rows weighted by `sample_weight` when given). With validation rows -- rows held out of
        the training rows, never the rows a score is computed on (models._cv.fit_honest) -- choose the
        rounds by early stopping on them, then refit on X and X_valid together for that many rounds
        scaled by their share of the rows (models._boost.refit_rounds), as LightGBM's wrapper does.

        Both fits read one DMatrix of X and X_valid together (the early-stopping fit its slices):
        the table is converted once."""
        import xgboost as xgb

        params = dict(self.params or {})
        names = list(X.columns) if hasattr(X, "columns") else None
        X, X_valid = safe_names(X, _FORBIDDEN), safe_names(X_valid, _FORBIDDEN)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        y = np.asarray(y)
        if X_valid is not None and self.early_stopping_rounds:
            n, n_all = len(y), len(y) + len(y_valid)
            w_all = None if weight is None else np.concatenate([weight, np.ones(len(y_valid))])
            both = xgb.DMatrix(stack_rows(X, X_valid), np.concatenate([y, np.asarray(y_valid)]), weight=w_all,
                               enable_categorical=True)
            dtrain, dvalid = both.slice(np.arange(n)), both.slice(np.arange(n, n_all))
            stopped = xgb.train(params, dtrain, self.num_boost_round, evals=[(dvalid, "valid")],
                                early_stopping_rounds=self.early_stopping_rounds, verbose_eval=False)
            best = int(stopped.best_iteration) + 1  # XGBoost counts from 0
            self.capped_ = cap_reached(best, self.num_boost_round)
            if self.refit:
                del stopped, dtrain, dvalid
                self.best_iteration_ = refit_rounds(best, n, n_all)
                self.booster_ = xgb.train(params, both, self.best_iteration_, verbose_eval=False)
            else:  # one fit per fold: the early-stopped model, cut to its best round
                self.best_iteration_, self.booster_ = best, stopped[:best]
        else:
            both = xgb.DMatrix(X, y, weight=weight, enable_categorical=True)
            self.best_iteration_, self.capped_ = int(self.num_boost_round), None
            self.booster_ = xgb.train(params, both, self.best_iteration_, verbose_eval=False)
        objective = str(params.get("objective", ""))
        if objective.startswith("binary:"):
            self.classes_ = np.array([0, 1])
        elif objective.startswith("multi:"):
            self.classes_ = np.arange(int(params["num_class"]))
        own = self.booster_.feature_names or [f"f{i}" for i in range(self.booster_.num_features())]
        self.feature_names_in_ = np.asarray(names if names is not None else own, dtype=object)
        gain = self.booster_.get_score(importance_type="total_gain")
        self.feature_importances_ = np.array([gain.get(f, 0.0) for f in own], dtype=np.float64)
        return self

    def _raw(self, X) -> np.ndarray:
        import xgboost as xgb

        return self.booster_.predict(xgb.DMatrix(safe_names(X, _FORBIDDEN), enable_categorical=True)).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, k): float64, rows summing to 1 (XGBoost's are float32)."""
        p = self._raw(X)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or values (regression)."""
        if hasattr(self, "classes_"):
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return self._raw(X)


@functools.lru_cache(maxsize=64)
def _probe(items: str, task: str) -> tuple[tuple[str, ...], str | None]:
    """XGBoost's verdict on the parameters (`items`: their JSON) for a task, from one round on 4 rows:
    (the names it reports as not used, the first line of its error if it refuses a value)."""
    import re
    import warnings

    import xgboost as xgb

    params = json.loads(items)
    y = {"binary": np.arange(4) % 2, "multiclass": np.arange(4) % int(params.get("num_class", 2))}.get(
        task, np.arange(4.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            xgb.train(params, xgb.DMatrix(np.arange(8.0).reshape(4, 2), y), 1)
        except xgb.core.XGBoostError as exc:
            return (), str(exc).strip().splitlines()[0]
    unused = [m for w in caught for m in re.findall(r"Parameters: \{(.*?)\} are not used", str(w.message), re.S)]
    return tuple(k.strip().strip('"') for group in unused for k in group.split(",") if k.strip()), None


@functools.lru_cache(maxsize=1)
def _known() -> tuple[str, ...]:
    """XGBoost's parameter names, aliases included (its saved configuration lists them), for suggestions."""
    import xgboost as xgb

    booster = xgb.train({"nthread": 1}, xgb.DMatrix(np.zeros((2, 1)), np.zeros(2)), 1)
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key not in ("name",):
                    names.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(booster.save_config()))
    return tuple(sorted(names))


def _check(name: str, params: dict, task: str) -> None:
    """A name XGBoost does not use, or a value it refuses -> UserError naming it (on one line). Checked
    on the CPU wherever the model trains."""
    try:
        items = json.dumps({**params, "device": "cpu", "nthread": 1, "verbosity": 1, "validate_parameters": True},
                           sort_keys=True)
    except TypeError:
        return  # not JSON (a callable objective, say): left to training
    unused, error = _probe(items, task)
    for key in unused:
        raise UserError(f"models.{name}.params: XGBoost has no parameter {key!r}{did_you_mean(key, _known())}; "
                        f"see XGBoost's Parameters page")
    if error:
        raise UserError(f"models.{name}.params: {error}")


@functools.lru_cache(maxsize=1)
def gpu_unusable() -> str | None:
    """None when XGBoost trains on a GPU here, else why not: one round on four rows with device "cuda", once
    per process. Without a visible GPU XGBoost only warns and trains on the CPU, every fold."""
    import re
    import warnings

    import xgboost

    data = xgboost.DMatrix(np.arange(8.0).reshape(4, 2), label=np.arange(4.0))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xgboost.train({"device": "cuda", "verbosity": 1}, data, 1)
    except xgboost.core.XGBoostError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else "XGBoostError"
    for warning in caught:
        text = str(warning.message)
        if "GPU" in text:  # "No visible GPU is found, setting device to CPU."
            return re.sub(r"^(?:\[[\d:]+\]\s+)?(?:WARNING:\s+)?\S+:\d+:\s*", "", text).strip()
    return None


def xgb_params(name: str, params: dict, ctx: ModelContext) -> tuple[dict, int, int]:
    """(XGBoost params, boosting rounds, early-stopping rounds): the TD defaults for the task, then the
    user's; `device` = "cpu" | "cuda" | "gpu" (XGBoost's own, "cuda:1" included)."""
    task = ctx.task.task
    rest, rounds, early = take_rounds(name, params, round_keys=_ROUND_KEYS, early_keys=_EARLY_KEYS,
                                      thread_keys=_THREAD_KEYS, rounds=DEFAULT_ROUNDS, early=DEFAULT_EARLY_STOPPING)
    device = str(rest.pop("device", "cpu"))
    kind, _, index = device.lower().partition(":")
    if kind not in DEVICES or (index and not index.isdigit()):
        raise UserError(f"models.{name}.params: device = {device!r} is not one of {', '.join(DEVICES)} "
                        f"(or cuda:<index>)")
    if DEVICES[kind] == "cuda" and (why := gpu_unusable()):
        raise UserError(f"models.{name}.params: device = {device!r}, but XGBoost cannot train on a GPU here "
                        f"({why}); set device = 'cpu', or run where XGBoost sees a CUDA GPU")
    defaults = {"objective": _OBJECTIVE[task], **(_TD_REG if task == "regression" else _TD_CLASS),
                "seed": 0, "verbosity": 1}
    stop_metric = _ES_METRIC.get(ctx.metric.stop_on, {}).get(task)
    if stop_metric:
        defaults["eval_metric"] = stop_metric
    if ctx.task.n_outputs > 1:
        defaults["num_class"] = ctx.task.n_classes
    one_name_each(name, rest, param_aliases, "XGBoost")
    out = with_defaults(defaults, rest, param_aliases)
    _check(name, out, task)
    out["device"] = DEVICES[kind] + (f":{index}" if index else "")
    out["nthread"] = ctx.threads
    return out, rounds, early


def build(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The XGBoost template estimator for [models.NAME]."""
    require("xgboost", name, "xgboost")
    params, refit = take_refit(name, spec.get("params", {}))
    params, rounds, early = xgb_params(name, params, ctx)
    return XGBoostModel(params, num_boost_round=rounds, early_stopping_rounds=early, refit=refit)
