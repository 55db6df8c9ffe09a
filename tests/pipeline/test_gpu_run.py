"""A default-style run on a GPU machine, for real where torch sees a CUDA GPU (skipped elsewhere, CI
included): the nets (`device = "auto"`) and CatBoost (`device = "cuda"`) train their folds on the GPU in
the run's fold workers, the ensemble scores like a CPU run's, and `predict` on the saved fold models
reproduces the submission."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import make_workspace

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow, pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")]

MODELS = '''
[models.mlp]
type = "mlp"
params = { epochs = 10, cycles = 2, snapshots = 2 }

[models.cat]
type = "catboost"
params = { iterations = 200, device = "cuda" }

[models.lgbm]
type = "lightgbm"
params = { n_estimators = 100, num_leaves = 15 }
'''


def test_a_run_trains_the_nets_and_catboost_on_the_gpu_and_predict_reproduces_it(tmp_path):
    pytest.importorskip("catboost")
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    config = (comp / "competition.toml").read_text().split("\n[models.")[0]
    (comp / "competition.toml").write_text(config.replace("[explore]\n", "[explore]\nenabled = false\n", 1) + MODELS)
    assert main(["run", "--root", str(ws)]) == 0
    scores = {m: json.loads((comp / "runs" / "models" / m / "scores.json").read_text())["overall"]
              for m in ("mlp", "cat", "lgbm")}
    assert all(s > 0.8 for s in scores.values()), scores  # titanic's AUC: the GPU members learn as the CPU's
    manifest = json.loads((comp / "runs" / "models" / "mlp" / "fitted" / "manifest.json").read_text())
    assert all(len(r["folds"]) == 5 for r in manifest["repeats"])
    out = tmp_path / "predicted.csv"
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out)]) == 0
    got, want = pd.read_csv(out), pd.read_csv(ws / "submissions" / "titanic" / "latest.csv")
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in want.columns:
        if pd.api.types.is_float_dtype(want[col]):
            np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-5)
        else:
            assert got[col].tolist() == want[col].tolist()
