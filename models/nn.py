"""Torch nets as scikit-learn-style estimators: one estimator (`TorchNet`) for every net in the
registry `models.nets.NETS`, trained by the one loop in `models/_loop.py`.

Model types: `mlp` (the feature table; a snapshot ensemble by default), `net` (a Keras-like layer list
or a module factory), `densenet` (pixel-grid images) and `rnn` (token sequences with attention,
optionally joined with the table). Their parameters are the loop's (`LOOP_PARAMS`: epochs or
iterations, batch_size, optimizer, lr, schedule, cycles, snapshots, early_stopping, device, ...) plus
the net's own (`NetType.schema`); README "Neural nets" lists them.

Inputs are prepared inside the estimator, fitted on the training rows only. The feature table:
numeric columns get median imputation (+ a missing indicator), a signed log for skewed columns,
standardisation and clipping to +-5 standard deviations (`numeric_scaling = "quantile"`: the normal
score of each value's rank instead of the log; with `numeric_bins`, also a piecewise-linear
encoding over quantile bins); categorical columns become codes for
learned embeddings (rare and unseen levels share index 0). Arrays (the features stage's `image` and
`text_sequence` outputs) arrive per fold through `fit(..., arrays=)` / `predict(..., arrays=)`;
token ids seen fewer than `min_frequency` times in the training rows share one "rare" embedding.
Validation rows passed to `fit` are only scored after each cycle into `history_`: they never choose
an epoch or a snapshot (`wants_validation()` is False, so the CV loop holds none out).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator

from core.errors import UserError
from core.params import validate
from models._fit import cap_reached
from models._loop import (DEVICES, OPTIMIZERS, PRECISIONS, SCHEDULES, CyclesError, LoopConfig, check_device,
                          predict, smoothed_loss, train)
from models._types import ModelContext
from models.nets import TABLE, NetType, array_kind, choose_inputs, get_net

TASKS = ("regression", "binary", "multiclass")

# The training parameters every net takes (defaults here unless the net type's `loop` overrides them).
LOOP_PARAMS: dict[str, tuple[Any, Any, str]] = {
    "inputs": (list, [], "input names: 'table' and array names ([] = the net's choice)"),
    "epochs": (int, 30, "passes over the training rows"),
    "iterations": (int, None, ("optimiser steps in all, instead of epochs: the epochs follow from batch_size, "
                               "the last stopping mid-epoch")),
    "batch_size": (int, 0, "rows per iteration (0 = automatic: 128, or training rows / 200 up to 1024)"),
    "drop_last": (bool, False, "full batches only (rows // batch_size iterations per epoch; else ceil)"),
    "optimizer": (str, "adamw", "adamw | sgd"),
    "lr": (float, 3e-3, "peak learning rate"),
    "weight_decay": (float, 1e-4, "weight decay"),
    "momentum": (float, 0.9, "momentum (sgd)"),
    "schedule": (str, "cosine", "learning rate within each cycle: cosine | linear | constant"),
    "cycles": (int, 1, "learning-rate cycles; a snapshot is saved at the end of each"),
    "snapshots": (int, 1, "the last snapshots averaged at prediction time"),
    "early_stopping": (int, 0, "patience in epochs on an inner split of the training rows (0 = off)"),
    "valid_fraction": (float, 0.1, "share of the training rows held out for early stopping or select_cycles"),
    "select_cycles": (bool, False, ("choose how many of the cycles to train on an inner split (valid_fraction of the "
                                    "training rows), then train again on every row for that many")),
    "label_smoothing": (float, 0.0, ("classification: train toward 1 - e on the true class and e spread over all "
                                     "classes (0 = off); held-out rows are scored on the plain log loss")),
    "min_frequency": (int, 3, "rarer categorical levels (table) and token ids (sequences) share one embedding"),
    "numeric_bins": (int, 0, ("piecewise-linear encoding of each numeric table column over up to this many quantile "
                              "bins of the training rows, beside its standardised value (0 = off)")),
    "numeric_scaling": (str, "standard", ("each numeric table column's shape before standardising: standard (a signed "
                                          "log of long-tailed columns) | quantile (the normal score of its rank among "
                                          "the training rows)")),
    "device": (str, "auto", "auto (a GPU when torch sees one) | cpu | cuda"),
    "precision": (str, "float32", ("a training step's forward pass and loss: float32 | bfloat16 (torch autocast; weights, "
                                   "optimiser and predictions stay float32): faster on a GPU and on a CPU with AMX "
                                   "or AVX512-BF16, slower where the CPU emulates it | auto (bfloat16 where the "
                                   "device has it natively, else float32)")),
    "seed": (int, 0, "random seed (initialisation, dropout, shuffles)"),
}
_CHOICES = {"optimizer": tuple(OPTIMIZERS), "schedule": tuple(SCHEDULES), "device": DEVICES,
            "numeric_scaling": ("standard", "quantile"), "precision": PRECISIONS}
_MINIMUM = {"epochs": 1, "iterations": 1, "batch_size": 0, "cycles": 1, "snapshots": 1, "early_stopping": 0,
            "min_frequency": 1, "numeric_bins": 0}
_QUANTILES = 1000  # the training quantiles kept per column for numeric_scaling = "quantile" (scikit-learn's default)
_PIPELINE_KEYS = ("task", "threads")  # set from [competition] task and [runtime] threads


class _Tabular:
    """Column transforms fitted on training rows: numeric matrix (float32) and categorical codes (int64)."""

    def __init__(self, min_frequency: int, numeric_bins: int = 0, numeric_scaling: str = "standard"):
        self.min_frequency = min_frequency
        self.numeric_bins = numeric_bins
        self.numeric_scaling = numeric_scaling
        self.quantiles = np.zeros((0, 0))

    def fit(self, X) -> "_Tabular":
        import pandas as pd

        self.numeric, self.categorical = [], []
        for c in X.columns:
            col = X[c]
            if pd.api.types.is_bool_dtype(col) or (pd.api.types.is_numeric_dtype(col)
                                                   and not isinstance(col.dtype, pd.CategoricalDtype)):
                self.numeric.append(c)
            else:
                self.categorical.append(c)
        num = self._numbers(X)
        self.median = np.nanmedian(np.where(np.isfinite(num), num, np.nan), axis=0) if num.size else np.zeros(0)
        self.median = np.nan_to_num(self.median)
        self.flagged = [j for j in range(num.shape[1]) if np.isnan(num[:, j]).any()]
        filled = np.where(np.isnan(num), self.median, num)
        if self.numeric_scaling == "quantile":
            self.logged = []
            self.quantiles = np.quantile(filled, np.linspace(0.0, 1.0, min(_QUANTILES, len(filled))), axis=0)
        else:
            self.logged = [j for j in range(filled.shape[1]) if _skewed(filled[:, j])]
        filled = self._shaped(filled)
        self.edges = [_bin_edges(filled[:, j], self.numeric_bins) for j in range(filled.shape[1])]
        self.mean = filled.mean(axis=0)
        std = filled.std(axis=0)
        self.std = np.where(std > 1e-12, std, 1.0)
        self.levels = []
        for c in self.categorical:
            counts = X[c].astype(object).value_counts(dropna=True)
            kept = counts[counts >= self.min_frequency].index
            self.levels.append({v: i + 1 for i, v in enumerate(kept)})
        return self

    def _numbers(self, X) -> np.ndarray:
        if not self.numeric:
            return np.zeros((len(X), 0))
        num = X[self.numeric].astype(np.float64).to_numpy(na_value=np.nan)
        return np.where(np.isfinite(num), num, np.nan)

    def _shaped(self, a: np.ndarray) -> np.ndarray:
        """The imputed numeric columns reshaped before standardising: normal scores of their training
        quantiles (`quantile`), else a signed log of the long-tailed ones."""
        if self.numeric_scaling == "quantile":
            return _normal_scores(a, self.quantiles)
        if self.logged:
            a = a.copy()
            a[:, self.logged] = np.sign(a[:, self.logged]) * np.log1p(np.abs(a[:, self.logged]))
        return a

    def transform(self, X) -> tuple[np.ndarray, np.ndarray]:
        num = self._numbers(X)
        missing = np.isnan(num[:, self.flagged]).astype(np.float64)
        filled = self._shaped(np.where(np.isnan(num), self.median, num))
        z = (filled - self.mean) / self.std
        pieces = [_piecewise_linear(filled[:, j], e) for j, e in enumerate(self.edges) if len(e)]
        dense = np.hstack([np.clip(z, -5.0, 5.0), missing, *pieces]).astype(np.float32)
        codes = np.zeros((len(X), len(self.categorical)), dtype=np.int64)
        for j, (c, mapping) in enumerate(zip(self.categorical, self.levels)):
            codes[:, j] = X[c].astype(object).map(mapping).fillna(0).to_numpy(dtype=np.int64)
        return dense, codes

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted state as (JSON-able settings, arrays): models.persist writes it, `from_state` reads it."""
        meta = {"min_frequency": self.min_frequency, "numeric_bins": self.numeric_bins,
                "numeric_scaling": self.numeric_scaling, "numeric": list(self.numeric),
                "categorical": list(self.categorical), "flagged": [int(j) for j in self.flagged],
                "logged": [int(j) for j in self.logged], "levels": [list(m) for m in self.levels]}
        edges = {f"edges_{j}": e for j, e in enumerate(self.edges) if len(e)}
        quantiles = {"quantiles": self.quantiles} if self.quantiles.size else {}  # fitted for `quantile` only
        return meta, {"median": self.median, "mean": self.mean, "std": self.std, **quantiles, **edges}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "_Tabular":
        """The fitted transforms `state` gave (levels keep their order: code i + 1 for the i-th)."""
        prep = cls(int(meta["min_frequency"]), int(meta.get("numeric_bins", 0)),
                   str(meta.get("numeric_scaling", "standard")))
        prep.quantiles = arrays.get("quantiles", np.zeros((0, 0)))
        prep.numeric, prep.categorical = list(meta["numeric"]), list(meta["categorical"])
        prep.flagged, prep.logged = [int(j) for j in meta["flagged"]], [int(j) for j in meta["logged"]]
        prep.levels = [{v: i + 1 for i, v in enumerate(values)} for values in meta["levels"]]
        prep.median, prep.mean, prep.std = arrays["median"], arrays["mean"], arrays["std"]
        prep.edges = [arrays.get(f"edges_{j}", np.zeros(0)) for j in range(len(prep.numeric))]
        return prep

    @property
    def n_dense(self) -> int:
        return len(self.numeric) + len(self.flagged) + sum(max(len(e) - 1, 0) for e in self.edges)

    @property
    def cardinalities(self) -> list[int]:
        return [len(m) + 1 for m in self.levels]


