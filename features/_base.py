"""The feature block contract: declared input columns, parameters as data, one output per block.

A block reads the columns it declares and returns new columns (and optionally arrays) for train
and test. *Unsupervised* blocks see train and test features together and never the target.
*Supervised* blocks implement `fit(X, y)` / `apply(state, X)`; the base class runs them out of
fold -- the value for a train row in fold k comes from a state fitted on the other folds only --
and fits once on every train row for the test rows, so a row never sees its own target.

Every block also leaves a *state*: what it learned at run time (codes, counts, vocabularies, the
full-train fit ...), made of JSON values and numpy arrays only (features._portable). `transform(state,
X)` turns new rows into exactly the columns the run's test rows got, row by row from the frozen
state, never refitting: `fit_state` + `transform` for unsupervised blocks, `fit_prepare` +
`prepare_rows` + the full-train `fit` + `apply` for supervised ones.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar

import numpy as np

from core.errors import UserError
from core.params import REQUIRED, validate

_UNSAFE = re.compile(r"[\"',:\[\]{}\s]+")  # characters LightGBM rejects in feature names


def safe_name(text: str, limit: int = 40) -> str:
    """A column-name-safe rendering of a value (a category, a class, a target column's name)."""
    return _UNSAFE.sub("_", str(text))[:limit] or "_"

# Column kinds, decided once per column from train and test (see features.columns.column_kind).
KINDS = ("numeric", "categorical", "text", "datetime")


@dataclass
class BlockOutput:
    """What a block returns: train/test tables with identical columns, plus named arrays."""

    train: Any
    test: Any
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    state: Any = None  # what the block learned (see Block.fit_state); None: build gave none


@dataclass
class Transformed:
    """A block's output for new rows from a frozen state: the columns plus named arrays."""

    frame: Any
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class BlockContext:
    """What a block may use besides its columns. `y` is None for unsupervised blocks."""

    task: Any  # a multi-target task's: the task of one target column
    folds: np.ndarray  # fold per train row; -1: never validated (forward chaining's earliest block)
    y: np.ndarray | None = None  # the encoded target; a multi-target task's: one column per target
    threads: int = 1
    seed: int = 0
    log: Callable[[str], None] = print
    train_from: np.ndarray | None = None  # per row the first fold that may train on it (core.folds)
    targets: tuple[str, ...] = ()  # a multi-target task's target columns, in y's column order


class Block:
    """A feature block: set `name`, `params` (name -> (type, default, help)) and `build`.

    `columns` (a list; [] = every column of an accepted kind, `default_kinds`) is every block's
    input unless the block overrides `inputs`. Parameters are validated before anything runs.
    """

    name: ClassVar[str] = ""
    supervised: ClassVar[bool] = False
    accepts: ClassVar[tuple[str, ...]] = KINDS  # column kinds the block may read
    default_kinds: ClassVar[tuple[str, ...]] = ()  # kinds picked when `columns` is []
    params: ClassVar[dict[str, tuple[Any, Any, str]]] = {}
    choices: ClassVar[dict[str, tuple]] = {}  # parameter -> allowed values
    fixed_columns: ClassVar[tuple[str, ...]] = ()  # used when `columns` is [] (function blocks)

    def __init__(self, columns: list[str], **params: Any):
        self.columns = list(columns)
        self.p = params

    minimum: ClassVar[dict[str, float]] = {}  # parameter -> smallest allowed value

    def inputs(self) -> list[str]:
        """Every column the block reads (the cache hashes exactly these)."""
        return list(self.columns)

    def check(self) -> str | None:
        """Why these parameters and columns cannot work together (checked before running), or None."""
        return None

    def fit_state(self, train, test, ctx: BlockContext) -> Any:
        """What the block learns from the train and test inputs together (unsupervised): JSON values
        (dict, list, str, number, bool, None) and numpy arrays only, so it can be saved without pickle."""
        raise NotImplementedError(f"block {self.name!r} implements neither build nor fit_state")

    def transform(self, state: Any, X) -> Transformed:
        """The block's columns (and arrays) for rows X (its input columns) from a frozen state: each row
        on its own, never a refit, so new rows get what the run's test rows got."""
        raise NotImplementedError

    @classmethod
    def stateful(cls) -> bool:
        """Whether the class can freeze a state and transform new rows with it."""
        return cls.fit_state is not Block.fit_state and cls.transform is not Block.transform

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        """Return the block's columns for train and test (unsupervised: fitted on both); by default
        `fit_state` on both, then `transform` of each part, with the state attached."""
        state = self.fit_state(train, test, ctx)
        tr, te = self.transform(state, train), self.transform(state, test)
        arrays = {name: (arr, te.arrays[name]) for name, arr in tr.arrays.items()}
        return BlockOutput(tr.frame, te.frame, arrays, state=state)

    def describe(self) -> str:
        """Short label for logs: name(columns)."""
        cols = self.inputs()
        shown = ", ".join(cols[:3]) + (f", +{len(cols) - 3}" if len(cols) > 3 else "")
        return f"{self.name}({shown})"


class SupervisedBlock(Block):
    """A block that uses the target: `fit(X, y, ctx) -> state`, `apply(state, X) -> DataFrame`.

    `build` runs them out of fold with the competition's folds; subclasses never see the rows
    they produce values for. An optional unsupervised step on train and test inputs together (no
    target) is `fit_prepare(train, test, ctx) -> state` + `prepare_rows(state, X)`. The block's state
    is {"prepare": that state, "fit": the fit on every train row}: new rows get
    `apply(fit, prepare_rows(prepare, X))`, exactly what the test rows got."""

    supervised = True

    def fit_prepare(self, train, test, ctx: BlockContext) -> Any:
        """Optional unsupervised state learned from train and test inputs together (e.g. a vocabulary)."""
        return None

    def prepare_rows(self, state: Any, X) -> Any:
        """Rows X (declared columns) as `fit`/`apply` read them, from `fit_prepare`'s state: row-indexable
        (a DataFrame, an array / sparse matrix or a dict of those)."""
        return X

    def prepare(self, train, test, ctx: BlockContext) -> tuple[Any, Any]:
        """The prepared (train, test) inputs: `prepare_rows` of each part with `fit_prepare`'s state. A
        plug-in may override this alone instead (then new rows cannot be transformed)."""
        state = self.fit_prepare(train, test, ctx)
        return self.prepare_rows(state, train), self.prepare_rows(state, test)

    def fit(self, X, y: np.ndarray, ctx: BlockContext) -> Any:
        """Learn a state from rows X (declared columns only) and their encoded target y."""
        raise NotImplementedError

    def apply(self, state: Any, X):
        """Columns for rows X from a fitted state (a DataFrame with X's length)."""
        raise NotImplementedError

    @classmethod
    def stateful(cls) -> bool:
        """Whether new rows can be transformed: not when a plug-in overrides `prepare` alone."""
        return cls.prepare is SupervisedBlock.prepare or cls.fit_prepare is not SupervisedBlock.fit_prepare

    def _prepared(self, train, test, ctx: BlockContext) -> tuple[Any, Any, Any]:
        """(prepare state or None, prepared train, prepared test); a block may compute them in one pass."""
        if not self.stateful():
            return (None, *self.prepare(train, test, ctx))
        state = self.fit_prepare(train, test, ctx)
        return state, self.prepare_rows(state, train), self.prepare_rows(state, test)

    def fit_state(self, train, test, ctx: BlockContext) -> Any:
        """{"prepare": ..., "fit": ...} without the out-of-fold part (ctx.y: the encoded target)."""
        if ctx.y is None:
            raise ValueError(f"supervised block {self.name!r} needs the target")
        prep, X_train, _ = self._prepared(train[self.inputs()].reset_index(drop=True),
                                          test[self.inputs()].reset_index(drop=True), replace(ctx, y=None))
        return self._state(prep, self._fit_each(X_train, ctx.y, ctx), ctx)

    def transform(self, state: Any, X) -> Transformed:
        """apply(fit, prepare_rows(prepare, X)): the full-train fit's values, as the test rows got."""
        X = self.prepare_rows(state["prepare"], X[self.inputs()].reset_index(drop=True))
        return Transformed(self._apply_each(state["fit"], X, state.get("targets", [])))

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        """Out-of-fold values for train rows, the full-train fit's for test rows, with the state attached."""
        import pandas as pd

        if ctx.y is None:
            raise ValueError(f"supervised block {self.name!r} needs the target")
        prep, X_train, X_test = self._prepared(train[self.inputs()].reset_index(drop=True),
                                               test[self.inputs()].reset_index(drop=True), replace(ctx, y=None))
        parts, order = [], []
        for valid, fit_rows in _out_of_fold(ctx):
            fit = self._fit_each(_take(X_train, fit_rows), ctx.y[fit_rows], ctx)
            parts.append(self._apply_each(fit, _take(X_train, valid), ctx.targets))
            order.append(valid)
        oof = pd.concat(parts, ignore_index=True)
        oof.index = np.concatenate(order)
        oof = oof.sort_index().reset_index(drop=True)
        fit = self._fit_each(X_train, ctx.y, ctx)
        return BlockOutput(oof, self._apply_each(fit, X_test, ctx.targets),
                           state=self._state(prep, fit, ctx) if self.stateful() else None)

    # A multi-target task's block is fitted once per target column (`fit` sees one column, as for a single
    # target) and each fit's columns are named after their target: `{column}__{target}`.
    def _fit_each(self, X, y: np.ndarray, ctx: BlockContext) -> Any:
        """`fit` on y; with several targets (ctx.targets), a list of one fit per target column."""
        if not ctx.targets:
            return self.fit(X, y, ctx)
        return [self.fit(X, y[:, j], ctx) for j in range(len(ctx.targets))]

    def _apply_each(self, fit: Any, X, targets) -> Any:
        """`apply`'s columns; with several targets, each fit's columns suffixed with its target's name."""
        import pandas as pd

        if not targets:
            return self.apply(fit, X)
        return pd.concat([self.apply(one, X).add_suffix(f"__{safe_name(target, limit=200)}")
                          for one, target in zip(fit, targets)], axis=1)

    @staticmethod
    def _state(prep: Any, fit: Any, ctx: BlockContext) -> dict:
        return {"prepare": prep, "fit": fit, **({"targets": list(ctx.targets)} if ctx.targets else {})}


def _out_of_fold(ctx: BlockContext) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, the rows whose state encodes them) per fold: fold k's rows from the rows fold k's models
    may train on (core.folds.train_mask). Rows that no fold's training may precede -- forward
    chaining's earliest block -- are encoded out of fold among themselves (in 5 parts)."""
    from core.folds import train_mask

    out = []
    for k in np.unique(ctx.folds):
        valid = np.flatnonzero(ctx.folds == k)
        fit_rows = np.flatnonzero(train_mask(ctx.folds, int(k), ctx.train_from))
        if len(fit_rows):
            out.append((valid, fit_rows))
            continue
        parts = np.array_split(valid, min(5, len(valid)))
        out += [(part, np.setdiff1d(valid, part)) for part in parts if len(valid) > len(part)]
    return out


