"""The model type registry: `type` in a [models.NAME] table -> the function that builds its estimator.

A builder turns a validated model table into an unfitted scikit-learn-style estimator (the template
cloned for every fold). Built-in types are listed by import path and load only when used; any other
`type` is a plug-in: a file `competition/<name>/models/<type>.py` or an import path `pkg.mod.Class`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import UserError, did_you_mean


@dataclass(frozen=True)
class ModelContext:
    """What a builder may use besides the model table: task, metric, threads, plug-in folder and the
    competition's array inputs (name -> (train, test) arrays; nets check that theirs exist)."""

    task: Any  # core.tasks.TaskInfo
    metric: Any  # core.metrics.Metric
    threads: int = 1
    plugin_dir: Path | None = None
    arrays: dict | None = None  # name -> (train, test) array inputs


@dataclass(frozen=True)
class ModelType:
    """A registered model type: its builder ("module:function") and default Optuna search space."""

    name: str
    builder: str | Callable[[str, dict, ModelContext], Any]
    doc: str
    default_space: dict[str, Any] = field(default_factory=dict)
    own_threads: bool = False  # the builder passes the thread count to the library itself
    # (seconds per fold, per million table cells per fold, per thousand rows per fold) with default
    # parameters on one thread of a 2-core machine: the time-budget planner's estimate for a model that
    # never ran here (measured on the dev sets: trees and linear models scale with cells, nets with rows)
    cost: tuple[float, float, float] = (0.3, 2.0, 0.0)
    cost_per_class: bool = False  # one model per class (LightGBM multiclass): cells count once per class
    # "module:function"(params, task kind) -> the cost's multiplier for a model table's params, where they
    # change the cost by more than a table's size does (CatBoost's depth, leaf steps, patience); None: 1
    cost_scale: str | None = None
    # fits and predicts several target columns itself (y of shape (n, targets)); else a multi-target task
    # trains it once per target column (`PER_TARGET`)
    multi_target: bool = False
    # lower bounds a table's params are raised to when the type learns soft pseudo-labels (weighted duplicates
    # of one row under several classes; `soft_label_spec`)
    soft_label_floors: dict[str, float] = field(default_factory=dict)
    # "module:function"(parameter name) -> every name the library knows that parameter by (LightGBM's
    # min_data_in_leaf is min_child_samples): `merged_params` keeps one of them. None: each name its own
    aliases: str | None = None

    @property
    def plugin(self) -> bool:
        """A competition's own model (a file in its models/ folder or an import path), not a built-in type:
        its failures are its author's to fix, reported as such."""
        return MODEL_TYPES.get(self.name) is not self

    def cost_for(self, params: dict, task: str) -> tuple[float, float, float]:
        """`cost` for a model table's `params` and a task kind (core.tasks.TASKS): scaled by `cost_scale`."""
        if self.cost_scale is None:
            return self.cost
        scale = float(_resolve(self.cost_scale)(params, task))
        return (self.cost[0] * scale, self.cost[1] * scale, self.cost[2] * scale)

    def merged_params(self, params: dict, new: dict) -> dict:
        """`params` updated with `new`, less each entry of `params` that names a parameter of `new` by another
        name: a library given both keeps one of them silently (LightGBM keeps min_data_in_leaf = 20 over a
        tuned min_child_samples), so a tuning trial or a written result would not be what runs."""
        taken = set().union(*(self.names_of(k) for k in new)) if new else set()
        return {**{k: v for k, v in params.items() if k not in taken}, **new}

    def names_of(self, parameter: str) -> set[str]:
        """Every name the library knows `parameter` by, itself included (`aliases`)."""
        return set(_resolve(self.aliases)(parameter)) | {parameter} if self.aliases else {parameter}

    def build(self, name: str, spec: dict, ctx: ModelContext) -> Any:
        """An unfitted estimator for the [models.NAME] table `spec`; for a multi-target task (several
        target columns) a model type that is not `multi_target` is built for one column's task and
        wrapped to train once per target column (models._multi.PerTarget)."""
        if getattr(ctx.task, "n_targets", 1) > 1 and not self.multi_target:
            return _resolve(PER_TARGET)(self, name, spec, ctx)
        return self.build_one(name, spec, ctx)

    def build_one(self, name: str, spec: dict, ctx: ModelContext) -> Any:
        """The builder's estimator for `ctx.task` as it is."""
        return _resolve(self.builder)(name, spec, ctx)


