"""CatBoost as a scikit-learn-style estimator over `catboost.CatBoost` and `Pool`: native categoricals
(pandas category columns become `cat_features`), early stopping on the validation rows the k-fold loop
holds out of the training rows, then the refit LightGBM's wrapper does (models._boost.refit_rounds), or
with `refit = false` the early-stopped model kept (one fit per fold)."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from models._boost import (EarlyStoppedBooster, one_name_each, refit_rounds, require, stack_rows, take_refit,
                           take_rounds, with_defaults)
from models._fit import cap_reached
from models._types import ModelContext
from core.errors import UserError, did_you_mean

# The metric's early-stopping loss (core.metrics.Metric.stop_on) -> CatBoost's eval_metric for the task,
# as models/lgbm.py's _ES_METRIC: classification metrics all stop on the log loss.
_ES_METRIC = {"log_loss": {"binary": "Logloss", "multiclass": "MultiClass"},
              "rmse": {"regression": "RMSE"}, "mae": {"regression": "MAE"}}
_LOSS = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}
_ROUND_KEYS = ("iterations", "n_estimators", "num_boost_round", "num_trees")
_EARLY_KEYS = ("early_stopping_rounds", "od_wait")
_THREAD_KEYS = ("thread_count", "n_jobs")
# The "TD" defaults of Holzmueller et al. 2024 ("Better by Default"; pytabkit, models/sklearn/default_params.py,
# CB_TD_CLASS / CB_TD_REG), meta-tuned on 71 classification and 47 regression benchmark sets. pytabkit's
# names are mapped to CatBoost's: lr -> learning_rate, max_depth -> depth, max_bin -> border_count.
_TD_CLASS = {"learning_rate": 0.08, "depth": 7, "l2_leaf_reg": 1e-5, "boosting_type": "Plain",
             "bootstrap_type": "Bernoulli", "subsample": 0.9, "random_strength": 0.8, "one_hot_max_size": 15,
             "leaf_estimation_iterations": 1, "border_count": 254}
_TD_REG = {"learning_rate": 0.09, "depth": 9, "l2_leaf_reg": 1e-5, "boosting_type": "Plain",
           "bootstrap_type": "Bernoulli", "subsample": 0.9, "random_strength": 0.0, "one_hot_max_size": 20,
           "leaf_estimation_iterations": 20, "border_count": 254}
DEFAULT_ROUNDS = 1000
DEFAULT_EARLY_STOPPING = 300  # TD's patience
# CatBoost's names for one option: a default is dropped when the user gives any of them
_ALIASES = (("learning_rate", "eta"), ("depth", "max_depth"), ("l2_leaf_reg", "reg_lambda"),
            ("border_count", "max_bin"), ("random_seed", "random_state"), ("loss_function", "objective"),
            ("subsample",), ("bootstrap_type",), ("one_hot_max_size",),
            ("logging_level", "verbose", "silent", "verbose_eval"))
DEVICES = {"cpu": "CPU", "cuda": "GPU", "gpu": "GPU"}
_MISSING = "__missing__"  # a missing categorical value: CatBoost takes strings or integers only


def param_aliases(name: str) -> set[str]:
    """Every name CatBoost knows parameter `name` by (`_ALIASES`; a name of no group is its own)."""
    return set(next((group for group in _ALIASES if name in group), (name,)))

class CatBoostModel(EarlyStoppedBooster):
    """`catboost.CatBoost` with the given params; with (X_valid, y_valid), rounds chosen by early stopping
    on them, then a refit on all rows. `ignored_features`: column names or glob patterns (`*__per__*`)
    CatBoost leaves out, matched against the columns `fit` gets; the model still takes every column."""

    def __init__(self, params: dict | None = None, num_boost_round: int = 1000, early_stopping_rounds: int = 300,
                 refit: bool = True, ignored_features: list | None = None):
        super().__init__(params, num_boost_round, early_stopping_rounds, refit)
        self.ignored_features = ignored_features

    def fit(self, X, y, X_valid=None, y_valid=None, sample_weight=None) -> "CatBoostModel":
        """Train (rows weighted by `sample_weight` when given). With validation rows -- rows held out of
        the training rows, never the rows a score is computed on (models._cv.fit_honest) -- choose the
        rounds by early stopping on them, then refit on X and X_valid together for that many rounds
        scaled by their share of the rows (models._boost.refit_rounds), as LightGBM's wrapper does."""
        import catboost

        params = dict(self.params or {})
        ignored = _matching(X, self.ignored_features or [])
        if ignored:
            params["ignored_features"] = ignored
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        y = np.asarray(y)
        model = None
        if X_valid is not None and self.early_stopping_rounds:
            stopped = catboost.CatBoost({**params, "iterations": self.num_boost_round})
            stopped.fit(_pool(catboost, X, y, weight), eval_set=_pool(catboost, X_valid, np.asarray(y_valid)),
                        early_stopping_rounds=self.early_stopping_rounds, use_best_model=not self.refit)
            best = int(stopped.get_best_iteration()) + 1  # CatBoost counts from 0
            self.capped_ = cap_reached(best, self.num_boost_round, _ROUND_KEYS[0])
            if self.refit:
                del stopped
                self.best_iteration_ = refit_rounds(best, len(y), len(y) + len(y_valid))
                w_all = None if weight is None else np.concatenate([weight, np.ones(len(y_valid))])
                pool = _pool(catboost, stack_rows(X, X_valid), np.concatenate([y, np.asarray(y_valid)]), w_all)
            else:  # one fit per fold: the early-stopped model, cut to its best round
                self.best_iteration_, model = best, stopped
        else:
            self.best_iteration_, self.capped_ = int(self.num_boost_round), None
            pool = _pool(catboost, X, y, weight)
        if model is None:
            model = catboost.CatBoost({**params, "iterations": self.best_iteration_})
            model.fit(pool)
        self.model_ = model
        loss = str(params.get("loss_function", "RMSE")).split(":")[0]
        if loss in ("Logloss", "CrossEntropy"):
            self.classes_ = np.array([0, 1])
        elif loss in ("MultiClass", "MultiClassOneVsAll"):
            self.classes_ = np.arange(int(params["classes_count"]))
        names = list(X.columns) if hasattr(X, "columns") else self.model_.feature_names_
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.feature_importances_ = np.asarray(self.model_.get_feature_importance(), dtype=np.float64)
        return self

    def _predict(self, X, kind: str) -> np.ndarray:
        import catboost

        threads = int((self.params or {}).get("thread_count", 1))
        return np.asarray(self.model_.predict(_pool(catboost, X), prediction_type=kind, thread_count=threads))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, k)."""
        return self._predict(X, "Probability")

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or values (regression)."""
        if hasattr(self, "classes_"):
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        loss = str((self.params or {}).get("loss_function", "RMSE")).split(":")[0]
        return self._predict(X, "Exponent" if loss in ("Poisson", "Tweedie") else "RawFormulaVal")


