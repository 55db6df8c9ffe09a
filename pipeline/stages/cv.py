"""CV stage: train each configured model (a unit) on the saved folds; one run folder per model.

The setup (data, folds, features, plug-in folder, threads) is the model stages' one
(`pipeline.model_setup`). Each finished run is also recorded in the run registry (pipeline/run_registry.py)
in one batch at the end of the stage, and a summary table (best first) closes the stage's output."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Callable

from core.progress import track
from pipeline.artifacts import FITTED_DIR
from pipeline.planner import on_workers, order, overrun_reason, skip_reason
from pipeline.context import StageContext

MODELS_DIR = "models"
# Below this much estimated training (seconds), runtime.backend = "auto" trains in this process even with
# n_jobs > 1: starting worker processes that import LightGBM and torch costs a few seconds each, more
# than they would save (titanic's five zoo models, about 8 s: x0.83 with two workers).
SMALL_WORK_SECONDS = 15.0
# Automatic workers (runtime.n_jobs = 0) from this much estimated training on: each worker imports pandas,
# scikit-learn, LightGBM and torch first (about 8 s of CPU here). Titanic's zoo (estimated 18 s) took 25.8 s
# in this process and 24.4 s on two workers; hpc's (estimated 39 s) 117 s and 68 s.
AUTO_WORKERS_FROM_SECONDS = 25.0
# Automatic workers: one per idle core, and at least this many where the machine has the cores. A worker
# beside a busy process of the same scheduling group gets a share of the core they share; the run's own
# process gets one core at most. Beside one of another group (session, cgroup) fewer idle cores train in
# this process (`_training`).
MIN_AUTO_WORKERS = 2


def run(ctx: StageContext) -> dict[str, list[Path]]:
    comp = ctx.comp
    names = list(ctx.units or [])
    estimates = functools.cache(lambda: _costs(ctx.training(), names))  # read the run registry once, if at all
    # where the folds train follows the types' estimates, never a measurement: the same table and config
    # choose the same workers on every run (measured seconds depend on the load and on the workers themselves)
    sizes = functools.cache(lambda: _costs(ctx.training(), names, measured=False))
    training = _training(ctx, names, sizes)
    produced: dict[str, list[Path]] = {}
    records = []
    budget = ctx.budget
    costs = estimates() if budget.seconds else {}
    if costs:  # cheapest first, so the budget buys as many members as it can
        from core.folds import fold_ids

        workers = training.executor.workers  # a model's folds run this many at a time: its wall time is less
        costs = {n: on_workers(c, len(fold_ids(training.folds)), workers) for n, c in costs.items()}
        names = order(costs)
        ctx.log(f"[cv] time budget {budget.seconds:.0f} s ({max(0.0, budget.left()):.0f} s left for models"
                + (f", folds {workers} at a time" if workers > 1 else "") + "): "
                + ", ".join(f"{n} ~{costs[n].seconds:.0f} s" for n in names))
    repeats = training.repeats
    if not costs and names:
        line = expected_line({n: estimates()[n] for n in names},
                             {n: model_repeats(comp.models[n], ctx.repeats()) for n in names},
                             workers=training.executor.workers)
        if line:
            ctx.log(line)
    # with several workers and no budget, each repeat's folds (model x fold) go to the workers as one set
    batched = not costs and training.executor.workers > 1 and bool(names)
    here = batched and _small_work(ctx, training, sizes)
    results: dict[str, list] = {}
    seconds: dict[str, float] = {}
    try:
        for name, result, took in _first_repeat(ctx, training, names, costs, estimates, batched, here):
            results[name], seconds[name] = [result], took
            produced[name] = _write(ctx, training, name, results[name][0], final=repeats == 1)
            if repeats == 1:
                ctx.unit_done(name, produced[name])  # kept fresh even if a later model fails
                records.append(training.record(name, comp.models[name], results[name][0], seconds[name]))
        if repeats > 1:
            records += _repeat(ctx, training, results, seconds, produced, estimates, batched, here)
    finally:  # runs that finished are recorded even when a later model fails
        training.save_records(records)
    if records:
        for line in summary_table(records):
            ctx.log(f"[cv] {line}")
    models_root = comp.runs / MODELS_DIR
    if models_root.is_dir():  # runs of models removed from the config
        for old in models_root.iterdir():
            if old.is_dir() and not old.name.startswith(".") and old.name not in comp.models:
                shutil.rmtree(old, ignore_errors=True)
    return produced


# From this much expected training (seconds of the run's wall time) the cv stage says how long it expects,
# so a large table's first minutes without a finished fold are not a silence.
SAY_EXPECTED_FROM_SECONDS = 60.0


def expected_line(costs: dict, repeats: dict[str, int], *, workers: int) -> str | None:
    """"[cv] expected training: about ..." when the models' estimated seconds (planner.Cost, one CV repeat
    each, times its repeats) shared by the workers reach SAY_EXPECTED_FROM_SECONDS, else None."""
    work = sum(c.seconds * repeats[n] for n, c in costs.items())
    wall = work / max(1, workers)
    if wall < SAY_EXPECTED_FROM_SECONDS:
        return None
    # the types' costs per cell were fitted on tables up to 47,000 rows: on ten times that, CatBoost's and the
    # extra-trees LightGBM's folds took 2.4x and 1.5x theirs (470,300 rows, 2026-12-07), hence "rough"
    source = ("from their earlier runs here" if all(c.source == "measured" for c in costs.values()) else
              "a rough estimate from the model types' costs on this table"
              if all(c.source != "measured" for c in costs.values()) else
              "from earlier runs here and, roughly, the model types' costs")
    took = f"{wall / 60:.0f} min" if wall >= 90 else f"{wall:.0f} s"
    on = f" on {workers} workers" if workers > 1 else ""
    return (f"[cv] expected training: about {took} for {len(costs)} model(s){on} ({source}); each fold is "
            f"reported as it finishes")


def check(competition) -> None:
    """A sample-weight column the models cannot take (text, missing, negative, all 0): a UserError before
    the first stage runs, not after the features are built."""
    competition.sample_weight()


def model_repeats(spec: dict, wanted: int) -> int:
    """The CV repeats a model table trains: cv.repeats (`wanted`), capped by its own models.NAME.repeats."""
    return min(wanted, spec.get("repeats") or wanted)


def _training(ctx: StageContext, names: list[str], sizes: Callable[[], dict] | None = None):
    """The model setup the folds train with. With automatic workers (runtime.n_jobs = 0, backend "auto")
    the folds run on one worker process per idle core, and on two at least, once the estimated training
    pays for starting them (AUTO_WORKERS_FROM_SECONDS): every fit below core.threads.ONE_THREAD_BELOW_ROWS
    rows has one thread, so the other cores would otherwise wait. Two workers beside a busy process of the
    run's own session still get a share of the core they share: on 2 cores the default run took 1.50x its
    quiet time on two workers (hpc, ames_clean) and 1.78x / 1.88x in this process (2026-12-05). Beside a
    busy process of another session (autogroup) or cgroup the scheduler shares the cores between the two
    groups, so fewer than two idle cores train here: hpc 86 s here against 93 s on two workers, ames_clean
    94 s against 98 s, titanic 16.5 s against 21-23 s (2026-12-05 20:30). Fits are the same on workers, so
    are the predictions, whatever the load."""
    from core import threads

    training = ctx.training()
    sizes = sizes or functools.partial(_costs, training, names, measured=False)  # the types' estimates
    rt = ctx.cfg["runtime"]
    if rt["n_jobs"] != 0 or rt["backend"] != "auto" or threads.cpu_count() == 1 or not names:
        return training
    # the workers, started once, share every CV repeat's folds: the work is one repeat's times each model's repeats
    work = sum(c.seconds * model_repeats(ctx.comp.models[name], ctx.repeats()) for name, c in sizes().items())
    if work < AUTO_WORKERS_FROM_SECONDS:
        return training
    idle = int(threads.idle_cores() + 0.5)
    if idle < MIN_AUTO_WORKERS and threads.busy_only_in_other_groups():
        # the cores are shared between sessions: two workers would get this process's share, less their start
        ctx.log("[runtime] another session keeps a core busy: the folds train in this process")
        return training
    workers = min(threads.cpu_count(), max(MIN_AUTO_WORKERS, idle))
    from pipeline.execution import backend_for

    return ctx.training(backend=backend_for(ctx.comp, log=ctx.log, n_jobs=workers))


def _first_repeat(ctx: StageContext, training, names: list[str], costs: dict, estimates: Callable[[], dict],
                  batched: bool, here: bool):
    """(name, CVResult, seconds) of each model's first CV repeat. Under a time budget one model at a
    time, cheapest first, skipping what would not fit; with several workers (`batched`), all models' folds
    as one set of tasks (model x fold) on the backend, or in this process when the work is too small to
    pay for them (`here`)."""
    comp, budget = ctx.comp, ctx.budget
    if not batched:
        # "the first member always trains" is there for a submission: a member trained by an earlier run gives one
        trained = any((comp.runs / MODELS_DIR / other / "oof.parquet").is_file()
                      for other in comp.models if other not in names)
        for name in track(names, "[cv] models", unit="model"):
            reason = skip_reason(costs[name], budget, anything_trained=trained) if costs else None
            if reason:
                ctx.log(f"[cv] skipped {name}: {reason}; it trains in a later run with more time")
                continue
            t0 = budget.clock()
            try:
                result = training.train_cv(name, comp.models[name],
                                           on_fold=_within(budget, training) if trained else None)
            except _Overrun as stop:
                ctx.log(f"[cv] stopped {name}: {stop}; it trains in a later run with more time")
                _remember_pace(comp, name, training.params_hash(comp.models[name]), stop.seconds)
                continue
            trained = True
            yield name, result, budget.clock() - t0
        return
    yield from _batch(ctx, training, names, estimates, here)


class _Overrun(Exception):
    """A member stopped between folds: at its pace it would end past the time budget (the reason); `seconds`:
    its folds' seconds for one CV pass at that pace."""

    def __init__(self, reason: str, seconds: float):
        super().__init__(reason)
        self.seconds = seconds


