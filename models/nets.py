"""The net registry: every architecture the torch estimator (`models.nn.TorchNet`) can train.

A `NetType` says which inputs the net reads (the feature table, an image array, a token sequence),
its own parameters (checked like every other table), its training defaults (epochs, learning rate,
snapshots, ...) and how to build the torch module from the inputs' `InputSpec`s. Every net is
trained by the one loop in `models/_loop.py` and called as `net(*tensors)`, the tensors of its
inputs in order (the table as two: numeric columns and categorical codes).

| net | model type | inputs |
|---|---|---|
| mlp | `mlp` | the table |
| sequential | `net` with `layers = [...]` | one input: the table, an image or a sequence |
| factory | `net` with `factory = "pkg.mod:function"` | any (default: the table and every array) |
| densenet | `densenet` | one image array (+ nothing else) |
| rnn | `rnn` | one sequence array, optionally the table |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from core.errors import did_you_mean
from core.params import REQUIRED

TABLE = "table"
KIND_HELP = {
    "image": "a pixel-grid image array (the `image` feature block, chosen automatically for columns named "
             "pixel_<row>_<col> or pixel<i>; or { block = \"image\", shape = [C, H, W] } in [features] blocks)",
    "sequence": "a token sequence array (the `text_sequence` feature block, chosen automatically for free-text "
                "columns; or { block = \"text_sequence\", columns = [\"<text column>\"] } in [features] blocks)",
}


def array_kind(array: np.ndarray) -> str:
    """'image' for (n, C, H, W) floats, 'sequence' for (n, L) integers, else 'array'."""
    a = np.asarray(array)
    if a.ndim == 4 and np.issubdtype(a.dtype, np.floating):
        return "image"
    if a.ndim == 2 and np.issubdtype(a.dtype, np.integer):
        return "sequence"
    return "array"


def _one_of(kind: str, net: str, available: dict[str, str]) -> str:
    names = [n for n, k in available.items() if k == kind]
    if not names:
        arrays = ", ".join(f"{n} ({k})" for n, k in available.items() if n != TABLE) or "none"
        raise ValueError(f"net {net!r} needs {KIND_HELP[kind]}; this competition's array inputs: {arrays}")
    if len(names) > 1:
        raise ValueError(f"net {net!r} reads one {kind} array and there are {len(names)} ({', '.join(names)}); "
                         f"choose with inputs = [\"{names[0]}\"]")
    return names[0]


def _only(kinds: tuple[str, ...], net: str, chosen: list[str], available: dict[str, str], *, extra: tuple = ()):
    main = [n for n in chosen if available[n] in kinds]
    others = [n for n in chosen if available[n] not in kinds and available[n] not in extra]
    if len(main) != 1 or others:
        wanted = " or ".join(kinds)
        raise ValueError(f"net {net!r} reads one {wanted} input{' (plus the table)' if extra else ''}; got "
                         f"inputs = {chosen!r} ({', '.join(f'{n}: {available[n]}' for n in chosen) or 'none'})")


def _mlp_inputs(requested: list[str], available: dict[str, str]) -> list[str]:
    if requested and requested != [TABLE]:
        raise ValueError(f"net 'mlp' reads the feature table only; remove inputs = {requested!r} or use type = "
                         f"\"net\" with a factory for array inputs")
    return [TABLE]


def _sequential_inputs(requested: list[str], available: dict[str, str]) -> list[str]:
    chosen = requested or [TABLE]
    if len(chosen) != 1:
        raise ValueError(f"a layer list reads one input, got inputs = {chosen!r}; for several inputs use "
                         f"factory = \"package.module:function\" (the functional style)")
    return chosen


def _factory_inputs(requested: list[str], available: dict[str, str]) -> list[str]:
    return requested or list(available)


def _densenet_inputs(requested: list[str], available: dict[str, str]) -> list[str]:
    chosen = requested or [_one_of("image", "densenet", available)]
    _only(("image",), "densenet", chosen, available)
    return chosen


def _rnn_inputs(requested: list[str], available: dict[str, str]) -> list[str]:
    chosen = requested or [_one_of("sequence", "rnn", available)]
    _only(("sequence",), "rnn", chosen, available, extra=(TABLE,))
    return chosen


def _mlp(inputs, n_out: int, p: dict):
    import torch
    from torch import nn

    from models.layers import Dropout, Heads, PeriodicEmbedding, TableInput

    class MLP(nn.Module):
        """Embedded table [+ its numeric values' periodic embedding] [x a learned weight per input] -> `depth` x
        (Linear(width), SiLU, Dropout) -> Linear(n_out); with `heads` = k > 1,
        TabM-mini (Gorishniy et al. 2024): k copies sharing every hidden weight, each scaling the embedded
        row by its own vector first and with its own output layer (models.layers.Heads)."""

        def __init__(self):
            super().__init__()
            self.table = TableInput(inputs[0], p["embedding_std"])
            size = self.table.out_features
            self.numeric = int(inputs[0].numeric) if int(p["periodic"]) else 0
            self.periodic = (PeriodicEmbedding(self.numeric, int(p["periodic"]), float(p["periodic_sigma"]))
                             if self.numeric else None)
            size += self.periodic.out_features if self.periodic is not None else 0
            self.copies_per_row = int(p["heads"])  # the loop scores each copy on every row (models._loop)
            k = self.copies_per_row
            self.scale = nn.Parameter(Heads.random_signs(k, size)) if k > 1 else None
            # RealMLP's scaling layer: one learned weight per input, stored divided by its learning-rate factor
            # (Adam steps a parameter by about lr whatever its gradient, so x * f * u moves x's weight f times
            # as fast as the layer after it)
            self.front_factor = float(p["front_scale"])
            self.front = nn.Parameter(torch.full((size,), 1.0 / self.front_factor)) if self.front_factor else None
            layers: list[nn.Module] = []
            for _ in range(p["depth"]):
                layers += [nn.Linear(size, p["width"]), nn.SiLU(), Dropout(p["dropout"])]
                size = p["width"]
            layers.append(nn.Linear(size, n_out) if k == 1 else Heads(k, size, n_out))
            self.body = nn.Sequential(*layers)

        def forward(self, dense, codes):
            x = self.table(dense, codes)
            if self.periodic is not None:
                x = torch.cat([x, self.periodic(dense[:, :self.numeric])], dim=1)
            if self.front is not None:
                x = x * (self.front_factor * self.front)
            if self.scale is None:
                return self.body(x)
            return Heads.combine(self.body(x.unsqueeze(1) * self.scale), self.training)

    return MLP()


def _sequential(inputs, n_out: int, p: dict):
    from models.layers import SequentialNet

    return SequentialNet(inputs[0], p["layers"], n_out)


def _factory(inputs, n_out: int, p: dict):
    from torch import nn

    from core.params import import_object

    make = import_object(p["factory"], where="factory")
    module = make({spec.name: spec for spec in inputs}, n_out, **p["options"])
    if not isinstance(module, nn.Module):
        raise ValueError(f"factory {p['factory']!r} returned {type(module).__name__}, not a torch.nn.Module")

    class Keywords(nn.Module):
        """Calls the factory's module with one keyword per input (the table as a (numeric, codes) pair)."""

        def __init__(self):
            super().__init__()
            self.module = module

        def forward(self, *tensors):
            kwargs, i = {}, 0
            for spec in inputs:
                kwargs[spec.name] = tensors[i] if spec.n_tensors == 1 else tuple(tensors[i:i + spec.n_tensors])
                i += spec.n_tensors
            return self.module(**kwargs)

    return Keywords()


def _densenet(inputs, n_out: int, p: dict):
    from models.densenet import DenseNet

    c, h, w = inputs[0].shape
    return DenseNet(c, h, w, n_out, growth_rate=p["growth_rate"], blocks=tuple(p["blocks"]),
                    bottleneck=p["bottleneck"], compression=p["compression"], stem=p["stem"],
                    dropout=p["dropout"], shift=p["shift"], tta=p["tta"])


def _rnn(inputs, n_out: int, p: dict):
    from models.rnn import AttentionRNN

    return AttentionRNN(inputs, n_out, **p)


def _check_dropout(p: dict) -> None:
    if not 0.0 <= float(p["dropout"]) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p['dropout']!r}")


