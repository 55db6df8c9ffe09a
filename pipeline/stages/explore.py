"""Explore stage: an EDA report (runs/explore/report.md + summary.json) to read before modelling.

Covers shapes, column types, missing values, cardinality, the target's distribution, and
train/test drift per column (a quick check of whether test looks like train)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import io as _io
from pipeline.graph import StageContext


def summarize(train, test, *, target: str, id_col: str) -> dict:
    """Per-column facts and the target's distribution as a JSON-ready dict."""
    import pandas as pd

    cols = []
    for c in train.columns:
        if c in (target, id_col):
            continue
        a = train[c]
        b = test[c] if c in test.columns else None
        numeric = pd.api.types.is_numeric_dtype(a)
        row = {"column": c, "dtype": str(a.dtype), "missing_train": float(a.isna().mean()),
               "missing_test": float(b.isna().mean()) if b is not None else None,
               "unique": int(a.nunique())}
        if numeric and b is not None and pd.api.types.is_numeric_dtype(b):
            row.update(mean=float(a.mean()), std=float(a.std()), min=float(a.min()), max=float(a.max()))
            row["drift"] = _ks(a.dropna().to_numpy(float), b.dropna().to_numpy(float))
        elif b is not None:
            seen = set(a.dropna().astype(str))
            row["unseen_in_test"] = float((~b.dropna().astype(str).isin(seen)).mean()) if b.notna().any() else 0.0
            row["top"] = a.astype(str).value_counts().head(3).to_dict()
        cols.append(row)
    t = train[target]
    if pd.api.types.is_numeric_dtype(t) and t.nunique() > 20:
        target_info = {"kind": "numeric", "mean": float(t.mean()), "std": float(t.std()),
                       "min": float(t.min()), "max": float(t.max()), "skew": float(t.skew())}
    else:
        target_info = {"kind": "classes", "counts": {str(k): int(v) for k, v in t.value_counts().items()}}
    return {"train_shape": list(train.shape), "test_shape": list(test.shape), "target": target_info,
            "columns": cols}


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (0 = same distribution, 1 = disjoint)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    grid = np.union1d(a, b)
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(ca - cb)))


def render(summary: dict, name: str) -> str:
    """The summary as a Markdown report."""
    lines = [f"# EDA: {name}", "",
             f"train {summary['train_shape'][0]} x {summary['train_shape'][1]}, "
             f"test {summary['test_shape'][0]} x {summary['test_shape'][1]}", "", "## Target", ""]
    tgt = summary["target"]
    lines += [f"- {k}: {v}" for k, v in tgt.items() if k != "kind"]
    lines += ["", "## Columns", "", "| column | dtype | unique | missing train | missing test | drift / unseen |",
              "|---|---|---|---|---|---|"]
    for c in summary["columns"]:
        shift = c.get("drift", c.get("unseen_in_test"))
        lines.append(f"| {c['column']} | {c['dtype']} | {c['unique']} | {c['missing_train']:.1%} | "
                     f"{(c['missing_test'] or 0):.1%} | {'' if shift is None else f'{shift:.3f}'} |")
    return "\n".join(lines) + "\n"


def run(ctx: StageContext) -> list[Path]:
    train, test, _ = ctx.data()
    summary = summarize(train, test, target=ctx.comp.target, id_col=ctx.comp.id_col)
    out = ctx.runs / "explore"
    _io.write_json(out / "summary.json", summary)
    _io.write_text(out / "report.md", render(summary, ctx.comp.name))
    drifted = [c["column"] for c in summary["columns"] if c.get("drift", 0) > 0.1]
    ctx.log(f"[explore] report at {out / 'report.md'}" + (f"; drift in {', '.join(drifted)}" if drifted else ""))
    return [out / "summary.json", out / "report.md"]
