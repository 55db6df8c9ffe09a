"""A torch MLP for tabular features, trained as a snapshot ensemble (Huang et al. 2017).

One training run of `cycles` cosine-annealed learning-rate cycles (each restarts at `lr` and decays
to about zero); the weights at the end of each cycle are a snapshot, and predictions average the
last `snapshots` of them: M models for the price of one training run.

Preprocessing is part of the estimator and fitted on the training rows only: numeric columns get
median imputation (+ a missing indicator), a signed log for skewed columns, standardisation and
clipping to +-5 standard deviations; categorical columns become learned embeddings (rare and unseen
levels share index 0). The validation rows the CV loop passes are only scored, per cycle, into
`history_`: they never choose an epoch or a snapshot, so the OOF score stays honest.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator

from core.params import check_init_params
from models._types import ModelContext
from core.errors import UserError

TASKS = ("regression", "binary", "multiclass")
PROGRESS_S = 10.0  # at most one progress line per this many seconds of training


class _Tabular:
    """Column transforms fitted on training rows: numeric matrix (float32) and categorical codes (int64)."""

    def __init__(self, min_frequency: int):
        self.min_frequency = min_frequency

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
        self.logged = [j for j in range(filled.shape[1]) if _skewed(filled[:, j])]
        filled = self._log(filled)
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

    def _log(self, a: np.ndarray) -> np.ndarray:
        if self.logged:
            a = a.copy()
            a[:, self.logged] = np.sign(a[:, self.logged]) * np.log1p(np.abs(a[:, self.logged]))
        return a

    def transform(self, X) -> tuple[np.ndarray, np.ndarray]:
        num = self._numbers(X)
        missing = np.isnan(num[:, self.flagged]).astype(np.float64)
        z = (self._log(np.where(np.isnan(num), self.median, num)) - self.mean) / self.std
        dense = np.hstack([np.clip(z, -5.0, 5.0), missing]).astype(np.float32)
        codes = np.zeros((len(X), len(self.categorical)), dtype=np.int64)
        for j, (c, mapping) in enumerate(zip(self.categorical, self.levels)):
            codes[:, j] = X[c].astype(object).map(mapping).fillna(0).to_numpy(dtype=np.int64)
        return dense, codes

    @property
    def n_dense(self) -> int:
        return len(self.numeric) + len(self.flagged)

    @property
    def cardinalities(self) -> list[int]:
        return [len(m) + 1 for m in self.levels]


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


def _embedding_size(cardinality: int) -> int:
    return int(min(16, max(2, round(1.6 * cardinality ** 0.56))))


class SnapshotMLP(BaseEstimator):
    """MLP on dense + embedded categorical inputs; `cycles` cosine cycles, last `snapshots` averaged."""

    def __init__(self, task: str = "regression", width: int = 256, depth: int = 2, dropout: float = 0.1,
                 lr: float = 3e-3, weight_decay: float = 1e-4, batch_size: int = 0, cycles: int = 5,
                 epochs_per_cycle: int = 10, snapshots: int = 5, min_frequency: int = 3, seed: int = 0,
                 threads: int = 1):
        self.task = task
        self.width = width
        self.depth = depth
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.cycles = cycles
        self.epochs_per_cycle = epochs_per_cycle
        self.snapshots = snapshots
        self.min_frequency = min_frequency
        self.seed = seed
        self.threads = threads

    # ---- network -------------------------------------------------------------------------------
    def _network(self, n_dense: int, cardinalities: list[int], n_out: int):
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(net):
                super().__init__()
                net.embeddings = nn.ModuleList(nn.Embedding(c, _embedding_size(c)) for c in cardinalities)
                size = n_dense + sum(_embedding_size(c) for c in cardinalities)
                layers: list[nn.Module] = []
                for _ in range(self.depth):
                    layers += [nn.Linear(size, self.width), nn.SiLU(), nn.Dropout(self.dropout)]
                    size = self.width
                layers.append(nn.Linear(size, n_out))
                net.body = nn.Sequential(*layers)

            def forward(net, dense, codes):
                parts = [dense] + [emb(codes[:, j]) for j, emb in enumerate(net.embeddings)]
                return net.body(torch.cat(parts, dim=1))

        return Net()

    def _check(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for key in ("width", "depth", "cycles", "epochs_per_cycle", "snapshots", "threads"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)!r}")
        if int(self.batch_size) < 0:
            raise ValueError(f"batch_size must be 0 (automatic) or a positive number of rows, got {self.batch_size!r}")
        if int(self.snapshots) > int(self.cycles):
            raise ValueError(f"snapshots ({self.snapshots}) cannot exceed cycles ({self.cycles}): "
                             f"one snapshot is saved per cycle")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if float(self.lr) <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")

    def _targets(self, y):
        """`y` as the loss wants it: standardised (n, 1) floats, (n, 1) 0/1 floats, or class indices."""
        import torch

        y = np.asarray(y)
        if self.task == "regression":
            z = (y.astype(np.float64) - self.y_mean_) / self.y_std_
            return torch.from_numpy(z.astype(np.float32)).reshape(-1, 1)
        codes = torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64))
        return codes if self.task == "multiclass" else codes.float().reshape(-1, 1)

    def fit(self, X, y, X_valid=None, y_valid=None, log: Callable[[str], None] | None = None) -> "SnapshotMLP":
        """Train one run of `cycles` cosine cycles, keeping the weights at the end of each cycle;
        `log` gets a progress line after a cycle when PROGRESS_S seconds have passed since the last."""
        import copy
        import time

        import torch

        self._check()
        torch.set_num_threads(int(self.threads))
        y = np.asarray(y)
        if self.task == "regression":
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
            n_out, loss_fn = 1, torch.nn.MSELoss()
        else:
            self.classes_ = np.unique(y)
            n_out = 1 if self.task == "binary" else len(self.classes_)
            loss_fn = torch.nn.BCEWithLogitsLoss() if self.task == "binary" else torch.nn.CrossEntropyLoss()
        self.prep_ = _Tabular(int(self.min_frequency)).fit(X)
        dense, codes = (torch.from_numpy(a) for a in self.prep_.transform(X))
        target = self._targets(y)
        torch.manual_seed(int(self.seed))
        generator = torch.Generator().manual_seed(int(self.seed))
        net = self._network(self.prep_.n_dense, self.prep_.cardinalities, n_out)
        optimiser = torch.optim.AdamW(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        n = len(target)
        batch = min(int(self.batch_size) or auto_batch_size(n), n)
        self.batch_size_ = batch
        steps = max(1, n // batch)  # drop the last partial batch: tiny batches make noisy steps
        per_cycle = steps * int(self.epochs_per_cycle)
        valid = None
        if X_valid is not None and y_valid is not None:
            valid = (*(torch.from_numpy(a) for a in self.prep_.transform(X_valid)), np.asarray(y_valid))
        self.snapshots_, self.history_ = [], []
        started = last_report = time.perf_counter()
        for cycle in range(int(self.cycles)):
            net.train()
            total, step = 0.0, 0
            for _ in range(int(self.epochs_per_cycle)):
                order = torch.randperm(n, generator=generator)
                for b in range(steps):
                    rows = order[b * batch:(b + 1) * batch]
                    for group in optimiser.param_groups:  # cosine annealing within the cycle
                        group["lr"] = 0.5 * float(self.lr) * (1.0 + math.cos(math.pi * step / per_cycle))
                    optimiser.zero_grad(set_to_none=True)
                    loss = loss_fn(net(dense[rows], codes[rows]), target[rows])
                    loss.backward()
                    optimiser.step()
                    total += loss.item()
                    step += 1
            self.snapshots_.append(copy.deepcopy(net.state_dict()))
            record = {"cycle": cycle + 1, "train_loss": total / max(step, 1)}
            if valid is not None:
                record["valid_loss"] = self._loss(net, valid, loss_fn)
            self.history_.append(record)
            now = time.perf_counter()
            if log is not None and now - last_report >= PROGRESS_S and cycle + 1 < int(self.cycles):
                valid_text = f", valid loss {record['valid_loss']:.4f}" if "valid_loss" in record else ""
                log(f"cycle {cycle + 1}/{self.cycles}, train loss {record['train_loss']:.4f}{valid_text} "
                    f"({now - started:.0f}s)")
                last_report = now
        self.snapshots_ = self.snapshots_[-int(self.snapshots):]
        self.n_out_ = n_out
        return self

    def _loss(self, net, valid, loss_fn) -> float:
        import torch

        dense, codes, y = valid
        net.eval()
        with torch.no_grad():
            return float(loss_fn(net(dense, codes), self._targets(y)))

    def _outputs(self, X) -> np.ndarray:
        """The snapshots' mean prediction: probabilities (n, k) or standardised-back values (n,)."""
        import torch

        torch.set_num_threads(int(self.threads))
        dense, codes = (torch.from_numpy(a) for a in self.prep_.transform(X))
        net = self._network(self.prep_.n_dense, self.prep_.cardinalities, self.n_out_)
        net.eval()
        out = np.zeros((len(dense), self.n_out_ if self.task != "binary" else 2))
        with torch.no_grad():
            for state in self.snapshots_:
                net.load_state_dict(state)
                raw = torch.cat([net(dense[i:i + 8192], codes[i:i + 8192]) for i in range(0, len(dense), 8192)])
                if self.task == "regression":
                    out += raw.double().numpy() * self.y_std_ + self.y_mean_
                elif self.task == "binary":
                    p = torch.sigmoid(raw.double()).numpy()[:, 0]
                    out += np.column_stack([1.0 - p, p])
                else:
                    out += torch.softmax(raw.double(), dim=1).numpy()
        return out / len(self.snapshots_)

    def predict(self, X) -> np.ndarray:
        """Values (regression) or the most probable class."""
        out = self._outputs(X)
        return out[:, 0] if self.task == "regression" else self.classes_[out.argmax(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities averaged over the snapshots, columns in `classes_` order."""
        if self.task == "regression":
            raise AttributeError("a regression model has no predict_proba")
        if self.task == "binary" and len(self.classes_) == 1:  # a training set with one class
            return np.ones((len(X), 1))
        return self._outputs(X)


def build(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The template SnapshotMLP for a `type = "mlp"` table (task and threads come from the pipeline)."""
    params = dict(spec.get("params", {}))
    for key in ("task", "threads"):
        if key in params:
            raise UserError(f"models.{name}.params.{key} is set by the pipeline ([competition] task, "
                            f"[runtime] threads); remove it")
    check_init_params(SnapshotMLP, params, where=f"models.{name}.params")
    model = SnapshotMLP(task=ctx.task.task, threads=ctx.threads, **params)
    try:
        model._check()
    except ValueError as exc:
        raise UserError(f"models.{name}.params: {exc}") from None
    return model
