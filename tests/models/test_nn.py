"""The torch snapshot-ensemble MLP (type = "mlp", on the one training loop): it learns, averages its
snapshots, ignores validation rows for fitting, is reproducible, and runs under the pipeline's CV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from models import ModelContext, build_model, train_cv
from models.testing import make_data
from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TASKS, TaskInfo

SMALL = {"cycles": 3, "epochs": 12, "snapshots": 3, "width": 64}


def SnapshotMLP(task: str, **params):
    """The template the pipeline builds for [models.m] type = "mlp", params = `params`."""
    info = TaskInfo(task, (0, 1, 2) if task == "multiclass" else (0, 1) if task == "binary" else ())
    return build_model("m", {"type": "mlp", "params": params}, ModelContext(info, get_metric(TASKS[task].default_metric)))


def _split(task: str, n: int = 600):
    info = {"binary": TaskInfo("binary", (0, 1)), "multiclass": TaskInfo("multiclass", (0, 1, 2)),
            "regression": TaskInfo("regression")}[task]
    X, y = make_data(info, n=n, categorical=True)
    cut = int(0.75 * n)
    return X.iloc[:cut], y[:cut], X.iloc[cut:], y[cut:]


def test_regression_learns_the_signal():
    X, y, X_va, y_va = _split("regression")
    model = SnapshotMLP("regression", **SMALL).fit(X, y)
    assert r2_score(y_va, model.predict(X_va)) > 0.8


def test_binary_learns_the_signal_and_its_probabilities_are_valid():
    X, y, X_va, y_va = _split("binary")
    proba = SnapshotMLP("binary", **SMALL).fit(X, y).predict_proba(X_va)
    assert proba.shape == (len(X_va), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_va, proba[:, 1]) > 0.8


def test_prediction_is_the_mean_of_the_kept_snapshots():
    X, y, X_va, _ = _split("regression")
    model = SnapshotMLP("regression", **{**SMALL, "snapshots": 2}).fit(X, y)
    assert len(model.snapshots_) == 2 and len(model.history_) == 12  # one snapshot per cycle, last 2 kept
    together = model.predict(X_va)
    kept = list(model.snapshots_)
    singles = []
    for state in kept:
        model.snapshots_ = [state]
        singles.append(model.predict(X_va))
    assert not np.allclose(singles[0], singles[1])  # the cycles end in different weights
    assert np.allclose(together, np.mean(singles, axis=0), atol=1e-6)


def test_same_seed_same_predictions_other_seed_different():
    X, y, X_va, _ = _split("binary", n=300)
    a = SnapshotMLP("binary", **SMALL, seed=1).fit(X, y).predict_proba(X_va)
    b = SnapshotMLP("binary", **SMALL, seed=1).fit(X, y).predict_proba(X_va)
    c = SnapshotMLP("binary", **SMALL, seed=2).fit(X, y).predict_proba(X_va)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_validation_rows_are_scored_but_never_used_for_fitting():
    X, y, X_va, y_va = _split("regression", n=300)
    blind = SnapshotMLP("regression", **SMALL).fit(X, y)
    watched = SnapshotMLP("regression", **SMALL).fit(X, y, X_valid=X_va, y_valid=y_va)
    assert np.array_equal(blind.predict(X_va), watched.predict(X_va))
    assert [h["epoch"] for h in watched.history_ if "valid_loss" in h] == [4, 8, 12]  # scored after each cycle
    assert watched.history_[-1]["train_loss"] < watched.history_[0]["train_loss"]


def test_unseen_categories_and_missing_values_are_handled():
    X, y, X_va, _ = _split("multiclass")
    model = SnapshotMLP("multiclass", **SMALL).fit(X, y)
    X_new = X_va.copy()
    X_new["c0"] = X_new["c0"].cat.add_categories(["never_seen"])
    X_new.loc[X_new.index[:5], "c0"] = "never_seen"
    X_new.loc[X_new.index[5:10], "x0"] = np.nan
    proba = model.predict_proba(X_new)
    assert proba.shape == (len(X_new), 3) and np.isfinite(proba).all()


def test_trains_under_the_pipelines_cv_on_titanic(titanic):
    spec = {"type": "mlp", "params": {"cycles": 2, "epochs": 10, "snapshots": 2}}
    res = train_cv("mlp", spec, titanic.X, titanic.y, titanic.X_test, titanic.folds, titanic.task,
                   titanic.metric, log=lambda m: None)
    assert res.oof.shape == (len(titanic.y),) and res.test.shape == (len(titanic.X_test),)
    assert res.overall > 0.8  # survival is learnable from sex, class and age


@pytest.mark.parametrize("params,message", [
    ({"snapshots": 6, "cycles": 5}, "snapshots (6) cannot exceed cycles (5)"),
    ({"widht": 64}, "did you mean 'width'"),
    ({"threads": 4}, "set by the pipeline"),
    ({"dropout": 1.5}, "dropout must be in [0, 1)"),
    ({"embedding_std": 0.0}, "embedding_std must be positive, got 0.0"),
    ({"cycles": 2, "epochs_per_cycle": 3}, "epochs_per_cycle was replaced by epochs, the total over all cycles "
                                           "(cycles x epochs_per_cycle); set epochs = 6"),
    ({"optimizer": "adam"}, "has 'adam', expected one of 'adamw', 'sgd'"),
    ({"early_stopping": 5}, "set snapshots = 1 or early_stopping = 0"),
    ({"select_cycles": True, "early_stopping": 5, "snapshots": 1}, "set one of them (early_stopping = 0 or "
                                                                    "select_cycles = false)"),
    ({"select_cycles": True, "cycles": 1, "snapshots": 1}, "select_cycles chooses among the cycles, but cycles = 1"),
    ({"epochs": 10, "iterations": 100}, "models.net.params sets epochs (10) and iterations (100); keep one"),
    ({"iterations": 0}, "parameter 'iterations' must be at least 1, got 0"),
    ({"iterations": -3}, "parameter 'iterations' must be at least 1, got -3"),
    ({"iterations": 12}, "cycles (5) do not fit in 12 iterations"),
    ({"label_smoothing": 0.1}, "label_smoothing (0.1) is for classification; remove it on a regression target"),
    ({"label_smoothing": 1.0}, "label_smoothing must be at least 0 and below 1, got 1.0"),
    ({"label_smoothing": -0.1}, "label_smoothing must be at least 0 and below 1, got -0.1"),
    ({"heads": 0}, "parameter 'heads' must be at least 1, got 0"),
    ({"front_scale": -1.0}, "front_scale must be 0 (off) or a positive learning-rate factor, got -1.0"),
    ({"periodic": -1}, "parameter 'periodic' must be at least 0, got -1"),
    ({"periodic": 16, "periodic_sigma": 0.0}, "periodic_sigma must be positive, got 0.0"),
    ({"precision": "float16"}, "parameter 'precision' has 'float16', expected one of 'auto', 'float32', 'bfloat16'"),
    ({"numeric_scaling": "rank"}, "parameter 'numeric_scaling' has 'rank', expected one of 'standard', 'quantile'"),  # the mlp's 5 cycles: ceil(12 / 5) = 3 make 4
])
def test_bad_parameters_are_one_clear_line(params, message):
    ctx = ModelContext(TaskInfo("regression"), get_metric("rmse"))
    with pytest.raises(UserError) as err:
        build_model("net", {"type": "mlp", "params": params}, ctx)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_iterations_replace_epochs_and_train_through_the_cv_loop():
    X, y, X_va, _ = _split("regression")  # 450 training rows, batch 100: 4 full batches an epoch (drop_last)
    params = {"iterations": 23, "batch_size": 100, "cycles": 1, "snapshots": 1, "width": 64}
    model = SnapshotMLP("regression", **params).fit(X, y)
    assert (model.steps_, model.epochs_, model.iterations_per_epoch_) == (23, 6, 4)  # 5 epochs + 3 iterations
    assert len(model.history_) == 6
    res = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, np.arange(len(y)) % 3,
                   TaskInfo("regression"), get_metric("rmse"), log=lambda m: None)
    assert np.isfinite(res.oof).all() and res.test.shape == (len(X_va),)
    from models.nn import TorchNet

    with pytest.raises(ValueError, match=r"set epochs \(5\) or iterations \(20\), not both"):
        TorchNet(epochs=5, iterations=20).fit(X, y)
    # with epochs the iterations follow from the fold's rows: cycles that cannot all end in them stop the
    # fit with one line (40 rows, batch 8: 5 iterations an epoch, 2 epochs = 10; 6 cycles of 2 make 5)
    small = {"epochs": 2, "batch_size": 8, "cycles": 6, "snapshots": 1, "width": 16}
    with pytest.raises(UserError) as err:
        train_cv("net", {"type": "mlp", "params": small}, X.iloc[:60], y[:60], X_va, np.arange(60) % 3,
                 TaskInfo("regression"), get_metric("rmse"), log=lambda m: None)
    assert str(err.value) == ("net 'mlp' on 40 training rows: cycles (6) do not fit in 10 iterations: cycles of "
                              "ceil(10 / 6) = 2 iterations make 5; set cycles to at most 5 or the iterations to a "
                              "multiple of 6")


def test_sample_weights_reach_the_net_through_the_cv_loop():
    X, y, X_va, _ = _split("binary", n=240)
    folds = np.arange(len(y)) % 3
    w = 1.0 + (np.arange(len(y)) % 4)
    params = {"epochs": 4, "cycles": 1, "snapshots": 1, "width": 32}
    lines: list[str] = []
    metric = get_metric("roc_auc")
    res = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, folds, TaskInfo("binary", (0, 1)), metric,
                   sample_weight=w, log=lines.append)
    assert res.params["sample_weight"] is True and not [m for m in lines if "takes no sample_weight" in m]
    assert res.overall == roc_auc_score(y, res.oof, sample_weight=w)
    plain = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, folds, TaskInfo("binary", (0, 1)),
                     metric, log=lines.append)
    assert not np.allclose(res.oof, plain.oof)  # the weights changed the fits


def test_long_training_reports_progress_through_the_cv_log(monkeypatch):
    import models._loop

    monkeypatch.setattr(models._loop, "PROGRESS_S", 0.0)  # report after every epoch
    X, y, _, _ = _split("regression", n=200)
    lines: list[str] = []
    folds = np.arange(len(y)) % 2
    train_cv("net", {"type": "mlp", "params": SMALL}, X, y, X.iloc[:5], folds, TaskInfo("regression"),
             get_metric("rmse"), log=lines.append)
    progress = [line for line in lines if "epoch" in line]
    # 75 training rows per fold: one batch of 75 per epoch
    assert progress[0].startswith("[cv] net fold 0: epoch 1/12 (1 iteration of 75 rows), lr 0.003, train loss ")
    # the CV loop never hands a net the rows its fold is scored on, not even to report a loss on them
    assert "valid loss" not in " ".join(progress)
    assert len(progress) == 11 * 2  # epochs 1..11 of 12 in each of the 2 folds (the fold line closes epoch 12)


def test_automatic_batch_size_grows_with_the_data():
    from models.nn import auto_batch_size

    assert auto_batch_size(840) == 128 and auto_batch_size(100_000) == 500 and auto_batch_size(10**7) == 1024
    X, y, _, _ = _split("regression", n=200)
    assert SnapshotMLP("regression", **SMALL).fit(X, y).batch_size_ == 128
    assert SnapshotMLP("regression", **{**SMALL, "batch_size": 32}).fit(X, y).batch_size_ == 32


def test_the_mlp_fits_on_one_thread_whatever_the_runtime_gives():
    from models.nn import TorchNet

    assert TorchNet(task="binary", net="mlp", threads=2)._config(1_000).threads == 1  # too small to split
    assert TorchNet(task="multiclass", net="densenet", threads=2)._config(1_000).threads == 2
    assert TorchNet(task="binary", net="rnn", threads=1)._config(1_000).threads == 1


def test_checking_an_mlp_table_does_not_import_torch():
    """The main process checks every model table before the folds go to the workers; the MLP's parameters
    are checked by range, so torch (1.9 s of imports) loads only where a net trains."""
    import subprocess
    import sys

    code = ("import sys\nfrom models import ModelContext, build_model\nfrom core.metrics import get_metric\n"
            "from core.tasks import TaskInfo\n"
            "ctx = ModelContext(TaskInfo('binary', (0, 1)), get_metric('roc_auc'), 1, None, {})\n"
            "build_model('mlp', {'type': 'mlp', 'params': {'width': 64, 'dropout': 0.2}}, ctx)\n"
            "print('torch' in sys.modules)\n")
    from pathlib import Path

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_piecewise_linear_encoding_learns_a_bump_the_plain_scalar_misses():
    # one numeric column whose positive rate jumps inside a narrow band (taxi's airport distances)
    rng = np.random.default_rng(0)
    x = rng.exponential(3.0, 3000)
    p = np.where((x > 4.0) & (x < 6.0), 0.9, 0.2)
    y = (rng.random(3000) < p).astype(int)
    X = pd.DataFrame({"x": x})
    cut = 2000
    settings = {"cycles": 1, "snapshots": 1, "epochs": 20, "width": 16, "depth": 1}
    aucs = {bins: roc_auc_score(y[cut:], SnapshotMLP("binary", **settings, numeric_bins=bins)
                                .fit(X.iloc[:cut], y[:cut]).predict_proba(X.iloc[cut:])[:, 1]) for bins in (0, 32)}
    best = roc_auc_score(y[cut:], p[cut:])  # the true probabilities' AUC: 0.705
    assert aucs[32] > best - 0.03 and aucs[0] < best - 0.05


def test_piecewise_linear_encoding_is_fitted_on_the_training_rows_and_round_trips():
    from models.nn import _Tabular

    X = pd.DataFrame({"a": np.arange(101.0), "flag": np.arange(101.0) % 2, "c": pd.Categorical(["u", "v"] * 50 + ["u"])})
    prep = _Tabular(1, numeric_bins=4).fit(X)
    dense, _codes = prep.transform(pd.DataFrame({"a": [-10.0, 0.0, 25.0, 62.5, 100.0, 500.0], "flag": [0.0] * 6,
                                                 "c": pd.Categorical(["u"] * 6)}))
    # columns: a, flag standardised; then a's four bins (edges at the values 0, 25, 50, 75, 100); the binary
    # column gets none
    assert prep.n_dense == dense.shape[1] == 2 + 4
    assert np.array_equal(dense[:, 2:], [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0.5, 0],
                                         [1, 1, 1, 1], [1, 1, 1, 1]])
    meta, arrays = prep.state()
    again = _Tabular.from_state(meta, arrays)
    assert np.array_equal(again.transform(X)[0], prep.transform(X)[0])
    assert _Tabular(1).fit(X).n_dense == 2  # off by default


def test_quantile_scaling_gives_normal_scores_of_the_training_ranks_and_round_trips():
    from sklearn.preprocessing import QuantileTransformer

    from models.nn import _Tabular, _normal_scores

    rng = np.random.default_rng(0)
    a = np.column_stack([rng.lognormal(size=3000), rng.integers(0, 5, 3000).astype(float)])
    quantiles = np.quantile(a, np.linspace(0.0, 1.0, 1000), axis=0)
    new = np.column_stack([rng.normal(size=500) * 3, rng.normal(size=500) * 3])
    reference = QuantileTransformer(n_quantiles=1000, output_distribution="normal", subsample=None).fit(a)
    np.testing.assert_allclose(_normal_scores(new, quantiles), reference.transform(new), atol=1e-8)
    scores = _normal_scores(a, quantiles)
    assert abs(np.median(scores[:, 0])) < 0.01 and 0.95 < scores[:, 0].std() < 1.05  # a long tail made normal
    levels = {v: float(scores[a[:, 1] == v, 1][0]) for v in range(5)}  # 5 equally common integers
    assert np.allclose([levels[0], levels[4]], [-levels[4], 1.28], atol=0.02)  # ends at the middle of their fifth
    X = pd.DataFrame({"x": a[:, 0], "n": a[:, 1]})
    X.loc[:9, "x"] = np.nan
    prep = _Tabular(1, numeric_scaling="quantile").fit(X)
    dense, _ = prep.transform(X)
    assert prep.logged == [] and np.abs(dense[:, :2].mean(axis=0)).max() < 0.01  # no log; standardised after
    meta, arrays = prep.state()
    assert np.array_equal(_Tabular.from_state(meta, arrays).transform(X)[0], dense)


def test_quantile_scaling_learns_and_predicts_the_same_after_saving():
    from models.persist import load_model, model_files

    X, y, X_va, y_va = _split("binary")
    X = X.assign(x0=np.exp(3 * X["x0"]))  # the signal's column with a long tail
    X_va = X_va.assign(x0=np.exp(3 * X_va["x0"]))
    model = SnapshotMLP("binary", **SMALL, numeric_scaling="quantile").fit(X, y)
    proba = model.predict_proba(X_va)
    assert roc_auc_score(y_va, proba[:, 1]) > 0.8
    assert np.array_equal(load_model(model_files(model)).predict_proba(X_va), proba)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_heads_train_k_copies_on_every_row_and_predict_their_mean(task):
    """TabM-mini: while training the net gives each row k outputs (every copy is scored on it); in evaluation
    it gives their mean, which is what the model predicts, saved or not."""
    import torch

    from models.persist import load_model, model_files

    X, y, X_va, y_va = _split(task)
    model = SnapshotMLP(task, **{**SMALL, "epochs": 30}, heads=4).fit(X, y)  # k copies learn more slowly
    out = model.predict_proba(X_va) if task != "regression" else model.predict(X_va)
    score = r2_score(y_va, out) if task == "regression" else (
        roc_auc_score(y_va, out[:, 1]) if task == "binary" else roc_auc_score(y_va, out, multi_class="ovr"))
    assert score > 0.8
    net, tensors = model.net_, model._tensors(X_va, None)
    net.load_state_dict(model.snapshots_[-1])
    n_out = 3 if task == "multiclass" else 1
    with torch.no_grad():
        net.train()
        copies = net(*tensors)
        net.eval()
        mean = net(*tensors)
    assert copies.shape == (len(X_va), 4, n_out) and mean.shape == (len(X_va), n_out)
    assert float((copies - copies.mean(1, keepdim=True)).abs().mean()) > 1e-3  # the copies differ
    assert net.copies_per_row == 4 and net.body[-1].weight.shape[0] == 4 and net.scale.shape[0] == 4
    saved = load_model(model_files(model))
    assert np.array_equal(saved.predict_proba(X_va) if task != "regression" else saved.predict(X_va), out)


def test_the_front_scale_starts_as_the_identity_learns_a_weight_per_input_and_is_saved():
    """RealMLP's scaling layer: one weight per input, stored divided by its factor f so that Adam moves it f
    times as fast; a fresh net predicts as one without it, a trained one has weighed its inputs apart."""
    import torch

    from models.persist import load_model, model_files

    X, y, X_va, y_va = _split("regression")
    model = SnapshotMLP("regression", **SMALL, front_scale=6.0).fit(X, y)
    assert r2_score(y_va, model.predict(X_va)) > 0.8
    net, tensors = model.net_, model._tensors(X_va, None)
    trained = model.snapshots_[-1]["front"]
    assert trained.shape == (net.table.out_features,) and net.front_factor == 6.0
    assert float((6.0 * trained).std()) > 0.05  # the inputs weighed apart (each starts at 1)
    saved = load_model(model_files(model))
    assert np.array_equal(saved.predict(X_va), model.predict(X_va))
    net.load_state_dict(model.snapshots_[-1])
    net.eval()
    with torch.no_grad():
        net.front.fill_(1.0 / 6.0)  # as built
        as_built = net(*tensors)
        net.front = None  # no scaling layer
        without = net(*tensors)
    assert torch.equal(as_built, without)


def test_the_front_scale_works_with_heads_and_classes():
    """The front weight comes before TabM-mini's per-copy scaling: one weight per input, shared by the k copies."""
    from models.persist import load_model, model_files

    X, y, X_va, y_va = _split("multiclass")
    model = SnapshotMLP("multiclass", **{**SMALL, "epochs": 30}, heads=2, front_scale=2.0).fit(X, y)
    proba = model.predict_proba(X_va)
    assert roc_auc_score(y_va, proba, multi_class="ovr") > 0.8
    assert model.net_.front.shape == (model.net_.table.out_features,) and model.net_.scale.shape[0] == 2
    assert np.array_equal(load_model(model_files(model)).predict_proba(X_va), proba)


