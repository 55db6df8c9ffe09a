"""`init` infers id, target, task, metric and submission format on all six real data sets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_competition
from tests.conftest import DATA, DATASETS, REPO


@pytest.mark.parametrize("name", DATASETS)
def test_init_infers_each_shipped_data_set(tmp_path, capsys, name):
    about = json.loads((DATA / name / "about.json").read_text())
    src = DATA / name
    code = main(["init", name, "--root", str(tmp_path), "--train", str(src / "train.csv"),
                 "--test", str(src / "test.csv"), "--sample-submission", str(src / "sample_submission.csv")])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"task: {about['task']}" in printed and f"target: {about['target']}" in printed
    comp = load_competition(tmp_path / "competition" / name)
    c = comp.cfg["competition"]
    assert (c["task"], c["target"], c["id"]) == (about["task"], about["target"], about["id"])
    assert c["submission"] == about["submission"]
    assert c["metric"] == about["metric"]
    assert comp.cfg["cv"]["scheme"] == "auto" and "cv: " not in printed  # random splits: shuffled folds
    assert (comp.root / "train.csv").read_bytes() == (src / "train.csv").read_bytes()


def test_init_respects_explicit_values_and_refuses_bad_ones(tmp_path, capsys):
    src = DATA / "titanic"
    files = ["--train", str(src / "train.csv"), "--test", str(src / "test.csv"),
             "--sample-submission", str(src / "sample_submission.csv")]
    assert main(["init", "t", "--root", str(tmp_path), *files, "--metric", "log_loss"]) == 0
    assert load_competition(tmp_path / "competition" / "t").metric_name == "log_loss"
    assert main(["init", "t", "--root", str(tmp_path), *files]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["init", "u", "--root", str(tmp_path), *files, "--metric", "auc"]) == 2
    assert "unknown metric 'auc'" in capsys.readouterr().err
    assert main(["init", "v", "--root", str(tmp_path), *files, "--target", "nope"]) == 2
    assert "target 'nope' not found" in capsys.readouterr().err
    assert not (tmp_path / "competition" / "u").exists() and not (tmp_path / "competition" / "v").exists()
    assert main(["init", "w", "--root", str(tmp_path), *files[:2], "--test", str(tmp_path / "x.csv"),
                 "--sample-submission", files[5]]) == 2
    assert "x.csv: file not found" in capsys.readouterr().err


def test_the_shipped_competition_has_the_models_init_writes_today(tmp_path):
    """`make run` runs the shipped titanic: its model tables are the zoo's as `init` writes them now, so a default
    changed on the suite reaches the README's first command too. It also keeps `lgbm`, which the zoo now leaves
    out beside CatBoost and the slow variants (its comment says why: the examples name it)."""
    shipped = REPO / "competition" / "titanic"
    files = ["--train", str(shipped / "train.csv"), "--test", str(shipped / "test.csv"),
             "--sample-submission", str(shipped / "sample_submission.csv")]
    assert main(["init", "titanic", "--root", str(tmp_path), *files]) == 0
    ours = load_competition(shipped).cfg["models"]
    assert "lgbm" in ours
    written = load_competition(tmp_path / "competition" / "titanic").cfg["models"]
    assert {k: v for k, v in ours.items() if k != "lgbm"} == written


def test_init_refuses_a_sample_submission_no_submission_can_match(tmp_path, capsys):
    # a True / False target whose sample submission holds 0: the labels cannot be written as its int column,
    # which the submit stage would find only after every model trained
    train = pd.DataFrame({"id": range(40), "x": range(40), "y": [True, False] * 20})
    test = pd.DataFrame({"id": range(40, 50), "x": range(10)})
    paths = {}
    for name, frame in (("train", train), ("test", test), ("sample", pd.DataFrame({"id": test["id"], "y": 0}))):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    args = ["init", "b", "--root", str(tmp_path), "--train", str(paths["train"]), "--test", str(paths["test"])]
    assert main([*args, "--sample-submission", str(paths["sample"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sample.csv: no submission in its format can be written" in err
    assert not (tmp_path / "competition" / "b").exists()
    pd.DataFrame({"id": test["id"], "y": False}).to_csv(paths["sample"], index=False)  # what Kaggle ships
    assert main([*args, "--sample-submission", str(paths["sample"])]) == 0


def test_init_refuses_a_metric_the_target_cannot_take(tmp_path, capsys):
    train = pd.DataFrame({"id": range(30), "x": range(30), "y": [v * 0.37 - 5 for v in range(30)]})
    test = pd.DataFrame({"id": range(30, 35), "x": range(5)})
    for name, frame in (("train", train), ("test", test), ("sample", pd.DataFrame({"id": test["id"], "y": 0.0}))):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    args = ["init", "r", "--root", str(tmp_path), "--train", str(tmp_path / "train.csv"), "--test",
            str(tmp_path / "test.csv"), "--sample-submission", str(tmp_path / "sample.csv")]
    assert main([*args, "--metric", "rmsle"]) == 2
    assert "metric rmsle needs a target >= 0, found -5; use rmse or mae" in capsys.readouterr().err
    assert not (tmp_path / "competition" / "r").exists()
    assert main(args) == 0  # rmse, the regression default


def test_init_refuses_an_id_seen_twice_as_run_would(tmp_path, capsys):
    train = pd.DataFrame({"id": range(30), "x": range(30), "y": [v * 0.37 for v in range(30)]})
    test = pd.DataFrame({"id": [30, 31, 31, 33], "x": range(4)})
    for name, frame in (("train", train), ("test", test), ("sample", pd.DataFrame({"id": test["id"], "y": 0.0}))):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    args = ["init", "d", "--root", str(tmp_path), "--train", str(tmp_path / "train.csv"), "--test",
            str(tmp_path / "test.csv"), "--sample-submission", str(tmp_path / "sample.csv")]
    assert main(args) == 2
    assert "test.csv: 1 duplicate id(s) in column 'id' (first: 31); ids must be unique" in capsys.readouterr().err
    assert not (tmp_path / "competition" / "d").exists()


def test_init_takes_kaggles_compressed_downloads_as_plain_csv(tmp_path, capsys):
    # Kaggle's files come as train.csv.zip and the like: pandas reads them, so init must not copy the bytes
    import bz2
    import gzip
    import zipfile

    src = DATA / "titanic"
    with zipfile.ZipFile(tmp_path / "train.csv.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(src / "train.csv", "train.csv")
    (tmp_path / "test.csv.gz").write_bytes(gzip.compress((src / "test.csv").read_bytes()))
    (tmp_path / "sample.csv.bz2").write_bytes(bz2.compress((src / "sample_submission.csv").read_bytes()))
    base = ["init", "t", "--root", str(tmp_path), "--sample-submission", str(tmp_path / "sample.csv.bz2")]
    assert main([*base, "--train", str(tmp_path / "train.csv.zip"), "--test", str(tmp_path / "test.csv.gz")]) == 0
    comp = tmp_path / "competition" / "t"
    for name, original in (("train.csv", "train.csv"), ("test.csv", "test.csv"),
                           ("sample_submission.csv", "sample_submission.csv")):
        assert (comp / name).read_bytes() == (src / original).read_bytes()
    assert "train.csv.zip: decompressed into the competition folder" in capsys.readouterr().out
    assert main(["run", "--stage", "folds", "--root", str(tmp_path), "--competition", "t"]) == 0
    # a zip of several files, a download cut short: one line each, nothing created
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as archive:
        archive.write(src / "train.csv", "train.csv")
        archive.write(src / "test.csv", "test.csv")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress((src / "test.csv").read_bytes())[:200])
    for train, test, said in (("all.zip", "test.csv.gz", "all.zip: the zip holds 2 files; unzip it"),
                              ("train.csv.zip", "cut.csv.gz", "cut.csv.gz: cannot decompress it (EOFError")):
        base[1] = f"u{len(said)}"
        capsys.readouterr()
        assert main([*base, "--train", str(tmp_path / train), "--test", str(tmp_path / test)]) == 2
        assert said in capsys.readouterr().err
        assert not (tmp_path / "competition" / base[1]).exists()


def test_a_header_name_with_a_stray_space_or_another_case_gets_a_did_you_mean(tmp_path, capsys):
    src = DATA / "titanic"
    sample = pd.read_csv(src / "sample_submission.csv").rename(columns={"id": "id "})
    sample.to_csv(tmp_path / "sample.csv", index=False)
    base = ["init", "t", "--root", str(tmp_path), "--train", str(src / "train.csv"), "--test", str(src / "test.csv")]
    assert main([*base, "--sample-submission", str(tmp_path / "sample.csv")]) == 2
    assert "id column 'id ' not found in train (did you mean 'id'?); pass --id COLUMN" in capsys.readouterr().err
    assert main([*base, "--sample-submission", str(src / "sample_submission.csv"), "--target", "Survived"]) == 2
    assert "target 'Survived' not found in train (did you mean 'survived'?)" in capsys.readouterr().err


def test_a_test_set_after_train_in_a_date_column_gets_forward_chaining(tmp_path, capsys):
    """Titanic with a booking date, split by it: every test row after train's last date, so init sets
    forward chaining on it and says why. The same rows split at random, or with a missing date (forward
    chaining refuses missing times), keep the shuffled default."""
    src = pd.read_csv(DATA / "titanic" / "train.csv")
    src["booked"] = (pd.Timestamp("2012-01-01") + pd.to_timedelta(range(len(src)), unit="h")).strftime("%Y-%m-%d")

    def init(name: str, train, test) -> tuple[dict, str]:
        folder = tmp_path / name
        folder.mkdir()
        train.to_csv(folder / "train.csv", index=False)
        test.drop(columns="survived").to_csv(folder / "test.csv", index=False)
        test[["id"]].assign(survived=0.5).to_csv(folder / "sample.csv", index=False)
        assert main(["init", name, "--root", str(tmp_path), "--train", str(folder / "train.csv"), "--test",
                     str(folder / "test.csv"), "--sample-submission", str(folder / "sample.csv")]) == 0
        return load_competition(tmp_path / "competition" / name).cfg["cv"], capsys.readouterr().out

    cut = int(len(src) * 0.8)
    cv, out = init("by_date", src.iloc[:cut], src.iloc[cut:])
    assert (cv["scheme"], cv["time_column"]) == ("forward", "booked")
    assert "cv: forward chaining on booked  (every test row's booked is at or after train's last" in out
    shuffled = src.sample(frac=1.0, random_state=0)
    cv, out = init("at_random", shuffled.iloc[:cut], shuffled.iloc[cut:])
    assert cv["scheme"] == "auto" and "cv: " not in out
    gap = src.copy()
    gap.loc[3, "booked"] = None
    cv, _ = init("missing_date", gap.iloc[:cut], gap.iloc[cut:])
    assert cv["scheme"] == "auto"


def test_a_whole_number_time_index_after_train_gets_forward_chaining_and_other_numbers_do_not(tmp_path, capsys):
    """Jane Street's date_id, Predict Future Sales' date_block_num: integers named as time, every test row's after
    train's last, are time; the same integers under a name that is not time (a number after train's range may be
    anything), or too few distinct days for the folds' blocks, keep the shuffled default."""
    src = pd.read_csv(DATA / "titanic" / "train.csv")
    cut = int(len(src) * 0.8)

    def init(name: str, column: str, values) -> tuple[dict, str]:
        table = src.assign(**{column: values})
        folder = tmp_path / name
        folder.mkdir()
        table.iloc[:cut].to_csv(folder / "train.csv", index=False)
        test = table.iloc[cut:]
        test.drop(columns="survived").to_csv(folder / "test.csv", index=False)
        test[["id"]].assign(survived=0.5).to_csv(folder / "sample.csv", index=False)
        assert main(["init", name, "--root", str(tmp_path), "--train", str(folder / "train.csv"), "--test",
                     str(folder / "test.csv"), "--sample-submission", str(folder / "sample.csv")]) == 0
        return load_competition(tmp_path / "competition" / name).cfg["cv"], capsys.readouterr().out

    days = np.arange(len(src)) // 10
    cv, out = init("jane", "date_id", days)
    assert (cv["scheme"], cv["time_column"]) == ("forward", "date_id")
    assert "cv: forward chaining on date_id  (every test row's date_id is at or after train's last" in out
    cv, _ = init("camel", "TransactionDT", days * 86400)
    assert (cv["scheme"], cv["time_column"]) == ("forward", "TransactionDT")
    cv, out = init("not_time", "cabin_no", days)
    assert cv["scheme"] == "auto" and "cv: " not in out
    cv, _ = init("few_days", "date_id", np.minimum(np.arange(len(src)) * 3 // cut, 3))
    assert cv["scheme"] == "auto"  # train's days 0, 1 and 2: too few for the 6 blocks of 5 forward folds
    cv, _ = init("fractions", "time_id", days + 0.5 * (np.arange(len(src)) % 2))
    assert cv["scheme"] == "auto"


def _download(tmp_path, names: dict[str, str]):
    """A Kaggle download's folder: titanic's files under the names given (role -> file name)."""
    import shutil

    folder = tmp_path / "download"
    folder.mkdir()
    for role, name in names.items():
        shutil.copyfile(DATA / "titanic" / f"{role}.csv", folder / name)
    shutil.copyfile(DATA / "titanic" / "solution.csv", folder / "solution.csv")
    return folder


def test_init_finds_the_three_files_in_a_kaggle_download_folder_or_zip(tmp_path, capsys):
    """`init NAME --data PATH`: the folder or the zip `kaggle competitions download` writes, its files found by
    name (the sample submission whatever the competition calls it, a file compressed inside the zip, one
    folder down); the competition is the one three explicit files give."""
    import zipfile

    folder = _download(tmp_path, {"train": "train.csv", "test": "test.csv",
                                  "sample_submission": "gender_submission.csv"})
    ws = tmp_path / "ws"
    assert main(["init", "a", "--root", str(ws), "--data", str(folder)]) == 0
    archive = tmp_path / "titanic.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("test.csv", "gender_submission.csv", "solution.csv"):
            zf.write(folder / name, f"titanic/{name}")
        with zipfile.ZipFile(tmp_path / "train.csv.zip", "w") as inner:  # a large file zipped on its own
            inner.write(folder / "train.csv", "train.csv")
        zf.write(tmp_path / "train.csv.zip", "titanic/train.csv.zip")
    assert main(["init", "b", "--root", str(ws), "--data", str(archive)]) == 0
    assert main(["init", "c", "--root", str(ws), *[f"--{f.replace('_', '-')}={DATA / 'titanic' / (f + '.csv')}"
                                                    for f in ("train", "test", "sample_submission")]]) == 0
    made = [(ws / "competition" / n) for n in "abc"]
    for name in ("competition.toml", "train.csv", "test.csv", "sample_submission.csv"):
        assert (made[0] / name).read_bytes() == (made[1] / name).read_bytes() == (made[2] / name).read_bytes()
    assert not (made[0] / "solution.csv").exists()


def test_a_download_of_parquet_files_becomes_the_same_competition_as_its_csv(tmp_path, capsys):
    """Many competitions ship train.parquet and test.parquet: `init --data` finds them, writes them as the CSV
    every stage reads, and infers what the CSV download gives; beside a train.csv the CSV is taken."""
    folder = tmp_path / "download"
    folder.mkdir()
    for role in ("train", "test"):
        pd.read_csv(DATA / "titanic" / f"{role}.csv").to_parquet(folder / f"{role}.parquet")
    (folder / "sample_submission.csv").write_bytes((DATA / "titanic" / "sample_submission.csv").read_bytes())
    ws = tmp_path / "ws"
    assert main(["init", "p", "--root", str(ws), "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "train.parquet: written as train.csv in the competition folder (every stage reads CSV)" in out
    assert main(["init", "c", "--root", str(ws), *[f"--{f.replace('_', '-')}={DATA / 'titanic' / (f + '.csv')}"
                                                    for f in ("train", "test", "sample_submission")]]) == 0
    made = [ws / "competition" / n for n in "pc"]
    assert (made[0] / "competition.toml").read_bytes() == (made[1] / "competition.toml").read_bytes()
    for name in ("train.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(made[0] / name), pd.read_csv(made[1] / name))
    (folder / "train.csv").write_bytes((DATA / "titanic" / "train.csv").read_bytes())  # both: the CSV is taken
    capsys.readouterr()
    assert main(["init", "q", "--root", str(ws), "--data", str(folder)]) == 0
    assert "train.parquet" not in capsys.readouterr().out
    (folder / "test.parquet").write_bytes(b"not parquet")
    assert main(["init", "r", "--root", str(ws), "--data", str(folder)]) == 2
    assert "test.parquet: not a readable Parquet file" in capsys.readouterr().err
    assert not (ws / "competition" / "r").exists()


@pytest.mark.parametrize("files,extra,message", [
    # an explicit file wins over the one found
    ({"train.csv": "train", "test.csv": "test", "sample_submission.csv": "sample_submission"}, ["--test"], None),
    # a file unzipped beside its download is the same file: the plain one is taken
    ({"train.csv": "train", "train.csv.gz": "train", "test.csv": "test", "sample_submission.csv": "sample_submission"},
     [], None),
    ({"train.csv": "train", "test.csv": "test", "sampleSubmission.csv": "sample_submission",
      "gender_submission.csv": "sample_submission"}, [],
     r"looked for the sample submission CSV and holds 2 candidates for it \(gender_submission\.csv, "
     r"sampleSubmission\.csv\); pass --sample-submission FILE$"),
    ({"training.csv": "train", "test.csv": "test", "sample_submission.csv": "sample_submission"}, [],
     r"looked for the train CSV and has none \(files: sample_submission\.csv, solution\.csv, test\.csv, "
     r"training\.csv\); pass --train FILE$"),
])
def test_a_download_that_does_not_say_which_file_is_which_asks_for_the_flag(tmp_path, capsys, files, extra, message):
    """A file not found, or found twice, is one line naming the flag that settles it; nothing is created."""
    import re
    import shutil

    folder = tmp_path / "download"
    folder.mkdir()
    for name, role in {**files, "solution.csv": "solution"}.items():
        shutil.copyfile(DATA / "titanic" / f"{role}.csv", folder / name)
    argv = ["init", "x", "--root", str(tmp_path / "ws"), "--data", str(folder)]
    for flag in extra:
        argv += [flag, str(DATA / "titanic" / "test.csv")]
    if message is None:
        assert main(argv) == 0
        return
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err.strip().splitlines()[-1])
    assert not (tmp_path / "ws" / "competition" / "x").exists()


def test_init_without_data_or_the_three_files_says_what_to_pass(tmp_path, capsys):
    assert main(["init", "x", "--root", str(tmp_path), "--train", str(DATA / "titanic" / "train.csv")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "init: pass --data with the competition's download (its folder or its .zip), or --train, --test and "
        "--sample-submission")
