"""Shared fixtures: temporary workspaces built from the shipped real data sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"
DATASETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")


def make_workspace(tmp_path: Path, name: str = "titanic", *, config: str | None = None,
                   all_models: bool = False, repeats: int | None = 1) -> Path:
    """A workspace in tmp_path holding competition/<name> with the set's data and a config.

    The config defaults to the shipped titanic one for titanic (its first model only, for speed,
    unless `all_models`), else the one `init` writes. It gets `cv.repeats = repeats` unless it sets
    repeats itself or `repeats` is None (a test that writes its own)."""
    ws = tmp_path / "ws"
    dest = ws / "competition" / name
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / name / f, dest / f)
    if config is None:
        if name == "titanic":
            config = (REPO / "competition" / "titanic" / "competition.toml").read_text()
            if not all_models:
                config = config[: config.index("[models.lgbm_slow]")]
        else:
            from pipeline.init_competition import _read, infer, render_config

            frames = [_read(dest / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]
            config = render_config(infer(*frames), {})
    (dest / "competition.toml").write_text(config if repeats is None else _with_repeats(config, repeats))
    return ws


def _with_repeats(config: str, repeats: int) -> str:
    """`config` with cv.repeats = `repeats` unless its [cv] sets repeats (a model's own `repeats`, as the
    zoo's MLP has, is not that): by default a test trains one CV repeat (the automatic second one on a
    small table doubles its time); tests/pipeline/test_repeats.py covers repeats."""
    import re
    import tomllib

    if "repeats" in tomllib.loads(config).get("cv", {}):
        return config
    if re.search(r"^\[cv\]\s*$", config, flags=re.MULTILINE):
        return re.sub(r"^\[cv\]\s*$", f"[cv]\nrepeats = {repeats}", config, count=1, flags=re.MULTILINE)
    return config.rstrip("\n") + f"\n\n[cv]\nrepeats = {repeats}\n"


@pytest.fixture
def titanic_ws(tmp_path: Path) -> Path:
    """A fresh workspace with the titanic competition."""
    return make_workspace(tmp_path)
