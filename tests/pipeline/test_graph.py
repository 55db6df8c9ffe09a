"""The stage DAG validates itself and orders stages by dependency."""

from __future__ import annotations

import graphlib

import pytest

from pipeline.graph import Pipeline, Stage
from pipeline.stages import build_pipeline


def _stage(name, *needs):
    return Stage(name, "doc", "x:y", needs=needs)


def test_shipped_pipeline_order_respects_needs():
    pipe = build_pipeline()
    pos = {name: i for i, name in enumerate(pipe.order)}
    for stage in pipe.stages.values():
        for need in stage.needs:
            assert pos[need] < pos[stage.name]
    assert pipe.upstream("cv") == {"folds", "features", "cv"}
    assert "explore" not in pipe.upstream("submit")


def test_cycle_unknown_need_and_duplicate_are_rejected():
    with pytest.raises(graphlib.CycleError):
        Pipeline([_stage("a", "b"), _stage("b", "a")])
    with pytest.raises(ValueError, match="needs unknown stage 'z'"):
        Pipeline([_stage("a", "z")])
    with pytest.raises(ValueError, match="duplicate"):
        Pipeline([_stage("a"), _stage("a")])


def test_downstream_is_transitive():
    pipe = Pipeline([_stage("a"), _stage("b", "a"), _stage("c", "b"), _stage("d")])
    assert pipe.downstream("a") == {"a", "b", "c"}
