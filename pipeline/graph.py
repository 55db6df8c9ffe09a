"""The make-like stage runner: a validated DAG of stages, content fingerprints and recorded state.

A stage is fresh when its fingerprint -- its config sections, the digests of its inputs (data files,
upstream outputs) and the source of the code that computes it, plug-ins included -- equals the one
recorded beside its outputs, and those outputs still exist. The code is derived, not declared: the
stage's module and every project module it imports, transitively (`code_inputs`). Stages with
*units* (cv: one unit per model) keep one fingerprint per unit, so changing one model re-runs only
that model. Upstream stages run first; if their outputs come out byte-identical, downstream stays
fresh (early cutoff).
"""

from __future__ import annotations

import ast
import graphlib
import importlib
import importlib.util
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core import io as _io
from pipeline.config import Competition
from core.errors import UserError, did_you_mean

_PACKAGES_ROOT = Path(__file__).resolve().parent.parent  # holds core/, features/, models/, pipeline/
_PROJECT_PACKAGES = ("core", "features", "models", "pipeline")
# A "package.module:function" string names a module the lazily-imported registries load on demand
# (models/_types.py: "models.lgbm:build"); it counts as an import of the module and a use of the name.
_REGISTRY_REF = re.compile(r"((?:core|features|models|pipeline)(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)")


def code_inputs(module: str, *, root: Path = _PACKAGES_ROOT, memo: dict | None = None,
                modules: dict[str, Path] | None = None) -> list[Path]:
    """The project source files `module` runs: its own file and every project module it imports,
    transitively, sorted.

    An import anywhere in the module's own file counts (inside functions too: that is how heavy
    modules load here), and so does a "package.module:function" registry string. In the modules it
    reaches, a module-level import always counts; an import inside a function or method counts once
    that function's name is used (called, referenced, named as an attribute or a string) by code
    already reached, so a lazy import in a helper only some stages call (config validation reading
    every registry, the model stages' `ctx.training()`) does not tie every stage to every module.
    Dunder methods and the methods of classes with base classes (called by frameworks: torch's
    `forward`) always count. Only core, features, models and pipeline under `root` are followed
    (`modules`: their files by name, from `project_modules`); `import a.b` counts as importing a.b,
    not a/__init__.py (else the stage registry, pipeline/stages/__init__.py, would tie every stage
    to every other). Each file's summary is kept in `memo` by (size, mtime): a no-op run parses
    nothing."""
    if modules is None:
        modules = project_modules(root)
    summaries: dict[str, dict] = {}
    used: set[str] = set()  # names used by the code reached so far
    waiting: dict[str, list] = {}  # name -> bodies of reached functions so named, not yet followed
    todo_modules, todo_bodies = [module], []

    def follow(imports: tuple, uses: frozenset) -> None:
        todo_modules.extend(imports)
        new = uses - used
        used.update(new)
        for name in new & waiting.keys():
            todo_bodies.extend(waiting.pop(name))

    while todo_modules or todo_bodies:
        if not todo_modules:
            follow(*todo_bodies.pop())
            continue
        name = todo_modules.pop()
        if name in summaries or name not in modules:  # not a module (`from pkg import function`)
            continue
        top, always, functions = summaries[name] = _parsed_summary(modules[name], name, memo)
        follow(*top)
        for func, body in functions.items():
            if name == module or func in used or func in always:
                follow(*body)
            else:
                waiting.setdefault(func, []).append(body)
    return sorted(modules[name] for name in summaries)


def project_modules(root: Path = _PACKAGES_ROOT) -> dict[str, Path]:
    """Every module of the project packages under `root`, by dotted name (a package: its __init__.py)."""
    found: dict[str, Path] = {}
    for package in _PROJECT_PACKAGES:
        for dirpath, dirnames, filenames in os.walk(root / package):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            parts = Path(dirpath).relative_to(root).parts
            for f in filenames:
                if f.endswith(".py"):
                    name = parts if f == "__init__.py" else (*parts, f[:-3])
                    found[".".join(name)] = Path(dirpath) / f
    return found


_PARSED: dict[str, tuple] = {}  # file -> (its summary in the memo, that summary as sets)