def _take(X: Any, rows: np.ndarray) -> Any:
    """Rows of a DataFrame (re-indexed), an array / sparse matrix, or a dict of those."""
    if isinstance(X, dict):
        return {k: _take(v, rows) for k, v in X.items()}
    if hasattr(X, "iloc"):
        return X.iloc[rows].reset_index(drop=True)
    return X[rows]


def split_rows(frame, n_train: int) -> BlockOutput:
    """A frame of train rows then test rows (as unsupervised blocks build them) -> a BlockOutput."""
    return BlockOutput(frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(drop=True))


def check_params(block_cls: type[Block], given: dict, where: str) -> dict:
    """Validate a config table against `block_cls.params`; fill defaults; UserError on bad input."""
    schema = {"columns": (list, [], "input columns"), **block_cls.params}
    out = validate(given, schema, where=where, noun="parameter", choices=block_cls.choices,
                   minimum=block_cls.minimum, unknown_hint=f"; see `features.{block_cls.__name__}` for its parameters")
    if not all(isinstance(c, str) for c in out["columns"]):
        raise UserError(f"{where}: columns must be a list of column names, got {out['columns']!r}")
    return out


def feature_block(name: str, *, columns: list[str] | None = None) -> Callable[[Callable], type[Block]]:
    """Turn a plain function `f(frame, **params) -> DataFrame` into an unsupervised block.

    `frame` holds the block's columns for train rows then test rows; the function returns one
    row per input row. Keyword parameters with defaults become the block's parameters. Use it in
    `competition/<name>/features.py`::

        @feature_block("family_size", columns=["sibsp", "parch"])
        def family_size(frame, offset=1):
            return pd.DataFrame({"family_size": frame.sibsp + frame.parch + offset})
    """

    def wrap(func: Callable) -> type[Block]:
        sig = inspect.signature(func)
        params = {}
        for pname, par in list(sig.parameters.items())[1:]:
            default = REQUIRED if par.default is inspect.Parameter.empty else par.default
            typ = (int, float) if isinstance(default, (int, float)) and not isinstance(default, bool) \
                else (object if default is REQUIRED or default is None else type(default))
            params[pname] = (typ, default, "function parameter")
        fixed = list(columns or [])

        class _FunctionBlock(Block):
            __doc__ = func.__doc__ or f"Function block {name}."

            def build(self, train, test, ctx: BlockContext) -> BlockOutput:
                """func on train then test rows; the state says whether func is row-wise."""
                import pandas as pd

                frame = pd.concat([train[self.inputs()], test[self.inputs()]], ignore_index=True)
                out = _called(func, frame, self.p, name, "train then test")
                n = len(train)
                return BlockOutput(out.iloc[:n].reset_index(drop=True), out.iloc[n:].reset_index(drop=True),
                                   state={"row_wise": _row_wise(func, self.p, out, train[self.inputs()],
                                                                test[self.inputs()])})

            def fit_state(self, train, test, ctx: BlockContext) -> dict:
                """{"row_wise": bool}: whether new rows can be computed by func on their own."""
                return self.build(train, test, ctx).state

            def transform(self, state: dict, X) -> Transformed:
                """func on the new rows alone (UserError when it is not row-wise)."""
                if not state.get("row_wise"):
                    raise UserError(f"feature block {name!r} cannot transform new rows: its function's values for "
                                    f"the test rows alone differ from those it gave them beside the train rows; "
                                    f"write it as a Block class with fit_state/transform (features/README.md)")
                return Transformed(_called(func, X[self.inputs()].reset_index(drop=True), self.p, name, "new"))

        _FunctionBlock.name = name
        _FunctionBlock.params = params
        _FunctionBlock.fixed_columns = tuple(fixed)
        _FunctionBlock.func = staticmethod(func)
        _FunctionBlock.__name__ = _FunctionBlock.__qualname__ = func.__name__
        _FunctionBlock.__module__ = func.__module__
        return _FunctionBlock

    return wrap


def _called(func: Callable, frame, params: dict, name: str, rows: str):
    """func(frame, **params) checked: a DataFrame with one row per input row (RangeIndex)."""
    import pandas as pd

    out = func(frame, **params)
    if not isinstance(out, pd.DataFrame) or len(out) != len(frame):
        raise UserError(f"feature block {name!r}: the function must return a DataFrame with "
                        f"{len(frame)} rows ({rows}), got {type(out).__name__} "
                        f"of length {len(out) if hasattr(out, '__len__') else '?'}")
    return out.reset_index(drop=True)


def _row_wise(func: Callable, params: dict, out, train, test) -> bool:
    """Whether func gives the test rows alone (the train rows when there is no test row) exactly the
    values it gave them beside the other rows: then new rows can be computed on their own."""
    import pandas as pd

    n = len(train)
    rows, part = (test, out.iloc[n:]) if len(test) else (train, out.iloc[:n])
    try:
        alone = func(rows.reset_index(drop=True), **params)
        pd.testing.assert_frame_equal(alone.reset_index(drop=True), part.reset_index(drop=True),
                                      check_exact=True, check_dtype=False)
    except Exception:  # noqa: BLE001 -- any failure on the rows alone means "not row-wise"
        return False
    return True
