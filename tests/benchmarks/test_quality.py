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
