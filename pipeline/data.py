"""Reading a competition's data and its saved folds, checked, from parsed snapshots when unchanged.

`read_data` and `read_folds` are the only readers: they parse and check the CSV files (unique ids,
a target in every row, the sample submission listing exactly the test ids) and keep parsed
copies, so a stage re-reads a large CSV in milliseconds:

    runs/cache/data/<key>/train.feather, test.feather, sample_submission.feather, meta.json
    runs/cache/data/folds-<key>.npy     fold per train row (runs/folds.csv aligned with train.csv)
    runs/cache/data/files.json          path -> [size, mtime_ns, sha256]: unchanged files are not re-hashed

The key covers the files' content (SHA-256), the settings the checks use (id,
target, cv.n_splits), the source of the code that parses them and the pandas/pyarrow versions. A
snapshot is kept only when reading it back gives identical frames (values, dtypes, columns); a
table Arrow cannot hold exactly is parsed from CSV every time. Entries are written under a
temporary name and renamed into place; the newest `KEEP` of each kind are kept.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path

import numpy as np

from core import fingerprint
from core import io as _io
from core.keyed import KeyedFolders
from core.errors import UserError, shown
from pipeline.config import Competition

KEEP = 2
_PARTS = ("train", "test", "sample_submission")
_PENDING: dict[Path, dict] = {}  # files.json memos in use, written after a successful read
_ON_DISK: dict[Path, dict] = {}  # ... and as they were read


def cache_root(comp: Competition) -> Path:
    """Folder of the data snapshots."""
    return comp.runs / "cache" / "data"


def data_digest(comp: Competition) -> str:
    """Digest of train/test/sample_submission content and of how they are parsed and checked."""
    files = [file_digest(comp, p) for p in (comp.train_path, comp.test_path, comp.sample_path)]
    code = fingerprint.shared().module(__name__)  # this parser and the project code it runs, derived
    return _io.hash_obj({"files": files, "code": code, "id": comp.id_col, "target": comp.target,
                         "n_splits": comp.cfg["cv"]["n_splits"], "libraries": library_versions()})


def file_digest(comp: Competition, path: Path) -> str:
    """SHA-256 of a file, remembered by (size, mtime_ns) in runs/cache/data/files.json; the memo is
    written after the next successful `read_data` or `read_folds`, so a failed run leaves nothing behind."""
    memo_path = cache_root(comp) / "files.json"
    if memo_path not in _PENDING:
        try:
            memo = _io.read_json(memo_path) if memo_path.is_file() else {}
        except ValueError:
            memo = {}
        _PENDING[memo_path] = memo if isinstance(memo, dict) else {}
        _ON_DISK[memo_path] = dict(_PENDING[memo_path])
    return _io.hash_file(path, memo=_PENDING[memo_path])


def _flush(comp: Competition) -> None:
    """Write the files.json memo if it learned something (after a successful read)."""
    memo_path = cache_root(comp) / "files.json"
    memo = _PENDING.pop(memo_path, None)
    if memo is not None and memo != _ON_DISK.pop(memo_path, None):
        _io.write_json(memo_path, {k: v for k, v in memo.items() if Path(k).exists()})


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, list]:
    """Installed versions of the libraries that parse and store the data, without importing them."""
    return {name: installed(name, dist) for name, dist in (("numpy", "numpy"), ("pandas", "pandas"),
                                                          ("pyarrow", "pyarrow"))}


def installed(package: str, dist: str) -> list:
    """An installed package's dist-info folder name(s) (name and version) and its __init__.py's
    path, size and modification time, found without importing it (importlib.metadata is slower)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return [package, "absent"]
    origin = Path(spec.origin)
    prefix = dist.lower().replace("-", "_") + "-"
    try:
        infos = sorted(n for n in os.listdir(origin.parent.parent)
                       if n.lower().startswith(prefix) and n.endswith(".dist-info"))
    except OSError:
        infos = []
    st = origin.stat()
    return [infos, str(origin), st.st_size, st.st_mtime_ns]


def read_data(comp: Competition, digest: str | None = None):
    """(train, test, sample_submission) as DataFrames, checked; from the snapshot when the files are
    unchanged. `digest` is `data_digest(comp)` when the caller has it."""

    digest = digest or data_digest(comp)
    entries = _snapshots(comp)
    frames = _load(entries, digest)
    if frames is None:
        frames = _parse_data(comp)
        _save(entries, digest, frames)
    _flush(comp)
    return frames