def _check_mlp(p: dict) -> None:
    _check_dropout(p)
    if not float(p["periodic_sigma"]) > 0.0:
        raise ValueError(f"periodic_sigma must be positive, got {p['periodic_sigma']!r}")
    if float(p["front_scale"]) < 0.0:
        raise ValueError(f"front_scale must be 0 (off) or a positive learning-rate factor, got {p['front_scale']!r}")
    if not float(p["embedding_std"]) > 0.0:
        raise ValueError(f"embedding_std must be positive, got {p['embedding_std']!r}")


def _check_densenet(p: dict) -> None:
    _check_dropout(p)
    if not p["blocks"] or not all(isinstance(b, int) and b >= 1 for b in p["blocks"]):
        raise ValueError(f"blocks must list the layers per dense block as positive integers, e.g. [6, 6, 6]; "
                         f"got {p['blocks']!r}")
    if not 0.0 < p["compression"] <= 1.0:
        raise ValueError(f"compression must be in (0, 1], got {p['compression']!r}")


def _check_rnn(p: dict) -> None:
    from models.layers import CELLS

    _check_dropout(p)
    if p["cell"] not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {p['cell']!r}{did_you_mean(p['cell'], tuple(CELLS))}")


@dataclass(frozen=True)
class NetType:
    """An architecture: its inputs, parameters, training defaults and module builder."""

    name: str
    doc: str
    build: Callable[[list, int, dict], Any]  # (input specs, outputs, net parameters) -> torch module
    choose_inputs: Callable[[list[str], dict[str, str]], list[str]]  # (requested, {name: kind}) -> names
    schema: dict = field(default_factory=dict)  # the net's own parameters: key -> (type, default, help)
    loop: dict = field(default_factory=dict)  # training defaults that differ from LOOP_PARAMS'
    check: Callable[[dict], None] = lambda p: None
    bucket: bool = False  # batches of similar sequence length (packed RNNs train faster)
    minimum: dict = field(default_factory=dict)
    max_threads: int = 0  # most CPU threads worth giving one fit (0 = as many as [runtime] threads gives)
    # Parameters whose ranges (schema, minimum, check) admit no net that fails to build: no trial build when
    # the model table is checked, which would import torch in the main process (1.9 s before any fold starts)
    checked_by_range: bool = False


