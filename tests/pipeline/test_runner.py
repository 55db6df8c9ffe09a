"""The make-like runner: end-to-end run, no-op re-run, per-model re-runs, data changes, --force."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.workspace import Workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

TWO_MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15 }

[models.lgbm_small]
type = "lightgbm"
params = { num_leaves = 4, learning_rate = 0.1 }
"""


def _runner(ws, logs=None):
    comp = Workspace(ws).competition("titanic")
    return Runner(build_pipeline(), comp, log=(logs.append if logs is not None else lambda m: None))


def _set_models(ws, block: str) -> None:
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    text = text[: text.index("[models.lgbm]")] + block
    cfg.write_text(text)


def test_full_run_writes_submission_matching_sample(tmp_path, capsys):
    """The README's main job: the shipped titanic config, every model, through submit."""
    from tests.conftest import make_workspace

    titanic_ws = make_workspace(tmp_path, all_models=True)
    assert main(["run", "--root", str(titanic_ws)]) == 0
    out_lines = capsys.readouterr().out.strip().splitlines()
    sub_dir = titanic_ws / "submissions" / "titanic"
    latest = pd.read_csv(sub_dir / "latest.csv")
    sample = pd.read_csv(titanic_ws / "competition" / "titanic" / "sample_submission.csv")
    assert list(latest.columns) == list(sample.columns)
    assert latest["id"].tolist() == sample["id"].tolist()
    assert latest.dtypes.tolist() == sample.dtypes.tolist()
    assert latest["survived"].between(0, 1).all() and latest["survived"].nunique() > 10
    # the last stdout line is the timestamped submission, a copy of latest.csv
    last = out_lines[-1]
    assert last.startswith(str(sub_dir / "titanic-")) and "-cv0." in last
    assert pd.read_csv(last).equals(latest)
    folds = pd.read_csv(titanic_ws / "competition" / "titanic" / "runs" / "folds.csv")
    assert list(folds.columns) == ["id", "fold"] and sorted(folds["fold"].unique()) == [0, 1, 2, 3, 4]
    for model in ("lgbm", "lgbm_slow", "lgbm_shallow", "lgbm_extra", "catboost", "linear", "mlp"):
        run_dir = titanic_ws / "competition" / "titanic" / "runs" / "models" / model
        for f in ("oof.parquet", "test.parquet", "scores.json", "params.json", "timings.json"):
            assert (run_dir / f).is_file(), f"{model}/{f}"


def test_second_run_reruns_nothing(titanic_ws):
    assert _runner(titanic_ws).run() == ["folds", "explore", "features", "cv", "ensemble", "submit"]
    logs: list[str] = []
    assert _runner(titanic_ws, logs).run() == []
    assert all("fresh, skipped" in m for m in logs)


def test_changing_one_model_reruns_only_that_model_and_what_follows(titanic_ws):
    _set_models(titanic_ws, TWO_MODELS)
    _runner(titanic_ws).run()
    runs = titanic_ws / "competition" / "titanic" / "runs" / "models"
    before = {m: (runs / m / "oof.parquet").stat().st_mtime_ns for m in ("lgbm", "lgbm_small")}
    _set_models(titanic_ws, TWO_MODELS.replace("num_leaves = 4", "num_leaves = 6"))
    logs: list[str] = []
    ran = _runner(titanic_ws, logs).run()
    assert ran == ["cv", "ensemble", "submit"]
    assert (runs / "lgbm" / "oof.parquet").stat().st_mtime_ns == before["lgbm"]
    assert (runs / "lgbm_small" / "oof.parquet").stat().st_mtime_ns != before["lgbm_small"]
    assert any("changed: lgbm_small" in m for m in logs)
    assert not any("[cv] lgbm fold" in m for m in logs)


def test_data_content_change_reruns_everything_after_it(titanic_ws):
    _runner(titanic_ws).run()
    train = titanic_ws / "competition" / "titanic" / "train.csv"
    # same content, new mtime: nothing re-runs (fingerprints hash content, not times)
    train.write_bytes(train.read_bytes())
    assert _runner(titanic_ws).run() == []
    lines = train.read_text().splitlines()
    lines[1] = lines[1].replace("female", "male", 1)
    train.write_text("\n".join(lines) + "\n")
    assert _runner(titanic_ws).run() == ["folds", "explore", "features", "cv", "ensemble", "submit"]


def test_stage_option_stops_after_that_stage_and_force_reruns_it(titanic_ws):
    assert _runner(titanic_ws).run("features") == ["folds", "features"]
    assert _runner(titanic_ws).run("cv") == ["cv"]
    assert _runner(titanic_ws).run("cv", force=True) == ["cv"]
    assert _runner(titanic_ws).run() == ["explore", "ensemble", "submit"]


def test_a_plugin_file_no_model_uses_leaves_cv_fresh(titanic_ws, monkeypatch):
    _runner(titanic_ws).run("cv")
    plugin = titanic_ws / "competition" / "titanic" / "models"
    plugin.mkdir()
    (plugin / "mine.py").write_text("# a teammate's plug-in file\n")
    assert _runner(titanic_ws).run("cv") == []  # tests/pipeline/test_stale_results.py: one that is used


def test_status_lists_stages_with_reasons(titanic_ws, capsys):
    _runner(titanic_ws).run("features")
    assert main(["status", "--root", str(titanic_ws)]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.strip().splitlines()}
    assert rows["folds"] == "fresh" and rows["features"] == "fresh"
    assert rows["cv"] == "stale" and rows["pseudo"] == "disabled"


def test_models_option_retrains_only_named_models(titanic_ws):
    _set_models(titanic_ws, TWO_MODELS)
    _runner(titanic_ws).run("cv")
    runs = titanic_ws / "competition" / "titanic" / "runs" / "models"
    before = (runs / "lgbm" / "oof.parquet").stat().st_mtime_ns
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv", "--force", "--models", "lgbm_small"]) == 0
    assert (runs / "lgbm" / "oof.parquet").stat().st_mtime_ns == before


def test_models_finished_before_a_crash_are_kept(titanic_ws):
    """If the second model fails, the first is recorded and not retrained on the next run."""
    _set_models(titanic_ws, TWO_MODELS.replace("num_leaves = 4,", "num_leaves = 'four',"))
    import pytest

    with pytest.raises(Exception):
        _runner(titanic_ws).run("cv")
    runs = titanic_ws / "competition" / "titanic" / "runs" / "models"
    assert (runs / "lgbm" / "oof.parquet").exists() and not (runs / "lgbm_small").exists()
    _set_models(titanic_ws, TWO_MODELS)
    logs: list[str] = []
    assert _runner(titanic_ws, logs).run("cv") == ["cv"]
    assert not any("[cv] lgbm fold" in m for m in logs) and any("[cv] lgbm_small fold" in m for m in logs)
