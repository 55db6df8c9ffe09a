"""The loop's optimisers (models/_optim.py) step exactly as torch.optim's AdamW(fused=True) and
SGD(foreach=True) do, and a net trained on the loop never imports torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from models._optim import ForeachSGD, FusedAdamW  # noqa: E402


def _net(seed: int):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def _train(net, optimiser, set_lr, zero_grad, steps: int = 25) -> list:
    """`steps` steps on fixed data; the second layer's gradient is dropped every third step (a parameter
    without a gradient is skipped, as torch does), and the learning rate changes every step."""
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 6, generator=gen), torch.randn(64, 1, generator=gen)
    for t in range(steps):
        set_lr(0.05 / (1 + t))
        zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        if t % 3 == 2:
            for p in net[2].parameters():
                p.grad = None
        optimiser.step()
    return [p.detach().clone() for p in net.parameters()]


def _set_group_lr(optimiser):
    def set_lr(lr):
        for group in optimiser.param_groups:
            group["lr"] = lr
    return set_lr


def _ours(optimiser):
    def set_lr(lr):
        optimiser.lr = lr
    return set_lr


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_foreach_sgd_equals_torch_sgd_to_the_bit(momentum):
    a, b = _net(0), _net(0)
    theirs = torch.optim.SGD(a.parameters(), lr=0.1, momentum=momentum, weight_decay=1e-3,
                             nesterov=momentum > 0, foreach=True)
    ours = ForeachSGD(b.parameters(), lr=0.1, momentum=momentum, weight_decay=1e-3)
    got = _train(b, ours, _ours(ours), ours.zero_grad)
    want = _train(a, theirs, _set_group_lr(theirs), lambda: theirs.zero_grad(set_to_none=True))
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    assert not torch.equal(got[0], [p for p in _net(0).parameters()][0])  # it trained


def test_fused_adamw_equals_torch_adamw_to_the_bit():
    a, b = _net(0), _net(0)
    theirs = torch.optim.AdamW(a.parameters(), lr=0.01, weight_decay=0.05, fused=True)
    ours = FusedAdamW(b.parameters(), lr=0.01, weight_decay=0.05)
    got = _train(b, ours, _ours(ours), ours.zero_grad)
    want = _train(a, theirs, _set_group_lr(theirs), lambda: theirs.zero_grad(set_to_none=True))
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    assert not torch.equal(got[0], [p for p in _net(0).parameters()][0])


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_training_a_net_does_not_import_torch_dynamo(optimizer):
    """torch.optim.Optimizer imports torch._dynamo when built (2 s of CPU per fold worker); ours do not."""
    code = ("import sys\nfrom models import ModelContext, build_model\nfrom models.testing import make_data\n"
            "from core.metrics import get_metric\nfrom core.tasks import TaskInfo\n"
            "info = TaskInfo('binary', (0, 1))\nX, y = make_data(info, n=200)\n"
            "ctx = ModelContext(info, get_metric('roc_auc'), 1, None, {})\n"
            f"params = {{'width': 16, 'epochs': 2, 'cycles': 1, 'snapshots': 1, 'optimizer': {optimizer!r}}}\n"
            "model = build_model('mlp', {'type': 'mlp', 'params': params}, ctx).fit(X, y)\n"
            "model.predict_proba(X)\n"
            "print('torch' in sys.modules, 'torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["True", "False"]
