"""Numeric blocks: passthrough with downcasting, missing-value indicators, log and rank transforms."""

from __future__ import annotations

import numpy as np

from features._base import KINDS, Block, BlockContext, Transformed


def downcast(values: np.ndarray) -> np.ndarray:
    """Smallest integer type holding every value (ints, bools), else float32."""
    if values.dtype.kind == "b":
        return values.astype(np.int8)
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        for t in (np.int8, np.int16, np.int32, np.int64):
            info = np.iinfo(t)
            if info.min <= lo and hi <= info.max:
                return values.astype(t)
    if values.dtype.kind in "iu":
        return values.astype(np.int8)
    return values.astype(np.float32)


class Numeric(Block):
    """Numeric columns as they are, downcast: ints to the smallest int type, floats to float32. An infinite
    value (a division by zero upstream) or one float32 cannot hold is missing: XGBoost and scikit-learn's
    estimators refuse inf, so every model reads it one way.

    Example: ``{block = "numeric"}`` (every numeric column) or ``{block = "numeric", columns = ["age"]}``.
    """

    name = "numeric"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"dtypes": {column: output dtype}}: the type the train + test values downcast to."""
        import pandas as pd

        dtypes = {}
        for c in self.columns:
            a, b = train[c].to_numpy(), test[c].to_numpy()
            if isinstance(a.dtype, np.dtype) and a.dtype == b.dtype and a.dtype.kind in "biuf":
                # no train+test copy of the column in its input type (on a 1,000,000 x 100 table the float64
                # copy doubled the stage's memory): ints by the range of both, the rest elementwise
                dtype = downcast(np.array([min(a.min(), b.min()), max(a.max(), b.max())], dtype=a.dtype)).dtype \
                    if a.dtype.kind in "iu" else downcast(a[:0]).dtype
            else:
                values = pd.concat([train[c], test[c]], ignore_index=True).to_numpy()
                if values.dtype == object:  # nullable extension types with missing values
                    values = pd.concat([train[c], test[c]], ignore_index=True).to_numpy(dtype=np.float64,
                                                                                        na_value=np.nan)
                dtype = downcast(values).dtype
            dtypes[c] = dtype.name
        return {"dtypes": dtypes}

    def transform(self, state: dict, X) -> Transformed:
        """Each column cast to its frozen type (float32 for new rows whose values do not fit an integer type)."""
        import pandas as pd

        out = {c: _cast(X[c], np.dtype(state["dtypes"][c])) for c in self.columns}
        # copy=False: the columns become the frame as they are (a consolidating copy would hold the table twice)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X)), copy=False))


def _cast(series, dtype: np.dtype) -> np.ndarray:
    """A numeric column as `dtype`: floats through float64, integers when every value fits. New rows with a
    value the run's integer type cannot hold (a missing value, a fraction, a larger number) come out as
    float32, which every model reads as the number or as missing: a scoring job does not stop on one row."""
    values = series.to_numpy()
    numeric = isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf"
    if dtype.kind == "f":
        floats = numeric and values.dtype.kind == "f"  # integers go through float64, as the run's concatenation
        return _finite32(values if floats else series.to_numpy(dtype=np.float64, na_value=np.nan))
    if not (numeric and values.dtype.kind in "biu"):
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if not (np.isfinite(floats) & (floats == np.round(floats))).all():
            return _finite32(floats)
        values = floats.astype(np.int64)
    if len(values) and dtype.kind in "iu" and values.dtype.kind in "iu":
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            return _finite32(values.astype(np.float64))
    return values.astype(dtype)


class MissingIndicator(Block):
    """One int8 column per input, 1 where the value is missing, infinite or beyond float32 (what `numeric`
    makes missing): ``{c}__isna``.

    Example: ``{block = "missing_indicator"}`` (every column with a missing value in train or test).
    """

    name = "missing_indicator"
    accepts = KINDS
    default_kinds = KINDS  # narrowed to columns that have missing values, see `select_default`

    @staticmethod
    def select_default(train, test, columns: list[str]) -> list[str]:
        return [c for c in columns if _absent(train[c]).any() or _absent(test[c]).any()]

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """Nothing to learn: {}."""
        return {}

    def transform(self, state: dict, X) -> Transformed:
        """1 where the value is missing or infinite (int8)."""
        import pandas as pd

        return Transformed(pd.DataFrame({f"{c}__isna": _absent(X[c]).astype(np.int8) for c in self.columns}))


def _absent(series) -> np.ndarray:
    """Missing, or (a float column) what `numeric` makes missing: infinite or beyond float32."""
    import pandas as pd

    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return ~(np.abs(values) <= np.finfo(np.float32).max)
    return series.isna().to_numpy()


class Log(Block):
    """Signed log transform sign(x) * log1p(|x|) as float32: ``{c}__log``.

    Example: ``{block = "log", columns = ["Lot_Area"]}``.
    """

    name = "log"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """Nothing to learn: {}."""
        return {}

    def transform(self, state: dict, X) -> Transformed:
        """sign(x) * log1p(|x|) as float32 (elementwise; an infinite value is missing, as in `numeric`)."""
        import pandas as pd

        out = {}
        for c in self.columns:
            x = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
            out[f"{c}__log"] = _finite32(np.sign(x) * np.log1p(np.abs(x)))
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


class Rank(Block):
    """Rank over train and test together, scaled to [0, 1] (ties averaged, missing stays NaN): ``{c}__rank``.

    The state keeps the sorted train + test values: a row's rank is (values below it + (values equal
    to it + 1) / 2) / their count -- what pandas gives the run's rows. A new row is ranked against
    these frozen values (it never shifts them): a value between two run values gets the rank between
    theirs, one above every run value 1.0.
    Example: ``{block = "rank", columns = ["fare"]}``.
    """

    name = "rank"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"sorted": {column: the sorted non-missing train + test values (float64)}}."""
        out = {}
        for c in self.columns:
            both = np.concatenate([train[c].to_numpy(dtype=np.float64, na_value=np.nan),
                                   test[c].to_numpy(dtype=np.float64, na_value=np.nan)])
            out[c] = np.sort(both[~np.isnan(both)])
        return {"sorted": out}

    def transform(self, state: dict, X) -> Transformed:
        """Each row's rank against the frozen train + test values (see the class docstring)."""
        import pandas as pd

        out = {}
        for c in self.columns:
            values = state["sorted"][c]
            x = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
            below = np.searchsorted(values, x, side="left")
            upto = np.searchsorted(values, x, side="right")
            with np.errstate(invalid="ignore", divide="ignore"):
                pct = np.minimum((below + upto + 1) / 2 / len(values), 1.0)
            pct[np.isnan(x)] = np.nan
            out[f"{c}__rank"] = pct.astype(np.float32)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


