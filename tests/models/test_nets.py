"""The nets on the one training loop: DenseNet (channel arithmetic, learns digits), the RNN with
attention (weights, learns review sentiment), Keras-like layer lists and module factories, arrays
sliced per fold, reproducible OOF, and one-line errors for what cannot work."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, roc_auc_score

from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TaskInfo
from models import ModelContext, build_model, train_cv
from models.densenet import DenseLayer, DenseNet, Transition, channel_plan
from models.layers import AttentionPool
from models.testing import make_arrays, make_data

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
TEN = TaskInfo("multiclass", tuple(range(10)))
BINARY = TaskInfo("binary", (0, 1))


@pytest.fixture(scope="module")
def digits():
    """The real digits: (table of 64 pixels, images (n, 1, 8, 8) in [0, 1], labels)."""
    frame = pd.read_csv(DATA / "digits" / "train.csv")
    pixels = frame[[c for c in frame.columns if c.startswith("pixel_")]]
    images = (pixels.to_numpy(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return pixels.astype(np.float32), images, frame["target"].to_numpy()


@pytest.fixture(scope="module")
def reviews():
    """The real fine-foods reviews: (table with one dummy column, token ids (n, 80), labels)."""
    from features import Tokenizer, pad_sequences

    frame = pd.read_csv(DATA / "fine_foods" / "train.csv")
    texts = frame["review"].fillna("").tolist()
    tokens = pad_sequences(Tokenizer(num_words=5000, oov_token="<OOV>").fit_on_texts(texts).texts_to_sequences(texts),
                           maxlen=80)
    return pd.DataFrame({"one": np.ones(len(frame), np.float32)}), tokens, frame["score"].to_numpy()


def _model(task, spec: dict, arrays: dict | None = None):
    metric = get_metric("accuracy" if task.n_classes > 2 else "roc_auc")
    return build_model("m", {"params": {}, **spec}, ModelContext(task, metric, arrays=arrays))


# ---- DenseNet ----------------------------------------------------------------------------------
def test_densenet_channel_counts_follow_the_growth_rate_arithmetic():
    k = 12
    assert channel_plan(k, [6, 6, 6], 0.5) == [24, 24 + 6 * k, 48, 48 + 6 * k, 60, 60 + 6 * k]
    net = DenseNet(1, 8, 8, 10, growth_rate=k, blocks=(6, 6, 6), compression=0.5)
    assert net.channels == [24, 96, 48, 120, 60, 132]
    layers = [m for m in net.features if isinstance(m, DenseLayer)]
    transitions = [m for m in net.features if isinstance(m, Transition)]
    starts = [24] * 6 + [48] * 6 + [60] * 6
    for i, layer in enumerate(layers):  # layer l of a block sees the block input plus l x k maps
        convs = [m for m in layer.body if isinstance(m, torch.nn.Conv2d)]
        assert convs[0].in_channels == starts[i] + (i % 6) * k
        assert convs[0].out_channels == 4 * k and convs[1].out_channels == k  # bottleneck, then k new maps
    assert [(t.body[2].in_channels, t.body[2].out_channels) for t in transitions] == [(96, 48), (120, 60)]
    assert net.head[-1].in_features == 132
    maps = net.features(net.stem(torch.zeros(2, 1, 8, 8)))
    assert maps.shape == (2, 132, 2, 2)  # two transitions halve 8x8 twice
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert DenseNet(1, 28, 28, 10, growth_rate=8, blocks=(2, 2), compression=0.5, stem=16).channels == [16, 32, 16, 32]


def test_densenet_learns_the_real_digits(digits):
    X, images, y = digits
    model = _model(TEN, {"type": "densenet", "params": {"epochs": 4, "growth_rate": 8, "blocks": [2, 2, 2], "lr": 0.01,
                                                         "batch_size": 32, "cycles": 1, "snapshots": 1}},
                   arrays={"image": (images, images)})
    model.fit(X[:900], y[:900], arrays={"image": images[:900]})
    accuracy = accuracy_score(y[900:], model.predict(X[900:], arrays={"image": images[900:]}))
    assert accuracy > 0.9  # chance is 0.1
    assert model.inputs_ == ["image"]


def test_random_shifts_only_while_training():
    from models.layers import RandomShift

    shift = RandomShift(1)
    x = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    shift.eval()
    assert torch.equal(shift(x), x)
    shift.train()
    torch.manual_seed(0)
    moved = [shift(x) for _ in range(20)]
    assert any(not torch.equal(m, x) for m in moved)
    for m in moved:  # a shifted copy: some offset (dy, dx) in [-1, 1] maps x onto it (zeros at the border)
        assert any(torch.equal(m[0, 0, 1:-1, 1:-1], x[0, 0, 1 + dy:7 + dy, 1 + dx:7 + dx])
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_shift_views_are_every_shift_training_draws():
    from models.layers import RandomShift

    shift = RandomShift(1).train()
    x = torch.arange(3 * 64, dtype=torch.float32).reshape(3, 1, 8, 8)
    views = shift.views(x).view(9, 3, 1, 8, 8)
    assert torch.equal(views[4], x)  # the unshifted images are one of the nine
    torch.manual_seed(0)
    for _ in range(10):  # every image's random shift in training is one of its views
        moved = shift(x)
        for i in range(3):
            assert any(torch.equal(moved[i], v[i]) for v in views)


def test_densenet_tta_averages_the_logits_of_every_view_in_evaluation_only():
    torch.manual_seed(0)
    net = DenseNet(1, 8, 8, 4, growth_rate=4, blocks=(1, 1), tta=True)
    x = torch.randn(5, 1, 8, 8)
    net.eval()
    with torch.no_grad():
        plain = net.head(net.features(net.stem(x)))
        per_view = net.head(net.features(net.stem(net.shift.views(x)))).view(9, 5, 4)
        averaged = net(x)
    assert averaged.shape == (5, 4)
    assert torch.allclose(averaged, per_view.mean(0), atol=1e-6)
    assert not torch.allclose(averaged, plain, atol=1e-4)  # the views moved the prediction
    net.train()
    assert net(x).shape == (5, 4)  # one random shift per image while training, no views
    assert not DenseNet(1, 8, 8, 4, growth_rate=4, blocks=(1, 1), shift=0, tta=True).tta  # nothing to average


# ---- RNN with attention --------------------------------------------------------------------------
def test_attention_weights_sum_to_one_and_are_zero_on_padding():
    torch.manual_seed(0)
    pool = AttentionPool(6)
    h = torch.randn(3, 5, 6)
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    w = pool.weights(h, mask)
    assert torch.allclose(w[:2].sum(1), torch.ones(2))
    assert torch.all(w[~mask] == 0) and torch.all(w[mask] > 0)
    pooled, _ = pool(h, mask)
    assert torch.allclose(pooled[0], (w[0, :, None] * h[0]).sum(0)) and torch.all(pooled[2] == 0)


def test_rnn_attention_reads_only_the_tokens_wherever_the_padding_is():
    from models.layers import InputSpec
    from models.rnn import AttentionRNN

    torch.manual_seed(0)
    net = AttentionRNN([InputSpec("seq", "sequence", (6,), vocab=20)], 1, embedding_dim=8, units=4)
    net.eval()
    pre = torch.tensor([[0, 0, 0, 5, 6, 7], [1, 2, 3, 4, 5, 6]])
    post = torch.tensor([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    w_pre, w_post = net.attention(pre), net.attention(post)
    assert torch.allclose(w_pre.sum(1), torch.ones(2)) and torch.all(w_pre[pre == 0] == 0)
    assert torch.allclose(w_pre[0, 3:], w_post[0, :3])  # the same tokens get the same weights
    with torch.no_grad():
        assert torch.allclose(net(pre), net(post))  # padding is never read
        alone = net(pre[:1])
    assert torch.allclose(alone, net(pre)[:1], atol=1e-6)  # a row's output does not depend on its batch


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_encoder_reads_each_row_as_if_it_were_alone_and_unpadded(cell):
    from models.layers import RNNEncoder

    torch.manual_seed(0)
    enc = RNNEncoder(3, 4, cell=cell, bidirectional=True)
    reference = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](3, 4, batch_first=True, bidirectional=True)
    for name, value in enc.forward_rnns[0].state_dict().items():  # the same weights, nn's bidirectional layout
        reference.state_dict()[name].copy_(value)
        reference.state_dict()[name + "_reverse"].copy_(enc.backward_rnns[0].state_dict()[name])
    x = torch.randn(3, 6, 3)
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        out, out_mask = enc(x, mask)
        enc.return_sequences = False
        final, _ = enc(x, mask)
        for i in range(3):
            alone, _ = reference(x[i:i + 1][:, mask[i]])  # the row's real steps only
            n = int(mask[i].sum())
            assert torch.allclose(out[i, :n], alone[0], atol=1e-6) and bool(out_mask[i, :n].all())
            assert torch.allclose(final[i], torch.cat([alone[0, -1, :4], alone[0, 0, 4:]]), atol=1e-6)


def test_rnn_learns_the_sentiment_of_real_reviews(reviews):
    X, tokens, y = reviews
    model = _model(BINARY, {"type": "rnn", "params": {"epochs": 3, "units": 16, "embedding_dim": 32, "head_units": 0,
                                                       "lr": 5e-3}},
                   arrays={"review_seq": (tokens, tokens)})
    n = 2400
    model.fit(X[:n], y[:n], arrays={"review_seq": tokens[:n]})
    auc = roc_auc_score(y[n:3200], model.predict_proba(X[n:3200], arrays={"review_seq": tokens[n:3200]})[:, 1])
    assert auc > 0.7  # chance is 0.5


# ---- Keras-like definitions ----------------------------------------------------------------------
def test_a_layer_list_trains_on_images_and_on_the_table(digits):
    X, images, y = digits
    cnn = _model(TEN, {"type": "net", "params": {"inputs": ["image"], "epochs": 6, "batch_size": 32, "lr": 0.01,
                                                 "layers": [
        {"type": "conv2d", "filters": 16, "activation": "relu"}, {"type": "maxpool2d"},
        {"type": "flatten"}, {"type": "dropout", "rate": 0.1}, {"type": "dense", "units": 32, "activation": "relu"}]}},
        arrays={"image": (images, images)})
    cnn.fit(X[:900], y[:900], arrays={"image": images[:900]})
    assert accuracy_score(y[900:], cnn.predict(X[900:], arrays={"image": images[900:]})) > 0.85
    table = _model(TEN, {"type": "net", "params": {"epochs": 6, "batch_size": 32, "lr": 0.01, "layers": [
        {"type": "dense", "units": 32}, {"type": "silu"}, {"type": "batchnorm"}]}})
    table.fit(X[:900], y[:900])
    assert accuracy_score(y[900:], table.predict(X[900:])) > 0.85
    assert table.inputs_ == ["table"]


FACTORY = '''
import torch
from torch import nn
from models.layers import AttentionPool, MaskedEmbedding, RNNEncoder, TableInput


def text_and_table(inputs, n_outputs, width=16):
    """Keras' functional style: the table and a token sequence, joined before the head."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = TableInput(inputs["table"])
            self.embed = MaskedEmbedding(inputs["tokens"].vocab, width)
            self.rnn = RNNEncoder(width, width)
            self.pool = AttentionPool(self.rnn.out_features)
            self.head = nn.Linear(self.table.out_features + self.rnn.out_features, n_outputs)

        def forward(self, table, tokens):
            h, mask = self.rnn(*self.embed(tokens))
            return self.head(torch.cat([self.table(*table), self.pool(h, mask)[0]], dim=1))

    return Net()
