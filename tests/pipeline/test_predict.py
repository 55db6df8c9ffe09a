"""`predict --test FILE` on the competition's own test.csv gives the run's submission (latest.csv): every
model type, CV repeats, a stack, pseudo-labels; new rows in chunks; an imported teammate run is
refused; bad input (missing column, wrong dtype, an id twice, a run from another competition, a
tampered model file) ends with exit 2, one line, nothing written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import make_workspace

pytestmark = pytest.mark.slow

COMP = ("competition", "titanic")
FAST_MODELS = '''
[models.lgbm]
type = "lightgbm"
params = { n_estimators = 60, num_leaves = 15 }

[models.linear]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
'''
EVERY_TYPE = FAST_MODELS + '''
[models.forest]
type = "sklearn"
estimator = "sklearn.ensemble.ExtraTreesClassifier"
params = { n_estimators = 30, min_samples_leaf = 3 }

[models.cat]
type = "catboost"
params = { iterations = 40 }

[models.xgb]
type = "xgboost"
params = { n_estimators = 40 }

[models.mlp]
type = "mlp"
params = { epochs = 4, cycles = 2, snapshots = 2 }

[models.net]
type = "net"
params = { epochs = 3, layers = [{ type = "dense", units = 16, activation = "relu" }] }
'''


def _workspace(tmp_path, models: str = FAST_MODELS, settings: dict[str, str] | None = None, name: str = "titanic"):
    """A titanic (or `name`) workspace with `models`; `settings` adds lines under a section: {"cv": "repeats = 2"}."""
    ws = make_workspace(tmp_path, name, repeats=None if "repeats" in str(settings) else 1)
    comp = ws / "competition" / name
    cfg = comp / "competition.toml"
    text = cfg.read_text().split("\n[models.")[0]
    for section, lines in {"explore": "enabled = false", **(settings or {})}.items():
        assert f"[{section}]\n" in text
        text = text.replace(f"[{section}]\n", f"[{section}]\n{lines}\n", 1)
    cfg.write_text(text + models)
    return ws, comp


def _run(ws) -> None:
    assert main(["run", "--root", str(ws)]) == 0


def _same_as_latest(ws, comp, tmp_path, *extra: str) -> pd.DataFrame:
    """predict on test.csv; its CSV equals latest.csv (values within 1e-12; the text too when exact)."""
    out = tmp_path / "predicted.csv"
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out), *extra]) == 0
    latest = ws / "submissions" / comp.name / "latest.csv"
    got, want = pd.read_csv(out), pd.read_csv(latest)
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    for col in want.columns:
        if pd.api.types.is_float_dtype(want[col]):
            np.testing.assert_allclose(got[col], want[col], rtol=0, atol=1e-12)
        else:
            assert got[col].tolist() == want[col].tolist()
    return got


def test_predict_reproduces_the_submission_of_every_model_type_with_repeats_and_a_stack(tmp_path):
    settings = {"ensemble": 'method = "stack"\nstackers = ["linear", "lightgbm"]', "cv": "repeats = 2"}
    ws, comp = _workspace(tmp_path, EVERY_TYPE, settings)
    _run(ws)
    for model in ("lgbm", "linear", "forest", "cat", "xgb", "mlp", "net"):
        manifest = json.loads((comp / "runs" / "models" / model / "fitted" / "manifest.json").read_text())
        assert len(manifest["repeats"]) == 2 and all(len(r["folds"]) == 5 for r in manifest["repeats"])
        assert manifest["bytes"] > 0
    _same_as_latest(ws, comp, tmp_path)
    # in chunks of 100 rows: the same
    _same_as_latest(ws, comp, tmp_path, "--chunk-rows", "100")


def test_predict_reproduces_an_ensemble_whose_unused_member_kept_one_repeat(tmp_path, capsys):
    """A model of random 0/1 guesses gets no weight in the first repeat's ensemble, so with
    cv.repeat_unused = false it trains one CV repeat of two; predict refits the chosen method per repeat
    with its one OOF in each, as the ensemble stage did."""
    noise = FAST_MODELS + '''
[models.noise]
type = "sklearn"
estimator = "sklearn.dummy.DummyClassifier"
params = { strategy = "stratified", random_state = 0 }
'''
    ws, comp = _workspace(tmp_path, noise, {"cv": "repeats = 2\nrepeat_unused = false"})
    _run(ws)
    assert "[cv] noise: no weight in the first repeat's ensemble" in capsys.readouterr().err
    repeats = {model: len(json.loads((comp / "runs" / "models" / model / "fitted" / "manifest.json").read_text())
                          ["repeats"]) for model in ("lgbm", "linear", "noise")}
    assert repeats == {"lgbm": 2, "linear": 2, "noise": 1}
    _same_as_latest(ws, comp, tmp_path)


def test_predict_reproduces_an_ensemble_whose_probabilities_got_a_temperature(tmp_path):
    """Log loss on hpc (4 classes) with naive Bayes, a badly calibrated member, in a plain mean: the ensemble
    keeps a temperature, and predict fits and applies the same one."""
    bayes = FAST_MODELS + '''
[models.bayes]
type = "sklearn"
estimator = "sklearn.naive_bayes.GaussianNB"
'''
    ws, comp = _workspace(tmp_path, bayes, {"ensemble": 'method = "mean"'}, name="hpc")
    _run(ws)
    details = json.loads((comp / "runs" / "ensemble" / "params.json").read_text())["details"]
    overall = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["overall"]
    assert abs(np.log(details["temperature"])) > 0.1 and details["uncalibrated_score"] > overall
    _same_as_latest(ws, comp, tmp_path)


def test_predict_reproduces_a_stack_with_lightgbm_at_level_2(tmp_path):
    """The stack_lightgbm method (one of auto's): predict refits its level-2 LightGBM per fold as the stage did."""
    ws, comp = _workspace(tmp_path, FAST_MODELS, {"ensemble": 'method = "stack_lightgbm"'})
    _run(ws)
    assert json.loads((comp / "runs" / "ensemble" / "params.json").read_text())["method"] == "stack_lightgbm"
    _same_as_latest(ws, comp, tmp_path)


@pytest.mark.parametrize("method", ["bagged_hill_climb", "geometric_hill_climb"])
def test_predict_reproduces_a_pinned_hill_climbing_over_two_repeats(tmp_path, method):
    """A pinned bagged_hill_climb (predict draws the same bootstrap samples of each repeat's rows as the stage) or
    geometric_hill_climb (the same weights, blended in log-odds)."""
    ws, comp = _workspace(tmp_path, FAST_MODELS, {"ensemble": f'method = "{method}"', "cv": "repeats = 2"})
    _run(ws)
    params = json.loads((comp / "runs" / "ensemble" / "params.json").read_text())
    assert params["method"] == method
    _same_as_latest(ws, comp, tmp_path)


def test_predict_reproduces_a_pseudo_labelled_run(tmp_path):
    ws, comp = _workspace(tmp_path, FAST_MODELS, {"pseudo": "enabled = true"})
    _run(ws)
    assert (comp / "runs" / "pseudo").is_dir()
    _same_as_latest(ws, comp, tmp_path)


def test_new_rows_are_scored_with_ids_in_their_order(tmp_path):
    ws, comp = _workspace(tmp_path)
    _run(ws)
    test = pd.read_csv(comp / "test.csv")
    new = test.iloc[[5, 1, 3]].copy()
    new["id"] = [900001, 900002, 900003]
    new["unused"] = "x"  # extra columns are ignored
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    out = tmp_path / "new_pred.csv"
    assert main(["predict", "--root", str(ws), "--test", str(path), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    assert got["id"].tolist() == [900001, 900002, 900003]
    whole = _same_as_latest(ws, comp, tmp_path).set_index("id")
    col = [c for c in got.columns if c != "id"][0]
    np.testing.assert_allclose(got[col], whole.loc[test["id"].iloc[[5, 1, 3]], col], rtol=0, atol=1e-12)


def test_python_code_scores_a_frame_of_rows_as_the_command_does(tmp_path, monkeypatch):
    from core.errors import UserError
    from pipeline.predict import Predictor

    ws, comp = _workspace(tmp_path)
    _run(ws)
    whole = _same_as_latest(ws, comp, tmp_path).set_index("id")
    predictor = Predictor.load(ws, log=lambda _m: None)
    test = pd.read_csv(comp / "test.csv")
    rows = test.iloc[[7, 2, 30, 11]]
    got = predictor.predict(rows)
    assert got["id"].tolist() == rows["id"].tolist() and list(got.columns) == list(whole.reset_index().columns)
    col = [c for c in got.columns if c != "id"][0]
    np.testing.assert_allclose(got[col], whole.loc[rows["id"], col], rtol=0, atol=1e-12)
    # the run's hill climbing is a blend: its weights, fitted at the first call, serve the later ones alike
    assert json.loads((comp / "runs" / "ensemble" / "params.json").read_text())["method"] == "hill_climb"
    assert len(predictor._blends) == 1
    again = predictor.predict(rows.iloc[::-1])
    assert again[col].tolist() == got[col].iloc[::-1].tolist()
    np.testing.assert_allclose(predictor.predict(rows.head(1))[col], got[col].head(1), rtol=0, atol=1e-12)
    # a method fitted again at every call (a stack, a temperature) reads the members' OOF files at the first only
    read_again = []
    monkeypatch.setattr(Predictor, "_oof", lambda self, name, ids: read_again.append(name))
    predictor._blends.clear()
    np.testing.assert_allclose(predictor.predict(rows)[col], got[col], rtol=0, atol=1e-12)
    assert read_again == [] and set(predictor._oofs) == set(predictor.spec["members"])
    monkeypatch.undo()
    # the workspace's competition folder, and a bundle's (what a Kaggle notebook has), load the same way
    np.testing.assert_allclose(Predictor.load(comp, log=lambda _m: None).predict(rows)[col], got[col], rtol=0,
                               atol=1e-12)
    assert main(["bundle", "--root", str(ws), "--out", str(tmp_path / "bundle"), "--no-wheels"]) == 0
    offline = Predictor.load(tmp_path / "bundle" / "competition" / "titanic", log=lambda _m: None)
    np.testing.assert_allclose(offline.predict(rows)[col], got[col], rtol=0, atol=1e-12)
    for bad, message in [(rows.drop(columns="age"), r"rows: missing column\(s\) \['age'\] of test.csv"),
                         (pd.concat([rows, rows.head(1)]), r"rows: id \d+ appears more than once in column 'id'"),
                         (rows.head(0), "rows: no rows to score"),
                         (rows.to_numpy(), "Predictor.predict takes a DataFrame of rows with test.csv's columns")]:
        with pytest.raises(UserError, match=message):
            predictor.predict(bad)
    with pytest.raises(UserError, match="no such folder"):
        Predictor.load(tmp_path / "nowhere")


def test_predict_after_an_edit_not_yet_run_says_the_run_is_stale_and_scores_with_it(tmp_path, capsys):
    ws, comp = _workspace(tmp_path)
    _run(ws)
    capsys.readouterr()
    _same_as_latest(ws, comp, tmp_path)
    assert "stale" not in capsys.readouterr().err
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().replace("num_leaves = 15", "num_leaves = 7"))
    _same_as_latest(ws, comp, tmp_path)  # the run's models, as they were
    err = capsys.readouterr().err
    assert "note: the latest run is stale (cv: changed: lgbm; ensemble: changed: config)" in err
    assert "`python -m pipeline run` first to use the change" in err


def test_new_rows_in_parquet_are_scored_as_the_same_rows_in_csv(tmp_path, capsys):
    from pipeline.predict import _rows_estimate

    ws, comp = _workspace(tmp_path)
    _run(ws)
    test = pd.read_csv(comp / "test.csv")
    test.to_parquet(tmp_path / "new.parquet")
    assert _rows_estimate(tmp_path / "new.parquet") == len(test)
    out = tmp_path / "from_parquet.csv"
    assert main(["predict", "--root", str(ws), "--test", str(tmp_path / "new.parquet"), "--out", str(out),
                 "--chunk-rows", "100"]) == 0
    assert out.read_bytes() == (ws / "submissions" / "titanic" / "latest.csv").read_bytes()
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    capsys.readouterr()
    assert main(["predict", "--root", str(ws), "--test", str(tmp_path / "bad.parquet"), "--out", str(out)]) == 2
    assert "bad.parquet: not a readable Parquet file" in capsys.readouterr().err


def test_new_rows_the_runs_integer_columns_cannot_hold_are_scored(tmp_path):
    # a missing count, a fraction and an infinite age where the run had none: scored as the models read a
    # number or a missing value, not a stopped job; the untouched rows score as the run did
    ws, comp = _workspace(tmp_path)
    _run(ws)
    test = pd.read_csv(comp / "test.csv")
    new = test.iloc[[5, 1, 3, 7]].copy()
    new["id"] = [900001, 900002, 900003, 900004]
    new[["sibsp", "parch"]] = new[["sibsp", "parch"]].astype("float64")
    new.iloc[0, new.columns.get_loc("sibsp")] = np.nan
    new.iloc[1, new.columns.get_loc("parch")] = 1.5
    new.iloc[2, new.columns.get_loc("age")] = np.inf
    path, out = tmp_path / "new.csv", tmp_path / "new_pred.csv"
    new.to_csv(path, index=False)
    assert main(["predict", "--root", str(ws), "--test", str(path), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    col = [c for c in got.columns if c != "id"][0]
    assert got["id"].tolist() == new["id"].tolist() and np.isfinite(got[col]).all()
    whole = _same_as_latest(ws, comp, tmp_path).set_index("id")
    np.testing.assert_allclose(got[col].iloc[3], whole.loc[test["id"].iloc[7], col], rtol=0, atol=1e-12)


def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()  # what ran before
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_bad_input_to_predict_is_one_line_and_writes_nothing(tmp_path, capsys):
    ws, comp = _workspace(tmp_path)
    _run(ws)
    test = pd.read_csv(comp / "test.csv")
    out = tmp_path / "out.csv"
    base = ["predict", "--root", str(ws), "--out", str(out), "--test"]
    cases = {
        "missing": (test.drop(columns=["age"]), "missing column"),
        "dtype": (test.assign(age=test["age"].astype("str").where(test.index != 3, "old")), "numeric in test.csv"),
        "twice": (pd.concat([test, test.iloc[[0]]]), "more than once"),
        "header_only": (test.iloc[:0], "a header and no rows; give at least one row to score"),
    }
    for name, (frame, said) in cases.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        assert said in _one_line_error(capsys, [*base, str(path)])
        assert not out.exists()
    # a tampered model file
    fold = next((comp / "runs" / "models" / "lgbm" / "fitted").rglob("r0/f0/*"))
    original = fold.read_bytes()
    fold.write_bytes(original[:-10] + b"0123456789")
    assert "SHA-256" in _one_line_error(capsys, [*base, str(comp / "test.csv")])
    assert not out.exists()
    fold.write_bytes(original)
    # a run folder from another competition (trained on other features)
    other_ws, other = _workspace(tmp_path / "other", name="breast_cancer")
    _run(other_ws)
    shutil.rmtree(comp / "runs" / "models" / "lgbm")
    shutil.copytree(other / "runs" / "models" / "lgbm", comp / "runs" / "models" / "lgbm")
    assert "other features" in _one_line_error(capsys, [*base, str(comp / "test.csv")])
    assert not out.exists()


def test_an_imported_teammate_run_predicts_with_its_fold_models_and_is_refused_without_them(tmp_path, capsys):
    """A scikit-learn member (skops files) exported with its fold models scores new rows in the importer's
    workspace as it did in the exporter's; imported as predictions only, predict refuses it in one line."""
    ws, comp = _workspace(tmp_path)
    _run(ws)
    zip_path = tmp_path / "linear.zip"
    assert main(["export", "linear", "--root", str(ws), "--out", str(zip_path)]) == 0
    shutil.rmtree(comp / "runs" / "models" / "linear")
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().split("\n[models.linear]")[0])
    assert main(["import", str(zip_path), "--root", str(ws), "--name", "bob_linear"]) == 0
    _run(ws)
    out = tmp_path / "o.csv"
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out)]) == 0
    assert out.read_bytes() == (ws / "submissions" / comp.name / "latest.csv").read_bytes()
    assert main(["import", str(zip_path), "--root", str(ws), "--name", "bob_linear", "--no-models"]) == 0
    _run(ws)
    line = _one_line_error(capsys, ["predict", "--root", str(ws), "--test", str(comp / "test.csv"),
                                    "--out", str(tmp_path / "o2.csv")])
    assert "imported teammate run without fold models" in line and "bob_linear" in line


