"""Date-like columns and group aggregations."""

from __future__ import annotations

import numpy as np

from features._base import split_rows, REQUIRED, Block, BlockContext, BlockOutput

DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "minute", "elapsed")
_ATTRS = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}  # pandas accessor names


class DateParts(Block):
    """Parts of a date-like column: ``{c}__year``, ``__month``, ``__day``, ``__dayofweek``, ...

    `elapsed` is days since the earliest date in train and test (float32). Parts missing where the
    date is missing. `hour`/`minute` are dropped automatically when every time is midnight.
    Example: ``{block = "datetime", columns = ["saledate"], parts = ["year", "month", "elapsed"]}``.
    """

    name = "datetime"
    accepts = ("datetime",)
    default_kinds = ("datetime",)
    params = {"parts": (list, ["year", "month", "day", "dayofweek", "hour", "elapsed"],
                        f"any of {', '.join(DATE_PARTS)}")}
    choices = {"parts": DATE_PARTS}

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        out = {}
        for c in self.columns:
            both = pd.concat([train[c], test[c]], ignore_index=True)
            dt = both if pd.api.types.is_datetime64_any_dtype(both) else pd.to_datetime(
                both, errors="coerce", format="mixed")
            has_time = bool(((dt.dt.hour != 0) | (dt.dt.minute != 0)).any())
            for part in self.p["parts"]:
                if part in ("hour", "minute") and not has_time:
                    continue
                if part == "elapsed":
                    secs = (dt - dt.min()).dt.total_seconds()
                    out[f"{c}__elapsed"] = (secs / 86400.0).to_numpy(dtype=np.float32, na_value=np.nan)
                else:
                    attr = _ATTRS.get(part, part)
                    out[f"{c}__{part}"] = getattr(dt.dt, attr).to_numpy(dtype=np.float32, na_value=np.nan)
        return split_rows(pd.DataFrame(out), len(train))


class GroupAggregate(Block):
    """Statistics of numeric `columns` within groups of the key column `by` (train + test rows).

    Columns ``{value}__by_{by}__{agg}`` for each agg in `aggs` (mean, std, min, max, count,
    median); `diff = true` adds ``{value}__minus_{by}_mean``. No target involved.
    Example: ``{block = "group_agg", by = "Neighborhood", columns = ["Lot_Area"], aggs = ["mean", "std"]}``.
    """

    name = "group_agg"
    accepts = ("numeric", "categorical")
    default_kinds = ("numeric",)
    params = {"by": (str, REQUIRED, "key column to group by"),
              "aggs": (list, ["mean", "std", "min", "max", "count"], "mean | std | min | max | count | median"),
              "diff": (bool, False, "add value minus its group mean")}
    choices = {"aggs": ("mean", "std", "min", "max", "count", "median")}

    def inputs(self) -> list[str]:
        return [self.p["by"], *[c for c in self.columns if c != self.p["by"]]]

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        from features._categorical import as_str

        by = self.p["by"]
        values = [c for c in self.columns if c != by]
        both = pd.concat([train[self.inputs()], test[self.inputs()]], ignore_index=True)
        key = as_str(both[by]).fillna("\x00missing")
        out = {}
        for v in values:
            x = both[v].astype(np.float64)
            grouped = x.groupby(key, sort=False)
            for agg in self.p["aggs"]:
                out[f"{v}__by_{by}__{agg}"] = grouped.transform(agg).to_numpy(dtype=np.float32, na_value=np.nan)
            if self.p["diff"]:
                out[f"{v}__minus_{by}_mean"] = (x - grouped.transform("mean")).to_numpy(
                    dtype=np.float32, na_value=np.nan)
        return split_rows(pd.DataFrame(out), len(train))
