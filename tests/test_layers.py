"""The import rule, checked by import-linter: core <- features | models <- pipeline (see ARCHITECTURE.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "features", "models", "pipeline")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports over the packages under `root`, with the contracts in pyproject.toml."""
    env = {"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--config", str(root / "pyproject.toml"),
                           "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def _copy(tmp_path: Path) -> Path:
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold(tmp_path):
    proc = _lint(_copy(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def _add_import(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_core_importing_the_runner_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    _add_import(root / "core" / "errors.py", "import pipeline.config")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "BROKEN" in proc.stdout and "core.errors -> pipeline.config" in proc.stdout


def test_models_importing_features_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    _add_import(root / "models" / "lgbm.py", "import features")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "models.lgbm -> features" in proc.stdout
