"""Durations on the command line (`run --time-budget`, `tune --timeout`): seconds, or with s, m or h."""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli import main
from pipeline.commands import duration


@pytest.mark.parametrize("text, seconds", [("600", 600.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0),
                                           (" 2H ", 7200.0)])
def test_a_duration_reads_seconds_minutes_and_hours(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["1x", "h", "", "ten minutes"])
def test_anything_else_is_refused_with_how_to_say_it(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration; give seconds"):
        duration(text)


def test_run_says_what_a_bad_budget_is_in_one_error_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--time-budget", "1 hour"])
    assert stop.value.code == 2
    assert "argument --time-budget: '1 hour' is not a duration" in capsys.readouterr().err
