"""Atomic writes (a temp file or folder renamed into place), content hashing for the stage cache, and what a
CSV header that did not split says."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib  # noqa: F401  (re-exported: the one TOML reader, `from core.io import tomllib`)
else:  # pragma: no cover
    import tomli as tomllib  # noqa: F401


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put back at once
    os.umask(mask)
    return mask


# The process's umask, read once at import (reading it sets it, which is not thread-safe later on).
UMASK = _read_umask()


def temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty folder in `parent` with the permissions a plain `mkdir` would give (tempfile makes
    them 0700, so a folder renamed into place would be private whatever the user's umask)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    os.chmod(tmp, 0o777 & ~UMASK)
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds. The file gets
    the permissions of a plainly created one (0666 less the umask), not tempfile's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~UMASK)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temp folder beside `path`; on success it replaces `path` whole, else it vanishes. The
    folder gets a plain `mkdir`'s permissions (0777 less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(path.parent, f".{path.name}.")
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write text (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically, indented and key-sorted so diffs stay readable."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def separator_hint(columns: list[str]) -> str:
    """What a header of one column holding ';', a tab or '|' says (a spreadsheet's CSV with another
    separator), else ''."""
    separator = next((sep for sep in (";", "\t", "|") if len(columns) == 1 and sep in str(columns[0])), None)
    return f"the file has 1 column: its fields look separated by {separator!r}; save it comma-separated" \
        if separator else ""


def write_parquet(path: str | os.PathLike, frame) -> None:
    """Write a DataFrame to parquet atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a DataFrame to CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def hash_bytes(*parts: bytes | str) -> str:
    """SHA-256 hex digest of the given parts, length-prefixed so boundaries count."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def hash_obj(obj: Any) -> str:
    """Digest of a JSON-serialisable object (key order does not matter)."""
    return hash_bytes(json.dumps(obj, sort_keys=True, default=_json_default))


def hash_file(path: str | os.PathLike, *, memo: dict | None = None) -> str:
    """SHA-256 of a file's content; `memo` maps path -> [size, mtime_ns, digest] to skip re-reading."""
    path = Path(path)
    st = path.stat()
    key = str(path.resolve())
    if memo is not None:
        hit = memo.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if memo is not None:
        memo[key] = [st.st_size, st.st_mtime_ns, digest]
    return digest


def hash_tree(paths: list[Path], *, memo: dict | None = None) -> str:
    """Digest over several files (or every file under folders), by relative name and content."""
    parts: list[str] = []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
            for f in files:
                if "__pycache__" in f.parts:
                    continue
                parts.append(f"{f.relative_to(root)}:{hash_file(f, memo=memo)}")
        elif root.is_file():
            parts.append(f"{root.name}:{hash_file(root, memo=memo)}")
        else:
            parts.append(f"{root.name}:absent")
    return hash_bytes(*parts)
