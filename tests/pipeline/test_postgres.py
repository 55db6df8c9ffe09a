"""The run registry and Optuna studies on a real PostgreSQL server (tests/postgres_server.py: Debian's
postgresql package, a throw-away cluster on a free port, password authentication): schema creation on an
empty database, two processes recording at once, two `tune` processes sharing one study, the server going
away mid-run (the run completes, says so in one line, and the next run records what was missed), and the
password never printed nor written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.run_registry import ENV_URL, PENDING_DIR, LbRecord, RunRecord, open_registry
from tests import postgres_server
from tests.conftest import REPO, make_workspace

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(postgres_server.unavailable()),
                                                   reason=postgres_server.unavailable() or "ok")]

MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15, n_estimators = 100 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
search_space = { C = { low = 0.01, high = 10.0, log = true } }
"""


@pytest.fixture(scope="module")
def server():
    srv = postgres_server.start()
    yield srv
    srv.close()


@pytest.fixture
def db(server) -> str:
    """The URL of a new, empty database on the server (with the password in it)."""
    return server.create_database()


def _ws(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("\n[models.") + 1] + MODELS)
    return ws


def _no_password(*texts: str, folder: Path | None = None) -> None:
    for text in texts:
        assert postgres_server.PASSWORD not in text
    for path in (folder.rglob("*") if folder else []):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert postgres_server.PASSWORD.encode() not in path.read_bytes(), path


def _rec(model: str, overall: float) -> RunRecord:
    return RunRecord(competition="titanic", model=model, model_type="sklearn", params={"C": overall},
                     metric="roc_auc", greater_is_better=True, overall=overall, fold_scores=[overall, overall - 0.01],
                     fold_seconds=[0.1, 0.1], seconds=0.2)


def test_tables_are_created_on_an_empty_database_and_read_back(db):
    import sqlalchemy as sa

    reg = open_registry(".", db)
    assert reg.engine.dialect.name == "postgresql" and reg.engine.dialect.driver == "psycopg"
    assert {"pipeline_runs", "pipeline_run_folds", "pipeline_lb_scores"} <= set(sa.inspect(reg.engine).get_table_names())
    reg.record([_rec("a", 0.7), _rec("b", 0.9)])
    assert [r["model"] for r in reg.leaderboard("titanic")] == ["b", "a"]
    row = reg.runs_by_id(reg.leaderboard("titanic")[0]["run_id"][:6], "titanic")[0]
    assert row["folds"] == {0: 0.9, 1: pytest.approx(0.89)}
    assert reg.record_lb(LbRecord("titanic", "s.csv", 0.8, 0.9, "roc_auc", True)) is None
    assert reg.record_lb(LbRecord("titanic", "s.csv", 0.81, 0.9, "roc_auc", True)) == 0.8
    reg.dispose()
    open_registry(".", db).dispose()  # a second open finds the tables


