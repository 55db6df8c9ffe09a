"""A competition's own metric (competition/<name>/metrics.py) drives CV, LightGBM's early stopping,
the ensemble's weight search, the submission and the report, and is fingerprinted like plug-in code;
each new built-in metric runs a competition end to end once."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.metrics import METRICS, get_metric
from pipeline.cli import main
from pipeline.runner import Runner
from pipeline.stages import STAGES, build_pipeline
from pipeline.workspace import Workspace
from tests.conftest import DATA

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

_METRICS_PY = '''
import os

import numpy as np
from core.metrics import Metric


def top_precision(y, p):
    """Share of survivors among the 15% of rows ranked most likely to survive (ties broken by row)."""
    calls = os.environ.get("METRIC_CALLS")
    if calls:
        with open(calls, "a") as fh:
            fh.write(f"{len(y)}\\n")
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    top = np.argsort(-p, kind="stable")[: max(1, int(0.15 * len(y)))]
    return float(np.mean(y[top] == 1))


survivors_on_top = Metric("top_precision", top_precision, True, ("binary",), True, "metric")
'''

_CONFIG = """
[competition]
task = "binary"
target = "survived"
id = "id"
metric = "{metric}"
submission = "{submission}"

[explore]
enabled = false

[models.lgbm]
type = "lightgbm"
params = {{ num_leaves = 7, n_estimators = 300, early_stopping_rounds = 20 }}

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = {{ C = 0.5 }}
"""


def _workspace(tmp_path, *, metric: str, submission: str = "proba", metrics_py: str | None = None):
    ws = tmp_path / "ws"
    comp = ws / "competition" / "titanic"
    comp.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        (comp / f).write_bytes((DATA / "titanic" / f).read_bytes())
    if metrics_py is not None:
        (comp / "metrics.py").write_text(metrics_py)
    if submission == "label":  # a sample of predicted labels
        sample = pd.read_csv(comp / "sample_submission.csv")
        sample["survived"] = 0
        sample.to_csv(comp / "sample_submission.csv", index=False)
    (comp / "competition.toml").write_text(_CONFIG.format(metric=metric, submission=submission))
    return Workspace(ws).competition("titanic")


def test_a_competition_metric_drives_cv_early_stopping_the_ensemble_and_the_report(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("METRIC_CALLS", str(calls))
    comp = _workspace(tmp_path, metric="top_precision", metrics_py=_METRICS_PY)
    ran = Runner(build_pipeline(), comp, log=lambda m: None).run()
    assert {"cv", "ensemble", "submit"} <= set(ran)
    metric = get_metric("top_precision", comp.root)
    train = pd.read_csv(comp.train_path).set_index("id")

    # cv: every score is the metric's, recomputed here from the OOF file
    scores = json.loads((comp.runs / "models" / "lgbm" / "scores.json").read_text())
    oof = pd.read_parquet(comp.runs / "models" / "lgbm" / "oof.parquet")
    y = train.loc[oof["id"], "survived"].to_numpy()
    assert scores["metric"] == "top_precision" and scores["greater_is_better"] is True
    assert scores["overall"] == pytest.approx(metric(y, oof["pred"].to_numpy()))
    # it disagrees with every built-in on the same predictions
    for name, builtin in METRICS.items():
        if "binary" in builtin.tasks:
            assert builtin(y, oof["pred"].to_numpy()) != pytest.approx(scores["overall"]), name

    # early stopping: LightGBM evaluated the metric on its inner split's rows (20% of a fold's
    # training rows), smaller than any scored fold
    sizes = [int(line) for line in calls.read_text().split()]
    fold_rows = len(y) // 5
    assert any(size < 0.3 * fold_rows * 4 for size in sizes if size < fold_rows)

    # the ensemble: chosen and scored by the metric
    ensemble = json.loads((comp.runs / "ensemble" / "scores.json").read_text())
    ens_oof = pd.read_parquet(comp.runs / "ensemble" / "oof.parquet")
    assert ensemble["metric"] == "top_precision"
    assert ensemble["overall"] == pytest.approx(metric(train.loc[ens_oof["id"], "survived"].to_numpy(),
                                                       ens_oof["pred"].to_numpy()))

    # the report names the metric and its direction
    assert main(["--root", str(comp.workspace), "report"]) == 0
    page = (comp.runs / "report.html").read_text()
    assert "metric top_precision (higher is better)" in page

    # fingerprinted: editing metrics.py re-runs every stage that scores
    runner = Runner(build_pipeline(), comp, log=lambda m: None)
    assert all(not runner.verdict(s).reasons for s in STAGES if s.name in ("cv", "ensemble"))
    (comp.root / "metrics.py").write_text(_METRICS_PY.replace("0.15 * len(y)", "0.2 * len(y)"))
    runner = Runner(build_pipeline(), comp, log=lambda m: None)
    stale = {s.name for s in STAGES if runner.verdict(s).reasons or runner.verdict(s).stale_units}
    assert {"cv", "ensemble", "submit"} <= stale and "folds" not in stale


@pytest.mark.parametrize("metric, task, submission", [("f1", "binary", "label"), ("pr_auc", "binary", "proba")])
def test_a_new_binary_built_in_runs_titanic(tmp_path, metric, task, submission):
    comp = _workspace(tmp_path, metric=metric, submission=submission)
    Runner(build_pipeline(), comp, log=lambda m: None).run()
    ensemble = json.loads((comp.runs / "ensemble" / "scores.json").read_text())
    assert ensemble["metric"] == metric and 0.5 < ensemble["overall"] <= 1
    sub = pd.read_csv(comp.submissions_dir / "latest.csv")
    if submission == "label":  # f1: labels by the threshold fitted on every OOF row, not 0.5
        ens = pd.read_parquet(comp.runs / "ensemble" / "test.parquet").set_index("id")
        assert set(sub["survived"]) <= {0, 1}
        p = ens.loc[sub["id"], "pred"].to_numpy()
        assert (sub["survived"].to_numpy() == (p > 0.5)).mean() < 1.0
    # predict on test.csv decides (f1's threshold) as the submission did: the same file
    out = tmp_path / "predicted.csv"
    assert main(["predict", "--root", str(comp.workspace), "--test", str(comp.test_path), "--out", str(out)]) == 0
    assert out.read_bytes() == (comp.submissions_dir / "latest.csv").read_bytes()


_OTHER = """
[competition]
task = "{task}"
target = "{target}"
id = "id"
metric = "{metric}"

