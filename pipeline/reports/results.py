"""The results report (`python -m pipeline report` -> runs/report.html): can I trust my CV?

Reads what the stages wrote -- the run folders (runs/models, runs/pseudo, imports), the ensemble
(runs/ensemble) -- and the run registry (every recorded run, and the public leaderboard scores
recorded with `python -m pipeline lb`). Sections, each an entry of `SECTIONS`: the leaderboard,
per-fold scores, OOF predictions against the target, feature importance, the members' OOF
correlation, the ensemble's weights or stack, the two best runs compared (pipeline.diff), and the
CV-vs-leaderboard log with its warnings
(`LB_CHECKS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from pipeline.reports import _html as h

MAX_POINTS = 5000  # scatter plots draw at most this many rows


@dataclass
class Results:
    """What the report shows: the runs aligned with train.csv's rows, the ensemble, the registry's rows."""

    comp: Any  # pipeline.config.Competition
    task: Any  # core.tasks.TaskInfo
    metric: Any  # core.metrics.Metric
    y: np.ndarray  # encoded target
    runs: dict[str, Any]  # name -> pipeline.artifacts.Run, OOF aligned with y
    ensemble: Any | None  # the ensemble's Run (aligned), or None
    ensemble_params: dict = field(default_factory=dict)
    methods: Any = None  # DataFrame of runs/ensemble/leaderboard.csv, or None
    importances: dict[str, Any] = field(default_factory=dict)  # run -> feature_importance DataFrame
    registry_rows: list[dict] = field(default_factory=list)
    lb_rows: list[dict] = field(default_factory=list)
    registry_error: str = ""
    row_ids: Any = None  # ids of the rows `y` and the runs' OOF are aligned with

    @property
    def members(self) -> dict[str, np.ndarray]:
        """OOF predictions of every run, plus the ensemble's, by name (ensemble last)."""
        out = {name: run.oof for name, run in self.runs.items()}
        if self.ensemble is not None:
            out["ensemble"] = self.ensemble.oof
        return out

    def better(self, scores: dict[str, float]) -> list[tuple[str, float]]:
        """(name, score) best first, by the metric's direction."""
        return sorted(scores.items(), key=lambda kv: -self.metric.sign * kv[1])


def load(comp, context=None) -> Results:
    """Read the competition's runs, ensemble and registry rows; a UserError when nothing was trained yet.
    `context`: the competition's pipeline.context.CompetitionContext when the caller has one."""
    import pandas as pd

    from core.errors import UserError
    from pipeline.artifacts import read_run
    from core.folds import validated
    from pipeline.context import CompetitionContext

    context = context or CompetitionContext(comp)
    dirs = context.run_dirs()
    if not dirs:
        raise UserError(f"no model runs in {comp.runs / 'models'}; train them first with "
                        f"`python -m pipeline run --competition {comp.name}`")
    train, _, _ = context.data()
    task = context.task_info()
    if comp.folds_path.is_file():  # the rows runs predict: forward chaining never predicts its earliest block
        train = train[validated(context.folds())].reset_index(drop=True)
    ids = pd.Index(train[comp.id_col])
    runs = {}
    for name, path in dirs.items():
        run = read_run(path, id_col=comp.id_col, task=task)
        pos = ids.get_indexer(run.oof_ids)
        if (pos < 0).any() or len(pos) != len(ids):
            continue  # a run of other data (stale import): the ensemble stage says so
        oof = np.empty_like(run.oof)
        oof[pos] = run.oof
        run.oof = oof
        runs[name] = run
    ensemble, params, methods = None, {}, None
    ens_dir = comp.runs / "ensemble"
    if (ens_dir / "oof.parquet").is_file():
        ensemble = read_run(ens_dir, id_col=comp.id_col, task=task)
        pos = ids.get_indexer(ensemble.oof_ids)
        if (pos >= 0).all() and len(pos) == len(ids):
            oof = np.empty_like(ensemble.oof)
            oof[pos] = ensemble.oof
            ensemble.oof = oof
        else:
            ensemble = None
        params = ensemble.params if ensemble is not None else {}
        if (ens_dir / "leaderboard.csv").is_file():
            methods = pd.read_csv(ens_dir / "leaderboard.csv")
    res = Results(comp, task, context.metric(), task.encode(train[comp.target]), runs, ensemble,
                  params, methods, row_ids=ids.to_numpy())
    for name, path in dirs.items():
        if name in runs and (path / "feature_importance.csv").is_file():
            res.importances[name] = pd.read_csv(path / "feature_importance.csv")
    _read_registry(res)
    return res