def test_the_periodic_embedding_learns_a_wave_the_plain_net_misses_and_is_saved():
    """RealMLP's PBLD embedding: each numeric column (not its missing flag) also enters as learned mixes of
    cosines of itself, so a target that turns with the column four times is learned; the plain MLP, with
    the same steps, is near chance. The saved fold model predicts the same to the bit."""
    from models.persist import load_model, model_files

    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": pd.Categorical(rng.choice(list("xyz"), n))})
    X.loc[X.index[:50], "b"] = np.nan  # a missing flag: a dense column that is not a value
    y = ((np.sin(4.0 * X["a"]) + 0.3 * X["b"].fillna(0.0) + rng.normal(scale=0.3, size=n)) > 0).astype(int).to_numpy()
    X, y, X_va, y_va = X.iloc[:2000], y[:2000], X.iloc[2000:], y[2000:]
    plain = SnapshotMLP("binary", epochs=30, front_scale=2.0).fit(X, y)
    model = SnapshotMLP("binary", epochs=30, front_scale=2.0, periodic=16).fit(X, y)
    proba = model.predict_proba(X_va)[:, 1]
    assert roc_auc_score(y_va, proba) > 0.95 > 0.7 > roc_auc_score(y_va, plain.predict_proba(X_va)[:, 1])
    embedding = model.net_.periodic
    assert model.net_.numeric == 2 and tuple(embedding.weight.shape) == (2, 16, 3)  # a and b, not b's flag
    assert model.net_.front.shape == (model.net_.table.out_features + 2 * 3,)  # the front weight sees them too
    assert np.array_equal(load_model(model_files(model)).predict_proba(X_va)[:, 1], proba)


