"""The EDA report's page: one self-contained HTML file drawn from `pipeline.reports.eda`'s facts.

Each section is an entry of `SECTIONS` (anchor, heading, renderer, when it applies); the figures are
drawn from the facts and the row samples, with matplotlib's object API (`_html.figure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline.reports import _html as h
from pipeline.reports import eda as E


@dataclass(frozen=True)
class EdaSection:
    """A part of the EDA page: its anchor and heading, when it applies, and its renderer."""

    key: str
    title: str
    render: Callable[[E.EDA], str]
    applies: Callable[[E.EDA], bool] = lambda eda: True


def render(eda: E.EDA, *, on_section: Callable[[str], None] | None = None) -> str:
    """The EDA page (one self-contained HTML file)."""
    sections = []
    for s in SECTIONS:
        if s.applies(eda):
            sections.append(h.Section(s.key, s.title, s.render(eda)))
            if on_section is not None:
                on_section(s.key)
    o = eda.overview
    subtitle = (f"train {o['train_rows']:,} rows x {o['train_columns']} columns, test {o['test_rows']:,} x "
                f"{o['test_columns']}; target {eda.target} ({eda.task.task}, metric {eda.metric.name})")
    return h.page(f"EDA: {eda.name}", subtitle, sections)


def _sample_note(eda: E.EDA, what: str) -> str:
    if not eda.sampled:
        return ""
    return h.para(f"{h.esc(what)} use a random sample of {len(eda.train_s):,} of {len(eda.train):,} train rows "
                  f"and {len(eda.test_s):,} of {len(eda.test):,} test rows.", "note")


def _render_overview(eda: E.EDA) -> str:
    o = eda.overview
    rows = [("rows", o["train_rows"], o["test_rows"]), ("columns", o["train_columns"], o["test_columns"]),
            ("duplicate rows (all columns but the id)", o["duplicate_rows"], o["duplicate_test_rows"]),
            ("feature rows seen with different targets", o["conflicting_duplicates"], None)]
    facts = [("memory (train + test)", f"{o['memory_mb']:,.1f} MB"),
             ("duplicate ids", f"{o['duplicate_ids']:,}"),
             ("missing cells (train features)", h.pct(o["missing_cells"])),
             ("column kinds", ", ".join(f"{n} {k}" for k, n in o["kinds"].items()) or "-"),
             ("dtypes (train)", ", ".join(f"{n} {k}" for k, n in o["dtypes"].items())),
             ("constant columns", ", ".join(c for c, f in eda.columns.items() if f["unique"] <= 1) or "none"),
             ("only in train", ", ".join(o["train_only"]) or "none"),
             ("only in test", ", ".join(o["test_only"]) or "none")]
    rows = [(name, h.num(a), h.num(b)) for name, a, b in rows]
    body = h.row([h.table(("", "train", "test"), rows, numeric=(1, 2)), h.table(("fact", "value"), facts)])
    return body + _overview_plot(eda) + _sample_note(eda, "Distributions, drift, plots and models")


def _overview_plot(eda: E.EDA) -> str:
    kinds = eda.overview["kinds"]
    fig, ax = h.figure(3.4, 0.35 + 0.3 * max(1, len(kinds)))
    ax.barh(range(len(kinds)), list(kinds.values()), color=h.PALETTE[: len(kinds)], height=0.6)
    ax.set_yticks(range(len(kinds)), list(kinds), fontsize=8)
    for i, n in enumerate(kinds.values()):
        ax.text(n, i, f" {n}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xticks([])
    h.style_axes(ax, grid_axis="x")
    figures = [h.card("feature columns by kind", h.image(fig, "column kinds"))]
    missing = sorted(((f["missing_train"], f["missing_test"] or 0.0, c) for c, f in eda.columns.items()),
                     reverse=True)
    missing = [m for m in missing if m[0] > 0 or m[1] > 0][:20]
    if missing:
        fig, ax = h.figure(5.5, 0.8 + 0.3 * len(missing))
        y = np.arange(len(missing))
        ax.barh(y - 0.2, [100 * m[0] for m in missing], 0.4, color=h.TRAIN_COLOR, label="train")
        ax.barh(y + 0.2, [100 * m[1] for m in missing], 0.4, color=h.TEST_COLOR, label="test")
        ax.set_yticks(y, [h.short(m[2], 22) for m in missing], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("% missing", fontsize=8)
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        h.style_axes(ax, grid_axis="x")
        figures.append(h.card("missing values (most affected columns)", h.image(fig, "missing values")))
    else:
        figures.append(h.card("missing values", h.para("no missing values in train or test", "note")))
    return h.cards(figures)


def _render_warnings(eda: E.EDA) -> str:
    if not eda.findings:
        return h.para('<span class="badge ok">none</span>no leak hints, id-like columns, drift or data problems found.')
    parts = []
    for check in E.CHECKS:
        items = [f for f in eda.findings if f.kind == check.kind]
        if items:
            parts.append(f"<h3>{h.esc(check.title)}</h3>" + h.bullet_list(h.esc(f.message) for f in items))
    return "".join(parts)


def _render_target(eda: E.EDA) -> str:
    t = eda.target_facts
    if eda.task.is_classification:
        total = sum(t["counts"].values())
        body = h.table(("class", "rows", "share"), [(k, v, h.pct(v / total)) for k, v in t["counts"].items()],
                       numeric=(1, 2))
        body += h.para(f"imbalance (largest / smallest class): {t['imbalance']:.2f}; rarest class "
                       f"{h.pct(t['minority_share'])} of the rows.")
    else:
        rows = [(k, h.num(t[k])) for k in ("mean", "std", "min", "median", "max", "skew", "log1p_skew") if k in t]
        body = h.table(("statistic", "value"), rows, numeric=(1,)) + h.para(f"log transform: {h.esc(t['advice'])}")
    return body + _target_plot(eda)


def _render_target_columns(eda: E.EDA) -> str:
    """A multi-target task's target columns side by side, and how they move together."""
    facts = eda.target_columns
    names = list(facts["columns"])
    if eda.task.is_classification:
        rows = [(c, h.pct(f["positive_share"]), f["missing"]) for c, f in facts["columns"].items()]
        body = h.table(("target column", "share of 1s", "missing"), rows, numeric=(1, 2))
    else:
        rows = [(c, *(h.num(f[k]) for k in ("mean", "std", "min", "max")), f["missing"])
                for c, f in facts["columns"].items()]
        body = h.table(("target column", "mean", "std", "min", "max", "missing"), rows, numeric=(1, 2, 3, 4, 5))
    body += h.para(f"The sections below describe the first target column, {h.esc(eda.target)}; every column is "
                   f"modelled and scored (README, Multi-target tasks).")
    if facts["most_correlated"]:
        body += h.para("Most correlated (Pearson): " + "; ".join(
            f"{h.esc(p['columns'][0])} ~ {h.esc(p['columns'][1])} {p['r']:.2f}" for p in facts["most_correlated"]))
    if len(names) <= 40:
        corr = np.array([[np.nan if x is None else x for x in row] for row in facts["correlation"]], dtype=float)
        body += _correlation_image(corr, names, "target columns' correlation heatmap")
    return body


