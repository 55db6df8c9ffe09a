"""Stage code fingerprints are derived from what each stage's module imports, so no list can go stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.fingerprint import code_inputs
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.workspace import Workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "features", "models", "pipeline")
ALL_RUN = {"folds", "explore", "features", "cv", "ensemble", "submit"}  # pseudo is off in titanic


def _inputs(stage: str, root: Path = REPO) -> set[str]:
    module = build_pipeline().get(stage).run.partition(":")[0]
    return {p.relative_to(root).as_posix() for p in code_inputs(module, root=root)}


def _copy_packages(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_ensemble_code_includes_every_project_module_it_imports():
    code = _inputs("ensemble")
    assert "pipeline/stages/ensemble.py" in code
    assert "pipeline/artifacts.py" in code  # load_features: the module the hand-typed list left out
    assert "models/ensemble.py" in code
    assert "models/lgbm.py" in code  # loaded only through the "models.lgbm:build" registry string
    assert "pipeline/submission.py" not in code and "pipeline/stages/__init__.py" not in code


def test_folds_code_holds_no_model_or_feature_module():
    code = _inputs("folds")
    assert {"pipeline/stages/folds.py", "pipeline/schemes.py", "pipeline/context.py", "core/io.py"} <= code
    assert not [p for p in code if p.startswith(("models/", "features/"))]
    assert not [p for p in code if p.startswith("pipeline/stages/") and p != "pipeline/stages/folds.py"]


def test_submit_and_cv_code_are_disjoint_where_they_should_be():
    assert "pipeline/submission.py" in _inputs("submit")
    assert not [p for p in _inputs("submit") if p.startswith(("models/", "features/"))]
    cv = _inputs("cv")
    assert {"models/_cv.py", "models/lgbm.py", "models/nn.py", "pipeline/artifacts.py"} <= cv
    # the matrices come from the features stage's outputs (their digests are cv's inputs), not its code
    assert not [p for p in cv if p.startswith("features/") or p == "pipeline/stages/features.py"]
    assert "models/ensemble.py" not in cv and "pipeline/submission.py" not in cv


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_rule_on_a_small_package_tree(tmp_path):
    """Lazy imports of the stage module, registry strings, relative imports, and a helper's lazy
    import followed only when something reached calls the helper."""
    _write(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/stages/__init__.py": 'STAGES = ["pipeline.stages.a:run", "pipeline.stages.b:run"]\n',
        "pipeline/stages/a.py": "from pipeline.ctx import Ctx\n\ndef run(ctx):\n"
                                "    from pipeline import helper\n    return ctx.data()\n",
        "pipeline/stages/b.py": "def run(ctx):\n    return ctx.train()\n",
        "pipeline/ctx.py": "import os\n\nclass Ctx:\n"
                           "    def data(self):\n        from pipeline.reader import read\n        return read()\n"
                           "    def train(self):\n        from models import fit\n        return fit()\n"
                           "    def __init__(self):\n        from .setup import prepare\n",
        "pipeline/reader.py": "def read():\n    return 1\n",
        "pipeline/setup.py": "def prepare():\n    pass\n",
        "pipeline/helper.py": "from . import registry\n",
        "pipeline/registry.py": 'TYPES = {"x": "models.x:build"}\n',
        "models/__init__.py": "",
        "models/x.py": "import torch\n\nclass Net(torch.nn.Module):\n"
                       "    def forward(self, v):\n        from models.layers import layer\n        return layer(v)\n",
        "models/layers.py": "def layer(v):\n    return v\n",
        "models/unused.py": "",
        "core/__init__.py": "",
    })
    a = {p.relative_to(tmp_path).as_posix() for p in code_inputs("pipeline.stages.a", root=tmp_path)}
    assert a == {"pipeline/__init__.py", "pipeline/stages/a.py", "pipeline/ctx.py", "pipeline/reader.py",
                 "pipeline/setup.py", "pipeline/helper.py", "pipeline/registry.py", "models/x.py",
                 "models/layers.py"}
    # b only calls ctx.train(): not the reader, but the models package; never its sibling stage
    b = {p.relative_to(tmp_path).as_posix() for p in code_inputs("pipeline.stages.b", root=tmp_path)}
    assert b == {"pipeline/stages/b.py"}  # b imports nothing itself: ctx is only an argument
    (tmp_path / "pipeline/stages/b.py").write_text("from pipeline.ctx import Ctx\n\ndef run(ctx):\n"
                                                   "    return ctx.train()\n")
    b = {p.relative_to(tmp_path).as_posix() for p in code_inputs("pipeline.stages.b", root=tmp_path)}
    assert b == {"pipeline/stages/b.py", "pipeline/ctx.py", "pipeline/setup.py", "models/__init__.py"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The titanic pipeline run once, its code fingerprinted from a pristine copy of the packages
    (so engineers editing the real tree meanwhile cannot disturb the comparison)."""
    from tests.conftest import make_workspace

    base = tmp_path_factory.mktemp("code")
    pristine = _copy_packages(base / "pristine")
    ws = make_workspace(base)
    comp = Workspace(ws).competition("titanic")
    assert set(Runner(build_pipeline(), comp, log=lambda m: None, code_root=pristine).run()) == ALL_RUN
    return ws, pristine


