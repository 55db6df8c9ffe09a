"""A recurrent net with attention for padded token sequences, optionally joined with the feature table.

token ids -> embedding (id 0 = padding) -> dropout -> bidirectional GRU or LSTM over the real steps
only (packed) -> attention pooling (a learned query scores every step, softmax over the real steps,
padding weighted 0) -> [concatenated with the embedded feature table] -> dense head -> outputs.
`attention(ids)` returns the weights per input position, to see which words a prediction rests on.
"""

from __future__ import annotations

import torch
from torch import nn

from models.layers import AttentionPool, InputSpec, MaskedEmbedding, RNNEncoder, TableInput, left_align


class AttentionRNN(nn.Module):
    """forward(*tensors) with the tensors of `inputs` in order: token ids (n, L), and the table's
    (numeric, codes) when the table is one of the inputs."""

    def __init__(self, inputs: list[InputSpec], n_out: int, *, embedding_dim: int = 64, units: int = 64,
                 cell: str = "gru", bidirectional: bool = True, layers: int = 1, attention_units: int = 0,
                 dropout: float = 0.2, head_units: int = 64):
        super().__init__()
        self.kinds = [spec.kind for spec in inputs]
        seq = inputs[self.kinds.index("sequence")]
        table = inputs[self.kinds.index("table")] if "table" in self.kinds else None
        self.embed = MaskedEmbedding(seq.vocab, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.encoder = RNNEncoder(embedding_dim, units, cell=cell, bidirectional=bidirectional, layers=layers,
                                  dropout=dropout)
        self.pool = AttentionPool(self.encoder.out_features, attention_units)
        self.table = TableInput(table) if table is not None else None
        width = self.pool.out_features + (self.table.out_features if self.table is not None else 0)
        self.head = (nn.Sequential(nn.Linear(width, head_units), nn.ReLU(), nn.Dropout(dropout),
                                   nn.Linear(head_units, n_out)) if head_units else nn.Linear(width, n_out))

    def _split(self, tensors):
        """(ids, (numeric, codes) or None) from the flat forward arguments."""
        ids, table, i = None, None, 0
        for kind in self.kinds:
            if kind == "table":
                table, i = (tensors[i], tensors[i + 1]), i + 2
            else:
                ids, i = tensors[i], i + 1
        return ids, table

    def _encode(self, ids):
        ids, mask, positions = left_align(ids, ids != 0)  # real tokens first, trimmed to the longest row
        x, mask = self.embed(ids)
        h, mask = self.encoder(self.dropout(x), mask)
        return h, mask, positions

    def forward(self, *tensors):
        ids, table = self._split(tensors)
        h, mask, _ = self._encode(ids)
        pooled, _ = self.pool(h, mask)
        if self.table is not None:
            pooled = torch.cat([pooled, self.table(*table)], dim=1)
        return self.head(pooled)

    def attention(self, ids):
        """(n, L) attention weights at the positions of `ids`: 1 in sum over a row's tokens, 0 on padding."""
        h, mask, positions = self._encode(ids)
        weights = self.pool.weights(h, mask)
        out = torch.zeros(ids.shape, dtype=weights.dtype, device=weights.device)
        return out.scatter(1, positions[:, : weights.shape[1]], weights)