def _target_plot(eda: E.EDA) -> str:
    y = eda.train[eda.target]
    if eda.task.is_classification:
        counts = eda.target_facts["counts"]
        fig, ax = h.figure(min(9.0, 2.5 + 0.45 * len(counts)), 2.6)
        ax.bar([h.short(k, 12) for k in counts], list(counts.values()), color=h.TRAIN_COLOR)
        ax.set_title(f"{eda.target}: rows per class", fontsize=10)
        h.style_axes(ax)
        return h.image(fig, "class counts")
    v = np.asarray(y, dtype=float)
    v = v[np.isfinite(v)]
    log = "log1p_skew" in eda.target_facts
    fig, axes = h.figure(9.0 if log else 4.5, 2.6, cols=2 if log else 1)
    axes = list(axes) if log else [axes]
    axes[0].hist(v, bins=50, color=h.TRAIN_COLOR)
    axes[0].set_title(f"{eda.target} (skew {eda.target_facts['skew']:.2f})", fontsize=10)
    if log:
        axes[1].hist(np.log1p(v), bins=50, color=h.PALETTE[2])
        axes[1].set_title(f"log1p({eda.target}) (skew {eda.target_facts['log1p_skew']:.2f})", fontsize=10)
    for ax in axes:
        h.style_axes(ax)
    return h.image(fig, "target distribution")


