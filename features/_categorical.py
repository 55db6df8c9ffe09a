"""Categorical blocks: label (ordinal) codes, count/frequency, one-hot, native pandas categories.

Values are compared as strings (missing stays missing), so a numeric code column works too.
A test category never seen in train maps to a defined code, never an error.
"""

from __future__ import annotations

import numpy as np

from features._base import Block, BlockContext, Transformed, safe_name

MISSING_CODE = -1
UNSEEN_CODE = -2


def as_str(series):
    """Values as strings with missing values kept missing."""
    return series.astype("str")


def factorize(train_col, test_col) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer codes of the string values over train and test together: (train codes, test codes,
    number of distinct values); missing -> -1."""
    import pandas as pd

    both = pd.concat([as_str(train_col), as_str(test_col)], ignore_index=True)
    codes, uniques = pd.factorize(both)
    n = len(train_col)
    return codes[:n], codes[n:], len(uniques)


def as_category(values, dtype):
    """String values as a categorical of `dtype` (RangeIndex); values outside its categories -> NaN."""
    import pandas as pd

    codes = dtype.categories.get_indexer(values)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), name=values.name)


class Label(Block):
    """Ordinal codes 0..k-1 for the train values (sorted): ``{c}__label`` int32.

    Missing -> -1; a value unseen in train, or in fewer than `min_count` rows of train and test
    together, -> -2. The default 2 leaves a value of one row uncoded: its code would only name that
    row, which trees memorise in train and which no test row shares (an honest fold would never see
    it either). Example: ``{block = "label", columns = ["Neighborhood"], min_count = 5}``.
    """

    name = "label"
    accepts = ("categorical", "numeric", "text")
    default_kinds = ("categorical",)
    params = {"min_count": (int, 2, "rows of train and test a value (seen in train) needs to get its own code")}
    minimum = {"min_count": 1}

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"values": {column: the values with a code, in code order}}."""
        import pandas as pd

        out = {}
        for c in self.columns:
            both = pd.concat([as_str(train[c]), as_str(test[c])], ignore_index=True)
            codes, uniques = pd.factorize(both)  # missing -> -1
            train_codes = codes[:len(train)]
            in_train = np.zeros(len(uniques), dtype=bool)
            in_train[train_codes[train_codes >= 0]] = True
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            kept = np.flatnonzero(in_train & (counts >= self.p["min_count"]))
            kept = kept[np.argsort(np.asarray(uniques.take(kept), dtype=object), kind="stable")]
            out[c] = uniques.take(kept).tolist()
        return {"values": out}

    def transform(self, state: dict, X) -> Transformed:
        """Frozen codes; missing -> -1, a value without a code -> -2."""
        import pandas as pd

        out = {}
        for c in self.columns:
            values = as_str(X[c])
            codes = _lookup(state["values"][c], values).astype(np.int32)
            codes[(codes < 0) & values.notna().to_numpy()] = UNSEEN_CODE
            codes[values.isna().to_numpy()] = MISSING_CODE
            out[f"{c}__label"] = codes
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


def _lookup(values: list, series) -> np.ndarray:
    """Each entry's position in `values` (strings), -1 where absent or missing."""
    import pandas as pd

    return pd.Index(values, dtype="str").get_indexer(series)


