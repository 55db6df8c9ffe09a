"""Repeated k-fold (cv.repeats): several fold assignments, each model trained on each, OOF averaged;
the out-of-fold encoders and the ensemble work per repeat, so no OOF row ever comes from a model (or
an encoding) that saw it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

# A model that remembers its training rows by a unique key: it predicts 1 for a row it trained on and
# 0 for any other, so an OOF prediction above 0 is a row its model saw.
MEMORISER = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    def __init__(self, fits_log=""):
        self.fits_log = fits_log

    def fit(self, X, y):
        if self.fits_log:  # one line per fit: the time-budget test's clock counts them
            with open(self.fits_log, "a") as fh:
                fh.write("fit\\n")
        self.seen_ = set(np.asarray(X["row_key"]).tolist())
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        p = np.isin(np.asarray(X["row_key"]), list(self.seen_)).astype(float)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]
'''

CONFIG_TAIL = '''
[models.seen]
type = "memoriser"
preprocess = "none"

[models.lgbm]
type = "lightgbm"
params = { n_estimators = 40, num_leaves = 7 }
'''


def _workspace(tmp_path, repeats: int = 3, repeat_unused: bool = True, share: float | None = 1.0):
    """Titanic with the memoriser and a small LightGBM. The memoriser's OOF predictions are all 0, so the
    first repeat's ensemble gives it no weight: with `repeat_unused` False (cv.repeat_unused) it keeps one
    repeat, and so it does when its estimated cost is at least `share` of the models' (cv.repeat_unused_share;
    its type's estimate is a third of the two models'; None: the default share)."""
    ws = make_workspace(tmp_path, repeats=repeats)
    comp = ws / "competition" / "titanic"
    rng = np.random.default_rng(0)
    keys = rng.permutation(200_000)[:2000]
    for name, start in (("train.csv", 0), ("test.csv", 1500)):
        frame = pd.read_csv(comp / name)
        frame["row_key"] = keys[start:start + len(frame)]
        frame.to_csv(comp / name, index=False)
    text = (comp / "competition.toml").read_text()
    text = text[: text.index("[models.")]
    if not repeat_unused:
        text = text.replace("[cv]\n", "[cv]\nrepeat_unused = false\n", 1)
    if share is not None:
        text = text.replace("[cv]\n", f"[cv]\nrepeat_unused_share = {share}\n", 1)
    text = text.replace("# blocks = []", 'blocks = [{ block = "numeric" }, { block = "target_encoding", '
                                         'columns = ["pclass", "sex"] }]')
    (comp / "competition.toml").write_text(text + CONFIG_TAIL)
    (comp / "models").mkdir()
    (comp / "models" / "memoriser.py").write_text(MEMORISER)
    return ws, comp


def test_repeats_are_other_fold_assignments_and_no_oof_row_was_seen_by_its_model(tmp_path, capsys):
    ws, comp = _workspace(tmp_path)
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    folds = pd.read_csv(comp / "runs" / "folds.csv")
    assert list(folds.columns) == ["id", "fold", "fold_r1", "fold_r2"]
    for a, b in (("fold", "fold_r1"), ("fold_r1", "fold_r2")):
        assert (folds[a] != folds[b]).mean() > 0.5  # another assignment, not a relabelling of the same
        assert sorted(folds[b].value_counts().tolist())[0] > 150  # five about-equal folds
    # supervised feature blocks encode each repeat's rows out of that repeat's folds
    features = comp / "runs" / "features"
    te = [c for c in pd.read_parquet(features / "train.parquet").columns if "pclass" in c and c != "pclass"]
    assert te
    by_repeat = [pd.read_parquet(features / name)[te] for name in
                 ("train.parquet", "train.repeat1.parquet", "train.repeat2.parquet")]
    assert not by_repeat[0].equals(by_repeat[1]) and not by_repeat[1].equals(by_repeat[2])
    run = comp / "runs" / "models" / "seen"
    repeats = pd.read_parquet(run / "oof_repeats.parquet")
    assert sorted(repeats["repeat"].unique()) == [0, 1, 2] and len(repeats) == 3 * len(folds)
    assert (repeats["pred"] == 0).all()  # every repeat: every row predicted by a model that never saw it
    assert (pd.read_parquet(run / "oof.parquet")["pred"] == 0).all()
    lgbm = comp / "runs" / "models" / "lgbm"
    oof = pd.read_parquet(lgbm / "oof.parquet")
    per_repeat = pd.read_parquet(lgbm / "oof_repeats.parquet")
    np.testing.assert_allclose(oof["pred"], per_repeat.groupby("id", sort=False)["pred"].mean()[oof["id"]])
    assert len(json.loads((lgbm / "scores.json").read_text())["folds"]) == 15
    assert "3 CV repeats: methods fitted per repeat, then averaged\n" in err
    ens = json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())
    assert len(ens["folds"]) == 15
    assert list((ws / "submissions" / "titanic").glob("*.csv"))
    # a teammate's bundle carries the first repeat's OOF (folds.csv's `fold` column), not the average
    assert main(["export", "lgbm", "--root", str(ws)]) == 0
    import zipfile

    with zipfile.ZipFile(ws / "exports" / "titanic" / "titanic-lgbm.zip") as zf:
        exported = pd.read_parquet(__import__("io").BytesIO(zf.read("oof.parquet")))
    first = per_repeat[per_repeat["repeat"] == 0]
    np.testing.assert_array_equal(exported["pred"].to_numpy(), first["pred"].to_numpy())


def test_a_model_the_first_repeats_ensemble_leaves_out_keeps_one_repeat_which_every_repeat_reuses(tmp_path, capsys):
    ws, comp = _workspace(tmp_path, repeat_unused=False)
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert "[cv] seen: no weight in the first repeat's ensemble" in err
    assert "seen: CV repeat 2 of 3" not in err and "lgbm: CV repeat 3 of 3" in err
    runs = comp / "runs" / "models"
    assert not (runs / "seen" / "oof_repeats.parquet").exists()
    assert len(json.loads((runs / "seen" / "scores.json").read_text())["folds"]) == 5
    assert len(json.loads((runs / "lgbm" / "scores.json").read_text())["folds"]) == 15
    # the ensemble still fits every method on each of the three repeats, the memoriser's one OOF in each
    assert "3 CV repeats: methods fitted per repeat, then averaged (seen: fewer repeats, their own OOF in each)" in err
    assert len(json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["folds"]) == 15
    # its one repeat is its finished run: a second run trains nothing
    assert main(["run", "--root", str(ws)]) == 0
    assert "[cv] fresh, skipped" in capsys.readouterr().err


@pytest.mark.parametrize("share,one_repeat", [(None, True), (0.5, False)])
def test_a_left_out_model_keeps_one_repeat_when_its_estimated_cost_reaches_the_share(tmp_path, capsys, share,
                                                                                     one_repeat):
    """The default share (0.3) cuts the memoriser, a third of the estimated training; 0.5 keeps its
    repeats. The estimate is the type's cost on this table, so the choice does not follow the clock."""
    ws, comp = _workspace(tmp_path, repeats=2, share=share)
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert ("[cv] seen: no weight in the first repeat's ensemble" in err) is one_repeat
    if one_repeat:
        assert "at least 30% of the models' estimated training: cv.repeat_unused_share" in err
    folds = len(json.loads((comp / "runs" / "models" / "seen" / "scores.json").read_text())["folds"])
    assert folds == (5 if one_repeat else 10)
    assert len(json.loads((comp / "runs" / "models" / "lgbm" / "scores.json").read_text())["folds"]) == 10


