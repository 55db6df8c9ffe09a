"""The stage DAG: stages declared as data (`Stage`) and validated, ordered and walked (`Pipeline`).

Deciding what is stale and running it is the runner's (pipeline/runner.py); what a stage's run
function receives is pipeline/context.py's `StageContext`.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from core.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from pipeline.config import Competition


@dataclass(frozen=True)
class Stage:
    """One node of the pipeline: what it needs, what config it depends on, how to run it.

    Its code is not declared: the fingerprint covers the `run` module and every project module it
    imports (`core.fingerprint.code_inputs`), plus the competition's plug-in paths named in `plugins`."""

    name: str
    doc: str
    run: str  # "module:function", imported only when the stage runs
    needs: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # config sections ("cv") or single keys ("features.drop") in the fingerprint
    plugins: tuple[str, ...] = ()  # paths under the competition folder (plug-in code) in the fingerprint
    data: bool = False  # the raw data files are inputs
    imports: bool = False  # teammates' imported runs (competition/<name>/imports) are inputs
    units: Callable[[Competition], dict[str, Any]] | None = None  # unit name -> its config
    alongside: bool = False  # no stage needs it: the runner may run it in its own process beside the others
    # "module:function" taking the run's CompetitionContext: bad input this stage would meet only after the
    # stages before it (UserError), checked before the run's first stale stage starts
    check: str = ""

    def config(self, cfg: dict) -> dict:
        """The part of the config in this stage's fingerprint: each of its sections, or one key of one."""
        found = {}
        for name in self.sections:
            section, _, key = name.partition(".")
            found[name] = cfg.get(section) if not key else (cfg.get(section) or {}).get(key)
        return found


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
                if self.stages[need].alongside:
                    raise ValueError(f"stage {need!r} runs alongside, but {s.name!r} needs it")
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
