"""Out-of-fold target encoding: the smoothed target mean per value, leak-free by construction."""

from __future__ import annotations

import numpy as np

from features._base import BlockContext, SupervisedBlock
from features._categorical import as_str, safe_name


class TargetEncoding(SupervisedBlock):
    """Smoothed mean of the encoded target per value: (sum + m * prior) / (count + m).

    Train rows get values fitted on the other folds only (the competition's saved folds); test rows
    get values fitted on every train row. Unseen and missing values get the prior. One column per
    class for multiclass (``{c}__te_{class}``), else ``{c}__te``.
    Example: ``{block = "target_encoding", columns = ["Neighborhood"], smoothing = 10}``.
    """

    name = "target_encoding"
    accepts = ("categorical", "numeric", "text")
    default_kinds = ("categorical",)
    params = {"smoothing": (float, 10.0, "weight m of the prior (rows' worth)")}
    minimum = {"smoothing": 0.0}

    def _targets(self, y: np.ndarray, ctx: BlockContext) -> tuple[np.ndarray, list[str]]:
        if ctx.task.task == "multiclass":
            onehot = np.eye(ctx.task.n_classes)[y.astype(int)]
            return onehot, [f"__te_{safe_name(c)}" for c in ctx.task.prediction_columns()]
        return y.astype(np.float64).reshape(-1, 1), ["__te"]

    def fit(self, X, y: np.ndarray, ctx: BlockContext) -> dict:
        import pandas as pd

        Y, suffixes = self._targets(y, ctx)
        prior = Y.mean(axis=0)
        m = self.p["smoothing"]
        tables = {}
        for c in self.columns:
            key = as_str(X[c]).to_numpy(dtype=object, na_value=None)
            frame = pd.DataFrame(Y, columns=suffixes)
            frame["__key"] = key
            grouped = frame.dropna(subset=["__key"]).groupby("__key", sort=False)
            sums, counts = grouped[suffixes].sum(), grouped.size()
            tables[c] = (sums.add(prior * m, axis=1)).div(counts + m, axis=0)
        return {"prior": prior, "tables": tables, "suffixes": suffixes}

    def apply(self, state: dict, X):
        import pandas as pd

        out = {}
        for c in self.columns:
            table = state["tables"][c]
            key = as_str(X[c]).to_numpy(dtype=object, na_value=None)
            rows = table.index.get_indexer(key)
            for j, suffix in enumerate(state["suffixes"]):
                vals = np.full(len(X), state["prior"][j], dtype=np.float64)
                hit = rows >= 0
                vals[hit] = table[suffix].to_numpy()[rows[hit]]
                out[f"{c}{suffix}"] = vals.astype(np.float32)
        return pd.DataFrame(out)
