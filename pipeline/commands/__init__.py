"""CLI commands, one light module each (see pipeline.cli.COMMANDS)."""

import argparse as _argparse

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """Seconds from the command line: a number (600) or a number with s, m or h (90s, 10m, 1.5h), as a
    Kaggle notebook's limit is said."""
    value = text.strip().lower()
    scale = _UNITS.get(value[-1:], None)
    try:
        return float(value[:-1] if scale else value) * (scale or 1.0)
    except ValueError:
        raise _argparse.ArgumentTypeError(f"{text!r} is not a duration; give seconds (600) or a number with s, m "
                                          f"or h (90s, 10m, 1.5h)") from None