def _read_registry(res: Results) -> None:
    from pipeline.run_registry import open_registry

    try:
        registry = open_registry(res.comp.workspace)
        try:
            res.registry_rows = registry.leaderboard(res.comp.name)
            res.lb_rows = registry.lb_scores(res.comp.name)
        finally:
            registry.dispose()
    except Exception as exc:  # noqa: BLE001 - the report still shows the run folders
        res.registry_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# ---- sections ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResultsSection:
    """A part of the results page: anchor, heading and renderer."""

    key: str
    title: str
    render: Callable[[Results], str]


def render(res: Results) -> str:
    """The results page (one self-contained HTML file)."""
    sections = [h.Section(s.key, s.title, s.render(res)) for s in SECTIONS]
    direction = "higher" if res.metric.greater_is_better else "lower"
    best = res.better({n: r.overall for n, r in res.runs.items()})[0]
    ens = f", ensemble {res.ensemble.overall:.5f} ({res.ensemble.scores.get('method', '?')})" if res.ensemble else ""
    subtitle = (f"{len(res.runs)} run(s), metric {res.metric.name} ({direction} is better); best run {best[0]} "
                f"{best[1]:.5f}{ens}; {len(res.lb_rows)} leaderboard score(s) recorded")
    return h.page(f"Results: {res.comp.name}", subtitle, sections)


def _render_leaderboard(res: Results) -> str:
    body = ""
    rows = res.registry_rows
    if res.registry_error:
        body += h.para(f"run registry not readable ({h.esc(res.registry_error)}); showing the run folders only.",
                       "note")
    if rows:
        table = [(i, r["model"], r["model_type"], r["stage"], h.num(r["overall"], 5), r["n_folds"],
                  f"{r['fold_mean']:.5f} ± {r['fold_std']:.5f}" if r["fold_mean"] is not None else "-",
                  r["params_hash"], h.num(r["seconds"], 1), r["finished_at"].strftime("%Y-%m-%d %H:%M"),
                  f"{r['user']}@{r['host']}") for i, r in enumerate(rows[:30], 1)]
        body += h.para(f"Every recorded run of {h.esc(res.comp.name)} (run registry), best first"
                       + (f"; the best 30 of {len(rows)}" if len(rows) > 30 else "") + ".", "note")
        body += h.table(("#", "model", "type", "stage", res.metric.name, "folds", "folds mean ± std", "params", "s",
                         "finished (UTC)", "by"), table, numeric=(0, 4, 5, 8), scroll=True)
    scores = {n: r.overall for n, r in res.runs.items()}
    if res.ensemble is not None:
        scores["ensemble"] = res.ensemble.overall
    ranked = res.better(scores)
    fig, ax = h.figure(6.5, 0.7 + 0.3 * len(ranked))
    colors = [h.PALETTE[3] if n == "ensemble" else h.TRAIN_COLOR for n, _ in ranked]
    values = [s for _, s in ranked]
    ax.barh(range(len(ranked)), values, color=colors)
    low, high = min(values), max(values)
    pad = (high - low) * 0.5 or abs(high) * 0.01 or 0.01
    ax.set_xlim(low - pad, high + pad * 0.6)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.5f}", va="center", fontsize=8)
    ax.set_yticks(range(len(ranked)), [h.short(n, 26) for n, _ in ranked], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"OOF {res.metric.name} of the current runs", fontsize=8)
    h.style_axes(ax, grid_axis="x")
    return body + h.heading("Current runs") + h.image(fig, "OOF score per run")


