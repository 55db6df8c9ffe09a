"""`init`: create competition/NAME/ from Kaggle files, inferring id, target, task, metric, format."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import UserError, did_you_mean
from core.io import separator_hint
from pipeline.config import REQUIRED, SCHEMA, registry_choices
from pipeline.data import COMPRESSED_SUFFIXES

MAX_LABEL_CLASSES = 50
# A class needs this many rows: one in each fold of the default 5-fold stratified CV. Rarer values of a
# target whose other values look like classes are stray labels (a typo, a merged file), refused.
MIN_CLASS_ROWS = 5


@dataclass
class Inferred:
    """What init decided, each with the reason it printed; `train_only`: train columns absent from test."""

    id: str
    target: str | list[str]  # a multi-target task's target columns: a list
    task: str
    metric: str
    submission: str
    reasons: dict[str, str]
    train_only: list[str] = field(default_factory=list)
    cv: dict = field(default_factory=dict)  # [cv] keys set (forward chaining on a test set after train in time)


def _zip_member(path: Path) -> str:
    """The one CSV inside a .zip (pandas reads a zip of one file; a Kaggle download of several is refused)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile:
        raise UserError(f"{path}: not a readable zip file; unzip it and pass the CSV") from None
    if len(names) != 1:
        raise UserError(f"{path}: the zip holds {len(names)} files; unzip it and pass train, test and the sample "
                        f"submission one by one")
    return names[0]


# The three files of a Kaggle download, by their name without compression suffixes (lower case): train.csv,
# test.csv, and the sample submission, whatever the competition calls it (sample_submission.csv,
# sampleSubmission.csv, titanic's gender_submission.csv).
DOWNLOAD_ROLES = {"train": lambda stem: stem == "train", "test": lambda stem: stem == "test",
                  "sample_submission": lambda stem: "submission" in stem}
_ROLE_FLAGS = {"train": "--train", "test": "--test", "sample_submission": "--sample-submission"}


def _csv_stem(name: str) -> str | None:
    """'train' for train.csv, train.csv.zip, Train.CSV.gz or train.parquet; None for a file that is neither
    a CSV nor Parquet."""
    lower = Path(name).name.lower()
    if lower.endswith(".parquet"):
        return lower.removesuffix(".parquet")
    for suffix in COMPRESSED_SUFFIXES:
        lower = lower.removesuffix(suffix)
    return lower.removesuffix(".csv") if lower.endswith(".csv") else None


def _is_parquet(path: Path) -> bool:
    return Path(path).suffix.lower() == ".parquet"


