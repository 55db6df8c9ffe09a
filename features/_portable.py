"""Block states as plain files: one JSON tree plus one .npy file per numpy array, never pickle.

A state is a tree of JSON values (dict with str keys, list, str, int, float, bool, None) and numpy
arrays of any dtype but object. Tuples come back as lists, numpy scalars as Python numbers, NaN and
infinities as floats. `write_state` stores one in a folder and returns each file's SHA-256;
`read_state` reads it back (checking those digests when given). The block cache and the saved
states folder (features._states) both store states this way.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import io as _io

STATE_FILE = "state.json"
_ARRAY, _FLOAT = "__array__", "__float__"
FORMAT = 1


@dataclass(frozen=True)
class Unportable:
    """A block that has no saved state: `reason` says why (one line) and how to give it one."""

    reason: str


class StateError(ValueError):
    """A state that cannot be stored: the message names the offending value's place in the tree."""


def encode(state: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """(JSON tree with array references, {reference: array}); StateError for what cannot be stored."""
    arrays: dict[str, np.ndarray] = {}

    def walk(obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise StateError(f"{where} is a numpy array of Python objects (dtype object)")
            name = f"a{len(arrays)}"
            arrays[name] = obj
            return {_ARRAY: name}
        if isinstance(obj, np.generic):
            obj = obj.item()
            if not isinstance(obj, (bool, int, float, str)):
                raise StateError(f"{where} is a numpy scalar of type {type(obj).__name__}")
            return walk(obj, where)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {_FLOAT: repr(float(obj))}
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise StateError(f"{where} has a key {key!r} that is not a string")
                out[key] = walk(value, f"{where}[{key!r}]")
            if len(out) == 1 and next(iter(out)) in (_ARRAY, _FLOAT):
                raise StateError(f"{where} uses the reserved key {next(iter(out))!r}")
            return out
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        raise StateError(f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}")

    return walk(state, "state"), arrays


def decode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The state from `encode`'s tree and arrays."""
    if isinstance(tree, list):
        return [decode(v, arrays) for v in tree]
    if isinstance(tree, dict):
        if len(tree) == 1 and _ARRAY in tree:
            return arrays[tree[_ARRAY]]
        if len(tree) == 1 and _FLOAT in tree:
            return float(tree[_FLOAT])
        return {k: decode(v, arrays) for k, v in tree.items()}
    return tree


def portable(state: Any) -> str | None:
    """Why `state` cannot be stored (one line), or None when it can."""
    try:
        encode(state)
    except StateError as err:
        return str(err)
    return None


def write_state(folder: Path, state: Any) -> dict[str, str]:
    """Store `state` in `folder` (state.json + <ref>.npy, no pickle); {file name: SHA-256}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tree, arrays = encode(state)
    data = json.dumps({"format": FORMAT, "state": tree}, allow_nan=False).encode("utf-8")  # key order kept
    (folder / STATE_FILE).write_bytes(data)
    digests = {STATE_FILE: hashlib.sha256(data).hexdigest()}
    for name, arr in arrays.items():
        path = folder / f"{name}.npy"
        with open(path, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr) if arr.ndim else arr, allow_pickle=False)
        digests[path.name] = _digest(path)
    return digests


def read_state(folder: Path, digests: dict[str, str] | None = None) -> Any:
    """The state stored by `write_state`; ValueError when a file is missing, altered (against
    `digests`, when given) or not a state."""
    folder = Path(folder)
    if digests is not None:
        for name, digest in digests.items():
            path = folder / name
            if not path.is_file():
                raise ValueError(f"{path} is missing")
            if _digest(path) != digest:
                raise ValueError(f"{path} does not match the digest recorded when it was saved")
    try:
        doc = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        tree = doc["state"]
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown state format {doc.get('format')!r}")
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{folder / STATE_FILE} is not a block state ({err})") from None
    arrays = {}
    for name in _references(tree):
        try:
            arrays[name] = np.load(folder / f"{name}.npy", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"{folder / name}.npy cannot be read without pickle ({err})") from None
    return decode(tree, arrays)


def _references(tree: Any) -> list[str]:
    if isinstance(tree, list):
        return [r for v in tree for r in _references(v)]
    if isinstance(tree, dict):
        if len(tree) == 1 and _ARRAY in tree:
            name = tree[_ARRAY]
            if not isinstance(name, str) or not name.isalnum():
                raise ValueError(f"bad array reference {name!r}")
            return [name]
        return [r for v in tree.values() for r in _references(v)]
    return []


def _digest(path: Path) -> str:
    return _io.hash_file(path)  # plain SHA-256 of the content (`sha256sum` gives the same)