def _render_folds(res: Results) -> str:
    names = [n for n, _ in res.better({n: r.overall for n, r in res.runs.items()})]
    folds = {n: [float(s) for s in res.runs[n].scores.get("folds", [])] for n in names}
    if res.ensemble is not None and res.ensemble.scores.get("folds"):
        folds["ensemble"] = [float(s) for s in res.ensemble.scores["folds"]]
        names.append("ensemble")
    width = max((len(v) for v in folds.values()), default=0)
    rows = []
    for n in names:
        v = np.asarray(folds[n])
        cells = [h.num(float(x), 4) for x in v] + ["-"] * (width - len(v))
        stats = (h.num(float(v.mean()), 5), h.num(float(v.std()), 5), h.num(float(v.max() - v.min()), 4)) \
            if len(v) else ("-", "-", "-")
        rows.append((n, *cells, *stats))
    body = h.para("The spread across folds is how much a score moves with the rows it is measured on: a "
                  "difference between two runs smaller than it is noise.", "note")
    table = h.table(("run", *[f"fold {k}" for k in range(width)], "mean", "std", "range"), rows,
                    numeric=tuple(range(1, width + 4)), scroll=True)
    fig, ax = h.figure(max(4.5, 1.2 + 0.7 * len(names)), 3.0)
    for i, n in enumerate(names):
        v = np.asarray(folds[n])
        if not len(v):
            continue
        jitter = np.linspace(-0.12, 0.12, len(v))
        color = h.PALETTE[3] if n == "ensemble" else h.TRAIN_COLOR
        ax.plot([i, i], [v.min(), v.max()], color=color, alpha=0.4, linewidth=4, solid_capstyle="round")
        ax.scatter(i + jitter, v, s=16, color=color, zorder=3)
        ax.scatter([i], [v.mean()], marker="_", s=300, color="black", zorder=4)
    ax.set_xticks(range(len(names)), [h.short(n, 14) for n in names], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(res.metric.name, fontsize=8)
    ax.set_title("per-fold scores (bar: mean)", fontsize=10)
    h.style_axes(ax)
    return body + h.row([table, h.image(fig, "per-fold scores")])


def _render_oof(res: Results) -> str:
    members = res.members
    said = ""
    if res.task.n_targets > 1:  # a multi-target task: each column's score, then its first column as its own task
        said = _column_table(res) + h.para(f"The first target column, {res.task.targets[0]}, of "
                                           f"{res.task.n_targets}:", "note")
        res = replace(res, task=res.task.column(), y=np.asarray(res.y)[:, 0])
        members = {name: np.asarray(p)[:, 0] for name, p in members.items()}
    shown = dict(list(members.items())[-6:]) if len(members) > 6 else members
    if res.task.is_classification and res.task.n_classes == 2:
        return said + _calibration(res, shown)
    if res.task.is_classification:
        return said + _reliability(res, shown)
    return said + _residuals(res, members)


def _column_table(res: Results) -> str:
    """A multi-target task's OOF score per target column for each run and the ensemble (their scores.json
    `columns`; a competition's own metric scores only the whole: then nothing)."""
    runs = {**res.runs, **({"ensemble": res.ensemble} if res.ensemble is not None else {})}
    rows = [(name, *(f"{run.scores['columns'][t]:.5f}" for t in res.task.targets))
            for name, run in runs.items() if set(res.task.targets) <= set(run.scores.get("columns", {}))]
    if not rows:
        return ""
    return (h.para(f"OOF {res.metric.name} by target column:")
            + h.table(("run", *res.task.targets), rows, numeric=tuple(range(1, 1 + res.task.n_targets))))


def _calibration(res: Results, members: dict[str, np.ndarray]) -> str:
    from sklearn.calibration import calibration_curve

    fig, (ax1, ax2) = h.figure(10.0, 3.8, cols=2)
    ax1.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    for i, (name, p) in enumerate(members.items()):
        frac, mean = calibration_curve(res.y, np.clip(p, 0, 1), n_bins=10, strategy="quantile")
        color = "black" if name == "ensemble" else h.PALETTE[i % len(h.PALETTE)]
        ax1.plot(mean, frac, marker="o", markersize=3, color=color, label=h.short(name, 20),
                 linewidth=2 if name == "ensemble" else 1)
        ax2.hist(p, bins=30, range=(0, 1), histtype="step", color=color, label=h.short(name, 20))
    ax1.set_xlabel("mean predicted probability (decile of rows)", fontsize=8)
    ax1.set_ylabel(f"observed share of {res.task.classes[-1]}", fontsize=8)
    ax1.set_title("calibration (dashed: perfect)", fontsize=10)
    ax1.legend(fontsize=7, frameon=False)
    ax2.set_xlabel("predicted probability", fontsize=8)
    ax2.set_title("OOF predictions", fontsize=10)
    for ax in (ax1, ax2):
        h.style_axes(ax, grid_axis="both")
    return (h.para("Out-of-fold probabilities against the truth: a curve above the diagonal means the run "
                   "under-predicts the positive class there. AUC ignores calibration; log loss does not.", "note")
            + h.image(fig, "calibration curves"))


def _reliability(res: Results, members: dict[str, np.ndarray]) -> str:
    fig, ax = h.figure(5.5, 3.8)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    for i, (name, p) in enumerate(members.items()):
        conf = p.max(axis=1)
        correct = (p.argmax(axis=1) == res.y).astype(float)
        edges = np.unique(np.quantile(conf, np.linspace(0, 1, 11)))
        idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, len(edges) - 2)
        xs = [conf[idx == b].mean() for b in range(len(edges) - 1) if (idx == b).any()]
        ys = [correct[idx == b].mean() for b in range(len(edges) - 1) if (idx == b).any()]
        color = "black" if name == "ensemble" else h.PALETTE[i % len(h.PALETTE)]
        ax.plot(xs, ys, marker="o", markersize=3, color=color, label=h.short(name, 20))
    ax.set_xlabel("confidence (probability of the predicted class)", fontsize=8)
    ax.set_ylabel("accuracy", fontsize=8)
    ax.set_title("reliability of the predicted class (dashed: perfect)", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    h.style_axes(ax, grid_axis="both")
    return (h.para("Multiclass: rows grouped by the probability of their predicted class; a curve below the "
                   "diagonal means over-confident predictions.", "note") + h.image(fig, "reliability curves"))


def _residuals(res: Results, members: dict[str, np.ndarray]) -> str:
    name = "ensemble" if "ensemble" in members else res.better({n: r.overall for n, r in res.runs.items()})[0][0]
    pred = np.asarray(members[name], dtype=float)
    y = res.y.astype(float)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(y), size=min(len(y), MAX_POINTS), replace=False)
    fig, (ax1, ax2) = h.figure(10.0, 3.8, cols=2)
    ax1.scatter(y[rows], pred[rows], s=5, alpha=0.4, color=h.TRAIN_COLOR)
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax1.plot([low, high], [low, high], color="#999", linestyle="--", linewidth=1)
    if res.metric.target_transform is not None and y.min() > 0 and pred.min() > 0:
        ax1.set_xscale("log")
        ax1.set_yscale("log")
    ax1.set_xlabel(f"true {res.comp.target}", fontsize=8)
    ax1.set_ylabel("OOF prediction", fontsize=8)
    ax1.set_title(f"{name}: predicted vs true (dashed: perfect)", fontsize=10)
    t = res.metric.target_transform
    resid = (t.forward(pred) - t.forward(y)) if t is not None and y.min() > -1 and pred.min() > -1 else pred - y
    ax2.hist(resid, bins=50, color=h.PALETTE[2])
    ax2.axvline(0, color="#555", linewidth=0.8)
    ax2.set_xlabel("residual" + (f" on the {t.name} scale" if t is not None else " (prediction - truth)"), fontsize=8)
    ax2.set_title("residuals", fontsize=10)
    for ax in (ax1, ax2):
        h.style_axes(ax, grid_axis="both")
    return (h.para(f"Out-of-fold predictions of {h.esc(name)} against the target ({min(len(y), MAX_POINTS):,} rows "
                   f"drawn); a funnel means errors grow with the value.", "note") + h.image(fig, "residuals"))


