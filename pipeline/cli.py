"""Command line: `python -m pipeline COMMAND ...`. Each command is a light module in
pipeline/commands/ with HELP, add_arguments(parser) and main(args) -> exit code; heavy libraries
load only inside main, so `--help` answers at once. Bad input (UserError) -> one line, exit 2."""

from __future__ import annotations

import argparse
import importlib
import sys

# Command name -> module under pipeline.commands (a registry, not an if-chain).
COMMANDS = {
    "init": "init",
    "run": "run",
    "status": "status",
    "export": "export",
    "import": "import_",
    "leaderboard": "leaderboard",
    "tune": "tune",
    "lb": "lb",
    "report": "report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Kaggle competition pipeline: folds -> features -> cv -> pseudo -> ensemble -> submit.")
    parser.add_argument("--root", default=None, help="workspace folder (default: the current folder)")
    common = argparse.ArgumentParser(add_help=False)  # --root also accepted after the command
    common.add_argument("--root", default=argparse.SUPPRESS, help="workspace folder (default: the current folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"pipeline.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=[common])
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    from core.errors import UserError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 0
    try:
        return int(args._main(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished stages are kept, the unfinished one left nothing behind", file=sys.stderr)
        return 130
