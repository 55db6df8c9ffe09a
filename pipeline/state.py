"""The runner's recorded state: fingerprints and output digests, one JSON file per stage under runs/.state/."""

from __future__ import annotations

import json

from pathlib import Path

from core import io as _io


class StateStore:
    """Recorded fingerprints and output digests, one JSON file per stage under runs/.state/."""

    def __init__(self, runs: Path):
        self.dir = Path(runs) / ".state"

    def load(self, stage: str) -> dict:
        path = self.dir / f"{stage}.json"
        if not path.exists():
            return {}
        try:
            return _io.read_json(path)
        except ValueError:
            return {}

    def save(self, stage: str, state: dict) -> None:
        _io.write_json(self.dir / f"{stage}.json", state)

    def load_memo(self) -> dict:
        path = self.dir / "hash-memo.json"
        try:
            return _io.read_json(path) if path.exists() else {}
        except ValueError:
            return {}

    def save_memo(self, memo: dict) -> None:
        _io.write_json(self.dir / "hash-memo.json", memo)

    def load_code_memo(self) -> dict:
        """What each project source file imports and uses (`code_inputs`), by (size, mtime)."""
        path = self.dir / "code-memo.json"
        try:
            return _io.read_json(path) if path.exists() else {}
        except ValueError:
            return {}

    def save_code_memo(self, memo: dict) -> None:
        _io.write_text(self.dir / "code-memo.json", json.dumps(memo, separators=(",", ":")))  # compact: fast
