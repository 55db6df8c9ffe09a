"""Run registry: batched writes, sorting by the metric's direction, URL settings, the cv stage and the CLI."""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.cli import main
from core.errors import UserError
from pipeline.run_registry import ENV_URL, RunRecord, open_registry, registry_url


def _rec(comp, model, metric, gib, overall, folds=(0.5, 0.6)):
    return RunRecord(competition=comp, model=model, model_type="lightgbm", params={"num_leaves": len(model)},
                     metric=metric, greater_is_better=gib, overall=overall, fold_scores=list(folds),
                     fold_seconds=[0.1] * len(folds), seconds=1.0)


def test_a_batch_is_written_with_one_statement_per_table(tmp_path):
    import sqlalchemy as sa

    reg = open_registry(tmp_path)
    statements = []
    sa.event.listen(reg.engine, "before_cursor_execute",
                    lambda conn, cursor, stmt, params, ctx, many: statements.append((stmt.split()[0], many)))
    reg.record([_rec("a", f"m{i}", "roc_auc", True, 0.8 + i / 100, folds=(0.1, 0.2, 0.3)) for i in range(5)])
    inserts = [s for s in statements if s[0] == "INSERT"]
    assert inserts == [("INSERT", True), ("INSERT", True)]  # executemany, runs then folds
    db = sqlite3.connect(tmp_path / "runs.db")
    assert db.execute("select count(*) from pipeline_runs").fetchone() == (5,)
    assert db.execute("select count(*) from pipeline_run_folds").fetchone() == (15,)
    reg.dispose()


def test_a_fold_with_an_undefined_score_is_recorded_without_it(tmp_path):
    reg = open_registry(tmp_path)
    reg.record([_rec("a", "m", "roc_auc", True, 0.8, folds=(0.7, float("nan"), 0.9))])
    db = sqlite3.connect(tmp_path / "runs.db")
    assert db.execute("select fold, score from pipeline_run_folds order by fold").fetchall() == [(0, 0.7), (2, 0.9)]
    assert db.execute("select n_folds, round(fold_mean, 6) from pipeline_runs").fetchone() == (3, 0.8)
    reg.dispose()


def test_a_run_without_a_finite_score_never_blocks_the_queue(tmp_path):
    # queued by an earlier run, it would fail the NOT NULL column on every later run, and the good runs with it
    from core.io import write_json
    from pipeline.run_registry import PENDING_DIR, _to_json, record_runs

    (tmp_path / PENDING_DIR).mkdir()
    write_json(tmp_path / PENDING_DIR / "old.json", [_to_json(_rec("a", "nan_run", "mine", True, float("nan")))])
    assert record_runs(tmp_path, [_rec("a", "good", "roc_auc", True, 0.8)]) == (1, "")
    db = sqlite3.connect(tmp_path / "runs.db")
    assert db.execute("select model from pipeline_runs").fetchall() == [("good",)]
    assert not list((tmp_path / PENDING_DIR).iterdir())


def test_leaderboard_sorts_by_each_metrics_direction_and_filters(tmp_path):
    reg = open_registry(tmp_path)
    reg.record([_rec("auc-comp", "low", "roc_auc", True, 0.70), _rec("auc-comp", "high", "roc_auc", True, 0.90),
                _rec("rmse-comp", "big", "rmse", False, 3.0), _rec("rmse-comp", "small", "rmse", False, 1.0),
                _rec("rmse-comp", "mid", "rmse", False, 2.0)])
    rows = reg.leaderboard()
    assert [(r["competition"], r["model"]) for r in rows] == [
        ("auc-comp", "high"), ("auc-comp", "low"), ("rmse-comp", "small"), ("rmse-comp", "mid"), ("rmse-comp", "big")]
    assert [r["model"] for r in reg.leaderboard("rmse-comp", limit=2)] == ["small", "mid"]
    row = reg.leaderboard("auc-comp")[0]
    assert row["fold_mean"] == pytest.approx(0.55) and row["n_folds"] == 2 and len(row["params_hash"]) == 12
    assert reg.leaderboard("nothing") == []
    reg.dispose()


def test_leaderboard_says_when_runs_of_different_fold_counts_rank_together(tmp_path):
    from pipeline.commands.leaderboard import format_rows

    reg = open_registry(tmp_path)
    reg.record([_rec("a", "two_repeats", "roc_auc", True, 0.80, folds=(0.8,) * 10),
                _rec("a", "one_repeat", "roc_auc", True, 0.79, folds=(0.8,) * 5),
                _rec("b", "m", "rmse", False, 1.0, folds=(1.0,) * 5),
                _rec("b", "n", "rmse", False, 2.0, folds=(2.0,) * 5)])
    lines = format_rows(reg.leaderboard())
    reg.dispose()
    notes = [line for line in lines if line.startswith("(fold counts differ")]
    assert notes == [lines[lines.index("b (rmse, lower is better)") - 2]]  # competition a only, below its table
    assert notes[0].startswith("(fold counts differ: 5, 10. A run of more CV repeats")


def test_url_comes_from_the_environment_then_pipeline_toml(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    assert registry_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'runs.db'}"
    (tmp_path / "pipeline.toml").write_text(f'registry_url = "sqlite:///{tmp_path / "team.db"}"\n')
    assert registry_url(tmp_path).endswith("team.db")
    monkeypatch.setenv(ENV_URL, f"sqlite:///{tmp_path / 'env.db'}")
    assert registry_url(tmp_path).endswith("env.db")


def test_unusable_url_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"registry URL 'nosuchdb://x' is not usable"):
        open_registry(tmp_path, "nosuchdb://x")


def test_cv_stage_records_runs_and_leaderboard_prints_them(titanic_ws, capsys, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    cfg = titanic_ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text() + '\n[models.lr]\ntype = "sklearn"\n'
                                     'estimator = "sklearn.linear_model.LogisticRegression"\n')
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--root", str(titanic_ws)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "titanic (roc_auc, higher is better)"
    body = out[3:]
    assert [line.split()[2] for line in body] == sorted(["lgbm", "lr"], key=lambda m: -float(
        next(line.split()[4] for line in body if line.split()[2] == m)))
    assert all(len(line.split()[1]) == 8 for line in body)  # the run id's first 8 characters, for `diff`
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv", "--force", "--models", "lr"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--root", str(titanic_ws), "--competition", "titanic", "--limit", "5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3 + 3  # lr twice, lgbm once
    assert main(["leaderboard", "--root", str(titanic_ws), "--competition", "titanik"]) == 2
    assert "no runs recorded for competition 'titanik'; recorded competitions: titanic" in capsys.readouterr().err


def test_leaderboard_without_runs_says_how_to_get_some(titanic_ws, capsys, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    assert main(["leaderboard", "--root", str(titanic_ws)]) == 2
    assert "train models first with `python -m pipeline run`" in capsys.readouterr().err
