"""Model trainers under k-fold CV on the competition's saved folds.

A `[models.NAME]` table's `type` picks a builder from `MODEL_TYPES` ("lightgbm", "sklearn") or a
plug-in (a file in competition/<name>/models/ or an import path); `train_cv` then trains a fresh
clone per fold. `models.testing.check_model` checks that a teammate's model honours the contract;
`models.persist` writes a fitted model as portable files and reads it back (`model_files`, `load_model`).
"""

from models._cv import (CVResult, FoldReport, average_repeats, fit_model, predict_model, takes_sample_weight, train_cv,
                        train_cv_many, wanted_arrays)
from models._types import (MODEL_TYPES, ModelContext, ModelType, build_model, register_model_type,
                           soft_label_spec)
from models.persist import NotSaveable, load_model, model_files, why_not_saveable

__all__ = ["CVResult", "FoldReport", "MODEL_TYPES", "ModelContext", "ModelType", "NotSaveable", "average_repeats",
           "build_model", "fit_model", "load_model", "model_files", "predict_model", "register_model_type",
           "soft_label_spec", "takes_sample_weight", "train_cv", "train_cv_many", "wanted_arrays", "why_not_saveable"]
