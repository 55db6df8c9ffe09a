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
  `by_kind = { classification = { ... }, regression = { ... } }` puts any keys of the table (an
  estimator, its `params`, `trim_outliers`) on top for that task kind;
- `NAME=>CAND`: a candidate in place of the zoo member it varies: a candidate table with `like = "lgbm"`
  is that set's `lgbm` table with the candidate's `params` on top (e.g. `params = { refit = false }`:
  LightGBM keeping each fold's early-stopped model), and replaces it. A candidate whose OOF predictions
  equal its member's to the last bit is named on its line and in the saved `same_as_like`: its change is
  a setting the member already has (a model type's own default under the zoo's table), so it measured nothing;
- `LIKE=>NAME@S` (`--seeds S,...`): each `like` candidate and its member trained again at seed S (the type's
  seed parameter), and the zoo with the candidate at seed S in its member's place scored against the zoo with the
  member at seed S (`LIKE@S`, itself scored against `zoo`, which shows what the seed alone moves). A net's seed
  moves a set by more than most changes (the MLP at seed 2: the suite -0.47 %), and the rows' bootstrap does not
  hold that spread, so a change to a seeded member is judged pair by pair, each seed against its own baseline;
- `[ensemble] KEY=VALUE` (`--ensemble KEY=VALUE`, a TOML value): the zoo's members with one ensemble setting
  changed, e.g. `--ensemble calibrate=false` (no candidate is trained; `--candidates` may be left out);
- `+pseudo` (`--pseudo`): the zoo and the pseudo stage's own run with its defaults (`[pseudo] enabled = true`:
  the best cv member by OOF whose fit takes sample weights, trained again on each fold's rows plus test rows
  labelled by that fold's models); `+control`: the zoo and the same member trained again, as the pseudo run
  is, on the first CV repeat, under another seed and without pseudo rows. What `+pseudo` gains beyond
  `+control` is pseudo-labelling's, not one more member's. `--pseudo-setting KEY=VALUE` (a TOML value) changes
  one `[pseudo]` key of that run, e.g. `labels="ensemble"`.

It prints each configuration's ensemble OOF score and its seconds (the members' training time) per set,
and a summary per configuration: the mean over sets of the relative OOF error reduction against `zoo` (or
the configuration's own baseline, `--seeds`; an error is the metric itself when lower is better, 1 - score for
AUC and accuracy, as benchmarks/quality.py), how many sets got worse and better, and the total seconds against
the baseline's. Then, for each candidate in its member's place, the candidate alone against that member (their
own OOF scores and seconds): a better model the ensemble does not want reads differently from a worse model.
"sig." counts only the sets whose change lies beyond a paired bootstrap over rows (`gain_interval`,
90 %): a change inside it is one that another draw of the set's rows could reverse.
Defaults are chosen by these OOF figures, never by solution.csv (which this script never reads).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _error(score: float, greater_is_better: bool) -> float:
    return 1.0 - score if greater_is_better else score


def relative_gain(base: float, other: float, greater_is_better: bool) -> float:
    """The share of `base`'s error that `other` removes (+ is better; 0 when `base` has no error)."""
    e0, e1 = _error(base, greater_is_better), _error(other, greater_is_better)
    return (e0 - e1) / e0 if e0 > 0 else 0.0


def _ensemble_score(comp, state: dict, members: list[str], settings: dict | None = None) -> tuple[float, "np.ndarray"]:
    """The ensemble stage's honest OOF score over `members` (its own code, its chosen method), with
    `settings` in place of those [ensemble] keys, and its OOF predictions (rows in train's order)."""
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
    return float(json.loads((comp.runs / "ensemble" / "scores.json").read_text())["overall"]), ensemble_oof(comp)


