"""Bad input, table-driven: every case exits with code 2 and one line matching its pattern, prints no
traceback and leaves nothing behind (the workspace's files are exactly as before, bar the lock file).

Each case copies a prepared titanic workspace -- "fresh" (data and config only) or "trained" (folds,
features and a LightGBM run, plus an exported bundle beside it) -- breaks one thing, and calls the CLI
in-process (`pipeline.cli.main`). The cases cover config syntax, types and ranges, data files
(encodings, CSV dialects, ids, targets), CV settings, workspace paths and names, `init`, teammates'
bundles and `export`.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from pipeline.cli import main
from tests.conftest import DATA, make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

COMP = Path("competition") / "titanic"
FAST_MODEL = '[models.lgbm]\ntype = "lightgbm"\nparams = { n_estimators = 40 }\n'


# ---- editing a workspace ------------------------------------------------------------------------------
def _config(ws: Path) -> Path:
    return ws / COMP / "competition.toml"


def edit(old: str, new: str) -> Callable[[Path], None]:
    """Replace the first `old` in competition.toml by `new`."""
    def change(ws: Path) -> None:
        text = _config(ws).read_text()
        assert old in text, old
        _config(ws).write_text(text.replace(old, new, 1))
    return change


def section(name: str, lines: str) -> Callable[[Path], None]:
    """Add `lines` at the top of the [name] section."""
    return edit(f"[{name}]\n", f"[{name}]\n{lines}\n")


def model_params(params: str) -> Callable[[Path], None]:
    return edit("params = { n_estimators = 40 }", f"params = {{ {params} }}")


def csv_lines(name: str, change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """Rewrite a data file line by line."""
    def rewrite(ws: Path) -> None:
        path = ws / COMP / name
        path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")
    return rewrite


def csv_cell(name: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell of a data file (row 0 = the first data row)."""
    def change(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        cells = lines[row + 1].split(",")
        cells[header.index(column)] = value
        lines[row + 1] = ",".join(cells)
        return lines
    return csv_lines(name, change)


def write(relative: str, data: bytes | str) -> Callable[[Path], None]:
    def put(ws: Path) -> None:
        path = ws / relative
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return put


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def run(ws: Path) -> None:
        for change in changes:
            change(ws)
    return run


def fold_file(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """cv.scheme = "file" on folds_team.csv: every train id, fold = row % 5, rewritten by `change`."""
    def make(ws: Path) -> None:
        ids = [line.split(",")[0] for line in (ws / COMP / "train.csv").read_text().splitlines()[1:]]
        lines = ["id,fold"] + [f"{i},{k % 5}" for k, i in enumerate(ids)]
        (ws / COMP / "folds_team.csv").write_text("\n".join(change(lines)) + "\n")
        section("cv", 'scheme = "file"\nfile = "folds_team.csv"')(ws)
    return make


# ---- teammates' bundles ---------------------------------------------------------------------------------
def bundle(change: Callable[[dict[str, bytes]], list[tuple[str, bytes]]]) -> Callable[[Path], list[str]]:
    """`import` of a copy of the exported bundle whose members `change` returns ((name, bytes) pairs)."""
    def make(ws: Path) -> list[str]:
        with zipfile.ZipFile(ws.parent / "bundle.zip") as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        out = ws.parent / "bad.zip"
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate member a case writes on purpose
            for name, data in change(members):
                zf.writestr(name, data)
        return ["import", str(out), "--name", "mate"]
    return make


def _replace(name: str, data: bytes) -> Callable[[dict], list]:
    return lambda m: [(n, data if n == name else d) for n, d in m.items()]


def _bad_crc(ws: Path) -> list[str]:
    out = ws.parent / "crc.zip"
    shutil.copyfile(ws.parent / "bundle.zip", out)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("oof.parquet")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF  # one byte of the compressed data flipped
    out.write_bytes(bytes(raw))
    return ["import", str(out), "--name", "mate"]


def _bomb(ws: Path) -> list[str]:
    """A small zip whose test.parquet inflates to 400 MB of zeros."""
    out = ws.parent / "bomb.zip"
    with zipfile.ZipFile(ws.parent / "bundle.zip") as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name != "test.parquet":
                dst.writestr(name, src.read(name))
        with dst.open("test.parquet", "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(400):
                fh.write(block)
    return ["import", str(out), "--name", "mate"]


def _folder_with_link(ws: Path) -> list[str]:
    folder = ws.parent / "folder-bundle"
    folder.mkdir()
    with zipfile.ZipFile(ws.parent / "bundle.zip") as zf:
        zf.extractall(folder)
    (folder / "params.json").unlink()
    (folder / "params.json").symlink_to(ws / COMP / "competition.toml")
    return ["import", str(folder), "--name", "mate"]


# ---- init ------------------------------------------------------------------------------------------------
def init(train_change: Callable[[list[str]], list[str]] | None = None, *extra: str, name: str = "new"):
    """`init NAME` from titanic's files, the train file rewritten by `train_change`."""
    def make(ws: Path) -> list[str]:
        train = ws.parent / "train.csv"
        lines = (DATA / "titanic" / "train.csv").read_text().splitlines()
        train.write_text("\n".join(train_change(lines) if train_change else lines) + "\n")
        return ["init", name, "--train", str(train), "--test", str(DATA / "titanic" / "test.csv"),
                "--sample-submission", str(DATA / "titanic" / "sample_submission.csv"), *extra]
    return make


def _target(value_of: Callable[[int, str], str]) -> Callable[[list[str]], list[str]]:
    """Train lines with the target (third column, `survived`) of data row i set to value_of(i, old)."""
    def change(lines: list[str]) -> list[str]:
        out = [lines[0]]
        for i, line in enumerate(lines[1:]):
            cells = line.split(",")
            cells[2] = value_of(i, cells[2])
            out.append(",".join(cells))
        return out
    return change


def multi_target(target: str) -> Callable[[Path], None]:
    """The titanic config as a multilabel task with `target = <target>` (TOML) and an inferred style."""
    return both(edit('task = "binary"', 'task = "multilabel"'), edit('target = "survived"', f"target = {target}"),
                edit('submission = "proba"', 'submission = ""'))


# ---- the table -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """Break the workspace with `change` (or build argv with `argv`), run, expect `code` and `pattern`."""

    pattern: str
    change: Callable[[Path], None] | None = None
    argv: Callable[[Path], list[str]] | list[str] = ("run",)
    base: str = "fresh"  # "fresh": data and config; "trained": folds, features, a cv run, bundle.zip beside
    code: int = 2


RUN_TO_CV = ["run", "--stage", "cv"]

CASES: dict[str, Case] = {
    # competition.toml: syntax, keys, types
    "malformed toml": Case(r"malformed TOML", edit('task = "binary"', 'task = "binary')),
    "toml not utf-8": Case(r"competition\.toml: not UTF-8 text", write(str(COMP / "competition.toml"),
                                                                      "[competition]\ntask = 'caf\xe9'\n".encode("latin-1"))),
    "unknown key": Case(r"unknown key cv\.n_split \(did you mean 'n_splits'\?\)", section("cv", "n_split = 3")),
    "unknown section": Case(r"unknown section \[cvs\]", edit("[cv]", "[cvs]")),
    "wrong type": Case(r"cv\.n_splits must be an integer, got 'five'", section("cv", "n_splits = 'five'")),
    "missing key": Case(r"missing key competition\.id", edit('id = "id"', "")),
    "unknown task": Case(r"competition\.task = 'binomial' is not one of", edit('task = "binary"', 'task = "binomial"')),
    "metric misfit": Case(r"metric 'rmse' does not fit task 'binary'", edit('metric = "roc_auc"', 'metric = "rmse"')),
    "unknown scheme": Case(r"cv\.scheme = 'timeseries' is not one of", section("cv", 'scheme = "timeseries"')),
    "no models": Case(r"no models", lambda ws: _config(ws).write_text(_config(ws).read_text().split("[models.")[0]
                                                                       + "[models]\n")),
    # ranges
    "n_splits 1": Case(r"cv\.n_splits must be at least 2, got 1", section("cv", "n_splits = 1")),
    "negative seed": Case(r"cv\.seed must be between 0 and 4294967295, got -1", section("cv", "seed = -1")),
    "negative threads": Case(r"runtime\.threads must be at least 0, got -1", section("runtime", "threads = -1")),
    "negative workers": Case(r"runtime\.n_jobs must be at least 0, got -1", section("runtime", "n_jobs = -1")),
    "hill climb 0": Case(r"ensemble\.hill_climb_rounds must be at least 1, got 0", section("ensemble", "hill_climb_rounds = 0")),
    "trim nan": Case(r"models\.lgbm\.trim_outliers must be between 0 and 1000, got nan",
                     edit('type = "lightgbm"', 'type = "lightgbm"\ntrim_outliers = nan')),
    "trim on classification": Case(r"trim_outliers = 4\.0 must be 0 \(off\).*regression only",
                                   edit('type = "lightgbm"', 'type = "lightgbm"\ntrim_outliers = 4')),
    "pseudo threshold 2": Case(r"pseudo\.threshold must be between 0 and 1, got 2\.0", section("pseudo", "threshold = 2.0")),
    "group scheme without column": Case(r"cv\.scheme = 'group' needs cv\.group_column", section("cv", 'scheme = "group"')),
    "too many folds": Case(r"1047 rows cannot fill cv\.n_splits = 600 folds of at least 2 rows; set cv\.n_splits to "
                           r"at most 523", section("cv", 'n_splits = 600\nscheme = "kfold"')),
    # model parameters (checked when the cv stage builds the model)
    "negative num_leaves": Case(r"models\.lgbm\.params: num_leaves must be > 1; fix its value$",
                                model_params("num_leaves = -5"), RUN_TO_CV, "trained"),
    "unknown lgbm param": Case(r"LightGBM has no parameter 'num_leavs' \(did you mean 'num_leaves'\?\)",
                               model_params("num_leavs = 8"), RUN_TO_CV, "trained"),
    "unknown model type": Case(r"models\.lgbm\.type = 'xgbost' is not a model type \(did you mean 'xgboost'\?\)",
                               edit('type = "lightgbm"', 'type = "xgbost"'), RUN_TO_CV, "trained"),
    # data files: encodings, dialects, ids, targets
    "train latin-1": Case(r"train\.csv: not UTF-8 text", lambda ws: (ws / COMP / "train.csv").write_bytes(
        (ws / COMP / "train.csv").read_bytes().replace(b"female", b"f\xe9male", 1))),
    "semicolon test": Case(r"test\.csv: id column 'id' not found \(the file has 1 column: its fields look separated "
                           r"by ';'", csv_lines("test.csv", lambda ls: [line.replace(",", ";") for line in ls])),
    "ragged row": Case(r"train\.csv: cannot parse CSV \(.*\); check the quoting",
                       csv_lines("train.csv", lambda ls: ls[:5] + [ls[5] + ",1,2,3"] + ls[6:])),
    "duplicate ids": Case(r"train\.csv: 1 duplicate id\(s\) in column 'id' \(first: 100827\)", csv_lines("train.csv", lambda ls: ls + [ls[1]])),
    "nan id": Case(r"train\.csv: 1 row\(s\) have no id in column 'id' \(first on line 4\)",
                   csv_cell("train.csv", 2, "id", "")),
    "target missing": Case(r"target 'survived' is missing in 1 row", csv_cell("train.csv", 0, "survived", "")),
    "stray label": Case(r"a binary target needs exactly 2 classes, 'survived' has 3 \(0: 647, 1: 399, 2: 1\)",
                        csv_cell("train.csv", 3, "survived", "2")),
    "one class": Case(r"a binary target needs exactly 2 classes, 'survived' has 1",
                      csv_lines("train.csv", _target(lambda i, old: "1"))),
    "text regression target": Case(r"target 'survived' of a regression task holds text",
                                   both(edit('task = "binary"', 'task = "regression"'),
                                        edit('metric = "roc_auc"', 'metric = "rmse"'),
                                        edit('submission = "proba"', 'submission = "value"'),
                                        csv_lines("train.csv", _target(lambda i, old: "yes" if old == "1" else "no")))),
    "empty train": Case(r"train\.csv: no data rows", csv_lines("train.csv", lambda ls: ls[:1])),
    "empty file": Case(r"train\.csv: file is empty", write(str(COMP / "train.csv"), "")),
    "missing file": Case(r"test\.csv: data file not found", lambda ws: (ws / COMP / "test.csv").unlink()),
    "target column absent": Case(r"target column 'survive' not found \(did you mean 'survived'\?\)",
                                 edit('target = "survived"', 'target = "survive"')),
    "sample cannot hold the labels": Case(r"sample_submission\.csv: no submission in its format can be written "
                                          r"\(submission column 'survived' has dtype .*, the sample's is float64\)",
                                          both(edit('submission = "proba"', 'submission = "label"'),
                                               csv_lines("train.csv", _target(lambda i, old: "yes" if old == "1"
                                                                              else "no")))),
    "sample ids differ": Case(r"sample_submission\.csv: ids differ from test\.csv",
                              csv_lines("sample_submission.csv", lambda ls: ls[:-1])),
    "weekday time column": Case(r"cv\.time_column 'day' holds 'Mon.*', neither a number nor a date",
                                both(section("cv", 'scheme = "time"\ntime_column = "day"'),
                                     csv_lines("train.csv", lambda ls: [ls[0] + ",day"] + [
                                         f"{line},{('Mon', 'Tue', 'Wed')[i % 3]}day" for i, line in enumerate(ls[1:])]),
                                     csv_lines("test.csv", lambda ls: [ls[0] + ",day"] + [f"{line},Monday" for line in ls[1:]]))),
    "gap without forward chaining": Case(r"cv\.gap = 3 applies to scheme = 'forward' only",
                                         section("cv", 'gap = 3')),
    "pseudo with forward chaining": Case(r"pseudo\.enabled with cv\.scheme = 'forward'.*train each fold on the future",
                                         both(section("cv", 'scheme = "forward"\ntime_column = "age"'),
                                              section("pseudo", "enabled = true"))),
    "gap swallowing the first fold": Case(r"cv\.gap = 400 leaves the first fold no training rows",
                                          both(section("cv", 'scheme = "forward"\ntime_column = "id"\ngap = 400'))),
    "rare class stratified": Case(r"the rarest class has 1 rows, fewer than cv\.n_splits = 5",
                                  both(edit('task = "binary"', 'task = "multiclass"'),
                                       edit('metric = "roc_auc"', 'metric = "log_loss"'),
                                       edit('submission = "proba"', 'submission = "label"'),
                                       csv_lines("sample_submission.csv",
                                                 lambda ls: [ls[0]] + [x.replace(",0.5", ",0") for x in ls[1:]]),
                                       csv_cell("train.csv", 3, "survived", "2"))),
    "file scheme without a file": Case(r"cv\.scheme = 'file' needs cv\.file = 'PATH'", section("cv", 'scheme = "file"')),
    "fold file not found": Case(r"folds_team\.csv: fold file not found \(cv\.file\)",
                                section("cv", 'scheme = "file"\nfile = "folds_team.csv"')),
    "fold file outside the workspace": Case(r"cv\.file = '/etc/passwd' is outside the workspace",
                                            section("cv", 'scheme = "file"\nfile = "/etc/passwd"')),
    "fold file without scheme file": Case(r"cv\.file applies to scheme = 'file' only",
                                          section("cv", 'file = "folds_team.csv"')),
    "fold file missing an id": Case(r"folds_team\.csv \(cv\.file\): 1 train id\(s\) have no fold \(first: 100827\)",
                                    fold_file(lambda ls: [ls[0]] + ls[2:])),
    "fold file id twice": Case(r"id 100827 appears more than once; each train id needs exactly one fold",
                               fold_file(lambda ls: ls + [ls[1]])),
    "fold file id not in train": Case(r"id 5 is not in the train file \(1 such row\(s\)\)",
                                      fold_file(lambda ls: ls + ["5,0"])),
    "fold file folds not 0..k-1": Case(r"folds 0\.\.3, but cv\.n_splits = 5 needs exactly 0\.\.4; set cv\.n_splits = 4",
                                       fold_file(lambda ls: [ls[0]] + [line.replace(",4", ",3") for line in ls[1:]])),
    "stratified group without column": Case(r"cv\.scheme = 'stratified_group' needs cv\.group_column",
                                            section("cv", 'scheme = "stratified_group"')),
    "map at zero": Case(r"K in map@K must be a positive integer", both(edit('task = "binary"', 'task = "multiclass"'),
                                                                      edit('metric = "roc_auc"', 'metric = "map@0"'))),
    "unknown metric": Case(r"unknown metric 'f2'; use one of roc_auc, .*map@K or define it in .*metrics\.py",
                           edit('metric = "roc_auc"', 'metric = "f2"')),
    "metrics file failing": Case(r"metrics\.py: the metrics file failed to import \(NameError: name 'oops'",
                                 both(write(str(COMP / "metrics.py"), "oops\n"), edit('metric = "roc_auc"', 'metric = "mine"'))),
    "metrics file shadowing a built-in": Case(
        r"metric 'rmse' is a built-in's name; give yours another name",
        write(str(COMP / "metrics.py"), "from core.metrics import Metric\n"
                                        "m = Metric('rmse', abs, False, ('regression',), False, 'rmse')\n")),
    "duplicated header": Case(r"train\.csv: column 'age' appears 2 times in the header; give each column its own name",
                              both(csv_lines("train.csv", lambda ls: [line + "," + line.split(",")[4] for line in ls]),
                                   section("features", 'drop = ["age.1"]'))),
    "fold file ids as text in a message": Case(r"id 'x7' is not in the train file", fold_file(lambda ls: ls + ["x7,0"])),
    "drop every feature": Case(r"no feature columns left",
                               section("features", 'drop = ["pclass", "sex", "age", "sibsp", "parch"]'), RUN_TO_CV, "trained"),
    "drop unknown column": Case(r"features\.drop names 'cabin', which is not a column", section("features", 'drop = ["cabin"]')),
    # workspace: paths and names
    "data outside the workspace": Case(r"competition\.train = '/etc/passwd' is outside the workspace .*"
                                       r"competition\.external_data = true", section("competition", 'train = "/etc/passwd"')),
    "data path escaping": Case(r"competition\.test = '\.\./\.\./\.\./test\.csv' is outside the workspace",
                               both(lambda ws: shutil.copyfile(ws / COMP / "test.csv", ws.parent / "test.csv"),
                                    section("competition", 'test = "../../../test.csv"'))),
    "competition name escaping": Case(r"competition name '\.\./evil' must be a folder name", argv=["run", "--competition", "../evil"]),
    "unknown competition": Case(r"no competition 'titanik' in .* \(did you mean 'titanic'\?\)",
                                argv=["run", "--competition", "titanik"]),
    "pipeline.toml malformed": Case(r"pipeline\.toml: malformed TOML", write("pipeline.toml", "default_competition = \n")),
    "pipeline.toml wrong type": Case(r"pipeline\.toml: default_competition must be a string", write("pipeline.toml", "default_competition = 3\n")),
    "unknown stage": Case(r"unknown stage 'cvv' \(did you mean 'cv'\?\)", argv=["run", "--stage", "cvv"]),
    "unknown --models": Case(r"--models names 'xgb', which is not an enabled model in competition.toml; models: lgbm",
                             argv=["run", "--models", "xgb"]),
    "--models misspelt": Case(r"--models names 'lgmb', which is not an enabled model in competition.toml \(did you mean "
                              r"'lgbm'\?\); models: lgbm", argv=["run", "--models", "lgmb"]),
    "--models a pseudo run": Case(r"--models names 'lgbm-pseudo', .* \('lgbm-pseudo' is the pseudo stage's run of "
                                  r"'lgbm': --models lgbm retrains both\)", argv=["run", "--models", "lgbm-pseudo"]),
    # init
    "init one class": Case(r"target 'survived' has one value \(1: 1047 rows\): there is nothing to learn",
                           argv=init(_target(lambda i, old: "1"))),
    "init stray label": Case(r"target 'survived' has two values \(0: 647 rows, 1: 399 rows\) and 1 stray one\(s\) "
                             r"\(2: 1 row\)", argv=init(_target(lambda i, old: "2" if i == 3 else old))),
    "init target missing": Case(r"target 'survived' is missing in 2 row\(s\) of train; drop or fill them",
                                argv=init(_target(lambda i, old: "" if i in (3, 7) else old))),
    "init semicolon file": Case(r"train\.csv: the file has 1 column: its fields look separated by ';'; save it "
                                r"comma-separated", argv=init(lambda ls: [line.replace(",", ";") for line in ls])),
    "init name escaping": Case(r"competition name '\.\./x': use letters", argv=init(name="../x")),
    "init given task misfit": Case(r"--task binary: the target has 3 values",
                                   argv=init(_target(lambda i, old: str(i % 3)), "--task", "binary")),
    "init missing file": Case(r"nope\.csv: file not found", argv=lambda ws: init()(ws)[:3] + [str(ws / "nope.csv")]
                              + init()(ws)[4:]),
    # teammates' bundles and export
    "bundle bad crc": Case(r"bad\.zip|crc\.zip: damaged or unsupported zip", argv=_bad_crc, base="trained"),
    "bundle pickle params": Case(r"params\.json is not JSON text",
                                 argv=bundle(_replace("params.json", b"\x80\x04\x95\x10\x00\x00cos\nsystem\n.")), base="trained"),
    "bundle json list": Case(r"scores\.json must hold a JSON object, got a list",
                             argv=bundle(_replace("scores.json", b"[1, 2]")), base="trained"),
    "bundle extra member": Case(r"unexpected member 'run\.py'",
                                argv=bundle(lambda m: [*m.items(), ("run.py", b"import os")]), base="trained"),
    "bundle path traversal": Case(r"unexpected member '\.\./\.\./oof\.parquet'",
                                  argv=bundle(lambda m: [(("../../" + n) if n == "oof.parquet" else n, d)
                                                         for n, d in m.items()]), base="trained"),
    "bundle duplicate member": Case(r"oof\.parquet appears twice",
                                    argv=bundle(lambda m: [*m.items(), ("oof.parquet", m["oof.parquet"])]), base="trained"),
    "bundle bomb": Case(r"test\.parquet would be 419,430,400 bytes uncompressed, more than the .* refusing to "
                        r"decompress it", argv=_bomb, base="trained"),
    "bundle folder link": Case(r"'params\.json' is a link or a folder", argv=_folder_with_link, base="trained"),
    "bundle not json manifest": Case(r"bundle\.json is not JSON text", argv=bundle(_replace("bundle.json", b"{oops")),
                                     base="trained"),
    "export into a file's child": Case(r"train\.csv: a file is in the way where a folder is needed",
                                       argv=lambda ws: ["export", "lgbm", "--out", str(ws / COMP / "train.csv" / "b.zip")],
                                       base="trained"),
    # multi-target tasks: target = [...] checked against the task, the data, the metric, style and pseudo
    "multilabel target column missing": Case(r"target column 'survivd' not found \(did you mean 'survived'\?\)",
                                             multi_target('["survived", "survivd"]')),
    "multilabel column not 0/1": Case(r"a multilabel target column holds 0 and 1 only, 'parch' has 8 value\(s\)",
                                      multi_target('["survived", "parch"]')),
    "multilabel one target": Case(r"task = 'multilabel' needs at least 2 target columns, got 1",
                                  multi_target('["survived"]')),
    "multilabel string target": Case(r"task = 'multilabel' needs at least 2 target columns, got "
                                     r"competition\.target = 'survived'", multi_target('"survived"')),
    "list target single task": Case(r"competition\.target is a list \(2 columns\) but task 'binary' has one target",
                                    edit('target = "survived"', 'target = ["survived", "parch"]')),
    "multilabel metric f1": Case(r"metric 'f1' does not fit task 'multilabel'",
                                 both(multi_target('["survived", "parch"]'), edit('metric = "roc_auc"', 'metric = "f1"'))),
    "multilabel proba style": Case(r"competition\.submission = 'proba' does not fit task 'multilabel'",
                                   both(multi_target('["survived", "parch"]'),
                                        edit('submission = ""', 'submission = "proba"'))),
    "multilabel soft pseudo": Case(r"pseudo\.selection = 'soft' does not fit task 'multilabel'; use auto or one of "
                                   r"threshold$", both(multi_target('["survived", "parch"]'),
                                                       section("pseudo", 'enabled = true\nselection = "soft"'))),
    "init multilabel one column": Case(r"--task multilabel: the sample submission has 1 prediction column",
                                       argv=init(None, "--task", "multilabel")),
    "export unknown run": Case(r"no run 'lgbn' .*\(did you mean 'lgbm'\?\)", argv=["export", "lgbn"], base="trained"),
}


# ---- fixtures and the test -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    """The two prepared workspaces, built once."""
    root = tmp_path_factory.mktemp("bases")
    fresh = make_workspace(root / "fresh")
    cfg = _config(fresh)
    cfg.write_text(cfg.read_text().split("\n[models.")[0] + "\n" + FAST_MODEL)
    trained = root / "trained" / "ws"
    shutil.copytree(fresh, trained)
    assert main(["run", "--stage", "cv", "--root", str(trained)]) == 0
    assert main(["export", "lgbm", "--out", str(trained.parent / "bundle.zip"), "--root", str(trained)]) == 0
    return {"fresh": fresh, "trained": trained}


def _bookkeeping(relative: str) -> bool:
    """The lock file, parsed-data snapshots and digest memos: each written whole (atomically), kept or
    refreshed by any read, so a failed command may leave them changed."""
    return (relative.endswith("/.lock") or "/runs/cache/" in relative
            or re.search(r"/runs/\.state/[a-z-]*memo\.json$", relative) is not None)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root but the bookkeeping ones: relative path -> (size, mtime_ns)."""
    return {rel: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not _bookkeeping(rel := str(p.relative_to(root)))}


def test_the_table_has_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line_no_traceback_and_nothing_left(name, bases, tmp_path, capsys):
    case = CASES[name]
    ws = tmp_path / "ws"
    shutil.copytree(bases[case.base], ws, symlinks=True)
    if case.base == "trained":
        shutil.copyfile(bases["trained"].parent / "bundle.zip", tmp_path / "bundle.zip")
    if case.change is not None:
        case.change(ws)
    argv = case.argv(ws) if callable(case.argv) else list(case.argv)
    before = _files(ws)
    capsys.readouterr()
    code = main([*argv, "--root", str(ws)])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == case.code, (code, err[-2000:])
    assert len(errors) == 1, err[-2000:]
    assert re.search(case.pattern, errors[0]), errors[0]
    assert "Traceback" not in err and "Traceback" not in out and "[Fatal]" not in out
    assert "root:x:0:0" not in err  # a message never prints a file's content
    assert _files(ws) == before  # nothing written, nothing half-written, nothing removed
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_debug_shows_the_traceback(bases, tmp_path, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(bases["fresh"], ws)
    section("cv", "n_splits = 1")(ws)
    with pytest.raises(Exception, match=r"cv\.n_splits must be at least 2"):
        main(["run", "--root", str(ws), "--debug"])


def test_an_internal_error_is_one_line_with_exit_1(bases, tmp_path, capsys, monkeypatch):
    import pipeline.commands.status as status

    ws = tmp_path / "ws"
    shutil.copytree(bases["fresh"], ws)
    monkeypatch.setattr(status, "main", lambda args: {}["boom"])
    assert main(["status", "--root", str(ws)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: internal error (KeyError: 'boom'); re-run with --debug")


def test_a_bom_csv_and_an_export_into_a_folder_work(bases, tmp_path, capsys):
    """Not bad input: a UTF-8 byte-order mark (Excel's CSV) and `export --out FOLDER`."""
    ws = tmp_path / "ws"
    shutil.copytree(bases["trained"], ws)
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        path = ws / COMP / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(["run", "--stage", "folds", "--root", str(ws)]) == 0
    out = tmp_path / "exports"
    out.mkdir()
    assert main(["export", "lgbm", "--out", str(out), "--root", str(ws)]) == 0
    assert (out / "titanic-lgbm.zip").is_file()
    manifest = json.loads(zipfile.ZipFile(out / "titanic-lgbm.zip").read("bundle.json"))
    assert manifest["id"] == "id"
    new = tmp_path / "new" / "bundles"  # a folder that does not exist yet, named with a trailing slash
    assert main(["export", "lgbm", "--out", f"{new}/", "--root", str(ws)]) == 0
    assert (new / "titanic-lgbm.zip").is_file() and not (tmp_path / "new" / "bundles.zip").exists()