# A member stopped past the time budget never reaches the run registry, whose seconds estimate the next run's
# cost: its pace is kept here instead (model -> params hash, seconds of one CV pass), so the next run with a
# budget skips it up front rather than spend the same seconds again.
_STOPPED_FILE = ("cache", "stopped.json")


def _remember_pace(comp, name: str, params_hash: str, seconds: float) -> None:
    """Keep a stopped member's seconds for one CV pass (written atomically beside the stage's other caches)."""
    from core import io as _io

    path = comp.runs.joinpath(*_STOPPED_FILE)
    paces = _stopped_paces(comp)
    paces[name] = {"params_hash": params_hash, "seconds": round(float(seconds), 3)}
    path.parent.mkdir(parents=True, exist_ok=True)
    _io.write_json(path, paces)


def _stopped_paces(comp) -> dict:
    """What `_remember_pace` kept ({} when nothing, or the file is unreadable)."""
    from core import io as _io

    try:
        paces = _io.read_json(comp.runs.joinpath(*_STOPPED_FILE))
    except (OSError, ValueError):
        return {}
    return paces if isinstance(paces, dict) else {}


def _within(budget, training) -> Callable:
    """An `on_fold` callback that stops a member (`_Overrun`) once its folds so far say the rest would not fit
    the budget: a member that started within its estimate cannot run far past the budget when the estimate
    was low. Only given where a member already has a run, so a run always ends with a submission."""
    from core.folds import fold_ids

    total, workers = len(fold_ids(training.folds)), training.executor.workers
    seconds: list[float] = []

    def check(report) -> None:
        seconds.append(report.seconds)
        reason = overrun_reason(seconds, total, workers, budget)
        if reason:
            raise _Overrun(reason, sum(seconds) / len(seconds) * total)
    return check