def ensemble_oof(comp) -> np.ndarray:
    """The ensemble stage's OOF predictions of a loaded competition (rows in train's order): one column
    as a vector, class probabilities as a matrix."""
    import pandas as pd

    values = pd.read_parquet(comp.runs / "ensemble" / "oof.parquet").drop(columns=[comp.cfg["competition"]["id"]])
    values = values.to_numpy()
    return values[:, 0] if values.shape[1] == 1 else values


def setup_interval(setup, base: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """`gain_interval` of two OOF predictions of one training setup: its metric, target and weights, on
    the rows with an OOF prediction (forward chaining's first block has none)."""
    scored = setup.folds >= 0
    weight = None if setup.sample_weight is None else setup.sample_weight[scored]
    return gain_interval(setup.metric, setup.y[scored], base[scored], other[scored], weight=weight)


BOOTSTRAP_RESAMPLES = 400
BOOTSTRAP_LEVEL = 0.90  # two-sided: a set counts as worse (better) when the whole interval is below (above) 0
_Z = 1.6449  # the normal quantile of that level's upper tail (0.95)


def gain_interval(metric, y, base, other, *, weight=None, seed: int = 0,
                  resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """A paired bootstrap over rows of the relative error reduction of `other`'s OOF predictions against
    `base`'s (+ is better): the BOOTSTRAP_LEVEL interval (core.metrics.paired_gain_interval, which `pipeline
    diff` prints too). A change inside it is one that another draw of the same set's rows could reverse."""
    from core.metrics import paired_gain_interval

    return paired_gain_interval(metric, y, base, other, sample_weight=weight, resamples=resamples,
                                level=BOOTSTRAP_LEVEL, seed=seed)


def parse_setting(text: str) -> tuple[str, object]:
    """`KEY=VALUE` (a TOML value) as a pair."""
    import tomllib

    key, _, value = text.partition("=")
    return key.strip(), tomllib.loads(f"v = {value.strip()}")["v"]


def _seconds(run_dir: Path) -> float:
    try:
        return float(json.loads((run_dir / "timings.json").read_text())["total"])
    except (OSError, ValueError, KeyError):
        return float("nan")


def candidate_table(spec: dict, tables: dict[str, dict], kind: str) -> dict:
    """The model table a candidate trains on a set whose model tables are `tables` and whose task is of
    `kind` (classification or regression): `like`'s table with the candidate's params and other keys on
    top, then `by_kind[kind]`'s keys, then `estimators[kind]` as a scikit-learn estimator."""
    if "like" in spec:  # the set's own table of that member, with the candidate's params on top
        base = json.loads(json.dumps(tables[spec["like"]]))
        base["params"] = {**base.get("params", {}), **spec.get("params", {})}
        base.update({k: v for k, v in spec.items() if k not in ("like", "params")})  # e.g. preprocess
        spec = base
    if "by_kind" in spec:  # the table's keys for this task kind on top (an estimator and its params)
        spec = {**{k: v for k, v in spec.items() if k != "by_kind"}, **spec["by_kind"].get(kind, {})}
    if "estimators" in spec:  # a scikit-learn candidate per task kind: classification / regression
        spec = {**{k: v for k, v in spec.items() if k != "estimators"}, "type": "sklearn",
                "estimator": spec["estimators"][kind]}
    return spec


def _same_oof(models: Path, candidate: str, member: str) -> bool:
    """Whether a candidate's OOF predictions equal its `like` member's to the last bit: its change is a
    setting the member already has (a model type's own default under the zoo's table), so it measured nothing."""
    import pandas as pd

    return pd.read_parquet(models / candidate / "oof.parquet").equals(pd.read_parquet(models / member / "oof.parquet"))


def _train_every_repeat(setup, name: str, spec: dict):
    """A candidate trained as the cv stage trains a member: on each CV repeat of the workspace, averaged,
    or on as many as its table's own `repeats` allows (the ensemble then reuses those in the later repeats,
    as it does for such a member of a run)."""
    from core.folds import validated
    from models import average_repeats
    from pipeline.stages.cv import model_repeats

    repeats = model_repeats(spec, setup.repeats)  # a table's own cap, as in a run
    parts = [setup.for_repeat(r).train_cv(name, spec, progress=False) for r in range(repeats)]
    return average_repeats(parts, setup.y, setup.metric, validated(setup.folds), setup.sample_weight)


@contextmanager
def workspace_copy(ws: Path):
    """A saved set's competition loaded from a temporary copy of its workspace (the saved run is never
    touched), with its cv and pseudo stages' recorded state: (competition, state)."""
    from pipeline.state import StateStore
    from pipeline.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="members-") as tmp:
        copy = Path(tmp) / "ws"
        shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("cache", "report.html"))
        comp = Workspace(copy).competition(None)
        store = StateStore(comp.runs)
        yield comp, {name: store.load(name) for name in ("cv", "pseudo")}


