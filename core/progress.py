"""Progress of long work (folds, models, trials): a tqdm bar with elapsed time and an estimate on a
terminal, plain lines at most every `interval` seconds otherwise (CI logs, files).

The mode comes from $PIPELINE_PROGRESS: `auto` (default: a bar when the stream is a terminal), `bar`,
`plain` or `off`. While a bar is open, messages go through `echo`, which prints them above the bar
instead of through it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, Callable

ENV = "PIPELINE_PROGRESS"
PLAIN_INTERVAL_S = 10.0  # plain mode: at most one line per this many seconds

_open_bars: list[Any] = []  # tqdm bars now shown (echo writes above them)


def _stream(stream: IO[str] | None) -> IO[str]:
    return stream if stream is not None else sys.stderr


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """A unit of long work with `total` steps; `update()` after each. Use `progress()` to create one."""

    def __init__(self, total: int | None, desc: str, *, unit: str, stream: IO[str]):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.n = 0
        self.start = time.perf_counter()

    def update(self, n: int = 1, note: str = "") -> None:
        """`n` more steps done; `note` (e.g. the last fold's score) is shown beside the count."""
        self.n += n

    def close(self) -> None:
        """The work ended (finished or not)."""

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Plain(Progress):
    """Plain lines: `desc: 3/5 folds, 12s elapsed, about 8s left (note)`, at most one per `interval`."""

    def __init__(self, total: int | None, desc: str, *, unit: str, stream: IO[str], interval: float | None = None):
        super().__init__(total, desc, unit=unit, stream=stream)
        self.interval = PLAIN_INTERVAL_S if interval is None else interval
        self.last = self.start
        self.printed = False

    def update(self, n: int = 1, note: str = "") -> None:
        super().update(n, note)
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last, self.printed = now, True
        elapsed = now - self.start
        count = f"{self.n}/{self.total}" if self.total else str(self.n)
        left = ""
        if self.total and 0 < self.n < self.total:
            left = f", about {_duration(elapsed / self.n * (self.total - self.n))} left"
        print(f"{self.desc}: {count} {self.unit}s, {_duration(elapsed)} elapsed{left}"
              f"{f' ({note})' if note else ''}", file=self.stream, flush=True)


class _Bar(Progress):
    """A tqdm bar (count, elapsed, estimate); it disappears when closed, the log lines stay."""

    def __init__(self, total: int | None, desc: str, *, unit: str, stream: IO[str]):
        from tqdm import tqdm

        super().__init__(total, desc, unit=unit, stream=stream)
        self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=stream, leave=False, dynamic_ncols=True,
                        mininterval=0.2, bar_format="{desc}: {n_fmt}/{total_fmt}{unit} |{bar}| "
                                                    "[{elapsed}<{remaining}]{postfix}")
        _open_bars.append(self.bar)

    def update(self, n: int = 1, note: str = "") -> None:
        super().update(n, note)
        if note:
            self.bar.set_postfix_str(note, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar in _open_bars:
            _open_bars.remove(self.bar)
            self.bar.close()


# Progress modes by name ($PIPELINE_PROGRESS): a registry, so a mode is one entry.
MODES: dict[str, Callable[..., Progress]] = {"bar": _Bar, "plain": _Plain, "off": Progress}


def mode(stream: IO[str] | None = None) -> str:
    """The progress mode for `stream`: $PIPELINE_PROGRESS, or `bar` on a terminal and `plain` elsewhere."""
    chosen = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if chosen in MODES:
        return chosen
    isatty = getattr(_stream(stream), "isatty", None)
    return "bar" if isatty is not None and isatty() else "plain"


def progress(total: int | None, desc: str, *, unit: str = "step", stream: IO[str] | None = None,
             interval: float | None = None) -> Progress:
    """A progress reporter for `total` steps, shown on `stream` (default: stderr) as the mode says.

    `interval` sets the plain mode's seconds between lines (default `PLAIN_INTERVAL_S`)."""
    kind = mode(stream)
    options: dict[str, Any] = {}
    if kind == "plain" and interval is not None:
        options["interval"] = interval
    return MODES[kind](total, desc, unit=unit, stream=_stream(stream), **options)


def track(items: Iterable, desc: str, *, unit: str = "step", total: int | None = None,
          stream: IO[str] | None = None, interval: float | None = None) -> Iterator:
    """Yield the items, reporting progress after each (like `tqdm(items)`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, desc, unit=unit, stream=stream, interval=interval) as bar:
        for item in items:
            yield item
            bar.update()


def echo(message: str, stream: IO[str] | None = None) -> None:
    """Print a line (flushed); above the open progress bars, if any, instead of through them."""
    out = _stream(stream)
    if _open_bars:
        from tqdm import tqdm

        tqdm.write(message, file=out)
    else:
        print(message, file=out, flush=True)
