"""End to end through the CLI: a run on a supplied fold file, a stratified-group run, and group k-fold
on a column with missing values (titanic's age)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

COMP = ("competition", "titanic")
FAST = '[models.lgbm]\ntype = "lightgbm"\nparams = { n_estimators = 40 }\n'


def _workspace(tmp_path, cv: str):
    ws = make_workspace(tmp_path, repeats=None if "repeats" in cv else 1)  # cv sets its own repeats
    cfg = ws.joinpath(*COMP, "competition.toml")
    text = cfg.read_text().split("\n[models.")[0].replace("[cv]\n", f"[cv]\n{cv}\n", 1)
    cfg.write_text(text + "\n[explore]\nenabled = false\n" + FAST if "[explore]" not in text else text + "\n" + FAST)
    return ws


def test_a_run_on_a_supplied_fold_file_uses_its_folds(tmp_path):
    ws = _workspace(tmp_path, 'scheme = "file"\nfile = "folds_team.csv"\nn_splits = 4\nrepeats = 2')
    comp = ws.joinpath(*COMP)
    train = pd.read_csv(comp / "train.csv")
    rng = np.random.default_rng(7)
    mine = pd.concat([pd.DataFrame({"id": train["id"], "fold": rng.permutation(len(train)) % 4, "repeat": r})
                      for r in range(2)]).sample(frac=1, random_state=0)
    mine.to_csv(comp / "folds_team.csv", index=False)
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    saved = pd.read_csv(comp / "runs" / "folds.csv").set_index("id")
    for r, column in ((0, "fold"), (1, "fold_r1")):
        want = mine[mine["repeat"] == r].set_index("id")["fold"]
        assert (saved.loc[want.index, column] == want).all()
    scores = json.loads((comp / "runs" / "models" / "lgbm" / "scores.json").read_text())
    assert len(scores["folds"]) == 8 and scores["overall"] > 0.75  # 4 folds x 2 repeats
    # a changed fold file re-runs the folds stage
    mine.loc[mine["repeat"] == 0, "fold"] = (mine.loc[mine["repeat"] == 0, "fold"] + 1) % 4
    mine.to_csv(comp / "folds_team.csv", index=False)
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    again = pd.read_csv(comp / "runs" / "folds.csv").set_index("id")
    assert not (again["fold"] == saved["fold"]).all()


@pytest.mark.parametrize("scheme", ["group", "stratified_group"])
def test_group_schemes_on_a_column_with_missing_values(tmp_path, scheme):
    ws = _workspace(tmp_path, f'scheme = "{scheme}"\ngroup_column = "age"')
    comp = ws.joinpath(*COMP)
    train = pd.read_csv(comp / "train.csv")
    assert train["age"].isna().sum() > 100
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0
    folds = pd.read_csv(comp / "runs" / "folds.csv").set_index("id")["fold"].loc[train["id"]].to_numpy()
    assert len(set(folds[train["age"].isna().to_numpy()])) == 1  # the rows without an age: one group
    for _, rows in train.groupby("age"):
        assert len(set(folds[rows.index])) == 1
    shares = [train["survived"][folds == k].mean() for k in range(5)]
    if scheme == "stratified_group":
        assert np.ptp(shares) < 0.15


def test_group_folds_on_groups_the_test_shares_with_train_get_a_warning(tmp_path, capsys):
    """Group folds score every group unseen; titanic's test rows mostly have an age seen in train (a random
    split), so CV would measure a harder task than the test's: the folds stage says so. A test of new groups
    (ages shifted past train's) gets no warning."""
    ws = _workspace(tmp_path, 'scheme = "group"\ngroup_column = "age"')
    comp = ws.joinpath(*COMP)
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    train, test = pd.read_csv(comp / "train.csv"), pd.read_csv(comp / "test.csv")
    seen = test["age"].isin(set(train["age"].dropna())).mean()
    assert seen > 0.5
    assert (f"[folds] warning: {seen:.0%} of the test rows have a age seen in train, but group folds score every "
            f"group unseen") in err
    test["age"] = test["age"] + 1000  # every test row of a new group
    test.to_csv(comp / "test.csv", index=False)
    assert main(["run", "--stage", "folds", "--root", str(ws), "--force"]) == 0
    assert "group folds score every group unseen" not in capsys.readouterr().err
