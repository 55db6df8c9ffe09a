"""The one training loop: the snapshot schedule's formula, snapshots per cycle, early stopping on an
inner split only, iterations per epoch, a number of iterations instead of epochs, progress lines,
devices, seeds and bfloat16 training steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import _loop
from models._loop import LoopConfig, iterations_per_epoch, learning_rate, resolve_device, train


def _data(n: int = 200, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, :1] * 2.0 - x[:, 1:2] + 0.1 * torch.randn(n, 1, generator=g))
    return x, y


def _net():
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 1))


def _recorded_lrs(monkeypatch, cfg: LoopConfig, n: int = 200) -> tuple[list[float], "_loop.Fitted"]:
    """Train with an optimiser that records the learning rate of every iteration."""
    seen: list[float] = []
    make = _loop.OPTIMIZERS["sgd"].make

    def recording(parameters, c):
        opt = make(parameters, c)
        step = opt.step

        def recorded_step(*a, **k):
            seen.append(opt.lr)
            return step(*a, **k)

        opt.step = recorded_step
        return opt

    monkeypatch.setitem(_loop.OPTIMIZERS, "sgd", _loop.Optimizer("sgd", "recording", recording))
    x, y = _data(n)
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), cfg)
    return seen, fitted


def test_cosine_schedule_matches_the_formula_at_cycle_boundaries(monkeypatch):
    # 200 rows, batch 32 -> ceil(200/32) = 7 iterations per epoch; 10 epochs = 70; 3 cycles -> ceil(70/3) = 24
    cfg = LoopConfig(epochs=10, batch_size=32, cycles=3, snapshots=3, lr=0.1, optimizer="sgd", device="cpu")
    lrs, fitted = _recorded_lrs(monkeypatch, cfg)
    assert fitted.iterations == 7 and len(lrs) == 70
    L = 24
    formula = [0.1 / 2 * (math.cos(math.pi * (t % L) / L) + 1) for t in range(70)]
    assert np.allclose(lrs, formula, rtol=0, atol=1e-15)
    for start in (0, 24, 48):  # every cycle restarts at lr0 ...
        assert lrs[start] == pytest.approx(0.1)
    for end in (23, 47):  # ... and ends near zero
        assert lrs[end] < 0.1 * 0.01
    assert lrs[12] == pytest.approx(0.05)  # half way through the first cycle: lr0 / 2
    assert [learning_rate(cfg, t, 70) for t in range(70)] == lrs
    assert len(fitted.snapshots) == 3  # one snapshot per cycle (the last cycle is the shorter one)


def test_one_snapshot_per_cycle_and_the_last_m_are_kept():
    x, y = _data()
    cfg = LoopConfig(epochs=8, batch_size=50, cycles=4, snapshots=2, device="cpu")
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), cfg)
    all_cycles = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(**{**cfg.__dict__, "snapshots": 4}))
    assert len(fitted.snapshots) == 2 and len(all_cycles.snapshots) == 4
    for kept, same in zip(fitted.snapshots, all_cycles.snapshots[2:]):
        assert all(torch.equal(kept[k], same[k]) for k in kept)
    first, last = all_cycles.snapshots[0], all_cycles.snapshots[-1]
    assert not all(torch.equal(first[k], last[k]) for k in first)  # the cycles end in different weights


def test_iterations_per_epoch_is_ceil_or_full_batches():
    assert iterations_per_epoch(200, 32, drop_last=False) == 7
    assert iterations_per_epoch(200, 32, drop_last=True) == 6
    assert iterations_per_epoch(10, 32, drop_last=True) == 1  # never fewer than one batch
    x, y = _data(200)
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(epochs=1, batch_size=32, device="cpu"))
    assert fitted.iterations == 7 and fitted.batch_size == 32


def test_iterations_set_the_epochs_and_the_last_one_stops_mid_epoch(monkeypatch):
    # 200 rows, batch 32: 7 iterations per epoch; 17 iterations = 2 full epochs + 3 iterations of a third
    cfg = LoopConfig(iterations=17, epochs=1, batch_size=32, lr=0.1, optimizer="sgd", device="cpu")
    lrs, fitted = _recorded_lrs(monkeypatch, cfg)
    assert len(lrs) == 17 and fitted.steps == 17 and fitted.epochs == 3 and len(fitted.history) == 3
    assert lrs == pytest.approx([0.05 * (math.cos(math.pi * t / 17) + 1) for t in range(17)], abs=1e-15)
    # a whole number of epochs as iterations trains exactly as those epochs
    x, y = _data()
    by_epochs = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(epochs=2, batch_size=32, device="cpu"))
    by_steps = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(iterations=14, batch_size=32, device="cpu"))
    assert all(torch.equal(by_epochs.snapshots[0][k], by_steps.snapshots[0][k]) for k in by_steps.snapshots[0])


def test_cycles_are_laid_over_the_iterations_and_one_that_cannot_end_is_refused(monkeypatch):
    # 20 iterations in 4 cycles of 5: the last cycle (and its snapshot) ends mid-way through epoch 3 (14 + 6)
    cfg = LoopConfig(iterations=20, batch_size=32, cycles=4, snapshots=4, lr=0.1, optimizer="sgd", device="cpu")
    lrs, fitted = _recorded_lrs(monkeypatch, cfg)
    assert lrs == [learning_rate(cfg, t, 20) for t in range(20)] and len(fitted.snapshots) == 4
    assert [lrs[t] for t in (0, 5, 10, 15)] == [pytest.approx(0.1)] * 4
    # 10 iterations hold 5 cycles of 2, not 6 (6 cycles of ceil(10 / 6) = 2 end after 5): refused, not 5 snapshots
    LoopConfig(iterations=10, cycles=5, snapshots=5).check()
    with pytest.raises(ValueError, match=r"^cycles \(6\) do not fit in 10 iterations: cycles of ceil\(10 / 6\) = 2 "
                                         r"iterations make 5; set cycles to at most 5 or the iterations to a "
                                         r"multiple of 6$"):
        LoopConfig(iterations=10, cycles=6).check()
    x, y = _data(20)  # the same with epochs: 20 rows, batch 4 -> 5 iterations an epoch, 2 epochs = 10
    with pytest.raises(ValueError, match=r"cycles \(6\) do not fit in 10 iterations"):
        train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(epochs=2, batch_size=4, cycles=6, device="cpu"))
    with pytest.raises(ValueError, match="iterations must be positive"):
        LoopConfig(iterations=-5).check()


def test_sample_weights_weigh_each_rows_loss():
    x, y = _data(200)
    cfg = LoopConfig(epochs=3, batch_size=32, device="cpu")
    w = torch.where(torch.arange(200) % 4 == 0, 0.0, 1.0 + (torch.arange(200) % 3).float())
    weighted = train(_net, (x,), y, torch.nn.MSELoss(), cfg, sample_weight=w)
    # rows of weight 0 never move the net: their targets can be anything
    y_other = y.clone()
    y_other[w == 0] = 1e3
    same = train(_net, (x,), y_other, torch.nn.MSELoss(), cfg, sample_weight=w)
    assert all(torch.equal(weighted.snapshots[0][k], same.snapshots[0][k]) for k in same.snapshots[0])
    plain = train(_net, (x,), y, torch.nn.MSELoss(), cfg)
    ones = train(_net, (x,), y, torch.nn.MSELoss(), cfg, sample_weight=torch.ones(200))
    assert all(torch.allclose(plain.snapshots[0][k], ones.snapshots[0][k], atol=1e-6) for k in plain.snapshots[0])
    assert not all(torch.allclose(plain.snapshots[0][k], weighted.snapshots[0][k], atol=1e-3)
                   for k in plain.snapshots[0])
    # classification losses too (one loss per row of a (n, k) output)
    labels = (y[:, 0] > 0).long()

    def two():
        return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))

    assert len(train(two, (x,), labels, torch.nn.CrossEntropyLoss(), cfg, sample_weight=w).history) == 3


def test_early_stopping_holds_out_an_inner_split_and_keeps_the_best_epoch():
    x, y = _data(300)
    cfg = LoopConfig(epochs=60, batch_size=32, lr=0.05, early_stopping=3, valid_fraction=0.2, device="cpu",
                     schedule="constant")
    valid = _data(100, seed=1)
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), cfg, valid=((valid[0],), valid[1]))
    inner = [h["inner_loss"] for h in fitted.history]
    best = int(np.argmin(inner)) + 1
    assert fitted.best_epoch == best
    assert len(fitted.history) == best + 3 < 60  # stopped 3 epochs after the best
    assert fitted.iterations == math.ceil(240 / 32)  # 20% of the 300 rows held out of training
    assert len(fitted.snapshots) == 1
    # the fold's validation rows are only scored: the same run without them ends in the same weights
    blind = train(_net, (x,), y, torch.nn.MSELoss(), cfg)
    assert all(torch.equal(fitted.snapshots[0][k], blind.snapshots[0][k]) for k in blind.snapshots[0])


def test_select_cycles_chooses_on_the_inner_split_then_trains_every_row_for_that_many():
    g = torch.Generator().manual_seed(0)
    x, noise = torch.randn(120, 4, generator=g), torch.randn(120, 1, generator=g)  # a target no net can learn
    wide = lambda: torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))  # noqa: E731
    cfg = LoopConfig(epochs=60, cycles=6, snapshots=6, batch_size=16, lr=0.02, valid_fraction=0.25, device="cpu",
                     select_cycles=True)
    fitted = train(wide, (x,), noise, torch.nn.MSELoss(), cfg)
    losses = fitted.cycle_losses
    chosen = int(np.argmin(losses)) + 1
    assert chosen < 6 and len(losses) == chosen + _loop.SELECT_PATIENCE  # the choosing run stopped early
    # the result is a plain fit on every row for the chosen cycles, each as long as before (8 steps x 10 epochs)
    plain = LoopConfig(**{**cfg.__dict__, "select_cycles": False, "iterations": 80 * chosen, "cycles": chosen,
                          "snapshots": chosen})
    again = train(wide, (x,), noise, torch.nn.MSELoss(), plain)
    assert fitted.steps == 80 * chosen and len(fitted.snapshots) == chosen
    assert all(torch.equal(a[k], b[k]) for a, b in zip(fitted.snapshots, again.snapshots) for k in a)
    # the losses are those of the held-out rows, scored after cycles trained on the other rows only
    held, kept = _loop._inner_split(120, cfg)
    one_cycle = LoopConfig(**{**cfg.__dict__, "select_cycles": False})
    first = train(wide, (x[kept],), noise[kept], torch.nn.MSELoss(), one_cycle, after_cycle=lambda net: True)
    with torch.no_grad():
        first.net.eval()
        assert losses[0] == pytest.approx(float(torch.nn.functional.mse_loss(first.net(x[held]), noise[held])))


def test_select_cycles_keeps_every_cycle_while_the_inner_loss_falls(monkeypatch):
    x, y = _data(300)
    cfg = LoopConfig(epochs=20, cycles=4, snapshots=4, batch_size=32, lr=0.01, device="cpu", select_cycles=True)
    monkeypatch.setattr(_loop, "PROGRESS_S", 0.0)  # a progress line after every epoch
    lines: list[str] = []
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), cfg, log=lines.append)
    assert len(fitted.cycle_losses) == 4 and fitted.cycle_losses == sorted(fitted.cycle_losses, reverse=True)
    assert len(fitted.snapshots) == 4
    # both runs report progress, the choosing one saying so, and the choice is one line
    assert any(line.startswith("choosing the cycles: epoch ") for line in lines)
    assert any(line.startswith("epoch ") for line in lines)
    assert sum("of 4 cycles chosen on 30 held-out training rows" in line for line in lines) == 1


def test_select_cycles_needs_cycles_and_excludes_early_stopping():
    with pytest.raises(ValueError, match="set cycles to 2 or more"):
        LoopConfig(cycles=1, select_cycles=True).check()
    with pytest.raises(ValueError, match="set one of them"):
        LoopConfig(cycles=3, early_stopping=2, select_cycles=True).check()


def test_early_stopping_and_several_snapshots_exclude_each_other():
    with pytest.raises(ValueError, match="set snapshots = 1 or early_stopping = 0"):
        LoopConfig(cycles=3, snapshots=3, early_stopping=5).check()


def test_same_seed_same_weights_other_seed_different():
    x, y = _data()
    cfg = LoopConfig(epochs=3, batch_size=32, device="cpu", seed=3)
    a = train(_net, (x,), y, torch.nn.MSELoss(), cfg).snapshots[0]
    b = train(_net, (x,), y, torch.nn.MSELoss(), cfg).snapshots[0]
    c = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(**{**cfg.__dict__, "seed": 4})).snapshots[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


class _RecordsDtypes(torch.nn.Module):
    """The test net, noting the dtype of its output on every training step."""

    def __init__(self):
        super().__init__()
        self.body, self.seen = _net(), []

    def forward(self, x):
        out = self.body(x)
        if self.training:
            self.seen.append(out.dtype)
        return out


@pytest.mark.parametrize("precision, dtype", [("float32", torch.float32), ("bfloat16", torch.bfloat16)])
def test_bfloat16_runs_each_training_step_in_bfloat16_and_keeps_float32_weights(precision, dtype):
    x, y = _data()
    nets: list[_RecordsDtypes] = []

    def build():
        nets.append(_RecordsDtypes())
        return nets[-1]

    cfg = LoopConfig(epochs=20, batch_size=32, lr=1e-2, device="cpu", precision=precision, early_stopping=5)
    fitted = train(build, (x,), y, torch.nn.MSELoss(), cfg)
    assert set(nets[0].seen) == {dtype} and fitted.precision == precision
    assert all(v.dtype == torch.float32 for v in fitted.snapshots[0].values() if v.is_floating_point())
    out = _loop.predict(fitted.net, (x,), fitted.snapshots, lambda raw: raw.numpy(), device="cpu")
    assert out.dtype == np.float32
    assert float(((torch.from_numpy(out) - y) ** 2).mean()) < 0.2 * float(y.var())  # it learned in either precision
    assert fitted.history[-1]["inner_loss"] < 0.2 * float(y.var())  # the inner split is scored as well


def test_bfloat16_trains_other_weights_than_float32_and_a_bad_precision_is_refused():
    x, y = _data()
    cfg = LoopConfig(epochs=3, batch_size=32, device="cpu", seed=3)
    a = train(_net, (x,), y, torch.nn.MSELoss(), cfg).snapshots[0]
    b = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(**{**cfg.__dict__, "precision": "bfloat16"})).snapshots[0]
    assert not all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16, got 'float16'"):
        LoopConfig(precision="float16").check()


@pytest.mark.parametrize("amx, avx512_bf16, cuda_bf16, cpu, cuda", [
    (False, False, False, "float32", "float32"),
    (True, False, False, "bfloat16", "float32"),
    (False, True, True, "bfloat16", "bfloat16"),
])
def test_auto_precision_is_bfloat16_only_where_the_device_has_it_natively(monkeypatch, amx, avx512_bf16, cuda_bf16,
                                                                          cpu, cuda):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: cuda_bf16)
    assert (_loop.resolve_precision("auto", "cpu"), _loop.resolve_precision("auto", "cuda")) == (cpu, cuda)
    assert _loop.resolve_precision("float32", "cuda") == "float32"
    assert _loop.resolve_precision("bfloat16", "cpu") == "bfloat16"  # asked for: emulated where it must be
    x, y = _data()
    fitted = train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(epochs=1, device="cpu", precision="auto"))
    assert fitted.precision == cpu


def test_progress_lines_show_the_epoch_and_the_iterations(monkeypatch):
    monkeypatch.setattr(_loop, "PROGRESS_S", 0.0)
    x, y = _data(200)
    lines: list[str] = []
    train(_net, (x,), y, torch.nn.MSELoss(), LoopConfig(epochs=3, batch_size=32, device="cpu"), log=lines.append)
    assert len(lines) == 2  # epochs 1 and 2 (the caller's own line closes the last one)
    assert lines[0].startswith("epoch 1/3 (7 iterations of 32 rows), lr ")
    assert "train loss" in lines[0]


def test_device_auto_picks_cuda_exactly_when_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match=r"device = 'cuda' but torch .* sees no GPU .*install a CUDA build"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"  # an explicit cpu stays on the CPU
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        resolve_device("gpu")


# ---- the CPU dropout (models.layers.Dropout) -------------------------------------------------------
def test_dropout_drops_its_share_keeps_the_mean_and_is_fixed_by_the_torch_seed():
    from models.layers import Dropout

    x = torch.ones(400, 500)
    torch.manual_seed(3)
    first = Dropout(0.1)(x)
    torch.manual_seed(3)
    again = Dropout(0.1)(x)
    torch.manual_seed(4)
    other = Dropout(0.1)(x)
    assert torch.equal(first, again) and not torch.equal(first, other)
    dropped = float((first == 0).float().mean())
    assert abs(dropped - 0.1) < 0.005  # 200,000 units: the share is 0.1 within 7 standard errors
    assert torch.unique(first).tolist() == pytest.approx([0.0, 1 / 0.9])
    assert abs(float(first.mean()) - 1.0) < 0.01


def test_dropout_passes_values_through_in_evaluation_and_at_rate_zero_and_carries_the_gradient():
    from models.layers import Dropout

    x = torch.randn(64, 32, requires_grad=True)
    layer = Dropout(0.5)
    assert torch.equal(layer.eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    y = layer.train()(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() * 2.0)  # the kept units' gradient, scaled like the values
    with pytest.raises(ValueError, match="dropout rate"):
        Dropout(1.0)
