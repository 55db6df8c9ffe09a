"""Categorical blocks: label (ordinal) codes, count/frequency, one-hot, native pandas categories.

Values are compared as strings (missing stays missing), so a numeric code column works too.
A test category never seen in train maps to a defined code, never an error.
"""

from __future__ import annotations

import re

import numpy as np

from features._base import split_rows, Block, BlockContext, BlockOutput

MISSING_CODE = -1
UNSEEN_CODE = -2
_UNSAFE = re.compile(r"[\"',:\[\]{}\s]+")  # characters LightGBM rejects in feature names


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


def safe_name(text: str, limit: int = 40) -> str:
    """A column-name-safe rendering of a category value."""
    return _UNSAFE.sub("_", str(text))[:limit] or "_"


class Label(Block):
    """Ordinal codes 0..k-1 learned on train (sorted values): ``{c}__label`` int32.

    Missing -> -1; a value unseen in train (or seen fewer than `min_count` times) -> -2.
    Example: ``{block = "label", columns = ["Neighborhood"], min_count = 5}``.
    """

    name = "label"
    accepts = ("categorical", "numeric", "text")
    default_kinds = ("categorical",)
    params = {"min_count": (int, 1, "train rows a value needs to get its own code")}
    minimum = {"min_count": 1}

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        out_tr, out_te = {}, {}
        for c in self.columns:
            both = pd.concat([as_str(train[c]), as_str(test[c])], ignore_index=True)
            codes, uniques = pd.factorize(both)  # missing -> -1
            n = len(train)
            train_codes = codes[:n]
            counts = np.bincount(train_codes[train_codes >= 0], minlength=len(uniques))
            kept = np.flatnonzero(counts >= self.p["min_count"])
            kept = kept[np.argsort(np.asarray(uniques.take(kept), dtype=object), kind="stable")]
            rank = np.full(len(uniques) + 1, UNSEEN_CODE, dtype=np.int32)  # last slot: missing
            rank[kept] = np.arange(len(kept), dtype=np.int32)
            rank[-1] = MISSING_CODE
            labels = rank[codes]  # code -1 picks the missing slot
            out_tr[f"{c}__label"], out_te[f"{c}__label"] = labels[:n], labels[n:]
        return BlockOutput(pd.DataFrame(out_tr), pd.DataFrame(out_te))


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

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        n_counted = len(train) + (len(test) if self.p["scope"] == "all" else 0)
        out = {}
        for c in self.columns:
            both = pd.concat([as_str(train[c]), as_str(test[c])], ignore_index=True)
            codes, uniques = pd.factorize(both, use_na_sentinel=False)  # missing counts as one value
            values = np.bincount(codes[:n_counted], minlength=len(uniques))[codes]
            if self.p["normalize"]:
                out[f"{c}__count"] = (values / max(1, n_counted)).astype(np.float32)
            else:
                out[f"{c}__count"] = values.astype(np.int32)
        return split_rows(pd.DataFrame(out), len(train))


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

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        out_tr, out_te = {}, {}
        for c in self.columns:
            tr, te = as_str(train[c]), as_str(test[c])
            counts = tr.value_counts()
            counts = counts[counts >= self.p["min_count"]]
            levels = sorted(counts.index[: self.p["max_levels"]])
            for src, dest in ((tr, out_tr), (te, out_te)):
                values = src.to_numpy(dtype=object, na_value=None)
                known = np.zeros(len(src), dtype=bool)
                for level in levels:
                    hit = values == level
                    known |= hit
                    dest[f"{c}={safe_name(level)}"] = hit.astype(np.uint8)
                dest[f"{c}=__other__"] = (~known & src.notna().to_numpy()).astype(np.uint8)
        return BlockOutput(pd.DataFrame(out_tr), pd.DataFrame(out_te))


class Category(Block):
    """The column as a pandas category shared by train and test (LightGBM's native categoricals).

    Categories are the sorted values of train and test together, so train and test dtypes are
    identical and an unseen test value is a known (never-trained) category. Output keeps the name.
    Example: ``{block = "category", columns = ["MS_Zoning"]}``.
    """

    name = "category"
    accepts = ("categorical", "numeric")
    default_kinds = ("categorical",)

    def build(self, train, test, ctx: BlockContext) -> BlockOutput:
        import pandas as pd

        out_tr, out_te = {}, {}
        for c in self.columns:
            tr, te = as_str(train[c]), as_str(test[c])
            cats = pd.Index(pd.concat([tr, te]).dropna().unique()).sort_values()
            dtype = pd.CategoricalDtype(cats)
            out_tr[c], out_te[c] = tr.astype(dtype).reset_index(drop=True), te.astype(dtype).reset_index(drop=True)
        return BlockOutput(pd.DataFrame(out_tr), pd.DataFrame(out_te))