def _matching(X, patterns: list) -> list:
    """The columns of X a name or glob pattern of `patterns` matches (in X's order), and integer positions as
    they are; a pattern matching no column is passed over (a table without that block's columns)."""
    from fnmatch import fnmatchcase

    names = [str(c) for c in X.columns] if hasattr(X, "columns") else []
    texts = [p for p in patterns if isinstance(p, str)]
    return [p for p in patterns if not isinstance(p, str)] + [c for c in names if any(fnmatchcase(c, p) for p in texts)]


def _categorical(X) -> list[int]:
    """Positions of X's categorical columns (pandas category, string or object dtype)."""
    if not hasattr(X, "dtypes"):
        return []
    from pandas.api.types import is_string_dtype

    return [i for i, d in enumerate(X.dtypes) if str(d) == "category" or is_string_dtype(d)]


def _pool(catboost, X, y=None, weight=None):
    """A Pool of X: its categorical columns as `cat_features`, their values as strings (a missing one
    as its own value), so a category is the same feature value in training and prediction."""
    cats = _categorical(X)
    if cats:
        X = X.copy()
        for i in cats:
            col = X.iloc[:, i]
            X.isetitem(i, np.where(col.isna(), _MISSING, col.astype(str)).astype(object))
    return catboost.Pool(X, y, cat_features=cats or None, weight=weight)


@functools.lru_cache(maxsize=1)
def gpu_unusable() -> str | None:
    """None when CatBoost trains on a GPU here, else why not (its error's first line): one round on four
    rows with task_type GPU, once per process, before any fold trains (on a machine without a CUDA driver
    CatBoost fails only when the first fold starts, with "CUDA error 35")."""
    import catboost

    try:
        catboost.CatBoost({"task_type": "GPU", "iterations": 1, "logging_level": "Silent",
                           "allow_writing_files": False}).fit(np.arange(8.0).reshape(4, 2), np.arange(4.0))
    except catboost.CatBoostError as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    """A CatBoost error's first line without its source path ("catboost/.../x.cpp:41: ")."""
    import re

    text = str(exc).strip()
    return re.sub(r"^[\w/.]+:\d+: ", "", text.splitlines()[0]) if text else type(exc).__name__


@functools.lru_cache(maxsize=64)
def _probe(items: str, task: str) -> str | None:
    """CatBoost's verdict on the parameters (`items`: their JSON) for a task: a 4-row fit of one tree;
    None if it trains, else the first line of CatBoost's error, without its source path."""
    import catboost

    params = json.loads(items)
    y = {"binary": np.arange(4) % 2, "multiclass": np.arange(4) % int(params.get("classes_count", 2))}.get(
        task, np.arange(4.0))
    try:
        catboost.CatBoost({**params, "iterations": 1}).fit(np.arange(8.0).reshape(4, 2), y)
    except catboost.CatBoostError as exc:
        return _first_line(exc)
    return None