def _render_adversarial(eda: E.EDA) -> str:
    a = eda.adversarial
    if a.get("auc") is None:
        return h.para(f"Adversarial validation {h.esc(a.get('verdict', 'not run'))}.", "note")
    css = "ok" if a["auc"] < 0.6 else ("info" if a["auc"] < E.ADVERSARIAL_WARN else "bad")
    body = h.para(f'<span class="big">AUC {a["auc"]:.3f}</span> <span class="muted">(± {a["chance_spread"]:.3f} by '
                  f'chance alone)</span> <span class="badge {css}">{h.esc(a["verdict"])}</span>')
    body += h.para(f"A LightGBM classifier ({a['rounds']} rounds, {a['folds']}-fold cross-validated) learns to tell "
                   f"{a['train_rows']:,} train rows from {a['test_rows']:,} test rows. AUC near 0.5: it cannot, so "
                   f"test looks like train and CV scores should carry over. A high AUC means test differs from "
                   f"train; the columns below are how it tells them apart.", "note")
    if a["excluded"]:
        body += h.para(f"Left out as id-like: {h.esc(', '.join(a['excluded']))}.", "note")
    top = list(a["importance"].items())[:15]
    fig, ax = h.figure(6.5, 0.6 + 0.24 * len(top))
    ax.barh(range(len(top)), [100 * s for _, s in top], color=h.PALETTE[3] if css == "bad" else h.TRAIN_COLOR)
    ax.set_yticks(range(len(top)), [h.short(c, 24) for c, _ in top], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share of the classifier's split gain, %", fontsize=8)
    ax.set_title("columns that separate test from train", fontsize=10)
    h.style_axes(ax, grid_axis="x")
    return body + h.image(fig, "adversarial feature importance")


def _render_columns(eda: E.EDA) -> str:
    rows = []
    for c, f in eda.columns.items():
        if f["kind"] == "text":
            top = f"mean {f['mean_chars']:,.0f} characters"
        elif E.id_like(eda, c):
            top = f"{f['unique']:,} distinct values"
        else:
            top = ", ".join(f"{h.short(v, 16)} ({s:.0%})" for v, s in f["top"][:3])
        rows.append((c, f["kind"], f["dtype"], h.pct(f["missing_train"]), h.pct(f["missing_test"]),
                     f["unique"], top, h.num(f.get("drift"), 3), f.get("drift_stat", "-"),
                     h.pct(f.get("unseen_in_test")) if "unseen_in_test" in f else "-"))
    body = h.para("Ordered by drift: the larger of the distribution statistic (Kolmogorov-Smirnov for numbers, "
                  "text lengths and dates; total variation distance for categories; 0 = same distribution, "
                  "1 = disjoint) and the change in missing share.", "note")
    body += h.table(("column", "kind", "dtype", "missing train", "missing test", "unique", "top values",
                     "drift", "statistic", "unseen in test"), rows, numeric=(3, 4, 5, 7, 9), scroll=True)
    plotted = list(eda.columns)[: eda.options.column_plots]
    if len(plotted) < len(eda.columns):
        body += h.para(f"Train-vs-test plots for the {len(plotted)} most drifted of {len(eda.columns)} columns "
                       f"(explore.column_plots).", "note")
    body += h.cards(h.card(f"<b>{h.esc(c)}</b> · {eda.columns[c]['kind']} · drift "
                           f"{h.num(eda.columns[c].get('drift'), 3)}", _column_plot(eda, c)) for c in plotted)
    return body + _sample_note(eda, "The plots and drift statistics")


def _column_plot(eda: E.EDA, column: str) -> str:
    kind = eda.kinds[column]
    if E.id_like(eda, column):
        f = eda.columns[column]
        unseen = f.get("unseen_in_test")
        return h.para(f"id-like: {f['unique']:,} distinct values"
                      + (f",<br>{unseen:.0%} of test values unseen in train" if unseen is not None else ""), "note")
    in_test = column in eda.test_s.columns
    fig, ax = h.figure(3.4, 2.2)
    if kind == "categorical":
        a = eda.train_s[column].astype(str).where(eda.train_s[column].notna(), "(missing)")
        top = a.value_counts().head(8).index.tolist()
        parts = [("train", a, h.TRAIN_COLOR)]
        if in_test:
            b = eda.test_s[column].astype(str).where(eda.test_s[column].notna(), "(missing)")
            parts.append(("test", b, h.TEST_COLOR))
        other = any(not s.isin(top).all() for _, s, _ in parts)
        y = np.arange(len(top) + int(other))
        width = 0.8 / len(parts)
        for i, (label, s, color) in enumerate(parts):
            shares = s.value_counts(normalize=True)
            vals = [shares.get(v, 0.0) for v in top]
            if other:
                vals.append(max(0.0, 1 - sum(vals)))
            ax.barh(y + (i - (len(parts) - 1) / 2) * width, vals, width, color=color, label=label)
        ax.set_yticks(y, [h.short(v, 14) for v in top] + (["(other)"] if other else []), fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("share of rows", fontsize=7)
        h.style_axes(ax, grid_axis="x")
    else:
        x = eda.view(column, "train")
        z = eda.view(column, "test") if in_test else np.array([])
        x, z = x[np.isfinite(x)], z[np.isfinite(z)]
        both = np.concatenate([x, z])
        values = np.unique(both[: 200_000]) if len(both) else both
        if 0 < len(values) <= 20:  # few distinct values: shares per value
            pos = np.arange(len(values))
            for i, (arr, color, label) in enumerate(((x, h.TRAIN_COLOR, "train"), (z, h.TEST_COLOR, "test"))):
                if len(arr):
                    shares = [np.mean(arr == v) for v in values]
                    ax.bar(pos + (i - 0.5) * 0.4, shares, 0.4, color=color, label=label)
            ax.set_xticks(pos, [h.short(f"{v:g}", 8) for v in values], fontsize=7,
                          rotation=45 if len(values) > 8 else 0)
            ax.set_ylabel("share", fontsize=7)
        elif len(values):
            low, high = np.quantile(both, [0.005, 0.995])
            if high <= low:
                low, high = float(both.min()), float(both.max()) + 1e-9
            bins = np.linspace(low, high, 31)
            for arr, color, label in ((x, h.TRAIN_COLOR, "train"), (z, h.TEST_COLOR, "test")):
                if len(arr):
                    ax.hist(np.clip(arr, low, high), bins=bins, density=True, histtype="stepfilled", alpha=0.45,
                            color=color, label=label, edgecolor=color)
            ax.set_xlabel("length (characters)" if kind == "text" else ("date" if kind == "datetime" else ""),
                          fontsize=7)
            ax.set_yticks([])
        h.style_axes(ax)
    if ax.get_legend_handles_labels()[0]:  # a column with no finite value draws nothing to label
        ax.legend(fontsize=7, frameon=False)
    return h.image(fig, f"{column}: train vs test")


def _render_association(eda: E.EDA) -> str:
    top = list(eda.association.items())[:25]
    n = min(len(eda.y_s), eda.options.association_rows)
    body = h.para(f"Mutual information between each column and {h.esc(eda.target)} (k-NN estimate on {n:,} train "
                  f"rows; 0 = independent, higher = more informative; text columns by their length), and the "
                  f"out-of-fold share of the target one binned column explains alone (leak hints above "
                  f"{E.LEAK_SCORE:.0%}).", "note")
    skipped = [c for c in eda.kinds if E.id_like(eda, c)]
    if skipped:
        body += h.para(f"Left out as id-like: {h.esc(', '.join(skipped))}.", "note")
    board = h.table(("column", "kind", "mutual information", "explained alone"),
                    [(c, eda.kinds[c], h.num(v, 4), h.pct(eda.leak.get(c))) for c, v in top], numeric=(2, 3),
                    scroll=True)
    if not top:
        return body + board
    fig, ax = h.figure(6.0, 0.6 + 0.22 * min(20, len(top)))
    shown = top[:20]
    ax.barh(range(len(shown)), [v for _, v in shown], color=h.PALETTE[2])
    ax.set_yticks(range(len(shown)), [h.short(c, 24) for c, _ in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mutual information with the target (nats)", fontsize=8)
    ax.set_title("association with the target", fontsize=10)
    h.style_axes(ax, grid_axis="x")
    body += h.row([board, h.image(fig, "mutual information")])
    body += h.heading("Rank correlation of the most associated columns") + _heatmap(eda, [c for c, _ in top[:12]])
    overall = "" if E.is_multiclass(eda) else " (dashed: overall)"
    body += h.heading(f"{E.target_label(eda).capitalize()} by value of the most associated columns{overall}")
    body += _profiles(eda, [c for c, _ in top[:6]])
    return body


def _heatmap(eda: E.EDA, cols: list[str]) -> str:
    import pandas as pd

    data = {c: eda.view(c) for c in cols}
    if not eda.task.is_classification or eda.task.n_classes == 2:
        data[f"[{eda.target}]"] = eda.y_s.astype(float)
    if len(data) < 2:
        return ""
    corr = pd.DataFrame(data).iloc[:20_000].corr(method="spearman").to_numpy()
    return _correlation_image(corr, list(data), "correlation heatmap")


def _correlation_image(corr: np.ndarray, labels: list[str], alt: str) -> str:
    """A square correlation heatmap with its colour bar, sized by the number of labels."""
    size = 2.2 + 0.38 * len(labels)
    fig, ax = h.figure(size + 1.0, size)
    im = h.heatmap(ax, corr, labels)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return h.image(fig, alt, tight=True)


def _profiles(eda: E.EDA, cols: list[str]) -> str:
    """The target's mean (classification: share of each class) by category or quantile bin of each column."""
    if not cols:
        return ""
    n_cols = min(3, len(cols))
    n_rows = (len(cols) + n_cols - 1) // n_cols
    fig, axes = h.figure(3.3 * n_cols, 2.4 * n_rows, rows=n_rows, cols=n_cols)
    flat = np.atleast_1d(axes).ravel()
    y = eda.y_s
    classes = eda.task.classes if eda.task.is_classification else ()
    for ax, c in zip(flat, cols):
        labels, groups = _profile_groups(eda, c)
        if E.is_multiclass(eda):
            bottom = np.zeros(len(groups))
            for k, label in enumerate(classes):
                shares = np.array([np.mean(y[g] == k) if g.any() else 0 for g in groups])
                ax.bar(range(len(groups)), shares, bottom=bottom, color=h.PALETTE[k % len(h.PALETTE)],
                       label=h.short(label, 8))
                bottom += shares
            ax.set_ylabel("class share", fontsize=7)
        else:
            target = (y == y.max()).astype(float) if eda.task.is_classification else y.astype(float)
            means = [target[g].mean() if g.any() else np.nan for g in groups]
            ax.bar(range(len(groups)), means, color=h.PALETTE[4])
            ax.axhline(float(target.mean()), color="#555", linewidth=0.8, linestyle="--")
            ax.set_ylabel(E.target_label(eda) if eda.task.is_classification else f"mean {eda.target}", fontsize=7)
        ax.set_xticks(range(len(groups)), labels, rotation=45, ha="right", fontsize=6)
        ax.set_title(h.short(c, 30), fontsize=9)
        h.style_axes(ax)
    for ax in flat[len(cols):]:
        ax.axis("off")
    if E.is_multiclass(eda):
        handles, labels = flat[0].get_legend_handles_labels()
        fig.legend(handles[::-1], labels[::-1], loc="outside right upper", fontsize=7, frameon=False,
                   title=eda.target, title_fontsize=8)
    return h.image(fig, "target by column value")


def _profile_groups(eda: E.EDA, column: str) -> tuple[list[str], list[np.ndarray]]:
    kind = eda.kinds[column]
    if kind == "categorical":
        s = eda.train_s[column].astype(str).where(eda.train_s[column].notna(), "(missing)").to_numpy()
        values, counts = np.unique(s, return_counts=True)
        top = values[np.argsort(-counts)][:8]
        groups = [s == v for v in top]
        labels = [h.short(v, 12) for v in top]
        rest = ~np.isin(s, top)
        if rest.any():
            groups.append(rest)
            labels.append("(other)")
        return labels, groups
    x = eda.view(column)
    ok = np.isfinite(x)
    values = np.unique(x[ok])
    if len(values) <= 8:
        groups = [x == v for v in values]
        labels = [h.short(f"{v:g}", 10) for v in values]
    else:
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, 9)))
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        groups = [ok & (idx == i) for i in range(len(edges) - 1)]
        labels = [f"{_short_num(edges[i])}–{_short_num(edges[i + 1])}" for i in range(len(edges) - 1)]
    if (~ok).any():
        groups.append(~ok)
        labels.append("(missing)")
    return labels, groups


def _short_num(value: float) -> str:
    """A bin edge for a tick label: 3 significant digits, thousands as 12k / 3.4M."""
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}" if a >= 1000 else f"{value:.3g}"


