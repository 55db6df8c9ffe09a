"""Two runs compared (`python -m pipeline diff A B`, and the results report's "Two best runs" section).

A run is named by its folder (a trained model in runs/models/, a pseudo-labelled run in runs/pseudo/,
a teammate's import in imports/; `imports/NAME` etc. picks one of two runs sharing a name) or by a
run id from the run registry (`python -m pipeline leaderboard` shows the first 8 characters; any
unambiguous prefix of 4 or more works). A registry run has its parameters and fold scores; its OOF
predictions are the model's run folder when that folder holds the same fold scores (the run the
registry recorded), else they are gone (the registry keeps scores only) and the OOF parts are left out.

What is compared: the parameters (flattened to dotted keys) and feature blocks (params.json's
"features"), the fold scores side by side with the per-fold difference and a paired t-test across
the folds (scipy.stats.ttest_rel), the OOF correlation, the rows where the OOF predictions disagree
most, A's relative OOF error reduction against B with a paired bootstrap interval over the rows
(core.metrics.paired_gain_interval: whether another draw of the rows could reverse it; five folds make
a weak t-test), and the OOF score of the 50/50 blend and of the best weight (searched on the same OOF
rows, so optimistic).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import UserError, did_you_mean
from core.metrics import paired_gain_interval, relative_gain
from core.params import flatten_params

MIN_ID_PREFIX = 4  # shortest run-id prefix accepted
_HEX = re.compile(r"^[0-9a-f]+$")
WEIGHTS = np.linspace(0.0, 1.0, 101)  # the best-weight blend's grid: w * A + (1 - w) * B
GAIN_LEVEL = 0.90  # the paired bootstrap interval of A against B over the OOF rows


@dataclass
class Side:
    """One of the two runs: what it is, its parameters, features, fold scores and aligned OOF."""

    label: str  # as given on the command line
    name: str  # the run's name (model name for a registry run)
    source: str  # where it was found, for the header
    params: dict[str, Any]
    features: dict[str, Any] | None
    folds: list[float]
    overall: float
    oof: np.ndarray | None = None  # aligned with the rows compared (None: not available)
    note: str = ""  # why the OOF is missing
    folds_sha256: str | None = None  # the folds it was made on (its scores.json), None: not recorded
    repeat_oofs: list[np.ndarray] | None = None  # a run folder's OOF per CV repeat (aligned as `oof`); None: one


@dataclass
class Comparison:
    """What `diff` prints: every part, computed once."""

    a: Side
    b: Side
    metric: Any  # core.metrics.Metric
    params: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, A's value, B's value), different only
    blocks: tuple[list[str], list[str], int] = ([], [], 0)  # only in A, only in B, shared
    columns: tuple[list[str], list[str], int] = ([], [], 0)
    test: str = ""  # the paired test's line
    corr: float | None = None
    disagree: list[tuple[Any, Any, Any, Any]] = field(default_factory=list)  # (id, A, B, target)
    blend: float | None = None
    best: tuple[float, float] | None = None  # (weight of A, score)
    gain: tuple[float, float, float] | None = None  # A against B on the OOF rows: relative error reduction, interval
    notes: list[str] = field(default_factory=list)


# ---- finding the two runs ------------------------------------------------------------------------

def resolve(context, spec: str, *, registry_rows=None) -> Side:
    """The run `spec` names: a run folder (by name or runs-relative path), else a registry run id
    prefix. `registry_rows(prefix)` lists registry runs by id prefix (default: the workspace's registry).
    Unknown -> UserError with the closest name."""
    from pipeline.artifacts import read_run

    comp = context.comp
    dirs = context.run_dirs()
    path = _folder(comp, dirs, spec)
    if path is not None:
        run = read_run(path, id_col=comp.id_col, task=context.task_info())
        source = str(path.relative_to(comp.root)) if path.is_relative_to(comp.root) else str(path)
        params = dict(run.params)
        if isinstance(params.get("imported"), dict) and isinstance(params.get("params"), dict):
            source += f" (imported {params['imported'].get('kind', '')}; the exporter's parameters)".replace(" ;", ";")
            params = dict(params["params"])  # a teammate's import: compare what their run trained with
        features = params.pop("features", None)
        oof = _aligned(context, run)
        repeats = None
        if run.oof_repeats and oof is not None:
            repeats = [_aligned(context, dataclasses.replace(run, oof=r)) for r in run.oof_repeats]
        return Side(spec, run.name, source, params, features, [float(s) for s in run.scores.get("folds", [])],
                    run.overall, oof=oof, folds_sha256=run.scores.get("folds_sha256"), repeat_oofs=repeats)
    if len(spec) >= MIN_ID_PREFIX and _HEX.match(spec.lower()):
        rows, error = _registry_rows(context, spec.lower(), registry_rows)
        if len(rows) > 1:
            shown = ", ".join(f"{r['run_id'][:12]} ({r['model']})" for r in rows[:5])
            raise UserError(f"run id {spec!r} matches {len(rows)} registry runs ({shown}); give more of it")
        if rows:
            return _registry_side(context, spec, rows[0], dirs)
        if error:
            raise UserError(f"unknown run {spec!r}: not a run folder, and the run registry is not readable ({error})")
    names = sorted(dirs)
    hint = did_you_mean(spec, names) if names else " (no run folders yet: `python -m pipeline run` trains them)"
    raise UserError(f"unknown run {spec!r}{hint}; give a run's name or a run id shown by `python -m pipeline "
                    f"leaderboard`")


def _folder(comp, dirs: dict[str, Path], spec: str) -> Path | None:
    if spec in dirs:
        return dirs[spec]
    if "/" in spec and ".." not in Path(spec).parts:
        for base in (comp.runs, comp.root):
            path = base / spec
            if (path / "oof.parquet").is_file() and path.resolve() in {p.resolve() for p in dirs.values()} | {
                    path.resolve()}:
                return path
    return None


def _registry_rows(context, prefix: str, registry_rows) -> tuple[list[dict], str]:
    if registry_rows is not None:
        return registry_rows(prefix), ""
    from pipeline.run_registry import open_registry

    try:
        registry = open_registry(context.comp.workspace)
        try:
            return registry.runs_by_id(prefix, context.comp.name), ""
        finally:
            registry.dispose()
    except Exception as exc:  # noqa: BLE001 - an unreachable registry: the name is unknown, say why
        return [], f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _registry_side(context, spec: str, row: dict, dirs: dict[str, Path]) -> Side:
    """A registry run; its OOF from the model's run folder when that folder holds the same fold scores."""
    import json

    from pipeline.artifacts import read_run

    n = int(row["n_folds"])
    folds = [row["folds"].get(k, float("nan")) for k in range(n)]
    when = row["finished_at"].strftime("%Y-%m-%d %H:%M")
    side = Side(spec, row["model"], f"registry run {row['run_id'][:12]}, {row['stage']}, {when} UTC, "
                f"{row['user']}@{row['host']}", json.loads(row["params"]), None, folds, float(row["overall"]))
    path = dirs.get(row["model"])
    if path is not None:
        run = read_run(path, id_col=context.comp.id_col, task=context.task_info())
        mine = [float(s) for s in run.scores.get("folds", [])]
        if len(mine) == n and all(_same(x, y) for x, y in zip(mine, folds)) and _same(run.overall, side.overall):
            side.oof = _aligned(context, run)
            side.features = run.params.get("features")
            side.source += f" = {path.relative_to(context.comp.root)}"
            return side
    side.note = (f"{spec}: OOF predictions not available (the registry keeps scores; the run folder of "
                 f"{row['model']!r} holds {'another run' if path is not None else 'nothing'})")
    return side


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-12 * max(1.0, abs(x))


def _aligned(context, run) -> np.ndarray | None:
    """The run's OOF in the order of `_rows(context)`; None when its ids are not those rows (stale import)."""
    ids = _rows(context)[0]
    pos = ids.get_indexer(run.oof_ids)
    if (pos < 0).any() or len(pos) != len(ids):
        return None
    oof = np.empty_like(run.oof)
    oof[pos] = run.oof
    return oof


def _rows(context):
    """(ids, encoded target, target as in train.csv) of the train rows runs predict (forward chaining never
    predicts its first block)."""
    import pandas as pd

    from core.folds import validated

    if "diff_rows" not in context.__dict__:
        comp = context.comp
        train = context.data()[0]
        if comp.folds_path.is_file():
            train = train[validated(context.folds())].reset_index(drop=True)
        target = train[comp.target]
        context.__dict__["diff_rows"] = (pd.Index(train[comp.id_col]), context.task_info().encode(target),
                                         target.to_numpy())
    return context.__dict__["diff_rows"]


# ---- comparing them ------------------------------------------------------------------------------

def diff_runs(context, a: str, b: str, *, rows: int = 10, registry_rows=None) -> Comparison:
    """Compare the runs `a` and `b` (see `resolve`) on the competition `context` holds."""
    side_a = resolve(context, a, registry_rows=registry_rows)
    side_b = resolve(context, b, registry_rows=registry_rows)
    ids, y, target = _rows(context)
    weights = _row_weights(context)  # [competition] weight: the blends are scored as the runs were
    notes = _on_shared_repeats(side_a, side_b, context.metric(), y, weights)
    out = compare(side_a, side_b, metric=context.metric(), ids=ids.to_numpy(), y=y, target=target, rows=rows,
                  sample_weight=weights)
    out.notes[:0] = notes
    return out


def first_repeat_score(context, name: str) -> float | None:
    """Run `name`'s OOF score on its first CV repeat alone: what a training on repeat 1's folds (a tuning
    trial) is scored as, where its run's own score averages the OOF predictions of several repeats (which
    scores better for no reason its parameters have). None when its OOF rows are not this competition's."""
    side = resolve(context, name)
    if side.oof is None:
        return None
    if not side.repeat_oofs or len(side.repeat_oofs) < 2:
        return side.overall
    return float(context.metric()(_rows(context)[1], side.repeat_oofs[0], _row_weights(context)))


def _row_weights(context):
    """The sample weights ([competition] weight, or None) of `_rows(context)`'s rows."""
    weights = context.sample_weight()
    if weights is not None and context.comp.folds_path.is_file():
        from core.folds import validated

        weights = weights[validated(context.folds())]
    return weights


def _on_shared_repeats(a: Side, b: Side, metric, y: np.ndarray, sample_weight) -> list[str]:
    """Two runs of different CV repeat counts (a pseudo run trains on repeat 1's folds, the model's cv run on
    two; a net keeps one) are compared on the repeats both have: the one with more keeps its first repeats'
    fold scores and OOF average, rescored. An average over more repeats scores better for reasons the runs'
    settings have no part in, and its fold scores would not pair with the other's. The notes say so."""
    counts = [len(s.repeat_oofs) if s.repeat_oofs else 1 for s in (a, b)]
    if counts[0] == counts[1] or any(s.oof is None for s in (a, b)):
        return []
    shared = min(counts)
    more = a if counts[0] > counts[1] else b
    n = max(counts)
    if len(more.folds) % n or more.repeat_oofs is None:
        return []
    was = more.overall
    more.folds = more.folds[: len(more.folds) // n * shared]
    more.oof = np.mean(more.repeat_oofs[:shared], axis=0)
    more.overall = float(metric(y, more.oof, sample_weight))
    first = "repeat 1's folds" if shared == 1 else f"the first {shared} repeats"
    return [f"{more.label} has {n} CV repeats, the other {shared}: both compared on {first} ({more.label}'s "
            f"{n}-repeat average scores {was:.5f})"]


def compare(a: Side, b: Side, *, metric, ids: np.ndarray, y: np.ndarray, target: np.ndarray | None = None,
            rows: int = 10, sample_weight: np.ndarray | None = None) -> Comparison:
    """Every part of the comparison of two runs whose OOF (when present) is aligned with `ids` and `y` (the
    encoded target; `target`: as train.csv has it, for the disagreeing rows' listing; `sample_weight`:
    per row, [competition] weight, for the blends' scores)."""
    out = Comparison(a, b, metric)
    pa, pb = flatten_params(a.params), flatten_params(b.params)
    out.params = [(k, pa.get(k, _MISSING), pb.get(k, _MISSING)) for k in sorted(set(pa) | set(pb))
                  if pa.get(k, _MISSING) != pb.get(k, _MISSING)]
    if a.features is not None and b.features is not None:
        out.blocks = _set_diff(a.features.get("blocks", []), b.features.get("blocks", []))
        out.columns = _set_diff(a.features.get("columns", []), b.features.get("columns", []))
    else:
        missing = " and ".join(s.label for s in (a, b) if s.features is None)
        out.notes.append(f"feature blocks not recorded for {missing} (a run from before features were recorded "
                         f"in params.json, or a registry run without its folder)")
    out.test = paired_test(a.folds, b.folds)
    if a.folds_sha256 and b.folds_sha256 and a.folds_sha256 != b.folds_sha256:
        out.notes.append("A and B were made on different folds: their fold scores and the paired t-test compare "
                         "different rows (the OOF parts still pair each row with itself)")
    for side in (a, b):
        if side.oof is None:
            out.notes.append(side.note or f"{side.label}: its OOF rows are not this competition's train rows "
                                          f"(a stale import?); OOF parts left out")
    if a.oof is None or b.oof is None:
        return out
    fa, fb = a.oof.reshape(len(y), -1).astype(float), b.oof.reshape(len(y), -1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant run has no correlation: NaN, said below
        out.corr = float(np.corrcoef(fa.ravel(), fb.ravel())[0, 1])
    gap = np.abs(fa - fb).sum(axis=1) / (2.0 if fa.shape[1] > 1 else 1.0)  # multiclass: total variation
    top = [i for i in np.argsort(-gap, kind="stable")[:rows] if gap[i] > 0]
    shown = y if target is None else target
    out.disagree = [(ids[i], _pred(a.oof[i]), _pred(b.oof[i]), shown[i]) for i in top]
    sw = sample_weight
    out.blend = float(metric(y, 0.5 * a.oof + 0.5 * b.oof, sw))
    scores = [metric.objective(y, w * a.oof + (1 - w) * b.oof, sw) for w in WEIGHTS]
    w = float(WEIGHTS[int(np.argmax(metric.sign * np.asarray(scores)))])
    out.best = (w, float(metric(y, w * a.oof + (1 - w) * b.oof, sw)))
    lo, hi = paired_gain_interval(metric, y, b.oof, a.oof, sample_weight=sw, level=GAIN_LEVEL)
    out.gain = (relative_gain(metric, float(metric(y, b.oof, sw)), float(metric(y, a.oof, sw))), lo, hi)
    return out


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()


def _set_diff(a: list, b: list) -> tuple[list[str], list[str], int]:
    sa, sb = set(map(str, a)), set(map(str, b))
    return sorted(sa - sb), sorted(sb - sa), len(sa & sb)


def _pred(value) -> Any:
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else [round(float(v), 4) for v in value]


def paired_test(a: list[float], b: list[float]) -> str:
    """One line: the paired t-test of A - B over the folds both scored (scipy.stats.ttest_rel)."""
    from scipy.stats import ttest_rel

    if len(a) != len(b):
        return f"paired test: not possible, {len(a)} folds against {len(b)} (different fold assignments)"
    pairs = [(x, y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 2:
        return "paired test: not possible, fewer than two folds scored by both"
    d = np.array([x - y for x, y in pairs])
    if np.allclose(d, d[0], rtol=0, atol=1e-15):
        return (f"paired t-test (scipy.stats.ttest_rel) over {len(pairs)} folds: not defined, the difference is "
                f"{d[0]:+.5f} in every fold")
    res = ttest_rel([x for x, _ in pairs], [y for _, y in pairs])
    return (f"paired t-test (scipy.stats.ttest_rel) over {len(pairs)} folds: mean A - B {d.mean():+.5f}, "
            f"t = {float(res.statistic):.3f}, p = {float(res.pvalue):.3g}"
            + (" (with this few folds, read p as a rough guide)" if len(pairs) < 10 else ""))


# ---- as text -------------------------------------------------------------------------------------

def format_comparison(c: Comparison) -> list[str]:
    """The comparison as plain text lines."""
    m = c.metric
    better = "higher" if m.greater_is_better else "lower"
    lines = [f"A  {c.a.label}: {c.a.source}", f"B  {c.b.label}: {c.b.source}",
             f"{m.name} ({better} is better): A {c.a.overall:.5f}, B {c.b.overall:.5f}, "
             f"A - B {c.a.overall - c.b.overall:+.5f}", ""]
    lines.append(f"parameters: {len(c.params)} differ" if c.params else "parameters: identical")
    if c.params:
        lines += _table(("key", "A", "B"), [(k, _short(x), _short(y)) for k, x, y in c.params])
    only_a, only_b, shared = c.blocks
    if c.a.features is not None and c.b.features is not None:
        lines.append("")
        lines.append(f"feature blocks: {shared} shared" + (", identical" if not only_a and not only_b else ""))
        lines += [f"  only A: {b}" for b in only_a] + [f"  only B: {b}" for b in only_b]
        ca, cb, cshared = c.columns
        lines.append(f"feature columns: {cshared} shared, {len(ca)} only in A, {len(cb)} only in B"
                     + (f" (only A: {_few(ca)}; only B: {_few(cb)})" if ca or cb else ""))
    lines.append("")
    n = max(len(c.a.folds), len(c.b.folds))
    fold_rows = []
    for k in range(n):
        x = c.a.folds[k] if k < len(c.a.folds) else float("nan")
        y = c.b.folds[k] if k < len(c.b.folds) else float("nan")
        fold_rows.append((str(k), f"{x:.5f}", f"{y:.5f}", f"{x - y:+.5f}"))
    lines.append("fold scores")
    lines += _table(("fold", "A", "B", "A - B"), fold_rows)
    lines.append(c.test)
    if c.corr is not None:
        corr = f"{c.corr:.4f}" if math.isfinite(c.corr) else "not defined (a run predicts one value for every row)"
        lines += ["", f"OOF correlation (Pearson): {corr}", f"rows where they disagree most "
                  f"(|A - B| of the OOF predictions{'; multiclass: total variation' if _multi(c) else ''}):"]
        if c.disagree:
            lines += _table(("id", "A", "B", "target"), [(str(i), _short(x), _short(y), str(t))
                                                         for i, x, y, t in c.disagree])
        else:
            lines.append("  none: the OOF predictions are identical")
        gain, lo, hi = c.gain
        noise = "beyond" if lo > 0 or hi < 0 else "within"
        lines += ["", f"A against B on the OOF rows: {gain:+.2%} of B's error, [{lo:+.2%}, {hi:+.2%}] over a paired "
                      f"bootstrap of the rows ({GAIN_LEVEL:.0%}): {noise} the rows' noise"]
        w, best = c.best
        lines += [f"blend on OOF: 50/50 {m.name} {c.blend:.5f}; best weight {w:.2f} A + {1 - w:.2f} B "
                  f"{best:.5f} (weight searched on these OOF rows: optimistic)"]
    for note in c.notes:
        lines.append(f"note: {note}")
    return lines


def _multi(c: Comparison) -> bool:
    return c.a.oof is not None and np.asarray(c.a.oof).ndim == 2 and np.asarray(c.a.oof).shape[1] > 1


def _table(header: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda cells: "  " + "  ".join(str(x).ljust(w) for x, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header), fmt(tuple("-" * w for w in widths)), *(fmt(r) for r in body)]


def _short(value: Any, width: int = 48) -> str:
    text = f"{value:.5g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _few(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f", +{len(names) - n}" if len(names) > n else "") if names else "-"