def test_runtime_save_models_false_keeps_no_models_and_predict_says_so(tmp_path, capsys):
    ws, comp = _workspace(tmp_path, settings={"runtime": "save_models = false"})
    _run(ws)
    assert not list((comp / "runs" / "models").rglob("fitted"))
    line = _one_line_error(capsys, ["predict", "--root", str(ws), "--test", str(comp / "test.csv"),
                                    "--out", str(tmp_path / "o.csv")])
    assert "save_models = true" in line and not (tmp_path / "o.csv").exists()


def test_a_plug_in_model_that_cannot_be_saved_says_so_and_the_run_goes_on(tmp_path, capsys):
    from tests.models.test_plugins import PLUGIN

    ws, comp = _workspace(tmp_path, FAST_MODELS + '\n[models.mine]\ntype = "teammate"\npreprocess = "scale"\n')
    (comp / "models").mkdir()
    (comp / "models" / "teammate.py").write_text(PLUGIN)
    capsys.readouterr()
    _run(ws)
    said = [line for line in capsys.readouterr().err.splitlines() if "fold models not saved" in line]
    assert len(said) == 1 and said[0].startswith("[cv] mine: ")
    assert (ws / "submissions" / "titanic" / "latest.csv").is_file()
    line = _one_line_error(capsys, ["predict", "--root", str(ws), "--test", str(comp / "test.csv"),
                                    "--out", str(tmp_path / "o.csv")])
    assert "'mine' cannot score new rows" in line


@pytest.mark.parametrize("text,rows", [
    ("id,x\n1,a\n2,b\n", 2),
    ("id,x\r\n1,a\r\n2,b", 2),  # Windows line breaks, no break after the last row
    ("id,x\n", 0),
    ('id,x\n1,"two\nlines"\n2,b\n', 3),  # a quoted line break counts: an estimate, one too many
])
def test_the_progress_total_of_predict_is_the_csv_rows_counted_without_parsing(tmp_path, text, rows):
    from pipeline.predict import _rows_estimate

    path = tmp_path / "new.csv"
    path.write_bytes(text.encode())
    assert _rows_estimate(path) == rows
    assert _rows_estimate(tmp_path / "new.csv.gz") is None  # compressed: not read twice


def test_the_progress_total_of_predict_matches_pandas_on_a_real_test_csv():
    from pipeline.predict import _rows_estimate
    from tests.conftest import DATA

    path = DATA / "titanic" / "test.csv"
    assert _rows_estimate(path) == len(pd.read_csv(path))