def _check(name: str, params: dict, task: str) -> None:
    """A name CatBoost does not know, or a value it refuses -> UserError naming it (on one line). Checked
    on the CPU, so a GPU model (whose options the CPU may not know) is left to training."""
    import re

    if params.get("task_type") == "GPU":
        return
    try:
        items = json.dumps({**params, "thread_count": 1}, sort_keys=True)
    except TypeError:
        return  # not JSON (a callable metric, say): left to training
    error = _probe(items, task)
    if error is None:
        return
    unknown = re.search(r"Unknown option \{(.*?)\}", error)
    if unknown:
        key = unknown.group(1)
        raise UserError(f"models.{name}.params: CatBoost has no parameter {key!r}{did_you_mean(key, _known(task))}; "
                        f"see CatBoost's training parameters page")
    raise UserError(f"models.{name}.params: {error}")


def _known(task: str) -> list[str]:
    """CatBoost's parameter names (its scikit-learn wrapper's constructor lists them), for suggestions."""
    import inspect

    import catboost

    cls = catboost.CatBoostRegressor if task == "regression" else catboost.CatBoostClassifier
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def cost_scale(params: dict, task: str) -> float:
    """How many times the default zoo's shape (depth 6, one leaf step, 100 rounds' patience) a model table
    costs: 2x per level of depth (twice the leaves), +5 % per extra leaf-estimation step, and the rounds
    past the best one that the patience adds (a stopped fit runs about 100 rounds, then its patience).
    The TD defaults: 4x for classification, 31x for regression (models._types' cost, measured)."""
    defaults = _TD_REG if task == "regression" else _TD_CLASS
    depth = float(params.get("depth", params.get("max_depth", defaults["depth"])))
    steps = float(params.get("leaf_estimation_iterations", defaults["leaf_estimation_iterations"]))
    patience = next((float(params[k]) for k in _EARLY_KEYS if k in params), float(DEFAULT_EARLY_STOPPING))
    return 2.0 ** (depth - 6) * (1 + 0.05 * (steps - 1)) * (patience + 100) / 200


def cb_params(name: str, params: dict, ctx: ModelContext) -> tuple[dict, int, int]:
    """(CatBoost params, boosting rounds, early-stopping rounds): the TD defaults for the task, then the
    user's; `device` = "cpu" | "cuda" | "gpu" picks CatBoost's task_type."""
    task = ctx.task.task
    rest, rounds, early = take_rounds(name, params, round_keys=_ROUND_KEYS, early_keys=_EARLY_KEYS,
                                      thread_keys=_THREAD_KEYS, rounds=DEFAULT_ROUNDS, early=DEFAULT_EARLY_STOPPING)
    device = str(rest.pop("device", "cpu"))
    if device.lower() not in DEVICES:
        raise UserError(f"models.{name}.params: device = {device!r} is not one of {', '.join(DEVICES)}")
    if DEVICES[device.lower()] == "GPU" and (why := gpu_unusable()):
        raise UserError(f"models.{name}.params: device = {device!r}, but CatBoost cannot train on a GPU here "
                        f"({why}); set device = 'cpu', or run where CatBoost sees a CUDA GPU")
    defaults = {"loss_function": _LOSS[task], **(_TD_REG if task == "regression" else _TD_CLASS),
                "random_seed": 0, "logging_level": "Silent", "allow_writing_files": False,
                "task_type": DEVICES[device.lower()]}
    stop_metric = _ES_METRIC.get(ctx.metric.stop_on, {}).get(task)
    if stop_metric:
        defaults["eval_metric"] = stop_metric
    if ctx.task.n_outputs > 1:
        defaults["classes_count"] = ctx.task.n_classes
    if str(rest.get("bootstrap_type", "Bernoulli")) in ("Bayesian", "No"):
        defaults.pop("subsample")  # these bootstraps take no subsample
    one_name_each(name, rest, param_aliases, "CatBoost")
    out = with_defaults(defaults, rest, param_aliases)
    out["thread_count"] = ctx.threads
    _check(name, out, task)
    return out, rounds, early


def build(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The CatBoost template estimator for [models.NAME]."""
    require("catboost", name, "catboost")
    params, refit = take_refit(name, spec.get("params", {}))
    ignored = params.pop("ignored_features", None)
    if ignored is not None and not (isinstance(ignored, list)
                                    and all(isinstance(p, (str, int)) and not isinstance(p, bool) for p in ignored)):
        raise UserError(f"models.{name}.params: ignored_features = {ignored!r} must be a list of column names, "
                        f"glob patterns or positions, e.g. [\"*__per__*\"]")
    params, rounds, early = cb_params(name, params, ctx)
    return CatBoostModel(params, num_boost_round=rounds, early_stopping_rounds=early, refit=refit,
                         ignored_features=ignored)
