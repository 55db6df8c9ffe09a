"""An offline bundle: everything a machine without internet (a Kaggle code competition's notebook)
needs to run `predict` with the competition's latest run.

    DIR/README.txt              the steps, and the notebook cell to paste
    DIR/predict.sh              install from wheels/ with --no-index, then predict: `sh predict.sh TEST.csv OUT.csv`
    DIR/requirements.txt        what predict imports, pinned to the versions the run used
    DIR/wheels/                 the project's wheel and its predict-time dependencies' wheels
    DIR/competition/<name>/     competition.toml, plug-in files, the sample submission, predictor/
                                (predictor.json, target.parquet) and the run folders predict reads

Only what scoring needs travels: the feature states, the ensemble members' fold models and OOF
predictions, and the ensemble's choice; no raw train or test rows (the train targets and folds that
the ensemble's method is fitted on are in predictor/target.parquet).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Callable

from core import io as _io
from core.errors import UserError

# What `predict` imports, by distribution, beyond the model types' own libraries
BASE_REQUIREMENTS = ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "joblib", "threadpoolctl",
                     "lightgbm", "skops")
# Extra distributions per model type (the ensemble's members')
TYPE_REQUIREMENTS = {"catboost": ("catboost",), "xgboost": ("xgboost",), "mlp": ("torch",), "net": ("torch",),
                     "densenet": ("torch",), "rnn": ("torch",)}
PROJECT = "kaggle-pipeline"


def member_types(predictor) -> set[str]:
    """The ensemble members' model types, an imported teammate run's as its exporter recorded it."""
    from pipeline.artifacts import run_model_type

    return {run_model_type(_io.read_json(predictor.root / rel / "params.json"))
            for rel in predictor.spec["members"].values()}


def requirements(types: set[str]) -> list[str]:
    """`name==version` for every distribution predict needs with these member model types, pinned to
    the versions installed here (the ones the run used), with their own dependencies."""
    names: list[str] = list(BASE_REQUIREMENTS)
    for t in sorted(types):
        names += [n for n in TYPE_REQUIREMENTS.get(t, ()) if n not in names]
    pinned = []
    for name in names:
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            raise UserError(f"bundle: {name} is not installed here, so its wheel cannot be pinned; "
                            f"pip install {name}") from None
    return pinned


def make_bundle(predictor, out: Path, *, project_root: Path, competition_toml: Path, platform: str | None = None,
                python_version: str | None = None, wheels: bool = True,
                log: Callable[[str], None] = print) -> Path:
    """Write the bundle folder `out` atomically (nothing is left behind on failure)."""
    out = Path(out)
    if python_version is not None and not re.fullmatch(r"3(\.\d{1,2})?|3\d{1,2}", python_version.strip()):
        raise UserError(f"--python-version {python_version!r}: give the predicting machine's Python as 3.11 (or 311)")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out} exists and is not empty; give a new folder")
    if not (Path(project_root) / "pyproject.toml").is_file():
        raise UserError(f"bundle: {project_root} has no pyproject.toml to build the project's wheel from; run "
                        f"bundle from a checkout of the project (pip install -e .)")
    predictor.check()  # every member's fold models load and every file matches its digest
    name = predictor.spec["competition"]
    reqs = requirements(member_types(predictor))
    if out.exists():
        out.rmdir()
    with _io.atomic_dir(out) as tmp:
        comp_dir = tmp / "competition" / name
        for rel in predictor.files():
            target = comp_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(predictor.root / rel, target)
        shutil.copy2(competition_toml, comp_dir / "competition.toml")
        predictor.save(comp_dir)
        (tmp / "requirements.txt").write_text("\n".join(reqs) + "\n")
        if wheels:
            _wheels(tmp / "wheels", project_root, reqs, platform=platform, python_version=python_version, log=log)
        (tmp / "predict.sh").write_text(_SCRIPT.format(name=name, project=PROJECT))
        (tmp / "README.txt").write_text(_README.format(name=name, project=PROJECT))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    models = sum(p.stat().st_size for p in (out / "competition").rglob("*") if p.is_file())
    log(f"[bundle] {out}: {size / 1e6:.1f} MB ({models / 1e6:.1f} MB of models, states and predictor files; "
        f"{len(predictor.spec['members'])} member(s): {', '.join(predictor.spec['members'])})")
    return out


def _wheels(folder: Path, project_root: Path, reqs: list[str], *, platform: str | None,
            python_version: str | None, log: Callable[[str], None]) -> None:
    """The project's wheel (built here) and the pinned requirements' wheels with their dependencies
    (pip download: this machine's platform unless `platform` / `python_version` name Kaggle's)."""
    folder.mkdir(parents=True, exist_ok=True)
    log(f"[bundle] building the {PROJECT} wheel")
    _pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(project_root)], "build the project wheel")
    log(f"[bundle] downloading {len(reqs)} requirement(s) and their dependencies as wheels")
    target = []
    if platform:
        target += ["--platform", platform]
    if python_version:
        target += ["--python-version", python_version]
    hint = (f" (none built for --platform {platform or 'this one'} / --python-version {python_version or 'this one'}? "
            f"Kaggle's is manylinux2014_x86_64 with its image's Python)") if target else ""
    _pip(["download", "--only-binary=:all:", "-d", str(folder), *target, *reqs], "download the wheels", hint)


def _pip(args: list[str], what: str, hint: str = "") -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        raise UserError(f"bundle: pip could not {what}: {lines[-1] if lines else 'exit ' + str(proc.returncode)}"
                        f"{hint}")


_SCRIPT = """#!/bin/sh
# Install from the bundle's wheels (no index, no internet) and score TEST.csv into OUT.csv.
# usage: sh predict.sh TEST.csv [OUT.csv]
set -e
here=$(cd "$(dirname "$0")" && pwd)
python -m pip install --no-index --find-links "$here/wheels" -r "$here/requirements.txt"
python -m pip install --no-index --no-deps --find-links "$here/wheels" {project}
python -m pipeline predict --from "$here/competition/{name}" --test "$1" --out "${{2:-submission.csv}}"
"""

_README = """Offline predictor for competition {name}
==========================================

Made by `python -m pipeline bundle`. On a machine without internet (a Kaggle notebook with the
bundle added as a dataset, e.g. /kaggle/input/my-bundle):

    sh /kaggle/input/my-bundle/predict.sh /kaggle/input/<competition>/test.csv submission.csv

or in a notebook cell:

    !pip install --no-index --find-links /kaggle/input/my-bundle/wheels -r /kaggle/input/my-bundle/requirements.txt
    !pip install --no-index --no-deps --find-links /kaggle/input/my-bundle/wheels {project}
    !python -m pipeline predict --from /kaggle/input/my-bundle/competition/{name} \\
        --test /kaggle/input/<competition>/test.csv --out submission.csv

The rows to score need test.csv's columns; predictions follow the sample submission's format.
"""
