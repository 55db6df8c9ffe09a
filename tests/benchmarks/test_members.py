"""benchmarks/members.py's paired bootstrap: what counts as a change beyond the rows' noise."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.members import gain_interval
from core.metrics import get_metric


def _binary(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    signal = y + rng.normal(0, 1.0, n)
    return y, signal


def test_the_same_predictions_give_an_interval_of_zero():
    y, p = _binary()
    lo, hi = gain_interval(get_metric("roc_auc"), y, p, p.copy())
    assert lo == hi == 0.0


def test_a_much_better_model_is_better_on_every_draw_and_a_tiny_change_is_not():
    y, p = _binary()
    rng = np.random.default_rng(1)
    sharper = y + rng.normal(0, 0.4, len(y))  # far less noise: better on any resample of the rows
    lo, hi = gain_interval(get_metric("roc_auc"), y, p, sharper)
    assert 0 < lo <= hi
    lo, hi = gain_interval(get_metric("roc_auc"), y, p, p + rng.normal(0, 0.01, len(y)))
    assert lo < 0 < hi  # a reshuffle of near-ties: either sign, depending on the rows drawn


def test_a_worse_regression_is_worse_and_weights_are_used():
    rng = np.random.default_rng(2)
    y = rng.normal(0, 1, 500)
    good, bad = y + rng.normal(0, 0.3, 500), y + rng.normal(0, 0.6, 500)
    lo, hi = gain_interval(get_metric("rmse"), y, good, bad)
    assert lo <= hi < 0
    weight = np.ones(500)
    assert gain_interval(get_metric("rmse"), y, good, bad, weight=weight) == (lo, hi)


def test_each_set_saves_as_it_goes_reports_a_failure_and_resumes(tmp_path, capsys):
    from benchmarks.members import each_set

    for name in ("a", "b", "c"):
        (tmp_path / "ws" / name).mkdir(parents=True)
    save, seen = tmp_path / "out.json", []

    def one(ws):
        seen.append(ws.name)
        if ws.name == "b":
            raise ValueError("no ensemble state")
        return {"score": len(ws.name)}

    assert each_set(tmp_path / "ws", None, save, one) == {"a": {"score": 1}, "c": {"score": 1}}
    assert "b: failed: ValueError: no ensemble state" in capsys.readouterr().out
    seen.clear()
    assert set(each_set(tmp_path / "ws", "a,b", save, one)) == {"a", "c"}  # a is saved: only b runs again
    assert seen == ["b"]


def test_a_candidate_table_is_the_members_table_with_its_changes_for_the_sets_task_kind():
    from benchmarks.members import candidate_table

    tables = {"linear": {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 3.0},
                         "preprocess": "splines"}}
    varied = candidate_table({"like": "linear", "params": {"alpha": 10.0}, "trim_outliers": 4.0}, tables, "regression")
    assert varied == {**tables["linear"], "params": {"alpha": 10.0}, "trim_outliers": 4.0}
    assert tables["linear"]["params"] == {"alpha": 3.0}  # the set's own table is not touched
    per_kind = {"type": "sklearn", "preprocess": "splines", "by_kind": {
        "classification": {"estimator": "sklearn.linear_model.LogisticRegressionCV", "params": {"Cs": [0.1, 1.0]}},
        "regression": {"estimator": "sklearn.linear_model.RidgeCV", "params": {"alphas": [1.0, 3.0]},
                       "trim_outliers": 4.0}}}
    assert candidate_table(per_kind, tables, "classification") == {
        "type": "sklearn", "preprocess": "splines", "estimator": "sklearn.linear_model.LogisticRegressionCV",
        "params": {"Cs": [0.1, 1.0]}}
    assert candidate_table(per_kind, tables, "regression")["trim_outliers"] == 4.0
    forest = candidate_table({"estimators": {"classification": "sklearn.ensemble.RandomForestClassifier",
                                             "regression": "sklearn.ensemble.RandomForestRegressor"}}, tables, "regression")
    assert forest == {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestRegressor"}


@pytest.mark.slow  # a real titanic cv stage, then the pseudo stage and a reseeded control
def test_pseudo_scores_the_pseudo_stages_default_run_against_the_same_member_reseeded(tmp_path):
    """`--pseudo`: the pseudo stage's own run of its best member and that member trained again under the next
    seed without pseudo rows (its first CV repeat, as the pseudo run) join the zoo as two configurations; the
    saved workspace is not touched."""
    from benchmarks.members import one_set
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path, "titanic", all_models=True)
    comp = Workspace(ws).competition("titanic")
    Runner(build_pipeline(), comp, log=lambda m: None).run("ensemble")
    before = sorted(p.name for p in comp.runs.iterdir())
    lines: list[str] = []
    out = one_set(ws, {}, lines.append, pseudo=True)
    pseudo = next(m for m in out["members"] if m.endswith("-pseudo"))
    best = pseudo.removesuffix("-pseudo")
    assert out["configs"]["+pseudo"]["members"] == [*out["zoo"], pseudo]
    assert out["configs"]["+control"]["members"] == [*out["zoo"], "control"]
    assert not any(label.startswith("-") for label in out["configs"])  # no leave-outs without candidates
    assert len({out["members"][best], out["members"][pseudo], out["members"]["control"]}) == 3
    assert any(f"control ({best}, " in line for line in lines)
    assert sorted(p.name for p in comp.runs.iterdir()) == before and not (comp.runs / "pseudo").exists()


def test_a_candidate_that_changes_nothing_is_named(tmp_path):
    """A candidate whose change is already its `like` member's setting trains the same OOF predictions: the
    run says so and lists it, so a 0.00 % is not read as a measurement; a real change is not named."""
    from benchmarks.members import one_set
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path, "titanic")
    comp = Workspace(ws).competition("titanic")
    Runner(build_pipeline(), comp, log=lambda m: None).run("ensemble")
    candidates = {"lgbm_same": {"like": "lgbm", "params": {"learning_rate": 0.04}},  # the table's own rate
                  "lgbm_fast": {"like": "lgbm", "params": {"learning_rate": 0.2}}}
    lines: list[str] = []
    out = one_set(ws, candidates, lines.append)
    assert out["same_as_like"] == ["lgbm_same"]
    assert any(line.startswith("  lgbm_same:") and "the same OOF predictions as lgbm" in line for line in lines)
    assert not any(line.startswith("  lgbm_fast:") and "the same OOF" in line for line in lines)
    assert out["members"]["lgbm_fast"] != out["members"]["lgbm"]


def test_seeds_score_each_seeds_candidate_against_its_member_at_that_seed(tmp_path):
    """`--seeds`: the candidate and its `like` member are trained again at each seed, the zoo with the member at
    seed S is scored against the zoo (what the seed alone moves), and the zoo with the candidate at seed S against
    the zoo with the member at seed S; the summary's gain is against that baseline too."""
    from benchmarks.members import _error, one_set, summary
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path, "titanic")
    comp = Workspace(ws).competition("titanic")
    Runner(build_pipeline(), comp, log=lambda m: None).run("ensemble")
    lines: list[str] = []
    out = one_set(ws, {"lgbm_fast": {"like": "lgbm", "params": {"learning_rate": 0.2}}}, lines.append, seeds=[1])
    assert {"lgbm@1", "lgbm_fast@1"} <= set(out["members"])
    assert out["members"]["lgbm@1"] != out["members"]["lgbm"]  # the seed moves the member (bagging)
    assert out["members"]["lgbm_fast@1"] != out["members"]["lgbm_fast"]
    seeded, paired = out["configs"]["lgbm@1"], out["configs"]["lgbm=>lgbm_fast@1"]
    assert seeded["members"] == ["lgbm@1"] and "against" not in seeded  # against the zoo
    assert paired["members"] == ["lgbm_fast@1"] and paired["against"] == "lgbm@1"
    assert any("lgbm=>lgbm_fast@1" in line and line.endswith("against lgbm@1") for line in lines)
    row = next(line for line in summary({"titanic": out}) if line.startswith("lgbm=>lgbm_fast@1 "))
    e0, e1 = _error(seeded["oof"], True), _error(paired["oof"], True)
    assert f"{(e0 - e1) / e0:+.3%}" in row


