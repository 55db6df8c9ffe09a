"""The EDA report on train and test: facts (summary.json) and a self-contained HTML page.

`analyze` computes the facts once: overview, target, per-column type, missing values, top values
and train/test drift, adversarial validation (can a LightGBM model tell test rows from train
rows?), association with the target, warnings, text and pixel-grid columns. Counts, missing
values, top values and duplicates use the full tables; distributions, drift, plots and models use
random row samples (`Options`), and the report says so. Each warning kind is an entry of `CHECKS`;
the page is drawn by `pipeline.reports.eda_page`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from core.errors import shown

KINDS = ("numeric", "categorical", "text", "datetime")
ID_LIKE_SHARE = 0.95  # distinct values per row above which an integer or string column looks like an id
LEAK_SCORE = 0.95  # out-of-fold share of the target one column explains, above which it is a leak hint
DRIFT_WARN = 0.2  # drift score (KS / total variation) above which a column is flagged
ADVERSARIAL_WARN = 0.7  # adversarial AUC above which test is said to differ from train
HIGH_CARDINALITY = 100  # distinct values of a categorical column above which it is flagged
HEAVY_MISSING = 0.5  # missing share (train or test) above which a column is flagged
ADVERSARIAL_ROUNDS = 100
ADVERSARIAL_FOLDS = 5


@dataclass(frozen=True)
class Options:
    """How much of the data each part looks at, and the resources it may use."""

    sample_rows: int = 100_000  # rows of train and of test for distributions, drift, plots, leak hints
    column_plots: int = 8  # columns (most drifted first) that get a train-vs-test plot
    adversarial_rows: int = 10_000  # rows of train and of test for adversarial validation
    leak_rows: int = 50_000  # train rows for the leak hints
    association_rows: int = 5_000  # train rows for mutual information (k-NN estimates are slow)
    seed: int = 0
    threads: int = 1
    validates_in_time: bool = False  # the CV scheme orders rows in time or comes from a file (no split-in-time hint)


@dataclass
class Finding:
    """One warning: its kind (a `CHECKS` entry), the column it is about (if any) and what to do."""

    kind: str
    column: str | None
    message: str


@dataclass
class EDA:
    """Everything the report shows: facts (JSON-ready) and the row samples the plots are drawn from."""

    name: str
    target: str
    id_col: str
    task: Any  # core.tasks.TaskInfo
    metric: Any  # core.metrics.Metric
    options: Options
    train: Any  # full DataFrames
    test: Any
    train_s: Any  # row samples (train holds the target)
    test_s: Any
    y_s: np.ndarray  # encoded target of train_s
    kinds: dict[str, str]  # feature column -> kind
    overview: dict = field(default_factory=dict)
    target_facts: dict = field(default_factory=dict)
    # a multi-target task's target columns side by side (`_target_columns`); empty for one target
    target_columns: dict = field(default_factory=dict)
    columns: dict[str, dict] = field(default_factory=dict)  # by drift, most drifted first
    adversarial: dict = field(default_factory=dict)
    association: dict[str, float] = field(default_factory=dict)  # mutual information, best first
    leak: dict[str, float] = field(default_factory=dict)
    text: dict[str, dict] = field(default_factory=dict)
    grid: tuple | None = None  # (pixel columns in order, (C, H, W))
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _views: dict = field(default_factory=dict, repr=False)

    @property
    def features(self) -> list[str]:
        return list(self.kinds)

    @property
    def shared(self) -> list[str]:
        """Feature columns present in both train and test."""
        return [c for c in self.kinds if c in self.test.columns]

    def view(self, column: str, part: str = "train") -> np.ndarray:
        """A column of a sample as float64 for models and plots: numbers as they are, categories as
        codes of the sorted values of both samples (missing: NaN), text as its length in characters,
        dates as seconds."""
        key = (column, part)
        if key not in self._views:
            frame = self.train_s if part == "train" else self.test_s
            self._views[key] = _as_float(frame[column], self.kinds[column], self._categories(column))
        return self._views[key]

    def _categories(self, column: str):
        if self.kinds[column] != "categorical":
            return None
        key = (column, "categories")
        if key not in self._views:
            import pandas as pd

            parts = [self.train_s[column]] + ([self.test_s[column]] if column in self.test_s.columns else [])
            values = pd.concat(parts, ignore_index=True).dropna().astype(str).unique()
            self._views[key] = pd.Index(np.sort(values))
        return self._views[key]

    @property
    def sampled(self) -> bool:
        return len(self.train_s) < len(self.train) or len(self.test_s) < len(self.test)

    def summary(self) -> dict:
        """The facts as a JSON-ready dict (runs/explore/summary.json)."""
        return {"name": self.name, "overview": self.overview, "target": self.target_facts,
                **({"target_columns": self.target_columns} if self.target_columns else {}),
                "columns": list(self.columns.values()), "adversarial": self.adversarial,
                "association": self.association, "leak": self.leak, "text": self.text,
                "image": None if self.grid is None else {"columns": len(self.grid[0]), "shape": list(self.grid[1])},
                "warnings": [f.__dict__ for f in self.findings], "timings": self.timings,
                "sample": {"train_rows": len(self.train_s), "test_rows": len(self.test_s)}}

    def terminal_summary(self) -> list[str]:
        """A few lines for the terminal: shape, adversarial AUC, most drifted columns, warnings."""
        o = self.overview
        lines = [f"train {o['train_rows']:,} x {o['train_columns']}, test {o['test_rows']:,} x "
                 f"{o['test_columns']}; {o['duplicate_rows']:,} duplicate rows; "
                 + ", ".join(f"{n} {k}" for k, n in o["kinds"].items())]
        if self.target_columns:
            lines.append(_target_columns_line(self.target_columns))
        adv = self.adversarial
        if adv.get("auc") is not None:
            top = ", ".join(f"{c} {s:.0%}" for c, s in list(adv["importance"].items())[:3])
            lines.append(f"adversarial validation AUC {adv['auc']:.3f} ({adv['verdict']}); separating: {top}")
        drifted = [(c, f["drift"]) for c, f in self.columns.items() if f.get("drift") is not None][:3]
        if drifted:
            lines.append("most drifted: " + ", ".join(f"{c} {d:.3f}" for c, d in drifted))
        if self.findings:
            lines.append(f"{len(self.findings)} warning(s):")
            lines += [f"  {f.message}" for f in self.findings[:8]]
            if len(self.findings) > 8:
                lines.append(f"  ... {len(self.findings) - 8} more in the report")
        return lines


# ---- analysis --------------------------------------------------------------------------------------

def analyze(train, test, *, name: str, target: str, id_col: str, task, metric, options: Options = Options(),
            on_step: Callable[[str], None] | None = None, targets=None) -> EDA:
    """Compute the report's facts; `on_step(name)` is called after each part (progress). `targets`: a
    multi-target task's target columns (a frame of train's rows), described side by side; the rest of the
    report describes `target`, the first of them, as that column's own task."""
    from features.columns import column_kind, pixel_grid  # the features stage's own column kinds

    step = on_step or (lambda _name: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    features = [c for c in train.columns if c not in (target, id_col)]
    kinds = {c: column_kind(train[c], test[c] if c in test.columns else train[c]) for c in features}
    rng = np.random.default_rng(options.seed)
    train_s = _sample(train, options.sample_rows, rng)
    test_s = _sample(test, options.sample_rows, rng)
    eda = EDA(name, target, id_col, task, metric, options, train, test, train_s, test_s,
              task.encode(train_s[target]), kinds)
    numeric = [c for c in features if kinds[c] == "numeric"]
    eda.grid = pixel_grid(numeric)
    timings["kinds"] = time.perf_counter() - t0
    parts = [("overview", _overview), ("target", _target), ("columns", _columns), ("leak", _leak),
             ("adversarial", _adversarial), ("association", _association), ("text", _text)]
    for part, func in parts:
        t = time.perf_counter()
        func(eda)
        timings[part] = time.perf_counter() - t
        step(part)
    if targets is not None and targets.shape[1] > 1:
        eda.target_columns = _target_columns(targets, task)
    t = time.perf_counter()
    eda.findings = [f for check in CHECKS for f in check.find(eda)]
    timings["warnings"] = time.perf_counter() - t
    eda.timings = {k: round(v, 3) for k, v in timings.items()}
    return eda


def _sample(frame, n: int, rng: np.random.Generator):
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    rows = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _as_float(series, kind: str, categories) -> np.ndarray:
    import pandas as pd

    if kind == "numeric":
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "categorical":
        codes = categories.get_indexer(series.astype(str)).astype(np.float64)
        codes[series.isna().to_numpy()] = np.nan
        codes[codes < 0] = np.nan
        return codes
    if kind == "text":
        return series.astype(str).str.len().where(series.notna()).to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = pd.to_datetime(series, errors="coerce", format="mixed")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    # seconds since 1970 whatever the resolution (pandas 3 reads text as microseconds, not nanoseconds)
    return ((stamps - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)


def _overview(eda: EDA) -> None:
    import pandas as pd

    train, test = eda.train, eda.test
    kinds: dict[str, int] = {}
    for kind in eda.kinds.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    rows_hash = pd.util.hash_pandas_object(train.drop(columns=[eda.id_col]), index=False)
    feature_hash = pd.util.hash_pandas_object(train[eda.features], index=False) if eda.features else rows_hash
    targets = pd.DataFrame({"h": feature_hash.to_numpy(), "y": train[eda.target].to_numpy()})
    per_row = targets.groupby("h")["y"].nunique()
    test_hash = pd.util.hash_pandas_object(test.drop(columns=[eda.id_col], errors="ignore"), index=False)
    eda.overview = {
        "train_rows": len(train), "test_rows": len(test),
        "train_columns": train.shape[1], "test_columns": test.shape[1], "kinds": kinds,
        "dtypes": {str(k): int(v) for k, v in train.dtypes.astype(str).value_counts().items()},
        "memory_mb": round(float(train.memory_usage(deep=True).sum() + test.memory_usage(deep=True).sum()) / 2**20, 1),
        "duplicate_rows": int(rows_hash.duplicated().sum()),
        "conflicting_duplicates": int((per_row > 1).sum()),  # feature rows seen with different targets
        "duplicate_test_rows": int(test_hash.duplicated().sum()),
        "duplicate_ids": int(train[eda.id_col].duplicated().sum()) + int(test[eda.id_col].duplicated().sum()),
        "train_only": [c for c in eda.kinds if c not in test.columns],
        "test_only": [c for c in test.columns if c not in train.columns and c != eda.id_col],
        "missing_cells": float(train[eda.features].isna().to_numpy().mean()) if eda.features else 0.0,
    }


def _target(eda: EDA) -> None:
    import pandas as pd

    y = eda.train[eda.target]
    facts: dict[str, Any] = {"column": eda.target, "task": eda.task.task}
    if eda.task.is_classification:
        counts = y.value_counts().reindex(list(eda.task.classes), fill_value=0)  # in class order
        facts["counts"] = {str(k): int(v) for k, v in counts.items()}
        facts["minority_share"] = float(counts.min() / counts.sum())
        facts["imbalance"] = float(counts.max() / counts.min())
    else:
        v = pd.to_numeric(y, errors="coerce").astype(float)
        facts.update(mean=float(v.mean()), std=float(v.std()), min=float(v.min()), median=float(v.median()),
                     max=float(v.max()), skew=float(v.skew()))
        if v.min() > -1:
            facts["log1p_skew"] = float(np.log1p(v).skew())
        facts["advice"] = _log_advice(facts, eda.metric)
    eda.target_facts = facts


def _target_columns(targets, task) -> dict:
    """Each target column's share of 1s (multilabel) or mean, spread and range (multiregression), its
    missing rows, and the columns' pairwise Pearson correlations: which labels are rare, which move together."""
    import pandas as pd

    values = targets.apply(pd.to_numeric, errors="coerce").astype(float)
    columns = {}
    for c in values.columns:
        v = values[c]
        known = v.dropna()
        facts: dict[str, Any] = {"missing": int(v.isna().sum())}
        if task.is_classification:
            facts["positive_share"] = float(known.mean()) if len(known) else None
        else:
            facts.update(mean=float(known.mean()), std=float(known.std()), min=float(known.min()),
                         max=float(known.max()))
        columns[str(c)] = facts
    corr = values.corr().to_numpy()
    pairs = [(float(corr[i, j]), str(a), str(b)) for i, a in enumerate(values.columns)
             for j, b in enumerate(values.columns) if i < j and np.isfinite(corr[i, j])]
    pairs.sort(key=lambda p: -abs(p[0]))
    return {"columns": columns, "correlation": [[None if not np.isfinite(x) else float(x) for x in row]
                                                for row in corr],
            "most_correlated": [{"columns": [a, b], "r": r} for r, a, b in pairs[:5]]}


def _target_columns_line(facts: dict) -> str:
    """One terminal line: each column's share of 1s (or mean), then the most correlated pair."""
    shown = []
    for c, f in list(facts["columns"].items())[:8]:
        shown.append(f"{c} {f['positive_share']:.1%} 1s" if f.get("positive_share") is not None
                     else f"{c} mean {f['mean']:.4g}" if "mean" in f else c)
    more = len(facts["columns"]) - len(shown)
    line = f"{len(facts['columns'])} target columns: " + ", ".join(shown) + (f", +{more} more" if more > 0 else "")
    if facts["most_correlated"]:
        top = facts["most_correlated"][0]
        line += f"; most correlated: {top['columns'][0]} ~ {top['columns'][1]} r = {top['r']:.2f}"
    return line


def _log_advice(facts: dict, metric) -> str:
    """Whether fitting log1p(target) suits the metric and the target's shape."""
    transform = getattr(metric, "target_transform", None)
    if transform is not None:
        return (f"the metric ({metric.name}) scores on the {transform.name} scale; the models already "
                f"fit {transform.name}(target) and map predictions back")
    if "log1p_skew" not in facts:
        return "the target takes values <= -1: a log transform does not apply"
    skew, log_skew = facts["skew"], facts["log1p_skew"]
    if facts["min"] >= 0 and skew > 1 and abs(log_skew) < abs(skew):
        return (f"right-skewed (skew {skew:.2f}; log1p: {log_skew:.2f}): {metric.name} scores the raw scale, "
                f"so the largest targets dominate it; a log1p model suits it only if errors grow with the value "
                f"-- compare both under CV")
    return f"skew {skew:.2f}: roughly symmetric, no transform needed"


def _columns(eda: EDA) -> None:
    from scipy.stats import ks_2samp

    facts = {}
    for c, kind in eda.kinds.items():
        a = eda.train[c]
        b = eda.test[c] if c in eda.test.columns else None
        counts = a.value_counts(dropna=True)
        row: dict[str, Any] = {
            "column": c, "kind": kind, "dtype": str(a.dtype), "in_test": b is not None,
            "missing_train": float(a.isna().mean()),
            "missing_test": None if b is None else float(b.isna().mean()),
            "unique": int(len(counts)), "unique_share": float(len(counts) / max(1, a.notna().sum())),
            "top": [[_jsonable(k), float(v / max(1, len(a)))] for k, v in counts.head(5).items()],
        }
        if kind == "numeric":
            v = eda.train[c].astype(float)
            infinite = np.isinf(v.to_numpy(na_value=np.nan))
            v = v[~infinite]  # the summary of the finite values; the infinite ones are counted
            row.update(mean=float(v.mean()), std=float(v.std()), min=float(v.min()), max=float(v.max()),
                       skew=float(v.skew()) if len(counts) > 1 else 0.0, infinite_train=int(infinite.sum()),
                       infinite_test=None if b is None else _n_infinite(b))
        row["integer"] = bool(kind == "numeric" and a.dtype.kind in "iu")
        if kind == "text":
            row["mean_chars"] = float(eda.view(c).mean()) if len(eda.train_s) else 0.0
        if b is not None:
            if kind == "categorical":
                test_counts = b.value_counts(dropna=True)
                p = counts / max(1, counts.sum())
                q = test_counts / max(1, test_counts.sum())
                row["drift_stat"] = "total variation"
                row["distribution_drift"] = float(0.5 * p.sub(q, fill_value=0.0).abs().sum())
                seen = test_counts.index.isin(counts.index)
                row["unseen_in_test"] = float(test_counts[~seen].sum() / max(1, test_counts.sum()))
            else:
                x, z = eda.view(c, "train"), eda.view(c, "test")
                x, z = x[np.isfinite(x)], z[np.isfinite(z)]
                row["drift_stat"] = "KS" + (" of lengths" if kind == "text" else "")
                row["distribution_drift"] = float(ks_2samp(x, z).statistic) if len(x) and len(z) else 0.0
            # a column whose missing share changes is drifted too, whatever the observed values do
            row["drift"] = max(row["distribution_drift"], abs(row["missing_train"] - row["missing_test"]))
        facts[c] = row
    order = sorted(facts, key=lambda c: (-(facts[c].get("drift") or -1.0), c))
    eda.columns = {c: facts[c] for c in order}


def _n_infinite(column) -> int:
    """How many values of a numeric column are +inf or -inf (0 for any other column)."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column.dtype):
        return 0
    return int(np.isinf(column.to_numpy(dtype=np.float64, na_value=np.nan)).sum())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _bins(values: np.ndarray, kind: str, n_bins: int) -> np.ndarray:
    """Integer bin per value: quantile bins for numbers, one bin per category; missing last."""
    out = np.full(len(values), -1, dtype=np.int64)
    ok = np.isfinite(values)
    if ok.any():
        if kind == "categorical" or len(np.unique(values[ok])) <= n_bins:
            _, out[ok] = np.unique(values[ok], return_inverse=True)
        else:
            edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, n_bins + 1)[1:-1]))
            out[ok] = np.searchsorted(edges, values[ok], side="right")
    out[~ok] = out.max() + 1
    return out


def _oof_bin_score(bins: np.ndarray, y: np.ndarray, classification: bool, halves: np.ndarray) -> float:
    """Share of the target one binned column explains out of fold (two halves, each predicted from the
    other's per-bin means): (accuracy - majority) / (1 - majority), or R^2 for regression."""
    n_bins = int(bins.max()) + 1
    scores = []
    for fit in (True, False):
        a, b = halves == fit, halves != fit
        if not a.any() or not b.any():
            return 0.0
        if classification:
            k = int(y.max()) + 1
            table = np.bincount(bins[a] * k + y[a], minlength=n_bins * k).reshape(n_bins, k)
            majority = int(np.bincount(y[a], minlength=k).argmax())
            pred = np.where(table.sum(axis=1) > 0, table.argmax(axis=1), majority)[bins[b]]
            base = float(np.mean(y[b] == majority))
            acc = float(np.mean(pred == y[b]))
            scores.append((acc - base) / (1 - base) if base < 1 else 0.0)
        else:
            sums = np.bincount(bins[a], weights=y[a], minlength=n_bins)
            cnt = np.bincount(bins[a], minlength=n_bins)
            mean = float(y[a].mean())
            pred = np.where(cnt > 0, sums / np.maximum(cnt, 1), mean)[bins[b]]
            sst = float(np.sum((y[b] - y[b].mean()) ** 2))
            scores.append(1 - float(np.sum((y[b] - pred) ** 2)) / sst if sst > 0 else 0.0)
    return float(np.mean(scores))


def _leak(eda: EDA) -> None:
    n = min(len(eda.y_s), eda.options.leak_rows)
    rng = np.random.default_rng(eda.options.seed + 1)
    halves = rng.random(n) < 0.5
    y = eda.y_s[:n]
    out = {}
    for c, kind in eda.kinds.items():
        if kind == "text":
            continue
        score = _oof_bin_score(_bins(eda.view(c)[:n], kind, 64), y, eda.task.is_classification, halves)
        out[c] = round(max(0.0, score), 4)
    eda.leak = dict(sorted(out.items(), key=lambda kv: -kv[1]))


def id_like(eda: EDA, column: str) -> bool:
    """An integer or string column with (nearly) one distinct value per row."""
    f = eda.columns[column]
    if f["kind"] not in ("categorical", "numeric") or (f["kind"] == "numeric" and not f["integer"]):
        return False
    return f["unique"] >= 50 and f["unique_share"] >= ID_LIKE_SHARE


def _adversarial(eda: EDA) -> None:
    """Cross-validated LightGBM classifier separating train rows (0) from test rows (1)."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    excluded = [c for c in eda.shared if id_like(eda, c)]
    cols = [c for c in eda.shared if c not in excluded]
    n_tr = min(len(eda.train_s), eda.options.adversarial_rows)
    n_te = min(len(eda.test_s), eda.options.adversarial_rows)
    eda.adversarial = {"auc": None, "importance": {}, "excluded": excluded, "train_rows": n_tr, "test_rows": n_te,
                       "rounds": ADVERSARIAL_ROUNDS, "folds": ADVERSARIAL_FOLDS}
    if not cols or min(n_tr, n_te) < ADVERSARIAL_FOLDS * 2:
        eda.adversarial["verdict"] = "not run: no shared feature columns" if not cols else "not run: too few rows"
        return
    X = np.vstack([np.column_stack([eda.view(c, part)[:n] for c in cols])
                   for part, n in (("train", n_tr), ("test", n_te))])
    y = np.r_[np.zeros(n_tr), np.ones(n_te)]
    params = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
              "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "max_bin": 63, "verbose": -1,
              "seed": eda.options.seed, "num_threads": max(1, eda.options.threads)}
    # binned once; each fold trains on a subset (binning is as slow as training here)
    full = lgb.Dataset(X, y, params={"max_bin": 63, "verbose": -1, "num_threads": params["num_threads"]},
                       free_raw_data=False).construct()
    oof = np.zeros(len(y))
    gain = np.zeros(len(cols))
    splitter = StratifiedKFold(ADVERSARIAL_FOLDS, shuffle=True, random_state=eda.options.seed)
    for tr, va in splitter.split(X, y):
        booster = lgb.train(params, full.subset(np.sort(tr)), num_boost_round=ADVERSARIAL_ROUNDS)
        oof[va] = booster.predict(X[va])
        gain += booster.feature_importance(importance_type="gain")
    auc = float(roc_auc_score(y, oof))
    share = gain / gain.sum() if gain.sum() > 0 else gain
    order = np.argsort(-share)
    # the AUC's standard error when train and test come from one distribution (Hanley & McNeil 1982)
    chance = float(np.sqrt((n_tr + n_te + 1) / (12.0 * n_tr * n_te)))
    eda.adversarial.update(auc=auc, chance_spread=chance, importance={cols[i]: float(share[i]) for i in order},
                           verdict=_adversarial_verdict(auc))


def _adversarial_verdict(auc: float) -> str:
    if auc < 0.6:
        return "train and test look alike"
    if auc < ADVERSARIAL_WARN:
        return "mild difference between train and test"
    return "test differs from train: CV on random folds may mislead"


def _association(eda: EDA) -> None:
    """Mutual information between each column and the target, on a row sample."""
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    n = min(len(eda.y_s), eda.options.association_rows)
    cols = [c for c in eda.kinds if not id_like(eda, c)]  # an id "explains" every row it names
    if not cols:
        return
    X = np.column_stack([eda.view(c)[:n] for c in cols])
    for j in range(X.shape[1]):  # k-NN estimates need no missing values: the median stands in
        bad = ~np.isfinite(X[:, j])
        if bad.any():
            fill = np.nanmedian(X[~bad, j]) if (~bad).any() else 0.0
            X[bad, j] = -1.0 if eda.kinds[cols[j]] == "categorical" else fill
    discrete = np.array([eda.kinds[c] == "categorical" for c in cols])
    y = eda.y_s[:n]
    func = mutual_info_classif if eda.task.is_classification else mutual_info_regression
    import multiprocessing

    # beside the other stages the report runs in a daemon process, where joblib's worker processes cannot
    # start (it would say so on the terminal and use one): the columns are then estimated in turn
    jobs = 1 if multiprocessing.current_process().daemon else max(1, eda.options.threads)
    mi = func(X, y, discrete_features=discrete, random_state=eda.options.seed, n_jobs=jobs)
    eda.association = {c: round(float(v), 5) for c, v in sorted(zip(cols, mi), key=lambda kv: -kv[1])}


def _text(eda: EDA) -> None:
    """Length distributions and the most frequent tokens (with the target's mean among rows holding them)."""
    from sklearn.feature_extraction.text import CountVectorizer

    for c, kind in eda.kinds.items():
        if kind != "text":
            continue
        docs = eda.train_s[c].fillna("").astype(str)
        n = min(len(docs), eda.options.association_rows)
        vec = CountVectorizer(stop_words="english", max_features=25, binary=True,
                              token_pattern=r"(?u)\b[^\W\d_][^\W\d_]+\b")
        try:
            present = vec.fit_transform(docs.iloc[:n]).toarray().astype(bool)
        except ValueError:  # only stop words
            eda.text[c] = {"tokens": []}
            continue
        y = eda.y_s[:n].astype(float)
        multiclass = eda.task.is_classification and eda.task.n_classes > 2
        pos = (y == y.max()).astype(float) if eda.task.is_classification else y  # binary: P(positive class)
        tokens = []
        for j, token in enumerate(vec.get_feature_names_out()):
            share = float(present[:, j].mean())
            mean = float(pos[present[:, j]].mean()) if present[:, j].any() and not multiclass else None
            tokens.append({"token": str(token), "doc_share": share, "target_mean": mean})
        tokens.sort(key=lambda t: -t["doc_share"])
        words = docs.str.split().str.len()
        eda.text[c] = {"tokens": tokens, "target_mean": None if multiclass else float(pos.mean()),
                       "target_label": target_label(eda),
                       "mean_chars": float(docs.str.len().mean()), "mean_words": float(words.mean())}


def is_multiclass(eda: EDA) -> bool:
    """More than two classes."""
    return eda.task.is_classification and eda.task.n_classes > 2


def target_label(eda: EDA) -> str:
    """What target-by-value figures show: the mean, the positive class's share, or the class shares."""
    if not eda.task.is_classification:
        return f"mean {eda.target}"
    if eda.task.n_classes == 2:
        return f"share of {eda.target} = {eda.task.classes[-1]}"
    return f"{eda.target} class shares"


# ---- warnings ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """A warning kind: its name, the heading it is listed under, and the function finding its cases."""

    kind: str
    title: str
    find: Callable[[EDA], list[Finding]]


def _check_leak(eda: EDA) -> list[Finding]:
    return [Finding("leak", c, f"{c}: alone explains {s:.0%} of the target out of fold -- nearly identical to "
                               f"it; check it is known at prediction time, else drop it (features.drop)")
            for c, s in eda.leak.items() if s >= LEAK_SCORE and not id_like(eda, c)]


def _check_id_like(eda: EDA) -> list[Finding]:
    out = []
    for c, f in eda.columns.items():
        if id_like(eda, c):
            unseen = f.get("unseen_in_test")
            seen = f", {unseen:.0%} of its test values unseen in train" if unseen is not None else ""
            out.append(Finding("id_like", c, f"{c}: id-like ({f['unique']:,} distinct values in "
                                             f"{eda.overview['train_rows']:,} rows{seen}); models can only memorise "
                                             f"rows with it: drop it (features.drop) or derive features from it"))
    return out


def _check_adversarial(eda: EDA) -> list[Finding]:
    auc = eda.adversarial.get("auc")
    if auc is None or auc < ADVERSARIAL_WARN:
        return []
    top = ", ".join(list(eda.adversarial["importance"])[:3])
    return [Finding("adversarial", None, f"adversarial AUC {auc:.3f}: a model tells test rows from train rows "
                                         f"(mostly by {top}); CV on random folds may not predict the test "
                                         f"score -- validate on the train rows most like test")]


def _check_train_only(eda: EDA) -> list[Finding]:
    return [Finding("train_only", c, f"{c}: in train but not in test; the models cannot use it "
                                     f"(add it to features.drop to say so)") for c in eda.overview["train_only"]]


def _check_test_only(eda: EDA) -> list[Finding]:
    return [Finding("test_only", c, f"{c}: in test but not in train; it is ignored")
            for c in eda.overview["test_only"]]


def _check_types(eda: EDA) -> list[Finding]:
    """A column of numbers in one file and of text in the other (a stray 'n/a', a merged file): read as
    categorical, it loses the numbers' order."""
    import pandas as pd

    out = []
    for c in eda.kinds:
        if c not in eda.test.columns:
            continue
        a, b = eda.train[c], eda.test[c]
        numbers = [pd.api.types.is_numeric_dtype(x) or x.isna().all() for x in (a, b)]
        if numbers[0] == numbers[1]:
            continue
        texts, where = (b, "test") if numbers[0] else (a, "train")
        values = texts.dropna()
        stray = values[pd.to_numeric(values, errors="coerce").isna()]
        example = (f" (e.g. {shown(stray.iloc[0])}, {len(stray):,} of {len(values):,} values not a number)"
                   if len(stray) else "")
        out.append(Finding("types", c, f"{c}: numbers in {'train' if numbers[0] else 'test'}, text in {where}"
                                       f"{example}; read as categorical, the numbers' order is lost: fix the file "
                                       f"or drop the column"))
    return out


def _check_after(eda: EDA) -> list[Finding]:
    """A numeric or date column whose every test value is at or after train's last (and some beyond it): a
    split in time when the column is time, where random folds validate on rows among their training rows
    and overstate CV. A random split almost never puts every test row at train's end."""
    from pipeline.schemes import lies_after_train

    if eda.options.validates_in_time:
        return []
    out = []
    for c in eda.shared:
        kind = eda.kinds[c]
        if kind not in ("numeric", "datetime") or id_like(eda, c):
            continue
        a, b = (_as_float(frame[c], kind, None) for frame in (eda.train, eda.test))
        if not lies_after_train(a, b):
            continue
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        span = (lambda lo, hi: f"{_when(lo, kind)}..{_when(hi, kind)}")
        out.append(Finding("after", c, f"{c}: every test row is at or after train's last value (train "
                                       f"{span(a.min(), a.max())}, test {span(b.min(), b.max())}); if it is time, "
                                       f"this is a split in time and random folds overstate CV -- validate "
                                       f"forward: cv.scheme = \"forward\", cv.time_column = \"{c}\""))
    return out


def _when(value: float, kind: str) -> str:
    """A value of a numeric or date column (seconds, as `_as_float` makes dates) as the report prints it."""
    if kind == "datetime":
        import pandas as pd

        stamp = pd.Timestamp(value, unit="s")
        return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)
    return f"{value:g}"


def _check_drift(eda: EDA) -> list[Finding]:
    return [Finding("drift", c, f"{c}: distribution differs between train and test ({f['drift_stat']} "
                                f"{f['drift']:.2f})") for c, f in eda.columns.items()
            if (f.get("drift") or 0) >= DRIFT_WARN and not id_like(eda, c)]


def _check_unseen(eda: EDA) -> list[Finding]:
    return [Finding("unseen", c, f"{c}: {f['unseen_in_test']:.0%} of test values never occur in train")
            for c, f in eda.columns.items()
            if (f.get("unseen_in_test") or 0) >= 0.1 and not id_like(eda, c)]


def _check_missing(eda: EDA) -> list[Finding]:
    out = []
    for c, f in eda.columns.items():
        worst = max(f["missing_train"], f["missing_test"] or 0.0)
        if worst >= HEAVY_MISSING:
            out.append(Finding("missing", c, f"{c}: {f['missing_train']:.0%} missing in train, "
                                             f"{(f['missing_test'] or 0):.0%} in test"))
    return out


def _check_infinite(eda: EDA) -> list[Finding]:
    return [Finding("infinite", c, f"{c}: {f['infinite_train']:,} infinite values in train, "
                                   f"{f['infinite_test'] or 0:,} in test (a division by zero upstream?); the "
                                   f"numeric block reads them as missing, and missing_indicator flags them")
            for c, f in eda.columns.items() if f.get("infinite_train") or f.get("infinite_test")]


def _check_cardinality(eda: EDA) -> list[Finding]:
    return [Finding("high_cardinality", c, f"{c}: {f['unique']:,} categories; one-hot encoding would explode, "
                                           f"count or target encoding suits it (the default features use both)")
            for c, f in eda.columns.items()
            if f["kind"] == "categorical" and f["unique"] > HIGH_CARDINALITY and not id_like(eda, c)]


def _check_constant(eda: EDA) -> list[Finding]:
    cols = [c for c, f in eda.columns.items() if f["unique"] <= 1]
    if not cols:
        return []
    listed = ", ".join(cols[:10]) + (f" and {len(cols) - 10} more" if len(cols) > 10 else "")
    return [Finding("constant", cols[0] if len(cols) == 1 else None,
                    f"{listed}: a single value in train; {'it carries' if len(cols) == 1 else 'they carry'} "
                    f"no information")]


def _check_duplicates(eda: EDA) -> list[Finding]:
    o = eda.overview
    n = o["duplicate_rows"]
    if not n:
        return []
    conflicts = o["conflicting_duplicates"]
    clash = (f"; {conflicts:,} feature combinations occur with different targets (noise no model can remove)"
             if conflicts else "")
    return [Finding("duplicates", None, f"{n:,} train rows ({n / o['train_rows']:.0%}) repeat an earlier row in every "
                                        f"column but the id{clash}; natural with few columns, but copies of one "
                                        f"record in different folds inflate CV")]


def _check_imbalance(eda: EDA) -> list[Finding]:
    share = eda.target_facts.get("minority_share")
    if share is None or share >= 0.05:
        return []
    return [Finding("imbalance", eda.target, f"{eda.target}: the rarest class is {share:.1%} of the rows; "
                                             f"stratified folds (the default) keep it in every fold")]


# The warning kinds, in the order the report lists them.
CHECKS: list[Check] = [
    Check("leak", "Leak hints", _check_leak),
    Check("id_like", "Id-like columns", _check_id_like),
    Check("adversarial", "Train and test differ", _check_adversarial),
    Check("train_only", "Columns only in train", _check_train_only),
    Check("test_only", "Columns only in test", _check_test_only),
    Check("types", "Numbers in one file, text in the other", _check_types),
    Check("after", "Test after train", _check_after),
    Check("drift", "Drifted columns", _check_drift),
    Check("unseen", "Unseen categories", _check_unseen),
    Check("missing", "Heavy missingness", _check_missing),
    Check("infinite", "Infinite values", _check_infinite),
    Check("high_cardinality", "High-cardinality categoricals", _check_cardinality),
    Check("constant", "Constant columns", _check_constant),
    Check("duplicates", "Duplicate rows", _check_duplicates),
    Check("imbalance", "Class imbalance", _check_imbalance),
]
