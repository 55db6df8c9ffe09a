"""Validating the configured blocks, choosing defaults, running blocks through the cache."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from features import _cache
from features._base import Block, BlockContext, BlockOutput, check_params
from features._categorical import Category, Count, Label, OneHot
from features.columns import column_kinds, digest_series, pixel_grid
from features._datetime import DateParts, GroupAggregate
from features._image import Image
from features._numeric import Log, MissingIndicator, Numeric, Pairs, Rank
from features._portable import Unportable, portable
from features._target import TargetEncoding
from features.text import BagOfWords, TextSequence, TfidfLinear, TfidfSVD
from core import fingerprint
from core import io as _io
from core.errors import UserError, did_you_mean, exception_line
from core.params import load_module_file

BUILTIN_BLOCKS: dict[str, type[Block]] = {cls.name: cls for cls in (
    Numeric, MissingIndicator, Log, Rank, Label, Count, OneHot, Category, TargetEncoding, DateParts,
    GroupAggregate, TextSequence, BagOfWords, TfidfSVD, TfidfLinear, Image, Pairs)}
LOW_CARDINALITY = 50  # categorical columns with more distinct values get label + count + target encoding
# Products and ratios of the numeric columns with at least PAIRS_MIN_LEVELS distinct values (quantities, not
# flags or small counts) when there are 2 to PAIRS_MAX_COLUMNS of them (28 pairs, 56 columns at most). On the
# 18-set suite (benchmarks/quality.py, 2026-12-07, CatBoost ignoring them: its cost follows columns x borders)
# eight sets got the block; the ensemble's OOF error fell on seven (hpc +1.27 %, deliveries +0.44 % and movies
# +0.09 % beyond the rows' noise), concrete's was unchanged, none worse; the other ten are untouched.
PAIRS_MIN_LEVELS = 10
PAIRS_MAX_COLUMNS = 8
_PACKAGE = Path(__file__).resolve().parent


@dataclass
class BlockState:
    """One block of a run with what it learned: enough to rebuild it and transform new rows.

    `state` is the block's state (JSON values and numpy arrays), or `features._portable.Unportable`
    saying why the block cannot transform new rows. `source`: a plug-in block's file (else None)."""

    name: str
    cls: str
    params: dict
    columns: list[str]
    inputs: list[str]
    key: str
    outputs: list[str]
    arrays: list[str]
    state: Any
    source: str | None = None


@dataclass
class FeatureSet:
    """Model inputs: train/test tables with identical columns, plus named array inputs (text, image).

    `report` lists each block run: {"block", "columns", "cached", "seconds"}; `states` each block's
    frozen state (`features.save_states` writes them); `input_dtypes` the test rows' input column types."""

    train: Any
    test: Any
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    report: list[dict] = field(default_factory=list)
    states: list[BlockState] = field(default_factory=list)
    input_dtypes: dict[str, str] = field(default_factory=dict)


def load_plugin(path: Path) -> dict[str, type[Block]]:
    """Blocks defined in a competition's features.py (Block subclasses or @feature_block functions)."""
    path = Path(path)
    module = load_module_file(path, prefix="features_plugin", what="feature plug-in")
    found = {}
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, Block) and obj.name and obj.__module__ == module.__name__:
            if obj.name in BUILTIN_BLOCKS:
                raise UserError(f"{path}: block name {obj.name!r} is a built-in block; rename the plug-in block")
            obj._source_file = str(path)
            found[obj.name] = obj
    return found