def each_set(workspaces: Path, sets: str | None, save: Path | None, one, report=lambda name, result: None) -> dict:
    """`one(workspace)` on every set's workspace (or the comma-separated `sets`), each result saved to
    `save` as it comes (a rerun resumes, skipping the sets already there); a set that fails is reported
    and the others still run."""
    names = sets.split(",") if sets else sorted(p.name for p in workspaces.iterdir() if p.is_dir())
    results: dict[str, dict] = json.loads(save.read_text()) if save and save.exists() else {}
    for name in names:
        if name in results:
            continue
        try:
            results[name] = one(workspaces / name)
        except Exception as exc:  # noqa: BLE001 - one set's failure is reported; the others still run
            print(f"{name}: failed: {type(exc).__name__}: {exc}", flush=True)
            continue
        report(name, results[name])
        if save:
            save.write_text(json.dumps(results, indent=1))
    return results


_SEED_KEYS = {"lightgbm": "seed", "catboost": "random_seed", "xgboost": "seed", "mlp": "seed", "net": "seed",
              "densenet": "seed", "rnn": "seed"}


def _pseudo_runs(comp, state: dict, setup, seconds: dict, log, settings: dict | None = None) -> list[str]:
    """Run the pseudo stage's own code with its defaults on the loaded copy, and the control (its member under
    another seed, first CV repeat, no pseudo rows) as a cv unit; returns [pseudo run, control] names, or []
    when the stage chose no member."""
    from pipeline.context import CompetitionContext, StageContext
    from pipeline.stages import build_pipeline
    from pipeline.stages.pseudo import run

    comp.cfg["pseudo"].update(settings or {}, enabled=True)
    lines: list[str] = []
    t0 = time.perf_counter()
    paths = run(StageContext(CompetitionContext(comp, log=lines.append), build_pipeline().get("pseudo"), None, state))
    if not paths:
        return []
    pseudo = paths[0].parent.name
    seconds[pseudo] = time.perf_counter() - t0
    state["pseudo"] = {"paths": [str(p.relative_to(comp.workspace)) for p in paths]}
    member = pseudo.removesuffix("-pseudo")
    spec = comp.models[member]
    key = _seed_key(spec)
    spec = with_seed(spec, int(spec.get("params", {}).get(key, 0)) + 1)
    t0 = time.perf_counter()
    control = setup.for_repeat(0).train_cv("control", spec, progress=False)
    seconds["control"] = time.perf_counter() - t0
    setup.write(comp.runs / "models" / "control", control)
    state["cv"]["units"]["control"] = {}
    for line in lines:
        if "kept round" in line or "round 1:" in line:
            log(f"  {line}")
    log(f"  control ({member}, {key} + 1): OOF {control.overall:.5f} in {seconds['control']:.0f} s")
    return [pseudo, "control"]


def _seed_key(spec: dict) -> str:
    """The seed parameter of a model table's type (`random_state` for a scikit-learn estimator)."""
    return _SEED_KEYS.get(spec["type"], "random_state")


