"""The stage registry: the pipeline's DAG. Each stage's code lives in its own module here.

A stage's code fingerprint is derived from what its module imports (`core.fingerprint.code_inputs`);
only the competition's plug-in paths are declared (`plugins`)."""

from __future__ import annotations

from pipeline.config import Competition
from pipeline.graph import Pipeline, Stage


def _model_units(comp: Competition) -> dict:
    return comp.models


STAGES = [
    Stage("folds", "assign every train row a fold, once, saved as runs/folds.csv",
          "pipeline.stages.folds:run", sections=("competition", "cv"), data=True),
    Stage("explore", "HTML EDA report: overview, target, drift, adversarial validation, relation to the target, warnings",
          "pipeline.stages.explore:run", sections=("competition", "explore", "features.drop", "cv.scheme"), data=True,
          alongside=True),
    Stage("features", "build the feature matrices for train and test",
          "pipeline.stages.features:run", needs=("folds",), sections=("competition", "features"), data=True,
          plugins=("features.py",)),
    Stage("cv", "train every model on the saved folds: OOF and test predictions, scores",
          "pipeline.stages.cv:run", needs=("folds", "features"), sections=("competition",),
          plugins=("metrics.py",), units=_model_units, check="pipeline.stages.cv:check"),  # each model's own plug-in file and import paths
    # are in its unit's code; metrics.py (the competition's own metrics) is in every stage that scores
    Stage("pseudo", "retrain with confident test predictions as extra training rows",
          "pipeline.stages.pseudo:run", needs=("cv",), sections=("pseudo",), plugins=("models", "metrics.py")),
    Stage("ensemble", "combine the model runs (blend, hill-climb, stack) on their OOF predictions",
          "pipeline.stages.ensemble:run", needs=("features", "cv", "pseudo"),
          sections=("competition", "ensemble", "models"), imports=True, plugins=("models", "metrics.py")),
    Stage("submit", "write the submission CSV in the sample submission's exact format",
          "pipeline.stages.submit:run", needs=("ensemble",), sections=("competition",), data=True,
          plugins=("metrics.py",), check="pipeline.stages.submit:check"),
]


def build_pipeline() -> Pipeline:
    """The validated stage DAG."""
    return Pipeline(STAGES)