def _bin_edges(a: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bin edges of one numeric column for the piecewise-linear encoding (Gorishniy et al. 2022,
    "On Embeddings for Numerical Features in Tabular Deep Learning"): up to `bins` bins, fewer where
    the column has fewer distinct values; none (an empty array) when off or when it would be one bin."""
    if bins < 1:
        return np.zeros(0)
    edges = np.unique(np.quantile(a, np.linspace(0.0, 1.0, bins + 1), method="inverted_cdf"))
    return edges if len(edges) >= 3 else np.zeros(0)


def _piecewise_linear(a: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """One column per bin: 0 below the bin, 1 above it, the position inside it in between. A net sees a
    step or a bump in one value as a weight on a column, which a standardised scalar makes it learn
    through many units (taxi's tip rate against distance: a bump at airport distances)."""
    left, width = edges[:-1], np.diff(edges)
    return np.clip((a[:, None] - left) / width, 0.0, 1.0)


def _normal_scores(a: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Each column's values as standard-normal scores of their place among its training `quantiles`
    (rows: equally spaced probabilities), interpolated (Gorishniy et al. 2021 feed MLPs this shape). Tied
    quantiles give a value the middle of their range, also at the ends: scikit-learn's QuantileTransformer
    (the same inside) sends the smallest and largest training values to -5.2 and 5.2, a 0/1 column's too."""
    from scipy.special import ndtri

    out = np.empty_like(a, dtype=np.float64)
    probs = np.linspace(0.0, 1.0, len(quantiles))
    for j in range(a.shape[1]):
        q = quantiles[:, j]
        up = np.interp(a[:, j], q, probs)
        down = 1.0 - np.interp(-a[:, j], -q[::-1], probs)  # the same from above: the ties' other end
        out[:, j] = (up + down) / 2.0
    return ndtri(np.clip(out, 1e-7, 1.0 - 1e-7))


def _skewed(a: np.ndarray) -> bool:
    """A column worth a signed log: many distinct values and a long tail (|skewness| > 2)."""
    if len(np.unique(a[: 5000])) < 10:
        return False
    sd = a.std()
    return bool(sd > 0 and abs(np.mean(((a - a.mean()) / sd) ** 3)) > 2.0)


def auto_batch_size(n_rows: int) -> int:
    """128 rows up to 25,600 training rows, then n/200 up to 1024: on 100,000 x 50 an epoch took
    6.4 s at 128 rows per batch and 2.2 s at 512 (1 thread), with far fewer steps than rows to learn from."""
    return int(min(1024, max(128, n_rows // 200)))



class _ArrayInput:
    """An array input fitted on the training rows: its kind and per-row shape; for token sequences,
    a vocabulary of the ids seen at least `min_frequency` times in the training rows: rarer and
    unseen ids share one learned "rare" index (as rare categorical levels share one embedding)."""

    def __init__(self, min_frequency: int = 1):
        self.min_frequency = min_frequency

    def fit(self, a: np.ndarray) -> "_ArrayInput":
        a = np.asarray(a)
        self.kind, self.shape = array_kind(a), tuple(a.shape[1:])
        if self.kind == "sequence":
            counts = np.bincount(np.clip(a.ravel(), 0, None).astype(np.int64))
            self.kept = counts >= self.min_frequency
            self.kept[0] = False  # padding
            self.rare = len(counts)  # the shared index of rare and unseen ids
        return self

    def transform(self, a: np.ndarray, name: str) -> np.ndarray:
        a = np.asarray(a)
        if tuple(a.shape[1:]) != self.shape:
            raise ValueError(f"array input {name!r} has rows of shape {a.shape[1:]}, the model was fitted on "
                             f"{self.shape}")
        if self.kind != "sequence":
            return np.ascontiguousarray(a, dtype=np.float32)
        ids = a.astype(np.int64)
        kept = (ids > 0) & (ids < len(self.kept))
        kept[kept] = self.kept[ids[kept]]
        return np.where(ids > 0, np.where(kept, ids, self.rare), 0)

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted state as (JSON-able settings, arrays): models.persist writes it, `from_state` reads it."""
        meta = {"min_frequency": self.min_frequency, "kind": self.kind, "shape": [int(d) for d in self.shape]}
        if self.kind != "sequence":
            return meta, {}
        return {**meta, "rare": int(self.rare)}, {"kept": self.kept}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "_ArrayInput":
        """The fitted input `state` gave."""
        prep = cls(int(meta["min_frequency"]))
        prep.kind, prep.shape = str(meta["kind"]), tuple(int(d) for d in meta["shape"])
        if prep.kind == "sequence":
            prep.kept, prep.rare = np.asarray(arrays["kept"], dtype=bool), int(meta["rare"])
        return prep

    def spec(self, name: str):
        from models.layers import InputSpec

        return InputSpec(name, self.kind, self.shape, vocab=self.rare + 1 if self.kind == "sequence" else 0)


def _table_spec(prep: _Tabular):
    from models.layers import InputSpec

    return InputSpec(TABLE, "table", (prep.n_dense,), cardinalities=tuple(prep.cardinalities),
                     numeric=len(prep.numeric))


class TorchNet(BaseEstimator):
    """A registered net (`net`, see models.nets.NETS) trained by the one loop; scikit-learn contract.

    `net_params` are the net's own parameters; every other parameter is the loop's (LOOP_PARAMS),
    None meaning the net type's default. `fit` and the predict methods take `arrays` ({name: rows})
    for nets that read array inputs."""

    def __init__(self, task: str = "regression", net: str = "mlp", net_params: dict | None = None,
                 inputs: list | None = None, epochs: int | None = None, iterations: int | None = None,
                 batch_size: int | None = None,
                 drop_last: bool | None = None, optimizer: str | None = None, lr: float | None = None,
                 weight_decay: float | None = None, momentum: float | None = None, schedule: str | None = None,
                 cycles: int | None = None, snapshots: int | None = None, early_stopping: int | None = None,
                 valid_fraction: float | None = None, select_cycles: bool | None = None,
                 label_smoothing: float | None = None, min_frequency: int | None = None,
                 numeric_bins: int | None = None, numeric_scaling: str | None = None, device: str | None = None,
                 precision: str | None = None, seed: int | None = None,
                 threads: int = 1):
        self.task = task
        self.net = net
        self.net_params = net_params
        self.inputs = inputs
        self.epochs = epochs
        self.iterations = iterations
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.schedule = schedule
        self.cycles = cycles
        self.snapshots = snapshots
        self.early_stopping = early_stopping
        self.valid_fraction = valid_fraction
        self.select_cycles = select_cycles
        self.label_smoothing = label_smoothing
        self.min_frequency = min_frequency
        self.numeric_bins = numeric_bins
        self.numeric_scaling = numeric_scaling
        self.device = device
        self.precision = precision
        self.seed = seed
        self.threads = threads

    # ---- settings --------------------------------------------------------------------------------
    def _net_type(self) -> NetType:
        return get_net(self.net)

    def _settings(self) -> dict:
        """Every loop parameter: the given value, else the net type's default, else LOOP_PARAMS'."""
        loop = self._net_type().loop
        return {k: (getattr(self, k) if getattr(self, k) is not None else loop.get(k, default))
                for k, (_t, default, _h) in LOOP_PARAMS.items()}

    def _net_params(self) -> dict:
        net = self._net_type()
        return validate(dict(self.net_params or {}), net.schema, where=f"net {net.name!r}", noun="parameter")

    def _config(self, n_rows: int = 0) -> LoopConfig:
        s = self._settings()
        batch = int(s["batch_size"]) or auto_batch_size(n_rows)
        return LoopConfig(epochs=int(s["epochs"]), iterations=int(s["iterations"] or 0), batch_size=batch,
                          drop_last=bool(s["drop_last"]),
                          optimizer=s["optimizer"], lr=float(s["lr"]), weight_decay=float(s["weight_decay"]),
                          momentum=float(s["momentum"]), schedule=s["schedule"], cycles=int(s["cycles"]),
                          snapshots=int(s["snapshots"]), early_stopping=int(s["early_stopping"]),
                          valid_fraction=float(s["valid_fraction"]), select_cycles=bool(s["select_cycles"]),
                          seed=int(s["seed"]), device=s["device"],
                          threads=self._threads(), precision=s["precision"])

    def _threads(self) -> int:
        """CPU threads for a fit: `threads`, capped by the net type's `max_threads` where more do not pay."""
        cap = self._net_type().max_threads
        return min(int(self.threads), cap) if cap else int(self.threads)

    def _check(self) -> None:
        """ValueError naming the first bad parameter."""
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        self._net_type().check(self._net_params())
        s = self._settings()
        if self.epochs is not None and self.iterations is not None:
            raise ValueError(f"set epochs ({self.epochs}) or iterations ({self.iterations}), not both: iterations "
                             f"is the optimiser steps in all, the epochs following from batch_size")
        if self.iterations is not None and int(self.iterations) < 1:
            raise ValueError(f"iterations must be a positive number of optimiser steps, got {self.iterations!r}")
        if int(s["batch_size"]) < 0:
            raise ValueError(f"batch_size must be 0 (automatic) or a positive number of rows, got {s['batch_size']!r}")
        self._config(1).check()
        smoothing = float(s["label_smoothing"])
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"label_smoothing must be at least 0 and below 1, got {s['label_smoothing']!r}")
        if smoothing and self.task == "regression":
            raise ValueError(f"label_smoothing ({smoothing}) is for classification; remove it on a regression target")

    # ---- data --------------------------------------------------------------------------------------
    def _targets(self, y):
        """`y` as the loss wants it: standardised (n, 1) floats, (n, 1) 0/1 floats, or class indices."""
        import torch

        y = np.asarray(y)
        if self.task == "regression":
            z = (y.astype(np.float64) - self.y_mean_) / self.y_std_
            return torch.from_numpy(z.astype(np.float32)).reshape(-1, 1)
        codes = torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64))
        return codes if self.task == "multiclass" else codes.float().reshape(-1, 1)

    def _tensors(self, X, arrays: dict | None) -> tuple:
        """The inputs' tensors in order (the table as numeric + codes)."""
        import torch

        out: list = []
        for name in self.inputs_:
            if name == TABLE:
                out += [torch.from_numpy(a) for a in self.preps_[name].transform(X)]
                continue
            if arrays is None or name not in arrays:
                raise ValueError(f"the model reads array input {name!r}; pass arrays={{{name!r}: rows}} "
                                 f"(got {sorted(arrays or {})})")
            out.append(torch.from_numpy(self.preps_[name].transform(arrays[name], name)))
        return tuple(out)

    def wants_validation(self) -> bool:
        """No rows held out by the CV loop: the net trains on every training row it is given and
        early-stops (`early_stopping`) on its own inner split; X_valid passed anyway is only scored."""
        return False

    def array_inputs(self, available: dict) -> list[str]:
        """The array inputs this net reads, of `available` ({name: array}); the CV loop slices only these."""
        kinds = {TABLE: "table", **{k: array_kind(v) for k, v in available.items()}}
        return [k for k in choose_inputs(self._net_type(), self._settings()["inputs"], kinds) if k != TABLE]

    # ---- fit / predict -----------------------------------------------------------------------------
    def fit(self, X, y, X_valid=None, y_valid=None, arrays: dict | None = None, arrays_valid: dict | None = None,
            log: Callable[[str], None] | None = None, sample_weight=None) -> "TorchNet":
        """Train on the rows of X (and of each array in `arrays`); X_valid rows are only scored per
        cycle into `history_`. `log` gets a progress line at most every ten seconds. `sample_weight`
        (one per row of X) weighs each row's loss (models._loop.train)."""
        import torch

        self._check()
        net_type, net_params = self._net_type(), self._net_params()
        y = np.asarray(y)
        if self.task == "regression":
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
            n_out, loss_fn = 1, torch.nn.MSELoss()
        else:
            self.classes_ = np.unique(y)
            n_out = 1 if self.task == "binary" else len(self.classes_)
            loss_fn = torch.nn.BCEWithLogitsLoss() if self.task == "binary" else torch.nn.CrossEntropyLoss()
        smoothing = float(self._settings()["label_smoothing"])
        train_loss = smoothed_loss(loss_fn, smoothing) if smoothing else loss_fn
        available = {TABLE: "table", **{k: array_kind(v) for k, v in (arrays or {}).items()}}
        self.inputs_ = choose_inputs(net_type, self._settings()["inputs"], available)
        min_frequency = int(self._settings()["min_frequency"])
        numeric_bins = int(self._settings()["numeric_bins"])
        scaling = str(self._settings()["numeric_scaling"])
        self.preps_ = {name: _Tabular(min_frequency, numeric_bins, scaling).fit(X) if name == TABLE
                       else _ArrayInput(min_frequency).fit(arrays[name]) for name in self.inputs_}
        specs = [_table_spec(prep) if name == TABLE else prep.spec(name) for name, prep in self.preps_.items()]
        tensors = self._tensors(X, arrays)
        target = self._targets(y)
        valid = None
        if X_valid is not None and y_valid is not None and all(n == TABLE or n in (arrays_valid or {})
                                                              for n in self.inputs_):
            valid = (self._tensors(X_valid, arrays_valid), self._targets(y_valid))
        bucket = None
        if net_type.bucket:
            seq = next(i for i, s in enumerate(specs) if s.kind == "sequence")
            position = sum(s.n_tensors for s in specs[:seq])
            bucket = (tensors[position] != 0).sum(1)
        cfg = self._config(len(target))
        try:
            weights = None if sample_weight is None else torch.from_numpy(np.asarray(sample_weight, dtype=np.float32))
            fitted = train(lambda: net_type.build(specs, n_out, net_params), tensors, target, train_loss, cfg,
                           valid=valid, bucket=bucket, log=log, sample_weight=weights, score_fn=loss_fn)
        except CyclesError as exc:  # with epochs, the iterations are known only now (the fold's rows)
            raise UserError(f"net {self.net!r} on {len(target)} training rows: {exc}") from None
        self.net_, self.snapshots_, self.history_ = fitted.net, fitted.snapshots, fitted.history
        self.batch_size_, self.device_, self.precision_ = fitted.batch_size, fitted.device, fitted.precision
        self.iterations_per_epoch_, self.epochs_, self.steps_ = fitted.iterations, fitted.epochs, fitted.steps
        self.best_epoch_ = fitted.best_epoch
        self.cycle_losses_ = fitted.cycle_losses  # select_cycles: the inner loss after each cycle
        self.cycles_ = fitted.chosen_cycles or cfg.cycles
        # the inner split's loss still falling at the end (models._cv says so): select_cycles chose every
        # cycle, or early stopping's best epoch is in the last tenth of them
        self.capped_ = (f"cycles = {cfg.cycles}" if cfg.cycles > 1 and fitted.chosen_cycles == cfg.cycles else
                        cap_reached(fitted.best_epoch, fitted.epochs, "epochs") if fitted.best_epoch else None)
        self.n_out_ = n_out
        return self

    def _outputs(self, X, arrays: dict | None) -> np.ndarray:
        """The snapshots' mean prediction: probabilities (n, k) or values in the target's scale (n, 1)."""
        import torch

        torch.set_num_threads(self._threads())
        if self.task == "regression":
            def to_numpy(raw):
                return raw.double().numpy() * self.y_std_ + self.y_mean_
        elif self.task == "binary":
            def to_numpy(raw):
                p = torch.sigmoid(raw.double()).numpy()[:, 0]
                return np.column_stack([1.0 - p, p])
        else:
            def to_numpy(raw):
                return torch.softmax(raw.double(), dim=1).numpy()
        return predict(self.net_, self._tensors(X, arrays), self.snapshots_, to_numpy, device=self.device_)

    def predict(self, X, arrays: dict | None = None) -> np.ndarray:
        """Values (regression) or the most probable class."""
        out = self._outputs(X, arrays)
        return out[:, 0] if self.task == "regression" else self.classes_[out.argmax(axis=1)]

    def predict_proba(self, X, arrays: dict | None = None) -> np.ndarray:
        """Class probabilities averaged over the snapshots, columns in `classes_` order."""
        if self.task == "regression":
            raise AttributeError("a regression model has no predict_proba")
        if self.task == "binary" and len(self.classes_) == 1:  # a training set with one class
            return np.ones((len(X), 1))
        return self._outputs(X, arrays)


# ---- model types ---------------------------------------------------------------------------------
def _build(name: str, spec: dict, ctx: ModelContext, net: str) -> TorchNet:
    """The template TorchNet for a model table (task and threads come from the pipeline); every
    problem -- a parameter, the inputs the competition lacks, a layer, the device -- is a UserError."""
    params = dict(spec.get("params", {}))
    for key in _PIPELINE_KEYS:
        if key in params:
            raise UserError(f"models.{name}.params.{key} is set by the pipeline ([competition] task, "
                            f"[runtime] threads); remove it")
    if "epochs_per_cycle" in params:
        raise UserError(f"models.{name}.params.epochs_per_cycle was replaced by epochs, the total over all cycles "
                        f"(cycles x epochs_per_cycle); set epochs = {int(params.get('cycles', 5)) * int(params['epochs_per_cycle'])}")
    if "epochs" in params and "iterations" in params:
        raise UserError(f"models.{name}.params sets epochs ({params['epochs']!r}) and iterations "
                        f"({params['iterations']!r}); keep one: iterations is the optimiser steps in all, the "
                        f"epochs following from batch_size")
    net_type = get_net(net)
    schema = {k: (t, net_type.loop.get(k, d), h) for k, (t, d, h) in LOOP_PARAMS.items()}
    values = validate(params, {**schema, **net_type.schema}, where=f"models.{name}.params", noun="parameter",
                      choices=_CHOICES, minimum={**_MINIMUM, **net_type.minimum})
    net_params = {k: values.pop(k) for k in net_type.schema}
    if values["iterations"] is not None:
        values["epochs"] = None  # not given (checked above): the net type's default, which iterations replaces
    model = TorchNet(task=ctx.task.task, net=net, net_params=net_params, threads=ctx.threads, **values)
    try:
        model._check()
        check_device(values["device"])
    except ValueError as exc:
        raise UserError(f"models.{name}.params: {exc}") from None
    arrays = {k: np.asarray(tr) for k, (tr, _te) in (ctx.arrays or {}).items()}
    try:
        chosen = choose_inputs(net_type, values["inputs"], {TABLE: "table", **{k: array_kind(a) for k, a in arrays.items()}})
    except ValueError as exc:
        raise UserError(f"models.{name}: {exc}") from None
    if net == "factory":
        from core.params import import_object

        import_object(net_params["factory"], where=f"models.{name}.params.factory")
        return model
    if net_type.checked_by_range:
        return model
    from models.layers import InputSpec, LayerError

    specs = [InputSpec(TABLE, "table", (1,)) if k == TABLE else _ArrayInput().fit(arrays[k][:1000]).spec(k)
             for k in chosen]
    for i, k in enumerate(chosen):  # the vocabulary of a sequence: every id in train, + the rare index
        if specs[i].kind == "sequence":
            specs[i] = InputSpec(k, "sequence", specs[i].shape, vocab=int(arrays[k].max(initial=0)) + 2)
    try:  # build the net once now, so that a layer list that cannot work stops before any training
        net_type.build(specs, max(ctx.task.n_outputs, 1), net_params)
    except LayerError as exc:
        raise UserError(f"models.{name}.params.{exc}") from None
    except ValueError as exc:
        raise UserError(f"models.{name}.params: {exc}") from None
    return model


def build_mlp(name: str, spec: dict, ctx: ModelContext) -> TorchNet:
    """`type = "mlp"`: the MLP on the feature table."""
    return _build(name, spec, ctx, "mlp")


def build_net(name: str, spec: dict, ctx: ModelContext) -> TorchNet:
    """`type = "net"`: a layer list (`layers`, Keras' Sequential) or a module factory (`factory`, the functional style)."""
    params = spec.get("params", {})
    if ("layers" in params) == ("factory" in params):
        raise UserError(f"models.{name}: type = 'net' needs params.layers = [...] (a layer list, e.g. "
                        f"[{{ type = \"dense\", units = 256 }}]) or params.factory = 'package.module:function' "
                        f"(a module factory), one of the two")
    return _build(name, spec, ctx, "factory" if "factory" in params else "sequential")


def build_densenet(name: str, spec: dict, ctx: ModelContext) -> TorchNet:
    """`type = "densenet"`: DenseNet-BC on the pixel-grid image array."""
    return _build(name, spec, ctx, "densenet")


def build_rnn(name: str, spec: dict, ctx: ModelContext) -> TorchNet:
    """`type = "rnn"`: embedding, bidirectional GRU/LSTM and attention on a token sequence array."""
    return _build(name, spec, ctx, "rnn")
