"""benchmarks/quality.py --compare: per-set OOF deltas, and the rows' noise interval when both runs' workspaces are kept."""

from __future__ import annotations

import json

import pytest

from benchmarks.quality import compare
from pipeline.cli import main
from tests.conftest import make_workspace


def _run(tmp_path, leaves: int) -> dict:
    ws = make_workspace(tmp_path)  # the shipped titanic, its first model (lgbm) only
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("num_leaves = 31", f"num_leaves = {leaves}"))
    assert main(["run", "--root", str(ws)]) == 0
    scores = json.loads((ws / "competition" / "titanic" / "runs" / "ensemble" / "scores.json").read_text())
    return {"set": "titanic", "metric": "roc_auc", "greater_is_better": True, "cv": scores["overall"],
            "seconds": 1.0, "members": {"lgbm": {}}, "workspace": str(ws)}


@pytest.mark.slow  # two default runs through the CLI on titanic
def test_compare_prints_each_sets_interval_when_both_workspaces_are_kept(tmp_path, capsys):
    before, after = _run(tmp_path / "a", 31), _run(tmp_path / "b", 4)
    assert before["cv"] != after["cv"]
    capsys.readouterr()
    compare({"label": "a", "results": [before]}, {"label": "b", "results": [after]})
    out = capsys.readouterr().out
    line = next(row for row in out.splitlines() if row.startswith("titanic"))
    assert "[" in line and "%, " in line and "]" in line  # the 90 % interval of the relative error reduction
    assert "beyond the interval on" in out and "/1" in out
    # without the workspaces (runs not kept): the deltas only
    for run in (before, after):
        run.pop("workspace")
    compare({"label": "a", "results": [before]}, {"label": "b", "results": [after]})
    out = capsys.readouterr().out
    assert "beyond the interval" not in out
    assert "[" not in next(row for row in out.splitlines() if row.startswith("titanic"))


def test_a_runs_timeline_names_each_stages_seconds_and_where_the_folds_trained():
    from benchmarks.quality import run_timeline

    output = ("[folds] done in 0.7s\n[runtime] tasks run on processes (2 worker processes on this machine)\n"
              "[cv] mlp fold 0: roc_auc 0.8 (1.7s)\n[cv] done in 12.9s\n[ensemble] done in 0.8s\n"
              "[explore] done in 13.4s (beside the other stages)\n")
    assert run_timeline(output) == {"stages": {"folds": 0.7, "cv": 12.9, "ensemble": 0.8, "explore": 13.4},
                                    "folds_on": "processes (2 worker processes on this machine)"}
    assert run_timeline("[cv] 1.2 of 2 cores idle: the folds train in this process\n[cv] done in 3.0s\n") == {
        "stages": {"cv": 3.0}, "folds_on": "this process"}


def test_autogluon_and_our_run_take_turns_going_first():
    """Each run follows the other's as often, so what a run leaves behind (caches, a warm or a throttled
    CPU) does not always fall on ours."""
    from benchmarks.quality import run_sets

    calls, rows, saved = [], [], []

    def ours(name):
        calls.append(("ours", name))
        return {"set": name}

    def theirs(name):
        calls.append(("ag", name))
        return {"seconds": 1.0}

    run_sets(["a", "b", "c"], ours, theirs, rows, after_each=lambda: saved.append(len(rows)))
    assert calls == [("ours", "a"), ("ag", "a"), ("ag", "b"), ("ours", "b"), ("ours", "c"), ("ag", "c")]
    assert [r["ag_medium_here"]["first"] for r in rows] == [False, True, False] and saved == [1, 2, 3]
    alone = []
    run_sets(["a", "b"], ours, None, alone)
    assert [r.get("ag_medium_here") for r in alone] == [None, None]


def test_a_submission_is_set_against_another_on_the_same_test_rows(tmp_path, capsys):
    """AutoGluon medium's test predictions against ours: the relative test error reduction, a paired bootstrap
    interval over the test rows that excludes 0 only for a real difference, and the noise line's counts."""
    import numpy as np
    import pandas as pd

    from benchmarks.quality import print_noise, submission_gain
    from tests.conftest import DATA

    ws = make_workspace(tmp_path)
    comp_dir = ws / "competition" / "titanic"
    solution = DATA / "titanic" / "solution.csv"
    truth = pd.read_csv(solution)
    rng = np.random.default_rng(0)
    good = truth.assign(survived=truth["survived"] * 0.4 + rng.uniform(0, 0.8, len(truth)))  # AUC near 0.9, not 1
    coin = truth.assign(survived=rng.uniform(0, 1, len(truth)))
    for name, frame in (("good", good), ("coin", coin), ("good_again", good.sample(frac=1.0, random_state=1))):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)  # the rows' order differs: they are matched by id

    better = submission_gain(tmp_path / "good.csv", tmp_path / "coin.csv", solution, comp_dir=comp_dir)
    assert better["gain"] > 0.5 and 0 < better["interval"][0] <= better["gain"] <= better["interval"][1]
    worse = submission_gain(tmp_path / "coin.csv", tmp_path / "good.csv", solution, comp_dir=comp_dir)
    assert worse["interval"][1] < 0
    same = submission_gain(tmp_path / "good_again.csv", tmp_path / "good.csv", solution, comp_dir=comp_dir)
    assert same == {"gain": 0.0, "interval": [0.0, 0.0]}

    print_noise([{"set": "a", "against_ag_medium_here": better}, {"set": "b", "against_ag_medium_here": worse},
                 {"set": "c", "against_ag_medium_here": {"gain": -0.01, "interval": [-0.05, 0.03]}}, {"set": "d"}])
    out = capsys.readouterr().out
    assert "ours better on 1/3, worse on 2 (b, c)" in out
    assert "beyond the test rows' noise: worse on 1 (b), better on 1 (a)" in out
