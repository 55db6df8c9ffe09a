"""`leaderboard`: the recorded model runs, best first, from the run registry."""

from __future__ import annotations

import argparse

HELP = ("list the recorded model runs sorted by score, and the public leaderboard scores recorded with `lb` "
        "(run registry: runs.db or $PIPELINE_REGISTRY_URL)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--competition", "-c", default=None, help="only this competition (default: all)")
    p.add_argument("--limit", "-n", type=int, default=None, help="at most N runs per competition")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.errors import UserError
    from pipeline.run_registry import open_registry, registry_url

    root = Path(args.root or Path.cwd()).resolve()
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    url = registry_url(root)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise UserError(f"no run registry at {url[len('sqlite:///'):]}; train models first with "
                        f"`python -m pipeline run`, or pass --root WORKSPACE")
    registry = open_registry(root, url)
    try:
        rows = registry.leaderboard(args.competition, limit=args.limit)
        lb_rows = registry.lb_scores(args.competition)
    finally:
        registry.dispose()
    if not rows and not lb_rows:
        known = {r["competition"] for r in _all(root, url)}
        where = f" for competition {args.competition!r}" if args.competition else ""
        hint = f"; recorded competitions: {', '.join(sorted(known))}" if known else ""
        raise UserError(f"no runs recorded{where}{hint}")
    lines = format_rows(rows)
    if lb_rows:
        lines += ([""] if lines else []) + format_lb(lb_rows)
    print("\n".join(lines))
    return 0


def _all(root, url) -> list[dict]:
    from pipeline.run_registry import open_registry

    registry = open_registry(root, url)
    try:
        return registry.leaderboard()
    finally:
        registry.dispose()


def format_rows(rows: list[dict]) -> list[str]:
    """A table per (competition, metric): rank, run id (its first 8 characters, for `diff`), model, type, score, folds, params hash, seconds, when, who."""
    out: list[str] = []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["competition"], row["metric"]), []).append(row)
    for (competition, metric), group in groups.items():
        better = "higher" if group[0]["greater_is_better"] else "lower"
        # "folds": how many fold scores the run has (10 = two CV repeats of 5): an average of more repeats scores
        # better, so runs of different counts do not rank on equal terms (`diff` compares them on shared repeats)
        header = ("#", "id", "model", "type", metric, "folds", "folds mean ± std", "params", "s", "finished (UTC)",
                  "by")
        body = [(str(i), r["run_id"][:8], r["model"], r["model_type"], f"{r['overall']:.5f}", str(r["n_folds"]),
                 f"{r['fold_mean']:.5f} ± {r['fold_std']:.5f}" if r["fold_mean"] is not None else "-",
                 r["params_hash"], f"{r['seconds']:.1f}", r["finished_at"].strftime("%Y-%m-%d %H:%M"),
                 f"{r['user']}@{r['host']}") for i, r in enumerate(group, 1)]
        widths = [max(len(c) for c in col) for col in zip(header, *body)]
        if out:
            out.append("")
        out.append(f"{competition} ({metric}, {better} is better)")
        for cells in (header, tuple("-" * w for w in widths), *body):
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
        counts = sorted({int(r["n_folds"]) for r in group})
        if len(counts) > 1:
            out.append(f"(fold counts differ: {', '.join(map(str, counts))}. A run of more CV repeats averages more "
                       f"OOF predictions per row and scores better for it; rank runs of one count, or `diff A B` "
                       f"compares two on the repeats both have)")
    return out


def format_lb(rows: list[dict]) -> list[str]:
    """A table per competition of the recorded public leaderboard scores, oldest first: CV, LB, LB - CV."""
    out: list[str] = []
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["competition"], []).append(row)
    for competition, group in groups.items():
        header = ("submission", "CV", "public LB", "LB - CV", "recorded (UTC)", "by", "note")
        body = [(r["submission"], "-" if r["cv"] is None else f"{r['cv']:.5f}", f"{r['lb']:.5f}",
                 "-" if r["cv"] is None else f"{r['lb'] - r['cv']:+.5f}", r["recorded_at"].strftime("%Y-%m-%d %H:%M"),
                 f"{r['user']}@{r['host']}", r["note"] or "") for r in group]
        widths = [max(len(c) for c in col) for col in zip(header, *body)]
        if out:
            out.append("")
        out.append(f"{competition}: public leaderboard ({group[0]['metric']}; record with `python -m pipeline lb`)")
        for cells in (header, tuple("-" * w for w in widths), *body):
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return out
