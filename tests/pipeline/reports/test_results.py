"""The results report (`report`) and the CV-vs-leaderboard log (`lb`): sections with plots after a default
run, LB scores kept across re-runs and shown by `leaderboard`, divergence warnings, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import make_workspace
from tests.pipeline.stages.test_explore import parse

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15, n_estimators = 200 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
"""
SECTIONS = ["leaderboard", "folds", "oof", "importance", "diversity", "ensemble", "diff", "cv_vs_lb"]


def _set_models(ws: Path, name: str, block: str) -> None:
    cfg = ws / "competition" / name / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("\n[models.") + 1] + block)  # the first table, not a comment naming one


def _submissions(ws: Path, name: str = "titanic") -> list[Path]:
    return sorted(p for p in (ws / "submissions" / name).glob(f"{name}-*.csv"))


@pytest.fixture(scope="module")
def _trained_once(tmp_path_factory) -> Path:
    ws = make_workspace(tmp_path_factory.mktemp("trained"))
    _set_models(ws, "titanic", MODELS)
    assert main(["run", "--root", str(ws)]) == 0
    return ws


@pytest.fixture
def trained(_trained_once, tmp_path) -> Path:
    """Titanic run through submit with two models (a LightGBM and a logistic regression): a fresh copy."""
    ws = tmp_path / "ws"
    shutil.copytree(_trained_once, ws)
    return ws


def test_report_holds_every_section_with_a_plot_and_the_lb_log(trained, capsys):
    first = _submissions(trained)[-1]
    assert main(["lb", str(first), "0.8465", "--root", str(trained), "--note", "first try"]) == 0
    assert main(["report", "--root", str(trained)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    report = trained / "competition" / "titanic" / "runs" / "report.html"
    assert out[-1] == str(report)
    page = parse(report)
    assert list(page.images) == SECTIONS
    for section in SECTIONS:
        assert page.images[section], f"section {section} has no image"
    assert page.external == []
    text = report.read_text()
    assert first.name in text and "0.84650" in text and "first try" in text
    assert "lgbm" in text and "logreg" in text and "calibration" in text
    assert "<th>folds</th><th>folds mean ± std</th>" in text  # each run's fold count (10 = two CV repeats of 5)


def test_report_marks_a_stack_whose_score_is_optimistic(trained, capsys):
    cfg = trained / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[ensemble]\n", "[ensemble]\npassthrough = true\n", 1))
    assert main(["run", "--root", str(trained), "--stage", "ensemble"]) == 0
    assert main(["report", "--root", str(trained)]) == 0
    text = (trained / "competition" / "titanic" / "runs" / "report.html").read_text()
    assert "stack (optimistic)" in text and "chosen: <b>stack</b>" not in text


def test_lb_scores_survive_a_rerun_show_in_leaderboard_and_a_new_score_replaces_the_old(trained, capsys):
    first = _submissions(trained)[-1]
    cv = float(first.name.rsplit("-cv", 1)[1][:-4])
    assert main(["lb", str(first), "0.80", "--root", str(trained)]) == 0
    assert main(["run", "--force", "--root", str(trained)]) == 0  # a re-run writes a new submission
    assert len(_submissions(trained)) >= 1
    assert main(["lb", "latest.csv", "0.851", "--root", str(trained)]) == 0  # latest.csv: its named twin
    assert main(["lb", first.name, "0.8465", "--root", str(trained)]) == 0  # by name; replaces 0.80
    out = capsys.readouterr().out
    assert "replaces 0.8" in out
    assert main(["leaderboard", "--root", str(trained)]) == 0
    board = capsys.readouterr().out
    assert "public leaderboard" in board and first.name in board and "0.84650" in board
    assert f"{cv:.5f}" in board and "0.80000" not in board
    latest_twin = _submissions(trained)[-1].name
    assert latest_twin in board  # recorded under the timestamped name, not latest.csv
    assert "latest.csv" not in board


def test_report_warns_when_lb_and_cv_diverge(trained, capsys):
    first = _submissions(trained)[-1]
    assert main(["lb", str(first), "0.70", "--root", str(trained)]) == 0
    capsys.readouterr()
    assert main(["report", "--root", str(trained)]) == 0
    err = capsys.readouterr().err
    assert "[report] CV and LB diverge:" in err and "more than twice the fold spread" in err
    text = (trained / "competition" / "titanic" / "runs" / "report.html").read_text()
    assert "diverge" in text


@pytest.mark.parametrize("args, message", [
    (["lb", "no-such-file.csv", "0.8"], "no submission file 'no-such-file.csv'"),
    (["lb", "latest.csv", "zero point eight"], "score 'zero point eight' is not a number"),
    (["lb", "latest.csv", "nan"], "score 'nan' is not a finite number"),
    (["lb", "competition/titanic/train.csv", "0.8"], "train.csv is not a submission for titanic"),
    (["lb", "latest.csv", "0.8", "--cv", "x"], "--cv 'x' is not a number"),
    (["lb", "latest.csv", "84.65"], "score 84.65 is outside what roc_auc can give (0 .. 1); give the score as"),
])
def test_lb_bad_input_exits_2_with_one_line(trained, capsys, args, message):
    capsys.readouterr()
    assert main([*args, "--root", str(trained)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_report_out_a_folder_writes_the_page_into_it(trained, tmp_path, capsys):
    folder = tmp_path / "share"
    folder.mkdir()
    assert main(["report", "--root", str(trained), "--out", str(folder)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(folder / "report.html")
    assert "<html" in (folder / "report.html").read_text()[:500].lower()


def test_report_before_any_run_exits_2(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    assert main(["report", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model runs" in err[0] and "python -m pipeline run" in err[0]


@pytest.mark.parametrize("name, shows", [("hpc", "reliability"), ("ames_clean", "residuals")])
def test_report_for_multiclass_and_regression(tmp_path, capsys, name, shows):
    ws = make_workspace(tmp_path, name)
    _set_models(ws, name, """
[models.lgbm]
type = "lightgbm"
params = { n_estimators = 60, num_leaves = 8 }

[models.lgbm_b]
type = "lightgbm"
params = { n_estimators = 60, num_leaves = 4, learning_rate = 0.2 }
""")
    cfg = ws / "competition" / name / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[explore]\n", "[explore]\nenabled = false\n", 1))
    assert main(["run", "--root", str(ws)]) == 0
    assert main(["report", "--root", str(ws)]) == 0
    page = parse(ws / "competition" / name / "runs" / "report.html")
    assert all(page.images[s] for s in SECTIONS if s != "cv_vs_lb")
    assert shows in (ws / "competition" / name / "runs" / "report.html").read_text()
