"""CatBoost's and XGBoost's `device = "cuda"` / `"gpu"` where the library cannot use a GPU: the run stops
when the model is built (before any fold trains) with one line saying why and how to fix it, instead of
CatBoost's bare CUDA error at the first fold or XGBoost's warning and a CPU fit of every fold."""

from __future__ import annotations

import importlib

import pytest

from models import ModelContext, build_model
from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TaskInfo

# (model type, the library's name in messages, a GPU spelling it takes)
LIBRARIES = [("catboost", "CatBoost", "cuda"), ("xgboost", "XGBoost", "gpu")]


def _module(kind: str):
    pytest.importorskip(kind)
    return importlib.import_module(f"models.{kind}_model")


@pytest.mark.parametrize(("kind", "library", "device"), LIBRARIES)
def test_a_gpu_device_without_a_usable_gpu_fails_when_built_with_the_fix(monkeypatch, kind, library, device):
    monkeypatch.setattr(_module(kind), "gpu_unusable", lambda: "no GPU here")
    ctx = ModelContext(TaskInfo("binary", (0, 1)), get_metric("roc_auc"), threads=1)
    with pytest.raises(UserError, match=rf"^models\.m\.params: device = '{device}', but {library} cannot train on a "
                                        r"GPU here \(no GPU here\); set device = 'cpu'"):
        build_model("m", {"type": kind, "params": {"device": device}}, ctx)
    build_model("m", {"type": kind, "params": {"device": "cpu"}}, ctx)  # the CPU is never probed


@pytest.mark.parametrize("kind", [kind for kind, _, _ in LIBRARIES])
def test_the_gpu_probe_runs_the_library_for_real(kind):
    """On a machine without a GPU (CI) the real probe says why, on one line; with a usable GPU, nothing."""
    module = _module(kind)
    module.gpu_unusable.cache_clear()
    why = module.gpu_unusable()
    assert why is None or (isinstance(why, str) and why and "\n" not in why)
