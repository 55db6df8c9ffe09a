"""Hyperparameter tuning: an Optuna study over a model's search space, scored by full k-fold CV.

Each trial trains the model on every saved fold (the same `models.train_cv` as the cv stage) and
reports the running mean of its fold scores after each fold, so the pruner can stop a bad trial
after its early folds. The study lives in an RDB store (by default the workspace's runs.db, next to
the run registry), so several processes can share it and an interrupted study resumes where it
stopped: `--trials N` is the number of finished (complete or pruned) trials the study should hold.
The first Ctrl-C lets the running trial finish; a trial whose process was killed outright is marked
failed and queued again (same parameters) once its heartbeat is 2 x HEARTBEAT_S seconds old.

Search space, per parameter in `[models.NAME.search_space]`:

    num_leaves = { low = 8, high = 256, log = true }   # ints -> integer range
    learning_rate = { low = 0.01, high = 0.3, log = true }   # a float bound -> float range
    min_child_samples = { low = 5, high = 100, step = 5 }
    boosting = ["gbdt", "dart"]                          # a list -> one of these values

An empty table uses the model type's default space (LightGBM, CatBoost and XGBoost have one), narrowed
around the values the model's params set (`model_space`).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core import io as _io
from core.errors import UserError, did_you_mean
from core.folds import fold_ids

_RANGE_KEYS = ("low", "high", "log", "step", "type")
HEARTBEAT_S = 10  # a trial whose process died is failed (and retried) after 3 missed heartbeats


@dataclass
class TuneResult:
    """What a tuning session leaves: the best trial so far and the study's counts."""

    study_name: str
    storage: str
    best_value: float
    best_params: dict[str, Any]
    n_complete: int
    n_pruned: int
    n_failed: int
    ran: int


def parse_space(space: dict, *, where: str) -> dict[str, Any]:
    """Validate a search-space table and return Optuna distributions by parameter name."""
    import optuna.distributions as od

    out: dict[str, Any] = {}
    for name, spec in space.items():
        at = f"{where}.{name}"
        if isinstance(spec, list):
            if not spec:
                raise UserError(f"{at} = [] has no choices; list at least one value")
            out[name] = od.CategoricalDistribution(spec)
            continue
        if not isinstance(spec, dict):
            raise UserError(f"{at} = {spec!r}: expected a range {{ low = .., high = .. }} or a list of choices")
        for key in spec:
            if key not in _RANGE_KEYS:
                raise UserError(f"{at}: unknown key {key!r}{did_you_mean(key, _RANGE_KEYS)}")
        if "low" not in spec or "high" not in spec:
            raise UserError(f"{at} = {spec!r}: a range needs both low and high")
        low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
        numbers = (low, high) + ((step,) if step is not None else ())
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
            raise UserError(f"{at} = {spec!r}: low, high and step must be numbers")
        if not low < high:
            raise UserError(f"{at}: low ({low}) must be below high ({high})")
        if log and low <= 0:
            raise UserError(f"{at}: log = true needs low > 0, got {low}")
        if log and step is not None:
            raise UserError(f"{at}: use either log = true or step, not both")
        kind = spec.get("type") or ("int" if all(isinstance(v, int) for v in numbers) else "float")
        if kind not in ("int", "float"):
            raise UserError(f"{at}: type = {kind!r} is not int or float")
        if kind == "int":
            out[name] = od.IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        else:
            out[name] = od.FloatDistribution(float(low), float(high), log=log,
                                             step=float(step) if step is not None else None)
    return out


def model_space(comp, model: str) -> dict[str, Any]:
    """The model's declared search space, else its type's default around the table's own values (`_around`):
    a table is a choice (the zoo's members were each chosen on the suite for a role: shallow and slow,
    random thresholds), and trials that roam the type's whole space would turn it into another member;
    none -> UserError."""
    from models import MODEL_TYPES

    spec = comp.models[model]
    space = spec.get("search_space") or {}
    if not space and spec["type"] in MODEL_TYPES:
        mtype, params = MODEL_TYPES[spec["type"]], spec.get("params", {})
        space = {name: _around(rng, _own_value(mtype, params, name)) for name, rng in mtype.default_space.items()}
    if not space:
        raise UserError(f"models.{model} has no search space; add [models.{model}.search_space] with ranges "
                        f"like {_space_example(spec.get('params', {}))}")
    return space