NETS: dict[str, NetType] = {n.name: n for n in [
    NetType("mlp", "MLP on the feature table (embedded categoricals), a snapshot ensemble by default", _mlp,
            _mlp_inputs,
            {"width": (int, 256, "units per hidden layer"), "depth": (int, 2, "hidden layers"),
             "dropout": (float, 0.1, "dropout after each hidden layer"),
             "embedding_std": (float, 1.0, "standard deviation of the categorical embeddings' initial values "
                                          "(1 = torch's N(0, 1))"),
             "heads": (int, 1, "k > 1: TabM-mini, k nets sharing their hidden weights, each with its own input "
                               "scaling and output layer, trained on every row and averaged (1 = one net)"),
             "front_scale": (float, 0.0, "f > 0: a learned weight per input before the first layer, learning f times "
                                         "as fast (RealMLP's scaling layer; 0 = none)"),
             "periodic": (int, 0, "k > 0: each numeric column also enters as 3 learned mixes of cos(2 pi w x + b) over "
                                  "k learned frequencies (RealMLP's PBLD embedding; 0 = none)"),
             "periodic_sigma": (float, 0.1, "standard deviation of the periodic embedding's initial frequencies")},
            {"epochs": 50, "cycles": 5, "snapshots": 5, "drop_last": True}, _check_mlp,
            # One thread: a batch of a few hundred rows times 256 units is too small a product to split.
            # 40,000 x 31 rows, batch 200, 2 epochs, quiet 2-core machine, the pipeline's short OpenMP
            # spin (GOMP_SPINCOUNT=1000): 1 thread 0.62-0.67 s, 2 threads 0.55-0.65 s (1.04-1.13x for a
            # whole second core); with PASSIVE waits 2 threads took 1.1 s.
            minimum={"width": 1, "depth": 1, "heads": 1, "periodic": 0}, max_threads=1, checked_by_range=True),
    NetType("sequential", "a Keras-like layer list on one input", _sequential, _sequential_inputs,
            {"layers": (list, REQUIRED, "layer tables, e.g. [{ type = \"dense\", units = 256 }]")},
            {"epochs": 30}),
    NetType("factory", "a module from `factory(inputs, n_outputs, **options)` (the functional style)",
            _factory, _factory_inputs,
            {"factory": (str, REQUIRED, "import path 'package.module:function'"),
             "options": (dict, {}, "keyword arguments for the factory")}, {"epochs": 30}),
    NetType("densenet", "DenseNet-BC CNN for pixel-grid images", _densenet, _densenet_inputs,
            {"growth_rate": (int, 12, "new feature maps per layer (k)"),
             "blocks": (list, [4, 4, 4], "layers per dense block"),
             "bottleneck": (bool, True, "1x1 convolution to 4k channels before each 3x3 (DenseNet-B)"),
             "compression": (float, 0.5, "transition layers keep this share of channels (DenseNet-C)"),
             "stem": (int, 0, "channels of the first convolution (0 = 2k)"),
             "dropout": (float, 0.0, "dropout after each dense layer"),
             "shift": (int, 1, "training-time random shifts up to this many pixels (0 = off)"),
             "tta": (bool, False, "predictions average the logits of every shift training drew from, (2 shift + 1)^2 "
                                  "views (test-time augmentation; needs shift > 0)")},
            # digits OOF accuracy (5-fold, one thread): 40 epochs, 4 cycles, batch 64, lr 3e-3: 0.9923 in 74 s;
            # batch 128 with lr 6e-3 (lr scaled with the batch), 30 epochs, 3 cycles: 0.9937 in 53 s (same
            # at 24 epochs: 0.9896; batch 64, 30 epochs: 0.9917; growth rate 8: 0.9903)
            # bottleneck = false: 0.70x the time, a quarter more OOF errors over three seeds (2026-12-05)
            # precision auto (bfloat16 steps on this AMX CPU), seeds 0-2: 12, 13, 13 OOF errors against 11-14 in
            # float32, 0.88x the seconds (2026-12-06); the MLP's small products gain nothing from it
            # tta (nine shifted views per prediction): 11, 17, 11 errors, 1.23x the seconds; with 20 epochs 11, 20, 15
            # (2026-12-06); each measured in benchmarks/SUITE.md
            {"epochs": 30, "cycles": 3, "snapshots": 3, "batch_size": 128, "lr": 6e-3, "precision": "auto"},
            _check_densenet,
            minimum={"growth_rate": 1, "stem": 0, "shift": 0}),
    NetType("rnn", "embedding -> bidirectional GRU/LSTM -> attention pooling [+ table] -> head", _rnn, _rnn_inputs,
            {"embedding_dim": (int, 64, "token vector size"), "units": (int, 64, "recurrent units per direction"),
             "cell": (str, "gru", "gru | lstm"), "bidirectional": (bool, True, "read both directions"),
             "layers": (int, 1, "stacked recurrent layers"), "attention_units": (int, 0, "attention hidden size "
                                                                                        "(0 = the RNN's width)"),
             "dropout": (float, 0.2, "dropout on embeddings and in the head"),
             "head_units": (int, 64, "hidden units of the head (0 = linear head)")},
            # fine_foods OOF AUC by (lr, weight_decay): (2e-3, 1e-4) 0.816, (4e-3, 1e-2) 0.824, (6e-3, 1e-2)
            # 0.828, (1e-2, 1e-2) 0.824; 12 epochs instead of 8: +0.002 for 50% more time
            {"epochs": 8, "cycles": 1, "snapshots": 1, "batch_size": 64, "lr": 6e-3, "weight_decay": 1e-2},
            _check_rnn, bucket=True,
            minimum={"embedding_dim": 1, "units": 1, "layers": 1, "attention_units": 0, "head_units": 0}),
]}


def get_net(name: str) -> NetType:
    """The registered net `name` (ValueError listing the choices)."""
    if name not in NETS:
        raise ValueError(f"net {name!r} is not registered{did_you_mean(name, tuple(NETS))}")
    return NETS[name]


def choose_inputs(net: NetType, requested: list[str] | None, available: dict[str, str]) -> list[str]:
    """The input names `net` reads: `requested` checked against `available` ({name: kind}), or the net's
    default choice; ValueError saying what is missing and how to get it."""
    requested = list(requested or [])
    for name in requested:
        if name not in available:
            raise ValueError(f"inputs has {name!r}, which is not an input of this competition"
                             f"{did_you_mean(name, tuple(available))}")
    if len(set(requested)) != len(requested):
        raise ValueError(f"inputs lists a name twice: {requested!r}")
    return net.choose_inputs(requested, available)

