"""Which members earn their place: candidate models added to, and zoo members left out of, the default
ensemble, on every set's saved default run -- honest OOF scores and seconds, per set and over the suite.

    python benchmarks/quality.py --save /tmp/suite/baseline.json        # the default runs (workspaces kept)
    python benchmarks/members.py --workspaces /tmp/suite/ws --candidates benchmarks/candidates.toml \\
        --save /tmp/suite/members.json

For each set's workspace (copied to a temporary folder; the saved run is not touched) it trains every
candidate table of `--candidates` (TOML `[models.NAME]` tables, as in competition.toml) on the set's
saved folds and features, then runs the ensemble stage's own code for each configuration:

- `zoo`: the default members as they ran;
- `+NAME`: the zoo and one candidate;  `+all`: the zoo and every candidate;
- `-NAME`: the zoo without one of its members;
- `A&B&-C` (`--together A,B,-C`): several changes at once (each candidate in place of the member it is
  `like`, else added; `-C` leaves member C out);
- a scikit-learn candidate that depends on the task names both estimators:
  `estimators = { classification = "sklearn.ensemble.ExtraTreesClassifier", regression = "...Regressor" }`;
- `NAME=>CAND`: a candidate in place of the zoo member it varies: a candidate table with `like = "lgbm"`
  is that set's `lgbm` table with the candidate's `params` on top (e.g. `params = { refit = false }`:
  LightGBM keeping each fold's early-stopped model), and replaces it;
- `[ensemble] KEY=VALUE` (`--ensemble KEY=VALUE`, a TOML value): the zoo's members with one ensemble setting
  changed, e.g. `--ensemble calibrate=false` (no candidate is trained; `--candidates` may be left out).

It prints each configuration's ensemble OOF score and its seconds (the members' training time) per set,
and a summary per configuration: the mean over sets of the relative OOF error reduction against `zoo`
(an error is the metric itself when lower is better, 1 - score for AUC and accuracy, as
benchmarks/quality.py), how many sets got worse and better, and the total seconds against `zoo`'s.
Defaults are chosen by these OOF figures, never by solution.csv (which this script never reads).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _error(score: float, greater_is_better: bool) -> float:
    return 1.0 - score if greater_is_better else score


def _ensemble_score(comp, state: dict, members: list[str], settings: dict | None = None) -> float:
    """The ensemble stage's honest OOF score over `members` (its own code, its chosen method), with
    `settings` in place of those [ensemble] keys."""
    from pipeline.context import CompetitionContext, StageContext
    from pipeline.stages import build_pipeline
    from pipeline.stages.ensemble import run

    saved = dict(comp.cfg["ensemble"])
    comp.cfg["ensemble"].update(settings or {}, models=list(members))
    try:
        ctx = StageContext(CompetitionContext(comp, log=lambda m: None), build_pipeline().get("ensemble"), None, state)
        run(ctx)
    finally:
        comp.cfg["ensemble"].clear()
        comp.cfg["ensemble"].update(saved)
    return float(json.loads((comp.runs / "ensemble" / "scores.json").read_text())["overall"])


def _setting(text: str) -> tuple[str, object]:
    """`KEY=VALUE` (a TOML value) as a pair."""
    import tomllib

    key, _, value = text.partition("=")
    return key.strip(), tomllib.loads(f"v = {value.strip()}")["v"]


def _seconds(run_dir: Path) -> float:
    try:
        return float(json.loads((run_dir / "timings.json").read_text())["total"])
    except (OSError, ValueError, KeyError):
        return float("nan")


def _train_every_repeat(setup, name: str, spec: dict):
    """A candidate trained as the cv stage trains a member: on each CV repeat of the workspace, averaged.
    (A member of one repeat would limit the ensemble to the first repeat, and so lose what the
    second repeat gives every other member.)"""
    from core.folds import validated
    from models import average_repeats

    parts = [setup.for_repeat(r).train_cv(name, spec, progress=False) for r in range(setup.repeats)]
    return average_repeats(parts, setup.y, setup.metric, validated(setup.folds), setup.sample_weight)


def one_set(ws: Path, candidates: dict[str, dict], log, together: list[list[str]] = (),
            ensemble: list[str] = ()) -> dict:
    """Train the candidates in a copy of `ws` and score every configuration (see the module docstring)."""
    from pipeline.context import CompetitionContext
    from pipeline.state import StateStore
    from pipeline.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="members-") as tmp:
        copy = Path(tmp) / "ws"
        shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("cache", "report.html"))
        comp = Workspace(copy).competition(None)
        store = StateStore(comp.runs)
        state = {name: store.load(name) for name in ("cv", "pseudo")}
        zoo = list(state.get("cv", {}).get("units", {}))
        setup = CompetitionContext(comp, log=lambda m: None).training()
        seconds = {m: _seconds(comp.runs / "models" / m) for m in zoo}
        for name, spec in candidates.items():
            if spec.get("like") and spec["like"] not in zoo:  # this set's zoo has no such member
                continue
            if "like" in spec:  # the set's own table of that member, with the candidate's params on top
                base = json.loads(json.dumps(comp.models[spec["like"]]))
                base["params"] = {**base.get("params", {}), **spec.get("params", {})}
                base.update({k: v for k, v in spec.items() if k not in ("like", "params")})  # e.g. preprocess
                spec = base
            if "estimators" in spec:  # a scikit-learn candidate per task kind: classification / regression
                kind = "classification" if setup.task.is_classification else "regression"
                spec = {**{k: v for k, v in spec.items() if k != "estimators"}, "type": "sklearn",
                        "estimator": spec["estimators"][kind]}
            t0 = time.perf_counter()
            result = _train_every_repeat(setup, name, spec)
            seconds[name] = time.perf_counter() - t0
            setup.write(comp.runs / "models" / name, result)
            state["cv"]["units"][name] = {}
            log(f"  {name}: OOF {result.overall:.5f} in {seconds[name]:.0f} s")
        greater = setup.metric.greater_is_better
        candidates = {n: spec for n, spec in candidates.items() if n in seconds}
        configs: dict[str, list[str]] = {"zoo": zoo}
        for group in together:  # several changes at once: candidates in place of (or beside) members, -NAME out
            members = list(zoo)
            for item in group:
                if item.startswith("-"):
                    members = [m for m in members if m != item[1:]]
                elif item in candidates:
                    replaced = candidates[item].get("like")
                    members = [item if m == replaced else m for m in members] if replaced in members else [*members, item]
            configs["&".join(group)] = members
        for name, spec in candidates.items():
            configs[f"+{name}"] = [*zoo, name]
            replaced = spec.get("like")
            if replaced in zoo:
                configs[f"{replaced}=>{name}"] = [name if m == replaced else m for m in zoo]
        if len(candidates) > 1:
            configs["+all"] = [*zoo, *candidates]
        for member in zoo if candidates or not ensemble else []:  # leave-outs, unless only settings are compared
            if len(zoo) > 1:
                configs[f"-{member}"] = [m for m in zoo if m != member]
        out = {"metric": setup.metric.name, "greater_is_better": greater, "zoo": zoo, "seconds": seconds,
               "members": {m: float(json.loads((comp.runs / "models" / m / "scores.json").read_text())["overall"])
                           for m in [*zoo, *candidates]}, "configs": {}}
        settings = {label: {} for label in configs}
        for text in ensemble:
            configs[f"[ensemble] {text}"] = zoo
            settings[f"[ensemble] {text}"] = dict([_setting(text)])
        for label, members in configs.items():
            out["configs"][label] = {"members": members, "oof": _ensemble_score(comp, state, members, settings[label]),
                                     "seconds": sum(seconds.get(m, 0.0) for m in members)}
            log(f"  {label:<24} OOF {out['configs'][label]['oof']:.5f}  {out['configs'][label]['seconds']:.0f} s")
    return out


def summary(results: dict[str, dict]) -> list[str]:
    """Per configuration: mean relative OOF error reduction against `zoo`, sets worse / better, seconds."""
    labels = sorted({label for r in results.values() for label in r["configs"]} - {"zoo"})
    lines = [f"{'configuration':<24} {'sets':>4} {'mean OOF err. red.':>18} {'worse':>5} {'better':>6} "
             f"{'seconds':>9} {'vs zoo':>7}  worse on"]
    for label in labels:
        gains, worse, better, secs, base_secs = [], [], 0, 0.0, 0.0
        for name, r in results.items():
            if label not in r["configs"]:
                continue
            g = r["greater_is_better"]
            e0, e1 = _error(r["configs"]["zoo"]["oof"], g), _error(r["configs"][label]["oof"], g)
            gain = (e0 - e1) / e0 if e0 > 0 else 0.0
            gains.append(gain)
            if gain < -1e-4:
                worse.append(f"{name} {gain:+.2%}")
            elif gain > 1e-4:
                better += 1
            secs += r["configs"][label]["seconds"]
            base_secs += r["configs"]["zoo"]["seconds"]
        if not gains:
            continue
        mean = sum(gains) / len(gains)
        lines.append(f"{label:<24} {len(gains):>4} {mean:>+17.3%} {len(worse):>5} {better:>6} {secs:>8.0f}s "
                     f"{secs / base_secs if base_secs else float('nan'):>6.2f}x  {', '.join(worse)}")
    return lines


def main() -> int:
    import tomllib

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspaces", type=Path, required=True, help="folder of one workspace per set (quality.py's)")
    p.add_argument("--candidates", type=Path, default=None, help="TOML file of [models.NAME] tables to try")
    p.add_argument("--sets", default=None, help="comma-separated subset")
    p.add_argument("--save", type=Path, default=None, help="write per-set results as JSON (after every set)")
    p.add_argument("--together", action="append", default=[],
                   help="one configuration of several changes: comma-separated candidates (each in place of the "
                        "member it is `like`, else added) and -MEMBER (left out); may be given again; one that "
                        "starts with '-' is written --together=-a,-b")
    p.add_argument("--ensemble", action="append", default=[],
                   help="one configuration: the zoo with an [ensemble] setting KEY=VALUE (a TOML value); may be given again")
    p.add_argument("--table", type=Path, default=None, help="print a saved file's summary, run nothing")
    args = p.parse_args()
    if args.table:
        print("\n".join(summary(json.loads(args.table.read_text()))))
        return 0
    candidates = tomllib.loads(args.candidates.read_text()).get("models", {}) if args.candidates else {}
    sets = args.sets.split(",") if args.sets else sorted(p.name for p in args.workspaces.iterdir() if p.is_dir())
    results: dict[str, dict] = json.loads(args.save.read_text()) if args.save and args.save.exists() else {}
    for name in sets:
        if name in results:
            continue
        print(f"{name}:", flush=True)
        try:
            results[name] = one_set(args.workspaces / name, candidates, lambda m: print(m, flush=True),
                                    [g.split(",") for g in args.together], args.ensemble)
        except Exception as exc:  # noqa: BLE001 - one set's failure is reported; the others still run
            print(f"  failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        if args.save:
            args.save.write_text(json.dumps(results, indent=1))
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
