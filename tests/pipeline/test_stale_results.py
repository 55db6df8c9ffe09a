"""Stale results the fingerprints used to miss (issue 21): each case failed before the one code rule.

- editing a net's `factory = "module:function"` file left cv fresh and the registry's params hash equal;
- a change to core/folds.py (the rows a supervised block fits on) left the block's cache key equal;
- adding any plug-in file under competition/<name>/models/ re-trained every model;
- `run --models lgbm` on a new competition trained every model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core import fingerprint
from pipeline.runner import Runner
from pipeline.stages import build_pipeline
from pipeline.model_setup import ModelSetup
from pipeline.workspace import Workspace
from tests.conftest import REPO, make_workspace

FACTORY = '''
def make(inputs, n_outputs, width=8):
    from torch import nn
    from models.layers import TableInput

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = TableInput(inputs["table"])
            self.head = nn.Linear(self.table.out_features, n_outputs)

        def forward(self, table):
            return self.head(self.table(*table))

    return Net()
'''

NET = '''
[models.net]
type = "net"
params = { factory = "my_nets:make", epochs = 2 }
'''

PLUGIN = '''
from sklearn.linear_model import LogisticRegression


class Model(LogisticRegression):
    pass
'''


def _comp(ws: Path):
    return Workspace(ws).competition("titanic")


def _unit_fingerprints(ws: Path) -> dict[str, str]:
    runner = Runner(build_pipeline(), _comp(ws), log=lambda m: None)
    return runner.verdict(build_pipeline().get("cv")).unit_fingerprints


def _params_hash(ws: Path, model: str) -> str:
    comp = _comp(ws)
    setup = ModelSetup(comp, None, None, None, None, np.zeros(0), print)
    return setup.params_hash(comp.models[model])


def test_editing_a_factory_file_makes_its_model_stale_and_changes_its_params_hash(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path)
    config = ws / "competition" / "titanic" / "competition.toml"
    config.write_text(config.read_text() + NET)
    (ws / "my_nets.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(ws))
    before, hash_before = _unit_fingerprints(ws), _params_hash(ws, "net")
    (ws / "my_nets.py").write_text(FACTORY.replace("width=8", "width=16"))
    after, hash_after = _unit_fingerprints(ws), _params_hash(ws, "net")
    assert after["net"] != before["net"]
    assert hash_after != hash_before
    assert after["lgbm"] == before["lgbm"]  # the other model does not run that file


def test_a_plugin_file_keys_only_the_models_that_use_it(tmp_path):
    ws = make_workspace(tmp_path)
    root = ws / "competition" / "titanic"
    (root / "models").mkdir()
    (root / "models" / "mine.py").write_text(PLUGIN)
    config = root / "competition.toml"
    config.write_text(config.read_text() + '\n[models.mine]\ntype = "mine"\n')
    before = _unit_fingerprints(ws)
    (root / "models" / "unrelated.py").write_text(PLUGIN)  # a teammate's new file, used by no model
    assert _unit_fingerprints(ws) == before
    (root / "models" / "mine.py").write_text(PLUGIN + "\n# C changed\n")
    after = _unit_fingerprints(ws)
    assert after["mine"] != before["mine"] and after["lgbm"] == before["lgbm"]


@pytest.fixture
def pristine(tmp_path, monkeypatch) -> Path:
    """A copy of the project's packages, fingerprinted instead of the real tree (engineers may edit it)."""
    code = tmp_path / "code"
    for package in fingerprint.PROJECT_PACKAGES:
        shutil.copytree(REPO / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "_SHARED", fingerprint.CodeFingerprints(code))
    return code


def _block_keys(tmp_path: Path) -> dict[str, str]:
    from core.tasks import TaskInfo
    from features import plan_features
    from pipeline.data import read_csv

    fingerprint._SHARED = fingerprint.CodeFingerprints(fingerprint._SHARED.root)  # forget digests
    data = REPO / "benchmarks" / "data" / "titanic"
    train = read_csv(data / "train.csv")
    test = read_csv(data / "test.csv")
    blocks = [{"block": "numeric", "columns": ["age", "sibsp"]},
              {"block": "target_encoding", "columns": ["pclass"]}]
    plan = plan_features(train, test, id_col="id", target="survived", task=TaskInfo.from_target("binary", train["survived"]),
                         folds=np.arange(len(train)) % 5, blocks=blocks, drop=[], cache_dir=tmp_path / "cache",
                         log=lambda m: None)
    return {block.name: key for block, key in zip(plan.blocks, plan.keys)}


@pytest.mark.parametrize("edited, changed, kept", [
    ("core/folds.py", {"target_encoding"}, set()),  # which rows a supervised block fits on
    ("features/_numeric.py", {"numeric"}, {"target_encoding"}),
    ("features/_target.py", {"target_encoding"}, {"numeric"}),
    ("features/_base.py", {"numeric", "target_encoding"}, set()),
])
def test_block_cache_keys_follow_the_code_each_block_runs(pristine, tmp_path, edited, changed, kept):
    before = _block_keys(tmp_path)
    with open(pristine / edited, "a") as fh:
        fh.write("\n# edited\n")
    after = _block_keys(tmp_path)
    assert all(before[name] != after[name] for name in changed)
    assert all(before[name] == after[name] for name in kept)


@pytest.mark.slow
def test_run_models_on_a_new_competition_trains_only_those(tmp_path):
    ws = make_workspace(tmp_path, all_models=True)
    comp = _comp(ws)
    assert len(comp.models) > 1
    first = next(iter(comp.models))
    runner = Runner(build_pipeline(), comp, log=lambda m: None)
    runner.run("cv", only_units=[first])
    trained = sorted(p.name for p in (comp.runs / "models").iterdir() if p.is_dir())
    assert trained == [first]
    rows = {name: (state, why) for name, state, why in Runner(build_pipeline(), comp, log=lambda m: None).status()}
    assert rows["cv"][0] == "stale"  # the others train in a later plain run
