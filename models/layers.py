"""Building blocks of the nets and the Keras-like Sequential definition: a list of layer tables.

    layers = [{ type = "dense", units = 256, activation = "silu" }, { type = "dropout", rate = 0.1 },
              { type = "dense", units = 64, activation = "silu" }]

`LAYERS` is the registry of layer types: each declares its parameters (checked like every other
table, unknown keys with a suggestion) and builds its torch module from the shape of its input, so a
list that cannot work (a convolution on a flat row, a dense layer on token ids) stops before training
with one line naming the layer and the fix. The net's input comes first (the feature table embedded
by `TableInput`, an image (C, H, W) or token ids (L,)); the output layer (one unit per prediction
column) is added after the list.

Blocks shared with the built-in nets: `TableInput` (numeric columns + embedded categoricals),
`Dropout` (nn.Dropout with a cheaper CPU mask), `RandomShift` (training-time shift augmentation),
`MaskedEmbedding` (token ids -> vectors + padding mask), `RNNEncoder` (packed GRU/LSTM that never reads
padding) and `AttentionPool` (a learned query, softmax weights over time steps, padding weighted 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from core.params import REQUIRED, validate


@dataclass(frozen=True)
class InputSpec:
    """One input of a net, as a factory or layer sees it.

    kind: "table" (the feature table: `shape` = (dense columns,), the first `numeric` of them the
    standardised numeric values, then missing flags and bins; `cardinalities` = levels per categorical
    column, index 0 for rare/unseen), "image" (float (C, H, W)), "sequence" (token ids
    (L,), 0 = padding, `vocab` = largest id + 1) or "array" (any other float array)."""

    name: str
    kind: str
    shape: tuple
    vocab: int = 0
    cardinalities: tuple = ()
    numeric: int = 0

    @property
    def n_tensors(self) -> int:
        """Tensors this input takes in a forward call: the table is (numeric, codes), others one."""
        return 2 if self.kind == "table" else 1


# ---- blocks ------------------------------------------------------------------------------------
def embedding_size(cardinality: int) -> int:
    """Embedding width for a categorical column with `cardinality` levels (fast.ai's rule, at most 16)."""
    return int(min(16, max(2, round(1.6 * cardinality ** 0.56))))


class TableInput(nn.Module):
    """The feature table as one float vector per row: numeric columns, then one learned embedding per
    categorical column. forward(numeric (n, d) float, codes (n, c) int) -> (n, out_features)."""

    def __init__(self, spec: InputSpec, embedding_std: float = 1.0):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_size(c)) for c in spec.cardinalities)
        if embedding_std != 1.0:  # 1: torch's own N(0, 1), each level as far from the others as a column's spread
            for embedding in self.embeddings:
                nn.init.normal_(embedding.weight, 0.0, float(embedding_std))
        self.out_features = int(spec.shape[0]) + sum(embedding_size(c) for c in spec.cardinalities)

    def forward(self, dense, codes):
        parts = [dense] + [emb(codes[:, j]) for j, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)


