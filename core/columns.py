"""Column naming conventions every layer reads: a pixel grid is recognised by its columns' names."""

from __future__ import annotations

import re

_PIXEL_RE = re.compile(r"^(?:pixel|px|pix)[_\-]?(\d+)(?:[_\-x](\d+))?$", re.IGNORECASE)


def pixel_grid(columns: list[str]) -> tuple[list[str], tuple[int, int, int]] | None:
    """Pixel columns (named like pixel_<r>_<c> or pixel<i>) and their (C, H, W), or None."""
    matches = [(c, _PIXEL_RE.match(c)) for c in columns]
    pix = [(c, m) for c, m in matches if m]
    if len(pix) < 16:
        return None
    cols = [c for c, _ in pix]
    if all(m.group(2) is not None for _, m in pix):
        rows = [int(m.group(1)) for _, m in pix]
        cols_ = [int(m.group(2)) for _, m in pix]
        h, w = max(rows) + 1, max(cols_) + 1
        if h * w == len(pix):
            order = sorted(range(len(pix)), key=lambda i: (rows[i], cols_[i]))
            return [cols[i] for i in order], (1, h, w)
        return None
    n = len(pix)
    order = sorted(range(n), key=lambda i: int(pix[i][1].group(1)))
    for channels in (1, 3):
        side = int(round((n / channels) ** 0.5))
        if channels * side * side == n:
            return [cols[i] for i in order], (channels, side, side)
    return None