# The builder of a multi-target task's per-column wrapper, loaded when used like the model types' builders.
PER_TARGET = "models._multi:per_target"


def soft_label_spec(spec: dict) -> dict:
    """A [models.NAME] table as it trains on soft pseudo-labels: its params raised to at least its registered
    type's `soft_label_floors` (a higher value of the table's own is kept; a plug-in type's table as it is)."""
    kind = MODEL_TYPES.get(spec.get("type", ""))
    if kind is None or not kind.soft_label_floors:
        return spec
    params = dict(spec.get("params", {}))
    for key, low in kind.soft_label_floors.items():  # the table's value under any of the parameter's names
        given = [float(v) for k, v in params.items() if k in kind.names_of(key)]
        params = kind.merged_params(params, {key: max([low, *given])})
    return {**spec, "params": params}


def _resolve(func: str | Callable) -> Callable:
    """A builder: a callable, or a lazy "module:function" import path."""
    if isinstance(func, str):
        module, attr = func.split(":")
        func = getattr(importlib.import_module(module), attr)
    return func


_LGBM_SPACE = {
    "num_leaves": {"low": 4, "high": 256, "log": True},
    "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
    "min_child_samples": {"low": 3, "high": 100, "log": True},
    "feature_fraction": {"low": 0.3, "high": 1.0},
    "lambda_l2": {"low": 1e-3, "high": 30.0, "log": True},
}

# CatBoost's and XGBoost's spaces span AutoGluon's zero-shot portfolio (autogluon.tabular configs/zeroshot/
# zeroshot_portfolio_2023.py, "CAT" and "XGB": the learned configurations' ranges) and pytabkit's TD defaults.
_CATBOOST_SPACE = {
    "learning_rate": {"low": 0.01, "high": 0.15, "log": True},
    "depth": {"low": 4, "high": 9},
    "l2_leaf_reg": {"low": 1e-5, "high": 10.0, "log": True},
    "one_hot_max_size": {"low": 2, "high": 20},
    "max_ctr_complexity": {"low": 1, "high": 5},
}
_XGBOOST_SPACE = {
    "learning_rate": {"low": 0.005, "high": 0.15, "log": True},
    "max_depth": {"low": 4, "high": 10},
    "min_child_weight": {"low": 1e-6, "high": 10.0, "log": True},
    "colsample_bytree": {"low": 0.5, "high": 1.0},
    "subsample": {"low": 0.5, "high": 1.0},
}