def read_folds(comp: Competition, train, digest: str | None = None, *, repeat: int = 0) -> np.ndarray:
    """Fold per train row from runs/folds.csv (-1: never validated), aligned with train's row order, for
    CV repeat `repeat` (0: the `fold` column; r: `fold_r<r>`, cv.repeats); remembered by the content of
    runs/folds.csv and the data files."""
    table = _fold_table(comp, train, digest)
    column = "fold" if repeat == 0 else f"fold_r{repeat}"
    if column not in table:
        raise UserError(f"{comp.folds_path} has no column {column!r} (CV repeat {repeat}); re-run "
                        f"`python -m pipeline run --stage folds --force`")
    return table[column]


def fold_repeats(comp: Competition, train, digest: str | None = None) -> int:
    """How many CV repeats runs/folds.csv holds (cv.repeats when it was written)."""
    table = _fold_table(comp, train, digest)
    return 1 + sum(name.startswith("fold_r") for name in table)


def read_train_from(comp: Competition, train, digest: str | None = None) -> np.ndarray | None:
    """Per train row the first fold that may train on it (runs/folds.csv's `train_from`, written by
    forward chaining; core.folds.train_mask), or None when every fold trains on the rows it does not
    validate."""
    return _fold_table(comp, train, digest).get("train_from")


def read_weights(comp: Competition, train) -> np.ndarray | None:
    """Per train row its sample weight ([competition] weight; None without one): the column must be
    numeric, with no missing value, none negative, not all zero (else UserError, one line)."""
    col = comp.weight_col
    if not col:
        return None
    import pandas as pd

    values = train[col]
    where = f"{comp.train_path}: competition.weight column {col!r}"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        text = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        example = f", e.g. {shown(text.iloc[0])}" if len(text) else ""
        raise UserError(f"{where} is not numeric ({values.dtype}{example}); name a column of numbers")
    w = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(w)
    if bad.any():
        raise UserError(f"{where} has {int(bad.sum())} missing or infinite value(s) (first at id "
                        f"{shown(train[comp.id_col].iloc[int(np.argmax(bad))])}); give every row a weight")
    if (w < 0).any():
        first = int(np.argmax(w < 0))
        raise UserError(f"{where} has {int((w < 0).sum())} negative value(s) (id "
                        f"{shown(train[comp.id_col].iloc[first])}: {w[first]:g}); weights must be >= 0")
    if not (w > 0).any():
        raise UserError(f"{where} is 0 on every row; at least one row must weigh more than 0")
    return w


def _fold_table(comp: Competition, train, digest: str | None) -> dict[str, np.ndarray]:
    """runs/folds.csv's columns (fold, train_from, fold_r1, ...) aligned with train's rows."""
    if not comp.folds_path.is_file():
        return _parse_folds(comp, train)
    key = _io.hash_bytes(digest or data_digest(comp), file_digest(comp, comp.folds_path))
    path = cache_root(comp) / f"folds-{key[:32]}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError):
        with np.load(path) as saved:
            table = {name: saved[name] for name in saved.files}
        if "fold" in table and all(a.shape == (len(train),) and a.dtype == np.int64 for a in table.values()):
            os.utime(path)
            _flush(comp)
            return table
    table = _parse_folds(comp, train)
    with _io.atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **table)
    _prune(sorted(path.parent.glob("folds-*.np[yz]"), key=_mtime))
    _flush(comp)
    return table


class _NoSnapshot(Exception):
    """A frame that would not read back identical: leave no snapshot."""


def _snapshots(comp: Competition) -> KeyedFolders:
    return KeyedFolders(cache_root(comp), keep=KEEP)


def _load(entries: KeyedFolders, digest: str):
    from pyarrow import ArrowException

    if entries.meta(digest) is None:
        return None
    folder = entries.path(digest)
    try:
        return tuple(read_snapshot(folder / f"{part}.feather") for part in _PARTS)
    except (OSError, ValueError, KeyError, ArrowException):
        return None