def with_seed(spec: dict, seed: int) -> dict:
    """A copy of a model table with its type's seed parameter set to `seed`."""
    spec = json.loads(json.dumps(spec))
    spec["params"] = {**spec.get("params", {}), _seed_key(spec): int(seed)}
    return spec


def _seeded(candidates: dict[str, dict], zoo: list[str], seeds: list[int]) -> dict[str, tuple[str, str, int]]:
    """The extra models `--seeds` trains, {name: (table to copy, `like` member, seed)}: each member that a
    candidate is `like`, then each such candidate, at every seed."""
    likes = list(dict.fromkeys(spec["like"] for spec in candidates.values() if spec.get("like") in zoo))
    out = {f"{like}@{s}": (like, like, s) for like in likes for s in seeds}
    out.update({f"{name}@{s}": (name, spec["like"], s) for name, spec in candidates.items()
                if spec.get("like") in zoo for s in seeds})
    return out


def one_set(ws: Path, candidates: dict[str, dict], log, together: list[list[str]] = (),
            ensemble: list[str] = (), pseudo: bool = False, pseudo_settings: list[str] = (),
            seeds: list[int] = ()) -> dict:
    """Train the candidates in a copy of `ws` and score every configuration (see the module docstring)."""
    from pipeline.context import CompetitionContext

    log(f"{ws.name}:")
    with workspace_copy(ws) as (comp, state):
        zoo = list(state.get("cv", {}).get("units", {}))
        setup = CompetitionContext(comp, log=lambda m: None).training()
        seconds = {m: _seconds(comp.runs / "models" / m) for m in zoo}
        kind = "classification" if setup.task.is_classification else "regression"
        unchanged = []

        def train(name: str, spec: dict) -> float:
            """Train one extra model on the set's folds as a cv unit of the copy; its OOF score."""
            t0 = time.perf_counter()
            result = _train_every_repeat(setup, name, spec)
            seconds[name] = time.perf_counter() - t0
            setup.write(comp.runs / "models" / name, result)
            state["cv"]["units"][name] = {}
            return result.overall

        for name, spec in candidates.items():
            like = spec.get("like")
            if like and like not in zoo:  # this set's zoo has no such member
                continue
            score = train(name, candidate_table(spec, comp.models, kind))
            same = bool(like) and _same_oof(comp.runs / "models", name, like)
            unchanged += [name] if same else []
            log(f"  {name}: OOF {score:.5f} in {seconds[name]:.0f} s"
                + (f" -- the same OOF predictions as {like}: on this set the change is what {like} already does"
                   if same else ""))
        seeded = _seeded({n: spec for n, spec in candidates.items() if n in seconds}, zoo, list(seeds))
        for name, (source, like, seed) in seeded.items():
            table = comp.models[like] if source == like else candidate_table(candidates[source], comp.models, kind)
            score = train(name, with_seed(table, seed))
            log(f"  {name}: OOF {score:.5f} in {seconds[name]:.0f} s")
        greater = setup.metric.greater_is_better
        candidates = {n: spec for n, spec in candidates.items() if n in seconds}
        extra = (_pseudo_runs(comp, state, setup, seconds, log, dict(map(parse_setting, pseudo_settings)))
                 if pseudo else [])
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
        baselines: dict[str, str] = {}  # a configuration scored against another than `zoo`
        for name, (source, like, seed) in seeded.items():
            label = f"{like}@{seed}" if source == like else f"{like}=>{name}"
            configs[label] = [name if m == like else m for m in zoo]
            if source != like:
                baselines[label] = f"{like}@{seed}"
        if len(candidates) > 1:
            configs["+all"] = [*zoo, *candidates]
        if extra:
            configs["+pseudo"], configs["+control"] = [*zoo, extra[0]], [*zoo, extra[1]]
        # leave-outs, unless only ensemble settings or the pseudo run are compared
        for member in zoo if candidates or not (ensemble or extra) else []:
            if len(zoo) > 1:
                configs[f"-{member}"] = [m for m in zoo if m != member]
        out = {"metric": setup.metric.name, "greater_is_better": greater, "zoo": zoo, "seconds": seconds,
               "same_as_like": unchanged,
               "members": {m: float(json.loads((comp.runs / "models" / m / "scores.json").read_text())["overall"])
                           for m in [*zoo, *candidates, *seeded]}, "configs": {}}
        for run_dir in ([comp.runs / "pseudo" / extra[0], comp.runs / "models" / extra[1]] if extra else []):
            out["members"][run_dir.name] = float(json.loads((run_dir / "scores.json").read_text())["overall"])
        settings = {label: {} for label in configs}
        for text in ensemble:
            configs[f"[ensemble] {text}"] = zoo
            settings[f"[ensemble] {text}"] = dict([parse_setting(text)])
        predictions = {}
        for label in sorted(configs, key=lambda c: c in baselines):  # each baseline before what it is against
            members = configs[label]
            score, predictions[label] = _ensemble_score(comp, state, members, settings.get(label, {}))
            out["configs"][label] = {"members": members, "oof": score,
                                     "seconds": sum(seconds.get(m, 0.0) for m in members)}
            base = baselines.get(label, "zoo")
            if label != "zoo":
                lo, hi = setup_interval(setup, predictions[base], predictions[label])
                out["configs"][label]["gain_interval"] = [lo, hi]
                if base != "zoo":
                    out["configs"][label]["against"] = base
            log(f"  {label:<24} OOF {score:.5f}  {out['configs'][label]['seconds']:.0f} s"
                + (f"  gain {lo:+.2%} .. {hi:+.2%}" if label != "zoo" else "")
                + (f" against {base}" if base != "zoo" else ""))
    return out


