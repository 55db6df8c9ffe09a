"""Date-like columns and group aggregations."""

from __future__ import annotations

import numpy as np

from features._base import REQUIRED, Block, BlockContext, Transformed

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

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"dtype": {column: parsed dtype}, "has_time": {column: bool}, "start": {column: earliest date
        (ISO) or None}} over train and test."""
        import pandas as pd

        dtypes, has_time, start = {}, {}, {}
        for c in self.columns:
            dt = _parsed(pd.concat([train[c], test[c]], ignore_index=True))
            dtypes[c] = str(dt.dtype)
            has_time[c] = bool(((dt.dt.hour != 0) | (dt.dt.minute != 0)).any())
            first = dt.min()
            start[c] = None if pd.isna(first) else first.isoformat()
        return {"dtype": dtypes, "has_time": has_time, "start": start}

    def transform(self, state: dict, X) -> Transformed:
        """Date parts of each row; `elapsed` from the run's earliest date (new rows never move it)."""
        import pandas as pd

        out = {}
        for c in self.columns:
            dt = _parsed(X[c].reset_index(drop=True)).astype(state["dtype"][c])
            for part in self.p["parts"]:
                if part in ("hour", "minute") and not state["has_time"][c]:
                    continue
                if part == "elapsed":
                    start = state["start"][c]
                    if start is None:
                        out[f"{c}__elapsed"] = np.full(len(dt), np.nan, dtype=np.float32)
                        continue
                    secs = (dt - pd.Timestamp(start).as_unit(dt.dt.unit)).dt.total_seconds()
                    out[f"{c}__elapsed"] = (secs / 86400.0).to_numpy(dtype=np.float32, na_value=np.nan)
                else:
                    attr = _ATTRS.get(part, part)
                    out[f"{c}__{part}"] = getattr(dt.dt, attr).to_numpy(dtype=np.float32, na_value=np.nan)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


def _parsed(values):
    """A date-like column as datetimes (each value parsed on its own; unparseable -> NaT)."""
    import pandas as pd

    return values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(
        values, errors="coerce", format="mixed")


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

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"groups": the key values (missing as MISSING_KEY), "tables": {value column: {agg: per-group
        statistic (float64)}}} over train and test rows."""
        import pandas as pd

        by = self.p["by"]
        both = pd.concat([train[self.inputs()], test[self.inputs()]], ignore_index=True)
        key = _key(both[by])
        groups = pd.Index(pd.unique(key), dtype="str")
        tables = {}
        for v in self._values():
            grouped = both[v].astype(np.float64).groupby(key, sort=False)
            aggs = set(self.p["aggs"]) | ({"mean"} if self.p["diff"] else set())
            tables[v] = {agg: getattr(grouped, agg)().reindex(groups).to_numpy(dtype=np.float64, na_value=np.nan)
                         for agg in sorted(aggs)}
        return {"groups": groups.tolist(), "tables": tables}

    def transform(self, state: dict, X) -> Transformed:
        """Each row's group statistics from the frozen table (a key the run never saw: NaN, count 0)."""
        import pandas as pd

        by = self.p["by"]
        pos = pd.Index(state["groups"], dtype="str").get_indexer(_key(X[by]))
        out = {}
        for v in self._values():
            table = state["tables"][v]
            for agg in self.p["aggs"]:
                column = np.append(table[agg], 0.0 if agg == "count" else np.nan)[pos]  # last slot: unseen key
                out[f"{v}__by_{by}__{agg}"] = column.astype(np.float32)
            if self.p["diff"]:
                mean = np.append(table["mean"], np.nan)[pos]
                x = X[v].to_numpy(dtype=np.float64, na_value=np.nan)
                out[f"{v}__minus_{by}_mean"] = (x - mean).astype(np.float32)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))

    def _values(self) -> list[str]:
        return [c for c in self.columns if c != self.p["by"]]


MISSING_KEY = "\x00missing"


def _key(series):
    """The group key of each row as a string; missing -> MISSING_KEY."""
    from features._categorical import as_str

    return as_str(series).fillna(MISSING_KEY).reset_index(drop=True)
