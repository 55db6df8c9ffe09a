"""The training loop's optimisers, stepped through torch's functional API (`torch.optim.adamw.adamw`,
`torch.optim.sgd.sgd`): the kernels and arithmetic of `torch.optim.AdamW(fused=True)` and
`torch.optim.SGD(foreach=True)`, bit for bit (tests/models/test_optim.py), without constructing a
`torch.optim.Optimizer`. Its `add_param_group` and `step` import torch._dynamo, for torch.compile support
this loop never uses: about 2 s of CPU in every fold worker that trains a net, on every run."""

from __future__ import annotations

from typing import Any, Iterable


class _Functional:
    """Parameters and the learning rate the loop sets before each step."""

    def __init__(self, parameters: Iterable[Any], lr: float):
        self.params = list(parameters)
        self.lr = float(lr)

    def zero_grad(self) -> None:
        """Drop every gradient (as `Optimizer.zero_grad(set_to_none=True)`)."""
        for p in self.params:
            p.grad = None

    def _live(self) -> list[int]:
        """The parameters with a gradient this step (torch's optimisers update only those)."""
        return [i for i, p in enumerate(self.params) if p.grad is not None]


class FusedAdamW(_Functional):
    """AdamW with decoupled weight decay, torch's fused kernel (CPU and CUDA)."""

    def __init__(self, parameters: Iterable[Any], *, lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(parameters, lr)
        self.weight_decay, self.betas, self.eps = float(weight_decay), betas, float(eps)
        self._state: list[dict | None] = [None] * len(self.params)  # created at a parameter's first gradient

    def step(self) -> None:
        import torch
        from torch.optim.adamw import adamw

        live = self._live()
        for i in live:
            if self._state[i] is None:
                p = self.params[i]  # torch's lazy state for fused AdamW: a float32 step on the parameter's device
                self._state[i] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                  "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                  "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        params = [self.params[i] for i in live]
        states = [self._state[i] for i in live]
        with torch.no_grad():
            adamw(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                  [], [s["step"] for s in states], foreach=None, fused=True,
                  has_complex=any(torch.is_complex(p) for p in params), amsgrad=False, beta1=self.betas[0],
                  beta2=self.betas[1], lr=self.lr, weight_decay=self.weight_decay, eps=self.eps, maximize=False)


class ForeachSGD(_Functional):
    """SGD with (Nesterov, when `momentum` > 0) momentum, torch's multi-tensor kernels."""

    def __init__(self, parameters: Iterable[Any], *, lr: float, momentum: float, weight_decay: float):
        super().__init__(parameters, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self._buffers: list[Any] = [None] * len(self.params)  # momentum buffers, None until the first step

    def step(self) -> None:
        import torch
        from torch.optim.sgd import sgd

        live = self._live()
        params = [self.params[i] for i in live]
        buffers = [self._buffers[i] for i in live]
        with torch.no_grad():
            sgd(params, [p.grad for p in params], buffers, has_sparse_grad=False, foreach=True,
                weight_decay=self.weight_decay, momentum=self.momentum, lr=self.lr, dampening=0,
                nesterov=self.momentum > 0, maximize=False)
        for i, buffer in zip(live, buffers, strict=True):  # sgd() fills in the first step's buffers (momentum > 0)
            self._buffers[i] = buffer