def summary(results: dict[str, dict]) -> list[str]:
    """Per configuration: mean relative OOF error reduction against its baseline (`zoo`, or the member at the same
    seed for `--seeds`) with its interval (the sets' bootstrap intervals combined as independent normals), the
    median, sets worse / better (beyond +-0.01 %), sets worse / better beyond their paired bootstrap interval
    (`gain_interval`), seconds against the baseline's."""
    labels = sorted({label for r in results.values() for label in r["configs"]} - {"zoo"})
    lines = [f"{'configuration':<24} {'sets':>4} {'mean, 90 % interval':>19} {'median':>8} {'worse':>5} {'better':>6} "
             f"{'sig.worse':>9} {'sig.better':>10} {'seconds':>9} {'vs base':>7}  worse on (* beyond the interval)"]
    for label in labels:
        gains, variances, worse, better, sig_worse, sig_better, secs, base_secs = [], [], [], 0, 0, 0, 0.0, 0.0
        for name, r in results.items():
            if label not in r["configs"]:
                continue
            g = r["greater_is_better"]
            base = r["configs"][r["configs"][label].get("against", "zoo")]
            gain = relative_gain(base["oof"], r["configs"][label]["oof"], g)
            gains.append(gain)
            lo, hi = r["configs"][label].get("gain_interval", (float("nan"), float("nan")))
            sig_worse += hi < 0
            sig_better += lo > 0
            variances.append(((hi - lo) / (2 * _Z)) ** 2)  # the set's bootstrap spread as a normal's variance
            if gain < -1e-4:
                worse.append(f"{name} {gain:+.2%}{'*' if hi < 0 else ''}")
            elif gain > 1e-4:
                better += 1
            secs += r["configs"][label]["seconds"]
            base_secs += base["seconds"]
        if not gains:
            continue
        mean = sum(gains) / len(gains)
        half = _Z * np.sqrt(np.nansum(variances)) / len(gains)  # the mean's interval: the sets' draws are independent
        median = float(np.median(gains))  # one small set's swing (breast_cancer: +-10 %) moves the mean, not this
        lines.append(f"{label:<24} {len(gains):>4} {mean:>+10.3%} ±{half:<6.2%} {median:>+8.3%} {len(worse):>5} "
                     f"{better:>6} {sig_worse:>9} {sig_better:>10} {secs:>8.0f}s "
                     f"{secs / base_secs if base_secs else float('nan'):>6.2f}x  {', '.join(worse)}")
    return lines