class Dropout(nn.Module):
    """nn.Dropout whose CPU mask comes from numpy's PCG64 (16 random bits a unit, seeded from torch's
    generator when the net is built, so `seed` still fixes it): torch's CPU Bernoulli sampling was a
    fifth of an MLP step. A (128, 256) batch, forward and backward, one thread: 221 us against
    nn.Dropout's 435 us. On a GPU, and with p = 0 or in evaluation, it is torch's own dropout."""

    _LEVELS = 65536

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p!r}")
        self.p = float(p)
        self._cut = int(round(self.p * self._LEVELS))  # a unit is kept when its 16 bits are >= this
        self._rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, ())))

    def forward(self, x):
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, self.training)
        bits = np.frombuffer(self._rng.bytes(2 * x.numel()), dtype=np.uint16).reshape(x.shape)
        mask = torch.from_numpy((bits >= self._cut).astype(np.float32))
        return x * mask.mul_(1.0 / (1.0 - self.p)).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class PeriodicEmbedding(nn.Module):
    """RealMLP's PBLD embedding of numeric columns (Holzmüller et al. 2024; the periodic embeddings of
    Gorishniy et al. 2022): each column x becomes `outputs` learned values, a linear map of cos(2π w x + b)
    over `frequencies` learned (w, b) pairs, w ~ N(0, sigma²), per column; the net reads them beside x
    itself. A curve per column that the first layer need not build from many units' kinks.
    forward((n, columns)) -> (n, columns * outputs)."""

    def __init__(self, columns: int, frequencies: int = 16, sigma: float = 0.1, outputs: int = 3):
        super().__init__()
        self.frequency = nn.Parameter(sigma * torch.randn(columns, frequencies))
        self.phase = nn.Parameter(math.pi * (2.0 * torch.rand(columns, frequencies) - 1.0))
        bound = 1.0 / math.sqrt(frequencies)
        self.weight = nn.Parameter(torch.empty(columns, frequencies, outputs).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(columns, outputs).uniform_(-bound, bound))
        self.out_features = columns * outputs

    def forward(self, x):
        waves = torch.cos(2.0 * math.pi * x.unsqueeze(-1) * self.frequency + self.phase)  # (n, columns, frequencies)
        return (torch.einsum("ncf,cfo->nco", waves, self.weight) + self.bias).flatten(1)

    def extra_repr(self) -> str:
        columns, frequencies, outputs = self.weight.shape
        return f"columns={columns}, frequencies={frequencies}, outputs={outputs}"


class Heads(nn.Module):
    """k output layers side by side, for a net that runs k copies of each row (TabM's parameter-efficient
    ensemble). forward((n, k, d)) -> (n, k, out): copy j through layer j, each initialised as nn.Linear is."""

    def __init__(self, k: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, out_features).uniform_(-bound, bound))

    def forward(self, x):
        return torch.einsum("nkd,kdo->nko", x, self.weight) + self.bias

    @staticmethod
    def random_signs(k: int, size: int):
        """A (k, size) tensor of random +-1: each copy sees the row's features with its own signs, so the
        copies start apart (TabM-mini's initialisation of its one adapter)."""
        return torch.randint(0, 2, (k, size)).float() * 2.0 - 1.0

    @staticmethod
    def combine(out, training: bool):
        """The k copies' outputs (n, k, out) as the loop wants them: all of them while training (each copy
        is scored on every row, see models._loop), their mean in evaluation (for classes: a geometric mean
        of the copies' probabilities, normalised, as the logits are averaged)."""
        return out if training else out.mean(dim=1)

    def extra_repr(self) -> str:
        k, d, o = self.weight.shape
        return f"heads={k}, in_features={d}, out_features={o}"


