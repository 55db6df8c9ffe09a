"""Features stage: build the feature matrices (runs/features/train.parquet, test.parquet, *.npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline import _io
from pipeline.graph import StageContext

FEATURES_DIR = "features"


def run(ctx: StageContext) -> list[Path]:
    from features import build_features

    train, test, _ = ctx.data()
    comp = ctx.comp
    plugin = comp.root / "features.py"
    fs = build_features(
        train, test, id_col=comp.id_col, target=comp.target, task=ctx.task_info(), folds=ctx.folds(),
        blocks=ctx.cfg["features"]["blocks"], drop=ctx.cfg["features"]["drop"],
        cache_dir=comp.runs / "cache" / "features", plugin_file=plugin if plugin.exists() else None,
        log=ctx.log, threads=ctx.threads(len(train)), seed=ctx.cfg["cv"]["seed"],
    )
    out = comp.runs / FEATURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "train.parquet", out / "test.parquet"]
    _io.write_parquet(paths[0], fs.train)
    _io.write_parquet(paths[1], fs.test)
    for name, (tr, te) in sorted(fs.arrays.items()):
        for part, arr in (("train", tr), ("test", te)):
            path = out / f"{name}.{part}.npy"
            with _io.atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, arr)
            paths.append(path)
    keep = {p.name for p in paths}
    for old in out.iterdir():  # arrays from an earlier configuration
        if old.is_file() and old.name not in keep:
            old.unlink()
    ctx.log(f"[features] {fs.train.shape[1]} columns, {len(fs.arrays)} array input(s)")
    return paths


def load_features(comp) -> "tuple":
    """(X_train, X_test, arrays) written by the features stage; arrays maps name -> (train, test)."""
    import pandas as pd

    out = comp.runs / FEATURES_DIR
    X_train = pd.read_parquet(out / "train.parquet")
    X_test = pd.read_parquet(out / "test.parquet")
    arrays = {}
    for path in sorted(out.glob("*.train.npy")):
        name = path.name[: -len(".train.npy")]
        arrays[name] = (np.load(path), np.load(out / f"{name}.test.npy"))
    return X_train, X_test, arrays
