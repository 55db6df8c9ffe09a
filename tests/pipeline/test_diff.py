"""`python -m pipeline diff A B`: two models, two registry runs and a teammate's import compared on a real
titanic run; the comparison's numbers against scipy and the metric; bad arguments exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.metrics import get_metric
from pipeline.cli import main
from pipeline.diff import Side, compare, format_comparison
from pipeline.run_registry import ENV_URL
from tests.conftest import make_workspace

MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15, n_estimators = 100 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
"""


def _ws(tmp_path: Path, name: str = "ws") -> Path:
    ws = make_workspace(tmp_path / name)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("\n[models.") + 1] + MODELS)
    return ws


@pytest.fixture(scope="module")
def _trained(tmp_path_factory) -> Path:
    ws = _ws(tmp_path_factory.mktemp("diff"))
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_URL, raising=False)
    try:
        assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    finally:
        mp.undo()
    return ws


@pytest.fixture
def trained(_trained, monkeypatch) -> Path:
    monkeypatch.delenv(ENV_URL, raising=False)
    return _trained


def _runs(ws: Path) -> Path:
    return ws / "competition" / "titanic" / "runs" / "models"


def _oof(ws: Path, name: str) -> np.ndarray:
    import pandas as pd

    return pd.read_parquet(_runs(ws) / name / "oof.parquet")["pred"].to_numpy()


