"""`lb`: record the public leaderboard score a written submission got, beside its CV score."""

from __future__ import annotations

import argparse

HELP = "record the public leaderboard score of a submission file (for the CV-vs-LB log in `report`)"

_CV_IN_NAME = r"-cv(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\.csv$"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("submission", help="the submission file (a path, or its name in submissions/<competition>/)")
    p.add_argument("score", help="the public leaderboard score Kaggle showed for it, e.g. 0.78468")
    p.add_argument("--competition", "-c", default=None,
                   help="competition name (default: the submission's folder, else the workspace's)")
    p.add_argument("--cv", default=None, help="its CV score (default: read from the file name, -cv<score>.csv)")
    p.add_argument("--note", default="", help="a few words to remember the submission by")


def main(args: argparse.Namespace) -> int:
    from core.errors import UserError
    from core.io import hash_file
    from core.metrics import get_metric
    from pipeline.run_registry import LbRecord, open_registry
    from pipeline.workspace import Workspace

    ws = Workspace(args.root)
    lb = parse_score(args.score, "score")
    path, name = find_submission(ws, args.submission, args.competition)
    comp = ws.competition(name)
    _check_columns(path, comp)
    path = _named_twin(path)
    cv = parse_score(args.cv, "--cv") if args.cv is not None else cv_from_name(path.name)
    if cv is None:
        raise UserError(f"{path.name}: no CV score in the file name (run writes <name>-<time>-cv<score>.csv); "
                        f"pass it with --cv SCORE")
    metric = get_metric(comp.metric_name, comp.root)
    low, high = metric.bounds
    if not low <= lb <= high:
        raise UserError(f"score {args.score} is outside what {metric.name} can give ({low:g} .. {high:g}); give the "
                        f"score as Kaggle shows it, e.g. 0.78468")
    record = LbRecord(competition=comp.name, submission=path.name, lb=lb, cv=cv, metric=metric.name,
                      greater_is_better=metric.greater_is_better, digest=hash_file(path), note=args.note)
    registry = open_registry(ws.root)
    try:
        previous = registry.record_lb(record)
    finally:
        registry.dispose()
    replaced = f"; replaces {previous:g}" if previous is not None else ""
    print(f"{comp.name}: {path.name} public LB {lb:g}, CV {cv:g} ({metric.name}, LB - CV {lb - cv:+.5f}){replaced}")
    return 0


def parse_score(text: str, what: str) -> float:
    """A finite number from the command line, else a one-line UserError."""
    import math

    from core.errors import UserError

    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(f"{what} {text!r} is not a number; give the score as Kaggle shows it, e.g. 0.78468") from None
    if not math.isfinite(value):
        raise UserError(f"{what} {text!r} is not a finite number; give the score as Kaggle shows it, e.g. 0.78468")
    return value


def cv_from_name(name: str) -> float | None:
    """The CV score `run` puts in a submission's file name (<name>-<time>-cv<score>.csv), or None."""
    import re

    match = re.search(_CV_IN_NAME, name)
    return float(match.group(1)) if match else None


def find_submission(ws, given: str, competition: str | None):
    """(path, competition name): the file as given (relative to the current folder or the workspace),
    else by name in submissions/<competition>/; the competition defaults to the file's folder."""
    from pathlib import Path

    from core.errors import UserError

    names = [competition] if competition else ws.names()
    candidates = [Path(given), ws.root / given] + [ws.root / "submissions" / n / given for n in names]
    for path in candidates:
        if path.is_file():
            path = path.resolve()
            if competition:
                return path, competition
            subs = (ws.root / "submissions").resolve()
            if path.parent.parent == subs and path.parent.name in ws.names():
                return path, path.parent.name
            return path, ws.default_name()
    where = f"submissions/{competition}/" if competition else "submissions/<competition>/"
    raise UserError(f"no submission file {given!r} (looked in the current folder, the workspace and {where}); "
                    f"pass the path `python -m pipeline run` printed, e.g. submissions/titanic/titanic-"
                    f"20260101-120000-cv0.85000.csv")


def _check_columns(path, comp) -> None:
    """The file's header must be the sample submission's: else it is not a submission for this competition."""
    import csv

    from core.errors import UserError

    def header(p) -> list[str]:
        try:
            with open(p, newline="", encoding="utf-8") as fh:
                return next(csv.reader(fh), [])
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UserError(f"{p}: cannot read it as CSV ({exc})") from None

    got, want = header(path), header(comp.sample_path)
    if got != want:
        raise UserError(f"{path.name} is not a submission for {comp.name}: its columns {got[:5]} differ from the "
                        f"sample submission's {want[:5]}; pass --competition NAME if it belongs to another one")


def _named_twin(path):
    """latest.csv is a copy: name the timestamped file with the same content instead, when there is one."""
    if path.name != "latest.csv":
        return path
    from core.io import hash_file

    digest = hash_file(path)
    twins = [p for p in sorted(path.parent.glob("*.csv"), reverse=True)
             if p.name != "latest.csv" and p.stat().st_size == path.stat().st_size and hash_file(p) == digest]
    return twins[0] if twins else path
