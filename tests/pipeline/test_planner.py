"""The time-budget planner: cheapest first, skip what does not fit, always one model."""

from __future__ import annotations

from pipeline.planner import Budget, Cost, estimate, measured_seconds, order, plan, run_within

COSTS = {"mlp": Cost(40.0, "estimated"), "lgbm": Cost(3.0, "measured"), "linear": Cost(1.0, "estimated"),
         "extra_trees": Cost(25.0, "estimated"), "lgbm_slow": Cost(6.0, "measured")}


def test_members_run_cheapest_first_and_the_plan_fits_the_budget():
    assert order(COSTS) == ["linear", "lgbm", "lgbm_slow", "extra_trees", "mlp"]
    keep, skip = plan(COSTS, 40.0)  # 36 s after the reserve: 1 + 3 + 6 + 25 = 35 fits, mlp does not
    assert keep == ["linear", "lgbm", "lgbm_slow", "extra_trees"] and skip == ["mlp"]
    assert sum(COSTS[n].seconds for n in keep) <= 40.0
    assert plan(COSTS, None) == (order(COSTS), [])


def test_the_cheapest_member_runs_even_when_nothing_fits():
    keep, skip = plan(COSTS, 0.5)
    assert keep == ["linear"] and len(skip) == 4


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_run_within_revises_the_plan_with_the_time_actually_spent():
    clock = FakeClock()
    actual = {"linear": 1.0, "lgbm": 20.0, "lgbm_slow": 6.0, "extra_trees": 25.0, "mlp": 40.0}
    trained_order, lines = [], []

    def train(name: str) -> None:
        trained_order.append(name)
        clock.now += actual[name]  # lgbm takes far longer than estimated

    trained, skipped = run_within(COSTS, Budget(40.0, clock=clock), train, log=lines.append)
    # after linear (1 s) and lgbm (20 s), 15 s are left of 36: lgbm_slow (6) fits, extra_trees (25) does not
    assert trained == trained_order == ["linear", "lgbm", "lgbm_slow"]
    assert set(skipped) == {"extra_trees", "mlp"}
    assert "extra_trees: estimated 25 s, 9 s left of the 40 s budget" in lines[0]


def test_estimates_scale_with_cells_and_folds_and_prefer_measurements():
    small = estimate((0.05, 2.0, 0.0), rows=1_000, cols=10, folds=5)
    big = estimate((0.05, 2.0, 0.0), rows=100_000, cols=100, folds=5)
    assert small.source == "estimated" and big.seconds > 100 * small.seconds
    net = estimate((0.3, 0.0, 1.1), rows=4_000, cols=1_000, folds=5)  # nets scale with rows, not columns
    assert abs(net.seconds - 5 * (0.3 + 4.4)) < 1e-9
    assert estimate((0.05, 2.0, 0.0), rows=100_000, cols=100, folds=5, measured=7.5) == Cost(7.5, "measured")
    records = [{"model": "lgbm", "params_hash": "a", "seconds": 3.0, "finished_at": 1},
               {"model": "lgbm", "params_hash": "a", "seconds": 4.0, "finished_at": 2},
               {"model": "lgbm", "params_hash": "b", "seconds": 9.0, "finished_at": 3}]
    assert measured_seconds(records, model="lgbm", params_hash="a") == 4.0
    assert measured_seconds(records, model="mlp", params_hash="a") is None
    # one CV pass: a run of two repeats of 5 folds (10 recorded) took twice one pass of 5 folds
    repeated = [{"model": "mlp", "params_hash": "a", "seconds": 12.0, "n_folds": 10, "finished_at": 1}]
    assert measured_seconds(repeated, model="mlp", params_hash="a", folds=5) == 6.0
    assert measured_seconds(repeated, model="mlp", params_hash="a", folds=8) == 9.6
    assert measured_seconds(repeated, model="mlp", params_hash="a") == 12.0


def test_a_member_whose_folds_run_slower_than_its_estimate_stops_once_the_rest_cannot_fit():
    from pipeline.planner import overrun_reason

    budget = Budget(100.0, clock=FakeClock())  # 90 s to start members in, 100 s until it ends; the clock stands still
    assert overrun_reason([20.0], 5, 1, budget) is None  # 4 more of 20 s: 80 s fit
    assert overrun_reason([24.0], 5, 1, budget) is None  # 96 s: into the reserve, still within the budget
    assert overrun_reason([30.0], 5, 1, budget) == (
        "its folds take about 30 s each, so the other 4 would take about 120 s, 100 s left until the 100 s budget "
        "ends")
    assert overrun_reason([30.0, 30.0], 5, 2, budget) is None  # two at a time: 2 waves of 30 s
    assert "(2 at a time)" in overrun_reason([60.0, 60.0], 5, 2, budget)
    assert overrun_reason([500.0] * 5, 5, 1, budget) is None  # finished: nothing left to stop
    assert overrun_reason([500.0], 5, 1, Budget(None)) is None  # no budget


def test_a_cost_in_fold_seconds_becomes_the_wall_time_of_its_folds_on_the_workers():
    from pipeline.planner import on_workers

    cost = Cost(100.0, "estimated")  # five folds of 20 s, one after another
    assert on_workers(cost, 5, 1) == cost
    assert on_workers(cost, 5, 2) == Cost(60.0, "estimated")  # three waves of 20 s
    assert on_workers(cost, 5, 8) == Cost(20.0, "estimated")  # one wave