def download_files(path: Path, into: Path, given: dict[str, Path | None]) -> dict[str, Path]:
    """The train, test and sample-submission files of a Kaggle download: a folder, or the zip `kaggle
    competitions download` writes (the files found are extracted into `into`). A file in `given` (the
    command's --train, --test, --sample-submission) is taken as it is; one not found, or found twice,
    is a UserError naming the flag that settles it."""
    import zipfile

    path = Path(path)
    wanted = [role for role in DOWNLOAD_ROLES if given.get(role) is None]
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                       if p.is_file() and len(p.relative_to(path).parts) <= 2)  # the files, or one folder down
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if not n.endswith("/") and n.count("/") <= 1)
    elif path.exists():
        raise UserError(f"--data {path}: not a folder or a zip; pass the competition's download (its folder or "
                        f"its .zip), or --train, --test and --sample-submission")
    else:
        raise UserError(f"--data {path}: not found; pass the competition's download (its folder or its .zip)")
    found = {role: [n for n in names if (stem := _csv_stem(n)) is not None and DOWNLOAD_ROLES[role](stem)]
             for role in wanted}
    for role, candidates in found.items():  # train.csv beside its train.csv.zip or train.parquet: the plain CSV
        plain = [n for n in candidates if n.lower().endswith(".csv")]
        if len(plain) == 1 and {_csv_stem(n) for n in candidates} == {_csv_stem(plain[0])} and \
                {Path(n).parent for n in candidates} == {Path(plain[0]).parent}:
            found[role] = plain
    for role in wanted:
        if len(found[role]) != 1:
            what = (f"holds {len(found[role])} candidates for it ({', '.join(found[role])})" if found[role] else
                    f"has none (files: {', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
            raise UserError(f"--data {path}: looked for the {role.replace('_', ' ')} CSV and {what}; pass "
                            f"{_ROLE_FLAGS[role]} FILE")
    out = {role: Path(p) for role, p in given.items() if p is not None}
    if path.is_dir():
        out.update({role: path / found[role][0] for role in wanted})
        return out
    with zipfile.ZipFile(path) as archive:
        for role in wanted:
            member = found[role][0]
            dest = Path(into) / Path(member).name
            with archive.open(member) as packed, open(dest, "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked, 1 << 20)
            out[role] = dest
    return out


def _parquet_as_csv(src: Path, dest: Path) -> Path:
    """A Parquet data file written as the CSV `dest` (every stage reads CSV); unreadable: one-line UserError."""
    from pipeline.data import read_parquet_table

    read_parquet_table(src).to_csv(dest, index=False)
    return dest


def _copy_plain(src: Path, dest: Path) -> None:
    """Copy a data file as the plain CSV the competition folder holds: a .gz, .bz2, .xz or one-file .zip
    download is decompressed (every later reader opens train.csv as text)."""
    import bz2
    import gzip
    import lzma
    import zipfile

    suffix = src.suffix.lower()
    if suffix not in COMPRESSED_SUFFIXES:
        shutil.copyfile(src, dest)
        return
    if suffix == ".zip":
        with zipfile.ZipFile(src) as archive, archive.open(_zip_member(src)) as packed, open(dest, "wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
        return
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[suffix]
    with opener(src, "rb") as packed, open(dest, "wb") as out:
        shutil.copyfileobj(packed, out, 1 << 20)


def _read(path: Path):
    from pipeline.data import csv_errors, read_csv

    if not Path(path).is_file():
        raise UserError(f"{path}: file not found; pass an existing CSV file")
    if Path(path).suffix.lower() == ".zip":
        _zip_member(Path(path))
    with csv_errors(Path(path)):
        frame = read_csv(Path(path))
    hint = separator_hint([str(c) for c in frame.columns])
    if hint:
        raise UserError(f"{path}: {hint}")
    return frame


def _short(value) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 30 else text[:27] + "..."


def _counts(counts) -> str:
    """'0: 618 rows, 1: 429 rows' for the first values of a value_counts()."""
    shown = ", ".join(f"{_short(v)}: {n} row{'s' if n != 1 else ''}" for v, n in counts.head(4).items())
    return shown + (f", ... ({len(counts)} values)" if len(counts) > 4 else "")


def _check_target(target: str, y, task: str | None) -> None:
    """Refuse a target no task can be made of: one value; two common values plus a few stray ones
    (it would silently become a regression); a class too rare to appear in every fold."""
    counts = y.value_counts()
    if len(counts) < 2:
        raise UserError(f"target {target!r} has one value ({_counts(counts)}): there is nothing to learn; check "
                        f"the train file or pass --target COLUMN")
    rare, common = counts[counts < MIN_CLASS_ROWS], counts[counts >= MIN_CLASS_ROWS]
    if task in (None, "binary") and len(common) == 2 and len(rare) and rare.sum() < 0.01 * counts.sum():
        raise UserError(f"target {target!r} has two values ({_counts(common)}) and {len(rare)} stray one(s) "
                        f"({_counts(rare)}); fix or drop the stray rows, or pass --task regression if it "
                        f"really is a number")
    if task in ("binary", "multiclass") and len(rare):
        raise UserError(f"target {target!r}: class(es) {_counts(rare)} have fewer than {MIN_CLASS_ROWS} rows, "
                        f"too few for one in each fold; fix, merge or drop those rows")


def _close(name: str, frame) -> str:
    """' (did you mean X?)' for a header name close to `name` (a stray space, another case), else ''; the
    header itself is never listed."""
    columns = [str(c) for c in frame.columns]
    same = [c for c in columns if c.strip().lower() == str(name).strip().lower()]
    if same:
        return f" (did you mean {same[0]!r}?)"
    hint = did_you_mean(str(name), columns)
    return hint if hint.startswith(" (did") else ""


def infer(train, test, sample, *, target: str | None = None, id_col: str | None = None,
          metric: str | None = None, task: str | None = None) -> Inferred:
    """Infer the competition's settings from its three tables (explicit values win)."""
    import pandas as pd

    reasons = {}
    if id_col is None:
        id_col = str(sample.columns[0])
        reasons["id"] = "first column of the sample submission"
    else:
        reasons["id"] = "given"
    for frame, what in ((train, "train"), (test, "test"), (sample, "sample submission")):
        if id_col not in frame.columns:
            raise UserError(f"id column {id_col!r} not found in {what}{_close(id_col, frame)}; pass --id COLUMN "
                            f"(or fix the header)")
    pred_cols = [c for c in sample.columns if c != id_col]
    if not pred_cols:
        raise UserError("the sample submission has no prediction column besides the id")
    multi = _infer_multi_target(train, pred_cols, target=target, task=task)
    if multi is not None:
        return _multi_target(train, test, id_col, pred_cols, multi, metric=metric, reasons=reasons,
                             given=task is not None)
    if target is None:
        in_train = [c for c in pred_cols if c in train.columns]
        absent = [c for c in train.columns if c not in test.columns and c != id_col]
        if len(pred_cols) == 1 and in_train:
            target, reasons["target"] = in_train[0], "the sample submission's column, found in train"
        elif len(absent) == 1:
            target, reasons["target"] = absent[0], "the one train column absent from test"
        else:
            raise UserError(f"cannot tell the target (train columns absent from test: {absent}); "
                            f"pass --target COLUMN")
    else:
        reasons["target"] = "given"
    if target not in train.columns:
        raise UserError(f"target {target!r} not found in train{_close(target, train)}; pass --target COLUMN")
    missing = int(train[target].isna().sum())
    if missing:  # `run` refuses them too; say so before a competition folder is written
        raise UserError(f"target {target!r} is missing in {missing} row(s) of train; drop or fill them")
    y = train[target]
    _check_target(target, y, task)
    inferred = task is None
    values = sorted(map(str, y.unique()))
    numeric = pd.api.types.is_numeric_dtype(y)
    integral = numeric and np.all(np.mod(y.to_numpy(dtype=float), 1) == 0)
    if task is not None:
        style = _given_task_style(task, y, pred_cols, sample, numeric)
        reasons["task"] = "given"
    elif len(pred_cols) > 1:
        if sorted(map(str, pred_cols)) != values:
            raise UserError(f"sample submission columns {pred_cols} are not the target's classes {values}; "
                            f"pass --target COLUMN")
        task, style = "multiclass", "classes"
        reasons["task"] = f"one sample-submission column per class ({len(pred_cols)} classes)"
    else:
        col = sample[pred_cols[0]]
        col_is_label = (not pd.api.types.is_float_dtype(col)) or set(map(str, col.unique())) <= set(values)
        col_is_fraction = pd.api.types.is_float_dtype(col) and bool(((col > 0) & (col < 1)).any())
        if y.nunique() == 2 and (col_is_fraction or not col_is_label):
            task, style = "binary", "proba"
            reasons["task"] = "two target values, probabilities in the sample submission"
        elif y.nunique() == 2:
            task, style = "binary", "label"
            reasons["task"] = "two target values, labels in the sample submission"
        elif (not numeric or integral) and y.nunique() <= MAX_LABEL_CLASSES and col_is_label and not col_is_fraction:
            task, style = "multiclass", "label"
            reasons["task"] = f"{y.nunique()} discrete target values, labels in the sample submission"
        elif numeric:
            task, style = "regression", "value"
            reasons["task"] = f"numeric target with {y.nunique()} distinct values"
        else:
            raise UserError(f"cannot tell the task for target {target!r} ({y.nunique()} text values); "
                            f"check --target or pass --task")
    if inferred and task != "regression":
        reasons["task"] += f"; {_counts(y.value_counts())}"
        _check_target(target, y, task)
    if metric is None:
        if task == "regression":
            skew = float(y.skew()) if len(y) > 2 else 0.0
            if float(y.min()) >= 0 and skew > 1:
                metric, why = "rmsle", f"non-negative target with skew {skew:.1f}"
            else:
                metric, why = "rmse", "regression default"
        elif style == "label":
            metric, why = "accuracy", "labels are submitted"
        elif task == "binary":
            metric, why = "roc_auc", "binary probabilities"
        else:
            metric, why = "log_loss", "class probabilities"
        reasons["metric"] = why + "; override with --metric"
    else:
        reasons["metric"] = "given"
    train_only = [str(c) for c in train.columns if c not in test.columns and c not in (id_col, target)]
    return Inferred(id_col, target, task, metric, style, reasons, train_only)


def _binary01(column) -> bool:
    """Whether a train column holds exactly the values 0 and 1 (numbers or booleans), none missing."""
    values = set(column.dropna().unique().tolist())
    return column.notna().all() and len(values) == 2 and values <= {0, 1}


def _infer_multi_target(train, pred_cols: list, *, target: str | None, task: str | None) -> str | None:
    """The multi-target task of a sample submission with several prediction columns that are all
    train columns (no --target given): multilabel when each holds 0 and 1 only, else multiregression;
    a multi-target --task forces it. None: a single-target competition."""
    from core.tasks import TASKS

    kinds = {t.column_task: t.name for t in TASKS.values() if t.multi_target}
    if task is not None and task in TASKS and TASKS[task].multi_target:
        return task
    if target is not None or task is not None or len(pred_cols) < 2 or any(c not in train.columns for c in pred_cols):
        return None
    return kinds["binary"] if all(_binary01(train[c]) for c in pred_cols) else kinds["regression"]


def _multi_target(train, test, id_col: str, pred_cols: list, task: str, *, metric: str | None,
                  reasons: dict, given: bool) -> Inferred:
    """A multi-target competition: the sample submission's prediction columns are the targets (in its
    order), checked column by column as the task's column task."""
    import pandas as pd

    from core.tasks import TASKS

    kind = TASKS[task]
    if len(pred_cols) < 2:
        raise UserError(f"--task {task}: the sample submission has {len(pred_cols)} prediction column; a {task} "
                        f"task submits one column per target, at least 2")
    missing = [c for c in pred_cols if c not in train.columns]
    if missing:
        raise UserError(f"--task {task}: the sample submission's column(s) {missing} are not train columns; the "
                        f"targets of a {task} task are the sample submission's columns")
    for c in pred_cols:
        column = train[c]
        if kind.classification and not _binary01(column):
            raise UserError(f"--task {task}: target column {c!r} is not 0/1 ({_counts(column.value_counts())}); "
                            f"use --task {next(t.name for t in TASKS.values() if t.multi_target and not t.classification)}")
        if not kind.classification and not pd.api.types.is_numeric_dtype(column):
            raise UserError(f"--task {task}: target column {c!r} holds text; a {task} target column must be numbers")
        if column.isna().any():
            raise UserError(f"target column {c!r} is missing in {int(column.isna().sum())} row(s); drop or fill them")
    reasons["target"] = f"the sample submission's {len(pred_cols)} prediction columns, all found in train"
    reasons["task"] = "given" if given else (
        "every target column holds 0 and 1 only" if kind.classification else "numeric target columns")
    if metric is None:
        metric, why = kind.default_metric, "the task's default (the mean of the per-column scores, as Kaggle scores it)"
        reasons["metric"] = why + "; override with --metric"
    else:
        reasons["metric"] = "given"
    targets = [str(c) for c in pred_cols]
    train_only = [str(c) for c in train.columns if c not in test.columns and c != id_col and c not in targets]
    return Inferred(id_col, targets, task, metric, "targets", reasons, train_only)


def _given_task_style(task: str, y, pred_cols: list, sample, numeric: bool) -> str:
    """The submission style for a task given with --task, checked against the target."""
    import pandas as pd

    from core.tasks import TASKS

    if task not in TASKS:
        from core.errors import did_you_mean

        raise UserError(f"--task {task!r} is not a task{did_you_mean(task, tuple(TASKS))}")
    if not TASKS[task].classification:
        if not numeric:
            raise UserError(f"--task {task}: the target holds text; a regression target must be numbers")
        return "value"
    if task == "binary" and y.nunique() != 2:
        raise UserError(f"--task binary: the target has {y.nunique()} values ({_counts(y.value_counts())}), "
                        f"a binary target has 2")
    if len(pred_cols) > 1:
        return "classes"
    return "proba" if pd.api.types.is_float_dtype(sample[pred_cols[0]]) and task == "binary" else "label"


def render_config(inf: Inferred, files: dict[str, str], models: dict[str, dict] | None = None,
                  why: dict[str, str] | None = None) -> str:
    """A commented competition.toml: inferred values set, every other key shown with its default, and
    the model tables `models` (commented with `why`; None: one LightGBM)."""
    import tomlkit

    def toml(value) -> str:
        return tomlkit.item(value).as_string()

    values = {"competition": {"task": inf.task, "target": inf.target, "id": inf.id, "metric": inf.metric,
                              "submission": inf.submission, **files}}
    if inf.train_only:  # not features: absent from test
        values["features"] = {"drop": inf.train_only}
    if inf.cv:
        values["cv"] = dict(inf.cv)
    lines = ["# Competition definition: every key is documented in README.md (section 'competition.toml').",
             "# Commented keys show their defaults.", ""]
    choices = registry_choices()
    for section, schema in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, (_typ, default, help_) in schema.items():
            if (section, key) in choices:
                help_ = f"{help_}: {' | '.join(choices[section, key])}"
            if key in values.get(section, {}):
                lines.append(f"{key} = {toml(values[section][key])}  # {help_}")
            elif default is not REQUIRED:
                lines.append(f"# {key} = {toml(default)}  # {help_}")
        lines.append("")
    if models is None:
        lines += ["# One table per model; add more (sklearn estimators, plug-ins) to ensemble them.",
                  "[models.lgbm]", 'type = "lightgbm"', "params = {}", ""]
        return "\n".join(lines)
    lines += ["# The default model zoo for this task and data (pipeline/zoo.py): edit, remove or add models;",
              "# the ensemble stage weighs them by honest out-of-fold score.", ""]
    for name, table in models.items():
        lines.append(f"[models.{name}]" + (f"  # {why[name]}" if name in (why or {}) else ""))
        for key, value in table.items():
            if key == "params" and not value:
                continue
            item = tomlkit.inline_table() if isinstance(value, dict) else None
            if item is not None:
                item.update(value)
            lines.append(f"{key} = {(item if item is not None else tomlkit.item(value)).as_string()}")
        lines.append("")
    return "\n".join(lines)


# Words that name a time index in a column's name (Jane Street's date_id, Predict Future Sales' date_block_num,
# Numerai's era, IEEE-CIS's TransactionDT): with integers after train's last in every test row, time
_TIME_WORDS = frozenset({"date", "time", "day", "days", "week", "month", "year", "period", "era", "timestamp",
                         "dt", "step", "tick"})


def _split_in_time(train, test, inf: Inferred) -> None:
    """A time column whose every test row is at or after train's last (some beyond it): the test set is the
    future, so the folds should validate on later rows than they train on -- forward chaining on that column
    (set in inf.cv, with the reason). Only columns that say they are time (a number after train's range may be
    anything): dates, and whole numbers whose name holds a time word (`_time_index`); only a column forward
    chaining can order (no missing time, one date format) into its blocks."""
    import pandas as pd

    from features.columns import column_kind
    from pipeline.schemes import lies_after_train, time_blocks, time_values

    targets = inf.target if isinstance(inf.target, list) else [inf.target]
    for c in (c for c in train.columns if c in test.columns and c not in (inf.id, *targets)):
        if column_kind(train[c], test[c]) != "datetime" and not _time_index(train[c], test[c], c):
            continue
        try:
            both = time_values(pd.concat([train[[c]], test[[c]]], ignore_index=True), c)
            time_blocks(both[: len(train)], 6, column=c)  # the default 5 folds' blocks
        except UserError:
            continue
        if lies_after_train(both[: len(train)], both[len(train):]):
            inf.cv = {"scheme": "forward", "time_column": c}
            inf.reasons["cv"] = (f"every test row's {c} is at or after train's last: the test is the future, so "
                                 f"each fold validates on later rows than it trains on; scheme = \"auto\" for "
                                 f"shuffled folds")
            return


def _time_index(train_values, test_values, name: str) -> bool:
    """Whole numbers in a column whose name holds a time word (`_TIME_WORDS`, as a word of the name: date_id,
    TransactionDT, era), so their order is time's."""
    import re

    import pandas as pd

    if not all(pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v)
               for v in (train_values, test_values)):
        return False
    values = pd.concat([train_values, test_values]).dropna().to_numpy(dtype=float)
    if not len(values) or not (values == values.round()).all():
        return False
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)).lower()
    return bool(_TIME_WORDS & set(re.split(r"[^a-z]+", words)))


