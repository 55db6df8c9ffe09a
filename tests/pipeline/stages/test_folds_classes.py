"""A fold whose training rows miss a class: refused for a binary target (its models would predict one
constant), a warning for a multiclass one; checked by the folds stage whatever made the folds."""

from __future__ import annotations

import pandas as pd

from pipeline.cli import main
from tests.conftest import make_workspace


def _fold_file(ws, name: str, target: str, rare) -> None:
    """A fold file putting every row of class `rare` into fold 0, the other rows round-robin."""
    comp = ws / "competition" / name
    train = pd.read_csv(comp / "train.csv")
    folds = pd.Series(range(len(train))) % 5
    folds[(train[target] == rare).to_numpy()] = 0
    pd.DataFrame({"id": train["id"], "fold": folds}).to_csv(comp / "team_folds.csv", index=False)
    text = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(text.replace("[cv]\n", '[cv]\nscheme = "file"\nfile = "team_folds.csv"\n', 1))


def test_a_binary_fold_without_a_class_in_its_training_rows_is_refused(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    _fold_file(ws, "titanic", "survived", 1)
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("error: fold 0's training rows hold no row of survived = '1' (cv.file 'team_folds.csv'), so "
                       "its models never see that class and would predict one constant; make every fold's training "
                       "rows hold both classes (scheme = 'stratified' or 'stratified_group', or fewer folds)")
    assert not (ws / "competition" / "titanic" / "runs" / "folds.csv").exists()


def test_a_multiclass_fold_without_a_class_is_a_warning(tmp_path, capsys):
    ws = make_workspace(tmp_path, "hpc")
    _fold_file(ws, "hpc", "class", "L")
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert ("[folds] warning: fold 0's training rows hold no row of class = 'L' (cv.file 'team_folds.csv'), so "
            "its models never see that class; its validation rows are scored without it") in err
    assert err.count("[folds] warning") == 1


def test_stratified_folds_say_nothing(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    assert "warning" not in capsys.readouterr().err