[explore]
enabled = false

[models.lgbm]
type = "lightgbm"
params = {{ n_estimators = 60, early_stopping_rounds = 0 }}

[models.lgbm_small]
type = "lightgbm"
params = {{ n_estimators = 60, num_leaves = 4, early_stopping_rounds = 0 }}
"""


@pytest.mark.parametrize("data, task, target, metric", [
    ("hpc", "multiclass", "class", "roc_auc_ovr"), ("hpc", "multiclass", "class", "map@3"),
    ("hpc", "multiclass", "class", "qwk"), ("ames_clean", "regression", "Sale_Price", "r2")])
def test_a_new_built_in_runs_a_competition(tmp_path, data, task, target, metric):
    ws = tmp_path / "ws"
    comp_dir = ws / "competition" / data
    comp_dir.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        (comp_dir / f).write_bytes((DATA / data / f).read_bytes())
    (comp_dir / "competition.toml").write_text(_OTHER.format(task=task, target=target, metric=metric))
    comp = Workspace(ws).competition(data)
    Runner(build_pipeline(), comp, log=lambda m: None).run()
    ensemble = json.loads((comp.runs / "ensemble" / "scores.json").read_text())
    assert ensemble["metric"] == metric and 0.3 < ensemble["overall"] <= 1
    assert (comp.submissions_dir / "latest.csv").is_file()


@pytest.mark.parametrize("body, message", [
    ('raise KeyError("survived")', "metrics.py: metric 'broken' failed (KeyError: 'survived'); it gets the true "
                                   "values and the predictions as NumPy arrays and returns one number"),
    ("return p[:2]", "metrics.py: metric 'broken' failed (TypeError: only 0-dimensional arrays can be converted"),
    ('return float("nan")', "models.lgbm: broken of its OOF predictions is nan, so no model or blend can be "
                            "chosen by it; metric 'broken'"),
])
def test_a_competition_metric_that_fails_is_the_users_one_line(tmp_path, capsys, body, message):
    # the user's own code, so exit 2 naming the file, not an internal error asking to report it
    own = ("from core.metrics import Metric\n\n\ndef score(y, p):\n    " + body + "\n\n\n"
           "broken = Metric('broken', score, True, ('binary',), True, 'log_loss')\n")
    comp = _workspace(tmp_path, metric="broken", metrics_py=own)
    assert main(["run", "--stage", "cv", "--models", "lgbm", "--root", str(comp.root.parent.parent)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("error: ") and "internal error" not in err[-1]
