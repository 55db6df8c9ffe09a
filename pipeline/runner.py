"""The make-like stage runner: decides which stages are stale and runs them in DAG order, recording state.

A stage is fresh when its fingerprint -- its config sections, the digests of its inputs (data files,
upstream outputs) and the source of the code that computes it, plug-ins included -- equals the one
recorded beside its outputs, and those outputs still exist. The code is derived, not declared: the
stage's module and every project module it imports, transitively (`core.fingerprint.code_inputs`).
Stages with *units* (cv: one unit per model) keep one fingerprint per unit, so changing one model
re-runs only that model. Upstream stages run first; if their outputs come out byte-identical,
downstream stays fresh (early cutoff).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core import io as _io
from core.errors import UserError
from core.fingerprint import PACKAGES_ROOT, CodeFingerprints
from pipeline import planner
from pipeline.config import Competition
from pipeline.context import CompetitionContext, StageContext
from pipeline.graph import Pipeline, Stage
from pipeline.state import StateStore


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
                 code_root: Path = PACKAGES_ROOT, alongside: bool = False):
        self.pipeline = pipeline
        # Stages declared `alongside` run in a spawned process: on for `python -m pipeline run` ([runtime]
        # alongside), off by default for callers of this class, whose registries may hold entries added at
        # run time (a metric registered in a notebook) that a fresh process would not know.
        self.alongside = alongside
        self.comp = comp
        self.log = log
        self.started = planner.clock()  # the time budget counts from here
        self.competition = CompetitionContext(comp, log=log)  # one per run, handed to every stage
        self.code_root = Path(code_root)  # where the project packages' sources are fingerprinted from
        self.store = StateStore(comp.runs)
        self.state = {name: self.store.load(name) for name in pipeline.stages}
        self.memo = self.store.load_memo()
        self._code: CodeFingerprints | None = None  # built when first needed (a no-op run parses nothing new)
        self._code_stamps: dict = {}  # (size, mtime) per file summary as loaded, to save only on change

    # ---- fingerprints -------------------------------------------------------------------------
    @property
    def code(self) -> CodeFingerprints:
        """The code-fingerprint rule (core.fingerprint), with the file summaries recorded under runs/.state/."""
        if self._code is None:
            memo = self.store.load_code_memo()
            self._code_stamps = {k: v[:2] for k, v in memo.items()}
            self._code = CodeFingerprints(self.code_root, memo=memo, hash_memo=self.memo)
        return self._code

    def _code_digest(self, stage: Stage) -> str:
        """Digest of the stage's module, the project modules it imports, and its plug-in paths."""
        plugins = _io.hash_tree([self.comp.root / p for p in stage.plugins], memo=self.memo)
        return _io.hash_obj({"modules": self.code.module(stage.run.partition(":")[0]), "plugins": plugins})

    def unit_code(self, cfg: dict) -> str:
        """Digest of the user code one unit's table runs: its plug-in file (competition/<name>/models/
        <type>.py) and every file an import path in it names (a net's `factory`, an `estimator`) inside
        the project, the workspace or the competition folder -- with the project modules they import."""
        from pipeline.model_setup import model_code

        return model_code(self.comp, cfg, self.code)

    def _save_code_memo(self) -> None:
        """Keep the file summaries of the current sources, written only when one changed."""
        if self._code is None:
            return
        memo = {k: v for k, v in self._code.memo.items() if Path(k.partition(":")[2]).is_file()}
        stamps = {k: v[:2] for k, v in memo.items()}
        if stamps != self._code_stamps:
            self.store.save_code_memo(memo)
            self._code_stamps = stamps

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
        sections = stage.config(self.comp.cfg)
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
        unit_fps = {u: _io.hash_obj({"stage": fingerprint, "unit": cfg, "code": self.unit_code(cfg)})
                    for u, cfg in units.items()}
        rec_units = recorded.get("units", {})
        stale_units = []
        for u, fp in unit_fps.items():
            if only_units is not None and u not in only_units:  # `run --models`: the others wait, trained or not
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
        """Run stale stages up to `target`; returns the names of the stages that ran.

        A stage declared `alongside` (the EDA report: no stage needs it) runs in its own process beside
        the others when this runner's `alongside` is on and it is not the target; the run waits for it at
        the end. One that needs no stage starts first, so it has the core the folds stage leaves idle; bad
        input found by the main work (a UserError) stops it unless it has finished, so that nothing is
        written, while after any other failure it is waited for and kept."""
        forced: set[str] = set()
        if force:  # the named stage (everything when none is named); what follows sees new inputs
            forced = {target} if target else set(self.pipeline.stages)
        ran = []
        beside: _Alongside | None = None
        order = self.plan(target)
        checked = False
        if self.alongside:
            order.sort(key=lambda n: not (self.pipeline.stages[n].alongside and not self.pipeline.stages[n].needs
                                          and n != target))
        try:
            for name in order:
                stage = self.pipeline.stages[name]
                units = only_units if stage.units is not None else None
                v = self.verdict(stage, force=name in forced, only_units=units)
                if not v.stale:
                    self.log(f"[{name}] fresh, skipped")
                    continue
                if not checked:  # bad input a later stage would meet, found before the first one runs
                    for planned in order:
                        if self.pipeline.stages[planned].check:
                            _imported(self.pipeline.stages[planned].check)(self.competition)
                    checked = True
                if stage.alongside and self.alongside and name != target and beside is None:
                    self.log(f"[{name}] running beside the other stages ({'; '.join(v.reasons)})")
                    self.competition.data()  # the data snapshot exists before two processes read it
                    beside = _Alongside.start(self, stage, v)
                    continue
                self.log(f"[{name}] running ({'; '.join(v.reasons)})")
                self._execute(stage, v)
                ran.append(name)
        except KeyboardInterrupt:
            if beside is not None:  # Ctrl-C ends it too
                beside.stop()
            raise
        except BaseException as exc:
            if beside is not None:
                if isinstance(exc, UserError) and not beside.results.poll():
                    beside.stop()  # bad input: exit 2 with nothing written, the unfinished report included
                else:  # after a failure in the main work (or with the report done) it is still kept
                    beside.finish(self, raise_error=False)
            raise
        if beside is not None:
            beside.finish(self)
            ran.append(beside.stage.name)
        self.store.save_memo(self.memo)
        self._save_code_memo()
        return ran

    def _execute(self, stage: Stage, v: Verdict) -> None:
        """Run `stage` in this process, record it, and log its time."""
        t0 = time.perf_counter()
        func = _stage_function(stage)
        ctx = StageContext(self.competition, stage, v.stale_units if stage.units else None, self.state,
                           self.started)
        if stage.units is not None:
            ctx._unit_done = lambda unit, paths: self._record_unit(stage, v, unit, paths)
        try:
            produced = func(ctx)
        finally:
            ctx.release_data()  # the next stage does not find this one's frames still in memory
        self._record(stage, v, produced)
        self.log(f"[{stage.name}] done in {time.perf_counter() - t0:.1f}s")

    def _record(self, stage: Stage, v: Verdict, produced) -> None:
        """Save a finished stage's state: its fingerprint, parts, output paths and their digests."""
        sections = stage.config(self.comp.cfg)
        parts = self._parts(stage, sections)
        root = self.comp.workspace
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