def test_two_processes_record_runs_and_lb_scores_into_one_registry_at_once(db, tmp_path):
    script = tmp_path / "teammate.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pipeline.run_registry import LbRecord, RunRecord, open_registry
        who, go = sys.argv[1], sys.argv[2]
        open(go + "." + who, "w").close()  # ready
        while not os.path.exists(go):  # the parent starts both at once when both are ready
            time.sleep(0.005)
        reg = open_registry(".", {db!r})  # both create the tables of the empty database at once
        for i in range(20):
            reg.record([RunRecord(competition="titanic", model=f"{{who}}-{{i}}-{{k}}", model_type="sklearn",
                                  params={{}}, metric="roc_auc", greater_is_better=True, overall=0.5 + i / 100,
                                  fold_scores=[0.5, 0.6, 0.7]) for k in range(3)])
            reg.record_lb(LbRecord("titanic", f"{{who}}-{{i}}.csv", 0.7, 0.71, "roc_auc", True))
            reg.record_lb(LbRecord("titanic", "shared.csv", 0.7 + i / 1000, 0.71, "roc_auc", True))
        reg.dispose()
        print("done", who)
    """))
    go = tmp_path / "go"  # a file barrier, not a moment on the clock: both start when both are ready
    procs = [subprocess.Popen([sys.executable, str(script), who, str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in ("ann", "bob")]
    while not all((tmp_path / f"go.{who}").exists() for who in ("ann", "bob")) and all(p.poll() is None for p in procs):
        time.sleep(0.005)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reg = open_registry(".", db)
    rows = reg.leaderboard("titanic")
    assert len(rows) == 2 * 20 * 3 and len({r["run_id"] for r in rows}) == 120
    assert len(reg.lb_scores("titanic")) == 2 * 20 + 1  # each its own file, and one shared file replaced
    import sqlalchemy as sa

    with reg.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from pipeline_run_folds")).scalar() == 360
    reg.dispose()


def test_run_leaderboard_lb_and_report_use_the_server_and_never_show_the_password(db, tmp_path, monkeypatch,
                                                                                   capsys):
    monkeypatch.setenv(ENV_URL, db)
    ws = _ws(tmp_path)
    assert main(["run", "--root", str(ws)]) == 0
    assert main(["leaderboard", "--root", str(ws)]) == 0
    board = capsys.readouterr()
    assert "lgbm" in board.out and "logreg" in board.out
    sub = sorted((ws / "submissions" / "titanic").glob("titanic-*.csv"))[-1]
    assert main(["lb", str(sub), "0.79", "--root", str(ws)]) == 0
    assert main(["report", "--root", str(ws)]) == 0
    out = capsys.readouterr()
    assert "run registry not readable" not in (ws / "competition/titanic/runs/report.html").read_text()
    assert not (ws / "runs.db").exists()  # nothing went to the SQLite default
    monkeypatch.setenv(ENV_URL, db.replace(postgres_server.PASSWORD, "wrong-" + postgres_server.PASSWORD[:5]))
    assert main(["leaderboard", "--root", str(ws)]) == 2
    bad = capsys.readouterr()
    assert "password authentication failed" in bad.err and "***" in bad.err
    _no_password(board.out, board.err, out.out, out.err, bad.out, bad.err, folder=ws)


def test_two_tune_processes_on_one_study_reach_the_same_best(db, tmp_path):
    ws = _ws(tmp_path)
    env = {**os.environ, ENV_URL: db, "PIPELINE_PROGRESS": "off"}
    assert subprocess.run([sys.executable, "-m", "pipeline", "run", "--stage", "features", "--root", str(ws)],
                          env=env, capture_output=True, cwd=REPO).returncode == 0
    cmd = [sys.executable, "-m", "pipeline", "tune", "--model", "logreg", "--trials", "8", "--root", str(ws)]
    procs = [subprocess.Popen(cmd + ["--seed", str(seed)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    best = [next(line for line in out.splitlines() if line.startswith("best ")) for out, _ in outs]
    assert best[0] == best[1]
    counts = [next(line for line in err.splitlines() if " complete, " in line) for _, err in outs]
    assert counts[0].split("(")[0] == counts[1].split("(")[0]  # both report the one study's counts
    words = counts[0].split()
    assert int(words[1]) + int(words[3]) == 8 and words[5] == "0", counts  # complete + pruned, none failed
    trained = sum(int(line.split("(")[1].split()[0]) for line in counts)
    assert trained == 8  # every trial trained once, by one of the two
    _no_password(*(o for pair in outs for o in pair))


def test_server_gone_mid_run_the_run_completes_and_the_next_run_catches_up(server, db, tmp_path, monkeypatch,
                                                                            capsys):
    from pipeline.stages import cv

    monkeypatch.setenv(ENV_URL, db)
    ws = _ws(tmp_path)
    write = cv._write
    assert main(["run", "--stage", "features", "--root", str(ws)]) == 0
    assert open_registry(ws, db).leaderboard() == []  # the server answers when the run starts

    def write_then_stop(*args, **kwargs):  # the first model's folder is written, then the server stops
        paths = write(*args, **kwargs)
        server.stop()
        return paths

    monkeypatch.setattr(cv, "_write", write_then_stop)
    try:
        assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
        out = capsys.readouterr()
        lines = [line for line in (out.out + out.err).splitlines() if "registry" in line]
        assert len(lines) == 1, lines
        assert lines[0].startswith("[cv] warning: registry write skipped (registry 'postgresql://pipeline:***@")
        assert "cannot open the database (connection failed" in lines[0]
        assert "2 run(s) kept in" in lines[0] and "recorded by the next run that reaches the registry" in lines[0]
        assert (ws / "competition/titanic/runs/models/lgbm/oof.parquet").is_file()
        assert len(list((ws / PENDING_DIR).glob("*.json"))) == 1
        _no_password(out.out, out.err, folder=ws)
    finally:
        server.start()
    monkeypatch.setattr(cv, "_write", write)
    assert main(["run", "--stage", "cv", "--force", "--models", "logreg", "--root", str(ws)]) == 0
    out = capsys.readouterr()
    assert "[cv] registry: also recorded 2 run(s) an earlier run could not" in out.out + out.err
    assert not list((ws / PENDING_DIR).glob("*"))
    reg = open_registry(ws, db)
    assert sorted(r["model"] for r in reg.leaderboard("titanic")) == ["lgbm", "logreg", "logreg"]
    reg.dispose()