def _small_work(ctx: StageContext, training, sizes: Callable[[], dict]) -> bool:
    """Whether the models' estimated training (their types' estimates) is too small to pay for starting the
    worker processes (runtime.backend = "auto"): then the folds train in this process."""
    if ctx.cfg["runtime"]["backend"] != "auto":
        return False
    work = sum(c.seconds for c in sizes().values())
    if work >= SMALL_WORK_SECONDS:
        return False
    ctx.log(f"[cv] about {work:.0f} s of training: less than starting {training.executor.workers} worker processes "
            f"costs, so it runs in this process (runtime.backend = 'processes' forces the workers)")
    return True


def _batch(ctx: StageContext, setup, names: list[str], estimates: Callable[[], dict], here: bool):
    """(name, CVResult, training seconds) of the models' folds on `setup` (a CV repeat) as one set of tasks: a
    worker goes from one model's folds to the next without waiting for a model's last fold. A model's seconds
    are its folds' (what it takes alone in one process, as a model trained one at a time records), not the
    wall time between two models' results: that recorded lgbm_slow at 0.02 s and put it first on the next run."""
    specs = {name: ctx.comp.models[name] for name in _longest_first(names, estimates())}
    for name, result in track(setup.train_cv_many(specs, here=here), "[cv] models", unit="model", total=len(names)):
        yield name, result, float(sum(result.timings.get("folds", [])))


def _longest_first(names: list[str], costs: dict) -> list[str]:
    """The models in the order their folds go to the workers: the longest estimated first, so a worker that
    ends early takes the short folds. In config order digits' DenseNet came last and its fifth fold
    trained alone on one of two cores; the predictions are the same in any order."""
    return sorted(names, key=lambda n: -costs[n].seconds if n in costs else 0.0)  # stable: ties keep their order


