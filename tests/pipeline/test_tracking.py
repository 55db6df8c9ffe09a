"""The MLflow mirror ([tracking] mlflow_uri): a real run mirrored into a local SQLite tracking store and read
back with MLflow's own client; a store that cannot be opened costs one warning line, never the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.run_registry import ENV_URL
from tests.conftest import make_workspace

pytest.importorskip("mlflow", reason='mlflow is an optional extra: pip install -e ".[mlflow]"')

# End to end (the CLI on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15, n_estimators = 100 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
"""


def _ws(tmp_path: Path, uri: str) -> Path:
    ws = make_workspace(tmp_path)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("\n[models.") + 1] + f'\n[tracking]\nmlflow_uri = "{uri}"\n' + MODELS)
    return ws


def test_model_runs_and_the_ensemble_are_mirrored_and_read_back_with_mlflows_client(tmp_path, monkeypatch):
    import pandas as pd
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv(ENV_URL, raising=False)
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    ws = _ws(tmp_path, uri)
    assert main(["run", "--stage", "ensemble", "--root", str(ws)]) == 0
    runs_dir = ws / "competition" / "titanic" / "runs"

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("titanic")
    assert experiment is not None and experiment.artifact_location.startswith((tmp_path / "store").as_uri())
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"lgbm", "logreg", "ensemble"}
    for name in ("lgbm", "logreg"):
        run = runs[name]
        assert run.info.status == "FINISHED"
        scores = json.loads((runs_dir / "models" / name / "scores.json").read_text())
        assert run.data.metrics["roc_auc"] == pytest.approx(scores["overall"])
        history = client.get_metric_history(run.info.run_id, "fold_roc_auc")
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(scores["folds"])
        timings = json.loads((runs_dir / "models" / name / "timings.json").read_text())
        assert len(client.get_metric_history(run.info.run_id, "fold_seconds")) == len(timings["folds"])
        assert run.data.metrics["seconds"] > 0 and len(run.data.tags["pipeline.run_id"]) == 32
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert files == {"oof.parquet", "test.parquet", "scores.json", "params.json", "timings.json"}
        local = client.download_artifacts(run.info.run_id, "oof.parquet", str(tmp_path / f"dl-{name}"))
        pd.testing.assert_frame_equal(pd.read_parquet(local),
                                      pd.read_parquet(runs_dir / "models" / name / "oof.parquet"))
    assert runs["lgbm"].data.params["params.num_leaves"] == "15"
    assert runs["logreg"].data.params["estimator"] == "sklearn.linear_model.LogisticRegression"
    # the run registry's id is the tag: the two records name the same run
    assert main(["leaderboard", "--root", str(ws)]) == 0
    ens = runs["ensemble"]
    scores = json.loads((runs_dir / "ensemble" / "scores.json").read_text())
    params = json.loads((runs_dir / "ensemble" / "params.json").read_text())
    assert ens.data.params["method"] == params["method"]
    assert ens.data.metrics["roc_auc"] == pytest.approx(scores["overall"])
    weights = {k[len("weight."):]: v for k, v in ens.data.metrics.items() if k.startswith("weight.")}
    assert weights == pytest.approx(params["weights"])
    assert "oof.parquet" in {a.path for a in client.list_artifacts(ens.info.run_id)}


def test_a_store_that_cannot_be_opened_costs_one_warning_line_not_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_URL, raising=False)
    (tmp_path / "a_file").write_text("not a folder")
    ws = _ws(tmp_path, f"sqlite:///{tmp_path / 'a_file' / 'mlflow.db'}")
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    out = capsys.readouterr()
    warned = [line for line in (out.out + out.err).splitlines() if "MLflow mirror skipped" in line]
    assert len(warned) == 1 and warned[0].startswith("[cv] warning: MLflow mirror skipped (")
    assert (ws / "competition" / "titanic" / "runs" / "models" / "lgbm" / "oof.parquet").is_file()
    assert main(["leaderboard", "--root", str(ws)]) == 0  # the registry still has the runs
