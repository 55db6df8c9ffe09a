"""Out-of-fold target encoding: the smoothed target mean per value, leak-free by construction."""

from __future__ import annotations

import numpy as np

from features._base import BlockContext, SupervisedBlock, safe_name
from features._categorical import as_str


class TargetEncoding(SupervisedBlock):
    """Smoothed mean of the encoded target per value: (sum + m * prior) / (count + m).

    Train rows get values fitted on the other folds only (the competition's saved folds); test rows
    get values fitted on every train row. Values are compared as strings, coded once over train and
    test. Values absent from the fitting rows and missing values get the prior. One column per
    class for multiclass (``{c}__te_{class}``), else ``{c}__te``.
    Example: ``{block = "target_encoding", columns = ["Neighborhood"], smoothing = 10}``.
    """

    name = "target_encoding"
    accepts = ("categorical", "numeric", "text")
    default_kinds = ("categorical",)
    params = {"smoothing": (float, 10.0, "weight m of the prior (rows' worth)")}
    minimum = {"smoothing": 0.0}

    def _targets(self, y: np.ndarray, ctx: BlockContext) -> tuple[np.ndarray, list[str]]:
        if ctx.task.n_outputs > 1:
            onehot = np.eye(ctx.task.n_classes)[y.astype(int)]
            return onehot, [f"__te_{safe_name(c)}" for c in ctx.task.prediction_columns()]
        return y.astype(np.float64).reshape(-1, 1), ["__te"]

    def fit_prepare(self, train, test, ctx: BlockContext) -> dict:
        """{"values": {column: its values over train and test, in code order}} (no target involved)."""
        import pandas as pd

        values = {}
        for c in self.columns:
            values[c] = pd.factorize(pd.concat([as_str(train[c]), as_str(test[c])], ignore_index=True))[1].tolist()
        self._levels = {c: len(v) for c, v in values.items()}
        return {"values": values}

    def prepare_rows(self, state: dict, X) -> dict:
        """Integer codes of each column; missing and values the run never saw -> -1 (the prior)."""
        import pandas as pd

        self._levels = {c: len(v) for c, v in state["values"].items()}
        return {c: pd.Index(state["values"][c], dtype="str").get_indexer(as_str(X[c])) for c in self.columns}

    def fit(self, X: dict, y: np.ndarray, ctx: BlockContext) -> dict:
        """The smoothed target mean per value code from rows X (last row: the prior, for missing and unseen)."""
        Y, suffixes = self._targets(y, ctx)
        prior = Y.mean(axis=0)
        m = self.p["smoothing"]
        tables = {}
        for c in self.columns:
            codes = X[c]
            seen = codes >= 0
            n_levels = self._levels[c]
            counts = np.bincount(codes[seen], minlength=n_levels).astype(np.float64)
            sums = np.stack([np.bincount(codes[seen], weights=Y[seen, j], minlength=n_levels)
                             for j in range(Y.shape[1])], axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                table = (sums + m * prior) / (counts[:, None] + m)
            table[counts == 0] = prior  # values absent from the fitting rows
            tables[c] = np.vstack([table, prior])  # last row: missing (code -1)
        return {"tables": tables, "suffixes": suffixes}

    def apply(self, state: dict, X: dict):
        """Each row's smoothed mean from the table (float32 columns)."""
        import pandas as pd

        out = {}
        for c in self.columns:
            values = state["tables"][c][X[c]]
            for j, suffix in enumerate(state["suffixes"]):
                out[f"{c}{suffix}"] = values[:, j].astype(np.float32)
        return pd.DataFrame(out)
