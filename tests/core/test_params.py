"""One parameter validator for config sections, model tables and feature blocks."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.params import REQUIRED, check_choice, validate

SCHEMA = {"n": (int, 5, "count"), "rate": (float, 0.1, "rate"), "mode": (str, REQUIRED, "mode"),
          "cols": (list, [], "columns")}


def test_defaults_are_filled_as_fresh_copies_and_ints_become_floats():
    a = validate({"mode": "x", "rate": 1}, SCHEMA, where="t")
    b = validate({"mode": "y"}, SCHEMA, where="t")
    assert a == {"n": 5, "rate": 1.0, "mode": "x", "cols": []} and isinstance(a["rate"], float)
    a["cols"].append("z")
    assert b["cols"] == [] and SCHEMA["cols"][1] == []


@pytest.mark.parametrize("given,message", [
    ({"mode": "x", "nn": 1}, r"t: unknown key 'nn' \(did you mean 'n'\?\)"),
    ({}, r"t: missing key 'mode' \(mode\)"),
    ({"mode": "x", "n": 1.5}, r"t: key 'n' must be an integer, got 1.5"),
    ({"mode": "x", "n": True}, r"t: key 'n' must be an integer, got True"),
    ({"mode": "x", "rate": "fast"}, r"t: key 'rate' must be a number, got 'fast'"),
    ({"mode": "q"}, r"t: key 'mode' has 'q', expected one of 'x', 'y'"),
    ({"mode": "x", "n": 0}, r"t: key 'n' must be at least 1, got 0"),
])
def test_every_problem_is_one_line_naming_the_key(given, message):
    with pytest.raises(UserError, match=message):
        validate(given, SCHEMA, where="t", choices={"mode": ("x", "y")}, minimum={"n": 1})


def test_check_choice_suggests_the_closest_registry_name():
    check_choice("rmse", ("rmse", "mae"), where="metric")
    with pytest.raises(UserError, match=r"metric = 'rmsee' is not one of rmse, mae \(did you mean 'rmse'\?\)"):
        check_choice("rmsee", ("rmse", "mae"), where="metric")
