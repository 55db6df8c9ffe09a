"""Default quality: `init` + default `run` on the 18 real data sets against raw LightGBM and AutoGluon.

    python benchmarks/quality.py                          # every set, one table and a summary
    python benchmarks/quality.py --sets titanic,hpc       # a subset
    python benchmarks/quality.py --save /tmp/suite/a.json # also write per-set results (OOF of each model)
    python benchmarks/quality.py --compare before.json    # ... and print the OOF deltas against a saved run
                                                          # (with both runs' --keep: each set's noise interval)
    python benchmarks/quality.py --compare before.json --against after.json   # two saved runs, no run
    python benchmarks/quality.py --table saved.json       # print a saved run's table again
    python benchmarks/quality.py --config-extra extra.toml   # append [models.*] tables to each config
    python benchmarks/quality.py --time-budget 30         # the same with `run --time-budget 30`
    python benchmarks/quality.py --generated 50000        # default run on a generated mixed table (time only)
    python benchmarks/quality.py --autogluon /opt/ag/bin/python   # also time AutoGluon medium here, set by set

The data sets: `--data DIR`, else `../shared/data` beside the repository when it exists (18 sets), else
`benchmarks/data` (the six dev sets). Each set gets a temporary workspace; the script runs `python -m
pipeline init` (with `--metric` from the set's about.json, the competition's metric a user knows) and
`python -m pipeline run` through the CLI, with no other config edit (`--config-extra` appends model
tables, to try a candidate member without changing the defaults), then scores the written submission
against solution.csv (which the pipeline never reads). It prints, side by side: test score, CV score
(the ensemble's honest OOF score), wall time, and the ANCHORS.md figures (raw LightGBM, AutoGluon
medium_quality and best_quality, with their seconds), then a summary:

- wins against each anchor, over the sets that have that anchor ("x/y");
- wall time against AutoGluon medium's: the total ratio and the largest per-set ratio;
- the suite figure: the mean over sets of the relative error reduction against raw LightGBM, on the
  test score. Every metric is read as an error that is 0 when perfect: a lower-is-better metric as
  itself, a higher-is-better one (roc_auc, accuracy: at most 1) as 1 - score; the reduction is
  (error_lgbm - error_ours) / error_lgbm. It is at most 1 for any set (so no single set can carry
  the mean), sign-aware, and treats AUC by its remaining headroom: fine_foods' raw LightGBM AUC of 0.5
  (error 0.5) to 0.87 counts 0.74, not 74 % of 0.5. The median is printed beside it.

Choose defaults by OOF figures (the CV column, `--save` / `--compare`), never by the test column:
`--compare` reports, per set, the ensemble's OOF score before and after, the same relative error
reduction on OOF scores (mean over sets), and how many sets got worse.

ANCHORS.md's seconds were measured once, on one day's machine; this VM's speed drifts by 2x from day to
day. `--autogluon PYTHON` (an interpreter with AutoGluon installed: benchmarks/autogluon_medium.py) runs
AutoGluon medium on each set beside ours (after ours on the first set, before it on the second, and so
on), and the time line then compares wall times from the same machine in the same run (its test score
is printed beside the anchor's, as a check of the protocol). Its test predictions are then set against
ours on the same test rows: each set's relative test error reduction with a paired bootstrap interval
over those rows (90 %), and a line counting where ours is better or worse beyond that noise. A few
hundred test rows cannot tell apart two models a few thousandths of AUC apart, and a plain win count
hides that; the wins line stays the issue's figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tomllib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV_SETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")
ANCHOR_KEYS = ("lgbm", "lgbm_s", "ag_medium", "ag_medium_s", "ag_best", "ag_best_s")
ANCHOR_LABELS = {"lgbm": "raw LightGBM", "ag_medium": "AutoGluon medium", "ag_best": "AutoGluon best"}


def default_data() -> Path:
    """The 18-set folder beside the repository when it exists, else the six dev sets shipped here."""
    shared = REPO.parent / "shared" / "data"
    return shared if shared.is_dir() else REPO / "benchmarks" / "data"


def data_sets(data: Path) -> list[str]:
    """The data sets in `data`, in its README table's order (sets it does not list: by name, after)."""
    found = {p.name for p in data.iterdir() if (p / "train.csv").is_file()}
    readme = data / "README.md"
    listed = []
    if readme.is_file():
        for line in readme.read_text().splitlines():
            cell = line.strip().strip("|").split("|")[0].strip()
            if cell in found and cell not in listed:
                listed.append(cell)
    return listed + sorted(found - set(listed))