def _stage_function(stage: Stage) -> Callable:
    """The stage's run function, imported from its "module:function"."""
    return _imported(stage.run)


def _imported(path: str) -> Callable:
    """The function a "module:function" path names."""
    module_name, func_name = path.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def _yield_cpu() -> None:
    """Run this process only on CPU time nothing else wants (Linux SCHED_IDLE; else the lowest niceness).
    The report beside the cv stage's two workers on 2 cores, at normal priority, slowed the stage from
    29.5 s to 35.6 s (caravan), and still by 4 s at niceness 10: the run took as long as with the report
    in turn. Idle-only, it fills the gaps (the folds, features and ensemble use one core) and the run
    waits for what is left of it at the end."""
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        os.nice(19)


def _lift(pid: int) -> bool:
    """Every thread of process `pid` back to normal priority (SCHED_OTHER) from `_yield_cpu`'s idle-only:
    once the run has nothing left but to wait, an idle-only report beside two busy processes of the same
    session got almost no CPU (titanic's run, done but for its report in about 20 s, was stopped by hand after
    161 and 577 s; lifted, it ended in 25 s). Linux allows it with CAP_SYS_NICE (root, as in most containers)
    or an RLIMIT_NICE of 20; elsewhere False, and the report keeps the CPU time nothing else wants."""
    import os

    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        for tid in threads:  # a policy is per thread: numpy's and the plots' threads inherited idle-only
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, not allowed, or the process ended meanwhile
        return False
    return True


