"""Does an ensemble method's OOF gain hold on rows no run has seen? A check from train.csv alone.

For each set and split seed, a fifth of train.csv's rows is held out (their labels set aside), the default
pipeline (`init` + `run`, as benchmarks/quality.py runs it) trains on the other rows, and the ensemble
stage's own code (`pipeline.stages.ensemble.fit_methods`) fits every method on that run. Each method's
predictions for the held-out rows are then scored against their labels. It prints, per split, each
method's OOF and held-out score, and for `--method` (fitted as if pinned when `auto` does not try it) its
held-out gain over the method the best OOF picks without it (relative error reduction, + is better, with a
paired bootstrap over the held-out rows), and which of the two the best OOF picks with it. Where OOF
gains come from the rows' noise or a leak, the held-out gains do not follow them. solution.csv is never
read: the held-out rows are train.csv's own.

`--stack NAME=TABLE` judges a stack configuration the same way: [ensemble] keys as an inline TOML table,
the `stack` method fitted with them on the same run, its held-out gain over the default's pick (the best
OOF among the methods `auto` tries). This is how a stack whose OOF cannot be trusted is judged: one that
sees the features (`passthrough = true`) learns from member predictions made by models that trained on the
rows it is scored on (README, "A stack that sees the features is not scored honestly"); the held-out rows
were never in any model's training.

    python benchmarks/holdout.py --sets taxi --seeds 0,1,2,3
    python benchmarks/holdout.py --sets taxi,hpc,wage --method stack_lightgbm --keep /tmp/holdout
    python benchmarks/holdout.py --sets hpc,wage --seeds 1,2 --stack 'features={ passthrough = true, stackers = [
        { type = "lightgbm", name = "gb", params = { learning_rate = 0.05 } }, "linear"] }'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.members import gain_interval, parse_setting  # noqa: E402 - one place each
from benchmarks.method_choice import _fitted, fitted_methods  # noqa: E402
from benchmarks.quality import data_sets, default_data, run_set  # noqa: E402

HELD_OUT_SHARE = 0.2


def split_set(data: Path, name: str, out: Path, seed: int) -> None:
    """A data set made of train.csv alone: the held-out rows become its test.csv (labels in solution.csv, as
    quality.py scores them), the rest its train.csv."""
    import pandas as pd

    about = json.loads((data / name / "about.json").read_text())
    train = pd.read_csv(data / name / "train.csv")
    held = np.zeros(len(train), dtype=bool)
    held[np.random.default_rng(seed).permutation(len(train))[: int(len(train) * HELD_OUT_SHARE)]] = True
    targets = about["target"] if isinstance(about["target"], list) else [about["target"]]
    out.mkdir(parents=True)
    train[~held].to_csv(out / "train.csv", index=False)
    train[held].drop(columns=targets).to_csv(out / "test.csv", index=False)
    train[held][[about["id"], *targets]].to_csv(out / "solution.csv", index=False)
    sample = pd.read_csv(data / name / "sample_submission.csv", nrows=1)
    rows = {c: np.repeat(sample[c].iloc[0], int(held.sum())) for c in sample.columns}
    rows[about["id"]] = train.loc[held, about["id"]].to_numpy()
    pd.DataFrame(rows).to_csv(out / "sample_submission.csv", index=False)
    (out / "about.json").write_text(json.dumps({**about, "rows_train": int((~held).sum()),
                                                "rows_test": int(held.sum())}, indent=1))


def held_out_scores(ws: Path, labels, method: str, stacks: dict | None = None) -> dict:
    """Every honest method's OOF and held-out score on one split's run, `method` against `auto`'s pick
    without it, and each of `stacks` ({name: [ensemble] settings}) against the default's pick."""
    from core.metrics import relative_gain
    from models.ensemble import automatic, optimistic, select

    fitted = _fitted(ws, (method,))  # the methods auto tries, and `method` as if pinned
    problem = fitted.problem
    metric, task = problem.metric, problem.task
    y = task.encode(labels)
    results = {n: r for n, r in fitted.results.items() if not optimistic(r)}
    out = {"metric": metric.name, "greater_is_better": metric.greater_is_better, "chosen": select(results, metric).method,
           "methods": {n: {"oof": float(r.score), "held_out": float(metric(y, r.test))} for n, r in results.items()}}

    def against(base: str, result) -> dict:
        held = float(metric(y, result.test))
        return {"oof": float(result.score), "held_out": held, "without": base,
                "gain": relative_gain(metric, out["methods"][base]["held_out"], held),
                "interval": list(gain_interval(metric, y, results[base].test, result.test))}

    if method in results and len(results) > 1:
        without = select({n: r for n, r in results.items() if n != method}, metric).method
        out["versus"] = {"method": method, **against(without, results[method])}
    if stacks:
        tried = automatic(task, metric)
        default = select({n: r for n, r in results.items() if n in tried}, metric).method
        out["default"] = default
        out["stacks"] = {name: against(default, fitted_methods(ws, {**settings, "method": "stack"}).results["stack"])
                         for name, settings in stacks.items()}
    return out


def one_split(data: Path, name: str, seed: int, root: Path, method: str, stacks: dict | None = None) -> dict:
    import pandas as pd

    split = root / "data" / name
    split_set(data, name, split, seed)
    about = json.loads((split / "about.json").read_text())
    run = run_set(name, root / "ws" / name, root / "data", [])
    solution = pd.read_csv(split / "solution.csv")
    targets = about["target"] if isinstance(about["target"], list) else about["target"]
    return {"set": name, "seed": seed, "seconds": run["seconds"],
            **held_out_scores(root / "ws" / name, solution[targets], method, stacks)}