def member_summary(results: dict[str, dict]) -> list[str]:
    """Per candidate in its member's place (`LIKE=>NAME`, and `LIKE=>NAME@S` against `LIKE@S`): the candidate
    alone against the member it replaces, by their own OOF scores (relative error reduction: mean, median,
    sets worse / better beyond +-0.01 %) and seconds. Beside the ensemble's figures, it tells a better model
    that the ensemble does not want (a curve per column for the MLP: better alone on 12 sets, the ensemble
    worse) from a change that did not make the member better."""
    labels = sorted({label for r in results.values() for label in r["configs"] if "=>" in label})
    lines = [f"{'member alone':<24} {'sets':>4} {'mean':>9} {'median':>8} {'worse':>5} {'better':>6} "
             f"{'seconds':>9} {'vs base':>7}  worse on"]
    for label in labels:
        gains, worse, better, secs, base_secs = [], [], 0, 0.0, 0.0
        for name, r in results.items():
            config = r["configs"].get(label)
            if config is None:
                continue
            # the one member the configuration swaps in, and the one its baseline has in that place
            base = r["configs"][config.get("against", "zoo")]["members"]
            new, old = (set(config["members"]) - set(base)), (set(base) - set(config["members"]))
            if len(new) != 1 or len(old) != 1:
                continue
            new_name, old_name = new.pop(), old.pop()
            g = r["greater_is_better"]
            gain = relative_gain(r["members"][old_name], r["members"][new_name], g)
            gains.append(gain)
            if gain < -1e-4:
                worse.append(f"{name} {gain:+.2%}")
            elif gain > 1e-4:
                better += 1
            secs += r["seconds"].get(new_name, 0.0)
            base_secs += r["seconds"].get(old_name, 0.0)
        if gains:
            lines.append(f"{label:<24} {len(gains):>4} {np.mean(gains):>+9.3%} {float(np.median(gains)):>+8.3%} "
                         f"{len(worse):>5} {better:>6} {secs:>8.0f}s "
                         f"{secs / base_secs if base_secs else float('nan'):>6.2f}x  {', '.join(worse)}")
    return lines if len(lines) > 1 else []


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
    p.add_argument("--pseudo", action="store_true",
                   help="also score the zoo with the pseudo stage's default run (+pseudo) and with a reseeded control")
    p.add_argument("--pseudo-setting", action="append", default=[], metavar="KEY=VALUE",
                   help="with --pseudo: one [pseudo] key of the pseudo run (a TOML value); may be given again")
    p.add_argument("--seeds", default="", metavar="S,...",
                   help="also train each `like` candidate and its member at these seeds, and score each "
                        "seed's candidate against its member at the same seed (LIKE=>NAME@S against LIKE@S)")
    p.add_argument("--table", type=Path, default=None, help="print a saved file's summary, run nothing")
    args = p.parse_args()
    if args.table:
        saved = json.loads(args.table.read_text())
        print("\n".join([*summary(saved), *member_summary(saved)]))
        return 0
    candidates = tomllib.loads(args.candidates.read_text()).get("models", {}) if args.candidates else {}
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds takes whole numbers separated by commas, e.g. --seeds 1,2; got {args.seeds!r}")
    results = each_set(args.workspaces, args.sets, args.save,
                       lambda ws: one_set(ws, candidates, lambda m: print(m, flush=True),
                                          [g.split(",") for g in args.together], args.ensemble,
                                          args.pseudo, args.pseudo_setting, seeds))
    print("\n".join([*summary(results), *member_summary(results)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
