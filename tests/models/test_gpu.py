"""The GPU paths, run for real where a CUDA GPU is present (skipped elsewhere, CI included): every net type
trains on the GPU and scores as on the CPU, the DenseNet's bfloat16 steps, a GPU-trained net saves and predicts
on a CPU, sample weights, early stopping, label smoothing and the MLP's cycle choice run on the GPU, and CatBoost's
and XGBoost's
`device = "cuda"` train on it and predict like their CPU models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from core.metrics import get_metric
from core.tasks import TaskInfo
from models import ModelContext, build_model
from models.persist import load_model, model_files
from models.testing import make_arrays, make_data

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")]

BINARY = TaskInfo("binary", (0, 1))
THREE = TaskInfo("multiclass", (0, 1, 2))
REGRESSION = TaskInfo("regression")
SHORT = {"epochs": 8, "cycles": 2, "snapshots": 2, "seed": 0}


def _build(task: TaskInfo, spec: dict, arrays: dict | None = None):
    metric = get_metric("roc_auc" if task.task == "binary" else "accuracy" if task.n_classes else "rmse")
    return build_model("m", spec, ModelContext(task, metric, threads=2, arrays=arrays))


def _score(task: TaskInfo, y, model, X, arrays=None) -> float:
    kw = {"arrays": arrays} if arrays is not None else {}
    if task.task == "regression":
        return r2_score(y, model.predict(X, **kw))
    proba = model.predict_proba(X, **kw)
    return roc_auc_score(y, proba[:, 1]) if task.task == "binary" else accuracy_score(y, proba.argmax(1))


# (net type, task, extra params, array inputs the net reads, the score both devices must reach)
NETS = {
    "mlp binary": ("mlp", BINARY, {}, None, 0.85),
    "mlp regression": ("mlp", REGRESSION, {}, None, 0.7),
    "net layer list": ("net", THREE, {"epochs": 20, "lr": 0.01, "layers": [{"type": "dense", "units": 32, "activation": "relu"},
                                                  {"type": "dropout", "rate": 0.1}]}, None, 0.6),
    "densenet image": ("densenet", THREE, {"growth_rate": 4, "blocks": [1, 1], "batch_size": 32}, "image", 0.8),
    "rnn tokens": ("rnn", THREE, {"units": 8, "embedding_dim": 8, "lr": 1e-2}, "tokens", 0.8),
}


def _net_data(task: TaskInfo, array: str | None, n: int = 600):
    X, y = make_data(task, n=n, categorical=True)
    arrays = make_arrays(y) if array else None
    cut = int(0.7 * n)
    fit_arrays = {array: arrays[array][:cut]} if array else None
    held_arrays = {array: arrays[array][cut:]} if array else None
    return X, y, cut, arrays, fit_arrays, held_arrays


@pytest.mark.parametrize("case", NETS)
def test_every_net_type_trains_on_the_gpu_and_scores_as_on_the_cpu(case):
    kind, task, extra, array, floor = NETS[case]
    X, y, cut, arrays, fit_arrays, held_arrays = _net_data(task, array)
    params = {**SHORT, **extra, **({"inputs": [array]} if array else {})}
    scores = {}
    for device in ("cuda", "cpu"):
        model = _build(task, {"type": kind, "params": {**params, "device": device}},
                       {array: (arrays[array], arrays[array])} if array else None)
        kw = {"arrays": fit_arrays} if array else {}
        model.fit(X.iloc[:cut], y[:cut], **kw)
        weights = next(model.net_.parameters())
        assert model.device_ == device and weights.device.type == device
        assert all(t.device.type == "cpu" for s in model.snapshots_ for t in s.values())  # snapshots live on the CPU
        scores[device] = _score(task, y[cut:], model, X.iloc[cut:], held_arrays)
    assert scores["cuda"] > floor and scores["cpu"] > floor, scores  # other random streams, the same learning


def test_device_auto_trains_on_the_gpu_when_torch_sees_one():
    X, y, cut, *_ = _net_data(BINARY, None)
    model = _build(BINARY, {"type": "mlp", "params": SHORT}).fit(X.iloc[:cut], y[:cut])
    assert model.device_ == "cuda" and next(model.net_.parameters()).is_cuda


def test_a_gpu_trained_net_saves_and_predicts_on_a_cpu_and_on_the_gpu(monkeypatch):
    X, y, cut, arrays, fit_arrays, held_arrays = _net_data(THREE, "image")
    spec = {"type": "densenet", "params": {**SHORT, "growth_rate": 4, "blocks": [1, 1], "inputs": ["image"],
                                           "device": "cuda"}}
    model = _build(THREE, spec, {"image": (arrays["image"], arrays["image"])}).fit(X.iloc[:cut], y[:cut],
                                                                                   arrays=fit_arrays)
    on_gpu = model.predict_proba(X.iloc[cut:], arrays=held_arrays)
    files = model_files(model)
    again = load_model(files)
    assert again.device_ == "cuda"
    np.testing.assert_allclose(again.predict_proba(X.iloc[cut:], arrays=held_arrays), on_gpu, rtol=0, atol=1e-6)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the machine that predicts has no GPU
    on_cpu = load_model(files)
    assert on_cpu.device_ == "cpu" and not next(on_cpu.net_.parameters()).is_cuda
    np.testing.assert_allclose(on_cpu.predict_proba(X.iloc[cut:], arrays=held_arrays), on_gpu, rtol=0, atol=1e-4)


def test_the_densenet_trains_its_steps_in_bfloat16_on_a_gpu_that_has_it_and_scores_as_in_float32():
    X, y, cut, arrays, fit_arrays, held_arrays = _net_data(THREE, "image")
    scores = {}
    for precision in ("auto", "float32"):
        spec = {"type": "densenet", "params": {**SHORT, "growth_rate": 4, "blocks": [1, 1], "batch_size": 32,
                                               "inputs": ["image"], "device": "cuda", "precision": precision}}
        model = _build(THREE, spec, {"image": (arrays["image"], arrays["image"])}).fit(X.iloc[:cut], y[:cut],
                                                                                       arrays=fit_arrays)
        expected = "bfloat16" if precision == "auto" and torch.cuda.is_bf16_supported() else "float32"
        assert model.precision_ == expected and next(model.net_.parameters()).dtype == torch.float32
        scores[precision] = _score(THREE, y[cut:], model, X.iloc[cut:], held_arrays)
    assert min(scores.values()) > 0.8, scores


def test_weights_early_stopping_label_smoothing_and_cycle_choice_run_on_the_gpu():
    X, y, cut, *_ = _net_data(BINARY, None, n=800)
    weights = np.where(y[:cut] == 1, 2.0, 0.5)
    params = {"epochs": 12, "cycles": 3, "snapshots": 3, "seed": 0, "device": "cuda", "label_smoothing": 0.1}
    weighted = _build(BINARY, {"type": "mlp", "params": params}).fit(X.iloc[:cut], y[:cut], sample_weight=weights)
    plain = _build(BINARY, {"type": "mlp", "params": params}).fit(X.iloc[:cut], y[:cut])
    # heavier positives raise the predicted probabilities of the held-out rows
    assert weighted.predict_proba(X.iloc[cut:])[:, 1].mean() > plain.predict_proba(X.iloc[cut:])[:, 1].mean() + 0.05
    stopped = _build(BINARY, {"type": "mlp", "params": {**params, "epochs": 60, "cycles": 1, "snapshots": 1,
                                                        "early_stopping": 3}}).fit(X.iloc[:cut], y[:cut])
    assert stopped.device_ == "cuda" and stopped.best_epoch_ is not None
    assert len(stopped.history_) < 60 and all("inner_loss" in h for h in stopped.history_)
    chosen = _build(BINARY, {"type": "mlp", "params": {**params, "select_cycles": True}}).fit(X.iloc[:cut], y[:cut])
    assert chosen.device_ == "cuda" and 1 <= chosen.cycles_ <= len(chosen.cycle_losses_) <= 3
    assert roc_auc_score(y[cut:], chosen.predict_proba(X.iloc[cut:])[:, 1]) > 0.85


BOOSTERS = [("catboost", {"iterations": 200}), ("xgboost", {"n_estimators": 200})]


@pytest.mark.parametrize(("kind", "params"), BOOSTERS, ids=[k for k, _ in BOOSTERS])
def test_a_booster_with_device_cuda_trains_on_the_gpu_and_predicts_like_its_cpu_model(kind, params):
    pytest.importorskip(kind)
    module = __import__(f"models.{kind}_model", fromlist=["gpu_unusable"])
    module.gpu_unusable.cache_clear()
    assert module.gpu_unusable() is None  # the probe sees the GPU torch sees
    X, y = make_data(BINARY, n=2000, categorical=True)
    cut = 1400
    proba = {}
    for device in ("cuda", "cpu"):
        model = _build(BINARY, {"type": kind, "params": {**params, "device": device}})
        model.fit(X.iloc[:cut], y[:cut])
        proba[device] = model.predict_proba(X.iloc[cut:])[:, 1]
        if device == "cuda":
            on_gpu = model
    auc = {d: roc_auc_score(y[cut:], p) for d, p in proba.items()}
    assert auc["cuda"] > 0.85 and abs(auc["cuda"] - auc["cpu"]) < 0.03, auc
    assert np.corrcoef(proba["cuda"], proba["cpu"])[0, 1] > 0.95  # the same function, up to the GPU's histograms
    again = load_model(model_files(on_gpu))  # the booster's own format: predicts where it is loaded
    np.testing.assert_allclose(again.predict_proba(X.iloc[cut:])[:, 1], proba["cuda"], rtol=0, atol=1e-6)
