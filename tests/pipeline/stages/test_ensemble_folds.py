"""A run records the folds it was made on: after the folds change, the ensemble leaves out the runs (and
teammates' imports) made on the old ones, and `export` refuses to vouch for them."""

from __future__ import annotations

import json

import pandas as pd

from pipeline.cli import main
from tests.conftest import make_workspace

LINEAR = '''
[models.linear]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 500 }
'''


def test_runs_made_on_other_folds_are_left_out_and_not_exported(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    config = comp / "competition.toml"
    config.write_text(config.read_text().replace("[explore]\n", "[explore]\nenabled = false\n", 1) + LINEAR)
    assert main(["run", "--root", str(ws)]) == 0
    folds = pd.read_csv(comp / "runs" / "folds.csv")
    made_on = json.loads((comp / "runs" / "models" / "lgbm" / "scores.json").read_text())["folds_sha256"]
    assert len(made_on) == 64
    oof = pd.read_parquet(comp / "runs" / "models" / "linear" / "oof.parquet").merge(folds, on="id")
    oof.to_csv(tmp_path / "oof.csv", index=False)
    pd.read_parquet(comp / "runs" / "models" / "linear" / "test.parquet").to_csv(tmp_path / "test.csv", index=False)
    assert main(["import", "--oof", str(tmp_path / "oof.csv"), "--test", str(tmp_path / "test.csv"), "--name", "mate",
                 "--root", str(ws)]) == 0
    assert json.loads((comp / "imports" / "mate" / "scores.json").read_text())["folds_sha256"] == made_on
    capsys.readouterr()

    config.write_text(config.read_text().replace("[cv]\n", "[cv]\nseed = 7\n", 1))  # other folds
    assert main(["run", "--models", "lgbm", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert ("[ensemble] left out linear, mate: made on other folds than folds.csv holds now (a stack or a weight "
            "fitted on the other folds would see rows their models trained on); retrain with --models linear; "
            "re-import the teammates' runs made on the current folds") in err
    ensemble = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())
    assert list(ensemble["members"]) == ["lgbm"] and ensemble["folds_sha256"] != made_on
    assert main(["export", "linear", "--root", str(ws)]) == 2
    assert "run 'linear' was made on other folds than folds.csv holds now; retrain it" in capsys.readouterr().err
    assert main(["export", "lgbm", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["diff", "lgbm", "linear", "--root", str(ws)]) == 0
    assert "note: A and B were made on different folds: their fold scores and the paired t-test compare different " \
        "rows" in capsys.readouterr().out
    assert main(["run", "--models", "linear", "--root", str(ws)]) == 0  # retrained: it joins again
    assert sorted(json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["members"]) == ["lgbm", "linear"]