def _save(entries: KeyedFolders, digest: str, frames) -> None:
    """Write the snapshot if it reads back identical; any failure just leaves no snapshot."""
    from pyarrow import ArrowException, feather

    try:
        with entries.writing(digest) as tmp:
            for part, frame in zip(_PARTS, frames):
                # one record batch, so that each column is one contiguous, mappable buffer (read_snapshot)
                feather.write_feather(frame, tmp / f"{part}.feather", compression="uncompressed",
                                      chunksize=max(1, len(frame)))
                if not _reads_back(frame, tmp / f"{part}.feather"):
                    raise _NoSnapshot
            release_arrow_memory()
    except (_NoSnapshot, OSError, ValueError, TypeError, ArrowException):
        return


def read_snapshot(path: Path, columns: list | None = None):
    """A snapshot file as a DataFrame. Its plain numeric columns (one chunk, no missing values) are
    numpy views of the memory-mapped file, not copies: pages are read when first touched, so a stage
    that uses a few columns of a wide table (ids, target) holds only those in memory. Other columns,
    and a table whose index is not the default one, are converted by pyarrow as before."""
    import pandas as pd
    import pyarrow as pa
    from pyarrow import feather

    table = feather.read_table(path, columns=columns, memory_map=True)
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    if not (len(index) == 1 and isinstance(index[0], dict) and index[0].get("kind") == "range"
            and index[0].get("start") == 0 and index[0].get("step") == 1 and index[0].get("stop") == table.num_rows):
        return table.to_pandas(split_blocks=True)
    out = {}
    for name in table.column_names:
        column = table.column(name)
        if (column.num_chunks == 1 and column.null_count == 0
                and (pa.types.is_floating(column.type) or pa.types.is_integer(column.type))):
            out[name] = column.chunk(0).to_numpy(zero_copy_only=True)
        else:
            out[name] = table.select([name]).to_pandas(split_blocks=True)[name]
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows), copy=False)


