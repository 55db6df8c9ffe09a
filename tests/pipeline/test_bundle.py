"""`bundle --out DIR` for real: a fresh virtual environment installs the project and its predict-time
dependencies from the bundle's wheels alone (pip --no-index, no configured index or find-links), and
its `predict` writes the run's latest.csv byte for byte; bad input to bundle is one line, exit 2, and
leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.cli import main
from tests.pipeline.test_predict import _one_line_error, _workspace

pytestmark = pytest.mark.slow


def test_a_bundle_installs_offline_in_a_fresh_venv_and_predicts_the_submission(tmp_path):
    ws, comp = _workspace(tmp_path)
    assert main(["run", "--root", str(ws)]) == 0
    bundle = tmp_path / "bundle"
    assert main(["bundle", "--root", str(ws), "--out", str(bundle)]) == 0
    wheels = sorted(p.name for p in (bundle / "wheels").glob("*.whl"))
    assert any(w.startswith("kaggle_pipeline-") for w in wheels) and any(w.startswith("lightgbm-") for w in wheels)
    assert not any(w.startswith("torch-") for w in wheels)  # no net in this ensemble: no torch to carry
    assert not list(bundle.rglob("train.csv")) and not list(bundle.rglob("test.csv"))  # no raw rows travel

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    out = tmp_path / "submission.csv"
    proc = subprocess.run(["sh", str(bundle / "predict.sh"), str(comp / "test.csv"), str(out)], env=env,
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes() == (ws / "submissions" / "titanic" / "latest.csv").read_bytes()
    # the installed package is the venv's own, not this checkout
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import pipeline; print(pipeline.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where


def test_bad_input_to_bundle_is_one_line_and_leaves_nothing(tmp_path, capsys):
    ws, comp = _workspace(tmp_path)
    out = tmp_path / "bundle"
    line = _one_line_error(capsys, ["bundle", "--root", str(ws), "--out", str(out), "--no-wheels"])
    assert "no ensemble run" in line and not out.exists()
    assert main(["run", "--root", str(ws)]) == 0
    out.mkdir()
    (out / "something").write_text("x")
    line = _one_line_error(capsys, ["bundle", "--root", str(ws), "--out", str(out), "--no-wheels"])
    assert "not empty" in line and sorted(p.name for p in out.iterdir()) == ["something"]
    # a changed fold model file is found before anything is written
    fold = next((comp / "runs" / "models" / "lgbm" / "fitted").rglob("r0/f0/*"))
    fold.write_bytes(fold.read_bytes() + b" ")
    fresh = tmp_path / "fresh"
    line = _one_line_error(capsys, ["bundle", "--root", str(ws), "--out", str(fresh), "--no-wheels"])
    assert "SHA-256" in line and not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fresh")]
    line = _one_line_error(capsys, ["bundle", "--root", str(ws), "--out", str(fresh), "--python-version", "2.7"])
    assert "--python-version '2.7': give the predicting machine's Python as 3.11 (or 311)" in line
    assert not fresh.exists()


def test_the_wheels_follow_every_members_type_an_imported_ones_too(tmp_path):
    """An imported teammate run's params.json keeps the exporter's under "params": its type still brings its
    library's wheel (a CatBoost or torch member scored offline needs catboost or torch)."""
    import json
    from types import SimpleNamespace

    from pipeline.bundle import member_types, requirements

    runs = {"models/lgbm": {"type": "lightgbm"},
            "imports/mate": {"imported": {"kind": "bundle"}, "params": {"type": "catboost"}},
            "imports/again": {"imported": {}, "params": {"imported": {}, "params": {"type": "mlp"}}}}
    for rel, params in runs.items():
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "params.json").write_text(json.dumps(params))
    predictor = SimpleNamespace(root=tmp_path, spec={"members": {rel.split("/")[1]: rel for rel in runs}})
    assert member_types(predictor) == {"lightgbm", "catboost", "mlp"}
    pytest.importorskip("catboost")
    names = {r.split("==")[0].lower() for r in requirements(member_types(predictor))}
    assert {"catboost", "torch", "lightgbm"} <= names