@pytest.mark.slow
def test_two_models_are_compared_part_by_part(trained, capsys):
    capsys.readouterr()
    assert main(["diff", "lgbm", "logreg", "--root", str(trained)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "A  lgbm: runs/models/lgbm" and lines[1] == "B  logreg: runs/models/logreg"
    assert "type                " in out and "'lightgbm'" in out and "'sklearn'" in out  # a parameter difference
    assert "feature blocks: 4 shared, identical" in out  # the same features stage fed both
    folds = [json.loads((_runs(trained) / n / "scores.json").read_text())["folds"] for n in ("lgbm", "logreg")]
    for k, (x, y) in enumerate(zip(*folds)):
        assert f"  {k}     {x:.5f}  {y:.5f}  {x - y:+.5f}" in lines
    from scipy.stats import ttest_rel

    p = ttest_rel(*folds).pvalue
    assert "paired t-test (scipy.stats.ttest_rel) over 5 folds" in out and f"p = {p:.3g}" in out
    a, b = _oof(trained, "lgbm"), _oof(trained, "logreg")
    assert f"OOF correlation (Pearson): {np.corrcoef(a, b)[0, 1]:.4f}" in out
    import pandas as pd

    frame = pd.read_parquet(_runs(trained) / "lgbm" / "oof.parquet")
    worst = frame["id"].to_numpy()[np.argmax(np.abs(a - b))]
    table = lines[lines.index(next(line for line in lines if line.startswith("rows where"))) + 3]
    assert table.split()[0] == str(worst)  # the row they disagree on most, first
    train = pd.read_csv(trained / "competition" / "titanic" / "train.csv").set_index("id").loc[frame["id"]]
    blend = get_metric("roc_auc")(train["survived"].to_numpy(), (a + b) / 2)
    assert f"50/50 roc_auc {blend:.5f}" in out
    auc = get_metric("roc_auc")
    gain = ((1 - auc(train["survived"].to_numpy(), b)) - (1 - auc(train["survived"].to_numpy(), a))) / (
        1 - auc(train["survived"].to_numpy(), b))
    assert f"A against B on the OOF rows: {gain:+.2%} of B's error, [" in out and "the rows' noise" in out


@pytest.mark.slow
def test_registry_runs_by_id_and_a_run_whose_folder_was_replaced(trained, capsys, tmp_path):
    import shutil

    ws = tmp_path / "copy"
    shutil.copytree(trained, ws)
    capsys.readouterr()
    assert main(["leaderboard", "--root", str(ws)]) == 0
    ids = {line.split()[2]: line.split()[1] for line in capsys.readouterr().out.splitlines()[3:]}
    assert main(["diff", ids["lgbm"], ids["logreg"][:5], "--root", str(ws)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"A  {ids['lgbm']}: registry run {ids['lgbm']}")
    assert "= runs/models/lgbm" in out and "OOF correlation" in out  # the folder holds the recorded run
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("C = 0.3", "C = 0.05"))
    assert main(["run", "--stage", "cv", "--models", "logreg", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["diff", ids["logreg"], "logreg", "--root", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "params.C" in out and "0.3" in out and "0.05" in out
    assert "OOF correlation" not in out
    assert f"note: {ids['logreg']}: OOF predictions not available (the registry keeps scores" in out


@pytest.mark.slow
def test_a_teammates_import_is_compared_with_the_exporters_parameters(trained, capsys, tmp_path):
    mine = _ws(tmp_path)
    bundle = tmp_path / "lgbm.zip"
    assert main(["export", "lgbm", "--out", str(bundle), "--root", str(trained)]) == 0
    assert main(["run", "--stage", "folds", "--root", str(mine)]) == 0
    assert main(["import", str(bundle), "--name", "mate", "--root", str(mine)]) == 0
    capsys.readouterr()
    assert main(["diff", "mate", "imports/mate", "--root", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "B  imports/mate: imports/mate (imported bundle; the exporter's parameters)" in out
    assert "parameters: identical" in out and "OOF correlation (Pearson): 1.0000" in out
    assert "none: the OOF predictions are identical" in out


@pytest.mark.slow
@pytest.mark.parametrize("argv, message", [
    (["lgbn", "logreg"], "error: unknown run 'lgbn' (did you mean 'lgbm'?); give a run's name or a run id shown "
                         "by `python -m pipeline leaderboard`"),
    (["lgbm", "ffff0000"], "error: unknown run 'ffff0000' (valid: lgbm, logreg)"),
    (["lgbm", "logreg", "--rows", "-1"], "error: --rows must be 0 or more, got -1"),
])
def test_bad_arguments_exit_2_with_one_line(trained, capsys, argv, message):
    capsys.readouterr()
    assert main(["diff", *argv, "--root", str(trained)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.strip().startswith(message)


def test_the_blend_and_the_paired_test_are_computed_on_aligned_rows():
    metric = get_metric("rmse")
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    a, b = y + rng.normal(scale=0.5, size=200), y + rng.normal(scale=1.0, size=200)
    ids = np.arange(200)
    side_a = Side("a", "a", "here", {"p": {"x": 1}}, None, [1.0, 1.1, 0.9], 1.0, oof=a)
    side_b = Side("b", "b", "here", {"p": {"x": 2}, "q": 3}, None, [1.2, 1.4, 1.0], 1.2, oof=b)
    c = compare(side_a, side_b, metric=metric, ids=ids, y=y, rows=3)
    assert c.params == [("p.x", 1, 2), ("q", c.params[1][1], 3)] and repr(c.params[1][1]) == "(absent)"
    assert c.blend == pytest.approx(metric(y, (a + b) / 2))
    w, best = c.best
    assert best <= c.blend and best <= metric(y, a) and 0.6 < w <= 1.0  # the less noisy run weighs more
    assert [row[0] for row in c.disagree] == list(np.argsort(-np.abs(a - b))[:3])
    assert "mean A - B -0.20000" in c.test and "scipy.stats.ttest_rel" in c.test
    assert any("feature blocks not recorded" in n for n in c.notes)


def test_a_run_against_another_gets_a_paired_bootstrap_interval_over_the_oof_rows():
    """A clearly better run lies beyond the rows' noise, an identical one gives exactly 0, and a run a hair
    better lies within it: the interval is over the same resampled rows for both runs."""
    metric = get_metric("rmse")
    rng = np.random.default_rng(1)
    y = rng.normal(size=400)
    good, bad = y + rng.normal(scale=0.5, size=400), y + rng.normal(scale=1.0, size=400)
    hair = good + rng.normal(scale=0.01, size=400)

    def side(name, oof):
        return Side(name, name, "here", {}, {"blocks": [], "columns": []}, [1.0, 1.0], 1.0, oof=oof)

    ids = np.arange(400)
    gain, lo, hi = compare(side("a", good), side("b", bad), metric=metric, ids=ids, y=y).gain
    assert 0 < lo < gain < hi and gain == pytest.approx(1 - metric(y, good) / metric(y, bad))
    assert compare(side("a", good), side("b", good), metric=metric, ids=ids, y=y).gain == (0.0, 0.0, 0.0)
    _, lo, hi = compare(side("a", hair), side("b", good), metric=metric, ids=ids, y=y).gain
    assert lo < 0 < hi
    lines = format_comparison(compare(side("a", bad), side("b", good), metric=metric, ids=ids, y=y))
    assert any(line.startswith("A against B on the OOF rows: -") and line.endswith("beyond the rows' noise")
               for line in lines)


@pytest.mark.slow
def test_runs_of_different_cv_repeats_are_compared_on_the_repeats_both_have(tmp_path, capsys, monkeypatch):
    """lgbm trains two CV repeats, logreg one (its own `repeats`): the two-repeat average scored better for
    reasons neither model's settings have a part in, and ten fold scores did not pair with five. Both are
    compared on repeat 1: five folds paired, lgbm's score that of its first repeat's OOF, and a note."""
    import pandas as pd

    monkeypatch.delenv(ENV_URL, raising=False)
    ws = make_workspace(tmp_path, repeats=2)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("\n[models.") + 1] + MODELS.replace('type = "sklearn"\n',
                                                                         'type = "sklearn"\nrepeats = 1\n'))
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["diff", "logreg", "lgbm", "--root", str(ws)]) == 0
    out = capsys.readouterr().out
    scores = json.loads((_runs(ws) / "lgbm" / "scores.json").read_text())
    assert len(scores["folds"]) == 10
    repeat0 = pd.read_parquet(_runs(ws) / "lgbm" / "oof_repeats.parquet")
    assert "paired t-test (scipy.stats.ttest_rel) over 5 folds" in out
    assert (f"note: lgbm has 2 CV repeats, the other 1: both compared on repeat 1's folds (lgbm's 2-repeat "
            f"average scores {scores['overall']:.5f})") in out
    header = next(line for line in out.splitlines() if line.startswith("roc_auc"))
    b = float(header.split(" B ")[1].split(",")[0])
    first = repeat0[repeat0["repeat"] == 0].set_index("id")["pred"]
    train = pd.read_csv(ws / "competition" / "titanic" / "train.csv")
    assert b == round(get_metric("roc_auc")(train["survived"].to_numpy(), first.loc[train["id"]].to_numpy()), 5)
    assert b != round(scores["overall"], 5)