MODEL_TYPES: dict[str, ModelType] = {
    # Soft pseudo-labels: LightGBM's own hessian floor. Row bagging keeps a test row's duplicate of an unlikely
    # class without its likely one, and a leaf of such duplicates takes a Newton step of about 1 / p; the zoo's
    # floor of 1e-7 let it (leaf's 32 classes, 2026-12-06: one fold's log loss 33.7, with 1e-3 0.003).
    "lightgbm": ModelType("lightgbm", "models.lgbm:build", "LightGBM with early stopping and native categoricals",
                          _LGBM_SPACE, own_threads=True, cost=(0.6, 4.0, 0.0),
                          cost_per_class=True, soft_label_floors={"min_sum_hessian_in_leaf": 1e-3},
                          aliases="models.lgbm:param_aliases"),
    # The default zoo's shape (depth 6, one leaf step, 100 rounds' patience), one thread, CPU seconds of one
    # fold fit with its refit (the median over the 18-set suite's 2026-12-04 19:30 run): titanic 0.09 s,
    # wage 0.10, taxi 0.23, stackoverflow 0.29, hmda 0.32, caravan 0.43 (0.40 M cells), concrete 0.95,
    # deliveries 1.45, fine_foods 1.62, movies 2.69 (47,030 rows), hpc 3.69 (4 classes): the model below is
    # within 3x of each but hpc (0.7 s). Scaled by the params (`models.catboost_model.cost_scale`): the TD
    # defaults, 4x for classification (hpc: 2.9 s against 4.3 s measured) and 31x for regression (depth 9,
    # 20 leaf steps; ames_clean 21 s against 36 s). Its cost follows the borders of the columns' values more
    # than the cells (breast_cancer's 455 rows took 3.4 s a fold): the zoo leaves it out of short, wide tables.
    "catboost": ModelType("catboost", "models.catboost_model:build", "CatBoost (pytabkit TD defaults) with early "
                                                                     "stopping and native categoricals",
                          _CATBOOST_SPACE, own_threads=True, cost=(0.3, 2.0, 0.05), cost_per_class=True,
                          cost_scale="models.catboost_model:cost_scale", aliases="models.catboost_model:param_aliases"),
    # One thread, default (TD) parameters, CPU seconds of one fold: hpc (0.019 M cells, 4 classes) 2.4 s,
    # digits (0.074 M cells, 10 classes) 4.7 s, ames_clean (0.137 M cells) 7.3 s: linear in the cells,
    # not in the classes (its rounds stop earlier with more trees per round)
    "xgboost": ModelType("xgboost", "models.xgboost_model:build", "XGBoost (pytabkit TD defaults, hist) with early "
                                                                  "stopping and native categoricals",
                         _XGBOOST_SPACE, own_threads=True, cost=(1.6, 41.0, 0.0),
                         aliases="models.xgboost_model:param_aliases"),
    "sklearn": ModelType("sklearn", "models.sk:build", "any scikit-learn estimator by import path (`estimator`), "
                                                       "with imputation/one-hot/scaling"),
    "mlp": ModelType("mlp", "models.nn:build_mlp", "torch MLP (embeddings for categoricals) trained as a snapshot "
                                                   "ensemble: cosine cycles, last snapshots averaged",
                     {"lr": {"low": 3e-4, "high": 1e-2, "log": True},
                      "weight_decay": {"low": 1e-6, "high": 1e-1, "log": True},
                      "dropout": {"low": 0.0, "high": 0.5},
                      "width": {"low": 32, "high": 512, "log": True},
                      "depth": {"low": 1, "high": 4}}, own_threads=True, cost=(0.3, 0.0, 1.1)),
    "net": ModelType("net", "models.nn:build_net", "torch net from a Keras-like layer list (`layers`) or a module "
                                                   "factory (`factory`), on the table or an array input",
                     {"lr": {"low": 3e-4, "high": 1e-2, "log": True},
                      "weight_decay": {"low": 1e-6, "high": 1e-1, "log": True}}, own_threads=True,
                     cost=(0.3, 0.0, 1.1)),
    "densenet": ModelType("densenet", "models.nn:build_densenet", "DenseNet-BC CNN on the pixel-grid image array",
                          {"lr": {"low": 1e-3, "high": 1e-2, "log": True},
                           "growth_rate": {"low": 6, "high": 24},
                           "weight_decay": {"low": 1e-5, "high": 1e-2, "log": True}}, own_threads=True,
                          # digits (1,437 rows) with the default 30 epochs on two threads: 7.0-7.5 s a fold
                          cost=(1.0, 0.0, 4.4)),
    "rnn": ModelType("rnn", "models.nn:build_rnn", "bidirectional GRU/LSTM with attention pooling on a token "
                                                   "sequence array (optionally with the table)",
                     {"lr": {"low": 5e-4, "high": 5e-3, "log": True},
                      "units": {"low": 16, "high": 128, "log": True},
                      "dropout": {"low": 0.0, "high": 0.5}}, own_threads=True, cost=(1.0, 0.0, 6.2)),
}


def register_model_type(model_type: ModelType) -> None:
    """Add (or replace) a model type, e.g. a network trainer from a later module."""
    MODEL_TYPES[model_type.name] = model_type


def model_type(name: str, spec: dict, plugin_dir: Path | None) -> ModelType:
    """The ModelType for a model table: a registered one, else a plug-in file or import path."""
    type_name = spec["type"]
    if type_name in MODEL_TYPES:
        return MODEL_TYPES[type_name]
    if plugin_dir is not None and (plugin_dir / f"{type_name}.py").is_file():
        return ModelType(type_name, "models.plugins:build", f"plug-in file {plugin_dir / type_name}.py")
    if "." in type_name or ":" in type_name:
        return ModelType(type_name, "models.plugins:build", f"plug-in {type_name}")
    files = sorted(p.stem for p in plugin_dir.glob("*.py")) if plugin_dir is not None and plugin_dir.is_dir() else []
    choices = [*MODEL_TYPES, *files]
    raise UserError(f"models.{name}.type = {type_name!r} is not a model type{did_you_mean(type_name, choices)}; "
                    f"use a built-in type, a file competition/<name>/models/<type>.py, or an import path "
                    f"like 'package.module.Class'")


def build_model(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The unfitted estimator for [models.NAME] (bad type, import path or parameters -> UserError)."""
    return model_type(name, spec, ctx.plugin_dir).build(name, spec, ctx)
