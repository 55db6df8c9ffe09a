"""Teammates' predictions: export/import bundles and notebook CSVs, and the refusals."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow


def _ws(tmp_path, name: str, *, seed: int = 0):
    ws = make_workspace(tmp_path / name)
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().replace("# seed = 0", f"seed = {seed}")
                   .replace("params = {}", "params = { num_leaves = 7, n_estimators = 200 }"))
    return ws


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A teammate's workspace, trained through cv, and its exported lgbm bundle."""
    tmp = tmp_path_factory.mktemp("mate")
    ws = _ws(tmp, "mate")
    assert main(["run", "--root", str(ws), "--stage", "cv"]) == 0
    assert main(["export", "lgbm", "--root", str(ws)]) == 0
    path = ws / "exports" / "titanic" / "titanic-lgbm.zip"
    assert path.is_file()
    return ws, path


def _comp(ws):
    return ws / "competition" / "titanic"


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")
    return err[-1]


def test_export_then_import_joins_the_ensemble(tmp_path, bundle, capsys):
    mate, path = bundle
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        manifest = json.loads(zf.read("bundle.json"))
    # the predictions, and the fold models with the feature states they read (each library's own format,
    # JSON and .npy: no pickle)
    assert [n for n in names if "/" not in n] == ["bundle.json", "oof.parquet", "params.json", "scores.json",
                                                 "test.parquet"]
    assert {"fitted/manifest.json", "fitted/r0/f0/model.txt", "features/manifest.json"} <= set(names)
    assert {n.split("/")[0] for n in names if "/" in n} == {"fitted", "features"}
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
    assert manifest["models"]["files"] == len(names) - 5
    assert manifest["task"] == "binary" and manifest["metric"] == "roc_auc" and manifest["id"] == "id"
    assert len(manifest["folds_sha256"]) == 64 and manifest["rows"] == {"oof": 1047, "test": 262}
    ws = _ws(tmp_path, "me")
    capsys.readouterr()
    assert main(["import", str(path), "--name", "mate_lgbm", "--root", str(ws)]) == 0
    dest = _comp(ws) / "imports" / "mate_lgbm"
    assert capsys.readouterr().out.strip() == str(dest)
    mine = pd.read_parquet(dest / "oof.parquet")
    theirs = pd.read_parquet(_comp(mate) / "runs" / "models" / "lgbm" / "oof.parquet")
    pd.testing.assert_frame_equal(mine, theirs)
    scores = json.loads((dest / "scores.json").read_text())
    assert scores["overall"] == pytest.approx(
        json.loads((_comp(mate) / "runs" / "models" / "lgbm" / "scores.json").read_text())["overall"])
    params = json.loads((dest / "params.json").read_text())
    assert params["imported"]["kind"] == "bundle" and params["params"]["type"] == "lightgbm"
    assert main(["run", "--root", str(ws), "--stage", "ensemble"]) == 0
    ens = json.loads((_comp(ws) / "runs" / "ensemble" / "scores.json").read_text())
    assert set(ens["members"]) == {"lgbm", "mate_lgbm"}
    # a local model's name is refused; the folder form of a bundle imports too
    assert main(["import", str(path), "--root", str(ws)]) == 2
    assert "is taken by a local model" in _error_line(capsys)
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(path).extractall(folder)
    assert main(["import", str(folder), "--name", "mate2", "--root", str(ws)]) == 0


def test_import_with_other_folds_is_refused_with_one_line(tmp_path, bundle, capsys):
    _, path = bundle
    ws = _ws(tmp_path, "other", seed=7)
    assert main(["import", str(path), "--name", "mate", "--root", str(ws)]) == 2
    line = _error_line(capsys)
    assert "fold assignment differs" in line and "retrain it on our folds.csv" in line
    assert not (_comp(ws) / "imports").exists()


