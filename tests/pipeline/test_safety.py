"""Trustworthy under concurrency and odd settings: the per-competition lock, threads capped at the
cores, files created with the user's umask, data outside the workspace only when opted in, time-ordered
folds that never split a time, and columns that exist only in train named when they are dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import DATA, REPO, make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

FAST_MODEL = '[models.lgbm]\ntype = "lightgbm"\nparams = { n_estimators = 40 }\n'


def _fast(ws):
    cfg = ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text().split("\n[models.")[0] + "\n" + FAST_MODEL)
    return cfg


def test_two_runs_in_one_workspace_wait_for_each_other_and_agree(tmp_path):
    """Both start while the competition is locked (by this test); once it is free, one runs every stage
    and the other, waiting for it, then finds them all fresh: one set of outputs, one submission."""
    from filelock import FileLock

    ws = make_workspace(tmp_path)
    _fast(ws)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "pipeline", "run", "--root", str(ws)]
    lock = FileLock(ws / "competition" / "titanic" / ".lock")
    logs = [tmp_path / f"err{i}.txt" for i in range(2)]
    handles = [open(log, "w") for log in logs]
    with lock:
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=fh, text=True) for fh in handles]
        # both wait on the lock: waited for by what they print, not by a wall-clock deadline
        while not all("is in use" in log.read_text() for log in logs) and all(p.poll() is None for p in procs):
            time.sleep(0.1)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for fh in handles:
        fh.close()
    errs = [log.read_text() for log in logs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert all("[lock] competition 'titanic' is in use by another run, import or tune" in e for e in errs)
    worked = [e for e in errs if "[cv] running" in e]
    assert len(worked) == 1, errs  # the other found every stage fresh once it had the lock
    other = errs[1 - errs.index(worked[0])]
    assert "running" not in other.split("[lock] acquired", 1)[1] and "[submit] fresh, skipped" in other
    paths = {out.strip().splitlines()[-1] for out in outs}
    assert len(paths) == 1  # both name the same submission
    latest = ws / "submissions" / "titanic" / "latest.csv"
    assert pd.read_csv(paths.pop()).equals(pd.read_csv(latest))


def test_threads_above_the_cores_are_capped_with_one_warning(tmp_path, capsys):
    from core import threads as T

    ws = make_workspace(tmp_path)
    cfg = _fast(ws)
    cfg.write_text(cfg.read_text().replace("[runtime]\n", "[runtime]\nthreads = 100000\n"))
    T._WARNED.clear()
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0  # 100,000 OpenMP threads crashed LightGBM
    err = capsys.readouterr().err
    cores = T.cpu_count()
    assert err.count(f"warning: runtime.threads = 100000 is more than this machine's {cores} core(s); "
                     f"using {cores}") == 1
    params = (ws / "competition" / "titanic" / "runs" / "models" / "lgbm" / "params.json").read_text()
    assert f'"num_threads": {cores}' in params


def test_written_files_follow_the_umask(tmp_path):
    from core import io as _io

    _io.write_text(tmp_path / "a.txt", "x")
    with _io.atomic_dir(tmp_path / "d") as d:
        (d / "f").write_text("y")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~_io.UMASK
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~_io.UMASK
    if _io.UMASK == 0o022:  # the common default: readable by the group and others, like any other file
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_data_outside_the_workspace_is_read_only_when_opted_in(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    cfg = _fast(ws)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.replace(ws / "competition" / "titanic" / "train.csv", outside / "train.csv")
    cfg.write_text(cfg.read_text().replace("[competition]\n", f'[competition]\ntrain = "{outside / "train.csv"}"\n'))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 2
    assert "is outside the workspace" in capsys.readouterr().err
    cfg.write_text(cfg.read_text().replace("[competition]\n", "[competition]\nexternal_data = true\n"))
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0


def test_time_folds_parse_dates_and_numbers_and_never_split_a_time():
    from pipeline.schemes import assign_folds

    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    when = rng.choice(days, size=400)
    frame = pd.DataFrame({"y": rng.normal(size=400),
                          # day-first text would sort wrongly as strings ("10/01" < "02/01")
                          "date": pd.Series(when).dt.strftime("%d/%m/%Y"),
                          "step": pd.Series(when).dt.day_of_year.astype(str)})  # "10" < "9" as strings
    for column in ("date", "step"):
        folds = assign_folds(frame, target="y", task="regression", scheme="time", n_splits=5, seed=0,
                             time_column=column)
        order = pd.Series(when).rank(method="dense").to_numpy()
        for k in range(4):  # every time of fold k comes before every time of fold k + 1
            assert order[folds == k].max() < order[folds == k + 1].min()
        per_time = pd.Series(folds).groupby(pd.Series(when)).nunique()
        assert (per_time == 1).all()  # rows of one time share a fold
        assert np.bincount(folds).min() > 40  # about equal blocks


def test_init_names_train_only_columns_and_run_names_them_too(tmp_path, capsys):
    train = pd.read_csv(DATA / "titanic" / "train.csv").assign(ticket_price=1.0)
    train.to_csv(tmp_path / "train.csv", index=False)
    src = DATA / "titanic"
    assert main(["init", "t", "--root", str(tmp_path), "--train", str(tmp_path / "train.csv"), "--test",
                 str(src / "test.csv"), "--sample-submission", str(src / "sample_submission.csv")]) == 0
    out = capsys.readouterr().out
    assert "column 'ticket_price' is in train but not in test, so it cannot be a feature: listed in features.drop" in out
    cfg = tmp_path / "competition" / "t" / "competition.toml"
    assert 'drop = ["ticket_price"]' in cfg.read_text()
    # a train-only column not listed in features.drop is named when the features are built
    text = cfg.read_text().replace('drop = ["ticket_price"]', "drop = []")
    cfg.write_text(text.split("\n[models.")[0] + "\n" + FAST_MODEL)
    assert main(["run", "--stage", "features", "--root", str(tmp_path)]) == 0
    assert ("[features] column 'ticket_price' is in train but not in test, so it is not a feature (list it in "
            "features.drop to silence this)") in capsys.readouterr().err


@pytest.mark.parametrize("values,task,reason", [
    (["0", "1"] * 300, "binary", "0: 300 rows, 1: 300 rows"),
    ([str(i % 3) for i in range(600)], "multiclass", "3 discrete target values"),
])
def test_init_says_which_task_and_why(tmp_path, capsys, values, task, reason):
    train = pd.DataFrame({"id": range(600), "x": np.arange(600) % 7, "y": values})
    train.to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"id": range(600, 700), "x": 1}).to_csv(tmp_path / "test.csv", index=False)
    pd.DataFrame({"id": range(600, 700), "y": 0}).to_csv(tmp_path / "sample.csv", index=False)
    assert main(["init", "t", "--root", str(tmp_path), "--train", str(tmp_path / "train.csv"), "--test",
                 str(tmp_path / "test.csv"), "--sample-submission", str(tmp_path / "sample.csv")]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("task:"))
    assert line.startswith(f"task: {task}  (") and reason in line


def test_a_fold_whose_score_is_undefined_is_named_not_silent():
    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from models import train_cv

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = np.r_[np.zeros(10), (rng.random(50) > 0.5)].astype(int)
    folds = np.r_[np.zeros(10), 1 + np.arange(50) % 3].astype(int)  # fold 0 holds class 0 only: no AUC
    lines: list[str] = []
    res = train_cv("lr", {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression"}, X, y,
                   X.iloc[:5], folds, TaskInfo.from_target("binary", y), get_metric("roc_auc"), log=lines.append)
    assert np.isnan(res.fold_scores[0]) and np.isfinite(res.overall)
    assert any(line.startswith("[cv] warning: lr: roc_auc is undefined on 1 of 4 folds") for line in lines), lines


def test_column_names_with_json_characters_train_in_lightgbm(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    _fast(ws)
    for name in ("train.csv", "test.csv"):
        path = ws / "competition" / "titanic" / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0].replace("age", '"a,g""e:[1]"')] + lines[1:]) + "\n")
    assert main(["run", "--stage", "cv", "--root", str(ws)]) == 0  # LightGBM refuses such names itself
    importance = pd.read_csv(ws / "competition" / "titanic" / "runs" / "models" / "lgbm" / "feature_importance.csv")
    assert any('a,g"e:[1]' in str(f) for f in importance["feature"])  # reported under the original name