class RandomShift(nn.Module):
    """Training-time augmentation: each image shifted by up to `pixels` in each direction (zeros fill
    the border); identity in evaluation mode."""

    def __init__(self, pixels: int = 1):
        super().__init__()
        self.pixels = int(pixels)

    def forward(self, x):
        if not self.training or self.pixels <= 0:
            return x
        s, (b, c, h, w) = self.pixels, x.shape
        padded = nn.functional.pad(x, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (b,), device=x.device)
        dx = torch.randint(0, 2 * s + 1, (b,), device=x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (b, h, 1)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (b, 1, w)
        out = padded[torch.arange(b, device=x.device)[:, None, None], :, rows, cols]  # (b, h, w, c)
        return out.permute(0, 3, 1, 2).contiguous()

    def views(self, x):
        """Every shift training draws from, stacked: ((2p + 1)^2 * b, c, h, w), view-major (the unshifted
        images among them), for test-time augmentation."""
        s, (b, c, h, w) = self.pixels, x.shape
        padded = nn.functional.pad(x, (s, s, s, s))
        return torch.cat([padded[:, :, dy:dy + h, dx:dx + w] for dy in range(2 * s + 1) for dx in range(2 * s + 1)])


def left_align(x, mask):
    """Rows' real steps moved to the front in order (pre- or post-padded alike), trimmed to the
    longest row: (x, mask, positions) with positions[i, j] = the original index of step j."""
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    length = int(mask.sum(1).max()) if len(mask) else 0
    order = order[:, :max(length, 1)]
    index = order if x.dim() == 2 else order[:, :, None].expand(-1, -1, x.shape[2])
    return x.gather(1, index), mask.gather(1, order), order


class MaskedEmbedding(nn.Module):
    """Token ids (n, L) -> (vectors (n, L, dim), mask (n, L) True on real tokens); id 0 is padding."""

    takes_mask = True

    def __init__(self, vocab: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(max(int(vocab), 2), int(dim), padding_idx=0)

    def forward(self, ids, mask=None):
        return self.embedding(ids), ids != 0


CELLS: dict[str, Callable[..., nn.Module]] = {"gru": nn.GRU, "lstm": nn.LSTM}


class RNNEncoder(nn.Module):
    """A (bidirectional, stacked) GRU or LSTM that never reads padding: rows are left-aligned (real
    steps first), the forward direction reads them in order and the backward direction reads each
    row's own steps reversed, so a row's outputs depend neither on its padding nor on the rows
    batched with it (unlike nn.GRU's bidirectional mode on padded rows), at the speed of unpacked
    sequences (packed ones are several times slower on CPU). forward(x (n, L, d), mask (n, L)) ->
    (outputs (n, L', units * directions), mask (n, L')) with the real steps first, or with
    `return_sequences` false the final states (n, units * directions)."""

    takes_mask = True

    def __init__(self, input_dim: int, units: int, *, cell: str = "gru", bidirectional: bool = True,
                 layers: int = 1, dropout: float = 0.0, return_sequences: bool = True):
        super().__init__()
        directions = 2 if bidirectional else 1
        sizes = [int(input_dim)] + [int(units) * directions] * (int(layers) - 1)
        self.forward_rnns = nn.ModuleList(CELLS[cell](size, int(units), batch_first=True) for size in sizes)
        self.backward_rnns = nn.ModuleList(CELLS[cell](size, int(units), batch_first=True) for size in sizes) \
            if bidirectional else None
        self.dropout = nn.Dropout(float(dropout))
        self.return_sequences = return_sequences
        self.out_features = int(units) * directions

    def forward(self, x, mask=None):
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        x, mask, _ = left_align(x, mask)
        lengths = mask.sum(1)
        steps = torch.arange(x.shape[1], device=x.device)[None, :]
        last = (lengths - 1).clamp(min=0)
        # each row's own steps reversed (padding stays after them); the map is its own inverse
        flip = torch.where(steps < lengths[:, None], last[:, None] - steps, steps)
        h = x
        for i, rnn in enumerate(self.forward_rnns):
            if i:
                h = self.dropout(h)
            out, _ = rnn(h)
            if self.backward_rnns is not None:
                index = flip[:, :, None].expand(-1, -1, h.shape[2])
                back, _ = self.backward_rnns[i](h.gather(1, index))
                out = torch.cat([out, back.gather(1, flip[:, :, None].expand(-1, -1, back.shape[2]))], dim=2)
            h = out
        if self.return_sequences:
            return h, mask
        rows = torch.arange(len(h), device=h.device)
        units = self.out_features // (2 if self.backward_rnns is not None else 1)
        final = h[rows, last, :units]  # the forward direction after the last real step
        if self.backward_rnns is not None:
            final = torch.cat([final, h[:, 0, units:]], dim=1)  # the backward one after the first step
        return final, None


class AttentionPool(nn.Module):
    """Attention pooling over time steps: score_t = q . tanh(W h_t + b) with a learned query q,
    weights = softmax over the real steps (padding gets weight 0), output = sum_t weights_t h_t.
    A row without any real step pools to zeros."""

    takes_mask = True

    def __init__(self, dim: int, units: int = 0):
        super().__init__()
        units = int(units) or int(dim)
        self.project = nn.Linear(int(dim), units)
        self.query = nn.Linear(units, 1, bias=False)
        self.out_features = int(dim)

    def weights(self, h, mask):
        """(n, L) attention weights: each row sums to 1 over its real steps, 0 on padding."""
        scores = self.query(torch.tanh(self.project(h))).squeeze(-1)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        return torch.softmax(scores, dim=1) * mask  # an all-padding row: uniform, then zeroed

    def forward(self, h, mask=None):
        if mask is None:
            mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        return (self.weights(h, mask).unsqueeze(-1) * h).sum(1), None


# ---- the Sequential layer registry --------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """What flows between layers: dims per row, whether values are token ids, whether a mask rides along."""

    dims: tuple
    ids: bool = False
    masked: bool = False
    label: str = ""  # how to show it when the dims are not the point (the table's width)

    def __str__(self) -> str:
        if self.label:
            return self.label
        return f"({', '.join(map(str, self.dims))}{',' * (len(self.dims) == 1)})" + (" token ids" if self.ids else "")


class LayerError(ValueError):
    """A layer that cannot be built: the message says why and how to fix it."""


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU, "elu": nn.ELU,
}


@dataclass(frozen=True)
class Layer:
    """A layer type: its parameters (`validate` schema), the input ranks it takes, and its builder
    `build(params, shape) -> (module, output Shape)`."""

    name: str
    doc: str
    schema: dict
    ranks: tuple  # per-row ranks it accepts; () = any
    build: Callable[[dict, Shape], tuple]
    ids: bool = False  # reads token ids (else floats)
    example: str = ""


def _with_activation(module: nn.Module, name: str) -> nn.Module:
    return nn.Sequential(module, ACTIVATIONS[name]()) if name else module


def _dense(p, s):
    module = _with_activation(nn.Linear(s.dims[-1], p["units"], bias=p["bias"]), p["activation"])
    return module, Shape((*s.dims[:-1], p["units"]), masked=s.masked)


def _conv(p, s):
    c, h, w = s.dims
    k, stride = p["kernel_size"], p["stride"]
    pad = k // 2 if p["padding"] == "same" else 0
    out_h, out_w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    if out_h < 1 or out_w < 1:
        raise LayerError(f"a {k}x{k} kernel does not fit a {h}x{w} input; use padding = \"same\" or a smaller "
                         f"kernel_size")
    conv = nn.Conv2d(c, p["filters"], k, stride=stride, padding=pad)
    return _with_activation(conv, p["activation"]), Shape((p["filters"], out_h, out_w))


def _pool(kind):
    def build(p, s):
        c, h, w = s.dims
        k = p["pool_size"]
        if h < k or w < k:
            raise LayerError(f"pool_size {k} does not fit a {h}x{w} input; use a smaller pool_size or drop the layer")
        return (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(k), Shape((c, h // k, w // k))
    return build


def _batchnorm(p, s):
    if len(s.dims) == 1:
        return nn.BatchNorm1d(s.dims[0]), s
    if len(s.dims) == 3:
        return nn.BatchNorm2d(s.dims[0]), s
    raise LayerError(f"batchnorm takes (features,) or (channels, height, width), got {s}; use layernorm "
                     f"for sequences")


def _rnn(cell):
    def build(p, s):
        enc = RNNEncoder(s.dims[-1], p["units"], cell=cell, bidirectional=p["bidirectional"], layers=p["layers"],
                         return_sequences=p["return_sequences"])
        dims = (s.dims[0], enc.out_features) if p["return_sequences"] else (enc.out_features,)
        return enc, Shape(dims, masked=p["return_sequences"])
    return build


def _embedding(p, s):
    return MaskedEmbedding(p["_vocab"], p["output_dim"]), Shape((s.dims[0], p["output_dim"]), masked=True)


def _attention(p, s):
    pool = AttentionPool(s.dims[-1], p["units"])
    return pool, Shape((s.dims[-1],))


def _flatten(p, s):
    size = 1
    for d in s.dims:
        size *= d
    return nn.Flatten(), Shape((size,))


_ACT = (str, "", f"activation after the layer: {' | '.join(ACTIVATIONS)} ('' = none)")
_NO_PARAMS: dict = {}

LAYERS: dict[str, Layer] = {layer.name: layer for layer in [
    Layer("dense", "fully connected layer on the last dimension",
          {"units": (int, REQUIRED, "output features"), "activation": _ACT, "bias": (bool, True, "add a bias")},
          (), _dense, example='{ type = "dense", units = 256 }'),
    Layer("dropout", "zero a share of the values while training",
          {"rate": (float, 0.5, "share of values dropped, in [0, 1)")}, (),
          lambda p, s: (Dropout(p["rate"]), s), example='{ type = "dropout", rate = 0.1 }'),
    *[Layer(name, f"{name} activation", _NO_PARAMS, (), lambda p, s, f=factory: (f(), s),
            example=f'{{ type = "{name}" }}') for name, factory in ACTIVATIONS.items()],
    Layer("batchnorm", "batch normalisation (features or image channels)", _NO_PARAMS, (1, 3), _batchnorm,
          example='{ type = "batchnorm" }'),
    Layer("layernorm", "layer normalisation over the last dimension", _NO_PARAMS, (),
          lambda p, s: (nn.LayerNorm(s.dims[-1]), s), example='{ type = "layernorm" }'),
    Layer("conv2d", "2-D convolution on (channels, height, width)",
          {"filters": (int, REQUIRED, "output channels"), "kernel_size": (int, 3, "square kernel side"),
           "stride": (int, 1, "step"), "padding": (str, "same", "same | valid"), "activation": _ACT},
          (3,), _conv, example='{ type = "conv2d", filters = 32, kernel_size = 3 }'),
    Layer("maxpool2d", "max pooling", {"pool_size": (int, 2, "window side")}, (3,), _pool("max"),
          example='{ type = "maxpool2d", pool_size = 2 }'),
    Layer("avgpool2d", "average pooling", {"pool_size": (int, 2, "window side")}, (3,), _pool("avg"),
          example='{ type = "avgpool2d", pool_size = 2 }'),
    Layer("global_avgpool", "mean over height and width: (C, H, W) -> (C,)", _NO_PARAMS, (3,),
          lambda p, s: (nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), Shape((s.dims[0],))),
          example='{ type = "global_avgpool" }'),
    Layer("flatten", "(..., ) -> one vector per row", _NO_PARAMS, (), _flatten, example='{ type = "flatten" }'),
    Layer("random_shift", "training-time shifts of images by up to `pixels`", {"pixels": (int, 1, "largest shift")},
          (3,), lambda p, s: (RandomShift(p["pixels"]), s), example='{ type = "random_shift", pixels = 1 }'),
    Layer("embedding", "token ids -> learned vectors (id 0 is padding, masked downstream)",
          {"output_dim": (int, REQUIRED, "vector size")}, (1,), _embedding, ids=True,
          example='{ type = "embedding", output_dim = 64 }'),
    Layer("gru", "GRU over the real time steps (packed)",
          {"units": (int, REQUIRED, "hidden size"), "bidirectional": (bool, False, "read both directions"),
           "layers": (int, 1, "stacked layers"), "return_sequences": (bool, False, "every step's output "
                                                                             "(else the final state)")},
          (2,), _rnn("gru"), example='{ type = "gru", units = 64, bidirectional = true, return_sequences = true }'),
    Layer("lstm", "LSTM over the real time steps (packed)",
          {"units": (int, REQUIRED, "hidden size"), "bidirectional": (bool, False, "read both directions"),
           "layers": (int, 1, "stacked layers"), "return_sequences": (bool, False, "every step's output "
                                                                             "(else the final state)")},
          (2,), _rnn("lstm"), example='{ type = "lstm", units = 64, return_sequences = true }'),
    Layer("attention", "attention pooling over time steps (learned query, padding weighted 0): (L, d) -> (d,)",
          {"units": (int, 0, "attention hidden size (0 = the input's)")}, (2,), _attention,
          example='{ type = "attention" }'),
]}

_CHOICES = {"activation": ("", *ACTIVATIONS), "padding": ("same", "valid")}
_MINIMUM = {"units": 1, "filters": 1, "kernel_size": 1, "stride": 1, "pool_size": 1, "output_dim": 1, "layers": 1,
            "pixels": 0, "rate": 0.0}


def check_layer_table(i: int, table: Any) -> tuple[Layer, dict]:
    """(layer type, validated parameters) of layers[i]; LayerError naming the problem and the fix."""
    from core.errors import UserError, did_you_mean

    if not isinstance(table, dict) or "type" not in table:
        raise LayerError(f"layers[{i}] must be a table with a type, e.g. {LAYERS['dense'].example}; got {table!r}")
    kind = table["type"]
    if kind not in LAYERS:
        raise LayerError(f"layers[{i}]: unknown layer type {kind!r}{did_you_mean(str(kind), tuple(LAYERS))}")
    layer = LAYERS[kind]
    params = {k: v for k, v in table.items() if k != "type"}
    try:
        params = validate(params, layer.schema, where=f"layers[{i}] ({kind})", choices=_CHOICES, minimum=_MINIMUM,
                          unknown_hint=f"; e.g. {layer.example}", missing_hint=lambda key: f"; e.g. {layer.example}")
    except UserError as exc:
        raise LayerError(str(exc)) from None
    if "rate" in params and not params["rate"] < 1.0:
        raise LayerError(f"layers[{i}] ({kind}): rate must be in [0, 1), got {params['rate']!r}")
    return layer, params


def build_layers(tables: list, shape: Shape, *, vocab: int = 0) -> tuple[list, Shape]:
    """The modules of a layer list applied to rows of `shape`, and the shape they end with."""
    modules = []
    for i, table in enumerate(tables):
        layer, params = check_layer_table(i, table)
        where = f"layers[{i}] ({layer.name})"
        if shape.ids and not layer.ids:
            raise LayerError(f"{where}: the input is token ids {shape}; start with "
                             f"{LAYERS['embedding'].example}")
        if layer.ids and not shape.ids:
            raise LayerError(f"{where} reads token ids, but its input is {shape} floats; use it first on a "
                             f"sequence input")
        if layer.ranks and len(shape.dims) not in layer.ranks:
            raise LayerError(f"{where} takes rows of rank {' or '.join(map(str, layer.ranks))}, got shape {shape}; "
                             f"{_rank_fix(layer, shape)}")
        if layer.ids:
            params = {**params, "_vocab": vocab}
        try:
            module, shape = layer.build(params, shape)
        except LayerError as exc:
            raise LayerError(f"{where}: {exc}") from None
        modules.append(module)
    return modules, shape


def _rank_fix(layer: Layer, shape: Shape) -> str:
    if layer.ranks == (3,):
        return "it needs an image input (inputs = [\"image\"]) before any flatten"
    if layer.ranks == (2,):
        return "it needs a sequence of vectors: put it after an embedding (or a gru/lstm with return_sequences = true)"
    if len(shape.dims) > 1:
        return 'add { type = "flatten" } or { type = "global_avgpool" } before it'
    return "check the layers before it"


class SequentialNet(nn.Module):
    """A layer list on one input: the table (embedded), an image or token ids; then the output layer."""

    def __init__(self, spec: InputSpec, tables: list, n_out: int):
        super().__init__()
        self.table = TableInput(spec) if spec.kind == "table" else None
        if self.table is not None:
            shape = Shape((self.table.out_features,), label="(table columns,)")
        elif spec.kind == "sequence":
            shape = Shape(tuple(spec.shape), ids=True)
        else:
            shape = Shape(tuple(spec.shape))
        modules, shape = build_layers(tables, shape, vocab=spec.vocab)
        if shape.ids or len(shape.dims) != 1:
            raise LayerError(f"layers: they end with shape {shape} per row; the output layer needs a vector: end with "
                             f'{{ type = "flatten" }}, {{ type = "global_avgpool" }} or {{ type = "attention" }} '
                             f"(the output layer is added for you)")
        self.body = nn.ModuleList(modules)
        self.head = nn.Linear(shape.dims[0], n_out)

    def forward(self, *tensors):
        x = self.table(*tensors) if self.table is not None else tensors[0]
        mask = None
        for module in self.body:
            if getattr(module, "takes_mask", False):
                x, mask = module(x, mask)
            else:
                x = module(x)
        return self.head(x)
