"""Pseudo-labelling: CV and test score before and after, for each selection mode, label source and round.

    python benchmarks/pseudo.py                                  # titanic, hpc, fine_foods, ames_clean
    python benchmarks/pseudo.py --sets titanic --rounds 2        # one set, two rounds

For each set, a temporary workspace gets two LightGBM models (the default one and a slower, bagged
variant: the ensemble label source and the regression agreement need two), the pipeline runs
through the cv stage, and the best model by CV is pseudo-trained with every selection mode that
fits the task (classification: threshold, top, soft; regression: agreement on 30% and on all test
rows), with labels from the model itself and from the cross-fitted ensemble, for `--rounds` rounds
each (every round is trained here, whatever the stop rule; the round the stage would keep with
tolerance 0 -- rounds run while the CV score improves, the best of them kept -- is marked). Each
line prints the CV score (honest OOF) and the test score against solution.csv, before (the cv run)
and after, side by side; the kept line adds the ensemble (`method = "auto"`, the best honest OOF
method) of the cv runs without and with that pseudo run. A control line per set adds, instead, the
same model retrained without pseudo rows under another seed: a gain the pseudo run brings the
ensemble that the control does not bring is pseudo-labelling's, not just one more member's. The
settings are chosen by CV; the test columns are for this table only. The pipeline never reads
solution.csv.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import core  # noqa: E402,F401  (sets the OpenMP wait policy before LightGBM loads)
from pipeline.context import CompetitionContext, StageContext
from pipeline.runner import Runner  # noqa: E402
from pipeline.stages import build_pipeline  # noqa: E402
from pipeline.pseudo_labels import SELECTIONS, SOURCES  # noqa: E402
from pipeline.stages.pseudo import chosen_models, load_pool, pseudo_rounds  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402

DATA = REPO / "benchmarks" / "data"
SETS = ("titanic", "hpc", "fine_foods", "ames_clean")

_MODELS = """
[models.lgbm]
type = "lightgbm"
params = {}