def anchors(data: Path) -> dict[str, dict]:
    """ANCHORS.md's table: set -> {metric, better, lgbm, lgbm_s, ag_medium, ...}; None where not measured."""
    rows = {}
    for line in (data / "ANCHORS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or cells[0] in ("set", "") or set(cells[0]) <= set("-:"):
            continue
        name, metric, better, *nums = cells
        values = {k: (float(v) if re.fullmatch(r"-?[0-9.]+", v) else None) for k, v in zip(ANCHOR_KEYS, nums)}
        rows[name] = {"metric": metric, "better": better, **values}
    return rows


def error(score: float, higher: bool) -> float:
    """The metric as an error that is 0 when perfect: itself when lower is better, else 1 - score."""
    return 1.0 - score if higher else score


def reduction(ours: float, base: float, higher: bool) -> float:
    """Relative error reduction of `ours` against `base` (positive: better; at most 1)."""
    e_base, e_ours = error(base, higher), error(ours, higher)
    if e_base <= 0:
        return 0.0 if e_ours <= 0 else -float("inf")
    return (e_base - e_ours) / e_base


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--root", str(root), *args],
                          capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pipeline {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def read_extra(path: Path, config: str) -> str:
    """The `--config-extra` file's text, after checking it holds only [models.NAME] tables whose names
    the init'd config does not already use (a repeated table would make the TOML invalid)."""
    text = path.read_text()
    extra = tomllib.loads(text)
    if set(extra) - {"models"}:
        raise SystemExit(f"{path}: only [models.NAME] tables may be appended; found {sorted(set(extra) - {'models'})}")
    taken = set(re.findall(r"^\[models\.([^\]]+)\]", config, re.MULTILINE))
    clash = sorted(set(extra.get("models", {})) & taken)
    if clash:
        raise SystemExit(f"{path}: model table(s) {clash} are already written by init; rename them")
    return text


def init_set(name: str, root: Path, data: Path, *, extra: Path | None = None,
             runtime: dict[str, object] | None = None) -> Path:
    """`init` one set in a fresh workspace `root`; append `extra`'s model tables and set `runtime`
    (any commented key of the written competition.toml, e.g. `threads` or `n_splits`), then validate
    it. Returns the competition folder."""
    about = json.loads((data / name / "about.json").read_text()) if (data / name / "about.json").is_file() else {}
    (root / "competition").mkdir(parents=True)
    _cli(root, "init", name, *[f"--{f.replace('_', '-')}={data / name / (f + '.csv')}"
                               for f in ("train", "test", "sample_submission")],
         *([f"--metric={about['metric']}"] if "metric" in about else []))
    comp_dir = root / "competition" / name
    toml = comp_dir / "competition.toml"
    text = toml.read_text()
    for key, value in (runtime or {}).items():
        text, n = re.subn(rf"^# {key} = .*$", f"{key} = {json.dumps(value)}", text, count=1, flags=re.MULTILINE)
        if n != 1:
            raise SystemExit(f"{toml}: no commented key {key!r} to set")
    if extra is not None:
        text = text.rstrip("\n") + "\n\n# appended by benchmarks/quality.py --config-extra\n" + read_extra(extra, text)
    toml.write_text(text)
    from core.errors import UserError
    from pipeline.config import load_competition

    try:
        load_competition(comp_dir)  # the appended tables validate now, not halfway through the run
    except UserError as exc:
        raise SystemExit(f"{name}: {exc}") from None
    return comp_dir


def member_results(comp_dir: Path) -> dict[str, dict]:
    """Each model run folder's OOF score and seconds (runs/models/*/scores.json, timings.json)."""
    out = {}
    for path in sorted((comp_dir / "runs" / "models").glob("*/scores.json")):
        timings = path.parent / "timings.json"
        seconds = json.loads(timings.read_text()).get("total") if timings.is_file() else None
        out[path.parent.name] = {"oof": float(json.loads(path.read_text())["overall"]), "seconds": seconds}
    return out


def run_set(name: str, root: Path, data: Path, run_args: list[str], *, extra: Path | None = None,
            settings: dict[str, object] | None = None) -> dict:
    """init + run one set: its test score, CV (OOF) score, each member's OOF score, seconds, load."""
    from benchmarks.score_submission import score_submission

    comp_dir = init_set(name, root, data, extra=extra, runtime=settings)
    load_start = loadavg()
    t0 = time.perf_counter()
    proc = _cli(root, "run", *run_args)
    seconds = time.perf_counter() - t0
    scores = json.loads((comp_dir / "runs" / "ensemble" / "scores.json").read_text())
    metric, test = score_submission(root / "submissions" / name / "latest.csv", data / name / "solution.csv",
                                    comp_dir=comp_dir)
    skipped = [line.strip() for line in proc.stderr.splitlines() if re.search(r"\bskip", line, re.IGNORECASE)
               and "fresh, skipped" not in line]
    return {"set": name, "metric": metric, "greater_is_better": bool(scores.get("greater_is_better", False)),
            "test": test, "cv": float(scores["overall"]), "seconds": seconds,
            "members": member_results(comp_dir), "method": scores.get("method", "?"),
            "load_start": load_start, "load_end": loadavg(), "skipped": skipped, **run_timeline(proc.stderr)}


def run_timeline(output: str) -> dict:
    """From a run's output: each stage's seconds ("[cv] done in 12.9s") and where the cv stage's folds
    trained (its "[runtime] tasks run on ..." line, else this process), to explain a slow set."""
    stages = {m[1]: float(m[2]) for m in re.finditer(r"^\[(\w+)\] done in ([\d.]+)s", output, re.MULTILINE)}
    where = re.search(r"^\[runtime\] tasks run on (.+)$", output, re.MULTILINE)
    return {"stages": stages, "folds_on": where[1] if where else "this process"}


def run_sets(sets: list[str], ours: Callable[[str], dict], theirs: Callable[[str], dict] | None, rows: list[dict],
             *, after_each: Callable[[], None] = lambda: None) -> None:
    """Our run of each set (a row appended to `rows`) and, with `theirs`, AutoGluon medium's beside it
    (`ag_medium_here`). The two take turns going first, so each follows the other's run as often:
    whatever a run leaves behind (caches, a warm or a throttled CPU) falls on both."""
    for i, name in enumerate(sets):
        first = theirs is not None and i % 2 == 1
        agm = theirs(name) if first else None
        row = ours(name)
        if theirs is not None:
            row["ag_medium_here"] = {**(agm if first else theirs(name)), "first": first}
        rows.append(row)
        after_each()


def autogluon_medium(python: str, name: str, data: Path, predictions: Path | None = None) -> dict:
    """AutoGluon medium on one set with the `python` that has it (benchmarks/autogluon_medium.py): its test
    score, and the wall time of the whole process (imports included, as our run's CLI's are); with
    `predictions`, its test predictions written there in our submission's shape."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, str(REPO / "benchmarks" / "autogluon_medium.py"), str(data), name,
                           *([str(predictions)] if predictions else [])], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"AutoGluon medium on {name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "seconds": seconds}


def submission_gain(ours: Path, theirs: Path, solution: Path, *, comp_dir: Path) -> dict:
    """Our submission against another on the same test rows: the relative test error reduction (+: ours
    better) and its paired bootstrap interval over the test rows (benchmarks/members.py `gain_interval`,
    90 %), both by core.metrics' relative gain. A difference inside it is one that another draw of the
    test rows could reverse: on a few hundred or thousand rows, AUC moves by a hundredth from draw to draw."""
    from benchmarks.members import gain_interval
    from benchmarks.score_submission import submission_predictions
    from core.metrics import relative_gain

    metric, y, pred = submission_predictions(ours, solution, comp_dir=comp_dir)
    _, _, pred_theirs = submission_predictions(theirs, solution, comp_dir=comp_dir)  # the solution's rows and labels
    lo, hi = gain_interval(metric, y, pred_theirs, pred)
    return {"gain": relative_gain(metric, metric(y, pred_theirs), metric(y, pred)), "interval": [lo, hi]}


def _ag_seconds(row: dict, ref: dict[str, dict]) -> float | None:
    """AutoGluon medium's seconds on this row's set: timed in this run when it was, else ANCHORS.md's."""
    here = row.get("ag_medium_here")
    return here["seconds"] if here else ref.get(row["set"], {}).get("ag_medium_s")


def _fmt(value: float | None, width: int, digits: int = 4) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _gain(against: dict) -> str:
    lo, hi = against["interval"]
    return f"{against['gain']:+.2%} of its test error [{lo:+.2%}, {hi:+.2%}]"


def print_noise(rows: list[dict]) -> None:
    """Against AutoGluon medium timed in this run, on the same test rows: where ours is better and worse,
    and where either lies beyond the test rows' noise (the paired bootstrap interval of `submission_gain`)."""
    against = [(r["set"], r["against_ag_medium_here"]) for r in rows if r.get("against_ag_medium_here")]
    if not against:
        return
    worse = [name for name, a in against if a["gain"] < 0]
    beyond_worse = [name for name, a in against if a["interval"][1] < 0]
    beyond_better = [name for name, a in against if a["interval"][0] > 0]
    print(f"against AutoGluon medium timed in this run (same test rows, paired bootstrap, 90 %): ours better on "
          f"{len(against) - len(worse)}/{len(against)}, worse on {len(worse)}"
          f"{' (' + ', '.join(worse) + ')' if worse else ''}; beyond the test rows' noise: worse on "
          f"{len(beyond_worse)}{' (' + ', '.join(beyond_worse) + ')' if beyond_worse else ''}, better on "
          f"{len(beyond_better)}{' (' + ', '.join(beyond_better) + ')' if beyond_better else ''}")


def print_table(rows: list[dict], ref: dict[str, dict]) -> None:
    """The per-set table, then the summary lines."""
    head = (f"{'set':<14}{'metric':<9}{'test':>9}{'cv':>9}{'s':>6}{'load':>6} | {'lgbm':>8}{'AG med':>8}{'s':>5}"
            f"{'AG best':>9}{'s':>5} | beats")
    print(head)
    print("-" * len(head))
    wins = {k: [0, 0] for k in ANCHOR_LABELS}
    for r in rows:
        a = ref.get(r["set"], {})
        higher = r["greater_is_better"]
        beats = []
        for k, tally in wins.items():
            if a.get(k) is None:
                continue
            tally[1] += 1
            if r["test"] > a[k] if higher else r["test"] < a[k]:
                tally[0] += 1
                beats.append(ANCHOR_LABELS[k].replace("raw LightGBM", "lgbm").replace("AutoGluon", "AG"))
        print(f"{r['set']:<14}{r['metric']:<9}{r['test']:>9.4f}{r['cv']:>9.4f}{r['seconds']:>6.0f}"
              f"{r['load_start'][0]:>6.2f} | {_fmt(a.get('lgbm'), 8)}{_fmt(a.get('ag_medium'), 8)}"
              f"{_fmt(_ag_seconds(r, ref), 5, 0)}{_fmt(a.get('ag_best'), 9)}{_fmt(a.get('ag_best_s'), 5, 0)} | "
              f"{', '.join(beats) or '-'}")
        for line in r["skipped"]:
            print(f"{'':14}{line}")
        if r.get("ag_medium_here"):
            against = r.get("against_ag_medium_here")
            print(f"{'':14}AutoGluon medium timed in this run: test {r['ag_medium_here']['test']:.4f} "
                  f"(ANCHORS.md {_fmt(a.get('ag_medium'), 0)}), {r['ag_medium_here']['seconds']:.1f} s "
                  f"(ANCHORS.md {_fmt(a.get('ag_medium_s'), 0, 0)} s)"
                  + (f"; ours against it {_gain(against)}" if against else ""))
    print("wins: " + ", ".join(f"{ANCHOR_LABELS[k]} {w}/{n}" for k, (w, n) in wins.items()))
    print_noise(rows)
    timed = [r for r in rows if _ag_seconds(r, ref)]
    if timed:
        total, ag_total = sum(r["seconds"] for r in timed), sum(_ag_seconds(r, ref) for r in timed)
        worst = max(timed, key=lambda r: r["seconds"] / _ag_seconds(r, ref))
        slowest = max(timed, key=lambda r: r["seconds"])
        here = sum(bool(r.get("ag_medium_here")) for r in timed)
        source = "timed in this run" if here == len(timed) else "ANCHORS.md's" if not here else \
            f"{here} timed in this run, the rest ANCHORS.md's"
        print(f"time: total {total:.0f} s against AutoGluon medium's {ag_total:.0f} s ({source}; "
              f"{total / ag_total:.2f}x, {len(timed)} sets); largest per-set ratio {worst['set']} "
              f"{worst['seconds'] / _ag_seconds(worst, ref):.2f}x "
              f"({worst['seconds']:.0f} s / {_ag_seconds(worst, ref):.0f} s); slowest {slowest['set']} "
              f"{slowest['seconds']:.0f} s")
        for r in timed:
            if r["seconds"] > 1.5 * _ag_seconds(r, ref) and r.get("stages"):
                print(f"over 1.5x: {r['set']} {r['seconds']:.0f} s: "
                      + ", ".join(f"{stage} {sec:.1f} s" for stage, sec in r["stages"].items())
                      + f"; folds on {r['folds_on']}")
    gains = [(r["set"], reduction(r["test"], ref[r["set"]]["lgbm"], r["greater_is_better"]))
             for r in rows if ref.get(r["set"], {}).get("lgbm") is not None]
    if gains:
        values = [g for _, g in gains]
        worst_set, worst_gain = min(gains, key=lambda g: g[1])
        print(f"suite figure (test): mean relative error reduction against raw LightGBM {statistics.mean(values):+.2%} "
              f"over {len(values)} sets (median {statistics.median(values):+.2%}; worst {worst_set} "
              f"{worst_gain:+.2%})")


def oof_interval(before_ws: str | None, after_ws: str | None, name: str) -> tuple[float, float] | None:
    """The paired bootstrap interval (benchmarks/members.py `gain_interval`) of the relative OOF error
    reduction of the ensemble from one kept workspace of set `name` to another; None when either is gone."""
    from benchmarks.members import ensemble_oof, setup_interval
    from pipeline.context import CompetitionContext
    from pipeline.workspace import Workspace

    if not before_ws or not after_ws or not all((Path(w) / "competition" / name).is_dir() for w in (before_ws, after_ws)):
        return None
    before, after = (Workspace(Path(w)).competition(name) for w in (before_ws, after_ws))
    base, other = ensemble_oof(before), ensemble_oof(after)
    if len(base) != len(other):
        return None
    return setup_interval(CompetitionContext(after, log=lambda m: None).training(), base, other)


def compare(before: dict, after: dict) -> None:
    """Per-set OOF deltas of the ensemble between two saved runs, their mean relative error reduction
    and how many sets got worse; with both runs' workspaces kept (`--keep`), each set's paired bootstrap
    interval too, and how many sets got worse beyond it (the README's rule for a default)."""
    b_sets = {r["set"]: r for r in before["results"]}
    common = [r for r in after["results"] if r["set"] in b_sets]
    if not common:
        print("compare: no set in common")
        return
    print(f"OOF (CV) of the ensemble: {before.get('label', 'before')} -> {after.get('label', 'after')}")
    print(f"{'set':<14}{'metric':<9}{'before':>9}{'after':>9}{'delta':>9}{'rel':>8}{'90 % interval':>19}"
          f"{'s before':>9}{'s after':>8}  members added/removed")
    worse, rels, beyond, intervals = [], [], [], 0
    for r in common:
        b = b_sets[r["set"]]
        higher = r["greater_is_better"]
        rel = reduction(r["cv"], b["cv"], higher)
        rels.append(rel)
        if (r["cv"] < b["cv"]) if higher else (r["cv"] > b["cv"]):
            worse.append(r["set"])
        interval = oof_interval(b.get("workspace"), r.get("workspace"), r["set"])
        shown = ""
        if interval is not None:
            intervals += 1
            shown = f"[{interval[0]:+.2%}, {interval[1]:+.2%}]" + ("*" if interval[1] < 0 else "")
            if interval[1] < 0:
                beyond.append(r["set"])
        added = sorted(set(r["members"]) - set(b["members"]))
        removed = sorted(set(b["members"]) - set(r["members"]))
        moved = " ".join([f"+{m}" for m in added] + [f"-{m}" for m in removed])
        print(f"{r['set']:<14}{r['metric']:<9}{b['cv']:>9.4f}{r['cv']:>9.4f}{r['cv'] - b['cv']:>+9.4f}{rel:>+8.2%}"
              f"{shown:>19}{b['seconds']:>9.0f}{r['seconds']:>8.0f}  {moved}")
    tb, ta = sum(b_sets[r["set"]]["seconds"] for r in common), sum(r["seconds"] for r in common)
    sig = (f"; worse beyond the interval on {len(beyond)}/{intervals}{': ' + ', '.join(beyond) if beyond else ''}"
           if intervals else "")
    print(f"mean relative OOF error reduction {statistics.mean(rels):+.2%} over {len(common)} sets "
          f"(median {statistics.median(rels):+.2%}); worse on {len(worse)}/{len(common)}"
          f"{': ' + ', '.join(worse) if worse else ''}{sig}; time {tb:.0f} -> {ta:.0f} s ({ta / tb:.2f}x)")


def generated(root: Path, rows: int, *, seed: int = 0) -> float:
    """init + default run on a generated binary table (20 numeric columns with missing values, 5
    categorical ones); returns the run's seconds."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = rows + rows // 4
    frame = pd.DataFrame({f"num{i}": rng.normal(size=n) for i in range(20)})
    for i in range(5):
        frame[f"cat{i}"] = rng.choice([f"level{j}" for j in range(8 + 10 * i)], size=n)
    frame.loc[rng.random(n) < 0.05, "num3"] = np.nan
    signal = frame["num0"] + 0.5 * frame["num1"] * frame["num2"] + (frame["cat0"] == "level1")
    frame["target"] = (signal + rng.normal(size=n) > 0.3).astype(int)
    frame.insert(0, "id", np.arange(n))
    data = root / "data"
    data.mkdir(parents=True)
    frame.iloc[:rows].to_csv(data / "train.csv", index=False)
    frame.iloc[rows:].drop(columns="target").to_csv(data / "test.csv", index=False)
    frame.iloc[rows:][["id"]].assign(target=0.5).to_csv(data / "sample_submission.csv", index=False)
    (root / "competition").mkdir()
    _cli(root, "init", "generated", *[f"--{f.replace('_', '-')}={data / (f + '.csv')}"
                                      for f in ("train", "test", "sample_submission")])
    t0 = time.perf_counter()
    _cli(root, "run")
    return time.perf_counter() - t0


def _commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=REPO, check=False).stdout.strip()
    return (proc.stdout.strip() or "?") + ("+dirty" if dirty else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="folder of data sets (default: %(default)s -> "
                   "../shared/data, else benchmarks/data)")
    p.add_argument("--sets", default="", help="comma-separated data sets (default: all in the data folder)")
    p.add_argument("--time-budget", type=float, default=None, help="pass --time-budget SECONDS to run")
    p.add_argument("--keep", metavar="DIR", help="build the workspaces under DIR and keep them")
    p.add_argument("--save", type=Path, metavar="FILE.json", help="write per-set results (OOF of the ensemble "
                   "and of each member, test score, seconds, load) to FILE.json")
    p.add_argument("--compare", type=Path, metavar="BEFORE.json", help="print per-set OOF deltas against a saved run")
    p.add_argument("--against", type=Path, metavar="AFTER.json", help="with --compare: compare two saved runs "
                   "instead of running the suite")
    p.add_argument("--config-extra", type=Path, metavar="FILE.toml", help="append this file's [models.NAME] "
                   "tables to each init'd competition.toml")
    p.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                   help="set a commented key of each init'd competition.toml (a TOML value), e.g. n_splits=8; "
                   "may be given again")
    p.add_argument("--table", type=Path, metavar="SAVED.json", help="print a saved run's table and summary, run nothing")
    p.add_argument("--label", default="", help="a name for this run in --save / --compare output")
    p.add_argument("--autogluon", metavar="PYTHON", help="an interpreter with AutoGluon installed: time "
                   "AutoGluon medium on each set beside ours, the two taking turns going first "
                   "(benchmarks/autogluon_medium.py), so both wall times come from this machine in this run")
    p.add_argument("--generated", type=int, default=0, metavar="ROWS",
                   help="instead: time the default run on a generated mixed table of ROWS train rows")
    args = p.parse_args()
    if args.table:
        saved = json.loads(args.table.read_text())
        print(f"{saved['label']}: {saved['date']}; {saved['machine']}; commit {saved['commit']}; load at start "
              f"{saved['load_start']}, at end {saved['load_end']}{'' if saved.get('complete', True) else ' (incomplete)'}")
        print_table(saved["results"], anchors(Path(saved["data"])))
        return
    if args.against:
        if not args.compare:
            p.error("--against needs --compare BEFORE.json")
        compare(json.loads(args.compare.read_text()), json.loads(args.against.read_text()))
        return
    if args.generated:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = generated(Path(args.keep or tmp) / "generated", args.generated)
        print(f"default run on a generated {args.generated:,}-row mixed table (20 numeric, 5 categorical): "
              f"{seconds:.0f} s")
        return
    data = (args.data or default_data()).resolve()
    sets = [s.strip() for s in args.sets.split(",") if s.strip()] or data_sets(data)
    unknown = [s for s in sets if not (data / s / "train.csv").is_file()]
    if unknown:
        p.error(f"no data set {unknown} in {data}; choose from {', '.join(data_sets(data))}")
    if args.autogluon and (shutil.which(args.autogluon) is None or subprocess.run(
            [args.autogluon, "-c", "import autogluon.tabular"], capture_output=True, check=False).returncode != 0):
        p.error(f"--autogluon {args.autogluon}: that interpreter cannot import autogluon.tabular; install it in a "
                f"virtual environment of its own (benchmarks/autogluon_medium.py says how)")
    run_args = ["--time-budget", str(args.time_budget)] if args.time_budget else []
    settings = {}
    for item in args.setting:
        key, sep, value = item.partition("=")
        try:
            settings[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            p.error(f"--setting {item!r}: expected KEY=VALUE with a TOML value, e.g. n_splits=8")
        if not sep:
            p.error(f"--setting {item!r}: expected KEY=VALUE, e.g. n_splits=8")
    ref = anchors(data) if (data / "ANCHORS.md").is_file() else {}
    started, load_start = datetime.datetime.now(), loadavg()
    print(f"{started:%Y-%m-%d %H:%M}; {platform.node()} {os.cpu_count()} cores; commit {_commit()}; "
          f"{len(sets)} sets from {data}; load average at start {load_start}", flush=True)
    rows: list[dict] = []
    saved = {"label": args.label or started.strftime("%Y-%m-%d %H:%M"), "date": started.isoformat(timespec="seconds"),
             "machine": f"{platform.node()} {os.cpu_count()} cores", "commit": _commit(), "data": str(data),
             "config_extra": args.config_extra.read_text() if args.config_extra else "", "settings": settings,
             "time_budget": args.time_budget, "load_start": load_start, "load_end": None, "complete": False,
             "results": rows}
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        def ours(name: str) -> dict:
            print(f"running {name} ... (load {loadavg()[0]:.2f})", file=sys.stderr, flush=True)
            row = run_set(name, Path(args.keep or tmp) / name, data, run_args, extra=args.config_extra,
                          settings=settings)
            if args.keep:  # a later --compare against this run then reads its OOF predictions (the interval)
                row["workspace"] = str((Path(args.keep) / name).resolve())
            return row

        def theirs(name: str) -> dict:
            print(f"AutoGluon medium on {name} ... (load {loadavg()[0]:.2f})", file=sys.stderr, flush=True)
            return autogluon_medium(args.autogluon, name, data, predictions=Path(tmp) / f"{name}.autogluon.csv")

        def after_each_set() -> None:  # set against AutoGluon, then saved: a suite stopped halfway keeps what it measured
            row = rows[-1]
            theirs_csv = Path(tmp) / f"{row['set']}.autogluon.csv"
            if row.get("ag_medium_here") and theirs_csv.is_file():  # both submissions stay until the suite ends
                root = Path(args.keep or tmp) / row["set"]
                row["against_ag_medium_here"] = submission_gain(
                    root / "submissions" / row["set"] / "latest.csv", theirs_csv,
                    data / row["set"] / "solution.csv", comp_dir=root / "competition" / row["set"])
            if args.save:
                args.save.write_text(json.dumps(saved, indent=1))

        run_sets(sets, ours, theirs if args.autogluon else None, rows, after_each=after_each_set)
    print_table(rows, ref)
    print(f"load average at end {loadavg()}; {(datetime.datetime.now() - started).total_seconds():.0f} s in all")
    saved.update(load_end=loadavg(), complete=True)
    if args.save:
        args.save.write_text(json.dumps(saved, indent=1))
    if args.compare:
        compare(json.loads(args.compare.read_text()), saved)


if __name__ == "__main__":
    main()
