"""Per-block cache: one folder per (block, key) holding feather tables and npy arrays.

    <cache_dir>/<block>/<key>/train.feather, test.feather, <array>.train.npy, <array>.test.npy, meta.json,
                              state/ (the block's state: state.json + .npy files, features._portable)

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
from features._portable import Unportable, read_state, write_state
from core.keyed import KeyedFolders

KEEP_PER_BLOCK = 8
STATE_DIR = "state"  # in an entry: the block's state (features._portable)


def _entries(cache_dir: Path, block: str) -> KeyedFolders:
    return KeyedFolders(Path(cache_dir) / block, keep=KEEP_PER_BLOCK)


def entry_dir(cache_dir: Path, block: str, key: str) -> Path:
    """The folder of one cache entry."""
    return _entries(cache_dir, block).path(key)


def load(cache_dir: Path, block: str, key: str) -> BlockOutput | None:
    """The cached output with its state, or None when absent, unreadable or written without a state."""
    import pandas as pd
    from pyarrow import feather

    entries = _entries(cache_dir, block)
    meta = entries.meta(key)
    if meta is None or not isinstance(meta.get("state"), dict):  # entries from before states: recompute
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
        reason = meta["state"].get("none")
        state = Unportable(reason) if reason is not None else read_state(path / STATE_DIR, meta["state"]["files"])
    except (OSError, ValueError, KeyError, TypeError, ArrowException):
        return None
    return BlockOutput(frames[0], frames[1], arrays, state=state)


def save(cache_dir: Path, block: str, key: str, out: BlockOutput, *, describe: dict) -> None:
    """Store a block's output and its state (an `Unportable` one: the reason) atomically (temp folder +
    rename), then prune old entries."""
    columns = list(out.train.columns)
    meta = {"block": block, "columns": columns, "arrays": sorted(out.arrays),
            "n_train": len(out.train), "n_test": len(out.test), "created": time.time(), **describe}
    with _entries(cache_dir, block).writing(key, meta) as tmp:
        if isinstance(out.state, Unportable):
            meta["state"] = {"none": out.state.reason}
        else:
            meta["state"] = {"files": write_state(tmp / STATE_DIR, out.state)}
        if columns:
            from pyarrow import feather

            feather.write_feather(out.train, tmp / "train.feather", compression="uncompressed")
            feather.write_feather(out.test, tmp / "test.feather", compression="uncompressed")
        for name, (tr, te) in out.arrays.items():
            np.save(tmp / f"{name}.train.npy", tr)
            np.save(tmp / f"{name}.test.npy", te)