[models.lgbm_bag]
type = "lightgbm"
params = { num_leaves = 15, learning_rate = 0.03, feature_fraction = 0.7, bagging_fraction = 0.8, bagging_freq = 1 }
"""

# (label, selection mode, threshold, fraction, weight) per task kind
_VARIANTS = {
    True: [("threshold 0.95", "threshold", 0.95, 0.3, 1.0), ("threshold 0.8", "threshold", 0.8, 0.3, 1.0),
           ("top 30%", "top", 0.95, 0.3, 1.0), ("soft", "soft", 0.95, 0.3, 1.0),
           ("soft w0.5", "soft", 0.95, 0.3, 0.5)],
    False: [("agree 30%", "agreement", 0.95, 0.3, 1.0), ("agree all", "agreement", 0.95, 1.0, 1.0),
            ("agree all w0.5", "agreement", 0.95, 1.0, 0.5)],
}


def _workspace(root: Path, name: str) -> None:
    from pipeline.init_competition import _read, infer, render_config

    dest = root / "competition" / name
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / name / f, dest / f)
    config = render_config(infer(*[_read(dest / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]), {})
    config = config[: config.index("[models.")] if "[models." in config else config
    (dest / "competition.toml").write_text(config + _MODELS)


def bench(name: str, root: Path, *, rounds: int, sources: list[str]) -> list[dict]:
    """Train the variants on one set and print its table; returns one row per (variant, round)."""
    _workspace(root, name)
    comp = Workspace(root).competition(name)
    pipe = build_pipeline()
    runner = Runner(pipe, comp, log=lambda m: None)
    t0 = time.perf_counter()
    runner.run("cv")
    cv_seconds = time.perf_counter() - t0
    ctx = StageContext(CompetitionContext(comp, log=lambda m: None), pipe.get("pseudo"), None, runner.state)
    training = ctx.training()
    task, metric = training.task, training.metric
    sol = pd.read_csv(DATA / name / "solution.csv")
    pos = pd.Index(training.test[comp.id_col]).get_indexer(sol[comp.id_col])
    y_test = task.encode(sol[comp.target])

    def test_score(pred: np.ndarray) -> float:
        return metric(y_test, np.asarray(pred)[pos])

    from models.ensemble import Member, Problem, run_methods, select
    from pipeline.artifacts import read_run
    from pipeline.stages.ensemble import _method_options

    pool = load_pool(ctx, training)
    model = chosen_models({"models": [], "top_k": 1}, pool, metric)[0]
    tests = {n: read_run(comp.runs / "models" / n, id_col=comp.id_col, task=task).test for n in pool}
    members = [Member(n, pool[n].oof, tests[n]) for n in pool]
    options = _method_options(ctx, len(training.train))

    def ensemble(extra: list) -> tuple[float, float]:
        problem = Problem(members + extra, training.y, training.folds, task, metric)
        best = select(run_methods(problem, options=options), metric)
        return best.score, test_score(best.test)

    ens_before = ensemble([])
    before_test = test_score(tests[model])
    before_cv = pool[model].overall
    spec = comp.models[model]
    reseeded = training.train_cv(f"{model}-seed1", {**spec, "params": {**spec.get("params", {}), "seed": 1}},
                                 log=lambda m: None)
    control = ensemble([Member(f"{model}-seed1", reseeded.oof, reseeded.test)])
    better = "higher" if metric.greater_is_better else "lower"
    print(f"\n{name}: {metric.name} ({better} is better), {len(training.train)} train / {len(training.test)} "
          f"test rows; pseudo-training {model} (best of {', '.join(pool)} by CV); cv stage {cv_seconds:.0f}s")
    head = (f"  {'selection':<15} {'labels':<9} {'round':>5} {'rows/fold':>9} {'CV before':>10} {'CV after':>9} "
            f"{'ΔCV':>8} {'test before':>11} {'test after':>10} {'Δtest':>8} {'s':>4}  kept: ensemble CV, test "
            f"without -> with it")
    print(head)
    print(f"  {'control: seed 1':<15} {'-':<9} {'-':>5} {0:>9} {before_cv:>10.5f} {reseeded.overall:>9.5f} "
          f"{metric.sign * (reseeded.overall - before_cv):>+8.5f} {before_test:>11.5f} "
          f"{test_score(reseeded.test):>10.5f} {metric.sign * (test_score(reseeded.test) - before_test):>+8.5f} "
          f"{'':>4}  <- {ens_before[0]:.5f} -> {control[0]:.5f}, {ens_before[1]:.5f} -> {control[1]:.5f}")
    rows = []
    for label, mode, threshold, fraction, weight in _VARIANTS[task.is_classification]:
        for source in sources:
            t1 = time.perf_counter()
            done = pseudo_rounds(training, pool, model, comp.models[model], selection=SELECTIONS[mode],
                                 source=SOURCES[source], threshold=threshold, fraction=fraction, weight=weight,
                                 rounds=rounds, tolerance=-np.inf, log=lambda m: None)
            seconds = (time.perf_counter() - t1) / max(len(done), 1)
            ran, previous = [], before_cv  # the rounds the stage runs with tolerance 0, and the one it keeps
            for r in done:
                ran.append(r)
                if not metric.better(r.result.overall, previous):
                    break
                previous = r.result.overall
            kept = max(ran, key=lambda r: metric.sign * r.result.overall).number if ran else 0
            for r in done:
                after_test = test_score(r.result.test)
                d_cv = metric.sign * (r.result.overall - before_cv)
                d_test = metric.sign * (after_test - before_test)
                mark = ""
                if r.number == kept:
                    ens_after = ensemble([Member(f"{model}-pseudo", r.result.oof, r.result.test)])
                    mark = (f"  <- {ens_before[0]:.5f} -> {ens_after[0]:.5f}, "
                            f"{ens_before[1]:.5f} -> {ens_after[1]:.5f}")
                print(f"  {label:<15} {source:<9} {r.number:>5} {np.mean(r.rows_per_fold):>9.0f} {before_cv:>10.5f} "
                      f"{r.result.overall:>9.5f} {d_cv:>+8.5f} {before_test:>11.5f} {after_test:>10.5f} "
                      f"{d_test:>+8.5f} {seconds:>4.0f}{mark}")
                rows.append({"set": name, "variant": label, "labels": source, "round": r.number,
                             "d_cv": d_cv, "d_test": d_test, "kept": r.number == kept})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets")
    p.add_argument("--rounds", type=int, default=3, help="rounds per variant (default 3)")
    p.add_argument("--labels", default=",".join(SOURCES), help="comma-separated label sources")
    p.add_argument("--keep", metavar="DIR", help="build the workspaces under DIR and keep them")
    args = p.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        for name in args.sets.split(","):
            rows += bench(name.strip(), root / name.strip(), rounds=args.rounds,
                          sources=[s.strip() for s in args.labels.split(",")])
    print("\nround 1, by variant: sets where the CV score improved / the test score improved "
          "(Δ > 0 is better in the metric's direction)")
    table = pd.DataFrame(rows)
    first = table[table["round"] == 1]
    for (variant, source), g in first.groupby(["variant", "labels"], sort=False):
        print(f"  {variant:<15} {source:<9} CV {int((g['d_cv'] > 0).sum())}/{len(g)}  "
              f"test {int((g['d_test'] > 0).sum())}/{len(g)}  "
              f"sets: {', '.join(f'{s} {c:+.4f}/{t:+.4f}' for s, c, t in zip(g['set'], g['d_cv'], g['d_test']))}")


if __name__ == "__main__":
    main()
