"""What the gradient-boosting wrappers (models/lgbm.py, catboost_model.py, xgboost_model.py) share: the
refit rule after early stopping, reading rounds and threads out of a params table, feature names a
library refuses, and the message for a library that is not installed."""

from __future__ import annotations

import importlib
import math
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator

from core.errors import UserError


class EarlyStoppedBooster(BaseEstimator):
    """The estimator shape the boosting wrappers share: a params table, a cap on the rounds, and early
    stopping on the validation rows the k-fold loop gives `fit` (`wants_validation`); CatBoost's and
    XGBoost's wrappers subclass it (TD's patience of 300 rounds by default). `refit = False` keeps each
    fold's early-stopped model (trained on the inner split's rows) instead of refitting on all of them."""

    def __init__(self, params: dict | None = None, num_boost_round: int = 1000, early_stopping_rounds: int = 300,
                 refit: bool = True):
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.refit = refit

    def wants_validation(self) -> bool:
        """Whether fit uses validation rows (it stops early on them)."""
        return bool(self.early_stopping_rounds)


def refit_rounds(best: int, n_fit: int, n_all: int) -> int:
    """Rounds for the refit on all `n_all` training rows after early stopping chose `best` rounds
    fitting `n_fit` of them: scaled by their share of the rows (more rows, more rounds before the
    same overfitting), at least 1. By OOF score, refitting beat not refitting on 5 of 6 dev sets; on the 18
    sets the unscaled rounds lost (-0.49 %, worse on 12) and the ratio squared was worse on 11 (benchmarks/SUITE.md)."""
    return max(1, math.ceil(best * n_all / n_fit))


def take_refit(name: str, params: dict) -> tuple[dict, bool]:
    """(params without `refit`, its value): `refit = false` is one fit per fold, the early-stopped model
    kept; true (the default) refits on every training row (refit_rounds)."""
    params = dict(params)
    refit = params.pop("refit", True)
    if not isinstance(refit, bool):
        raise UserError(f"models.{name}.params.refit must be true or false, got {refit!r}")
    return params, refit


def _integer(name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise UserError(f"models.{name}.params: {key} must be a whole number, got {value!r}")
    return int(value)


def take_rounds(name: str, params: dict, *, round_keys: tuple[str, ...], early_keys: tuple[str, ...],
                thread_keys: tuple[str, ...], rounds: int, early: int) -> tuple[dict, int, int]:
    """(the other params, boosting rounds, early-stopping rounds): the rounds under any of the library's
    names for them override the defaults `rounds` and `early`; thread counts are dropped (they come from
    [runtime], so workers x threads never exceeds the cores)."""
    rest = {}
    for key, value in params.items():
        if key in round_keys:
            rounds = _integer(name, key, value)
        elif key in early_keys:
            early = _integer(name, key, value)
        elif key not in thread_keys:
            rest[key] = value
    if rounds < 1:
        raise UserError(f"models.{name}.params: the number of boosting rounds must be at least 1, got {rounds}")
    if early < 0:
        raise UserError(f"models.{name}.params: early_stopping_rounds must be >= 0 (0 = off), got {early}")
    return rest, rounds, early


def one_name_each(name: str, params: dict, names_of: Callable[[str], set[str]], library: str) -> None:
    """UserError when `params` give one parameter under two of its names: the library would keep one of
    the values silently (LightGBM, XGBoost) or stop with an error of its own (CatBoost)."""
    keys = list(params)
    for i, key in enumerate(keys):
        twin = next((other for other in keys[:i] if other in names_of(key)), None)
        if twin is not None:
            raise UserError(f"models.{name}.params: {twin} = {params[twin]!r} and {key} = {params[key]!r} set one "
                            f"{library} parameter under two names; keep one of them")


def with_defaults(defaults: dict, params: dict, names_of: Callable[[str], set[str]]) -> dict:
    """`defaults` updated with the user's `params`; a default is dropped when the user gave it under
    another of its names (`names_of`: the library's names of a parameter), so the library never sees both."""
    given = set(params)
    out = {key: value for key, value in defaults.items() if not given & names_of(key)}
    out.update(params)
    return out


def safe_names(X, forbidden: frozenset):
    """X with every column name holding a character of `forbidden` renamed (by position: f<i>_<safe
    part>); the model reports the original names (`feature_names_in_`)."""
    if X is None or not hasattr(X, "columns") or not any(forbidden & set(str(c)) for c in X.columns):
        return X
    safe = ["".join("_" if ch in forbidden else ch for ch in str(c)) for c in X.columns]
    return X.set_axis([f"f{i}_{name}" for i, name in enumerate(safe)], axis=1)


def stack_rows(X, X_valid):
    """X's rows then X_valid's (the refit's rows): a DataFrame or an array like X."""
    if hasattr(X, "iloc"):
        import pandas as pd

        return pd.concat([X, X_valid], ignore_index=True)
    return np.concatenate([np.asarray(X), np.asarray(X_valid)])


def require(package: str, model: str, type_name: str) -> Any:
    """The imported `package`; not installed -> UserError saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise UserError(f"models.{model}: type {type_name!r} needs the {package} package: pip install {package} "
                        f"(or pip install -e '.[{package}]')") from None