class Pairs(Block):
    """Products and ratios of every pair of numeric columns: ``{a}__x__{b}`` = a * b and ``{a}__per__{b}`` = a / b.

    A tree cuts one column at a time, so a ratio or a product of two quantities (water per cement, a job's
    fields times its iterations) costs it many splits to approximate, and a linear model cannot form it at
    all. b / a is left out: for trees it orders the rows as a / b does. A zero or missing denominator, or a
    value beyond float32, gives a missing value. Stateless: a row's columns depend on that row alone.
    Example: ``{block = "pairs", columns = ["water", "cement", "age"]}``.
    """

    name = "pairs"
    accepts = ("numeric",)
    default_kinds = ("numeric",)
    params = {"products": (bool, True, "a * b for each pair"), "ratios": (bool, True, "a / b for each pair")}
    MAX_COLUMNS = 20  # 190 pairs: beyond this the block's columns swamp the table

    def check(self) -> str | None:
        if len(self.columns) > self.MAX_COLUMNS:
            return (f"{len(self.columns)} columns make {len(self.columns) * (len(self.columns) - 1) // 2} pairs; "
                    f"name at most {self.MAX_COLUMNS} in columns")
        if not (self.p["products"] or self.p["ratios"]):
            return "products and ratios are both false: the block would make no column"
        return None

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """Nothing to learn: {}."""
        return {}

    def transform(self, state: dict, X) -> Transformed:
        """a * b and a / b for each pair a before b in `columns`, as float32."""
        import pandas as pd

        values = {c: X[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in self.columns}
        denominators = {c: np.where(v == 0, np.nan, v) for c, v in values.items()} if self.p["ratios"] else {}
        out = {}
        for i, a in enumerate(self.columns):
            for b in self.columns[i + 1:]:
                if self.p["products"]:
                    out[f"{a}__x__{b}"] = _finite32(values[a] * values[b])
                if self.p["ratios"]:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        out[f"{a}__per__{b}"] = _finite32(values[a] / denominators[b])
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


def _finite32(x: np.ndarray) -> np.ndarray:
    """x as float32, with every value float32 cannot hold (and inf) missing."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = x.astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out
