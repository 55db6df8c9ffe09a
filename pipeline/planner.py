"""The time-budget planner: which models of a stage to train within `--time-budget` seconds.

Members run cheapest first, so the ensemble gets as many of them as the budget allows; a member
whose estimated cost does not fit what is left is skipped (the output says which and why), and where no
member has a run yet the cheapest always runs, so a run always ends with a valid submission. Estimates come from what
already ran (the run registry's seconds for the same model and parameters on this competition) or,
for a model never run here, from its type's cost per fold, per million cells (rows x feature
columns) and per thousand rows, measured on a 2-core machine (`ModelType.cost`, scaled by a model table's
params where they matter: `ModelType.cost_for`), counted as wall time on the stage's workers (`on_workers`).
After each member the plan is revised with the time actually spent, and a member whose folds run slower than
its estimate is stopped between folds once the rest would end past the budget (`overrun_reason`).
"""

from __future__ import annotations

import math

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

# Share of the budget kept for the stages after cv (ensemble, submission).
RESERVE = 0.1


def clock() -> float:
    """The time budget's clock (seconds): every decision and every measured member reads this one
    function, so a test replaces it with a clock that counts work instead of wall time."""
    return time.perf_counter()


@dataclass(frozen=True)
class Cost:
    """A member's estimated seconds, and where the figure comes from."""

    seconds: float
    source: str  # "measured" (a past run here) or "estimated" (its type's cost per cell)


@dataclass
class Budget:
    """Seconds left of a budget as work proceeds (None = no budget: everything runs)."""

    seconds: float | None
    clock: Callable[[], float] = field(default_factory=lambda: clock)  # this module's, looked up when made
    started: float | None = None  # when the budget's clock started (default: now)

    def __post_init__(self) -> None:
        if self.started is None:
            self.started = self.clock()

    def left(self) -> float:
        """Seconds still to spend on members (the reserve for later stages kept back)."""
        if self.seconds is None:
            return float("inf")
        return self.seconds * (1.0 - RESERVE) - (self.clock() - self.started)

    def to_end(self) -> float:
        """Seconds until the budget itself ends (the reserve not kept back)."""
        if self.seconds is None:
            return float("inf")
        return self.seconds - (self.clock() - self.started)


def estimate(type_cost: tuple[float, float, float], *, rows: int, cols: int, folds: int, outputs: int = 1,
             measured: float | None = None) -> Cost:
    """A member's cost: its measured seconds when it ran here before, else its type's (seconds per
    fold, per million cells per fold, per thousand rows per fold) applied to this table; `outputs`
    multiplies the cells for one-model-per-class learners."""
    if measured is not None:
        return Cost(float(measured), "measured")
    fixed, per_cell, per_row = type_cost
    cells = rows * max(cols, 1) * max(outputs, 1) / 1e6
    return Cost(folds * (fixed + per_cell * cells + per_row * rows / 1e3), "estimated")


def order(costs: dict[str, Cost]) -> list[str]:
    """Members cheapest first (ties keep the configured order)."""
    names = list(costs)
    return sorted(names, key=lambda n: (costs[n].seconds, names.index(n)))


def skip_reason(cost: Cost, budget: Budget, *, anything_trained: bool) -> str | None:
    """Why a member must be skipped now (its estimate exceeds what is left), or None to train it.
    The first member always trains, so there is always a model to submit."""
    left = budget.left()
    if not anything_trained or cost.seconds <= left:
        return None
    return f"{cost.source} {cost.seconds:.0f} s, {max(left, 0):.0f} s left of the {budget.seconds:.0f} s budget"


def on_workers(cost: Cost, folds: int, workers: int) -> Cost:
    """A cost in fold-seconds (each fold on one thread, one after another: what a type's estimate and a run's
    recorded seconds count) as the wall time of its `folds` folds run `workers` at a time: what a budget spends."""
    if workers <= 1 or folds <= 1:
        return cost
    return Cost(cost.seconds * math.ceil(folds / workers) / folds, cost.source)


def overrun_reason(fold_seconds: list[float], total: int, workers: int, budget: Budget) -> str | None:
    """Why a member that is training must stop after the folds that took `fold_seconds` (of its `total`,
    `workers` at a time): at that pace the rest would end past the budget (its estimate was too low: a large
    table's CatBoost); None to go on. The reserve kept back for the stages after cv is a margin for estimates,
    which a started member's pace is not: it may use it, as stopping would throw its folds away."""
    done = len(fold_seconds)
    if not budget.seconds or done >= total or done < 1:
        return None
    pace = sum(fold_seconds) / done
    rest = pace * math.ceil((total - done) / max(workers, 1))
    left = budget.to_end()
    if rest <= left:
        return None
    return (f"its folds take about {pace:.0f} s each, so the other {total - done} would take about {rest:.0f} s"
            + (f" ({workers} at a time)" if workers > 1 else "")
            + f", {max(left, 0):.0f} s left until the {budget.seconds:.0f} s budget ends")


def run_within(costs: dict[str, Cost], budget: Budget, train: Callable[[str], None], *,
               log: Callable[[str], None] = print) -> tuple[list[str], dict[str, str]]:
    """Train members cheapest first while their estimate fits what is left of the budget; returns
    (trained, skipped: name -> reason)."""
    trained: list[str] = []
    skipped: dict[str, str] = {}
    for name in order(costs):
        reason = skip_reason(costs[name], budget, anything_trained=bool(trained))
        if reason:
            skipped[name] = reason
            log(f"skipped {name}: {reason}")
            continue
        train(name)
        trained.append(name)
    return trained, skipped


def plan(costs: dict[str, Cost], seconds: float | None) -> tuple[list[str], list[str]]:
    """(to train, to skip) if every estimate were exact: cheapest first while the sum fits."""
    if seconds is None:
        return order(costs), []
    left = seconds * (1.0 - RESERVE)
    keep, skip = [], []
    for name in order(costs):
        if keep and costs[name].seconds > left:
            skip.append(name)
            continue
        keep.append(name)
        left -= costs[name].seconds
    return keep, skip


def measured_seconds(records: Iterable[dict], *, model: str, params_hash: str,
                     folds: int | None = None) -> float | None:
    """The newest recorded seconds of this model with these parameters, if any. With `folds`: the seconds of
    one CV pass of that many folds (the record's seconds per recorded fold, all its CV repeats counted, times
    `folds`), the unit of a type's estimate; a run of two repeats took twice one pass."""
    same = [r for r in records if r.get("model") == model and r.get("params_hash") == params_hash]
    if not same:
        return None
    newest = max(same, key=lambda r: r.get("finished_at") or 0)
    seconds = float(newest["seconds"])
    recorded = int(newest.get("n_folds") or 0)
    return seconds / recorded * folds if folds and recorded else seconds