class Count(Block):
    """How often each value occurs (train + test, or train only): ``{c}__count``.

    Missing values count as one value. `normalize = true` gives frequencies (float32).
    Example: ``{block = "count", columns = ["product"], normalize = true}``.
    """

    name = "count"
    accepts = ("categorical", "numeric", "text", "datetime")
    default_kinds = ("categorical",)
    params = {"normalize": (bool, False, "divide by the number of rows counted"),
              "scope": (str, "all", "all (train + test) | train")}
    choices = {"scope": ("all", "train")}

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"values": {column: counted values}, "counts": {column: their counts}, "missing": {column:
        missing values counted}, "rows": rows counted}."""
        import pandas as pd

        n_counted = len(train) + (len(test) if self.p["scope"] == "all" else 0)
        values, counts, missing = {}, {}, {}
        for c in self.columns:
            counted = pd.concat([as_str(train[c]), as_str(test[c])], ignore_index=True).iloc[:n_counted]
            codes, uniques = pd.factorize(counted)
            values[c] = uniques.tolist()
            counts[c] = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
            missing[c] = int((codes < 0).sum())
        return {"values": values, "counts": counts, "missing": missing, "rows": n_counted}

    def transform(self, state: dict, X) -> Transformed:
        """The frozen count of each row's value (missing values count as one value); a value the run
        never counted -> 0. New rows are not counted: chunks of new rows give the same values."""
        import pandas as pd

        out = {}
        for c in self.columns:
            values = as_str(X[c])
            pos = _lookup(state["values"][c], values)
            table = np.append(np.asarray(state["counts"][c], dtype=np.int64), 0)  # last slot: not counted
            counts = table[pos]
            counts[values.isna().to_numpy()] = state["missing"][c]
            if self.p["normalize"]:
                out[f"{c}__count"] = (counts / max(1, state["rows"])).astype(np.float32)
            else:
                out[f"{c}__count"] = counts.astype(np.int32)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


class OneHot(Block):
    """One uint8 column per frequent train value ``{c}={value}``, plus ``{c}=__other__``.

    At most `max_levels` values (most frequent in train, at least `min_count` rows); missing -> all 0.
    Example: ``{block = "onehot", columns = ["sex", "pclass"], max_levels = 10}``.
    """

    name = "onehot"
    accepts = ("categorical", "numeric")
    default_kinds = ("categorical",)
    params = {"max_levels": (int, 16, "most frequent train values to encode"),
              "min_count": (int, 1, "train rows a value needs to get a column")}
    minimum = {"max_levels": 1, "min_count": 1}

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"levels": {column: the encoded train values, sorted}}."""
        out = {}
        for c in self.columns:
            counts = as_str(train[c]).value_counts()
            counts = counts[counts >= self.p["min_count"]]
            out[c] = sorted(counts.index[: self.p["max_levels"]])
        return {"levels": out}

    def transform(self, state: dict, X) -> Transformed:
        """The frozen one-hot columns of rows X (missing -> all 0, other values -> __other__)."""
        import pandas as pd

        out = {}
        for c in self.columns:
            src = as_str(X[c])
            values = src.to_numpy(dtype=object, na_value=None)
            known = np.zeros(len(src), dtype=bool)
            for level in state["levels"][c]:
                hit = values == level
                known |= hit
                out[f"{c}={safe_name(level)}"] = hit.astype(np.uint8)
            out[f"{c}=__other__"] = (~known & src.notna().to_numpy()).astype(np.uint8)
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))


class Category(Block):
    """The column as a pandas category shared by train and test (LightGBM's native categoricals).

    Categories are the sorted values of train and test together, so train and test dtypes are
    identical and an unseen test value is a known (never-trained) category. Output keeps the name.
    Example: ``{block = "category", columns = ["MS_Zoning"]}``.
    """

    name = "category"
    accepts = ("categorical", "numeric")
    default_kinds = ("categorical",)

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"categories": {column: the sorted train + test values}}."""
        import pandas as pd

        out = {}
        for c in self.columns:
            tr, te = as_str(train[c]), as_str(test[c])
            out[c] = pd.Index(pd.concat([tr, te]).dropna().unique()).sort_values().tolist()
        return {"categories": out}

    def transform(self, state: dict, X) -> Transformed:
        """The frozen categories; a value the run never saw becomes missing (NaN), as pandas does."""
        import pandas as pd

        out = {}
        for c in self.columns:
            out[c] = as_category(as_str(X[c]), pd.CategoricalDtype(pd.Index(state["categories"][c], dtype="str")))
        return Transformed(pd.DataFrame(out, index=pd.RangeIndex(len(X))))
