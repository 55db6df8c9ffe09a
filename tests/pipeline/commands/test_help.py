"""pipeline/commands/: every command answers `--help` without loading a heavy library (they load inside
`main`), so the CLI's help is instant whatever the machine is doing -- checked by what is imported, not
by how long it takes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import COMMANDS
from tests.conftest import REPO

HEAVY = ("torch", "lightgbm", "pandas", "sklearn", "optuna", "dask", "sqlalchemy", "pyarrow", "matplotlib")

_PROBE = """
import contextlib, io, json, sys
from pipeline.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": out.getvalue(), "heavy": sorted(m for m in %r if m in sys.modules)}))
"""


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_loads_no_heavy_library(command):
    argv = ["--help"] if command is None else [command, "--help"]
    proc = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,), *argv], cwd=REPO, capture_output=True,
                          text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert "usage: python -m pipeline" in result["help"]
    assert result["heavy"] == [], f"`{' '.join(argv)}` imported {result['heavy']}"
