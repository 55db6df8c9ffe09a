"""Does an unsupervised encoder fitted on every train row flatter the OOF score? The `label` block, per set.

    python benchmarks/quality.py --keep /tmp/suite/ws --save /tmp/suite/run.json   # default runs, kept
    python benchmarks/encoder_folds.py --workspaces /tmp/suite/ws --min-counts 1,2

The features stage fits unsupervised blocks once, on train and test together, so a fold's validation
rows have their codes although the fold's model never saw them. For a code that names one row (a film
title, a product id) that flatters the OOF score: the test rows' values are mostly unseen (-2), the
validation rows' are not. For each set whose saved features hold `{c}__label` columns, and each
`min_count`, this script trains the set's own `lgbm` member (its competition.toml table, plain LightGBM
with early stopping on the fold's own validation rows, the same for every variant) twice on the saved
folds and features, the label columns recomputed by `features.Label`:

- `global`: the block fitted on train and test, as the features stage does;
- `per fold`: fitted on the fold's training rows as train and its validation rows as test, so a
  validation row is coded only as a test row would be. This is the honest OOF score of the encoder.

It prints both OOF scores side by side per set and `min_count`, and the optimism (how much better
`global` looks). solution.csv is never read.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _codes(raw_train, raw_test, columns: list[str], min_count: int):
    """The label block's columns for (train rows, test rows), fitted on them."""
    from features._base import check_params
    from features._categorical import Label

    block = Label(columns, **{k: v for k, v in check_params(Label, {"columns": columns, "min_count": min_count},
                                                                  "label").items() if k != "columns"})
    state = block.fit_state(raw_train, raw_test, None)
    return block.transform(state, raw_train).frame, block.transform(state, raw_test).frame


def _oof(features, y, folds, params: dict, objective: str, n_classes: int):
    """Out-of-fold predictions of LightGBM with `params`, `features(train rows, validation rows)` per fold."""
    import lightgbm as lgb
    import numpy as np

    oof = np.zeros((len(y), n_classes)) if n_classes > 2 else np.zeros(len(y))
    stop = int(params.pop("early_stopping_rounds", 100))
    for k in np.unique(folds[folds >= 0]):
        tr, va = folds != k, folds == k
        Xtr, Xva = features(tr, va)
        extra = {"num_class": n_classes} if n_classes > 2 else {}
        booster = lgb.train({"objective": objective, "verbose": -1, "num_threads": 2, "seed": 0, **extra, **params},
                            lgb.Dataset(Xtr, y[tr]), 5000, valid_sets=[lgb.Dataset(Xva, y[va])],
                            callbacks=[lgb.early_stopping(stop, verbose=False)])
        oof[va] = booster.predict(Xva, num_iteration=booster.best_iteration)
    return oof


def _one_set(comp: Path, min_counts: list[int]) -> list[str]:
    import numpy as np
    import pandas as pd

    from core.metrics import get_metric

    runs = comp / "runs"
    train = pd.read_parquet(runs / "features" / "train.parquet")
    labels = [c for c in train.columns if c.endswith("__label")]
    if not labels:
        return []
    conf = tomllib.loads((comp / "competition.toml").read_text())
    cfg = conf["competition"]
    raw = pd.read_csv(comp / "train.csv")
    raw_test = pd.read_csv(comp / "test.csv")
    folds = pd.read_csv(runs / "folds.csv").set_index(cfg["id"]).loc[raw[cfg["id"]], "fold"].to_numpy()
    target = raw[cfg["target"]]
    metric = get_metric(cfg["metric"], comp)
    transform = metric.target_transform
    if cfg["task"] == "regression":
        y_true = target.to_numpy(float)
        y = transform.forward(y_true) if transform else y_true
        objective, n_classes = "regression", 1
    else:
        classes = sorted(target.unique())
        y = y_true = target.map({c: i for i, c in enumerate(classes)}).to_numpy()
        n_classes = len(classes)
        objective = "binary" if n_classes == 2 else "multiclass"

    def score(oof):
        return metric(y_true, transform.inverse(oof) if transform and n_classes == 1 else oof)

    columns = [c[: -len("__label")] for c in labels]
    params = dict(conf["models"]["lgbm"]["params"])
    base = train.drop(columns=labels)
    lines = []
    for min_count in min_counts:
        glob_tr, _ = _codes(raw[columns], raw_test[columns], columns, min_count)

        def global_codes(tr, va, codes=glob_tr):
            return (pd.concat([base[tr].reset_index(drop=True), codes[tr].reset_index(drop=True)], axis=1),
                    pd.concat([base[va].reset_index(drop=True), codes[va].reset_index(drop=True)], axis=1))

        def fold_codes(tr, va):
            a, b = _codes(raw.loc[tr, columns].reset_index(drop=True), raw.loc[va, columns].reset_index(drop=True),
                          columns, min_count)
            return (pd.concat([base[tr].reset_index(drop=True), a], axis=1),
                    pd.concat([base[va].reset_index(drop=True), b], axis=1))

        g = score(_oof(global_codes, y, folds, dict(params), objective, n_classes))
        f = score(_oof(fold_codes, y, folds, dict(params), objective, n_classes))
        optimism = metric.sign * (g - f)
        lines.append(f"{comp.name:<14}{','.join(columns)[:18]:<19}{min_count:>9}{g:>10.4f}{f:>10.4f}{optimism:>+11.4f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", required=True, type=Path, help="benchmarks/quality.py --keep folder")
    parser.add_argument("--min-counts", default="1,2", help="comma-separated label min_count values")
    parser.add_argument("--sets", default="", help="comma-separated sets (default: every kept workspace)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    wanted = set(filter(None, args.sets.split(",")))
    min_counts = [int(v) for v in args.min_counts.split(",")]
    print(f"{'set':<14}{'columns':<19}{'min_count':>9}{'global':>10}{'per fold':>10}{'optimism':>11}")
    for ws in sorted(p for p in args.workspaces.iterdir() if p.is_dir()):
        if wanted and ws.name not in wanted:
            continue
        comp = ws / "competition" / ws.name
        if (comp / "runs" / "features" / "train.parquet").is_file():
            for line in _one_set(comp, min_counts):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
