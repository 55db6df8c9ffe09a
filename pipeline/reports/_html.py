"""Page, table and figure helpers for the HTML reports: one self-contained file, figures inline as PNG.

Figures are drawn with matplotlib's object API (`matplotlib.figure.Figure`, rendered by Agg), never
through pyplot, so a report changes no global backend and leaks no open figures."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

TRAIN_COLOR = "#3b75af"
TEST_COLOR = "#ef8636"
PALETTE = ("#3b75af", "#ef8636", "#519e3e", "#c53a32", "#8d69b8", "#84584e", "#d57dbf", "#7f7f7f",
           "#bcbd22", "#17becf")
DPI = 96

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330;
font-size:14px;line-height:1.45}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c8cdd8}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde1e8;padding:8px 28px;z-index:2}
nav a{margin-right:16px;color:#3b5fa0;text-decoration:none;font-weight:500}
main{padding:16px 28px;max-width:1400px}
section{scroll-margin-top:48px;background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:14px 20px;
margin:0 0 18px}
section h2{margin:0 0 10px;font-size:18px}section h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #e6e9ef;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f6;font-weight:600}
.scroll th{position:sticky;top:0;z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:520px;overflow:auto;display:inline-block;max-width:100%;vertical-align:top}
img{max-width:100%;height:auto}
.cards{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.card{border:1px solid #e6e9ef;border-radius:4px;padding:6px;background:#fcfcfd}
.card .cap{font-size:12px;color:#555;margin:0 0 2px 4px}
.note{color:#5a6170}.muted{color:#8a90a0}
ul.warn{margin:4px 0;padding-left:20px}ul.warn li{margin:3px 0}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;margin-right:6px}
.bad{background:#fbe3e1;color:#a1261b}.ok{background:#e2f2e2;color:#25682a}.info{background:#e8eef9;color:#2d4d8a}
.big{font-size:22px;font-weight:600}
"""


@dataclass(frozen=True)
class Section:
    """One part of a page: an anchor, a heading and its HTML body."""

    key: str
    title: str
    body: str


def esc(value: Any) -> str:
    """Text escaped for HTML."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 4) -> str:
    """A number for a table cell: fixed digits for floats, thousands separators for ints, '-' for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:.3g}"
    return str(value)


def pct(share: float | None, digits: int = 1) -> str:
    """A share (0..1) as a percentage."""
    return "-" if share is None else f"{100 * share:.{digits}f}%"


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page: header, a navigation bar linking the sections, the sections."""
    nav = "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>\n{s.body}\n</section>'
                     for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>\n<nav>{nav}</nav>\n"
            f"<main>\n{body}\n</main></body></html>\n")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = (),
          scroll: bool = False, raw: Sequence[int] = ()) -> str:
    """An HTML table; columns in `numeric` are right-aligned, cells in `raw` columns are HTML already."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell if i in raw else esc(cell)
            cells.append(f'<td class="num">{text}</td>' if i in numeric else f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


def bullet_list(items: Iterable[str], css: str = "warn") -> str:
    """A list of HTML items (already escaped)."""
    return f'<ul class="{css}">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def para(text: str, css: str = "") -> str:
    """A paragraph of HTML (already escaped)."""
    return f'<p class="{css}">{text}</p>' if css else f"<p>{text}</p>"


def figure(width: float, height: float, *, rows: int = 1, cols: int = 1, **kwargs: Any):
    """A matplotlib Figure (Agg, no pyplot) and its axes: one Axes, or an array for a grid."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, **kwargs)
    return fig, axes


def image(fig, alt: str, *, tight: bool = False) -> str:
    """The figure as an inline PNG <img> (base64 data URI); `tight` trims to what is drawn (a second
    layout pass: for figures whose labels the layout engine leaves outside, such as heatmaps)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, **({"bbox_inches": "tight", "pad_inches": 0.08} if tight else {}))
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def card(caption: str, body: str) -> str:
    """A small captioned box for a grid of figures."""
    return f'<div class="card"><div class="cap">{caption}</div>{body}</div>'


def cards(items: Iterable[str]) -> str:
    """A wrapping grid of cards."""
    return '<div class="cards">' + "".join(items) + "</div>"


def row(items: Iterable[str]) -> str:
    """Blocks (tables, figures) side by side, wrapping on narrow screens."""
    return '<div class="row">' + "".join(f"<div>{i}</div>" for i in items) + "</div>"


def heading(text: str) -> str:
    """A sub-heading inside a section."""
    return f"<h3>{esc(text)}</h3>"


def style_axes(ax, *, grid_axis: str = "y") -> None:
    """The reports' axes look: no top/right spines, a light grid, small tick labels."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis=grid_axis, color="#e3e6ec", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def short(label: Any, width: int = 18) -> str:
    """A label cut to `width` characters (with an ellipsis), for axis ticks."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def heatmap(ax, matrix, labels: Sequence[str], *, vmin: float = -1.0, vmax: float = 1.0,
            cmap: str = "RdBu_r", annotate: bool = True) -> Any:
    """A labelled square heatmap (correlations), values written in the cells when few (white on dark cells)."""
    import numpy as np
    from matplotlib import colormaps

    m = np.asarray(matrix, dtype=float)
    colors = colormaps[cmap]
    im = ax.imshow(m, vmin=vmin, vmax=vmax, cmap=cmap)
    n = len(labels)
    ax.set_xticks(range(n), [short(x, 14) for x in labels], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), [short(x, 18) for x in labels], fontsize=8)
    if annotate and n <= 14:
        for i in range(n):
            for j in range(n):
                if np.isfinite(m[i, j]):
                    r, g, b, _ = colors((m[i, j] - vmin) / ((vmax - vmin) or 1.0))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
    return im
