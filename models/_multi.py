"""Multi-target tasks (multilabel, multiregression) for model types that predict one target: `PerTarget`.

A model type that does not handle several target columns natively (`ModelType.multi_target`; none of
the built-ins does) is built for one column's task (core.tasks.TaskInfo.column: binary 0/1 or
regression) and wrapped: `PerTarget` fits a fresh clone of that template per target column and stacks
their predictions into the (n_rows, n_targets) convention. Each column's fit is the CV loop's own
(`models._fit.fit_honest` / `fit_model`): its sample weights and array inputs pass through, and a model
that stops early holds out rows of its own column's problem (stratified by that column's classes for
multilabel), so each column stops on its own binary or regression loss.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, clone

from models._fit import fit_honest, fit_model, predict_model, takes_arrays, takes_sample_weight


class PerTarget(BaseEstimator):
    """One clone of `estimator` per target column (`targets`, in the config's order), each fitted on its
    column as the single-target `task` (a core.tasks.TaskInfo: binary 0/1 or regression).

    `fit(X, y)` takes y of shape (n_rows, n_targets); `predict_proba` (multilabel) returns P(1) per
    column and `predict` the values (multiregression) or 0/1 labels, both (n_rows, n_targets). A
    multilabel column holding one value in the training rows (a rare label absent from a fold) is
    predicted as that value, without a fit. `seed` offsets the early-stopping rows each column holds out
    (column j uses seed + j)."""

    def __init__(self, estimator: Any = None, task: Any = None, targets: tuple = (), seed: int = 0):
        self.estimator = estimator
        self.task = task
        self.targets = targets
        self.seed = seed

    # the CV loop asks these of the wrapper: each column's fit holds out its own early-stopping rows
    def wants_validation(self) -> bool:
        """False: rows for early stopping are held out per column, inside `fit` (see the class)."""
        return False

    def takes_sample_weight(self) -> bool:
        """Whether the per-column model fits with per-row weights."""
        return takes_sample_weight(self.estimator)

    def array_inputs(self, arrays: dict) -> list[str]:
        """The array inputs the per-column model reads (none unless its fit names `arrays`)."""
        if not takes_arrays(self.estimator):
            return []
        pick = getattr(self.estimator, "array_inputs", None)
        return list(arrays) if pick is None else list(pick(arrays))

    def _name(self, j: int) -> str:
        return str(self.targets[j]) if j < len(self.targets) else f"target {j}"

    def fit(self, X, y, X_valid=None, y_valid=None, *, sample_weight: np.ndarray | None = None,
            log: Callable[[str], None] | None = None, arrays: dict | None = None,
            arrays_valid: dict | None = None) -> "PerTarget":
        """Fit one clone per column of y (n_rows, n_targets). With X_valid/y_valid each column's clone gets
        them (its y_valid column) as `models._fit.fit_model` passes them; without, `fit_honest` holds out
        the column's own early-stopping rows when the model stops early."""
        y = np.asarray(y)
        if y.ndim != 2:
            raise ValueError(f"PerTarget.fit needs y of shape (n_rows, n_targets), got {y.shape}")
        self.estimators_: list[Any] = []
        self.constants_: list[float | None] = []
        for j in range(y.shape[1]):
            column = y[:, j]
            say = None if log is None else (lambda msg, name=self._name(j): log(f"{name}: {msg}"))
            if self.task is not None and self.task.is_classification and len(np.unique(column)) < 2:
                self.estimators_.append(None)
                self.constants_.append(float(column[0]))
                continue
            model = clone(self.estimator, safe=False)
            if X_valid is not None:
                fit_model(model, X, column, X_valid, None if y_valid is None else np.asarray(y_valid)[:, j],
                          log=say, sample_weight=sample_weight, arrays=arrays, arrays_valid=arrays_valid)
            else:
                fit_honest(model, X, column, self.task, seed=self.seed + j, log=say, sample_weight=sample_weight,
                           arrays=arrays)
            self.estimators_.append(model)
            self.constants_.append(None)
        self.n_targets_ = y.shape[1]
        return self

    def _columns(self, X, arrays: dict | None) -> np.ndarray:
        out = np.empty((len(X), self.n_targets_))
        for j, (model, constant) in enumerate(zip(self.estimators_, self.constants_)):
            out[:, j] = constant if model is None else predict_model(model, X, self.task, arrays=arrays)
        return out

    def predict_proba(self, X, arrays: dict | None = None) -> np.ndarray:
        """P(1) per target column, (n_rows, n_targets) (binary column models)."""
        return self._columns(X, arrays)

    def predict(self, X, arrays: dict | None = None) -> np.ndarray:
        """(n_rows, n_targets): values (regression columns) or 0/1 labels at P(1) >= 0.5 (binary columns)."""
        p = self._columns(X, arrays)
        return (p >= 0.5).astype(np.int64) if self.task is not None and self.task.is_classification else p

    @property
    def feature_importances_(self) -> np.ndarray:
        """The fitted column models' feature importances, averaged (AttributeError when one has none)."""
        values = [np.asarray(m.feature_importances_, dtype=np.float64) for m in self.estimators_ if m is not None]
        if not values or len({len(v) for v in values}) != 1:
            raise AttributeError("feature_importances_")
        return np.mean(values, axis=0)

    @property
    def capped_(self) -> str | None:
        """The first column model's cap its training length ran into while still improving (their `capped_`),
        else None: a fold counts as cut short when any target column's model was (CVResult.cap_note)."""
        return next((m.capped_ for m in self.estimators_ if getattr(m, "capped_", None)), None)

    @property
    def feature_names_out_(self):
        """The first fitted column model's feature names (what its importances are of)."""
        fitted = [m for m in self.estimators_ if m is not None]
        names = getattr(fitted[0], "feature_names_out_", None) if fitted else None
        if names is None:
            raise AttributeError("feature_names_out_")
        return names


def per_target(model_type: Any, name: str, spec: dict, ctx: Any) -> PerTarget:
    """The builder `ModelType.build` uses for a multi-target task: the model type's estimator built for
    one column's task, wrapped in `PerTarget`."""
    from dataclasses import replace

    column = ctx.task.column()
    return PerTarget(model_type.build_one(name, spec, replace(ctx, task=column)), column, tuple(ctx.task.targets))
