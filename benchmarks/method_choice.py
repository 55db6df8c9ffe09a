"""Whether the ensemble stage's choice among its methods overfits the rows it is made on: rules for
choosing a method, each scored nested, on every set's saved default run.

    python benchmarks/quality.py --keep /tmp/suite/ws --save /tmp/suite/run.json    # the default runs
    python benchmarks/method_choice.py --workspaces /tmp/suite/ws --save /tmp/suite/choice.json

Every method's OOF predictions are honest (its weights or level-2 model for fold k fitted on the other
folds), but `auto` then keeps the method with the best OOF score over all rows, fold k's included: with
eight methods a few ten-thousandths apart, that choice can follow the rows' noise. Here fold k's rows
get the method a rule chooses on the other folds' rows only (the first CV repeat's folds), and a rule's
nested score is the mean of its folds' scores (a fold scored whole, with its own method: rank
averages and probabilities are not comparable across folds for AUC). The rules:

- `best`: the best OOF score (the stage's `select`);
- `hill_climb`, `weighted`, ...: always that method;
- `hill_climb+`: hill climbing unless the best method beats it beyond a paired bootstrap interval
  (90 %) on the rows the choice is made on;
- `best without M`: the best OOF score among the other methods, so its loss against `best` is what method M
  earns as a candidate (a method that costs seconds and is never chosen, or is chosen on noise, shows here).
  `--candidate stack_lightgbm` adds a method `auto` does not try, so that its rule says what it would earn.

It prints, per set, each rule's nested score, and a summary over the sets of its relative error
reduction against `best` (+ is better), with a paired bootstrap over rows (resampled within each fold). The ensemble stage's
own code fits the methods (`pipeline.stages.ensemble.fit_methods`); solution.csv is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.members import each_set, gain_interval, relative_gain, workspace_copy  # noqa: E402 - one place each

_DEFAULT = "hill_climb"
_WITHOUT = "best without "
_CHOICE_RESAMPLES = 200


def fitted_methods(ws: Path, settings: dict):
    """The ensemble stage's `fit_methods` on a copy of the workspace with these [ensemble] `settings` (the
    saved run is not touched)."""
    from pipeline.context import CompetitionContext, StageContext
    from pipeline.stages import build_pipeline
    from pipeline.stages.ensemble import fit_methods

    with workspace_copy(ws) as (comp, state):
        comp.cfg["ensemble"].update(settings)
        ctx = StageContext(CompetitionContext(comp, log=lambda m: None), build_pipeline().get("ensemble"), None, state)
        return fit_methods(ctx)


def _fitted(ws: Path, pinned: tuple[str, ...] = ()):
    """The ensemble stage's fitted methods on a copy of the workspace: those `method = "auto"` tries, and
    each `pinned` one that fits the task and metric (a method auto does not try, fitted as if pinned)."""
    from models.ensemble import applicable

    fitted = fitted_methods(ws, {"method": "auto"})
    fits = applicable(fitted.problem.task, fitted.problem.metric)
    for method in pinned:
        if method not in fitted.results and method in fits:  # where it does not fit, the set keeps its choice
            fitted.results[method] = fitted_methods(ws, {"method": method}).results[method]
    return fitted


def _choose(rule: str, results: dict, y, rows, metric) -> str:
    """The method `rule` picks, judged on `rows` only."""
    def score(name):
        return metric(y[rows], results[name].oof[rows])

    best = max(results, key=lambda n: metric.sign * score(n))
    if rule == "best":
        return best
    if rule.startswith(_WITHOUT):  # the best among the others: what that method adds as a candidate
        left_out = rule[len(_WITHOUT):]
        return max((n for n in results if n != left_out), key=lambda n: metric.sign * score(n))
    if rule == f"{_DEFAULT}+":
        if best == _DEFAULT or _DEFAULT not in results:
            return best
        lo, _ = gain_interval(metric, y[rows], results[_DEFAULT].oof[rows], results[best].oof[rows],
                              resamples=_CHOICE_RESAMPLES)
        return best if lo > 0 else _DEFAULT
    return rule


def one_set(ws: Path, pinned: tuple[str, ...] = ()) -> dict:
    from models.ensemble import optimistic

    fitted = _fitted(ws, pinned)
    problem = fitted.problem
    results = {n: r for n, r in fitted.results.items() if not optimistic(r)}
    y, folds, metric = problem.y, problem.folds, problem.metric
    rules = ["best", f"{_DEFAULT}+", *results, *(f"{_WITHOUT}{n}" for n in results if len(results) > 1)]
    out = {"metric": metric.name, "greater_is_better": metric.greater_is_better,
           "methods": {n: r.score for n, r in results.items()}, "rules": {}}
    ks = np.unique(folds[folds >= 0])
    picks = {rule: [_choose(rule, results, y, (folds != k) & (folds >= 0), metric) for k in ks] for rule in rules}
    for rule in rules:
        scores = [metric(y[folds == k], results[name].oof[folds == k]) for k, name in zip(ks, picks[rule])]
        out["rules"][rule] = {"nested": float(np.mean(scores)), "picks": picks[rule]}
    for rule in rules[1:]:
        out["rules"][rule]["gain_interval"] = _fold_gain_interval(metric, y, folds, ks, results,
                                                                  picks["best"], picks[rule])
    return out


def _fold_gain_interval(metric, y, folds, ks, results, base: list[str], other: list[str], *,
                        resamples: int = 400, seed: int = 0) -> list[float]:
    """A paired bootstrap (rows resampled within each fold) of the relative error reduction of the
    fold-mean score of `other`'s per-fold methods against `base`'s: the 90 % interval."""
    if base == other:
        return [0.0, 0.0]
    from core.metrics import relative_gain

    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(folds == k) for k in ks]
    gains = []
    for _ in range(resamples):
        draw = [r[rng.integers(0, len(r), len(r))] for r in rows]
        gain = relative_gain(metric, *(float(np.mean([metric(y[d], results[n].oof[d]) for d, n in zip(draw, names)]))
                                       for names in (base, other)))
        if np.isfinite(gain):
            gains.append(gain)
    lo, hi = np.quantile(gains, [0.05, 0.95]) if gains else (float("nan"), float("nan"))
    return [float(lo), float(hi)]


def summary(results: dict[str, dict]) -> list[str]:
    """Per rule: the mean over sets of the relative error reduction of its nested score against `best`'s,
    sets worse / better (beyond +-0.01 %), and beyond their bootstrap interval."""
    rules = sorted({r for res in results.values() for r in res["rules"]} - {"best"})
    width = max([14, *map(len, rules)])
    lines = [f"{'rule':<{width}} {'sets':>4} {'mean':>8} {'worse':>5} {'better':>6} {'sig.worse':>9} {'sig.better':>10}"
             "  worse on (* beyond the interval)"]
    for rule in rules:
        gains, worse, better, sig_worse, sig_better = [], [], 0, 0, 0
        for name, res in results.items():
            if rule not in res["rules"]:
                continue
            g = res["greater_is_better"]
            gain = relative_gain(res["rules"]["best"]["nested"], res["rules"][rule]["nested"], g)
            gains.append(gain)
            lo, hi = res["rules"][rule]["gain_interval"]
            sig_worse += hi < 0
            sig_better += lo > 0
            if gain < -1e-4:
                worse.append(f"{name} {gain:+.2%}{'*' if hi < 0 else ''}")
            elif gain > 1e-4:
                better += 1
        lines.append(f"{rule:<{width}} {len(gains):>4} {np.mean(gains):>+8.3%} {len(worse):>5} {better:>6} "
                     f"{sig_worse:>9} {sig_better:>10}  {', '.join(worse)}")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspaces", type=Path, required=True, help="folder of one workspace per set (quality.py's)")
    p.add_argument("--sets", default=None, help="comma-separated subset")
    p.add_argument("--save", type=Path, default=None, help="write per-set results as JSON (after every set)")
    p.add_argument("--table", type=Path, default=None, help="print a saved file's summary, run nothing")
    p.add_argument("--candidate", action="append", default=[], metavar="METHOD",
                   help="a method auto does not try, fitted as if pinned and added to the candidates (repeatable), "
                        "e.g. stack_lightgbm")
    args = p.parse_args()
    if args.table:
        print("\n".join(summary(json.loads(args.table.read_text()))))
        return 0
    def report(name: str, result: dict) -> None:
        shown = ("best", f"{_DEFAULT}+", _DEFAULT, "weighted")
        print(f"{name}: " + ", ".join(f"{r} {v['nested']:.5f} ({'/'.join(sorted(set(v['picks'])))})"
                                      for r, v in result["rules"].items() if r in shown), flush=True)

    pinned = tuple(args.candidate)
    results = each_set(args.workspaces, args.sets, args.save, lambda ws: one_set(ws, pinned), report)
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