def test_a_time_budget_gives_every_model_its_first_repeat_before_any_second(tmp_path, capsys, monkeypatch):
    """The budget's clock counts work, not wall time: each of the memoriser's fits costs 0.3 s of it
    (1.5 s a repeat of 5 folds) and LightGBM's nothing, so what fits in 12 s is the same on any machine."""
    import pipeline.planner

    ws, comp = _workspace(tmp_path, repeats=20)
    fits = tmp_path / "fits.log"
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().replace('type = "memoriser"', f'type = "memoriser"\nparams = {{ fits_log = "{fits}" }}'))
    monkeypatch.setattr(pipeline.planner, "clock",
                        lambda: 0.3 * (len(fits.read_text().splitlines()) if fits.exists() else 0))
    assert main(["run", "--root", str(ws), "--time-budget", "12"]) == 0
    err = capsys.readouterr().err
    assert "seen: CV repeat 2 of 20" in err and "lgbm: CV repeat 20 of 20" in err
    # 10.8 s of the 12 (10 % kept for the later stages) buy 7 repeats of 1.5 s; the 8th does not fit
    assert "seen: CV repeats 8..20 of 20 skipped" in err
    repeats = {name: pd.read_parquet(comp / "runs" / "models" / name / "oof_repeats.parquet")["repeat"].nunique()
               for name in ("seen", "lgbm")}  # both trained, each with the repeats that fit, averaged
    assert repeats == {"seen": 7, "lgbm": 20}
    assert list((ws / "submissions" / "titanic").glob("*.csv"))


def test_repeats_need_a_shuffled_scheme(tmp_path, capsys):
    ws, comp = _workspace(tmp_path)
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[cv]\n", '[cv]\nscheme = "time"\ntime_column = "age"\n'))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 2
    assert "cv.repeats = 3 needs a shuffled scheme" in capsys.readouterr().err