def _render_text(eda: E.EDA) -> str:
    parts = []
    for c, t in eda.text.items():
        parts.append(f"<h3>{h.esc(c)}</h3>")
        if not t.get("tokens"):
            parts.append(h.para("no tokens beyond stop words", "note"))
            continue
        parts.append(h.para(f"mean length {t['mean_chars']:.0f} characters, {t['mean_words']:.0f} words "
                            f"(train sample).", "note"))
        parts.append(_text_plot(eda, c, t))
    return "".join(parts)


def _text_plot(eda: E.EDA, column: str, t: dict) -> str:
    fig, (ax1, ax2, ax3) = h.figure(11.0, 3.4, cols=3, gridspec_kw={"width_ratios": [1, 1, 1.1]})
    for ax, unit in ((ax1, "characters"), (ax2, "words")):
        for frame, color, label in ((eda.train_s, h.TRAIN_COLOR, "train"), (eda.test_s, h.TEST_COLOR, "test")):
            if column not in frame.columns:
                continue
            s = frame[column].dropna().astype(str)
            v = (s.str.len() if unit == "characters" else s.str.split().str.len()).to_numpy(dtype=float)
            if len(v):
                high = np.quantile(v, 0.99)
                ax.hist(np.clip(v, 0, high), bins=40, density=True, alpha=0.45, color=color, label=label)
        ax.set_title(f"length in {unit}", fontsize=10)
        ax.set_yticks([])
        ax.legend(fontsize=7, frameon=False)
        h.style_axes(ax)
    tokens = t["tokens"][:20]
    ax3.barh(range(len(tokens)), [100 * x["doc_share"] for x in tokens], color=h.PALETTE[2])
    labels = [f"{x['token']}  ({x['target_mean']:.2f})" if x["target_mean"] is not None else x["token"]
              for x in tokens]
    ax3.set_yticks(range(len(tokens)), labels, fontsize=7)
    ax3.invert_yaxis()
    if t["target_mean"] is None:
        ax3.set_xlabel("% of rows holding the token", fontsize=7)
        ax3.set_title("top tokens", fontsize=10)
    else:
        ax3.set_xlabel(f"% of rows holding the token   ({t['target_label']} among them)", fontsize=7)
        ax3.set_title(f"top tokens ({t['target_label']}: {t['target_mean']:.2f} overall)", fontsize=10)
    h.style_axes(ax3, grid_axis="x")
    return h.image(fig, f"{column}: lengths and top tokens")


