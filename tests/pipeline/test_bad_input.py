"""Bad input: exit code 2, one line naming the key/file/column and the fix, no artifact left behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.cli import main

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

COMP = ("competition", "titanic")


def _edit_config(ws, old: str, new: str) -> None:
    cfg = ws.joinpath(*COMP, "competition.toml")
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new, 1))


def _rewrite_csv(ws, name: str, transform) -> None:
    path = ws.joinpath(*COMP, name)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(transform(lines)) + "\n")


CASES = {
    "malformed toml": (lambda ws: _edit_config(ws, 'task = "binary"', 'task = "binary'), r"malformed TOML"),
    "unknown key": (lambda ws: _edit_config(ws, "[cv]", "[cv]\nn_split = 3"),
                    r"unknown key cv\.n_split \(did you mean 'n_splits'\?\)"),
    "wrong type": (lambda ws: _edit_config(ws, "[cv]", "[cv]\nn_splits = 'five'"), r"cv\.n_splits must be an integer"),
    "unknown section": (lambda ws: _edit_config(ws, "[cv]", "[cvs]"), r"unknown section \[cvs\]"),
    "missing file": (lambda ws: ws.joinpath(*COMP, "test.csv").unlink(), r"test\.csv: data file not found"),
    "target absent": (lambda ws: _edit_config(ws, 'target = "survived"', 'target = "survive"'),
                      r"target column 'survive' not found \(did you mean 'survived'\?\)"),
    "id absent from test": (lambda ws: _rewrite_csv(ws, "test.csv", lambda ls: ["ident" + ls[0][2:]] + ls[1:]),
                            r"test\.csv: id column 'id' not found"),
    "duplicate ids": (lambda ws: _rewrite_csv(ws, "train.csv", lambda ls: ls + [ls[1]]),
                      r"train\.csv: 1 duplicate id\(s\) in column 'id'"),
    "empty train": (lambda ws: _rewrite_csv(ws, "train.csv", lambda ls: ls[:1]), r"train\.csv: no data rows"),
    "empty file": (lambda ws: ws.joinpath(*COMP, "train.csv").write_text(""), r"train\.csv: file is empty"),
    "bad metric": (lambda ws: _edit_config(ws, 'metric = "roc_auc"', 'metric = "rmse"'),
                   r"metric 'rmse' does not fit task 'binary'"),
    "missing key": (lambda ws: _edit_config(ws, 'id = "id"', ""), r"missing key competition\.id"),
    "trim on classification": (lambda ws: _edit_config(ws, 'type = "lightgbm"', 'type = "lightgbm"\ntrim_outliers = 4'),
                               r"models\.lgbm\.trim_outliers = 4\.0 must be 0 \(off\) .* regression only"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_no_artifacts(titanic_ws, capsys, case):
    breaker, pattern = CASES[case]
    breaker(titanic_ws)
    assert main(["run", "--root", str(titanic_ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1, err
    assert pytest.importorskip("re").search(pattern, errors[0]), errors[0]
    runs = titanic_ws.joinpath(*COMP, "runs")
    assert not runs.exists(), sorted(runs.rglob("*"))
    assert not (titanic_ws / "submissions").exists()


def test_cli_error_has_no_traceback(titanic_ws):
    _edit_config(titanic_ws, "[cv]", "[cv]\nn_split = 3")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--root", str(titanic_ws)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")


def test_unknown_stage_and_model_are_refused(titanic_ws, capsys):
    assert main(["run", "--root", str(titanic_ws), "--stage", "cvv"]) == 2
    assert "unknown stage 'cvv' (did you mean 'cv'?)" in capsys.readouterr().err
    assert main(["run", "--root", str(titanic_ws), "--models", "xgb"]) == 2
    assert "--models names 'xgb'" in capsys.readouterr().err


def test_not_a_workspace(tmp_path, capsys):
    assert main(["run", "--root", str(tmp_path)]) == 2
    assert "not a workspace" in capsys.readouterr().err


def test_failure_midway_leaves_no_half_written_run(titanic_ws, monkeypatch):
    """A crash inside a stage leaves no partial run folder and the stage stays stale."""
    import pipeline.artifacts as artifacts
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace

    comp = Workspace(titanic_ws).competition("titanic")
    Runner(build_pipeline(), comp, log=lambda m: None).run("features")
    real = artifacts.prediction_frame
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:  # after oof.parquet, before test.parquet
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(artifacts, "prediction_frame", flaky)
    with pytest.raises(KeyboardInterrupt):
        Runner(build_pipeline(), comp, log=lambda m: None).run("cv")
    models_dir = comp.runs / "models"
    assert not models_dir.exists() or list(models_dir.iterdir()) == []
    monkeypatch.setattr(artifacts, "prediction_frame", real)
    assert Runner(build_pipeline(), comp, log=lambda m: None).run("cv") == ["cv"]