def test_automatic_repeats_are_two_on_a_small_table_and_one_for_a_fold_file(tmp_path, capsys):
    """cv.repeats = 0 (the default): titanic (891 rows) gets a second fold assignment; a fold file keeps its own."""
    ws = make_workspace(tmp_path, repeats=0)
    comp = ws / "competition" / "titanic"
    cfg = comp / "competition.toml"
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    assert "2 repeats (automatic), seeds 0..1" in capsys.readouterr().err
    folds = pd.read_csv(comp / "runs" / "folds.csv")
    assert list(folds.columns) == ["id", "fold", "fold_r1"] and (folds["fold"] != folds["fold_r1"]).mean() > 0.5
    folds[["id", "fold"]].to_csv(comp / "made_elsewhere.csv", index=False)
    cfg.write_text(cfg.read_text().replace("[cv]\n", '[cv]\nscheme = "file"\nfile = "made_elsewhere.csv"\n'))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    assert list(pd.read_csv(comp / "runs" / "folds.csv").columns) == ["id", "fold"]


def test_a_models_own_repeats_cap_its_cv_repeats_and_the_ensemble_reuses_their_average(tmp_path, capsys):
    """models.NAME.repeats: a costly member (a net) can train fewer CV repeats than cv.repeats; its run is
    finished with them, and the ensemble still fits each method on every repeat, with its one OOF."""
    ws, comp = _workspace(tmp_path, repeats=3)
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace('type = "lightgbm"\n', 'type = "lightgbm"\nrepeats = 1\n'))
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert "[cv] lgbm: 1 of 3 CV repeats (models.NAME.repeats)" in err
    assert "lgbm: CV repeat 2 of 3" not in err and "seen: CV repeat 3 of 3" in err
    assert err.count("[cv] lgbm: roc_auc") == 1  # its one repeat's score, said once (it was said again at the end)
    member = next(line for line in err.splitlines() if line.startswith("[ensemble]   lgbm "))
    assert member.endswith("(1 of 3 repeats; an average of more scores better)")
    assert not next(line for line in err.splitlines() if line.startswith("[ensemble]   seen ")).endswith(")")
    # the cv stage's table (and the leaderboard's) count each run's folds: 5 against 3 repeats' 15
    header = next(line for line in err.splitlines() if line.startswith("[cv] model "))
    column = header.index("folds ")
    table = err.splitlines()[err.splitlines().index(header) + 2:][:2]  # the two models' rows, best first
    assert sorted((line.split()[1], line[column:].split()[0]) for line in table) == [("lgbm", "5"), ("seen", "15")]
    capsys.readouterr()
    assert main(["leaderboard", "--root", str(ws)]) == 0
    board = capsys.readouterr().out.splitlines()
    column = next(line for line in board if line.startswith("#")).index("folds ")
    assert sorted(line[column:].split()[0] for line in board if line[:1].isdigit()) == ["15", "5"]
    runs = comp / "runs" / "models"
    assert len(json.loads((runs / "lgbm" / "scores.json").read_text())["folds"]) == 5
    assert not (runs / "lgbm" / "oof_repeats.parquet").exists()
    assert len(json.loads((runs / "seen" / "scores.json").read_text())["folds"]) == 15
    assert len(json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["folds"]) == 15
    assert main(["run", "--root", str(ws)]) == 0  # its one repeat is its finished run
    assert "[cv] fresh, skipped" in capsys.readouterr().err
    # two repeats of three: the cap changed, so that model (only) trains again
    toml.write_text(toml.read_text().replace("repeats = 1\n", "repeats = 2\n"))
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert "[cv] lgbm: 2 of 3 CV repeats" in err and "seen: " not in err.split("[cv] running")[1].split("[ensemble]")[0]
    assert len(json.loads((runs / "lgbm" / "scores.json").read_text())["folds"]) == 10


def test_a_models_repeats_must_be_a_whole_number_in_range(tmp_path, capsys):
    ws, comp = _workspace(tmp_path, repeats=2)
    toml = comp / "competition.toml"
    toml.write_text(toml.read_text().replace('type = "lightgbm"\n', 'type = "lightgbm"\nrepeats = -1\n'))
    assert main(["run", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models.lgbm.repeats" in err[0]


def test_a_member_cut_short_by_its_round_cap_is_one_line_over_every_repeat(tmp_path, capsys):
    ws = make_workspace(tmp_path, repeats=2)
    config = ws / "competition" / "titanic" / "competition.toml"
    text = config.read_text()
    start = text.index("params = {learning_rate = 0.04")
    end = text.index("\n", start)
    # a learning rate so small that the inner split's loss still falls at round 10 in every fold
    config.write_text(text[:start] + "params = {learning_rate = 0.002, n_estimators = 10, early_stopping_rounds = 5}"
                      + text[end:])
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert out.count("[cv] note: lgbm:") == 1
    assert ("[cv] note: lgbm: still improving on its inner split when it reached n_estimators = 10 in 10 of 10 "
            "folds; alone it may score better with a higher cap") in out
    params = json.loads((ws / "competition" / "titanic" / "runs" / "models" / "lgbm" / "params.json").read_text())
    assert (params["capped_folds"], params["capped_at"]) == (10, "n_estimators = 10")
