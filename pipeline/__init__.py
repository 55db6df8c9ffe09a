"""Kaggle competition pipeline: a make-like stage runner over fixed folds and portable artifacts."""

import core as _core  # noqa: F401  (sets the OpenMP wait policy before LightGBM / torch load)

__version__ = "0.1.0"
