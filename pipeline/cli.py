"""Command line: `python -m pipeline COMMAND ...`. Each command is a light module in
pipeline/commands/ with HELP, add_arguments(parser) and main(args) -> exit code; heavy libraries
load only inside main, so `--help` answers at once.

Exit codes: 0 success; 2 bad input (a UserError, or a file the system refuses: one line saying what
is wrong and how to fix it); 1 an internal error (one line naming it); 130 Ctrl-C. No traceback is
printed unless `--debug` is given (before or after the command), which shows every traceback."""

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
    "diff": "diff",
    "predict": "predict",
    "bundle": "bundle",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Kaggle competition pipeline: folds -> features -> cv -> pseudo -> ensemble -> submit.")
    parser.add_argument("--root", default=None, help="workspace folder (default: the current folder)")
    parser.add_argument("--debug", action="store_true", help="print the traceback of any error")
    common = argparse.ArgumentParser(add_help=False)  # --root and --debug also accepted after the command
    common.add_argument("--root", default=argparse.SUPPRESS, help="workspace folder (default: the current folder)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the traceback of any error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"pipeline.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, parents=[common])
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 0
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted: finished stages are kept, the unfinished one left nothing behind", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every error becomes one line (the traceback with --debug)
        if args.debug:
            raise
        code, line = describe_error(exc)
        print(f"error: {line}", file=sys.stderr)
        return code


def console() -> int:
    """The command line's entry (`python -m pipeline`, `kpipe`): `main`, then the fold workers ended at once.
    Left to the interpreter's exit, loky's exit hook waits for them to wind down (about a second after every
    run); tests and callers of `main` keep them for their next call."""
    try:
        return main()
    finally:
        execution = sys.modules.get("pipeline.execution")  # imported only when a stage trained on workers
        if execution is not None:
            execution.close_all()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def describe_error(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for an error: bad input (UserError, a file the system refuses, no memory) -> 2
    with what to fix; anything else is this program's fault -> 1, named, with how to see the traceback."""
    from core.errors import UserError

    if isinstance(exc, UserError):
        return 2, " ".join(str(exc).split("\n"))
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        return 2, f"{exc.filename}: a file is in the way where a folder is needed; choose another path"
    if isinstance(exc, OSError) and (exc.filename or exc.strerror):
        where = f"{exc.filename}: " if exc.filename else ""
        return 2, (f"{where}{exc.strerror or type(exc).__name__}; check the path, its permissions and the free "
                   f"disk space")
    if isinstance(exc, MemoryError):
        return 2, "out of memory; use a machine with more memory, fewer rows or fewer feature columns"
    what = f"{type(exc).__name__}: {_first_line(str(exc))}" if _first_line(str(exc)) else type(exc).__name__
    return 1, (f"internal error ({what[:300]}); re-run with --debug for the traceback and report it")
