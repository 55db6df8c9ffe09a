"""A workspace is any folder with a `competition/` subfolder; this finds it and its competitions."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.config import Competition, load_competition, read_toml
from core.errors import UserError, did_you_mean

# A competition name: one folder under competition/ (never a path out of it).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
LOCK_FILE = ".lock"


class Workspace:
    """The workspace root: `competition/<name>/` definitions and `submissions/<name>/` outputs."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root if root is not None else Path.cwd()).resolve()
        if not (self.root / "competition").is_dir():
            raise UserError(f"{self.root}: not a workspace (no competition/ folder); cd into one, pass "
                            f"--root DIR, or create one with `python -m pipeline init NAME ...`")

    @property
    def competitions_dir(self) -> Path:
        return self.root / "competition"

    def names(self) -> list[str]:
        """Competition names: folders of competition/ holding a competition.toml."""
        return sorted(p.name for p in self.competitions_dir.iterdir()
                      if p.is_dir() and (p / "competition.toml").is_file())

    def default_name(self) -> str:
        """The competition to use when none is named: the only one, or `default` in pipeline.toml."""
        names = self.names()
        settings = self.root / "pipeline.toml"
        if settings.is_file():
            default = read_toml(settings).get("default_competition")
            if default:
                if not isinstance(default, str):
                    raise UserError(f"{settings}: default_competition must be a string (a competition "
                                    f"name), got {type(default).__name__}")
                return default
        if len(names) == 1:
            return names[0]
        if not names:
            raise UserError(f"{self.competitions_dir}: no competitions yet; create one with "
                            f"`python -m pipeline init NAME --train F --test F --sample-submission F`")
        raise UserError(f"several competitions ({', '.join(names)}): pass --competition NAME "
                        f"or set default_competition in {settings}")

    def competition(self, name: str | None = None) -> Competition:
        """Load and validate a competition by name (default: see `default_name`)."""
        name = name or self.default_name()
        if not NAME.fullmatch(name):
            raise UserError(f"competition name {name[:80]!r} must be a folder name under {self.competitions_dir} "
                            f"(letters, digits, '_', '-' or '.', no '/' or '..'); pass --competition NAME")
        path = self.competitions_dir / name
        if not (path / "competition.toml").is_file():
            names = self.names()
            raise UserError(f"no competition {name!r} in {self.competitions_dir}"
                            f"{did_you_mean(name, names) if names else ''}")
        return load_competition(path)


def log(message: str) -> None:
    """Progress output: stderr, flushed, so stdout stays for results (above any open progress bar)."""
    from core.progress import echo

    echo(message, sys.stderr)


@contextlib.contextmanager
def competition_lock(comp: Competition, log: Callable[[str], None] = log) -> Iterator[None]:
    """Hold the competition's lock (competition/<name>/.lock) while the block writes to it: a second
    run, import or tune of the same competition waits, saying so, and goes on once the first is done.
    The lock is the operating system's (filelock: flock), so a killed process never leaves it held."""
    from filelock import FileLock, Timeout

    lock = FileLock(comp.root / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"[lock] competition {comp.name!r} is in use by another run, import or tune in {comp.workspace}; "
            f"waiting for it to finish (Ctrl-C to give up)")
        t0 = time.perf_counter()
        lock.acquire()
        log(f"[lock] acquired after {time.perf_counter() - t0:.1f}s")
    try:
        yield
    finally:
        lock.release()