def default_blocks(train, test, kinds: dict[str, str], levels: Callable[[str], int] | None = None) -> list[dict]:
    """Blocks chosen from the column kinds: numeric passthrough (+ missing indicators, + an image
    array for a pixel grid, else products and ratios of a few quantities); categoricals as native
    categories (<= LOW_CARDINALITY values) or label + target encoding, both with counts; date parts;
    TF-IDF features and sequences for free text."""
    by_kind: dict[str, list[str]] = {}
    for col, kind in kinds.items():
        by_kind.setdefault(kind, []).append(col)
    count = levels or (lambda c: _n_levels(train[c], test[c]))
    blocks: list[dict] = []
    numeric = by_kind.get("numeric", [])
    if numeric:
        blocks.append({"block": "numeric", "columns": numeric})
        missing = MissingIndicator.select_default(train, test, numeric)
        if missing:
            blocks.append({"block": "missing_indicator", "columns": missing})
        grid = pixel_grid(numeric)
        if grid:
            blocks.append({"block": "image", "columns": grid[0], "shape": list(grid[1])})
        else:
            quantities = [c for c in numeric if count(c) >= PAIRS_MIN_LEVELS]
            if 2 <= len(quantities) <= PAIRS_MAX_COLUMNS:
                blocks.append({"block": "pairs", "columns": quantities})
    low, high = [], []
    for col in by_kind.get("categorical", []):
        (low if count(col) <= LOW_CARDINALITY else high).append(col)
    if low:
        blocks.append({"block": "category", "columns": low})
    if high:
        blocks.append({"block": "label", "columns": high})
    if low or high:
        blocks.append({"block": "count", "columns": low + high})
    if high:
        blocks.append({"block": "target_encoding", "columns": high})
    if by_kind.get("datetime"):
        blocks.append({"block": "datetime", "columns": by_kind["datetime"]})
    text = by_kind.get("text", [])
    if text:
        blocks += [{"block": "tfidf_linear", "columns": text}, {"block": "tfidf_svd", "columns": text},
                   {"block": "text_sequence", "columns": text}]
    return blocks