'''


def test_a_module_factory_trains_on_the_table_joined_with_a_sequence(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    X, y = make_data(BINARY, n=400, categorical=True)
    arrays = make_arrays(y, seed=1)
    spec = {"type": "net", "params": {"factory": "my_nets:text_and_table", "options": {"width": 8},
                                      "inputs": ["table", "tokens"], "epochs": 8, "batch_size": 32, "lr": 0.01}}
    folds = np.arange(len(y)) % 3
    res = train_cv("f", spec, X, y, X.iloc[:10], folds, BINARY, get_metric("roc_auc"), log=lambda m: None,
                   arrays={"tokens": (arrays["tokens"], arrays["tokens"][:10])})
    assert res.overall > 0.9  # the target token is in every sequence


# ---- arrays in the CV loop -----------------------------------------------------------------------
SPY = '''
import json
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class Model(ClassifierMixin, BaseEstimator):
    """Logs the row ids of the arrays each call receives; predicts a row's id from its array."""

    def __init__(self, log_path=""):
        self.log_path = log_path

    def _log(self, what, *arrays):
        rows = [a["rowid"][:, 0].astype(int).tolist() if a is not None else [] for a in arrays]
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps([what, *rows]) + "\\n")

    def fit(self, X, y, X_valid=None, y_valid=None, arrays=None, arrays_valid=None):
        self._log("fit", arrays, arrays_valid)  # the rows it trains on, any rows given for early stopping
        assert arrays["rowid"][:, 0].tolist() == X["rowid"].tolist()
        assert X_valid is None or arrays_valid["rowid"][:, 0].tolist() == X_valid["rowid"].tolist()
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X, arrays=None):
        self._log("predict", arrays)
        p = arrays["rowid"][:, 0] / 1e6
        return np.column_stack([1 - p, p])

    def predict(self, X, arrays=None):
        return (self.predict_proba(X, arrays=arrays)[:, 1] > 0.5).astype(int)
