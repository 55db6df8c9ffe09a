"""`bundle --out DIR`: an offline folder (wheels + the latest run's models) that runs `predict` without internet."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write an offline bundle (wheels, fold models, feature states, a predict script) for Kaggle code competitions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", required=True, help="a new (or empty) folder to write the bundle into")
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--platform", default=None,
                   help="pip platform tag of the machine that will predict, e.g. manylinux2014_x86_64 "
                        "(default: this machine's)")
    p.add_argument("--python-version", default=None, help="its Python version, e.g. 3.11 (default: this one's)")
    p.add_argument("--no-wheels", action="store_true",
                   help="leave the wheels out (the predicting machine has the packages already)")


def main(args: argparse.Namespace) -> int:
    from pipeline.bundle import make_bundle
    from pipeline.context import CompetitionContext
    from pipeline.predict import Predictor
    from pipeline.workspace import Workspace, log

    comp = Workspace(args.root).competition(args.competition)
    predictor = Predictor.from_workspace(CompetitionContext(comp, log=log), log=log)
    project = Path(__file__).resolve().parents[2]
    path = make_bundle(predictor, Path(args.out), project_root=project, competition_toml=comp.config_path,
                       platform=args.platform, python_version=args.python_version, wheels=not args.no_wheels,
                       log=log)
    print(path)
    return 0