def space_note(comp, model: str) -> str | None:
    """One line on a default space narrowed around the table's values (None where the table declares its
    own space or sets none of the space's parameters)."""
    from models import MODEL_TYPES

    spec = comp.models[model]
    if spec.get("search_space") or spec["type"] not in MODEL_TYPES:
        return None
    mtype, params = MODEL_TYPES[spec["type"]], spec.get("params", {})
    space, parts, kept = model_space(comp, model), [], []
    for name, rng in mtype.default_space.items():
        own = _own_value(mtype, params, name)
        if space[name] != rng:
            parts.append(f"{name} {space[name]['low']:g}-{space[name]['high']:g} (its {own:g})")
        else:
            kept.append(name)
    if not parts:
        return None
    return (f"[tune] {model}: {spec['type']}'s default space around the table's own params: {', '.join(parts)}"
            + (f"; {', '.join(kept)} over the type's whole range" if kept else "")
            + f". [models.{model}.search_space] sets other ranges")


def _own_value(mtype, params: dict, name: str) -> float | None:
    """The table's number for parameter `name` under any of the library's names for it, else None."""
    return next((v for k, v in params.items() if k in mtype.names_of(name)
                 and isinstance(v, (int, float)) and not isinstance(v, bool)), None)


def _around(rng: Any, value: float | None) -> Any:
    """A default range narrowed to `value`'s neighbourhood: a quarter to four times it on a log range, a
    quarter of the range's width either side on a linear one; inside the type's bounds, `value` always in it.
    A list of choices, no value, or a log range and a value <= 0 keep the range as it is."""
    if value is None or not isinstance(rng, dict) or (rng.get("log") and value <= 0):
        return rng
    low, high = rng["low"], rng["high"]
    lo, hi = (value / 4, value * 4) if rng.get("log") else (value - (high - low) / 4, value + (high - low) / 4)
    lo, hi = min(max(low, lo), value), max(min(high, hi), value)
    if isinstance(low, int) and isinstance(high, int) and "type" not in rng:
        lo, hi = math.floor(lo), math.ceil(hi)
    else:
        lo, hi = float(f"{lo:.4g}"), float(f"{hi:.4g}")
    return {**rng, "low": lo, "high": hi} if lo < hi else rng