def _starved(pid: int, sample_seconds: float = 0.3) -> bool:
    """Whether process `pid` is ready to run but gets almost no CPU (under a tenth of a core over the
    sample): an idle-only report beside busy processes that `_lift` may not lift. One that sleeps (on a
    file, say) or that cannot be read is not starved: the run waits for it."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.cpu_percent(None)
        time.sleep(sample_seconds)
        return process.status() == psutil.STATUS_RUNNING and process.cpu_percent(None) < 10.0
    except psutil.Error:
        return False


@dataclass
class _Alongside:
    """A stage running in its own (spawned) process beside the run; its log lines are printed when it ends."""

    stage: Stage
    verdict: Verdict
    process: Any
    results: Any  # the parent's end of a one-way pipe: the child sends one (ok, payload, log lines, ended) tuple
    started: float  # time.time() at the start: the child's `ended` is on the same clock, shared by processes

    @classmethod
    def start(cls, runner: Runner, stage: Stage, v: Verdict) -> _Alongside:
        import multiprocessing

        mp = multiprocessing.get_context("spawn")  # no fork of a process that may already hold OpenMP threads
        receive, send = mp.Pipe(duplex=False)
        process = mp.Process(target=_run_alongside, args=(runner.comp, stage, runner.state, runner.started, send),
                             name=f"pipeline-{stage.name}", daemon=True)
        started = time.time()
        process.start()
        send.close()
        return cls(stage, v, process, receive, started)

    def stop(self) -> None:
        """End the process now (its stage writes atomically: nothing half-written stays)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()

    def finish(self, runner: Runner, *, raise_error: bool = True) -> None:
        """Wait for the stage, print its lines, record its state; its error is raised (or only logged).
        Still running, it is lifted to normal priority first (`_lift`): the run now only waits for it; where
        that is not allowed and it gets no CPU (`_starved`), it is stopped and run again in this process."""
        name = self.stage.name
        waiting = time.perf_counter()
        if not self.results.poll() and not _lift(self.process.pid) and _starved(self.process.pid):
            runner.log(f"[{name}] gets no CPU at idle priority beside this machine's other work, and may not be "
                       f"lifted: running it again in this process")
            self.stop()
            try:
                runner._execute(self.stage, self.verdict)
            except Exception as exc:  # noqa: BLE001 -- after a failure of the main work, only logged (as below)
                if raise_error:
                    raise
                runner.log(f"[{name}] failed: {exc}")
            return
        try:
            ok, payload, lines, ended = self.results.recv()
        except EOFError:
            ok, payload, lines, ended = False, RuntimeError(f"the {name} stage's process ended without a result "
                                                            f"(exit code {self.process.exitcode})"), [], time.time()
        waited = time.perf_counter() - waiting
        self.process.join()
        for line in lines:
            runner.log(line)
        if ok:
            runner._record(self.stage, self.verdict, [Path(p) for p in payload])
            runner.log(_beside_done(name, ended - self.started, waited))
        elif raise_error:
            raise payload
        else:
            runner.log(f"[{name}] failed: {payload}")


def _beside_done(name: str, seconds: float, waited: float) -> str:
    """The line that ends a stage run beside the others: its own time from start to result, and how long the
    run waited for it once its own work was done (until 2026-12-05 the line gave only the time until the run
    collected the result: digits' report read 48 s, the whole run)."""
    return (f"[{name}] done in {max(seconds, 0.0):.1f}s (beside the other stages; "
            f"the run waited {waited:.1f}s for it)")


def _run_alongside(comp: Competition, stage: Stage, state: dict, started: float, send) -> None:
    """The alongside process: run `stage` and send (True, output paths, log lines, when it ended) or (False,
    error, lines, when)."""
    import os
    import traceback

    from core.errors import UserError

    os.environ["PIPELINE_PROGRESS"] = "off"  # its lines reach the terminal through the run, in one piece
    _yield_cpu()
    lines: list[str] = []
    competition = CompetitionContext(comp, log=lines.append)
    try:
        produced = _stage_function(stage)(StageContext(competition, stage, None, state, started))
        send.send((True, [str(p) for p in (produced or [])], lines, time.time()))
    except Exception as exc:  # noqa: BLE001 -- every failure goes back to the run, which reports it (Ctrl-C: it just ends)
        if not isinstance(exc, UserError):
            exc = RuntimeError(f"{stage.name} stage: {type(exc).__name__}: {exc}")
            exc.add_note(traceback.format_exc())
        try:
            send.send((False, exc, lines, time.time()))
        except Exception:  # noqa: BLE001 -- an error that does not pickle still ends the run in one line
            send.send((False, RuntimeError(str(exc)), lines, time.time()))
    finally:
        send.close()
