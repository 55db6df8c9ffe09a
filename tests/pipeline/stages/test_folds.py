"""Forward chaining in time (cv.scheme = "forward"): every fold trains only on the past, less a gap;
the earliest block is never validated and is left out of OOF files, the ensemble and every score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from core.folds import fold_ids, train_mask
from pipeline.cli import main
from tests.conftest import make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

# A teammate's regressor that predicts the latest month it was trained on: its OOF prediction for a
# row is therefore the newest training month of the model that scored that row.
LATEST_MONTH = '''
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


def _month(X):
    return np.asarray(X["Year_Sold"], dtype=float) * 12 + np.asarray(X["Mo_Sold"], dtype=float)


class Model(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.latest_ = float(_month(X).max())
        return self

    def predict(self, X):
        return np.full(len(X), self.latest_)
'''

# A teammate's regressor that predicts one value for every row (the ensemble and `diff` must cope with it).
CONSTANT = '''
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Model(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.value_ = 100_000.0  # the same in every fold
        return self

    def predict(self, X):
        return np.full(len(X), self.value_)
'''

MODELS = '''
[models.constant]
type = "constant"
preprocess = "none"
clip = false

[models.latest]
type = "latest"
preprocess = "none"
clip = false

[models.lgbm]
type = "lightgbm"
params = { n_estimators = 60, num_leaves = 15 }
'''


def _frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    when = pd.Series(rng.choice(days, size=n))
    # day-first text: sorted as strings, "10/01" would come before "02/01"
    return pd.DataFrame({"y": rng.normal(size=n), "date": when.dt.strftime("%d/%m/%Y")}), \
        when.rank(method="dense").to_numpy()


@pytest.mark.parametrize("gap", [0, 3])
def test_every_fold_trains_only_on_earlier_times_less_the_gap(gap):
    from pipeline.schemes import assign_folds, train_from_of

    frame, rank = _frame()
    folds = assign_folds(frame, target="y", task="regression", scheme="forward", n_splits=4, seed=0,
                         time_column="date")
    train_from = train_from_of(frame, folds, scheme="forward", time_column="date", gap=gap)
    assert fold_ids(folds) == [0, 1, 2, 3]
    assert (folds == -1).sum() > 60  # the earliest of five blocks: never validated
    assert (pd.Series(folds).groupby(rank).nunique() == 1).all()  # one time never spans two folds
    for k in fold_ids(folds):
        start = rank[folds == k].min()
        fit = train_mask(folds, k, train_from)
        assert fit.any()
        assert rank[fit].max() == start - gap - 1  # the past up to the gap, all of it
        assert not fit[folds == k].any()


def test_a_gap_that_leaves_the_first_fold_nothing_is_refused():
    from pipeline.schemes import assign_folds, train_from_of

    frame, _ = _frame()
    folds = assign_folds(frame, target="y", task="regression", scheme="forward", n_splits=4, seed=0,
                         time_column="date")
    with pytest.raises(UserError, match="cv.gap = 20 leaves the first fold no training rows"):
        train_from_of(frame, folds, scheme="forward", time_column="date", gap=20)


def test_target_encoding_under_forward_chaining_never_reads_a_later_row():
    from features._base import BlockContext, _out_of_fold

    frame, rank = _frame()
    from pipeline.schemes import assign_folds, train_from_of

    folds = assign_folds(frame, target="y", task="regression", scheme="forward", n_splits=4, seed=0,
                         time_column="date")
    ctx = BlockContext(task=None, folds=folds, train_from=train_from_of(frame, folds, scheme="forward",
                                                                        time_column="date", gap=2))
    covered = np.zeros(len(folds), dtype=int)
    for rows, fit_rows in _out_of_fold(ctx):
        covered[rows] += 1
        assert not np.isin(rows, fit_rows).any()
        if (folds[rows] >= 0).all():  # a validated fold: fitted on its own fold's training rows, the past
            assert rank[fit_rows].max() < rank[rows].min() - 2
        else:  # the earliest block: fitted among its own rows only
            assert (folds[fit_rows] == -1).all()
    assert (covered == 1).all()


def _ames_forward(tmp_path, extra: str = "") -> tuple:
    ws = make_workspace(tmp_path, "ames_clean")
    comp = ws / "competition" / "ames_clean"
    for name in ("train.csv", "test.csv"):
        frame = pd.read_csv(comp / name)
        frame["sold"] = [f"{y}-{m:02d}-01" for y, m in zip(frame["Year_Sold"], frame["Mo_Sold"])]
        frame.to_csv(comp / name, index=False)
    text = (comp / "competition.toml").read_text()
    text = text[: text.index("[models.")].replace('metric = "rmsle"', 'metric = "rmse"')
    text = text.replace("[cv]\n", f'[cv]\nscheme = "forward"\nn_splits = 4\ntime_column = "sold"\ngap = 2\n{extra}')
    (comp / "competition.toml").write_text(text + MODELS)
    (comp / "models").mkdir()
    (comp / "models" / "latest.py").write_text(LATEST_MONTH)
    (comp / "models" / "constant.py").write_text(CONSTANT)
    return ws, comp


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the constant run's correlations: said, not warned
def test_forward_chaining_end_to_end_predicts_every_validated_row_from_the_past_only(tmp_path, capsys):
    ws, comp = _ames_forward(tmp_path)
    assert main(["run", "--root", str(ws)]) == 0
    err = capsys.readouterr().err
    assert "forward chaining: training rows per fold" in err
    assert "never validated" in err
    train = pd.read_csv(comp / "train.csv")
    folds = pd.read_csv(comp / "runs" / "folds.csv")
    assert list(folds.columns) == ["id", "fold", "train_from"]
    validated = folds.loc[folds["fold"] >= 0, "id"]
    month = pd.Series((train["Year_Sold"] * 12 + train["Mo_Sold"]).to_numpy(), index=train["id"])
    rank = month.rank(method="dense")
    oof = pd.read_parquet(comp / "runs" / "models" / "latest" / "oof.parquet").set_index("id")
    # OOF files hold the validated rows only, each predicted by a model trained on months before the gap
    assert sorted(oof.index) == sorted(validated)
    latest = oof.iloc[:, 0]
    trained_rank = month.drop_duplicates().pipe(lambda m: pd.Series(rank[m.index].to_numpy(), index=m.to_numpy()))
    assert (trained_rank[latest.to_numpy()].to_numpy() < rank[latest.index].to_numpy() - 2).all()
    for run in ("lgbm", "latest"):
        scores = json.loads((comp / "runs" / "models" / run / "scores.json").read_text())
        assert len(scores["folds"]) == 4 and np.isfinite(scores["overall"])
    ens = pd.read_parquet(comp / "runs" / "ensemble" / "oof.parquet")
    assert sorted(ens["id"]) == sorted(validated)
    assert list((ws / "submissions" / "ames_clean").glob("*.csv"))
    assert main(["report", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["diff", "constant", "lgbm", "--root", str(ws)]) == 0
    assert "OOF correlation (Pearson): not defined (a run predicts one value for every row)" in capsys.readouterr().out
    # a teammate's run on the same forward folds: exported and imported, it joins the ensemble
    assert main(["export", "lgbm", "--root", str(ws)]) == 0
    bundle = ws / "exports" / "ames_clean" / "ames_clean-lgbm.zip"
    assert main(["import", str(bundle), "--name", "mate", "--root", str(ws)]) == 0
    capsys.readouterr()
    assert main(["run", "--stage", "ensemble", "--root", str(ws)]) == 0
    assert "mate" in json.loads((comp / "runs" / "ensemble" / "scores.json").read_text())["members"]


def test_pseudo_labels_and_a_gap_without_forward_chaining_are_refused(tmp_path, capsys):
    ws, comp = _ames_forward(tmp_path)
    text = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(text.replace("[pseudo]\n", "[pseudo]\nenabled = true\n"))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 2
    assert "pseudo-labels would train each fold on the future" in capsys.readouterr().err
    (comp / "competition.toml").write_text(text.replace('scheme = "forward"', 'scheme = "kfold"'))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 2
    assert "cv.gap = 2 applies to scheme = 'forward' only" in capsys.readouterr().err