def _write(ctx: StageContext, training, name: str, result, *, final: bool = True, said: bool = False) -> list[Path]:
    """Write a model's run folder and say its score (unless `said`: a model of one repeat, whose score the
    first repeat's write said); the `final` write (every repeat in) also says when most folds ran into the
    cap on their training length (CVResult.cap_note)."""
    path = training.write(ctx.comp.runs / MODELS_DIR / name, result)
    repeats = f", {len(result.oof_repeats)} CV repeats averaged" if result.oof_repeats else ""
    if not said:
        from core import io as _io
        from pipeline.artifacts import by_column

        columns = by_column(_io.read_json(path / "scores.json"), training.task.targets)
        columns = f"; by target column {columns}" if columns else ""
        ctx.log(f"[cv] {name}: {training.metric.name} {result.overall:.5f} overall{repeats} "
                f"(folds {', '.join(f'{s:.4f}' for s in result.fold_scores)}{columns}){_saved_note(path, result)}")
    note = result.cap_note(name) if final else None
    if note:
        ctx.log(note)
    files = ("oof.parquet", "test.parquet", "scores.json", "params.json")
    return [path / f for f in files] + ([path / FITTED_DIR / "manifest.json"] if result.fitted else [])


def _saved_note(path: Path, result) -> str:
    """', fold models 1.2 MB' when the run kept its fold models (runtime.save_models)."""
    if not result.fitted:
        return ""
    from core import io as _io

    manifest = _io.read_json(path / FITTED_DIR / "manifest.json")
    if manifest.get("unsaved"):
        return ""
    return f", fold models {manifest['bytes'] / 1e6:.1f} MB"



def _repeat(ctx: StageContext, training, results: dict, seconds: dict, produced: dict,
            estimates: Callable[[], dict], batched: bool, here: bool) -> list:
    """CV repeats 1.. of every model trained (cv.repeats), repeat after repeat so that a time budget
    gives every model its first repeat before any gets a second; each model's run is rewritten with
    its repeats averaged. A model whose repeats the budget cut stays stale: a later run retrains it; one
    whose own `repeats` (models.NAME.repeats) caps them is finished with that many.
    `batched`: each repeat's folds of all models as one set of tasks, as in the first repeat (with one
    model at a time, each model's last fold left a worker idle: breast_cancer's second repeat took 4.1 s
    for about 3 s of folds on two workers)."""
    from core.folds import validated
    from models import average_repeats

    budget, comp = ctx.budget, ctx.comp
    wanted = training.repeats
    own = {name: model_repeats(comp.models[name], wanted) for name in results}
    capped = [name for name in results if own[name] < wanted]
    if capped:
        ctx.log("[cv] " + ", ".join(f"{name}: {own[name]} of {wanted} CV repeats" for name in capped)
                + " (models.NAME.repeats); the ensemble reuses their average in the later repeats")
    unused = _unused(ctx, training, results)
    if unused:
        why = ("cv.repeat_unused = false" if not ctx.cfg["cv"]["repeat_unused"] else
               f"at least {ctx.cfg['cv']['repeat_unused_share']:.0%} of the models' estimated training: "
               f"cv.repeat_unused_share")
        ctx.log(f"[cv] {', '.join(unused)}: no weight in the first repeat's ensemble (hill climbing on its OOF "
                f"predictions), so one CV repeat, which the ensemble reuses in every repeat ({why})")
    own.update({name: 1 for name in unused})  # the repeats each model trains: one for a left-out model
    for r in range(1, wanted):
        setup = training.for_repeat(r)
        if batched:  # no budget: every model has had every earlier repeat
            names = [name for name in results if r < own[name]]
            if not names:
                continue
            ctx.log(f"[cv] CV repeat {r + 1} of {wanted}: {', '.join(names)}")
            for name, result, took in _batch(ctx, setup, names, estimates, here):
                results[name].append(result)
                seconds[name] += took
            continue
        for name in list(results):
            if len(results[name]) < r or r >= own[name]:
                continue  # the budget stopped its repeats, or it trains fewer (its own cap, or left out)
            each = seconds[name] / len(results[name])
            if budget.seconds and budget.left() < each:
                ctx.log(f"[cv] {name}: CV repeats {r + 1}..{wanted} of {wanted} skipped (about {each:.0f} s each, "
                        f"{max(0.0, budget.left()):.0f} s of the time budget left); a later run with more time "
                        f"trains them")
                continue
            ctx.log(f"[cv] {name}: CV repeat {r + 1} of {wanted}")
            t0 = budget.clock()
            results[name].append(setup.train_cv(name, comp.models[name]))
            seconds[name] += budget.clock() - t0
    records = []
    rows = validated(training.folds)
    for name, parts in results.items():
        result = average_repeats(parts, training.y, training.metric, rows, training.sample_weight)
        produced[name] = _write(ctx, training, name, result, said=len(parts) == 1)
        if len(parts) == own[name]:
            ctx.unit_done(name, produced[name])
        records.append(training.record(name, comp.models[name], result, seconds[name]))
    return records


