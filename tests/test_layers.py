"""The import rules, checked by import-linter: core <- features | models <- pipeline, and no import circle
anywhere, inside packages too (see ARCHITECTURE.md)."""

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
    assert "2 kept, 0 broken" in proc.stdout


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


def _cycles(root: Path) -> list[list[str]]:
    """Strongly connected groups of modules (more than one module: an import circle), module by module."""
    code = ("import grimp, json, sys; sys.setrecursionlimit(10000)\n"
            f"g = grimp.build_graph(*{PACKAGES!r})\n"
            "edges = {m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}\n"
            "print(json.dumps(edges))")
    env = {"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    import graphlib
    import json

    edges = json.loads(proc.stdout)
    circles, remaining = [], dict(edges)
    while remaining:  # peel off modules outside any circle; what is left holds the circles
        try:
            graphlib.TopologicalSorter({m: [d for d in ds if d in remaining] for m, ds in remaining.items()}).prepare()
            break
        except graphlib.CycleError as exc:
            circle = exc.args[1]
            circles.append(circle)
            remaining.pop(circle[0])
    return circles


def test_no_module_imports_itself_through_others():
    assert _cycles(REPO) == []


def test_an_import_circle_inside_a_package_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    _add_import(root / "pipeline" / "config.py", "import pipeline.stages.folds")
    proc = _lint(root)
    assert proc.returncode != 0
    assert "no import cycles between sibling modules BROKEN" in proc.stdout
    assert any("pipeline.config" in circle for circle in _cycles(root))
