"""`diff`: two runs compared -- parameters, feature blocks, fold scores with a paired test, OOF
correlation, the rows where they disagree most, and their blend on OOF."""

from __future__ import annotations

import argparse

HELP = ("compare two runs (model names, teammate imports, or run ids from `leaderboard`): parameters, feature "
        "blocks, fold scores and a paired t-test, OOF correlation, disagreeing rows, their blend")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="a run: a model name (runs/models/NAME), a pseudo or imported run, or a run id")
    p.add_argument("b", help="the run to compare it with (same forms)")
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--rows", "-n", type=int, default=10, help="how many most-disagreeing rows to list (default 10)")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError
    from pipeline.context import CompetitionContext
    from pipeline.diff import diff_runs, format_comparison
    from pipeline.workspace import Workspace, log

    if args.rows < 0:
        raise UserError(f"--rows must be 0 or more, got {args.rows}")
    comp = Workspace(args.root).competition(args.competition)
    comparison = diff_runs(CompetitionContext(comp, log=log), args.a, args.b, rows=args.rows)
    print("\n".join(format_comparison(comparison)))
    return 0