def test_a_row_of_every_copy_lines_up_with_its_target_and_weight():
    """k copies' outputs (rows, k, outputs) are scored against each row's target k times, a row's copies
    together: sample weights of 1 and 2 on a net of 3 copies weigh as on one copy."""
    import torch

    from models._loop import _every_copy

    out = torch.arange(12.0).reshape(2, 3, 2)
    y = torch.tensor([1, 0])
    flat, repeated = _every_copy(out, y, 3)
    assert flat.shape == (6, 2) and repeated.tolist() == [1, 1, 1, 0, 0, 0]
    assert torch.equal(flat[3], out[1, 0])
    assert _every_copy(out[:, 0], y, 1)[1] is y


def test_heads_with_sample_weights_reach_the_net_through_the_cv_loop():
    X, y, X_va, _ = _split("binary", n=240)
    folds = np.arange(len(y)) % 3
    w = 1.0 + (np.arange(len(y)) % 4)
    params = {"epochs": 4, "cycles": 1, "snapshots": 1, "width": 32, "heads": 3}
    metric = get_metric("roc_auc")
    weighted = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, folds, TaskInfo("binary", (0, 1)),
                        metric, sample_weight=w)
    plain = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, folds, TaskInfo("binary", (0, 1)), metric)
    doubled = train_cv("net", {"type": "mlp", "params": params}, X, y, X_va, folds, TaskInfo("binary", (0, 1)),
                       metric, sample_weight=np.full(len(y), 2.0))
    assert not np.allclose(weighted.oof, plain.oof)  # the weights changed the fits
    np.testing.assert_allclose(doubled.oof, plain.oof, atol=1e-6)  # equal weights: the unweighted loss