def _status(ws: Path, code_root: Path) -> dict[str, tuple[str, str]]:
    runner = Runner(build_pipeline(), Workspace(ws).competition("titanic"), log=lambda m: None,
                    code_root=code_root)
    return {name: (state, why) for name, state, why in runner.status()}


@pytest.mark.parametrize("edited, stale", [
    (None, set()),
    ("pipeline/submission.py", {"submit"}),
    ("models/ensemble.py", {"ensemble"}),
    ("models/lgbm.py", {"cv", "ensemble"}),
    # the model stages read the features stage's outputs, not its code: they wait for its outputs
    ("pipeline/stages/features.py", {"features"}),
    ("pipeline/stages/explore.py", {"explore"}),
    ("features/_numeric.py", {"features"}),
    ("core/io.py", ALL_RUN),
])
def test_editing_a_module_makes_exactly_the_stages_that_import_it_stale(ran, tmp_path, edited, stale):
    ws, pristine = ran
    code = tmp_path / "code"
    shutil.copytree(pristine, code)
    if edited is not None:
        assert (code / edited).is_file(), edited
        with open(code / edited, "a") as fh:
            fh.write("\n# edited\n")
    rows = _status(ws, code)
    assert {name for name, (state, _) in rows.items() if state == "stale"} == stale
    for name in stale:
        assert rows[name][1] == "changed: code"
    pipe = build_pipeline()
    after = set().union(*(pipe.downstream(s) for s in stale)) if stale else set()
    for name in ALL_RUN - after:
        assert rows[name][0] == "fresh", (name, rows[name])


def test_status_command_says_changed_code(ran, tmp_path):
    """The real CLI, importing the packages from an edited copy (PYTHONPATH), names the code."""
    ws, pristine = ran
    code = tmp_path / "code"
    shutil.copytree(pristine, code)
    with open(code / "pipeline" / "submission.py", "a") as fh:
        fh.write("\n# edited\n")
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-m", "pipeline", "--root", str(ws), "status"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, check=True).stdout
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in out.splitlines() if line.strip()}
    assert lines["submit"] == ["stale", "changed: code"]
    assert all(lines[s][0] == "fresh" for s in ALL_RUN - {"submit"}), out


def test_a_second_runner_parses_no_source(ran, monkeypatch):
    """The file summaries persist by (size, mtime) beside the hash memo: a no-op run parses nothing."""
    import core.fingerprint as graph

    ws, pristine = ran
    graph._PARSED.clear()

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed a source file on a no-op check")

    monkeypatch.setattr(graph.ast, "parse", no_parse)
    assert all(state != "stale" for state, _ in _status(ws, pristine).values())
