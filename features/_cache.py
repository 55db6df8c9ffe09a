"""Per-block cache: one folder per (block, key) holding feather tables and npy arrays.

    <cache_dir>/<block>/<key>/train.feather, test.feather, <array>.train.npy, <array>.test.npy, meta.json

Feather (Arrow IPC, uncompressed, memory-mapped) reads several times faster than parquet and keeps every dtype,
categories included.

A folder is written under a temporary name and renamed into place, so a crash leaves no
half-written entry. The newest `KEEP_PER_BLOCK` entries of each block name are kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from pyarrow.lib import ArrowException

from features._base import BlockOutput
from core import io as _io

KEEP_PER_BLOCK = 8


def entry_dir(cache_dir: Path, block: str, key: str) -> Path:
    """The folder of one cache entry."""
    return Path(cache_dir) / block / key[:32]


def load(cache_dir: Path, block: str, key: str) -> BlockOutput | None:
    """The cached output, or None when absent or unreadable."""
    import pandas as pd
    from pyarrow import feather

    path = entry_dir(cache_dir, block, key)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = _io.read_json(meta_path)
        if meta.get("key") != key:
            return None
        frames = []
        for part in ("train", "test"):
            if meta["columns"]:
                frames.append(feather.read_table(path / f"{part}.feather", memory_map=True)
                              .to_pandas(split_blocks=True))  # no block consolidation copies
            else:
                frames.append(pd.DataFrame(index=range(meta[f"n_{part}"])))
        arrays = {name: (np.load(path / f"{name}.train.npy"), np.load(path / f"{name}.test.npy"))
                  for name in meta["arrays"]}
    except (OSError, ValueError, KeyError, ArrowException):
        return None
    with contextlib.suppress(OSError):
        os.utime(meta_path)  # recently used: survives pruning
    return BlockOutput(frames[0], frames[1], arrays)


def save(cache_dir: Path, block: str, key: str, out: BlockOutput, *, describe: dict) -> None:
    """Store a block's output atomically (temp folder + rename), then prune old entries."""
    final = entry_dir(cache_dir, block, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _io.temp_dir(final.parent, ".tmp-")
    try:
        columns = list(out.train.columns)
        if columns:
            from pyarrow import feather

            feather.write_feather(out.train, tmp / "train.feather", compression="uncompressed")
            feather.write_feather(out.test, tmp / "test.feather", compression="uncompressed")
        for name, (tr, te) in out.arrays.items():
            np.save(tmp / f"{name}.train.npy", tr)
            np.save(tmp / f"{name}.test.npy", te)
        meta = {"key": key, "block": block, "columns": columns, "arrays": sorted(out.arrays),
                "n_train": len(out.train), "n_test": len(out.test), "created": time.time(), **describe}
        _io.write_json(tmp / "meta.json", meta)
        if final.exists():  # a damaged entry (load failed): replace it
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process stored the same entry meanwhile: keep theirs
            if not (final / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(final.parent)


def _prune(block_dir: Path) -> None:
    entries = [p for p in block_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(entries) <= KEEP_PER_BLOCK:
        return

    def used(p: Path) -> float:
        try:
            return (p / "meta.json").stat().st_mtime
        except OSError:
            return 0.0

    for old in sorted(entries, key=used)[: len(entries) - KEEP_PER_BLOCK]:
        shutil.rmtree(old, ignore_errors=True)