def report(row: dict) -> str:
    arrow = "higher" if row["greater_is_better"] else "lower"
    lines = [f"{row['set']} (split seed {row['seed']}, {row['metric']}, {arrow} is better; the best OOF "
             f"with --method: {row['chosen']}; {row['seconds']:.0f} s)"]
    for name, s in row["methods"].items():
        lines.append(f"  {name:<15} OOF {s['oof']:.5f}  held out {s['held_out']:.5f}")
    if "versus" in row:
        v = row["versus"]
        lines.append(f"  {v['method']} against {v['without']} (the best OOF without it), held out: {v['gain']:+.2%} "
                     f"(90 % interval {v['interval'][0]:+.2%} .. {v['interval'][1]:+.2%})")
    for name, v in row.get("stacks", {}).items():
        lo, hi = v["interval"]
        lines.append(f"  stack {name}: OOF {v['oof']:.5f}  held out {v['held_out']:.5f}, against {v['without']} (the "
                     f"default's pick) {v['gain']:+.2%} (90 % interval {lo:+.2%} .. {hi:+.2%})")
    return "\n".join(lines)


def parse_stacks(texts: list[str]) -> dict[str, dict]:
    """`--stack NAME=TABLE` arguments as {name: [ensemble] settings}; ValueError saying what is wrong."""
    import tomllib

    from pipeline.config import SCHEMA

    stacks = {}
    for text in texts:
        try:
            name, settings = parse_setting(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--stack {text!r}: not TOML ({exc})") from None
        if not name or not isinstance(settings, dict):
            raise ValueError(f"--stack {text!r}: write NAME={{ key = value, ... }}, [ensemble] keys as an inline "
                             f"TOML table")
        unknown = sorted((set(settings) - set(SCHEMA["ensemble"])) | ({"method", "models"} & set(settings)))
        if unknown:
            raise ValueError(f"--stack {name}: {', '.join(unknown)} cannot be set here; the keys are "
                             f"{', '.join(k for k in SCHEMA['ensemble'] if k not in ('method', 'models'))}")
        stacks[name] = settings
    return stacks


def stack_summary(name: str, rows: list[dict]) -> str:
    """One line for a `--stack` configuration over every split: its held-out gains against the default's pick."""
    found = [r["stacks"][name] for r in rows if name in r.get("stacks", {})]
    gains = [v["gain"] for v in found if np.isfinite(v["gain"])]
    if not gains:
        return f"stack {name}: no split with a finite held-out gain"
    better, worse = sum(g > 1e-4 for g in gains), sum(g < -1e-4 for g in gains)
    return (f"stack {name}: held-out gain over the default's pick, mean {np.mean(gains):+.2%}, median "
            f"{np.median(gains):+.2%} over {len(gains)} split(s); better on {better} "
            f"({sum(v['interval'][0] > 0 for v in found)} beyond the interval), worse on {worse} "
            f"({sum(v['interval'][1] < 0 for v in found)} beyond it)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="folder of data sets (default: quality.py's)")
    p.add_argument("--sets", required=True, help="comma-separated data sets")
    p.add_argument("--seeds", default="0", help="comma-separated split seeds (default: %(default)s)")
    p.add_argument("--method", default="stack_lightgbm", help="the method judged against the best OOF pick without it")
    p.add_argument("--stack", action="append", default=[], metavar="NAME=TABLE",
                   help="a stack configuration judged on the held-out rows against the default's pick: [ensemble] "
                        "keys as an inline TOML table, e.g. 'features={ passthrough = true }'; may be given again")
    p.add_argument("--keep", type=Path, default=None, help="keep each split's data and workspace under this folder")
    p.add_argument("--save", type=Path, default=None, help="write every split's scores as JSON")
    args = p.parse_args()
    try:
        stacks = parse_stacks(args.stack)
    except ValueError as exc:
        p.error(str(exc))
    data = (args.data or default_data()).resolve()
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if not (data / s / "train.csv").is_file()]
    if unknown or not names:
        p.error(f"no data set {unknown or args.sets!r} in {data}; choose from {', '.join(data_sets(data))}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds takes comma-separated integers, e.g. 0,1,2; got {args.seeds!r}")
    rows, gains = [], []
    for name in names:
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix="holdout-") as tmp:
                root = (args.keep / f"{name}-{seed}") if args.keep else Path(tmp)
                row = one_split(data, name, seed, root, args.method, stacks)
            rows.append(row)
            print(report(row), flush=True)
            if "versus" in row:
                gains.append((row["versus"]["gain"], row["chosen"] == args.method))
            if args.save:
                args.save.write_text(json.dumps(rows, indent=1))
    if gains:
        every = [g for g, _ in gains]
        picked = [g for g, chosen in gains if chosen]
        print(f"{args.method}: held-out gain over the best OOF pick without it, mean {np.mean(every):+.2%} over "
              f"{len(every)} split(s), better on {sum(g > 1e-4 for g in every)}, worse on {sum(g < -1e-4 for g in every)}; "
              f"on the {len(picked)} split(s) whose best OOF is {args.method}: "
              + (f"mean {np.mean(picked):+.2%}, what choosing it by OOF did there" if picked else "none"))
    for name in stacks:
        print(stack_summary(name, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
