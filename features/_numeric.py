"""Numeric blocks: passthrough with downcasting, missing-value indicators, log and rank transforms."""

from __future__ import annotations

import numpy as np

from features._base import split_rows, KINDS, Block, BlockContext, BlockOutput


def _both(train, test, cols):
    import pandas as pd

    return pd.concat([train[cols], test[cols]], ignore_index=True)


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
    """Numeric columns as they are, downcast: ints to the smallest int type, floats to float32.

    Example: ``{block = "numeric"}`` (every numeric column) or ``{block = "numeric", columns = ["age"]}``.
    """

    name = "numeric"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        out_train, out_test = {}, {}
        for c in self.columns:
            a, b = train[c].to_numpy(), test[c].to_numpy()
            if isinstance(a.dtype, np.dtype) and a.dtype == b.dtype and a.dtype.kind in "biuf":
                # each part downcast on its own (no train+test copy of the column in its input type: on a
                # 1,000,000 x 100 table the float64 copy doubled the stage's memory), to the type the
                # concatenation would get: ints by the range of both, the rest elementwise
                dtype = downcast(np.array([min(a.min(), b.min()), max(a.max(), b.max())], dtype=a.dtype)).dtype \
                    if a.dtype.kind in "iu" else downcast(a[:0]).dtype
                out_train[c], out_test[c] = a.astype(dtype), b.astype(dtype)
                continue
            values = pd.concat([train[c], test[c]], ignore_index=True).to_numpy()
            if values.dtype == object:  # nullable extension types with missing values
                values = pd.concat([train[c], test[c]], ignore_index=True).to_numpy(dtype=np.float64, na_value=np.nan)
            values = downcast(values)
            out_train[c], out_test[c] = values[:len(train)], values[len(train):]
        # copy=False: the columns become the frame as they are (a consolidating copy would hold the table twice)
        return BlockOutput(pd.DataFrame(out_train, index=pd.RangeIndex(len(train)), copy=False),
                           pd.DataFrame(out_test, index=pd.RangeIndex(len(test)), copy=False))


class MissingIndicator(Block):
    """One int8 column per input, 1 where the value is missing: ``{c}__isna``.

    Example: ``{block = "missing_indicator"}`` (every column with a missing value in train or test).
    """

    name = "missing_indicator"
    accepts = KINDS
    default_kinds = KINDS  # narrowed to columns that have missing values, see `select_default`

    @staticmethod
    def select_default(train, test, columns: list[str]) -> list[str]:
        return [c for c in columns if train[c].isna().any() or test[c].isna().any()]

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        both = _both(train, test, self.columns)
        out = pd.DataFrame({f"{c}__isna": both[c].isna().to_numpy().astype(np.int8) for c in self.columns})
        return split_rows(out, len(train))


class Log(Block):
    """Signed log transform sign(x) * log1p(|x|) as float32: ``{c}__log``.

    Example: ``{block = "log", columns = ["Lot_Area"]}``.
    """

    name = "log"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        both = _both(train, test, self.columns)
        out = {}
        for c in self.columns:
            x = both[c].to_numpy(dtype=np.float64, na_value=np.nan)
            out[f"{c}__log"] = (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)
        return split_rows(pd.DataFrame(out), len(train))


class Rank(Block):
    """Rank over train and test together, scaled to [0, 1] (ties averaged, missing stays NaN): ``{c}__rank``.

    Example: ``{block = "rank", columns = ["fare"]}``.
    """

    name = "rank"
    accepts = ("numeric",)
    default_kinds = ("numeric",)

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        both = _both(train, test, self.columns)
        out = {f"{c}__rank": both[c].rank(method="average", pct=True).to_numpy(dtype=np.float32, na_value=np.nan)
               for c in self.columns}
        return split_rows(pd.DataFrame(out), len(train))