def _space_example(params: dict) -> str:
    """A search-space line for the model's first positive numeric parameter (a tenth to ten times its value,
    log scale), else a generic one: the hint names a parameter the model has."""
    for name, value in params.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            if isinstance(value, int):  # an integer range samples integers
                low, high = str(max(1, value // 10)), str(value * 10)
            else:  # written with a decimal point, so the range samples floats
                low, high = repr(round(value / 10, 12)), repr(round(value * 10, 12))
            return f"{name} = {{ low = {low}, high = {high}, log = true }}"
    return "C = { low = 0.01, high = 100.0, log = true }"


def study_name(comp, model: str, space: dict, data_digest: str) -> str:
    """Name that changes when anything the trials depend on changes (space, fixed params, folds, features)."""
    spec = {k: v for k, v in comp.models[model].items() if k not in ("enabled", "search_space")}
    key = _io.hash_obj({"space": space, "spec": spec, "metric": comp.metric_name, "data": data_digest})
    return f"{comp.name}.{model}.{key[:10]}"


def storage_url(workspace: Path, url: str | None = None) -> str:
    """The study store: the given URL, else the run registry's database."""
    from pipeline.run_registry import registry_url

    return url or registry_url(workspace)


def _count(study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _failed(study) -> int:
    """Trials that failed, less those skipped on purpose (recorded as failed, see _Skip)."""
    import optuna

    return sum(1 for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
               if "skipped" not in t.user_attrs)


class _Skip(Exception):
    """A trial not worth training: the study already holds enough trials, or these parameters ran before.
    It is recorded as failed, so finished trials are never surplus nor duplicates."""


def tune(comp, model: str, *, trials: int, timeout: float | None = None, storage: str | None = None,
         seed: int | None = None, threads: int = 1, data_digest: str = "",
         log: Callable[[str], None] = print, backend: Any = None) -> TuneResult:
    """Run trials until the study holds `trials` finished trials (or `timeout` seconds pass).

    On a backend with several workers (pipeline.execution; default: the one [runtime] names) each
    worker runs its own trial loop on the shared study, with its own sampler seed (`seed` + i when
    given), so that the trials differ; their folds run in the worker. The first Ctrl-C lets the running
    trial finish, then raises KeyboardInterrupt; a second aborts it."""
    if backend is None:
        from pipeline.execution import backend_for

        backend = backend_for(comp, log=log)
    if backend.workers > 1 and trials > 1:
        return _tune_on_workers(comp, model, trials=trials, timeout=timeout, storage=storage, seed=seed,
                                threads=threads, data_digest=data_digest, log=log, backend=backend)
    with _graceful_interrupt(log) as state:
        return _tune(comp, model, trials=trials, timeout=timeout, storage=storage, seed=seed, threads=threads,
                     data_digest=data_digest, log=log, state=state, backend=backend)


@dataclass(frozen=True)
class _TrialLoop:
    """One worker's share of a parallel study: its arguments to `tune` (with the sequential backend)."""

    comp: Any
    model: str
    trials: int
    timeout: float | None
    storage: str
    seed: int | None
    threads: int
    data_digest: str


def _run_trial_loop(job: _TrialLoop) -> int:
    """In a worker: run trials on the shared study until it holds enough; the number trained here."""
    from pipeline.execution import SEQUENTIAL

    return tune(job.comp, job.model, trials=job.trials, timeout=job.timeout, storage=job.storage, seed=job.seed,
                threads=job.threads, data_digest=job.data_digest, backend=SEQUENTIAL).ran


def _tune_on_workers(comp, model: str, *, trials: int, timeout: float | None, storage: str | None,
                     seed: int | None, threads: int, data_digest: str, log: Callable[[str], None],
                     backend: Any) -> TuneResult:
    """Trials as tasks: one trial loop per worker slot, all on the study in the run database (a server
    database URL when the workers are other machines). Everything is checked here first, and the study
    created, so that a bad search space fails once, before any worker starts."""
    import optuna

    from pipeline.execution import SEQUENTIAL
    from pipeline.context import CompetitionContext

    if model not in comp.models:
        raise UserError(f"--model {model!r} is not an enabled model{did_you_mean(model, tuple(comp.models))}")
    raw_space = model_space(comp, model)
    dists = parse_space(raw_space, where=f"models.{model}.search_space")
    training = CompetitionContext(comp, log=log).training(backend=SEQUENTIAL)
    _check_space_params(model, comp.models[model], dists, training.task, training.metric, training.plugin_dir)
    threads = min(threads, backend.threads(comp.cfg["runtime"]["threads"], warn=log))
    url = storage_url(comp.workspace, storage)
    name = study_name(comp, model, raw_space, data_digest)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _load_study(url, name, direction="maximize" if training.metric.greater_is_better else "minimize",
                        seed=seed)
    n = min(backend.workers, trials)
    log(f"[tune] {n} trial loops on {backend.describe()}, {threads} thread(s) per fit, sharing study {name} "
        f"in {_safe(url)}")
    jobs = [_TrialLoop(comp, model, trials, timeout, url, None if seed is None else seed + i, threads, data_digest)
            for i in range(n)]
    ran = sum(backend.run_all(_run_trial_loop, jobs))
    return _result(study, name, url, ran)


def _tune(comp, model: str, *, trials: int, timeout: float | None, storage: str | None, seed: int | None,
          threads: int, data_digest: str, log: Callable[[str], None], state: "_Interrupt",
          backend: Any = None) -> TuneResult:
    import optuna

    from models._types import model_type
    from pipeline.context import CompetitionContext

    if model not in comp.models:
        raise UserError(f"--model {model!r} is not an enabled model{did_you_mean(model, tuple(comp.models))}")
    if trials < 1:
        raise UserError(f"--trials must be at least 1, got {trials}")
    raw_space = model_space(comp, model)
    dists = parse_space(raw_space, where=f"models.{model}.search_space")
    spec = comp.models[model]
    training = CompetitionContext(comp, log=log).training(backend=backend)
    mtype = model_type(model, spec, training.plugin_dir)
    metric = training.metric
    n_folds = len(fold_ids(training.folds))
    _check_space_params(model, spec, dists, training.task, metric, training.plugin_dir)

    url = storage_url(comp.workspace, storage)
    name = study_name(comp, model, raw_space, data_digest)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _load_study(url, name, direction="maximize" if metric.greater_is_better else "minimize", seed=seed)
    state.study = study
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # trials of a killed process: failed and queued again
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    running = (optuna.trial.TrialState.RUNNING,)
    done = _count(study, finished)
    log(f"[tune] study {name} in {_safe(url)}: {done} finished trial(s), target {trials}")
    ran = 0
    deferred = False  # a trial was skipped for others' running trials, which may yet fail or be skipped

    def objective(trial) -> float:
        nonlocal ran, deferred
        ahead = [t for t in study.get_trials(deepcopy=False, states=running) if t.number < trial.number]
        if _count(study, finished) + len(ahead) >= trials:
            deferred = bool(ahead)
            study.stop()
            trial.set_user_attr("skipped", "enough trials")
            raise _Skip(f"trial {trial.number}: the study already has {trials} trials")
        params = {p: suggest(trial, p, d) for p, d in dists.items()}
        for other in study.get_trials(deepcopy=False, states=finished + running):
            if other.number != trial.number and other.params == params:
                trial.set_user_attr("duplicate_of", other.number)
                trial.set_user_attr("skipped", "duplicate")
                log(f"[tune] trial {trial.number}: same parameters as trial {other.number}, skipped")
                raise _Skip(f"trial {trial.number}: same parameters as trial {other.number}")
        ran += 1

        def report(r) -> None:
            trial.report(sum(r.scores) / len(r.scores), r.step)
            if r.step < n_folds - 1 and trial.should_prune():  # after the last fold there is nothing to save
                log(f"[tune] trial {trial.number}: pruned after {r.step + 1} fold(s) {params}")
                raise optuna.TrialPruned()

        trial_spec = {**spec, "params": mtype.merged_params(spec.get("params", {}), params)}
        result = training.train_cv(model, trial_spec, threads=threads, log=lambda _m: None, on_fold=report,
                                   progress=False, save_models=False)
        trial.set_user_attr("fold_scores", result.fold_scores)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which process trained it
        log(f"[tune] trial {trial.number}: {metric.name} {result.overall:.5f} {params}")
        return result.overall

    def enough(study, _trial) -> None:
        if _count(study, finished) >= trials:
            study.stop()

    deadline = None if timeout is None else time.monotonic() + timeout
    if done < trials and not state.interrupted:
        from core.progress import progress

        with _quiet_skips(), progress(trials - done, f"[tune] {model}", unit="trial") as bar:
            def tick(study, trial) -> None:
                if trial.state in finished:
                    bar.update(note=f"best {study.best_value:.5f}" if _count(study, finished[:1]) else "")

            while True:  # until the study holds enough, not only until others' running trials would make it so
                left = None if deadline is None else deadline - time.monotonic()
                study.optimize(objective, n_trials=None if timeout else trials * 2, timeout=left,
                               catch=(_Skip,), callbacks=[enough, tick])
                _wait_for_others(study, state, log)
                if not deferred or state.interrupted or _count(study, finished) >= trials or (
                        deadline is not None and time.monotonic() >= deadline):
                    break
                deferred = False
    _wait_for_others(study, state, log)
    if state.interrupted:
        raise KeyboardInterrupt
    return _result(study, name, url, ran)


@contextlib.contextmanager
def _quiet_skips():
    """Optuna logs every caught exception with its traceback; a _Skip is no error (it only records
    the trial as failed), so those records -- and the "Trial N failed with value None." line Optuna
    writes after each -- are dropped from Optuna's handlers while optimising."""
    import logging

    skipped: set[str] = set()

    def keep(record: logging.LogRecord) -> bool:
        words = str(record.msg).split(" ", 2)
        if record.exc_info and isinstance(record.exc_info[1], _Skip):
            skipped.add(words[1] if len(words) > 1 else "")
            return False
        return not (len(words) > 2 and words[0] == "Trial" and words[1] in skipped
                    and words[2].startswith("failed with value"))

    handlers = logging.getLogger("optuna").handlers
    for handler in handlers:
        handler.addFilter(keep)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(keep)


def _wait_for_others(study, state: "_Interrupt", log: Callable[[str], None], *, poll_s: float = 1.0) -> None:
    """Wait until no trial of the study is running (in other processes sharing it), so that the best
    this process reports -- and `--apply` writes -- is the study's, not the best of what had finished
    when it stopped. A trial of a killed process stops counting once its heartbeat is stale."""
    import optuna

    running = (optuna.trial.TrialState.RUNNING,)
    told = False
    while not state.interrupted and _count(study, running):
        if not told:
            log(f"[tune] waiting for {_count(study, running)} trial(s) running in other processes, so the best "
                f"reported is the study's")
            told = True
        time.sleep(poll_s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


_SUGGEST = {
    "IntDistribution": lambda t, n, d: t.suggest_int(n, d.low, d.high, step=d.step, log=d.log),
    "FloatDistribution": lambda t, n, d: t.suggest_float(n, d.low, d.high, step=d.step, log=d.log),
    "CategoricalDistribution": lambda t, n, d: t.suggest_categorical(n, d.choices),
}


def suggest(trial, name: str, dist) -> Any:
    """The trial's value for one parameter of the search space."""
    return _SUGGEST[type(dist).__name__](trial, name, dist)


@dataclass
class _Interrupt:
    study: Any = None
    interrupted: bool = False


@contextlib.contextmanager
def _graceful_interrupt(log: Callable[[str], None]):
    """First Ctrl-C: finish the running trial, then stop. Second Ctrl-C: abort it (recorded as failed)."""
    import signal
    import threading

    state = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame):
        if state.interrupted:
            raise KeyboardInterrupt
        state.interrupted = True
        log("[tune] interrupt: stopping after the running trial (Ctrl-C again to abort it)")
        if state.study is not None:
            state.study.stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_space_params(model, spec, dists, task, metric, plugin_dir) -> None:
    """Build the model once with each parameter at a valid value so a misspelt name fails before trials."""
    from models import ModelContext, build_model
    from models._types import model_type

    probe = {}
    for p, d in dists.items():
        probe[p] = d.choices[0] if hasattr(d, "choices") else d.low
    try:
        params = model_type(model, spec, plugin_dir).merged_params(spec.get("params", {}), probe)
        build_model(model, {**spec, "params": params},
                    ModelContext(task, metric, 1, plugin_dir, None))
    except UserError as exc:
        raise UserError(f"models.{model}.search_space (tried with the ranges' low values): {exc}") from None


def _storage(url: str):
    """The RDB storage; a second process creating the tables at the same moment retries once they exist."""
    import optuna
    import sqlalchemy as sa

    from pipeline.run_registry import engine_kwargs, engine_url

    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental; they are how stale trials resume
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    engine_url(url), engine_kwargs=engine_kwargs(url), heartbeat_interval=HEARTBEAT_S,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError):  # created meanwhile
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _load_study(url: str, name: str, *, direction: str, seed: int | None):
    import optuna

    try:
        storage = _storage(url)
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is the user's URL
        from pipeline.run_registry import mask

        raise UserError(f"study storage {_safe(url)!r} cannot be opened ({type(exc).__name__}: "
                        f"{mask(str(exc).splitlines()[0] if str(exc) else '', url)}); pass --storage "
                        f"sqlite:///tune.db") from None
    # each process needs its own sampler seed, or parallel workers would propose the same trials
    sampler_seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, constant_liar=True, n_startup_trials=10)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    study = optuna.create_study(study_name=name, storage=storage, direction=direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    return study


def _safe(url: str) -> str:
    from pipeline.run_registry import _safe as hide

    return hide(url)


# ---- writing the best parameters back into competition.toml -----------------------------------
# tomlkit edits the document in place, so the user's comments, key order and layout stay as they were.

def _toml_item(value: Any):
    """The tomlkit item for a parameter value (string, bool, int, float, list; an item stays itself)."""
    import tomlkit
    from tomlkit.exceptions import ConvertError

    try:
        return tomlkit.item(value)
    except ConvertError:
        raise UserError(f"cannot write {value!r} ({type(value).__name__}) into TOML") from None


def inline_table(params: dict) -> str:
    """`{ a = 1, b = "x" }`: keys and values rendered by tomlkit (values may be tomlkit items, kept as written)."""
    import tomlkit

    if not params:
        return "{}"
    return "{ " + ", ".join(f"{tomlkit.key(k).as_string()} = {_toml_item(v).as_string()}"
                            for k, v in params.items()) + " }"


def apply_params(config_path: Path, model: str, params: dict) -> dict:
    """Merge `params` into [models.MODEL]'s params in the TOML file, keeping comments; atomic write.

    Handles `params = { ... }` inside [models.MODEL], a [models.MODEL.params] table, or no params
    yet. The new text is re-parsed and checked before it replaces the file. Returns the new params."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import InlineTable

    from core.io import tomllib
    from pipeline.config import parse_config

    text = config_path.read_text(encoding="utf-8")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise UserError(f"{config_path}: not valid TOML ({exc}); fix it before --apply") from None
    models = doc.get("models")
    table = models.get(model) if isinstance(models, dict) else None
    if not isinstance(table, dict):
        raise UserError(f"{config_path}: no [models.{model}] table to write parameters into")
    old = table.get("params", {})
    if not isinstance(old, dict):
        raise UserError(f"{config_path}: params of [models.{model}] is not a table; set params = "
                        f"{inline_table(params)} there by hand")
    from models import MODEL_TYPES

    mtype = MODEL_TYPES.get(str(table.get("type")))  # a plug-in's names are its own
    written = tomllib.loads(text)["models"][model].get("params", {})
    merged = mtype.merged_params(written, params) if mtype else {**written, **params}
    for k in set(written) - set(merged):  # another name of a parameter written now: the library would keep one
        del old[k]
    new_items = {k: _toml_item(v) for k, v in params.items()}
    if isinstance(old, InlineTable) or "params" not in table:
        # one line `params = { ... }`: rebuilt, the untouched entries as the user wrote them
        item = tomlkit.value(inline_table({**old, **new_items}))
        if "params" in table:
            table["params"] = item  # same line, its trailing comment kept
        else:
            _add_key(table, "params", item)
    else:  # a [models.NAME.params] table: each key set in place, comments and other keys kept
        for k, v in new_items.items():
            old[k] = v
    new_text = tomlkit.dumps(doc)
    try:
        parsed = tomllib.loads(new_text)
        parse_config(parsed, config_path)
    except (tomllib.TOMLDecodeError, UserError) as exc:
        raise UserError(f"{config_path}: writing the parameters would break the file ({exc}); set params = "
                        f"{inline_table(merged)} in [models.{model}] by hand") from None
    if parsed["models"][model].get("params", {}) != merged:
        raise UserError(f"{config_path}: the params of [models.{model}] are spread over the file; set params = "
                        f"{inline_table(merged)} there by hand")
    _io.write_text(config_path, new_text)
    return merged


def _add_key(table, key: str, item) -> None:
    """Add `key = item` right after the table's last key. A plain `table[key] = item` appends after
    any trailing comment and blank line, which usually introduce the next table, so those are taken
    off the table's end first and put back after the new key."""
    from tomlkit.items import Comment, Table, Whitespace

    body = table.value.body if isinstance(table, Table) else []
    trailing = []
    while body and body[-1][0] is None and isinstance(body[-1][1], (Comment, Whitespace)):
        trailing.insert(0, body.pop()[1])
    table[key] = item
    for extra in trailing:
        table.value.add(extra)


def _result(study, name: str, url: str, ran: int) -> TuneResult:
    """The study's best trial and counts (UserError when no trial has completed yet)."""
    import optuna

    complete = _count(study, (optuna.trial.TrialState.COMPLETE,))
    if complete == 0:
        raise UserError(f"study {name}: no trial completed yet; run more trials")
    best = study.best_trial
    return TuneResult(name, url, float(best.value), dict(best.params), complete,
                      _count(study, (optuna.trial.TrialState.PRUNED,)), _failed(study), ran)
