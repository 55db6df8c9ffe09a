"""Kaggle competition pipeline: a make-like stage runner over fixed folds and portable artifacts."""

from pipeline.threads import configure_openmp as _configure_openmp

_configure_openmp()  # before LightGBM / torch load anywhere in this process

__version__ = "0.1.0"