def release_arrow_memory() -> None:
    """Hand the memory pyarrow's allocator keeps after a conversion (mimalloc/jemalloc hold freed
    blocks for reuse) back to the system, so that a stage's peak does not stay with the process."""
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def release_memory() -> None:
    """Between stages: collect the frames' reference cycles, and hand the memory the allocators keep
    for reuse back to the system (pyarrow's pool; glibc's heap, where pandas' parser and numpy's
    mid-sized arrays live: 1 GB stayed with the process after parsing a 1,000,000 x 100 CSV)."""
    import ctypes
    import gc

    gc.collect()
    release_arrow_memory()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reads_back(frame, path: Path) -> bool:
    """Whether `read_snapshot(path)` gives `frame` again (values, dtypes, columns, index), compared
    a column at a time so that the check never holds a second copy of the table. A plain numeric
    column (numpy ints, floats, bools) is stored bit for bit, so its stored type is checked and its
    values are not read back: reading them would map the whole file into memory (1 GB more at its
    peak for a 1,000,000 x 100 table)."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        schema = pa.ipc.open_file(source).schema
    if schema.names != list(frame.columns):
        return False
    for i, name in enumerate(schema.names):
        dtype = frame[name].dtype
        if i and isinstance(dtype, np.dtype) and dtype.kind in "biuf":  # the first column checks the index too
            if schema.field(name).type != pa.from_numpy_dtype(dtype):
                return False
        elif not _identical(frame[[name]], read_snapshot(path, columns=[name])):
            return False
    return True


def _identical(a, b) -> bool:
    return (list(a.columns) == list(b.columns) and a.dtypes.tolist() == b.dtypes.tolist()
            and a.index.equals(b.index) and type(a.index) is type(b.index) and a.equals(b))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _prune(oldest_first: list[Path]) -> None:
    for old in oldest_first[: max(0, len(oldest_first) - KEEP)]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                old.unlink()


def _parse_data(comp: Competition):
    """(train, test, sample_submission) parsed from CSV; ids are checked unique and consistent."""
    import pandas as pd

    frames = []
    for path in (comp.train_path, comp.test_path, comp.sample_path):
        with csv_errors(path):
            frames.append(read_csv(path))
    train, test, sample = frames
    if len(train) == 0:
        raise UserError(f"{comp.train_path}: no data rows; the training file needs at least one row per fold")
    if len(test) == 0:
        raise UserError(f"{comp.test_path}: no data rows")
    for frame, path in ((train, comp.train_path), (test, comp.test_path), (sample, comp.sample_path)):
        check_ids(frame, path, comp.id_col)
    for target in comp.target_columns:
        if train[target].isna().any():
            n = int(train[target].isna().sum())
            raise UserError(f"{comp.train_path}: target {target!r} is missing in {n} row(s); drop or fill them")
    _check_target(comp, train[comp.target])
    if set(sample[comp.id_col].tolist()) != set(test[comp.id_col].tolist()):
        raise UserError(f"{comp.sample_path}: ids differ from {comp.test_path.name}; "
                        f"the sample submission must list exactly the test ids")
    n_splits = comp.cfg["cv"]["n_splits"]
    if len(train) < 2 * n_splits:
        raise UserError(f"{comp.train_path}: {len(train)} rows cannot fill cv.n_splits = {n_splits} folds of at "
                        f"least 2 rows; set cv.n_splits to at most {max(2, len(train) // 2)}")
    return train, test, sample


def check_ids(frame, path: Path, id_col: str) -> None:
    """UserError naming the first row without an id, or the first id seen twice."""
    missing = frame[id_col].isna()
    if missing.any():
        raise UserError(f"{path}: {int(missing.sum())} row(s) have no id in column {id_col!r} (first on "
                        f"line {int(np.flatnonzero(missing.to_numpy())[0]) + 2}); give every row a unique id")
    dup = frame[id_col].duplicated()
    if dup.any():
        first = frame[id_col][dup].iloc[0]
        raise UserError(f"{path}: {int(dup.sum())} duplicate id(s) in column {id_col!r} "
                        f"(first: {_short(first)}); ids must be unique")


CSV_CHUNK_ROWS = 100_000
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip")  # what pandas decompresses by a file name's ending


@contextlib.contextmanager
def csv_errors(path: Path):
    """Turn pandas' errors while reading the CSV `path` into one-line UserErrors (empty, unparsable, not UTF-8,
    a compressed download that does not decompress)."""
    import lzma
    import zipfile

    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: file is empty; it needs a header row and data") from None
    except pd.errors.ParserError as exc:
        raise UserError(f"{path}: cannot parse CSV ({str(exc).splitlines()[0][:200]}); check the quoting "
                        f"and the number of fields on that line") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    except (EOFError, OSError, lzma.LZMAError, zipfile.BadZipFile) as exc:  # a broken .gz, .bz2, .xz or .zip
        if Path(path).suffix.lower() not in COMPRESSED_SUFFIXES:
            raise
        raise UserError(f"{path}: cannot decompress it ({type(exc).__name__}: {str(exc)[:80]}); download it again, "
                        f"or decompress it yourself and pass the CSV") from None


@contextlib.contextmanager
def parquet_errors(path: Path):
    """Turn pyarrow's errors while reading the Parquet file `path` into one-line UserErrors, as `csv_errors` does
    for a CSV."""
    import pyarrow as pa

    try:
        yield
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError, ArrowIOError an OSError
        raise UserError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); write or download it again") from None


def read_parquet_table(path: Path):
    """A Parquet data file's frame (a download that ships train.parquet); unreadable: `parquet_errors`."""
    import pandas as pd

    with parquet_errors(path):
        return pd.read_parquet(path)


def read_csv(path: Path):
    """`pd.read_csv(path, low_memory=False)`'s frame, parsed `CSV_CHUNK_ROWS` rows at a time: each chunk's
    columns are copied out and the chunk dropped at once, and the frame is assembled a column at a time
    without a consolidating copy. The one-pass parse held the tokenised text beside the frame (2.4 GB at
    its peak for a 0.8 GB frame, 1,000,000 x 100); keeping the chunks until the end held them beside
    the frame (1.7 GB). Chunks whose types disagree (a column numeric in one, text in another) would
    infer types another way than one pass over the file, so the file is then parsed in one pass."""
    import pandas as pd

    pieces: dict[str, list] = {}
    dtypes = None
    for chunk in pd.read_csv(path, low_memory=False, chunksize=CSV_CHUNK_ROWS):
        if dtypes is None:
            dtypes = chunk.dtypes.tolist()
            pieces = {name: [] for name in chunk.columns}
        elif chunk.dtypes.tolist() != dtypes:
            pieces.clear()
            return pd.read_csv(path, low_memory=False)
        for name in chunk.columns:
            column = chunk[name]
            numbers = isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM"
            pieces[name].append(column.to_numpy(copy=True) if numbers else column)
        del chunk, column
    if dtypes is None:
        return pd.read_csv(path, low_memory=False)
    n_rows = sum(len(part) for part in next(iter(pieces.values())))
    columns = {}
    for name in list(pieces):
        parts = pieces.pop(name)
        columns[name] = (np.concatenate(parts) if isinstance(parts[0], np.ndarray)
                         else pd.concat(parts, ignore_index=True))
        del parts
    return pd.DataFrame(columns, index=pd.RangeIndex(n_rows), copy=False)