def test_the_summary_gives_the_median_beside_the_mean():
    """One small set's swing moves the suite's mean; the median beside it says whether the sets moved."""
    from benchmarks.members import summary

    def one(zoo: float, other: float) -> dict:
        return {"greater_is_better": False, "configs": {
            "zoo": {"oof": zoo, "seconds": 10.0},
            "x": {"oof": other, "seconds": 10.0, "gain_interval": [-0.5, 0.5]}}}

    results = {"a": one(1.0, 0.5), "b": one(1.0, 1.0), "c": one(1.0, 1.0)}  # +50 %, 0, 0
    header, row = summary(results)
    assert "median" in header
    fields = row.split()
    assert (fields[0], fields[1], fields[2], fields[4]) == ("x", "3", "+16.667%", "+0.000%")  # mean, then median


def test_the_member_summary_scores_each_candidate_alone_against_the_member_it_replaces():
    """`LIKE=>NAME`: the candidate's own OOF against its member's; `LIKE=>NAME@S`: against the member at seed S
    (not the zoo's member); the seconds are the two members' own. Configurations that swap no single member
    (`+NAME`, `-NAME`) are not listed."""
    from benchmarks.members import member_summary

    def one(m: float, c: float, m1: float, c1: float) -> dict:
        return {"greater_is_better": False,
                "members": {"a": 1.0, "m": m, "c": c, "m@1": m1, "c@1": c1},
                "seconds": {"a": 5.0, "m": 10.0, "c": 20.0, "m@1": 10.0, "c@1": 30.0},
                "configs": {"zoo": {"members": ["a", "m"]}, "m=>c": {"members": ["a", "c"]},
                            "+c": {"members": ["a", "m", "c"]}, "-m": {"members": ["a"]},
                            "m@1": {"members": ["a", "m@1"]},
                            "m=>c@1": {"members": ["a", "c@1"], "against": "m@1"}}}

    # set x: c halves m's error, c@1 equals m@1; set y: c doubles it, c@1 halves m@1's (0.5 -> 0.25)
    header, *rows = member_summary({"x": one(1.0, 0.5, 0.5, 0.5), "y": one(1.0, 2.0, 0.5, 0.25)})
    assert header.startswith("member alone")
    by_label = {row.split()[0]: row.split() for row in rows}
    assert set(by_label) == {"m=>c", "m=>c@1"}
    assert by_label["m=>c"][1:6] == ["2", "-25.000%", "-25.000%", "1", "1"]  # +50 % and -100 %
    assert by_label["m=>c"][6:8] == ["40s", "2.00x"]
    assert by_label["m=>c@1"][1:6] == ["2", "+25.000%", "+25.000%", "0", "1"]  # 0 and +50 %, against m@1
    assert by_label["m=>c@1"][6:8] == ["60s", "3.00x"]
    assert member_summary({"x": {**one(1.0, 0.5, 0.5, 0.5), "configs": {"zoo": {"members": ["a", "m"]}}}}) == []
