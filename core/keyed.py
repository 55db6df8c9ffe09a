"""Keyed on-disk entries: one folder per content key, written whole or not at all, the newest kept.

The feature-block cache (features/_cache.py) and the data snapshots (pipeline/data.py) store their
entries through `KeyedFolders`: the folder is filled under a temporary name and renamed into place
(a crash or Ctrl-C leaves no half-written entry), its `meta.json` records the full key (a folder
named by a key prefix is checked against it), reading an entry marks it used, and only the newest
`keep` entries stay. The runner's state store keeps one JSON file per stage, written atomically by
core.io the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core import io as _io

META = "meta.json"


class KeyedFolders:
    """Entries under `root`, one folder per key (named by its first 32 characters)."""

    def __init__(self, root: str | os.PathLike, *, keep: int):
        self.root = Path(root)
        self.keep = keep

    def path(self, key: str) -> Path:
        """The folder of one entry."""
        return self.root / key[:32]

    def meta(self, key: str) -> dict[str, Any] | None:
        """The entry's meta.json when it exists and holds this exact key (marked as used), else None."""
        meta_path = self.path(key) / META
        try:
            meta = _io.read_json(meta_path)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        with contextlib.suppress(OSError):
            os.utime(meta_path)  # recently used: survives pruning
        return meta

    @contextlib.contextmanager
    def writing(self, key: str, meta: dict[str, Any] | None = None) -> Iterator[Path]:
        """A temporary folder to fill; on a clean exit it gets meta.json (with the key) and is renamed
        into place, then old entries are pruned; on an exception it is removed. An entry another process
        stored meanwhile is kept."""
        final = self.path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = _io.temp_dir(self.root, ".tmp-")
        try:
            yield tmp
            _io.write_json(tmp / META, {"key": key, **(meta or {})})
            if final.exists():  # a damaged entry (its read failed): replace it
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not (final / META).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.prune()

    def prune(self) -> None:
        """Remove all but the `keep` most recently used entries."""
        try:
            entries = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return
        if len(entries) <= self.keep:
            return

        def used(p: Path) -> float:
            try:
                return (p / META).stat().st_mtime
            except OSError:
                return 0.0

        for old in sorted(entries, key=used)[: len(entries) - self.keep]:
            shutil.rmtree(old, ignore_errors=True)
