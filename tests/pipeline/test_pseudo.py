"""Pseudo-labelling: confident rows only, labels from the fold's own model, run joins the ensemble."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from core.tasks import TaskInfo
from pipeline.graph import Runner
from pipeline.stages import build_pipeline
from pipeline.stages.pseudo import select_pseudo_rows
from pipeline.workspace import Workspace


def test_select_pseudo_rows_by_task():
    p = np.array([0.99, 0.5, 0.02, 0.8])
    rows, labels = select_pseudo_rows(p, None, TaskInfo("binary", (0, 1)), threshold=0.95, fraction=0.3)
    assert rows.tolist() == [0, 2] and labels.tolist() == [1, 0]
    pm = np.array([[0.97, 0.02, 0.01], [0.4, 0.3, 0.3], [0.0, 0.01, 0.99]])
    rows, labels = select_pseudo_rows(pm, None, TaskInfo("multiclass", (0, 1, 2)), threshold=0.95, fraction=0.3)
    assert rows.tolist() == [0, 2] and labels.tolist() == [0, 2]
    pr = np.array([10.0, 20.0, 30.0, 40.0])
    rows, labels = select_pseudo_rows(pr, np.array([5.0, 0.1, 3.0, 0.2]), TaskInfo("regression"), threshold=0, fraction=0.5)
    assert rows.tolist() == [1, 3] and labels.tolist() == [20.0, 40.0]


def test_pseudo_stage_uses_each_folds_own_labels_and_joins_ensemble(titanic_ws):
    cfg = titanic_ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[pseudo]", "[pseudo]\nenabled = true\nthreshold = 0.8"))
    comp = Workspace(titanic_ws).competition("titanic")
    ran = Runner(build_pipeline(), comp, log=lambda m: None).run()
    assert "pseudo" in ran
    run_dir = comp.runs / "pseudo" / "lgbm-pseudo"
    params = json.loads((run_dir / "params.json").read_text())
    counts = params["pseudo"]["rows_per_fold"]
    by_fold = pd.read_parquet(comp.runs / "models" / "lgbm" / "test_by_fold.parquet")
    expected = [int(((g["pred"] >= 0.8) | (g["pred"] <= 0.2)).sum()) for _, g in by_fold.groupby("fold")]
    assert counts == expected and sum(counts) > 0
    oof = pd.read_parquet(run_dir / "oof.parquet")
    assert len(oof) == 1047 and oof["pred"].between(0, 1).all()
    members = json.loads((comp.runs / "ensemble" / "scores.json").read_text())["members"]
    assert "lgbm-pseudo" in members
    from pipeline.registry import open_registry

    registry = open_registry(comp.workspace)
    try:
        models = {row["model"] for row in registry.leaderboard("titanic")}
    finally:
        registry.dispose()
    assert {"lgbm", "lgbm-pseudo"} <= models
