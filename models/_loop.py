"""The one training loop every torch model uses: mini-batches, optimiser, learning-rate schedule,
snapshot ensembles, optional early stopping on an inner split, device and threads.

    fitted = train(build_net, (x,), target, loss_fn, LoopConfig(epochs=20, cycles=4, snapshots=4))
    out = predict(fitted.net, (x_new,), fitted.snapshots, to_numpy)

An epoch is ceil(rows / batch_size) iterations over a fresh shuffle (`drop_last`: rows // batch_size
full batches, the last partial batch dropped). The learning rate is set before every iteration by
the schedule (`SCHEDULES`); the `cosine` one is the snapshot schedule of Huang et al. 2017:

    lr(t) = lr0 / 2 * (cos(pi * (t mod ceil(T / M)) / ceil(T / M)) + 1)

with T the total iterations and M = `cycles`; the weights at the end of each cycle are a snapshot and
prediction averages the last `snapshots` of them (M models for the price of one training run; M = 1
is plain cosine annealing). `iterations` = T > 0 sets the optimiser steps instead of `epochs`: the
epochs are then ceil(T / iterations per epoch), the last one stopping mid-epoch when the steps run out,
and the cycles are laid over the T steps as above (every cycle must end inside them: T = 10 steps hold
5 cycles of 2 but not 6, since 6 cycles of ceil(10 / 6) = 2 end after 5). With `early_stopping` =
P > 0, a `valid_fraction` of the training rows is held out (an inner split: never the fold's
validation rows, so an OOF score stays honest), training stops after P epochs without a better loss
on it, and the best epoch's weights are kept. With `select_cycles`, the same inner split chooses how
many of the M cycles to train: the cycles run on the other rows until the average of the last
`snapshots` snapshots' raw outputs has not lowered the loss on the held-out rows for
SELECT_PATIENCE cycles, and the net is then trained again on every row for the best number of cycles
(each as long as before), as a boosted model is refit for its early-stopped rounds.

Seeded: the same seed, data and thread count give the same weights on CPU (`torch.manual_seed` for
initialisation and dropout, a separate generator for the shuffles).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

PROGRESS_S = 10.0  # at most one progress line per this many seconds of training
BUCKET_BATCHES = 20  # `bucket`: rows are sorted by length within windows of this many batches
SELECT_PATIENCE = 1  # `select_cycles`: cycles without a better inner loss before the choosing run stops
DEVICES = ("auto", "cpu", "cuda")
# The dtype of a training step's forward pass and loss (torch autocast; weights, optimiser state, inner-split
# losses and predictions stay float32). bfloat16 needs no loss scaling (float32's exponent range). "auto":
# bfloat16 where the device computes it natively (`resolve_precision`), else float32.
PRECISIONS = ("auto", "float32", "bfloat16")


# ---- registries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Optimizer:
    """An optimiser choice: `make(parameters, config)` -> an optimiser of `models._optim` (`lr`, `zero_grad`, `step`)."""

    name: str
    doc: str
    make: Callable[[Any, "LoopConfig"], Any]


# fused: one kernel per step updates every parameter (CPU and CUDA). On the default MLP (batch 128, width
# 256, one thread) a step took 1.8 ms instead of foreach's 2.25 ms (one multi-tensor op per update stage)
# and a Python loop's 2.5 ms; whole fits 10 % faster. The arithmetic agrees with foreach to float rounding,
# not to the bit: retrained this way (benchmarks/members.py, mlp=>mlp_again, 2026-12-03) the MLP's OOF and
# the ensemble's agreed with foreach's to 5 digits on all 18 sets.
def _adamw(parameters, cfg: "LoopConfig"):
    from models._optim import FusedAdamW

    return FusedAdamW(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _sgd(parameters, cfg: "LoopConfig"):
    from models._optim import ForeachSGD

    return ForeachSGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in [
    Optimizer("adamw", "AdamW (decoupled weight decay)", _adamw),
    Optimizer("sgd", "SGD with Nesterov momentum (`momentum`, 0 = plain SGD)", _sgd),
]}


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule within one cycle: `lr(lr0, i, L)` at iteration i of a cycle of L."""

    name: str
    doc: str
    lr: Callable[[float, int, int], float]