def _short(value) -> str:
    """A value for a message: its repr, cut to 40 characters."""
    text = shown(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_target(comp: Competition, target) -> None:
    """A classification target needs the classes its task implies: binary exactly two, multiclass at least
    two (`init` infers the task; an edited config or data file can contradict it). A multi-target task's
    columns are checked one by one as its column task: multilabel columns hold 0 and 1 only."""
    from core.tasks import TASKS

    task = TASKS[comp.task]
    if task.multi_target:
        for column in comp.target_columns:
            _check_column(comp, column, train_column=target[column], task=TASKS[task.column_task])
        return
    _check_column(comp, comp.target, train_column=target, task=task)


def _check_column(comp: Competition, name: str, *, train_column, task) -> None:
    """One target column checked as `task` (a core.tasks.Task: the competition's, or its column task)."""
    from core.tasks import TASKS

    target = train_column
    if not task.classification:
        if not _numeric(target):
            raise UserError(f"{comp.train_path}: target {name!r} of a regression task holds text "
                            f"(e.g. {_short(target.dropna().iloc[0])}); set competition.task to a classification task")
        return
    counts = target.value_counts()
    if TASKS[comp.task].multi_target and not set(counts.index.astype(str)) <= {"0", "1", "True", "False"}:
        shown = ", ".join(f"{_short(v)}: {n}" for v, n in counts.head(5).items())
        raise UserError(f"{comp.train_path}: a {comp.task} target column holds 0 and 1 only, {name!r} has "
                        f"{len(counts)} value(s) ({shown}{', ...' if len(counts) > 5 else ''}); fix the column, "
                        f"or set competition.task = 'multiregression'")
    wanted = None if task.per_class_outputs else 2  # one probability column describes exactly two classes
    if len(counts) < 2 or (wanted is not None and len(counts) != wanted):
        shown = ", ".join(f"{_short(v)}: {n}" for v, n in counts.head(5).items())
        raise UserError(f"{comp.train_path}: a {comp.task} target needs {'exactly 2' if wanted else 'at least 2'} "
                        f"classes, {name!r} has {len(counts)} ({shown}{', ...' if len(counts) > 5 else ''}); "
                        f"fix the rows with stray labels or set competition.task")


def _numeric(series) -> bool:
    """Whether a column holds numbers (pandas' view of its dtype)."""
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series))


def _parse_folds(comp: Competition, train) -> dict[str, np.ndarray]:
    """runs/folds.csv's fold columns (fold; train_from and fold_r<r> when present) per train row,
    aligned with train's row order."""
    import pandas as pd

    folds = pd.read_csv(comp.folds_path)
    columns = [c for c in folds.columns if c in ("fold", "train_from") or c.startswith("fold_r")]
    index = pd.Index(folds[comp.id_col])
    pos = index.get_indexer(train[comp.id_col]) if index.is_unique else np.full(len(train), -2)
    if (pos == -2).any():
        raise UserError(f"{comp.folds_path}: an id appears twice; re-run `python -m pipeline run --stage folds --force`")
    if (pos < 0).any():
        first = train[comp.id_col].to_numpy()[np.flatnonzero(pos < 0)[0]]
        raise UserError(f"{comp.folds_path}: {int((pos < 0).sum())} train id(s) have no fold (first: {shown(first)}); "
                        f"re-run `python -m pipeline run --stage folds --force`")
    return {c: folds[c].to_numpy(dtype=np.int64)[pos] for c in columns}