def _rewrite(path, out, name: str, change):
    """A copy of the bundle zip with one file changed by `change(bytes) -> bytes`."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, change(data) if item == name else data)
    return out


def _parquet_change(fn):
    def change(data: bytes) -> bytes:
        buf = io.BytesIO()
        fn(pd.read_parquet(io.BytesIO(data))).to_parquet(buf, index=False)
        return buf.getvalue()
    return change


@pytest.mark.parametrize("name,change,message", [
    ("oof.parquet", _parquet_change(lambda f: f.iloc[5:]), "oof.parquet misses 5 of the 1047 ids"),
    ("test.parquet", _parquet_change(lambda f: pd.concat([f, f.iloc[:1]])), "test.parquet repeats id"),
    ("oof.parquet", _parquet_change(lambda f: f.assign(pred=f["pred"].where(f.index != 3))), "NaN or infinite"),
    ("oof.parquet", _parquet_change(lambda f: f.assign(pred=f["pred"] * 3)), "must lie in [0, 1]"),
    ("oof.parquet", _parquet_change(lambda f: f.rename(columns={"pred": "p"})), "lacks prediction column(s)"),
    ("bundle.json", lambda b: b.replace(b'"binary"', b'"regression"'), "bundle task 'regression' differs"),
    ("fitted/r0/f0/model.txt", lambda b: b.replace(b"Tree=0", b"Tree=1", 1),
     "fitted/r0/f0/model.txt is missing or differs from its manifest's SHA-256; ask for a new export, or import "
     "it as predictions only with --no-models"),
    ("features/00-numeric/state.json", lambda b: b + b" ", "its feature states:"),
])
def test_bad_bundles_are_refused_with_one_line(tmp_path, bundle, capsys, name, change, message):
    _, path = bundle
    bad = _rewrite(path, tmp_path / "bad.zip", name, change)
    ws = _ws(tmp_path, "me")
    assert main(["import", str(bad), "--name", "mate", "--root", str(ws)]) == 2
    assert message in _error_line(capsys)
    assert not (_comp(ws) / "imports").exists()


def test_notebook_csvs_import_when_made_on_our_folds(tmp_path, bundle, capsys):
    mate, _ = bundle
    ws = _ws(tmp_path, "me")
    assert main(["run", "--root", str(ws), "--stage", "folds"]) == 0
    folds = pd.read_csv(_comp(ws) / "runs" / "folds.csv")
    oof = pd.read_parquet(_comp(mate) / "runs" / "models" / "lgbm" / "oof.parquet")
    test = pd.read_parquet(_comp(mate) / "runs" / "models" / "lgbm" / "test.parquet")
    nb_oof = oof.rename(columns={"pred": "survived"}).merge(folds, on="id").sample(frac=1, random_state=0)
    nb_oof.to_csv(tmp_path / "nb_oof.csv", index=False)
    test.rename(columns={"pred": "survived"}).to_csv(tmp_path / "nb_test.csv", index=False)
    args = ["import", "--oof", str(tmp_path / "nb_oof.csv"), "--test", str(tmp_path / "nb_test.csv"),
            "--root", str(ws)]
    assert main(args + ["--name", "notebook"]) == 0
    got = pd.read_parquet(_comp(ws) / "imports" / "notebook" / "oof.parquet")
    assert got["id"].tolist() == folds["id"].tolist()
    np.testing.assert_allclose(got["pred"], oof.set_index("id").loc[folds["id"], "pred"])
    # the same predictions saved as Parquet import alike
    nb_oof.to_parquet(tmp_path / "nb_oof.parquet")
    test.rename(columns={"pred": "survived"}).to_parquet(tmp_path / "nb_test.parquet")
    assert main(["import", "--oof", str(tmp_path / "nb_oof.parquet"), "--test", str(tmp_path / "nb_test.parquet"),
                 "--root", str(ws), "--name", "notebook_parquet"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(_comp(ws) / "imports" / "notebook_parquet" / "oof.parquet"), got)
    shutil.rmtree(_comp(ws) / "imports" / "notebook_parquet")
    # without the fold column, or with another fold assignment: refused, nothing written
    nb_oof.drop(columns="fold").to_csv(tmp_path / "no_fold.csv", index=False)
    assert main(["import", "--oof", str(tmp_path / "no_fold.csv"), "--test", str(tmp_path / "nb_test.csv"),
                 "--name", "nb2", "--root", str(ws)]) == 2
    assert "no 'fold' column" in _error_line(capsys)
    nb_oof.assign(fold=(nb_oof["fold"] + 1) % 5).to_csv(tmp_path / "moved.csv", index=False)
    assert main(["import", "--oof", str(tmp_path / "moved.csv"), "--test", str(tmp_path / "nb_test.csv"),
                 "--name", "nb3", "--root", str(ws)]) == 2
    assert "fold assignment differs from" in _error_line(capsys)
    assert sorted(p.name for p in (_comp(ws) / "imports").iterdir()) == ["notebook"]
    assert main(["import", "--oof", str(tmp_path / "nb_oof.csv"), "--root", str(ws)]) == 2
    assert "pass a bundle PATH, or both --oof" in _error_line(capsys)


def test_notebook_csvs_that_need_a_word(tmp_path, bundle, capsys):
    """An extra column is named as ignored, 0/1 labels get a warning, a ';'-separated file is refused."""
    mate, _ = bundle
    ws = _ws(tmp_path, "me")
    assert main(["run", "--root", str(ws), "--stage", "folds"]) == 0
    folds = pd.read_csv(_comp(ws) / "runs" / "folds.csv")
    oof = pd.read_parquet(_comp(mate) / "runs" / "models" / "lgbm" / "oof.parquet").merge(folds, on="id")
    pd.read_parquet(_comp(mate) / "runs" / "models" / "lgbm" / "test.parquet").to_csv(tmp_path / "t.csv", index=False)
    capsys.readouterr()

    def imported(frame, name, **csv):
        frame.to_csv(tmp_path / f"{name}.csv", index=False, **csv)
        return main(["import", "--oof", str(tmp_path / f"{name}.csv"), "--test", str(tmp_path / "t.csv"),
                     "--name", name, "--root", str(ws)])

    assert imported(oof.assign(rank=1.0), "extra") == 0
    assert "[import] predictions from column 'pred'; other column(s) ignored: rank" in capsys.readouterr().err
    assert imported(oof.assign(pred=(oof["pred"] > 0.5).astype(int)), "labels") == 0
    assert "[import] warning: the OOF predictions of labels are all 0 or 1, labels rather than probabilities" \
        in capsys.readouterr().err
    assert imported(oof, "semi", sep=";") == 2
    assert _error_line(capsys).endswith("semi.csv: the file has 1 column: its fields look separated by ';'; save "
                                        "it comma-separated")
    assert sorted(p.name for p in (_comp(ws) / "imports").iterdir()) == ["extra", "labels"]


def test_export_of_an_unknown_run_suggests_the_known_ones(bundle, capsys):
    mate, _ = bundle
    assert main(["export", "lgbn", "--root", str(mate)]) == 2
    line = _error_line(capsys)
    assert "no run 'lgbn'" in line and "(did you mean 'lgbm'?)" in line


def test_a_teammates_run_with_its_fold_models_scores_new_rows_on_its_own_features(tmp_path, bundle, capsys):
    """An import that carries its fold models and feature states joins `predict` and the offline bundle:
    the teammate's models read the teammate's features (here they keep a column we drop), and the
    ensemble's predictions for test.csv are the run's submission, byte for byte."""
    _, path = bundle
    ws = _ws(tmp_path, "me")
    comp = _comp(ws)
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().replace("# drop = []", 'drop = ["age"]')
                   .replace('# method = "auto"', 'method = "mean"'))
    assert main(["import", str(path), "--name", "mate", "--root", str(ws)]) == 0
    assert (comp / "imports" / "mate" / "fitted" / "manifest.json").is_file()
    assert main(["run", "--root", str(ws)]) == 0
    assert set(json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["members"]) == {"lgbm", "mate"}
    submission = (ws / "submissions" / "titanic" / "latest.csv").read_bytes()
    out = tmp_path / "predicted.csv"
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out)]) == 0
    assert out.read_bytes() == submission
    # the offline bundle carries the teammate's models and states and predicts the same
    folder = tmp_path / "offline"
    assert main(["bundle", "--root", str(ws), "--out", str(folder), "--no-wheels"]) == 0
    assert (folder / "competition" / "titanic" / "imports" / "mate" / "features" / "manifest.json").is_file()
    out = tmp_path / "offline.csv"
    assert main(["predict", "--from", str(folder / "competition" / "titanic"), "--test", str(comp / "test.csv"),
                 "--out", str(out)]) == 0
    assert out.read_bytes() == submission
    # the imported run travels on with its models and the teammate's states
    again = tmp_path / "again.zip"
    assert main(["export", "mate", "--root", str(ws), "--out", str(again)]) == 0
    with zipfile.ZipFile(again) as zf:
        states = zf.read("features/manifest.json")
    assert states == (comp / "imports" / "mate" / "features" / "manifest.json").read_bytes()
    # several runs in one command: a bundle each into a folder, imported in one command (names from the bundles)
    sent = tmp_path / "sent"
    assert main(["export", "mate", "lgbm", "--root", str(ws), "--out", f"{sent}/"]) == 0
    assert sorted(p.name for p in sent.iterdir()) == ["titanic-lgbm.zip", "titanic-mate.zip"]
    third = _ws(tmp_path, "third")
    toml = _comp(third) / "competition.toml"
    toml.write_text(toml.read_text().replace("[models.lgbm]", "[models.own]"))  # a model of its own, not lgbm
    capsys.readouterr()
    assert main(["import", *map(str, sorted(sent.iterdir())), "--root", str(third)]) == 0
    assert capsys.readouterr().out.split() == [str(_comp(third) / "imports" / n) for n in ("lgbm", "mate")]
    assert main(["import", *map(str, sorted(sent.iterdir())), "--name", "x", "--root", str(third)]) == 2
    assert "--name 'x' names one import; give one PATH with it" in _error_line(capsys)
    # two teammates' runs of one name do not replace each other: the second is refused before it is written
    copy = tmp_path / "other" / "titanic-mate.zip"
    copy.parent.mkdir()
    copy.write_bytes((sent / "titanic-mate.zip").read_bytes())
    assert main(["import", str(sent / "titanic-mate.zip"), str(copy), "--root", str(third)]) == 2
    assert f"{copy}: its run 'mate' is also {sent / 'titanic-mate.zip'}'s, imported by this command; import it on " \
           f"its own with --name, e.g. --name mate-2" in _error_line(capsys)
    # predictions only: blended, but new rows cannot be scored with it
    assert main(["import", str(path), "--name", "mate", "--root", str(ws), "--no-models"]) == 0
    assert not (comp / "imports" / "mate" / "fitted").exists()
    assert main(["run", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["predict", "--root", str(ws), "--test", str(comp / "test.csv"), "--out", str(out)]) == 2
    assert "imported teammate run without fold models (predictions only)" in _error_line(capsys)