SCHEDULES: dict[str, Schedule] = {s.name: s for s in [
    Schedule("cosine", "cosine annealing from lr to 0 in each cycle, restarted per cycle (snapshot ensembles)",
             lambda lr0, i, L: 0.5 * lr0 * (1.0 + math.cos(math.pi * i / L))),
    Schedule("linear", "linear decay from lr to 0 in each cycle", lambda lr0, i, L: lr0 * (1.0 - i / L)),
    Schedule("constant", "lr throughout", lambda lr0, i, L: lr0),
]}


def check_device(device: str) -> None:
    """ValueError for a device that is not one of DEVICES, or 'cuda' without a GPU. Only 'cuda' imports
    torch: a model table is checked in the main process, which never trains a net itself."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda":
        resolve_device(device)


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU -> ValueError."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    import torch

    has_gpu = torch.cuda.is_available()
    if device == "cuda" and not has_gpu:
        raise ValueError(f"device = 'cuda' but torch {torch.__version__} sees no GPU (torch.cuda.is_available() "
                         f"is False); install a CUDA build of torch (README: GPU) or set device = 'auto'")
    return "cuda" if device == "auto" and has_gpu else ("cpu" if device == "auto" else device)


def resolve_precision(precision: str, device: str) -> str:
    """'auto' -> 'bfloat16' where `device` ('cpu' or 'cuda', resolved) multiplies in bfloat16 natively (a GPU that
    torch says supports it; a CPU with AMX or AVX512-BF16), else 'float32'. Elsewhere a CPU emulates bfloat16,
    slower than float32. The other values are returned as they are."""
    if precision != "auto":
        return precision
    import torch

    if device == "cuda":
        native = torch.cuda.is_bf16_supported()
    else:  # torch.cpu's feature probes are private: a torch without them is taken to have neither
        native = any(getattr(torch.cpu, probe, lambda: False)()
                     for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return "bfloat16" if native else "float32"


# ---- the loop ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoopConfig:
    """How to train: every field is a model parameter of the same name (see README, neural nets)."""

    epochs: int = 50
    iterations: int = 0  # optimiser steps in all; 0 = epochs x iterations per epoch (> 0: epochs is not read)
    batch_size: int = 128
    drop_last: bool = False
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: str = "cosine"
    cycles: int = 1
    snapshots: int = 1
    early_stopping: int = 0
    valid_fraction: float = 0.1
    select_cycles: bool = False
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    precision: str = "float32"

    def check(self) -> None:
        """ValueError naming the first bad setting."""
        for key in ("epochs", "batch_size", "cycles", "snapshots", "threads"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.snapshots > self.cycles:
            raise ValueError(f"snapshots ({self.snapshots}) cannot exceed cycles ({self.cycles}): "
                             f"one snapshot is saved per cycle")
        if int(self.iterations) < 0:
            raise ValueError(f"iterations must be positive (or 0: set by epochs), got {self.iterations!r}")
        if self.iterations:
            check_cycles(int(self.iterations), int(self.cycles))
        elif self.cycles > self.epochs * 1000:
            raise ValueError(f"cycles ({self.cycles}) is more than the iterations can hold; lower it")
        if float(self.lr) <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if float(self.weight_decay) < 0 or not 0.0 <= float(self.momentum) < 1.0:
            raise ValueError(f"weight_decay must be >= 0 and momentum in [0, 1), got {self.weight_decay!r}, "
                             f"{self.momentum!r}")
        if int(self.early_stopping) < 0:
            raise ValueError(f"early_stopping must be 0 (off) or a patience in epochs, got {self.early_stopping!r}")
        if self.early_stopping and self.snapshots > 1:
            raise ValueError(f"early_stopping keeps one epoch's weights, snapshots ({self.snapshots}) average "
                             f"several; set snapshots = 1 or early_stopping = 0")
        if self.select_cycles and self.early_stopping:
            raise ValueError("select_cycles chooses how many cycles to train and early_stopping one epoch's "
                             "weights, on the same inner split; set one of them (early_stopping = 0 or "
                             "select_cycles = false)")
        if self.select_cycles and self.cycles < 2:
            raise ValueError(f"select_cycles chooses among the cycles, but cycles = {self.cycles}; set cycles "
                             f"to 2 or more, or select_cycles = false")
        if not 0.0 < float(self.valid_fraction) <= 0.5:
            raise ValueError(f"valid_fraction must be in (0, 0.5], got {self.valid_fraction!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclass
class Fitted:
    """A trained net: the module, the kept snapshots (state dicts on the CPU) and per-epoch history."""

    net: Any
    snapshots: list[dict]
    history: list[dict] = field(default_factory=list)
    iterations: int = 0  # per epoch
    batch_size: int = 0
    device: str = "cpu"
    best_epoch: int | None = None  # early stopping: the epoch whose weights were kept
    epochs: int = 0  # planned: `epochs`, or ceil(`iterations` / iterations per epoch)
    steps: int = 0  # optimiser steps taken (fewer than planned when early stopping ends the run)
    cycle_losses: list[float] = field(default_factory=list)  # select_cycles: the inner loss after each cycle
    chosen_cycles: int | None = None  # select_cycles: the number of cycles it chose (and trained on every row)
    precision: str = "float32"  # the training steps' (`resolve_precision`)


def iterations_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    """ceil(n / batch_size), or n // batch_size full batches with `drop_last` (at least 1)."""
    batch = min(batch_size, n)
    return max(1, n // batch) if drop_last else -(-n // batch)


class CyclesError(ValueError):
    """`cycles` cycles cannot all end inside the training's iterations (see `check_cycles`)."""


def check_cycles(total_steps: int, cycles: int) -> None:
    """CyclesError (a ValueError) unless `cycles` cycles of ceil(T / M) steps each end inside the T steps, so that
    every cycle leaves its snapshot (T = 10 holds 5 cycles of 2; 6 cycles of 2 would end after 5)."""
    per_cycle = -(-total_steps // cycles)
    if -(-total_steps // per_cycle) < cycles:
        fits = [m for m in range(1, cycles) if -(-total_steps // -(-total_steps // m)) == m][-1]
        raise CyclesError(f"cycles ({cycles}) do not fit in {total_steps} iterations: cycles of ceil({total_steps} / "
                         f"{cycles}) = {per_cycle} iterations make {-(-total_steps // per_cycle)}; set cycles to at "
                         f"most {fits} or the iterations to a multiple of {cycles}")


def learning_rate(cfg: LoopConfig, t: int, total_steps: int) -> float:
    """The learning rate of iteration t (0-based) of `total_steps`: the schedule at position
    t mod ceil(T / M) of a cycle of ceil(T / M) iterations (M = cfg.cycles)."""
    per_cycle = -(-total_steps // int(cfg.cycles))
    return SCHEDULES[cfg.schedule].lr(float(cfg.lr), t % per_cycle, per_cycle)


def _batches(order, n: int, batch: int, steps: int, drop_last: bool):
    """The epoch's row batches from a shuffled order: full batches (drop_last) or `steps` even chunks."""
    import torch

    if drop_last:
        return [order[b * batch:(b + 1) * batch] for b in range(steps)]
    return list(torch.tensor_split(order, steps))


def _bucketed(order, key, batch: int):
    """`order` with rows sorted by `key` within windows of BUCKET_BATCHES batches (batches of similar
    length train a packed RNN several times faster); the batches are then shuffled again."""
    import torch

    window = batch * BUCKET_BATCHES
    parts = [chunk[torch.argsort(key[chunk], stable=True)] for chunk in torch.split(order, window)]
    return torch.cat(parts)


def _snapshot(net) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


def _loss_on(net, inputs: tuple, target, loss_fn, device: str, chunk: int = 4096) -> float:
    """Mean loss over rows (evaluation mode, no gradient), in chunks."""
    import torch

    was_training = net.training
    net.eval()
    total, n = 0.0, len(target)
    with torch.no_grad():
        for i in range(0, n, chunk):
            batch = tuple(x[i:i + chunk].to(device) for x in inputs)
            y = target[i:i + chunk].to(device)
            total += float(loss_fn(net(*batch), y)) * len(y)
    net.train(was_training)
    return total / max(n, 1)


def _schedule(n: int, cfg: LoopConfig) -> tuple[int, int, int, int]:
    """(rows per batch, iterations per epoch, iterations in all, iterations per cycle) for n training rows."""
    batch = min(int(cfg.batch_size), n)
    steps = iterations_per_epoch(n, batch, cfg.drop_last)
    total_steps = int(cfg.iterations) or steps * int(cfg.epochs)
    return batch, steps, total_steps, -(-total_steps // int(cfg.cycles))  # ceil(T / M) iterations per cycle


def _inner_split(n: int, cfg: LoopConfig):
    """(held, kept) row indices: a seeded `valid_fraction` of the n training rows held out."""
    import torch

    perm = torch.from_numpy(np.random.default_rng(int(cfg.seed)).permutation(n))
    cut = max(1, int(round(n * float(cfg.valid_fraction))))
    return perm[:cut], perm[cut:]


def _raw_outputs(net, inputs: tuple, device: str, chunk: int = 8192):
    """The net's raw outputs for every row (evaluation mode, no gradient), on the CPU."""
    import torch

    was_training = net.training
    net.eval()
    with torch.no_grad():
        out = torch.cat([net(*(x[i:i + chunk].to(device) for x in inputs)).cpu()
                         for i in range(0, len(inputs[0]), chunk)])
    net.train(was_training)
    return out


def _choose_cycles(build_net, inputs: tuple, target, loss_fn, cfg: LoopConfig, *, bucket=None,
                   score_fn, sample_weight=None, log=None) -> tuple[int, list[float]]:
    """`select_cycles`: train on all but the inner split, scoring the average of the last `snapshots`
    snapshots' raw outputs on it after each cycle; returns (the best number of cycles, the losses)."""
    held, kept = _inner_split(len(target), cfg)
    held_inputs, held_target = tuple(x[held] for x in inputs), target[held]
    outputs: list = []
    losses: list[float] = []

    def after_cycle(net) -> bool:
        outputs.append(_raw_outputs(net, held_inputs, resolve_device(cfg.device)))
        window = outputs[-int(cfg.snapshots):]
        losses.append(float(score_fn(sum(window) / len(window), held_target)))
        return len(losses) - 1 - int(np.argmin(losses)) >= SELECT_PATIENCE

    choosing = LoopConfig(**{**cfg.__dict__, "select_cycles": False})
    train(build_net, tuple(x[kept] for x in inputs), target[kept], loss_fn, choosing,
          bucket=bucket[kept] if bucket is not None else None,
          sample_weight=sample_weight[kept] if sample_weight is not None else None, after_cycle=after_cycle,
          log=(lambda line: log(f"choosing the cycles: {line}")) if log is not None else None)
    best = int(np.argmin(losses)) + 1
    if log is not None:
        log(f"{best} of {cfg.cycles} cycles chosen on {len(held)} held-out training rows (inner loss after each: "
            f"{', '.join(f'{v:.4f}' for v in losses)})")
    return best, losses


def smoothed_loss(loss_fn, smoothing: float):
    """`loss_fn` (a torch classification loss module) trained toward smoothed labels: (1 - e) on the true
    class and e spread evenly over the classes (Szegedy et al. 2016). Cross-entropy takes it natively; the
    binary loss's 0/1 targets become e / 2 and 1 - e / 2. Keeps `reduction`, so sample weights still work."""
    import torch

    if isinstance(loss_fn, torch.nn.CrossEntropyLoss):
        return torch.nn.CrossEntropyLoss(label_smoothing=float(smoothing))
    if not isinstance(loss_fn, torch.nn.BCEWithLogitsLoss):
        raise ValueError(f"label smoothing needs a cross-entropy or binary cross-entropy loss, got {loss_fn!r}")

    class SmoothedBCE(torch.nn.BCEWithLogitsLoss):
        def forward(self, input, target):
            return super().forward(input, target * (1.0 - smoothing) + smoothing / 2.0)

    return SmoothedBCE()


def _row_losses(loss_fn):
    """`loss_fn` giving one loss per row (a torch loss module's copy with reduction 'none')."""
    import copy

    if not hasattr(loss_fn, "reduction"):
        raise ValueError(f"sample weights need a loss with a `reduction` (a torch loss module), got {loss_fn!r}")
    rows = copy.copy(loss_fn)
    rows.reduction = "none"
    return rows


def _every_copy(out, y, copies: int):
    """A net whose `copies_per_row` is k (the mlp's `heads`) returns (rows, k, outputs) while training: each
    copy is scored on every row, so its outputs and the targets repeated k times line up row by row (a row's
    k losses stay together, for sample weights). In evaluation such a net returns one output a row."""
    if copies == 1:
        return out, y
    return out.flatten(0, 1), y.repeat_interleave(copies, dim=0)


def train(build_net: Callable[[], Any], inputs: tuple, target, loss_fn, cfg: LoopConfig, *,
          valid: tuple | None = None, bucket=None, log: Callable[[str], None] | None = None,
          sample_weight=None, after_cycle: Callable[[Any], bool] | None = None, score_fn=None) -> Fitted:
    """Train the net `build_net()` (called after seeding) on the row-aligned tensors `inputs` and `target`.

    `valid` = (inputs, target): rows that are only scored, after each cycle (`history`'s
    `valid_loss`); they never choose an epoch or snapshot. `bucket`: a per-row length; batches then
    hold rows of similar length. `log` gets one progress line at most every PROGRESS_S seconds.
    `sample_weight` (a float tensor, one weight per row): each batch's loss is the mean of the rows'
    losses times their weights, over the mean weight of the training rows (a row of weight 0 never
    moves the net); the inner split's and the valid rows' losses stay unweighted. `after_cycle(net)` is
    called at the end of each cycle, after its snapshot; True ends the training there. `score_fn`: the
    loss held-out rows (inner split, `valid`) are scored on, where it differs from the training loss (label
    smoothing trains on a smoothed loss, but chooses on the plain one). `select_cycles`: see the module's
    docstring."""
    import torch

    cfg.check()
    score_fn = score_fn or loss_fn
    if cfg.select_cycles:
        chosen, losses = _choose_cycles(build_net, inputs, target, loss_fn, cfg, bucket=bucket, score_fn=score_fn,
                                        sample_weight=sample_weight, log=log)
        per_cycle = _schedule(len(target), cfg)[3]
        refit = LoopConfig(**{**cfg.__dict__, "select_cycles": False, "iterations": per_cycle * chosen,
                              "cycles": chosen, "snapshots": min(int(cfg.snapshots), chosen)})
        fitted = train(build_net, inputs, target, loss_fn, refit, valid=valid, bucket=bucket, log=log,
                       sample_weight=sample_weight, score_fn=score_fn)
        fitted.cycle_losses, fitted.chosen_cycles = losses, chosen
        return fitted
    torch.set_num_threads(int(cfg.threads))
    device = resolve_device(cfg.device)
    torch.manual_seed(int(cfg.seed))
    generator = torch.Generator().manual_seed(int(cfg.seed))
    net = build_net().to(device)
    copies = int(getattr(net, "copies_per_row", 1))  # TabM-style nets: k outputs a row while training
    optimiser = OPTIMIZERS[cfg.optimizer].make(net.parameters(), cfg)
    inner = None
    if cfg.early_stopping:
        held, kept = _inner_split(len(target), cfg)
        inner = (tuple(x[held] for x in inputs), target[held])
        inputs, target = tuple(x[kept] for x in inputs), target[kept]
        bucket = bucket[kept] if bucket is not None else None
        sample_weight = sample_weight[kept] if sample_weight is not None else None
    n = len(target)
    inputs = tuple(x.to(device) for x in inputs)
    target = target.to(device)
    if sample_weight is not None:
        row_loss = _row_losses(loss_fn)
        sample_weight = sample_weight.to(device=device, dtype=torch.float32)
        mean_weight = float(sample_weight.mean()) or 1.0  # every weight 0: every loss is 0
    batch, steps, total_steps, per_cycle = _schedule(n, cfg)
    epochs = -(-total_steps // steps)  # `iterations`: the last epoch stops when the steps run out
    check_cycles(total_steps, int(cfg.cycles))
    snapshots: list[dict] = []
    history: list[dict] = []
    best = (math.inf, None, None)  # early stopping: (inner loss, epoch, weights)
    started = last_report = time.perf_counter()
    precision = resolve_precision(cfg.precision, device)
    # float32 steps enter no autocast at all: the code of before, with nothing added to each step
    step_dtype = (partial(torch.autocast, device_type=device, dtype=torch.bfloat16) if precision == "bfloat16"
                  else nullcontext)
    t = 0
    lr = float(cfg.lr)
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(n, generator=generator)
        if bucket is not None:
            order = _bucketed(order, bucket, batch)
        batches = _batches(order, n, batch, steps, cfg.drop_last)
        if bucket is not None:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        batches = batches[:total_steps - t]
        total = torch.zeros((), dtype=torch.float64, device=device)
        cycle_ended = stop = False
        done = 0
        for rows in batches:
            lr = learning_rate(cfg, t, total_steps)
            optimiser.lr = lr
            optimiser.zero_grad()
            rows = rows.to(device)
            with step_dtype():
                out, y = _every_copy(net(*(x[rows] for x in inputs)), target[rows], copies)
                if sample_weight is None:
                    loss = loss_fn(out, y)
                else:
                    per_row = row_loss(out, y).reshape(len(rows), -1).mean(1)
                    loss = (per_row * sample_weight[rows]).mean() / mean_weight
            loss.backward()
            optimiser.step()
            total += loss.detach()
            t += 1
            done += 1
            if t % per_cycle == 0 or t == total_steps:  # the end of a cycle: a snapshot
                snapshots.append(_snapshot(net))
                cycle_ended = True
                if after_cycle is not None and after_cycle(net):
                    stop = True
                    break
        record: dict[str, Any] = {"epoch": epoch, "lr": lr, "train_loss": float(total) / done}
        if inner is not None:
            record["inner_loss"] = _loss_on(net, *inner, score_fn, device)
            if record["inner_loss"] < best[0]:
                best = (record["inner_loss"], epoch, _snapshot(net))
        if valid is not None and (cycle_ended or epoch == epochs):
            record["valid_loss"] = _loss_on(net, *valid, score_fn, device)
        history.append(record)
        if stop or (inner is not None and epoch - best[1] >= int(cfg.early_stopping)):
            break
        now = time.perf_counter()
        if log is not None and now - last_report >= PROGRESS_S and epoch < epochs:
            extra = "".join(f", {k.replace('_', ' ')} {record[k]:.4f}" for k in ("inner_loss", "valid_loss")
                            if k in record)
            log(f"epoch {epoch}/{epochs} ({steps} iteration{'s' * (steps != 1)} of {batch} rows), lr {lr:.3g}, "
                f"train loss {record['train_loss']:.4f}{extra} ({now - started:.0f}s)")
            last_report = now
    if inner is not None:
        kept = [best[2]]
    else:
        kept = snapshots[-int(cfg.snapshots):]
    return Fitted(net, kept, history, steps, batch, device, best[1] if inner is not None else None, epochs, t,
                  precision=precision)


def predict(net, inputs: tuple, snapshots: list[dict], to_numpy: Callable[[Any], np.ndarray], *,
            device: str = "cpu", chunk: int = 8192) -> np.ndarray:
    """The mean over `snapshots` of `to_numpy(raw net outputs)` for the rows of `inputs` (eval mode)."""
    out: Any = 0.0
    for state in snapshots:
        net.load_state_dict(state)
        out = out + to_numpy(_raw_outputs(net, inputs, device, chunk))
    net.eval()
    return out / len(snapshots)
