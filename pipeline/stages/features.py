"""Features stage: build the feature matrices (runs/features/train.parquet, test.parquet, *.npy) and
save the blocks' states (runs/features/states/: `features.FrozenFeatures` turns new rows into the
run's X_test columns with them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import fingerprint
from core import io as _io
from pipeline.artifacts import FEATURE_STATES_DIR as STATES_DIR, FEATURES_DIR, FEATURES_MANIFEST as MANIFEST
from pipeline.context import StageContext



def run(ctx: StageContext) -> list[Path]:
    from pipeline import data as _data

    comp = ctx.comp
    digest = _data.data_digest(comp)
    out = comp.runs / FEATURES_DIR
    from features import plan_features, save_states

    train, test, _ = ctx.data()
    weight = [comp.weight_col] if comp.weight_col else []  # per-row sample weights: never a feature
    drop = set(ctx.cfg["features"]["drop"]) | {comp.id_col, *comp.target_columns, *weight}
    for column in (c for c in train.columns if c not in test.columns and c not in drop):
        ctx.log(f"[features] column {column!r} is in train but not in test, so it is not a feature "
                f"(list it in features.drop to silence this)")
    plugin = comp.root / "features.py"

    def plan_for(repeat: int, train=train, test=test):
        return plan_features(
            # a multi-target task's supervised blocks (target encoding) fit once per target column
            train, test, id_col=comp.id_col, target=comp.target, task=ctx.task_info().column(),
            folds=ctx.folds(repeat),
            blocks=ctx.cfg["features"]["blocks"], drop=[*ctx.cfg["features"]["drop"], *weight],
            cache_dir=comp.runs / "cache" / "features", plugin_file=plugin if plugin.exists() else None,
            log=ctx.log if not repeat else (  # a later CV repeat's lines say which repeat they are
                lambda line: ctx.log(line.replace("[features] ", f"[features] CV repeat {repeat + 1}: ", 1))),
            threads=ctx.threads(), seed=ctx.cfg["cv"]["seed"], data_digest=digest,
            train_from=ctx.train_from(),
        )

    plan = plan_for(0)
    # supervised blocks encode train rows out of fold: each CV repeat (other folds) gets its own train matrix
    repeats = [plan_for(r) for r in range(1, ctx.repeats())] if any(b.supervised for b in plan.blocks) else []
    written = _written_digest(plan.digest, *(p.digest for p in repeats))
    blocks = [block.describe() for block in plan.blocks]
    paths = _unchanged_outputs(out, written)
    if paths is not None:  # every block's key equals the one these files were written from
        for block in plan.blocks:
            ctx.log(f"[features] {block.describe()}: unchanged")
        ctx.log(f"[features] outputs unchanged ({len(paths)} files), not rewritten")
        _write_manifest(out, written, paths, blocks)
        return paths
    fs = plan.build()
    repeat_trains = [plan_r.build().train for plan_r in repeats]
    # the raw tables are no longer needed: their mapped pages leave memory before the matrices are written
    del plan, repeats, plan_for, train, test
    ctx.release_data()
    if fs.train.shape[1] == 0 and not fs.arrays:
        from core.errors import UserError

        raise UserError(f"{comp.config_path}: no feature columns left (features.drop and features.blocks leave "
                        f"none of the columns train and test share); keep at least one column")
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    paths = [out / "train.parquet", out / "test.parquet"]
    _io.write_parquet(paths[0], fs.train)
    _io.write_parquet(paths[1], fs.test)
    for r, train_r in enumerate(repeat_trains, start=1):  # each CV repeat's own out-of-fold encodings
        paths.append(out / f"train.repeat{r}.parquet")
        _io.write_parquet(paths[-1], train_r)
    del repeat_trains
    for name, (tr, te) in sorted(fs.arrays.items()):
        for part, arr in (("train", tr), ("test", te)):
            path = out / f"{name}.{part}.npy"
            with _io.atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, arr)
            paths.append(path)
    states = save_states(fs, out / STATES_DIR)
    paths += sorted(p for p in states.rglob("*") if p.is_file())
    _remove_others(out, paths)
    _write_manifest(out, written, paths, blocks)
    ctx.log(f"[features] {fs.train.shape[1]} columns, {len(fs.arrays)} array input(s), states in {states}")
    _warn_separable(ctx, fs.train, fs.test)
    return paths


def _warn_separable(ctx: StageContext, train, test) -> None:
    """One line per feature whose values alone tell test rows from train rows (features.separable_columns)."""
    from features import separable_columns

    for column, auc in separable_columns(train, test, seed=ctx.cfg["cv"]["seed"]):
        ctx.log(f"[features] warning: {column!r} separates test rows from train rows (AUC {auc:.2f}): the models "
                f"may split on values the test never has and the OOF score cannot show it; drop its source "
                f"column (features.drop) or change the block, unless the split is by time")


def _written_digest(*plan_digests: str) -> str:
    """The outputs' identity: the blocks' keys (in the plan digests, one per CV repeat with its own
    matrix), this writer's code, the library versions."""
    import pandas as pd
    import pyarrow

    return _io.hash_bytes(*plan_digests, fingerprint.shared().module(__name__), pd.__version__, pyarrow.__version__)


def _write_manifest(out: Path, written: str, paths: list[Path], blocks: list[str]) -> None:
    """The outputs' digest and (size, mtime_ns) by path under `out`, and the blocks that made them
    (name(columns), read by pipeline.artifacts.feature_blocks into each run's params.json)."""
    _io.write_json(out / MANIFEST, {"digest": written,
                                    "files": {p.relative_to(out).as_posix(): _stat(p) for p in paths},
                                    "blocks": blocks})


def _manifest(out: Path) -> dict:
    try:
        manifest = _io.read_json(out / MANIFEST)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _unchanged_outputs(out: Path, digest: str) -> list[Path] | None:
    """The output files when the manifest names this digest and none was touched since."""
    manifest = _manifest(out)
    try:
        if manifest.get("digest") != digest:
            return None
        files = manifest["files"]
        paths = [out / name for name in files]
        if any(_stat(out / name) != stat for name, stat in files.items()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    _remove_others(out, paths)
    return paths


def _remove_others(out: Path, paths: list[Path]) -> None:
    keep = {p.name for p in paths} | {MANIFEST}
    for old in out.iterdir():  # arrays from an earlier configuration
        if old.is_file() and old.name not in keep:
            old.unlink()
