"""`report`: the results report, runs/report.html (leaderboard, folds, OOF, importance, ensemble, CV vs LB)."""

from __future__ import annotations

import argparse

HELP = "write the results report (runs/report.html): runs, folds, OOF, ensemble, CV vs leaderboard"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--competition", "-c", default=None, help="competition name (default: the workspace's)")
    p.add_argument("--out", default=None,
                   help="write the page here, a file or a folder (default: competition/<name>/runs/report.html)")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core import io as _io
    from pipeline.reports.results import lb_warnings, load, render
    from pipeline.workspace import Workspace, log

    comp = Workspace(args.root).competition(args.competition)
    res = load(comp)
    page = render(res)
    out = Path(args.out) if args.out else comp.runs / "report.html"
    if out.is_dir():  # a folder: the page goes into it, as `export --out` puts its zip
        out = out / "report.html"
    _io.write_text(out, page)
    for warning in lb_warnings(res):
        log(f"[report] CV and LB diverge: {warning}")
    print(out.resolve())
    return 0