'''


def test_a_fold_model_never_gets_its_validation_rows_arrays_for_training(tmp_path):
    import json

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "spy.py").write_text(SPY)
    log = tmp_path / "calls.log"
    n, n_test = 60, 7
    X, y = make_data(BINARY, n=n)
    rowid = (np.arange(n, dtype=np.float64) + 100)[:, None]
    X["rowid"] = rowid[:, 0]  # the same ids in the table: each fit checks its arrays against its rows
    test_rowid = (np.arange(n_test, dtype=np.float64) + 900)[:, None]
    folds = np.arange(n) % 4
    res = train_cv("spy", {"type": "spy", "params": {"log_path": str(log)}, "preprocess": "auto"}, X, y,
                   X.iloc[:n_test], folds, BINARY, get_metric("roc_auc"), plugin_dir=plugins, log=lambda m: None,
                   arrays={"rowid": (rowid, test_rowid)})
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    fits = [call[1] for call in calls if call[0] == "fit"]
    assert len(fits) == 4
    for k, rows in enumerate(fits):  # fold k's model trains on arrays of its training rows only
        assert set(rows) <= set(100 + np.flatnonzero(folds != k))
        assert not set(rows) & set(100 + np.flatnonzero(folds == k))
    assert np.allclose(res.oof * 1e6, rowid[:, 0])  # each row predicted from its own array row
    assert np.allclose(res.test * 1e6, test_rowid[:, 0])


def test_same_seed_same_oof_on_cpu(digits):
    X, images, y = digits
    rows = slice(0, 300)
    # the CPU, named: on a GPU machine `auto` trains with cuDNN, whose kernels are not bit-reproducible
    spec = {"type": "densenet", "params": {"epochs": 2, "growth_rate": 4, "blocks": [1, 1], "cycles": 2,
                                           "snapshots": 2, "seed": 5, "device": "cpu"}}
    folds = np.arange(300) % 3
    arrays = {"image": (images[rows], images[:20])}

    def oof(s):
        return train_cv("cnn", s, X[rows], y[rows], X.iloc[:20], folds, TEN, get_metric("log_loss"),
                        log=lambda m: None, arrays=arrays).oof

    a, b = oof(spec), oof(spec)
    c = oof({**spec, "params": {**spec["params"], "seed": 6}})
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


# ---- bad input -------------------------------------------------------------------------------------
CASES = {
    "cnn without a pixel grid": ('type = "densenet"',
                                 r"models\.bad: net 'densenet' needs a pixel-grid image array .*; this competition's "
                                 r"array inputs: none"),
    "rnn without a sequence": ('type = "rnn"', r"models\.bad: net 'rnn' needs a token sequence array \(the "
                                               r"`text_sequence` feature block"),
    "misspelt layer key": ('type = "net"\nparams = { layers = [{ type = "dense", unit = 8 }] }',
                           r"models\.bad\.params\.layers\[0\] \(dense\): unknown key 'unit' \(did you mean "
                           r"'units'\?\); e\.g\. \{ type = \"dense\", units = 256 \}"),
    "unknown layer type": ('type = "net"\nparams = { layers = [{ type = "dense", units = 8 }, { type = "dropuot" }] }',
                           r"models\.bad\.params\.layers\[1\]: unknown layer type 'dropuot' \(did you mean 'dropout'\?\)"),
    "convolution on the table": ('type = "net"\nparams = { layers = [{ type = "conv2d", filters = 8 }] }',
                                 r"models\.bad\.params\.layers\[0\] \(conv2d\) takes rows of rank 3, got shape "
                                 r"\(table columns,\); it needs an image input"),
    "an input the competition lacks": ('type = "net"\nparams = { inputs = ["image"], layers = [] }',
                                r"inputs has 'image', which is not an input of this competition"),
    "neither layers nor factory": ('type = "net"', r"type = 'net' needs params\.layers = \[\.\.\.\]"),
    "missing factory": ('type = "net"\nparams = { factory = "no_such_pkg.nets:make" }',
                        r"models\.bad\.params\.factory = 'no_such_pkg\.nets:make': cannot import module"),
    "cuda without a gpu": ('type = "mlp"\nparams = { device = "cuda" }',
                           r"models\.bad\.params: device = 'cuda' but torch .* sees no GPU .*install a CUDA build of "
                           r"torch \(README: GPU\) or set device = 'auto'"),
    "unknown device": ('type = "mlp"\nparams = { device = "gpu" }',
                       r"models\.bad\.params: parameter 'device' has 'gpu', expected one of 'auto', 'cpu', 'cuda'"),
}


@pytest.mark.parametrize("table,message", CASES.values(), ids=CASES.keys())
def test_nets_that_cannot_work_exit_2_with_one_line(titanic_ws, capsys, monkeypatch, table, message):
    from pipeline.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = titanic_ws / "competition" / "titanic" / "competition.toml"
    cfg.write_text(cfg.read_text() + f"\n[models.bad]\n{table}\n")
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv", "--models", "bad"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and not any(line.startswith("Traceback") for line in err)
    assert re.search(message, err[-1]), err[-1]
    assert not (titanic_ws / "competition" / "titanic" / "runs" / "models" / "bad").exists()


def test_a_layer_list_ending_in_a_grid_names_the_fix(digits):
    X, images, y = digits
    with pytest.raises(UserError, match=r"models\.m\.params\.layers: they end with shape \(8, 8, 8\) per row; the "
                                        r"output layer needs a vector: end with \{ type = \"flatten\" \}"):
        _model(TEN, {"type": "net", "params": {"inputs": ["image"], "layers": [{"type": "conv2d", "filters": 8}]}},
               arrays={"image": (images, images)})


def test_rare_and_unseen_token_ids_share_one_learned_index():
    from models.nn import _ArrayInput

    train = np.array([[0, 0, 5, 5, 7], [0, 5, 6, 6, 9]], dtype=np.int32)
    prep = _ArrayInput(min_frequency=2).fit(train)
    assert prep.spec("seq").vocab == 11  # ids 0..9, then the rare index 10
    ids = prep.transform(np.array([[0, 5, 6, 7, 12]]), "seq")  # 7 seen once, 12 never: both rare
    assert ids.tolist() == [[0, 5, 6, 10, 10]]
    with pytest.raises(ValueError, match=r"rows of shape \(4,\), the model was fitted on \(5,\)"):
        prep.transform(np.zeros((1, 4), dtype=np.int32), "seq")