def test_embedding_std_sets_the_initial_spread_of_the_categorical_embeddings():
    import torch

    from models.layers import InputSpec, TableInput

    spec = InputSpec("table", "table", (3,), cardinalities=(200, 8))
    built = {}
    for std in (None, 1.0, 0.01):
        torch.manual_seed(0)
        built[std] = TableInput(spec) if std is None else TableInput(spec, std)
    torch_default, one, small = (built[s].embeddings[0].weight.detach() for s in (None, 1.0, 0.01))
    assert torch.equal(torch_default, one)  # 1 leaves torch's own N(0, 1) as it was
    assert 0.8 < float(one.std()) < 1.2 and 0.008 < float(small.std()) < 0.012


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_label_smoothing_trains_toward_softer_targets_but_scores_held_out_rows_on_the_plain_loss(task):
    """Smoothed labels keep the net's probabilities away from 0 and 1 (a true class's target is 1 - e + e / k),
    while the held-out rows' loss in `history_` stays the plain log loss the metric reads."""
    import torch

    from models._loop import smoothed_loss

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=800), "b": rng.normal(size=800)})
    y = np.digitize(X["a"], [0.0] if task == "binary" else [-0.5, 0.5])  # separable: plain training goes to 0 / 1
    X, y, X_va, y_va = X.iloc[:600], y[:600], X.iloc[600:], y[600:]
    long = {"cycles": 1, "snapshots": 1, "epochs": 40, "width": 64, "lr": 0.01}  # trained to convergence
    plain = SnapshotMLP(task, **long).fit(X, y, X_va, y_va)
    smooth = SnapshotMLP(task, **long, label_smoothing=0.2).fit(X, y, X_va, y_va)
    k = 2 if task == "binary" else 3
    target = 1 - 0.2 * (k - 1) / k  # the true class's smoothed target: 1 - e + e / k
    assert np.median(plain.predict_proba(X).max(axis=1)) > 0.99  # unsmoothed, the rows go to certainty
    assert abs(np.median(smooth.predict_proba(X).max(axis=1)) - target) < 0.03  # smoothed, they stop near it
    proba = smooth.predict_proba(X_va)
    assert roc_auc_score(y_va, proba[:, 1] if task == "binary" else proba, multi_class="ovr") > 0.95
    # the recorded valid loss is the plain log loss of the last snapshot, not the smoothed one
    p = np.clip(smooth.predict_proba(X_va), 1e-7, 1)
    codes = np.searchsorted(smooth.classes_, y_va)
    assert smooth.history_[-1]["valid_loss"] == pytest.approx(-np.log(p[np.arange(len(p)), codes]).mean(), rel=1e-3)
    # the binary loss's targets: 0 -> e / 2, 1 -> 1 - e / 2, per row when sample weights ask for it
    loss = smoothed_loss(torch.nn.BCEWithLogitsLoss(), 0.2)
    logits, labels = torch.tensor([[0.0], [2.0]]), torch.tensor([[0.0], [1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([[0.1], [0.9]]))
    assert torch.isclose(loss(logits, labels), expected)
    loss.reduction = "none"
    assert loss(logits, labels).shape == (2, 1)


def test_select_cycles_says_when_it_chose_every_cycle_and_not_when_it_stopped_before():
    X, y, _, _ = _split("regression")
    still_learning = SnapshotMLP("regression", **SMALL, select_cycles=True, lr=0.001).fit(X, y)
    assert still_learning.cycles_ == 3 and still_learning.capped_ == "cycles = 3"  # the k-fold loop names it
    X, y, _, _ = _split("binary", n=200)
    overfitting = SnapshotMLP("binary", **{**SMALL, "width": 256}, select_cycles=True, lr=0.03).fit(X, y)
    assert overfitting.cycles_ < 3 and overfitting.capped_ is None


def test_early_stopping_says_when_its_best_epoch_was_the_last_and_not_when_it_stopped():
    plain = {"cycles": 1, "snapshots": 1, "early_stopping": 3}
    X, y, _, _ = _split("regression")
    still_learning = SnapshotMLP("regression", **plain, epochs=10, width=64, lr=0.0005).fit(X, y)
    assert still_learning.best_epoch_ == 10 and still_learning.capped_ == "epochs = 10"
    X, y, _, _ = _split("binary", n=200)
    stopped = SnapshotMLP("binary", **plain, epochs=40, width=256, lr=0.03).fit(X, y)
    assert len(stopped.history_) < 40 and stopped.capped_ is None
