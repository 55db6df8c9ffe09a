"""Per-block cache: one folder per (block, key) holding feather tables and npy arrays.

    <cache_dir>/<block>/<key>/train.feather, test.feather, <array>.train.npy, <array>.test.npy, meta.json

Feather (Arrow IPC, uncompressed, memory-mapped) reads several times faster than parquet and keeps every dtype,
categories included.

Entries are core.keyed.KeyedFolders (one per block name): a folder is written under a temporary
name and renamed into place, so a crash leaves no half-written entry, and the newest
`KEEP_PER_BLOCK` entries of each block name are kept.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pyarrow.lib import ArrowException

from features._base import BlockOutput
from core.keyed import KeyedFolders

KEEP_PER_BLOCK = 8


def _entries(cache_dir: Path, block: str) -> KeyedFolders:
    return KeyedFolders(Path(cache_dir) / block, keep=KEEP_PER_BLOCK)


def entry_dir(cache_dir: Path, block: str, key: str) -> Path:
    """The folder of one cache entry."""
    return _entries(cache_dir, block).path(key)


def load(cache_dir: Path, block: str, key: str) -> BlockOutput | None:
    """The cached output, or None when absent or unreadable."""
    import pandas as pd
    from pyarrow import feather

    entries = _entries(cache_dir, block)
    meta = entries.meta(key)
    if meta is None:
        return None
    path = entries.path(key)
    try:
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
    return BlockOutput(frames[0], frames[1], arrays)


def save(cache_dir: Path, block: str, key: str, out: BlockOutput, *, describe: dict) -> None:
    """Store a block's output atomically (temp folder + rename), then prune old entries."""
    columns = list(out.train.columns)
    meta = {"block": block, "columns": columns, "arrays": sorted(out.arrays),
            "n_train": len(out.train), "n_test": len(out.test), "created": time.time(), **describe}
    with _entries(cache_dir, block).writing(key, meta) as tmp:
        if columns:
            from pyarrow import feather

            feather.write_feather(out.train, tmp / "train.feather", compression="uncompressed")
            feather.write_feather(out.test, tmp / "test.feather", compression="uncompressed")
        for name, (tr, te) in out.arrays.items():
            np.save(tmp / f"{name}.train.npy", tr)
            np.save(tmp / f"{name}.test.npy", te)
