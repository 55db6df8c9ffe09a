"""The one exception type for bad user input; the CLI prints it on one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (config, data, arguments): the message says what is wrong and how to fix it."""


def did_you_mean(value: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or a list of the valid choices."""
    import difflib

    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (valid: {', '.join(sorted(choices))})"


def exception_line(exc: BaseException, limit: int = 120) -> str:
    """An exception as a message shows it: its type and the first line of its text, cut to `limit` characters."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:limit]}" if text else type(exc).__name__


def shown(value) -> str:
    """A value as a message shows it: its repr, a NumPy scalar as the plain Python value (100456, not
    np.int64(100456)), cut to 60 characters."""
    if hasattr(value, "item") and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        value = value.item()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