def _parsed_summary(path: Path, module: str, memo: dict | None) -> tuple:
    """The file's summary as ((imports, uses), always, {function: (imports, uses)}), sets not strings."""
    summary = _file_summary(path, module, memo)
    cached = _PARSED.get(str(path))
    if cached is None or cached[0] is not summary:  # once per memo entry, not once per stage
        def body(imports: str, uses: str) -> tuple:
            return tuple(imports.split()), frozenset(uses.split())

        cached = _PARSED[str(path)] = (summary, (
            body(summary["imports"], summary["uses"]), frozenset(summary["always"].split()),
            {f: body(*b) for f, b in summary["functions"].items()}))
    return cached[1]


def _file_summary(path: Path, module: str, memo: dict | None) -> dict:
    """What a file imports (project modules) and uses (names): at module level, which runs on import,
    and per function or method name, which runs when called. Memoised by (size, mtime)."""
    st = path.stat()
    key = f"code:{path}"
    hit = memo.get(key) if memo is not None else None
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: tuple[set, set] = (set(), set())
    functions: dict[str, tuple[set, set]] = {}
    always: set[str] = set()

    def scan(node: ast.AST, into: tuple[set, set]) -> None:
        imports, uses = into
        for n in ast.walk(node):
            if isinstance(n, ast.Import):
                imports.update(alias.name for alias in n.names)
            elif isinstance(n, ast.ImportFrom):
                try:
                    base = importlib.util.resolve_name("." * n.level + (n.module or ""), package)
                except (ImportError, ValueError):  # a relative import beyond the top-level package
                    continue
                imports.add(base)  # `from a import b`: b may be a submodule
                imports.update(f"{base}.{alias.name}" for alias in n.names if alias.name != "*")
                uses.update(alias.name for alias in n.names)
            elif isinstance(n, ast.Name):
                uses.add(n.id)
            elif isinstance(n, ast.Attribute):
                uses.add(n.attr)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                match = _REGISTRY_REF.fullmatch(n.value)
                if match:
                    imports.add(match.group(1))
                    uses.add(match.group(2))
                elif n.value.isidentifier():  # getattr(obj, "name")
                    uses.add(n.value)

    def visit(body: list[ast.stmt], framework_called: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                    if node is not None:  # evaluated when the def runs
                        scan(node, top)
                into = functions.setdefault(stmt.name, (set(), set()))
                for node in stmt.body:
                    scan(node, into)
                if framework_called or (stmt.name.startswith("__") and stmt.name.endswith("__")):
                    always.add(stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                for node in [*stmt.bases, *stmt.keywords, *stmt.decorator_list]:
                    scan(node, top)
                visit(stmt.body, framework_called or bool(stmt.bases))
            else:  # module-level code (a def nested in an `if` or `try` counts as module-level)
                scan(stmt, top)

    visit(ast.parse(path.read_bytes(), filename=str(path)).body, False)

    def project(imports: set) -> str:
        return " ".join(sorted(n for n in imports if n.split(".")[0] in _PROJECT_PACKAGES))

    # space-separated strings, not lists: a memo of a few thousand small lists costs a full garbage
    # collection pass to load in a process that has imported pandas
    summary = {"imports": project(top[0]), "uses": " ".join(sorted(top[1])),
               "always": " ".join(sorted(always)),
               "functions": {f: [project(i), " ".join(sorted(u))] for f, (i, u) in sorted(functions.items())}}
    if memo is not None:
        memo[key] = [st.st_size, st.st_mtime_ns, summary]
    return summary


@dataclass(frozen=True)
class Stage:
    """One node of the pipeline: what it needs, what config it depends on, how to run it.

    Its code is not declared: the fingerprint covers the `run` module and every project module it
    imports (`code_inputs`), plus the competition's plug-in paths named in `plugins`."""

    name: str
    doc: str
    run: str  # "module:function", imported only when the stage runs
    needs: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # config sections in the fingerprint
    plugins: tuple[str, ...] = ()  # paths under the competition folder (plug-in code) in the fingerprint
    data: bool = False  # the raw data files are inputs
    imports: bool = False  # teammates' imported runs (competition/<name>/imports) are inputs
    units: Callable[[Competition], dict[str, Any]] | None = None  # unit name -> its config


@dataclass
class StageContext:
    """What a stage's run function receives: the competition, its units to run, and helpers."""

    comp: Competition
    stage: Stage
    units: list[str] | None
    log: Callable[[str], None]
    state: dict[str, dict]  # recorded state of every stage (upstream outputs, unit lists)
    started: float | None = None  # perf_counter() when the run began: the time budget counts from it
    _cache: dict[str, Any] = field(default_factory=dict)
    _unit_done: Callable[[str, list], None] | None = None

    @property
    def budget(self):
        """The run's time budget (pipeline.planner.Budget; `[runtime] time_budget`, 0 = none)."""
        from pipeline.planner import Budget

        seconds = self.comp.cfg["runtime"].get("time_budget") or None
        return Budget(seconds, started=self.started)

    def unit_done(self, unit: str, paths: list) -> None:
        """Tell the runner a unit (e.g. one model) finished with these output files; recorded at once."""
        if self._unit_done is not None:
            self._unit_done(unit, paths)

    @property
    def cfg(self) -> dict:
        return self.comp.cfg

    @property
    def runs(self) -> Path:
        return self.comp.runs

    def threads(self) -> int:
        """Threads per fit from runtime.threads / n_jobs."""
        from core.threads import resolve_threads

        rt = self.comp.cfg["runtime"]
        return resolve_threads(rt["threads"], n_jobs=rt["n_jobs"], warn=self.log)

    def data(self):
        """(train, test, sample_submission) DataFrames, read once (from a snapshot when unchanged)."""
        if "data" not in self._cache:
            from pipeline.data import read_data

            self._cache["data"] = read_data(self.comp)
        return self._cache["data"]

    def release_data(self) -> None:
        """Drop this stage's hold on the data frames (their snapshot's mapped pages leave memory, and
        the memory they held goes back to the system); a later `data()` maps them again."""
        from pipeline.data import release_memory

        for key in ("data", "model_setup"):
            self._cache.pop(key, None)
        release_memory()  # pandas frames sit in reference cycles: without a collection their pages stay

    def folds(self, repeat: int = 0):
        """Fold number per train row (-1: never validated), aligned with train.csv's row order, of CV
        repeat `repeat` (cv.repeats)."""
        key = ("folds", repeat)
        if key not in self._cache:
            from pipeline.data import read_folds

            self._cache[key] = read_folds(self.comp, self.data()[0], repeat=repeat)
        return self._cache[key]

    def repeats(self) -> int:
        """How many CV repeats runs/folds.csv holds."""
        from pipeline.data import fold_repeats

        return fold_repeats(self.comp, self.data()[0])

    def train_from(self):
        """Per train row the first fold that may train on it (forward chaining), or None."""
        if "train_from" not in self._cache:
            from pipeline.data import read_train_from

            self._cache["train_from"] = read_train_from(self.comp, self.data()[0])
        return self._cache["train_from"]

    def training(self):
        """The model stages' one setup (pipeline.training.Training): data, task, metric, folds, features."""
        if "model_setup" not in self._cache:
            from pipeline.training import Training

            self._cache["model_setup"] = Training(self.comp, *self.data()[:2], self.task_info(), self.metric(),
                                               self.folds(), self.log, train_from=self.train_from())
        return self._cache["model_setup"]

    def task_info(self):
        """The task with the class labels found in train.csv's target."""
        from core.tasks import TaskInfo

        if "task" not in self._cache:
            self._cache["task"] = TaskInfo.from_target(self.comp.task, self.data()[0][self.comp.target])
        return self._cache["task"]

    def metric(self):
        from core.metrics import get_metric

        return get_metric(self.comp.metric_name)

    def model_run_dirs(self) -> dict[str, Path]:
        """Every model run the ensemble may combine: trained (cv, pseudo) and imported, by name."""
        dirs: dict[str, Path] = {}
        for unit in self.state.get("cv", {}).get("units", {}):
            path = self.runs / "models" / unit
            if (path / "oof.parquet").exists():
                dirs[unit] = path
        if self.cfg["pseudo"]["enabled"]:
            for rel in self.state.get("pseudo", {}).get("paths", []):
                path = self.comp.workspace / rel
                if path.name == "oof.parquet":
                    dirs[path.parent.name] = path.parent
        if self.comp.imports_dir.is_dir():
            for path in sorted(self.comp.imports_dir.iterdir()):
                if (path / "oof.parquet").exists():
                    dirs[path.name] = path
        return dirs


class Pipeline:
    """A validated set of stages: unique names, known dependencies, no cycles."""

    def __init__(self, stages: list[Stage]):
        self.stages = {s.name: s for s in stages}
        if len(self.stages) != len(stages):
            raise ValueError("duplicate stage names")
        graph = {}
        for s in stages:
            for need in s.needs:
                if need not in self.stages:
                    raise ValueError(f"stage {s.name!r} needs unknown stage {need!r}")
            graph[s.name] = set(s.needs)
        self.order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError

    def get(self, name: str) -> Stage:
        if name not in self.stages:
            raise UserError(f"unknown stage {name!r}{did_you_mean(name, tuple(self.stages))}")
        return self.stages[name]

    def upstream(self, name: str) -> set[str]:
        """`name` and every stage it needs, transitively."""
        seen, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(self.stages[n].needs)
        return seen

    def downstream(self, name: str) -> set[str]:
        """`name` and every stage that needs it, transitively."""
        return {s for s in self.stages if name in self.upstream(s)}


class StateStore:
    """Recorded fingerprints and output digests, one JSON file per stage under runs/.state/."""

    def __init__(self, comp: Competition):
        self.dir = comp.runs / ".state"

    def load(self, stage: str) -> dict:
        path = self.dir / f"{stage}.json"
        if not path.exists():
            return {}
        try:
            return _io.read_json(path)
        except ValueError:
            return {}

    def save(self, stage: str, state: dict) -> None:
        _io.write_json(self.dir / f"{stage}.json", state)

    def load_memo(self) -> dict:
        path = self.dir / "hash-memo.json"
        try:
            return _io.read_json(path) if path.exists() else {}
        except ValueError:
            return {}

    def save_memo(self, memo: dict) -> None:
        _io.write_json(self.dir / "hash-memo.json", memo)

    def load_code_memo(self) -> dict:
        """What each project source file imports and uses (`code_inputs`), by (size, mtime)."""
        path = self.dir / "code-memo.json"
        try:
            return _io.read_json(path) if path.exists() else {}
        except ValueError:
            return {}

    def save_code_memo(self, memo: dict) -> None:
        _io.write_text(self.dir / "code-memo.json", json.dumps(memo, separators=(",", ":")))  # compact: fast


@dataclass
class Verdict:
    """Whether a stage (or some of its units) must run, and why."""

    stage: str
    fingerprint: str
    stale_units: list[str]
    reasons: list[str]
    unit_fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return bool(self.reasons)


class Runner:
    """Decides what is stale and runs it, in dependency order, recording state as stages finish."""

    def __init__(self, pipeline: Pipeline, comp: Competition, *, log: Callable[[str], None],
                 code_root: Path = _PACKAGES_ROOT):
        self.pipeline = pipeline
        self.comp = comp
        self.log = log
        self.started = time.perf_counter()  # the time budget counts from here
        self.code_root = Path(code_root)  # where the project packages' sources are fingerprinted from
        self._code_modules: dict[str, Path] | None = None  # project modules by name, listed once
        self._module_digests: dict[str, str] = {}  # stage module -> digest of the files it runs
        self._file_digests: dict[Path, str] = {}  # project source file -> content digest
        self._code_memo: dict = {}  # file summaries for code_inputs (runs/.state/code-memo.json)
        self._code_stamps: dict = {}  # (size, mtime) per summary as loaded, to save only on change
        self.store = StateStore(comp)
        self.state = {name: self.store.load(name) for name in pipeline.stages}
        self.memo = self.store.load_memo()

    # ---- fingerprints -------------------------------------------------------------------------
    def _code_digest(self, stage: Stage) -> str:
        """Digest of the stage's module, the project modules it imports, and its plug-in paths."""
        module = stage.run.partition(":")[0]
        if module not in self._module_digests:  # once per runner: stages share most of their modules
            if self._code_modules is None:
                self._code_modules = project_modules(self.code_root)
                self._code_memo = self.store.load_code_memo()
                self._code_stamps = {k: v[:2] for k, v in self._code_memo.items()}
            files = code_inputs(module, root=self.code_root, memo=self._code_memo, modules=self._code_modules)
            for p in files:
                if p not in self._file_digests:
                    self._file_digests[p] = _io.hash_file(p, memo=self.memo)
            self._module_digests[module] = _io.hash_obj(
                {p.relative_to(self.code_root).as_posix(): self._file_digests[p] for p in files})
        plugins = _io.hash_tree([self.comp.root / p for p in stage.plugins], memo=self.memo)
        return _io.hash_obj({"modules": self._module_digests[module], "plugins": plugins})

    def _save_code_memo(self) -> None:
        """Keep the file summaries of the current sources, written only when one changed."""
        if self._code_modules is None:
            return
        keep = {f"code:{p}" for p in self._code_modules.values()}
        memo = {k: v for k, v in self._code_memo.items() if k in keep}
        if {k: v[:2] for k, v in memo.items()} != self._code_stamps:
            self.store.save_code_memo(memo)
            self._code_stamps = {k: v[:2] for k, v in memo.items()}

    def _input_digests(self, stage: Stage) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if stage.data:
            inputs["data"] = {p.name: _io.hash_file(p, memo=self.memo) for p in self.comp.data_files()}
        for need in stage.needs:  # a disabled stage contributes nothing
            inputs[need] = self.state[need].get("outputs") if self._enabled(need) else None
        if stage.imports:
            inputs["imports"] = _io.hash_tree([self.comp.imports_dir], memo=self.memo)
        return inputs

    def verdict(self, stage: Stage, *, force: bool = False, only_units: list[str] | None = None) -> Verdict:
        """Compare the stage's fingerprint (and its units') with the recorded state."""
        sections = {s: self.comp.cfg.get(s) for s in stage.sections}
        fingerprint = _io.hash_obj({"sections": sections, "inputs": self._input_digests(stage),
                                    "code": self._code_digest(stage)})
        recorded = self.state[stage.name]
        reasons: list[str] = []
        if not recorded:
            reasons.append("never run")
        elif recorded.get("fingerprint") != fingerprint:
            reasons.append(self._why(stage, recorded, sections))
        elif not all((self.comp.workspace / p).exists() for p in recorded.get("paths", [])):
            reasons.append("outputs missing")
        if force:
            reasons.append("forced")
        if stage.units is None:
            return Verdict(stage.name, fingerprint, [], reasons)
        # Unit stages: each unit's fingerprint includes the stage's, so a unit finished before a
        # crash (recorded by ctx.unit_done) stays fresh while its siblings re-run.
        units = stage.units(self.comp)
        unit_fps = {u: _io.hash_obj({"stage": fingerprint, "unit": cfg}) for u, cfg in units.items()}
        rec_units = recorded.get("units", {})
        stale_units = []
        for u, fp in unit_fps.items():
            if only_units is not None and u not in only_units and u in rec_units:
                continue
            rec = rec_units.get(u)
            if force or rec is None or rec.get("fingerprint") != fp or not all(
                    (self.comp.workspace / p).exists() for p in rec.get("paths", [])):
                stale_units.append(u)
        dropped = sorted(set(rec_units) - set(units))
        unit_reasons = [r for r in reasons if r != "outputs missing"] if stale_units else []
        if stale_units and not unit_reasons:
            unit_reasons.append("changed: " + ", ".join(stale_units))
        elif stale_units and len(stale_units) < len(units):
            unit_reasons.append("models: " + ", ".join(stale_units))
        if dropped:
            unit_reasons.append("removed: " + ", ".join(dropped))
        return Verdict(stage.name, fingerprint, stale_units, unit_reasons, unit_fps)

    def _why(self, stage: Stage, recorded: dict, sections: dict) -> str:
        parts = []
        old = recorded.get("parts", {})
        now = self._parts(stage, sections)
        for key in ("config", "data", "upstream", "code", "imports"):
            if old.get(key) != now.get(key):
                parts.append(key)
        return "changed: " + (", ".join(parts) if parts else "fingerprint")

    def _parts(self, stage: Stage, sections: dict) -> dict:
        inputs = self._input_digests(stage)
        return {
            "config": _io.hash_obj(sections),
            "data": _io.hash_obj(inputs.get("data")),
            "upstream": _io.hash_obj({n: inputs.get(n) for n in stage.needs}),
            "code": self._code_digest(stage),
            "imports": _io.hash_obj(inputs.get("imports")),
        }

    # ---- running ------------------------------------------------------------------------------
    def plan(self, target: str | None) -> list[str]:
        """Stages to consider, in order: the target and everything it needs (all when None)."""
        wanted = self.pipeline.upstream(target) if target else set(self.pipeline.stages)
        return [s for s in self.pipeline.order if s in wanted and self._enabled(s)]

    def _enabled(self, name: str) -> bool:
        section = self.comp.cfg.get(name)
        return not (isinstance(section, dict) and section.get("enabled") is False)

    def run(self, target: str | None = None, *, force: bool = False,
            only_units: list[str] | None = None) -> list[str]:
        """Run stale stages up to `target`; returns the names of the stages that ran."""
        forced: set[str] = set()
        if force:  # the named stage (everything when none is named); what follows sees new inputs
            forced = {target} if target else set(self.pipeline.stages)
        ran = []
        for name in self.plan(target):
            stage = self.pipeline.stages[name]
            units = only_units if stage.units is not None else None
            v = self.verdict(stage, force=name in forced, only_units=units)
            if not v.stale:
                self.log(f"[{name}] fresh, skipped")
                continue
            self.log(f"[{name}] running ({'; '.join(v.reasons)})")
            t0 = time.perf_counter()
            self._execute(stage, v)
            self.log(f"[{name}] done in {time.perf_counter() - t0:.1f}s")
            ran.append(name)
        self.store.save_memo(self.memo)
        self._save_code_memo()
        return ran

    def _execute(self, stage: Stage, v: Verdict) -> None:
        module_name, func_name = stage.run.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        sections = {s: self.comp.cfg.get(s) for s in stage.sections}
        parts = self._parts(stage, sections)
        ctx = StageContext(self.comp, stage, v.stale_units if stage.units else None, self.log, self.state,
                           self.started)
        root = self.comp.workspace
        if stage.units is not None:
            ctx._unit_done = lambda unit, paths: self._record_unit(stage, v, unit, paths)
        try:
            produced = func(ctx)
        finally:
            ctx.release_data()  # the next stage does not find this one's frames still in memory
        if stage.units is None:
            paths = [Path(p) for p in (produced or [])]
            new_state = {"fingerprint": v.fingerprint, "parts": parts,
                         "paths": [str(p.relative_to(root)) for p in paths],
                         "outputs": _io.hash_tree(paths, memo=self.memo),
                         "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        else:
            old_units = self.state[stage.name].get("units", {})
            units = {}
            for u, fp in v.unit_fingerprints.items():
                if u in (produced or {}):
                    units[u] = self._unit_record(fp, produced[u])
                elif u in old_units:
                    units[u] = old_units[u]
            new_state = {"fingerprint": v.fingerprint, "parts": parts, "units": units,
                         **self._unit_aggregate(units), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.state[stage.name] = new_state
        self.store.save(stage.name, new_state)

    def _unit_record(self, fingerprint: str, paths: list) -> dict:
        paths = [Path(p) for p in paths]
        return {"fingerprint": fingerprint,
                "paths": [str(p.relative_to(self.comp.workspace)) for p in paths],
                "outputs": _io.hash_tree(paths, memo=self.memo)}

    @staticmethod
    def _unit_aggregate(units: dict) -> dict:
        """A unit stage's paths and output digest, over its units."""
        return {"paths": [p for rec in units.values() for p in rec["paths"]],
                "outputs": _io.hash_obj({u: r["outputs"] for u, r in sorted(units.items())})}

    def _record_unit(self, stage: Stage, v: Verdict, unit: str, paths: list) -> None:
        """Record one finished unit at once, so a later crash in the same stage keeps it."""
        state = dict(self.state[stage.name])
        state["units"] = {**state.get("units", {}), unit: self._unit_record(v.unit_fingerprints[unit], paths)}
        state.update(self._unit_aggregate(state["units"]))
        self.state[stage.name] = state
        self.store.save(stage.name, state)

    def status(self) -> list[tuple[str, str, str]]:
        """(stage, fresh|stale|disabled, why) for every stage, without running anything."""
        rows = []
        stale_upstream: set[str] = set()
        for name in self.pipeline.order:
            stage = self.pipeline.stages[name]
            if not self._enabled(name):
                rows.append((name, "disabled", f"{name}.enabled = false"))
                continue
            v = self.verdict(stage)
            blocked = [n for n in stage.needs if n in stale_upstream]
            if v.stale:
                stale_upstream.add(name)
                rows.append((name, "stale", "; ".join(v.reasons)))
            elif blocked:
                stale_upstream.add(name)
                rows.append((name, "stale?", f"after {', '.join(blocked)} re-runs, if its outputs change"))
            else:
                rows.append((name, "fresh", f"finished {self.state[name].get('finished', '?')}"))
        return rows