def _check_late_refusals(inf: Inferred, frames: list, paths: list[Path]) -> None:
    """What a run would refuse later, refused now: ids missing or seen twice, a sample submission no
    submission can match, a metric the target cannot take (rmsle on negative values)."""
    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from pipeline.data import check_ids
    from pipeline.submission import check_format

    for frame, path in zip(frames, paths):
        check_ids(frame, path, inf.id)
    train, sample, sample_path = frames[0], frames[2], paths[2]
    task = TaskInfo.from_target(inf.task, train[inf.target])
    check_format(sample, id_col=inf.id, task=task, style=inf.submission, where=str(sample_path))
    get_metric(inf.metric).check_target(train[inf.target], classification=task.is_classification)


def init_competition(workspace: Path, name: str, *, train: Path, test: Path, sample_submission: Path,
                     target: str | None = None, id_col: str | None = None, metric: str | None = None,
                     task: str | None = None, log=print) -> Path:
    """Create workspace/competition/NAME with the data and a commented competition.toml."""
    import re

    from core import io as _io

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UserError(f"competition name {name!r}: use letters, digits, '_', '-' or '.'")
    dest = Path(workspace) / "competition" / name
    if dest.exists():
        raise UserError(f"{dest} already exists; choose another name or remove it")
    if metric is not None:
        from core.metrics import get_metric

        get_metric(metric)
    files = {"train": "train.csv", "test": "test.csv", "sample_submission": "sample_submission.csv"}
    sources = dict(zip(files, (Path(train), Path(test), Path(sample_submission))))
    with tempfile.TemporaryDirectory(prefix="pipeline-init-") as scratch:
        # a Parquet file is written as CSV first, so that what init infers is what every stage will read
        readable = {key: _parquet_as_csv(src, Path(scratch) / files[key]) if _is_parquet(src) else src
                    for key, src in sources.items()}
        frames = [_read(readable[key]) for key in files]
        if len(frames[0]) == 0:
            raise UserError(f"{train}: no data rows")
        inf = infer(*frames, target=target, id_col=id_col, metric=metric, task=task)
        _check_late_refusals(inf, frames, list(sources.values()))
        _split_in_time(frames[0], frames[1], inf)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = _io.temp_dir(dest.parent, f".{name}.")
        try:
            for key, src in readable.items():
                _copy_plain(src, tmp / files[key])
            from pipeline.zoo import default_models, describe, facts_of

            facts = facts_of(frames[0], frames[1], id_col=inf.id, target=inf.target, task=inf.task)
            config = render_config(inf, {}, default_models(inf.task, facts), describe(inf.task, facts))
            (tmp / "competition.toml").write_text(config, encoding="utf-8")
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    for src, name in zip((train, test, sample_submission), files.values()):
        if Path(src).suffix.lower() in COMPRESSED_SUFFIXES:
            log(f"{Path(src).name}: decompressed into the competition folder")
        elif _is_parquet(src):
            log(f"{Path(src).name}: written as {name} in the competition folder (every stage reads CSV)")
    for key in ("id", "target", "task", "metric"):
        log(f"{key}: {getattr(inf, key)}  ({inf.reasons[key]})")
    log(f"submission: {inf.submission}")
    if inf.cv:
        log(f"cv: forward chaining on {inf.cv['time_column']}  ({inf.reasons['cv']})")
    for column in inf.train_only:
        log(f"column {column!r} is in train but not in test, so it cannot be a feature: listed in features.drop")
    return dest
