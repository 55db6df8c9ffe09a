"""`status`: each stage, fresh or stale, and why -- without running anything."""

from __future__ import annotations

import argparse

HELP = "list the stages with fresh/stale and why"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")


def main(args: argparse.Namespace) -> int:
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace, log

    ws = Workspace(args.root)
    comp = ws.competition(args.competition)
    runner = Runner(build_pipeline(), comp, log=log)
    rows = runner.status()
    width = max(len(r[0]) for r in rows)
    for name, state, why in rows:
        print(f"{name:<{width}}  {state:<8}  {why}")
    return 0
