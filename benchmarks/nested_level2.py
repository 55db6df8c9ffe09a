"""AutoGluon best_quality's level 2 (a model on the features plus level 1's predictions), nested so that
its out-of-fold score is honest: a plug-in estimator for `benchmarks/members.py`.

Inside one fit (a fold's training rows), an inner K-fold of a LightGBM gives every training row a prediction
from models that never saw it (with `trees`, extra trees' too); a small LightGBM then trains on the features
plus those predictions. New rows get the inner models' mean prediction, then level 2. Nothing outside the
rows it is fitted on reaches it, so the pipeline's OOF score of it is as honest as any member's -- unlike
`[ensemble] passthrough`, whose level 2 learns from member predictions made by models that saw the fold it
predicts (README, "A stack that sees the features is not scored honestly").

    PYTHONPATH=benchmarks python benchmarks/members.py --workspaces <quality.py's> --sets hpc \\
        --candidates <a TOML file of the table below>

    [models.level2]
    type = "sklearn"
    estimators = { classification = "nested_level2.NestedLevel2Classifier", regression = "nested_level2.NestedLevel2Regressor" }
    params = { n_jobs = 1, random_state = 0, trees = false }
    preprocess = "none"

Measured on hpc (2026-12-05, benchmarks/SUITE.md "Measured on the suite and not adopted"): the ensemble's OOF log loss
0.40841 -> 0.40812 (+0.07 %), with `trees` 0.40668 (+0.42 %), for 1.45x and 2.02x the members' seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

LEVEL1 = {"learning_rate": 0.04, "num_leaves": 31, "min_child_samples": 20, "subsample": 0.75, "subsample_freq": 1}
LEVEL2 = {"learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1,
          "colsample_bytree": 0.8, "reg_lambda": 1.0}
_PATIENCE = 100
_MAX_ROUNDS = 2000


class _NestedLevel2(BaseEstimator):
    _classifier = False

    def __init__(self, inner_folds: int = 4, trees: bool = False, n_jobs: int = 1, random_state: int = 0):
        self.inner_folds = inner_folds
        self.trees = trees
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _boosted(self, X, y, params: dict):
        """A LightGBM stopped early on 10 % of these rows (stratified for classification), kept as stopped."""
        import lightgbm as lgb

        estimator = lgb.LGBMClassifier if self._classifier else lgb.LGBMRegressor
        fit, stop = train_test_split(np.arange(len(y)), test_size=0.1, random_state=self.random_state,
                                     stratify=y if self._classifier else None)
        model = estimator(n_estimators=_MAX_ROUNDS, verbose=-1, n_jobs=self.n_jobs, random_state=self.random_state,
                          **params)
        return model.fit(X.iloc[fit], y[fit], eval_X=X.iloc[stop], eval_y=y[stop],
                         callbacks=[lgb.early_stopping(_PATIENCE, verbose=False)])

    def _forest(self):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        forest = ExtraTreesClassifier if self._classifier else ExtraTreesRegressor
        return forest(n_estimators=200, min_samples_leaf=2, max_features="sqrt", n_jobs=self.n_jobs,
                      random_state=self.random_state)

    @staticmethod
    def _codes(X) -> np.ndarray:
        """Numbers for extra trees: categorical codes, missing values as -999."""
        out = X.copy()
        for c in out.columns:
            if not pd.api.types.is_numeric_dtype(out[c]):
                col = out[c] if isinstance(out[c].dtype, pd.CategoricalDtype) else out[c].astype("category")
                out[c] = col.cat.codes
        return out.astype(float).fillna(-999.0).to_numpy()

    def _level1(self, models: list, X) -> np.ndarray:
        """Level 1's predictions as level 2's columns: log-odds (binary), log-probabilities, or values."""
        columns = []
        for i, model in enumerate(models):
            Xi = X if i == 0 else self._codes(X)
            if not self._classifier:
                columns.append(model.predict(Xi)[:, None])
                continue
            p = np.clip(model.predict_proba(Xi), 1e-6, 1 - 1e-6)
            columns.append(np.log(p[:, 1:] / p[:, :1]) if p.shape[1] == 2 else np.log(p))
        return np.hstack(columns)

    @staticmethod
    def _with(X, Z: np.ndarray):
        out = X.copy()
        for j in range(Z.shape[1]):
            out[f"__level1_{j}"] = Z[:, j]
        return out

    def fit(self, X, y, sample_weight=None):
        X = X.reset_index(drop=True)
        y = np.asarray(y)
        if self._classifier:
            self.classes_, y = np.unique(y, return_inverse=True)
        inner = (StratifiedKFold if self._classifier else KFold)(self.inner_folds, shuffle=True,
                                                                  random_state=self.random_state)
        self.inner_, Z = [], None
        for fit, held in inner.split(X, y):
            models = [self._boosted(X.iloc[fit], y[fit], LEVEL1)]
            if self.trees:
                models.append(self._forest().fit(self._codes(X.iloc[fit]), y[fit]))
            z = self._level1(models, X.iloc[held])
            Z = np.zeros((len(y), z.shape[1])) if Z is None else Z
            Z[held] = z
            self.inner_.append(models)
        self.level1_oof_ = Z  # what level 2 learned from: each row's level-1 columns, from models without it
        self.level2_ = self._boosted(self._with(X, Z), y, LEVEL2)
        return self

    def _level2_input(self, X):
        X = X.reset_index(drop=True)
        return self._with(X, np.mean([self._level1(models, X) for models in self.inner_], axis=0))


class NestedLevel2Classifier(ClassifierMixin, _NestedLevel2):
    _classifier = True

    def predict_proba(self, X) -> np.ndarray:
        return self.level2_.predict_proba(self._level2_input(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class NestedLevel2Regressor(RegressorMixin, _NestedLevel2):
    def predict(self, X) -> np.ndarray:
        return self.level2_.predict(self._level2_input(X))
