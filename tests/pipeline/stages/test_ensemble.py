"""The ensemble stage in a workspace: report, choice, pinned methods, stackers, bad config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.workspace import Workspace
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 7, n_estimators = 200 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.5 }
"""


def _workspace(tmp_path, ensemble: str = "") -> Path:
    ws = make_workspace(tmp_path)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    text = text[: text.index("[models.lgbm]")] + MODELS
    text = text.replace("[ensemble]\n", "[ensemble]\n" + ensemble)
    cfg.write_text(text)
    return ws


def _run(ws, stage="ensemble", logs=None):
    comp = Workspace(ws).competition("titanic")
    return Runner(build_pipeline(), comp, log=(logs.append if logs is not None else lambda m: None)).run(stage)


def test_stage_reports_members_methods_weights_and_keeps_the_best(tmp_path):
    ws = _workspace(tmp_path)
    logs: list[str] = []
    _run(ws, logs=logs)
    out = ws / "competition" / "titanic" / "runs" / "ensemble"
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["members"]) == {"lgbm", "logreg"}
    assert set(scores["methods"]) == {"best", "mean", "rank", "geometric", "hill_climb", "weighted", "stack"}
    assert scores["overall"] == max(scores["methods"].values())
    assert scores["methods"][scores["method"]] == scores["overall"]
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["kind"].tolist().count("member") == 2 and board["kind"].tolist().count("method") == 7
    hill = json.loads(board.set_index("name").loc["hill_climb", "weights"])
    assert sum(hill.values()) == pytest.approx(1.0, abs=1e-5)
    text = "\n".join(logs)
    assert "[ensemble]   lgbm" in text and "in-sample" in text and f"chose {scores['method']}" in text
    # one CV repeat: no member has fewer than the others (it read "(1 of 1 repeats ...)" on every one)
    assert "repeats" not in text
    # the OOF artifact follows train.csv's rows and scores as reported
    train = pd.read_csv(ws / "competition" / "titanic" / "train.csv")
    oof = pd.read_parquet(out / "oof.parquet")
    assert oof["id"].tolist() == train["id"].tolist()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(train["survived"], oof["pred"]) == pytest.approx(scores["overall"])
    assert (ws / "competition" / "titanic" / "runs" / "models" / "logreg" / "oof.parquet").exists()


def test_the_blend_does_not_depend_on_the_order_the_members_are_listed_in(tmp_path):
    results = []
    for order in ('["logreg", "lgbm"]', '["lgbm", "logreg"]'):
        ws = _workspace(tmp_path / order[2:8], ensemble=f"models = {order}\n")
        _run(ws)
        out = ws / "competition" / "titanic" / "runs" / "ensemble"
        board = pd.read_csv(out / "leaderboard.csv")
        assert board.loc[board["kind"] == "member", "name"].tolist() == ["lgbm", "logreg"]  # name order
        results.append((json.loads((out / "scores.json").read_text()), pd.read_parquet(out / "oof.parquet")))
    assert results[0][0] == results[1][0]
    pd.testing.assert_frame_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("metric, methods", [("roc_auc", {"best"}), ("log_loss", {"best", "stack"})])
def test_one_member_is_kept_as_it_is_unless_a_stack_can_recalibrate_it(tmp_path, metric, methods):
    ws = _workspace(tmp_path, ensemble='models = ["lgbm"]\n')
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace('metric = "roc_auc"', f'metric = "{metric}"'))
    logs: list[str] = []
    _run(ws, logs=logs)
    scores = json.loads((ws / "competition" / "titanic" / "runs" / "ensemble" / "scores.json").read_text())
    assert set(scores["methods"]) == methods  # AUC: a blend of one is itself, a stack cannot reorder it
    assert "one member (lgbm)" in "\n".join(logs)


def test_auto_shows_a_passthrough_stack_but_does_not_choose_it(tmp_path):
    ws = _workspace(tmp_path, "passthrough = true\n")
    logs: list[str] = []
    _run(ws, logs=logs)
    scores = json.loads((ws / "competition" / "titanic" / "runs" / "ensemble" / "scores.json").read_text())
    assert "stack" in scores["methods"] and scores["method"] != "stack"
    honest = {n: s for n, s in scores["methods"].items() if n != "stack"}
    assert scores["overall"] == max(honest.values())
    assert any(line.startswith("[ensemble]   stack") and "optimistic" in line for line in logs)
    board = pd.read_csv(ws / "competition" / "titanic" / "runs" / "ensemble" / "leaderboard.csv")
    assert board.set_index("name")["optimistic"].to_dict() == {
        "lgbm": False, "logreg": False, **{m: m == "stack" for m in scores["methods"]}}


def test_pinned_method_and_stackers_from_model_tables(tmp_path):
    ws = _workspace(tmp_path, 'method = "stack"\nstackers = ["linear", "lgbm"]\npassthrough = true\n')
    _run(ws)
    out = ws / "competition" / "titanic" / "runs" / "ensemble"
    scores = json.loads((out / "scores.json").read_text())
    params = json.loads((out / "params.json").read_text())
    assert scores["method"] == "stack" and list(scores["methods"]) == ["stack"]
    assert params["details"]["levels"] == [["linear", "lgbm"], ["linear"]]
    assert params["details"]["passthrough"] is True
    assert 0.8 < scores["overall"] < 1.0
    test = pd.read_parquet(out / "test.parquet")
    assert test["pred"].between(0, 1).all() and len(test) == 262


@pytest.mark.parametrize("ensemble,message", [
    ('method = "hillclimb"\n', "ensemble.method = 'hillclimb' is not one of auto, best, mean, rank, geometric, hill_climb, geometric_hill_climb, bagged_hill_climb, weighted, stack, stack_lightgbm (did you mean 'hill_climb'?)"),
    ('models = ["lgbm", "xgb"]\n', "ensemble.models names 'xgb', which has no run"),
    ('stackers = ["ridge"]\n', "ensemble.stackers names 'ridge', which is neither linear, lightgbm"),
    ('method = "stack"\nstackers = []\n', "ensemble.stackers is empty"),
    ('hill_climb_rounds = 0\n', "ensemble.hill_climb_rounds must be at least 1"),
])
def test_bad_ensemble_config_exits_2_with_one_line(tmp_path, capsys, ensemble, message):
    ws = _workspace(tmp_path, ensemble)
    assert main(["run", "--root", str(ws), "--stage", "ensemble"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (ws / "competition" / "titanic" / "runs" / "ensemble").exists()


def test_submit_writes_the_chosen_ensemble(tmp_path, capsys):
    ws = _workspace(tmp_path, 'method = "mean"\n')
    assert main(["run", "--root", str(ws)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    sub = pd.read_csv(last)
    ens = pd.read_parquet(ws / "competition" / "titanic" / "runs" / "ensemble" / "test.parquet")
    merged = sub.merge(ens, on="id")
    np.testing.assert_allclose(merged["survived"], merged["pred"])
    latest = ws / "submissions" / "titanic" / "latest.csv"
    assert latest.read_bytes() == open(last, "rb").read()