def _render_images(eda: E.EDA) -> str:
    cols, (channels, height, width) = eda.grid
    n_train, n_test = 24, 8
    tr = eda.train_s[cols].to_numpy(dtype=float)[:n_train]
    in_test = set(cols) <= set(eda.test_s.columns)
    te = eda.test_s[cols].to_numpy(dtype=float)[:n_test] if in_test else np.zeros((0, len(cols)))
    labels = eda.train_s[eda.target].iloc[:n_train].tolist()
    n_img = len(tr) + len(te)
    per_row = 8
    rows = (n_img + per_row - 1) // per_row
    fig, axes = h.figure(per_row * 1.0, rows * 1.15, rows=rows, cols=per_row)
    flat = np.atleast_1d(axes).ravel()
    scale = np.nanmax(np.abs(np.concatenate([tr.ravel(), te.ravel()]))) or 1.0
    for i, ax in enumerate(flat):
        ax.axis("off")
        if i >= n_img:
            continue
        pixels = (tr[i] if i < len(tr) else te[i - len(tr)]).reshape(channels, height, width)
        if channels == 1:
            ax.imshow(pixels[0], cmap="gray_r", vmin=0, vmax=scale)
        else:
            ax.imshow(np.clip(pixels[:3].transpose(1, 2, 0) / scale, 0, 1))
        title = f"{eda.target}={labels[i]}" if i < len(tr) else "test"
        ax.set_title(h.short(title, 14), fontsize=7, color="#333" if i < len(tr) else h.TEST_COLOR)
    body = h.para(f"{len(cols)} pixel columns form {channels} x {height} x {width} images; {len(tr)} train images "
                  f"(labelled) and {len(te)} test images from the sample.", "note")
    return body + h.image(fig, "sample images")


SECTIONS: list[EdaSection] = [
    EdaSection("overview", "Overview", _render_overview),
    EdaSection("warnings", "Warnings", _render_warnings),
    EdaSection("target_columns", "Target columns", _render_target_columns, lambda eda: bool(eda.target_columns)),
    EdaSection("target", "Target", _render_target),
    EdaSection("adversarial", "Adversarial validation", _render_adversarial),
    EdaSection("columns", "Columns", _render_columns),
    EdaSection("association", "Relation to the target", _render_association),
    EdaSection("text", "Text columns", _render_text, lambda eda: bool(eda.text)),
    EdaSection("images", "Images", _render_images, lambda eda: eda.grid is not None),
]