def _render_importance(res: Results) -> str:
    if not res.importances:
        return h.para("No run wrote feature_importance.csv (tree models such as LightGBM do).", "note")
    names = list(res.importances)[:4]
    items = []
    for name in names:
        table = res.importances[name].head(20)
        values = table["importance"].to_numpy(dtype=float)
        total = res.importances[name]["importance"].sum()
        share = 100 * values / total if total > 0 else values
        fig, ax = h.figure(4.4, 0.7 + 0.2 * len(table))
        ax.barh(range(len(table)), share, color=h.PALETTE[2])
        ax.set_yticks(range(len(table)), [h.short(f, 24) for f in table["feature"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("% of the importance (mean over folds)", fontsize=7)
        h.style_axes(ax, grid_axis="x")
        items.append(h.card(f"<b>{h.esc(name)}</b> · top {len(table)} of {len(res.importances[name])} features",
                            h.image(fig, f"{name} feature importance")))
    more = len(res.importances) - len(names)
    note = h.para(f"{more} more run(s) with importances not shown.", "note") if more > 0 else ""
    return h.cards(items) + note


def _render_diversity(res: Results) -> str:
    members = res.members
    if len(res.runs) < 2:
        return h.para("One run: nothing to compare. Ensembles gain from members whose errors differ.", "note")
    names = list(members)
    flat = [np.asarray(members[n], dtype=float).reshape(len(res.y), -1).ravel() for n in names]
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant run's correlations are NaN, left blank
        corr = np.corrcoef(np.vstack(flat))
    size = 2.4 + 0.45 * len(names)
    fig, ax = h.figure(size + 1.0, size)
    off = corr[~np.eye(len(names), dtype=bool)]
    low = float(np.floor(np.nanmin(off) * 20) / 20) if np.isfinite(off).any() else 0.0
    im = h.heatmap(ax, corr, names, vmin=min(low, 0.95), vmax=1.0, cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return (h.para(f"Correlation of the runs' OOF predictions (mean off-diagonal {np.nanmean(off):.3f}). Members "
                   f"near 1.0 make the same mistakes; a blend gains most from strong runs that correlate less.",
                   "note") + h.image(fig, "OOF correlation", tight=True))


def _render_ensemble(res: Results) -> str:
    if res.ensemble is None:
        return h.para("No ensemble yet: `python -m pipeline run` runs the ensemble stage.", "note")
    s, params = res.ensemble.scores, res.ensemble_params
    body = h.para(f"chosen: <b>{h.esc(s.get('method', '?'))}</b>, honest OOF {res.metric.name} "
                  f"<b>{res.ensemble.overall:.5f}</b> (weights fitted on the other folds for each fold's rows).")
    parts = []
    if res.methods is not None and len(res.methods):
        m = res.methods
        rows = [(r["kind"], f"{r['name']} (optimistic)" if r.get("optimistic") is True else r["name"],
                 h.num(float(r["oof_score"]), 5),
                 "-" if r["in_sample_score"] != r["in_sample_score"] or r["in_sample_score"] is None
                 else h.num(float(r["in_sample_score"]), 5)) for _, r in m.iterrows()]
        parts.append(h.table(("kind", "name", f"OOF {res.metric.name}", "in-sample"), rows, numeric=(2, 3),
                             scroll=True))
        parts.append(_methods_plot(res, m, s.get("method")))
    weights = {k: float(v) for k, v in (s.get("weights") or params.get("weights") or {}).items()}
    if weights:
        ranked = sorted(weights.items(), key=lambda kv: -kv[1])
        fig, ax = h.figure(4.8, 0.7 + 0.3 * len(ranked))
        ax.barh(range(len(ranked)), [w for _, w in ranked], color=h.PALETTE[4])
        ax.set_yticks(range(len(ranked)), [h.short(n, 24) for n, _ in ranked], fontsize=8)
        ax.invert_yaxis()
        for i, (_, w) in enumerate(ranked):
            ax.text(w, i, f" {w:.3f}", va="center", fontsize=8)
        ax.set_xlabel("weight", fontsize=8)
        ax.set_title(f"{s.get('method', '?')} weights", fontsize=10)
        h.style_axes(ax, grid_axis="x")
        parts.append(h.image(fig, "ensemble weights"))
    body += h.row(parts)
    details = params.get("details")
    if details:
        text = json.dumps(details, indent=1, default=str)
        if len(text) > 4000:
            text = text[:4000] + "\n..."
        body += h.heading("Details (params.json)") + f"<pre>{h.esc(text)}</pre>"
    return body


def _methods_plot(res: Results, board, chosen: str | None) -> str:
    """Honest OOF score of every member and every ensemble method, the chosen one highlighted."""
    names = [f"{'· ' if k == 'member' else ''}{n}" for k, n in zip(board["kind"], board["name"])]
    values = board["oof_score"].to_numpy(dtype=float)
    order = np.argsort(-res.metric.sign * values)
    fig, ax = h.figure(4.8, 0.7 + 0.26 * len(values))
    colors = [h.PALETTE[3] if board["name"].iloc[i] == chosen and board["kind"].iloc[i] == "method"
              else (h.TRAIN_COLOR if board["kind"].iloc[i] == "method" else "#9aa3b2") for i in order]
    ax.barh(range(len(order)), values[order], color=colors)
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.5 or abs(high) * 0.01 or 0.01
    ax.set_xlim(low - pad, high + pad * 0.6)
    ax.set_yticks(range(len(order)), [h.short(names[i], 22) for i in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"honest OOF {res.metric.name} (· member; red: chosen)", fontsize=8)
    h.style_axes(ax, grid_axis="x")
    return h.image(fig, "ensemble methods")


def _render_diff(res: Results) -> str:
    from pipeline.diff import Side, compare, format_comparison

    if len(res.runs) < 2:
        return h.para("One run: nothing to compare. `python -m pipeline diff A B` compares any two runs.", "note")
    (a, _), (b, _) = res.better({n: r.overall for n, r in res.runs.items()})[:2]
    sides = []
    for name in (a, b):
        run = res.runs[name]
        params = dict(run.params)
        features = params.pop("features", None)
        sides.append(Side(name, name, str(run.path.relative_to(res.comp.root)) if run.path.is_relative_to(
            res.comp.root) else str(run.path), params, features, [float(x) for x in run.scores.get("folds", [])],
            run.overall, oof=run.oof))
    c = compare(*sides, metric=res.metric, ids=res.row_ids, y=res.y, rows=10)
    fa, fb = (np.asarray(x.oof, dtype=float) for x in sides)
    if res.task.n_targets > 1:  # a multi-target task: its first target column, as the OOF section shows it
        fa, fb, what = fa[:, 0], fb[:, 0], f"OOF prediction of {res.task.targets[0]}"
    elif fa.ndim == 2 and fa.shape[1] > 1:  # multiclass: the probability each gives the true class
        rows = np.arange(len(res.y))
        fa, fb, what = fa[rows, res.y], fb[rows, res.y], "probability of the true class"
    else:
        fa, fb, what = fa.reshape(-1), fb.reshape(-1), "OOF prediction"
    pick = np.random.default_rng(0).choice(len(fa), size=min(len(fa), MAX_POINTS), replace=False)
    fig, ax = h.figure(4.6, 4.2)
    ax.scatter(fa[pick], fb[pick], s=5, alpha=0.4, color=h.TRAIN_COLOR)
    low, high = float(min(fa.min(), fb.min())), float(max(fa.max(), fb.max()))
    ax.plot([low, high], [low, high], color="#999", linestyle="--", linewidth=1)
    ax.set_xlabel(f"{h.short(a, 24)}: {what}", fontsize=8)
    ax.set_ylabel(f"{h.short(b, 24)}: {what}", fontsize=8)
    ax.set_title("the two best runs, row by row", fontsize=10)
    h.style_axes(ax, grid_axis="both")
    text = "\n".join(format_comparison(c))
    return (h.para(f"The two best runs compared, as <code>python -m pipeline diff {h.esc(a)} {h.esc(b)}</code> "
                   f"prints it (any two runs, registry run ids included, from the command line).", "note")
            + h.row([f"<pre>{h.esc(text)}</pre>", h.image(fig, "two best runs")]))


# ---- CV vs leaderboard -----------------------------------------------------------------------------

@dataclass(frozen=True)
class LbCheck:
    """A way CV and the leaderboard can disagree: its name and the function listing its cases."""

    kind: str
    find: Callable[[Results, list[dict], float], list[str]]


def _fold_noise(res: Results) -> float:
    """How much a score moves with the rows it is measured on: the ensemble's (else the best run's) fold std."""
    run = res.ensemble
    if run is None:
        run = max(res.runs.values(), key=lambda r: res.metric.sign * r.overall)
    folds = np.asarray(run.scores.get("folds", []), dtype=float)
    return float(folds.std()) if len(folds) > 1 else 0.0


def _check_gap(res: Results, rows: list[dict], noise: float) -> list[str]:
    out = []
    for r in rows:
        gap = r["lb"] - r["cv"]
        if noise > 0 and abs(gap) > 2 * noise:
            side = "better" if res.metric.sign * gap > 0 else "worse"
            out.append(f"{r['submission']}: LB {r['lb']:g} is {side} than CV {r['cv']:.5f} by {abs(gap):.4f}, more "
                       f"than twice the fold spread ({noise:.4f}): the public LB rows may differ from train, or "
                       f"the CV leaks")
    return out


def _check_order(res: Results, rows: list[dict], noise: float) -> list[str]:
    out = []
    for prev, cur in zip(rows, rows[1:]):
        d_cv, d_lb = res.metric.sign * (cur["cv"] - prev["cv"]), res.metric.sign * (cur["lb"] - prev["lb"])
        if d_cv > 0 and d_lb < -max(noise / 2, 1e-12):
            out.append(f"{cur['submission']}: CV improved by {d_cv:.4f} over {prev['submission']} but the LB got "
                       f"worse by {-d_lb:.4f}")
    return out


def _check_rank(res: Results, rows: list[dict], noise: float) -> list[str]:
    if len(rows) < 3:
        return []
    from scipy.stats import spearmanr

    rho = float(spearmanr([r["cv"] for r in rows], [r["lb"] for r in rows]).statistic)
    if rho == rho and rho < 0.5:
        return [f"over {len(rows)} submissions CV and LB rank them differently (Spearman {rho:.2f}): do not trust "
                f"small CV gains; check the folds match how test was split"]
    return []


# Ways CV and the public leaderboard diverge, in the order the report lists them.
LB_CHECKS: list[LbCheck] = [LbCheck("gap", _check_gap), LbCheck("order", _check_order), LbCheck("rank", _check_rank)]


def lb_warnings(res: Results) -> list[str]:
    """Every divergence between CV and the recorded leaderboard scores (with a CV score)."""
    rows = [r for r in res.lb_rows if r["cv"] is not None]
    noise = _fold_noise(res)
    return [w for check in LB_CHECKS for w in check.find(res, rows, noise)]


def _render_cv_vs_lb(res: Results) -> str:
    rows = [r for r in res.lb_rows if r["cv"] is not None]
    if not rows:
        return h.para("No public leaderboard scores yet. After submitting a file, record its score with "
                      "<code>python -m pipeline lb submissions/&lt;name&gt;/&lt;file&gt;.csv SCORE</code>; this "
                      "section then plots CV against LB for every submission and warns when they diverge.", "note")
    noise = _fold_noise(res)
    table = [(r["recorded_at"].strftime("%Y-%m-%d %H:%M"), r["submission"], h.num(r["cv"], 5), h.num(r["lb"], 5),
              f"{r['lb'] - r['cv']:+.5f}", r.get("note") or "") for r in rows]
    body = h.table(("recorded (UTC)", "submission", "CV", "public LB", "LB - CV", "note"), table,
                   numeric=(2, 3, 4), scroll=True)
    warnings = lb_warnings(res)
    if warnings:
        body += h.bullet_list(f'<span class="badge bad">diverge</span>{h.esc(w)}' for w in warnings)
    else:
        body += h.para('<span class="badge ok">consistent</span>LB follows CV within the fold spread '
                       f"({noise:.4f}).")
    cv = np.array([r["cv"] for r in rows])
    lb = np.array([r["lb"] for r in rows])
    fig, ax = h.figure(5.0, 4.0)
    low, high = float(min(cv.min(), lb.min())), float(max(cv.max(), lb.max()))
    pad = max((high - low) * 0.2, noise, 1e-3)
    line = np.array([low - pad, high + pad])
    ax.plot(line, line, color="#999", linestyle="--", linewidth=1, label="LB = CV")
    if noise > 0:
        ax.fill_between(line, line - 2 * noise, line + 2 * noise, color="#ddd", alpha=0.6, label="± 2 fold std")
    ax.plot(cv, lb, color=h.TRAIN_COLOR, linewidth=0.8, alpha=0.5)
    ax.scatter(cv, lb, color=h.TRAIN_COLOR, zorder=3, s=22)
    for i, (x, y) in enumerate(zip(cv, lb)):
        ax.annotate(str(i + 1), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlim(line)
    ax.set_ylim(line)
    ax.set_xlabel(f"CV {res.metric.name}", fontsize=8)
    ax.set_ylabel(f"public LB {res.metric.name}", fontsize=8)
    ax.set_title("CV against LB, submissions in order", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    h.style_axes(ax, grid_axis="both")
    return body + h.image(fig, "CV against leaderboard")


SECTIONS: list[ResultsSection] = [
    ResultsSection("leaderboard", "Leaderboard", _render_leaderboard),
    ResultsSection("folds", "Per-fold scores", _render_folds),
    ResultsSection("oof", "OOF predictions against the target", _render_oof),
    ResultsSection("importance", "Feature importance", _render_importance),
    ResultsSection("diversity", "Ensemble diversity", _render_diversity),
    ResultsSection("ensemble", "Ensemble", _render_ensemble),
    ResultsSection("diff", "Two best runs compared", _render_diff),
    ResultsSection("cv_vs_lb", "CV vs leaderboard", _render_cv_vs_lb),
]