def _n_levels(train_col, test_col) -> int:
    """Distinct values in train and test (counted on evenly spaced rows first: exact when few)."""
    import pandas as pd

    step = max(1, (len(train_col) + len(test_col)) // 20_000)
    sample = pd.concat([train_col.iloc[::step], test_col.iloc[::step]]).nunique()
    if sample > LOW_CARDINALITY:
        return sample
    return len(pd.Index(train_col.dropna().unique()).union(pd.Index(test_col.dropna().unique())))


class ColumnFacts:
    """Content digests, kinds and level counts of columns; kinds and levels are remembered on disk
    (`<cache_dir>/columns.json`) by content digest, so unchanged columns are not re-inspected."""

    MAX_ENTRIES = 5000

    def __init__(self, train, test, cache_dir: Path | None = None, threads: int = 1,
                 data_digest: str | None = None):
        self.train, self.test, self.threads = train, test, max(1, threads)
        self.path = Path(cache_dir) / "columns.json" if cache_dir is not None else None
        self.memo: dict[str, dict] = {}
        self.dirty = False
        if self.path is not None and self.path.is_file():
            try:
                self.memo = _io.read_json(self.path)
            except ValueError:
                self.memo = {}
        self.digests: dict[str, str] = {}
        self.remember_digests = data_digest is not None
        if data_digest is not None:  # digests of the columns parsed from these exact files
            self.digests = self.memo.setdefault(f"data:{_io.hash_bytes(data_digest, _facts_code())}", {})

    def _digest(self, col: str) -> str:
        test_part = digest_series(self.test[col]) if col in self.test.columns else "absent"
        return _io.hash_bytes(digest_series(self.train[col]), test_part)

    def prefetch(self, cols) -> None:
        """Digest several columns in parallel threads (hashlib releases the GIL on large buffers)."""
        todo = sorted(set(cols) - set(self.digests))
        if not todo:
            return
        with ThreadPoolExecutor(self.threads) as pool:
            self.digests.update(zip(todo, pool.map(self._digest, todo)))
        self.dirty |= self.remember_digests

    def digest(self, col: str) -> str:
        """Digest of the column's train and test values."""
        if col not in self.digests:
            self.digests[col] = self._digest(col)
            self.dirty |= self.remember_digests
        return self.digests[col]

    def _fact(self, col: str, name: str, compute: Callable[[], Any]) -> Any:
        # keyed by the column's content and the code that decides kinds and counts levels
        entry = self.memo.setdefault(_io.hash_bytes(self.digest(col), _facts_code()), {})
        if name not in entry:
            entry[name] = compute()
            self.dirty = True
        return entry[name]

    def kind(self, col: str) -> str:
        """numeric | categorical | text | datetime."""
        return self._fact(col, "kind", lambda: column_kinds(self.train, self.test, [col])[col])

    def levels(self, col: str) -> int:
        """Distinct values in train and test (exact when at most LOW_CARDINALITY)."""
        return self._fact(col, "levels", lambda: int(_n_levels(self.train[col], self.test[col])))

    def save(self) -> None:
        """Write the remembered facts (newest MAX_ENTRIES) atomically."""
        if self.path is None or not self.dirty:
            return
        items = list(self.memo.items())[-self.MAX_ENTRIES:]
        _io.write_json(self.path, dict(items))
        self.dirty = False


def _facts_code() -> str:
    global _FACTS_CODE
    if _FACTS_CODE is None:
        _FACTS_CODE = _io.hash_bytes(fingerprint.shared().module("features.columns"), (_PACKAGE / "_build.py").read_bytes())
    return _FACTS_CODE


_FACTS_CODE: str | None = None


def plan_blocks(train, test, *, id_col: str, target: str | Sequence[str], blocks: list, drop: list[str],
                registry: dict[str, type[Block]], log: Callable[[str], None] = print,
                facts: ColumnFacts | None = None) -> list[Block]:
    """Validate block entries against the registry and the data; instantiate them. UserError on bad input."""
    targets = _target_list(target)
    usable = [c for c in train.columns if c in test.columns and c != id_col and c not in targets]
    pool = [c for c in usable if c not in set(drop)]
    facts = facts or ColumnFacts(train, test)
    kind = facts.kind

    if not blocks:
        facts.prefetch(pool)
        blocks = default_blocks(train, test, {c: kind(c) for c in pool}, levels=facts.levels)
        log("[features] automatic blocks (features.blocks = []): "
            + "; ".join(f"{b['block']}({', '.join(b['columns'][:4])}{', ...' if len(b['columns']) > 4 else ''})"
                        for b in blocks))
    out: list[Block] = []
    for i, entry in enumerate(blocks):
        where = f"features.blocks[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("block"), str):
            raise UserError(f"{where}: each block must be a table like {{block = \"numeric\"}}, got {entry!r}")
        name = entry["block"]
        if name not in registry:
            raise UserError(f"{where}: unknown block {name!r}{did_you_mean(name, tuple(registry))}")
        cls = registry[name]
        where = f"{where} ({name})"
        params = check_params(cls, {k: v for k, v in entry.items() if k != "block"}, where)
        columns = params.pop("columns") or list(cls.fixed_columns)
        explicit = bool(columns)
        for col in columns:
            _check_column(col, where, train, test, id_col, targets)
            if kind(col) not in cls.accepts:
                raise UserError(f"{where}: column {col!r} is {kind(col)}, but block {name!r} reads "
                                f"{' or '.join(cls.accepts)} columns; remove it from columns or use another block")
        block = cls(columns, **params)
        for col in block.inputs():
            if col not in columns:
                _check_column(col, where, train, test, id_col, targets)
        if not explicit:
            facts.prefetch(pool)
            columns = [c for c in pool if kind(c) in cls.default_kinds and c not in block.inputs()]
            select = getattr(cls, "select_default", None)
            columns = select(train, test, columns) if select else columns
            block = cls(columns, **params)
            if not columns:
                log(f"[features] {where}: no {'/'.join(cls.default_kinds)} columns to read, skipped")
                continue
        problem = block.check()
        if problem:
            raise UserError(f"{where}: {problem}")
        out.append(block)
    return out


def _target_list(target: str | Sequence[str]) -> list[str]:
    """The target column(s) as a list: one name, or a multi-target task's names."""
    return [target] if isinstance(target, str) else list(target)


def _check_column(col: str, where: str, train, test, id_col: str, targets: list[str]) -> None:
    if col in targets:
        raise UserError(f"{where}: column {col!r} is the target; features cannot read it "
                        f"(use target_encoding on a categorical column instead)")
    if col not in train.columns:
        raise UserError(f"{where}: column {col!r} not found in train{did_you_mean(col, list(train.columns))}; "
                        f"fix the block's columns")
    if col not in test.columns:
        raise UserError(f"{where}: column {col!r} is in train but not in test; features must exist in both")
    if col == id_col:
        raise UserError(f"{where}: column {col!r} is the id column; ids are not features")


def _code_digest(cls: type[Block]) -> str:
    """The block's code key, by the one code-fingerprint rule (core.fingerprint): its module (a plug-in:
    its file) and every project module that runs from it -- core.folds, which decides the rows a
    supervised block fits on, and core/features helpers included -- derived from the imports."""
    source = getattr(cls, "_source_file", None)
    return fingerprint.shared().files([Path(source)]) if source else fingerprint.shared().module(cls.__module__)


@dataclass
class FeaturePlan:
    """Validated blocks with their cache keys, ready to run: `digest` names the combined output
    (it changes whenever any block's key or the combining code changes)."""

    blocks: list[Block]
    keys: list[str]
    digest: str
    train: Any
    test: Any
    target: str | list[str]  # a multi-target task's: its target columns (supervised blocks fit once per column)
    task: Any
    folds: np.ndarray
    cache_dir: Path
    log: Callable[[str], None]
    threads: int
    seed: int
    train_from: np.ndarray | None = None

    def build(self) -> FeatureSet:
        """Load each block from the cache or compute and store it; combine the outputs."""
        from threadpoolctl import threadpool_limits

        train, test, log, threads = self.train, self.test, self.log, self.threads
        y: np.ndarray | None = None
        outputs: list[tuple[Block, BlockOutput]] = []
        report, states = [], []
        with threadpool_limits(limits=max(1, threads)):
            for block, key in zip(self.blocks, self.keys):
                t0 = time.perf_counter()
                cols = block.inputs()
                out = _cache.load(self.cache_dir, block.name, key)
                cached = out is not None
                if out is None:
                    if block.supervised and y is None:
                        y = _encoded_target(train, self.target, self.task)
                    ctx = BlockContext(task=self.task, folds=self.folds, y=y if block.supervised else None,
                                       threads=threads, seed=self.seed, log=log, train_from=self.train_from,
                                       targets=() if isinstance(self.target, str) else tuple(self.target))
                    out = _checked(block, _built(block, train[cols], test[cols], ctx), len(train), len(test))
                    out.state = _frozen_state(block, out.state, lambda: block.fit_state(train[cols], test[cols], ctx))
                    _cache.save(self.cache_dir, block.name, key, out, describe={"params": block.p, "inputs": cols})
                seconds = time.perf_counter() - t0
                report.append({"block": block.name, "columns": cols, "cached": cached, "seconds": seconds})
                width = out.train.shape[1]
                log(f"[features] {block.describe()}: {'cached' if cached else 'computed'} "
                    f"({width} column{'' if width == 1 else 's'}"
                    f"{', arrays ' + ', '.join(out.arrays) if out.arrays else ''}, {seconds:.2f}s)")
                outputs.append((block, out))
                states.append(_block_state(block, key, out))
        X_train, X_test, arrays = _combine(outputs, len(train), len(test))
        inputs = {c: str(test[c].dtype) for b in self.blocks for c in b.inputs()}
        return FeatureSet(X_train, X_test, arrays, report, states, inputs)


def plan_features(train, test, *, id_col: str, target: str | Sequence[str], task, folds: np.ndarray,
                  blocks: list[dict], drop: list[str], cache_dir: Path, plugin_file: Path | None = None,
                  log: Callable[[str], None] = print, threads: int = 1, seed: int = 0,
                  data_digest: str | None = None, train_from: np.ndarray | None = None) -> FeaturePlan:
    """Validate the blocks and compute their cache keys without running them (UserError on bad input).

    Supervised blocks encode fold k's rows from the rows fold k's models may train on: `folds` (and,
    for forward chaining, `train_from`; core.folds). `target`: a column, or a multi-target task's list of
    columns (`task` then the task of one column): a supervised block is fitted once per target column and
    its columns are named `{column}__{target}`.

    `data_digest`: a content digest of the files `train` and `test` were read from, unmodified; the
    columns' digests are then remembered under it instead of hashing every column again."""
    registry = dict(BUILTIN_BLOCKS)
    if plugin_file is not None:
        registry.update(load_plugin(plugin_file))
    train = train.reset_index(drop=True)
    test = test.reset_index(drop=True)
    folds = np.asarray(folds)
    if len(folds) != len(train):
        raise ValueError(f"folds has {len(folds)} entries for {len(train)} train rows")
    facts = ColumnFacts(train, test, cache_dir, threads, data_digest=data_digest)
    planned = plan_blocks(train, test, id_col=id_col, target=target, blocks=blocks, drop=drop,
                          registry=registry, log=log, facts=facts)
    targets = _target_list(target)
    has_target = all(t in train.columns for t in targets)
    needed = {c for b in planned for c in b.inputs()}
    if has_target and any(b.supervised for b in planned):
        needed.update(targets)
    facts.prefetch(needed)
    facts.save()  # validation passed: remembering column facts is safe now
    col_digest = facts.digest
    sup_digest = None
    keys = []
    for block in planned:
        cols = block.inputs()
        key_parts: dict[str, Any] = {"block": block.name, "params": block.p, "columns": cols,
                                     "data": [col_digest(c) for c in cols], "seed": seed,
                                     "code": _code_digest(type(block))}
        if block.supervised:
            if not has_target:
                raise UserError(f"block {block.name!r} needs the target {', '.join(map(repr, targets))} in train")
            if sup_digest is None:
                sup_digest = _io.hash_bytes(*map(col_digest, targets), *_folds_bytes(folds),
                                            repr((task.task, task.classes)),
                                            *(() if train_from is None else _folds_bytes(train_from)))
            key_parts["target_and_folds"] = sup_digest
        keys.append(_io.hash_obj(key_parts))
    digest = _io.hash_obj({"keys": keys, "rows": [len(train), len(test)],
                           "code": fingerprint.shared().module(__name__)})
    return FeaturePlan(planned, keys, digest, train, test, target if isinstance(target, str) else targets, task,
                       folds, Path(cache_dir), log, threads, seed,
                       None if train_from is None else np.asarray(train_from))


def _encoded_target(train, target: str | list[str], task) -> np.ndarray:
    """The target as supervised blocks see it: the task's encoding, one column per target of a multi-target task."""
    if isinstance(target, str):
        return task.encode(train[target])
    return np.column_stack([task.encode(train[t]) for t in target])


def _folds_bytes(folds: np.ndarray) -> tuple[str, bytes]:
    """The fold numbers as bytes for the key: one byte each when they fit (an eighth of the hashing)."""
    folds = np.asarray(folds, dtype=np.int64)
    if folds.size and -128 <= folds.min() and folds.max() <= 127:
        return "int8", folds.astype(np.int8).tobytes()
    return "int64", folds.tobytes()


def build_features(train, test, **options: Any) -> FeatureSet:
    """Validate and run the feature blocks (through the per-block cache): `plan_features(...).build()`,
    with `plan_features`'s keyword options. Train and test come back with identical columns, order
    and dtypes, without id and target; supervised blocks are fitted out of fold on `folds`."""
    return plan_features(train, test, **options).build()


def _built(block: Block, train, test, ctx: BlockContext) -> BlockOutput:
    """block.build(...); a plug-in block's failure is the user's code: one line naming its file, not an
    internal error."""
    source = getattr(block, "_source_file", "")
    if not source:
        return block.build(train, test, ctx)
    try:
        return block.build(train, test, ctx)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any failure of the plug-in's code is the plug-in's
        raise UserError(f"{source}: feature block {block.name!r} failed ({exception_line(exc)}); fix the block "
                        f"(--debug for the traceback)") from exc


def _feature_column(block: Block, name: str, values):
    """A block's output column as the models take it: numbers, booleans or a pandas category. A nullable
    pandas number becomes a float with NaN; ±inf becomes missing, as the numeric block reads it (XGBoost
    and scikit-learn refuse inf); anything else (text, dates, objects) -> UserError."""
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if not isinstance(dtype, np.dtype):  # a nullable pandas Int64, Float64 or boolean: NA as NaN
            values = values.astype("float64")
        if values.dtype.kind == "f":
            infinite = np.isinf(values.to_numpy())
            if infinite.any():
                values = values.mask(infinite)
        return values
    raise UserError(f"block {block.name!r}: column {name!r} holds {dtype} values; a feature column holds numbers, "
                    f"booleans or a pandas category (e.g. .astype('category'))")


def _checked(block: Block, out: BlockOutput, n_train: int, n_test: int) -> BlockOutput:
    import pandas as pd

    if not isinstance(out, BlockOutput) or not isinstance(out.train, pd.DataFrame) \
            or not isinstance(out.test, pd.DataFrame):
        raise UserError(f"block {block.name!r} must return BlockOutput(train DataFrame, test DataFrame), "
                        f"got {type(out).__name__}")
    if len(out.train) != n_train or len(out.test) != n_test:
        raise UserError(f"block {block.name!r} returned {len(out.train)} train / {len(out.test)} test rows, "
                        f"expected {n_train} / {n_test}")
    if list(out.train.columns) != list(out.test.columns):
        raise UserError(f"block {block.name!r} returned different train and test columns: "
                        f"{sorted(set(out.train.columns) ^ set(out.test.columns))[:5]}")
    for name, (tr, te) in out.arrays.items():
        if len(tr) != n_train or len(te) != n_test or tr.shape[1:] != te.shape[1:]:
            raise UserError(f"block {block.name!r}: array {name!r} has shapes {tr.shape} / {te.shape}, expected "
                            f"{n_train} / {n_test} rows with the same trailing shape")
    out.train.columns = [str(c) for c in out.train.columns]
    out.test.columns = [str(c) for c in out.test.columns]
    return BlockOutput(feature_frame(block, out.train.reset_index(drop=True)),
                       feature_frame(block, out.test.reset_index(drop=True)), out.arrays, state=out.state)


def feature_frame(block: Block, frame):
    """A block's output frame with every column as the models take it (`_feature_column`): what the run's
    rows got, and what `predict` gives new rows."""
    for name in frame.columns:
        checked = _feature_column(block, name, frame[name])
        if checked is not frame[name]:
            frame[name] = checked
    return frame


def _frozen_state(block: Block, state: Any, fit: Callable[[], Any]) -> Any:
    """The state to keep for a computed block: build's, else `fit_state`'s when the class has one, else
    an `Unportable` saying why new rows cannot be transformed (the run itself is not affected)."""
    if state is None and type(block).stateful():
        state = fit()
    if state is None:
        return Unportable(f"block {block.name!r} ({type(block).__name__}) implements only build, so it has no "
                          f"state for new rows; give it fit_state(train, test, ctx) and transform(state, X) "
                          f"(features/README.md, Your own blocks)")
    problem = portable(state)
    if problem is not None:
        return Unportable(f"block {block.name!r}: its state cannot be saved without pickle ({problem}); "
                          f"keep states to dicts, lists, str, numbers, bool, None and numpy arrays")
    return state


def _block_state(block: Block, key: str, out: BlockOutput) -> BlockState:
    cls = type(block)
    source = getattr(cls, "_source_file", None)
    return BlockState(name=block.name, cls=cls.__qualname__ if source else f"{cls.__module__}.{cls.__qualname__}",
                      params=dict(block.p), columns=list(block.columns), inputs=block.inputs(), key=key,
                      outputs=list(out.test.columns), arrays=sorted(out.arrays), state=out.state, source=source)


def _combine(outputs: list[tuple[Block, BlockOutput]], n_train: int, n_test: int):
    """Concatenate block outputs; refuse duplicate names; make train and test dtypes identical."""
    import pandas as pd

    owner: dict[str, str] = {}
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for block, out in outputs:
        for col in out.train.columns:
            if col in owner:
                raise UserError(f"features.blocks: column {col!r} is produced by both {owner[col]} and "
                                f"{block.describe()}; remove one of them")
            owner[col] = block.describe()
        for name, pair in out.arrays.items():
            if name in arrays:
                raise UserError(f"features.blocks: array {name!r} is produced twice; give one block another name")
            arrays[name] = pair
    frames_tr = [o.train for _, o in outputs if o.train.shape[1]]
    frames_te = [o.test for _, o in outputs if o.test.shape[1]]
    # one block's frame is the table as it is (pd.concat would copy it)
    X_train = (frames_tr[0] if len(frames_tr) == 1 else pd.concat(frames_tr, axis=1)) if frames_tr \
        else pd.DataFrame(index=range(n_train))
    X_test = (frames_te[0] if len(frames_te) == 1 else pd.concat(frames_te, axis=1)) if frames_te \
        else pd.DataFrame(index=range(n_test))
    for col in X_train.columns:
        a, b = X_train[col], X_test[col]
        if a.dtype == b.dtype:
            continue
        if isinstance(a.dtype, pd.CategoricalDtype) or isinstance(b.dtype, pd.CategoricalDtype):
            cats = pd.Index(pd.concat([a.astype("str"), b.astype("str")]).dropna().unique()).sort_values()
            dtype = pd.CategoricalDtype(cats)
            X_train[col], X_test[col] = a.astype("str").astype(dtype), b.astype("str").astype(dtype)
        elif pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            dtype = np.result_type(a.dtype, b.dtype)
            dtype = np.float32 if dtype.kind == "f" else dtype
            X_train[col], X_test[col] = a.astype(dtype), b.astype(dtype)
        else:
            X_train[col], X_test[col] = a.astype("str"), b.astype("str")
    return X_train, X_test, arrays