def _unused(ctx: StageContext, training, results: dict) -> list[str]:
    """With ensemble.method = "auto", the models trained here that the first repeat's ensemble gives no
    weight (hill climbing on their first-repeat OOF predictions, in sample, so more generous than the
    honest blend, never picks them) and whose type's estimated cost on this table is at least
    cv.repeat_unused_share of all the models' (every one with cv.repeat_unused = false). A second repeat
    would only refine a member the ensemble leaves out (caravan's and taxi's MLP: two thirds of the cv stage, no weight). With every
    unused model (repeat_unused = false) the ensemble's OOF got worse on 7 of the 18 sets: the unused
    members were mostly cheap LightGBM variants whose noisier one-repeat OOF a mean, a geometric mean or a
    stack still uses; the share keeps those. None with fewer than two models trained."""
    from core.folds import validated
    from models._hill_climb import unused

    cv = ctx.cfg["cv"]
    if ctx.cfg["ensemble"]["method"] != "auto" or len(results) < 2:
        return []
    share = cv["repeat_unused_share"] if cv["repeat_unused"] else 0.0
    # the type's estimate on this table, not the seconds measured: which models repeat must not depend on
    # how busy the machine was
    seconds = {name: cost.seconds for name, cost in _costs(training, list(results), measured=False).items()}
    costly = {name for name in results if seconds[name] >= share * sum(seconds.values())}
    if not costly:
        return []
    rows = validated(training.folds)
    weights = training.sample_weight
    left_out = unused(list(results), [parts[0].oof[rows] for parts in results.values()], training.y[rows],
                      training.metric, max_iter=ctx.cfg["ensemble"]["hill_climb_rounds"],
                      sample_weight=None if weights is None else weights[rows])
    return [name for name in left_out if name in costly]


def _costs(training, names: list[str], *, measured: bool = True) -> dict:
    """Each model's estimated seconds: measured when it ran here before with these parameters (the
    run registry), else (or with `measured` false) its type's cost per cell (models._types.ModelType.cost)
    on this table."""
    from core.folds import fold_ids
    from models._types import model_type
    from pipeline.planner import estimate, measured_seconds

    comp = training.comp
    rows, cols = training.features[0].shape
    folds = len(fold_ids(training.folds))
    history = _history(comp) if measured else []
    stopped = _stopped_paces(comp) if measured else {}
    costs = {}
    for name in names:
        spec = comp.models[name]
        mtype = model_type(name, spec, training.plugin_dir)
        outputs = training.task.n_outputs if mtype.cost_per_class else 1
        params_hash = training.params_hash(spec)
        seen = measured_seconds(history, model=name, params_hash=params_hash, folds=folds)
        pace = stopped.get(name)
        if seen is None and isinstance(pace, dict) and pace.get("params_hash") == params_hash \
                and isinstance(pace.get("seconds"), (int, float)):  # stopped past a budget: its folds' pace
            seen = float(pace["seconds"])
        costs[name] = estimate(mtype.cost_for(spec.get("params", {}), training.task.task), rows=rows, cols=cols,
                               folds=folds, outputs=outputs, measured=seen)
    return costs


def _history(comp) -> list[dict]:
    """This competition's recorded runs (none when the registry cannot be read: estimates then)."""
    from pipeline.run_registry import open_registry

    try:
        registry = open_registry(comp.workspace)
        try:
            return registry.leaderboard(comp.name)
        finally:
            registry.dispose()
    except Exception:  # noqa: BLE001 - an unreadable registry only costs the measured estimates
        return []


def summary_table(records: list) -> list[str]:
    """Lines of a table of runs, best first: model, type, overall score, fold mean ± std, seconds."""
    import numpy as np

    rows = sorted(records, key=lambda r: -r.overall if r.greater_is_better else r.overall)
    header = ("model", "type", rows[0].metric, "folds", "folds mean ± std", "seconds")  # folds: 10 = 2 repeats of 5
    body = [(r.model, r.model_type, f"{r.overall:.5f}", str(len(r.fold_scores)),
             f"{np.mean(r.fold_scores):.5f} ± {np.std(r.fold_scores):.5f}", f"{r.seconds:.1f}") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(b) for b in body)]
