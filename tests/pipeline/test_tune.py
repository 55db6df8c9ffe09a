"""Tuning: search-space validation, a shared study run by two processes, resume after an interrupt, --apply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import tomllib
from core.errors import UserError
from pipeline.run_registry import ENV_URL
from pipeline.tune import apply_params, parse_space

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FAST_MODEL = '''[models.lgbm]
type = "lightgbm"  # the model to tune
params = { n_estimators = 150, early_stopping_rounds = 20 }

[models.lgbm.search_space]
num_leaves = { low = 4, high = 64, log = true }
learning_rate = { low = 0.05, high = 0.3, log = true }
min_child_samples = { low = 5, high = 60, step = 5 }
feature_fraction = { low = 0.5, high = 1.0 }
'''


def _use_fast_model(ws: Path) -> Path:
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("[models.lgbm]")] + FAST_MODEL)
    return cfg


def _study(ws: Path):
    import optuna

    url = f"sqlite:///{ws / 'runs.db'}"
    (summary,) = optuna.get_all_study_summaries(url)
    return optuna.load_study(study_name=summary.study_name, storage=url)


def _states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def _tune_cmd(ws: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "pipeline", "tune", "--root", str(ws), "--model", "lgbm", "--trials", str(trials)]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != ENV_URL}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("space,message", [
    ({"a": {"low": 1}}, r"models\.m\.search_space\.a = .*: a range needs both low and high"),
    ({"a": {"low": 2, "high": 1}}, r"low \(2\) must be below high \(1\)"),
    ({"a": {"low": 0, "high": 1, "log": True}}, r"log = true needs low > 0"),
    ({"a": {"low": 1, "hgh": 2}}, r"unknown key 'hgh' \(did you mean 'high'\?\)"),
    ({"a": []}, r"has no choices"),
    ({"a": 3}, r"expected a range \{ low = \.\., high = \.\. \} or a list of choices"),
    ({"a": {"low": "x", "high": 2}}, r"low, high and step must be numbers"),
])
def test_bad_search_space_is_a_user_error(space, message):
    with pytest.raises(UserError, match=message):
        parse_space(space, where="models.m.search_space")


def test_search_space_types():
    import optuna.distributions as od

    dists = parse_space({"i": {"low": 1, "high": 9, "step": 2}, "f": {"low": 1, "high": 9.0, "log": True},
                         "c": ["gbdt", "dart"]}, where="s")
    assert dists["i"] == od.IntDistribution(1, 9, step=2)
    assert dists["f"] == od.FloatDistribution(1.0, 9.0, log=True)
    assert dists["c"] == od.CategoricalDistribution(["gbdt", "dart"])


def test_apply_params_keeps_comments_and_handles_each_layout(tmp_path, titanic_ws):
    cfg = _use_fast_model(titanic_ws)
    merged = apply_params(cfg, "lgbm", {"num_leaves": 9, "learning_rate": 0.0712, "boosting": "dart"})
    text = cfg.read_text()
    assert '# the model to tune' in text and "# Competition definition" in text
    parsed = tomllib.loads(text)["models"]["lgbm"]
    assert parsed["params"] == merged == {"n_estimators": 150, "early_stopping_rounds": 20, "num_leaves": 9,
                                          "learning_rate": 0.0712, "boosting": "dart"}
    assert parsed["search_space"]["num_leaves"] == {"low": 4, "high": 64, "log": True}
    # a [models.NAME.params] table, and a model table without params
    text = cfg.read_text()
    text = text[: text.index("[models.lgbm]")] + ('[models.lgbm]\ntype = "lightgbm"\n\n[models.lgbm.params]\n'
                                                   'num_leaves = 4  # small\n\n[models.lr]\ntype = "sklearn"\n'
                                                   'estimator = "sklearn.linear_model.LogisticRegression"\n')
    cfg.write_text(text)
    apply_params(cfg, "lgbm", {"num_leaves": 12, "lambda_l2": 1e-05})
    apply_params(cfg, "lr", {"C": 2.0})
    models = tomllib.loads(cfg.read_text())["models"]
    assert models["lgbm"]["params"] == {"num_leaves": 12, "lambda_l2": 1e-05}
    assert models["lr"] == {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                            "params": {"C": 2.0}}
    with pytest.raises(UserError, match=r"no \[models\.xgb\] table"):
        apply_params(cfg, "xgb", {"a": 1})


def test_a_tuned_parameter_replaces_the_models_own_value_under_another_name(titanic_ws, capsys, monkeypatch):
    """The shipped `lgbm` sets min_data_in_leaf; the default space tunes min_child_samples, its LightGBM alias.
    Given both, LightGBM keeps min_data_in_leaf and ignores the trial's value: trials of different values
    would score the same, and --apply would write a value that never runs. The model's own name gives way."""
    monkeypatch.delenv(ENV_URL, raising=False)
    cfg = titanic_ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    assert "min_data_in_leaf = 20" in text.split("[models.lgbm]")[1].split("[models.")[0]
    text = text.replace("early_stopping_rounds = 300}", "early_stopping_rounds = 30, n_estimators = 200}", 1)
    cfg.write_text(text + "\n[models.lgbm.search_space]\nmin_child_samples = [2, 150]\n")
    assert main(["tune", "--root", str(titanic_ws), "--model", "lgbm", "--trials", "2", "--seed", "0"]) == 0
    scores = {t.params["min_child_samples"]: t.value for t in _study(titanic_ws).trials}
    assert set(scores) == {2, 150} and scores[2] != pytest.approx(scores[150], abs=1e-4)
    merged = apply_params(cfg, "lgbm", {"min_child_samples": 150})
    params = tomllib.loads(cfg.read_text())["models"]["lgbm"]["params"]
    assert params == merged and params["min_child_samples"] == 150 and "min_data_in_leaf" not in params
    assert params["num_leaves"] == 31  # the rest as written


def test_the_default_space_is_narrowed_around_the_models_own_params(tmp_path, capsys, monkeypatch):
    """`tune lgbm_shallow` without a search_space refines the seven-leaf, slow member instead of roaming LightGBM's
    whole space (8-256 leaves, lr up to 0.3) and turning it into another `lgbm`; the run says which ranges."""
    monkeypatch.delenv(ENV_URL, raising=False)
    from pipeline.tune import model_space
    from pipeline.workspace import Workspace
    from tests.conftest import make_workspace

    titanic_ws = make_workspace(tmp_path, all_models=True)
    comp = Workspace(titanic_ws).competition("titanic")
    space = model_space(comp, "lgbm_shallow")  # num_leaves 7, learning_rate 0.02, feature_fraction 0.7, min 20
    assert space["num_leaves"] == {"low": 4, "high": 28, "log": True}  # a quarter to 4x, inside the type's 4-256
    assert space["learning_rate"] == {"low": 0.01, "high": 0.08, "log": True}
    assert space["feature_fraction"] == {"low": 0.525, "high": 0.875}  # a quarter of 0.3-1.0 either side
    assert space["lambda_l2"] == {"low": 1e-3, "high": 30.0, "log": True}  # not set: the type's whole range
    assert model_space(comp, "lgbm")["min_child_samples"] == {"low": 5, "high": 80, "log": True}  # min_data_in_leaf
    assert main(["tune", "lgbm_shallow", "--root", str(titanic_ws), "--trials", "2", "--seed", "0"]) == 0
    said = capsys.readouterr()
    assert ("[tune] lgbm_shallow: lightgbm's default space around the table's own params: num_leaves 4-28 (its 7), "
            "learning_rate 0.01-0.08 (its 0.02)") in said.err + said.out
    for trial in _study(titanic_ws).trials:
        assert 4 <= trial.params["num_leaves"] <= 28 and 0.01 <= trial.params["learning_rate"] <= 0.08


def test_a_range_around_a_value_stays_inside_the_types_bounds_and_holds_the_value():
    from pipeline.tune import _around

    log_int = {"low": 4, "high": 256, "log": True}
    assert _around(log_int, 300) == {"low": 75, "high": 300, "log": True}  # beyond the type's high: still inside
    assert _around(log_int, 4) == {"low": 4, "high": 16, "log": True}
    assert _around({"low": 1e-3, "high": 30.0, "log": True}, 0.0) == {"low": 1e-3, "high": 30.0, "log": True}
    assert _around({"low": 4, "high": 9}, 6) == {"low": 4, "high": 8}  # ints stay ints: 4.75-7.25 widened
    assert _around(["gbdt", "dart"], 1) == ["gbdt", "dart"] and _around(log_int, None) == log_int


def test_merged_params_drop_every_other_name_of_a_new_parameter():
    from models import MODEL_TYPES

    lgbm, cat, xgb = (MODEL_TYPES[t] for t in ("lightgbm", "catboost", "xgboost"))
    assert lgbm.merged_params({"min_data_in_leaf": 20, "lambda": 1.0, "num_leaves": 7},
                              {"min_child_samples": 3, "lambda_l2": 0.1}) == {
        "num_leaves": 7, "min_child_samples": 3, "lambda_l2": 0.1}
    assert cat.merged_params({"eta": 0.1, "depth": 6}, {"learning_rate": 0.03}) == {"depth": 6, "learning_rate": 0.03}
    assert xgb.merged_params({"lambda": 2.0, "eta": 0.1}, {"reg_lambda": 1.0}) == {"eta": 0.1, "reg_lambda": 1.0}
    assert MODEL_TYPES["sklearn"].merged_params({"C": 1.0, "alpha": 2}, {"C": 3.0}) == {"C": 3.0, "alpha": 2}


def test_apply_params_keeps_comments_inside_the_params_table_and_around_the_model(titanic_ws):
    cfg = _use_fast_model(titanic_ws)
    text = cfg.read_text()
    text = text[: text.index("[models.lgbm]")] + (
        '[models.lgbm]\ntype = "lightgbm"\n\n'
        '[models.lgbm.params]\n# hand-picked, see the notebook\nnum_leaves = 4  # small\nmax_bin = 0x3f  # as written\n\n'
        '[models.lr]\ntype = "sklearn"  # a baseline\nestimator = "sklearn.linear_model.LogisticRegression"\n\n'
        '# the slow one\n[models.lr_slow]\ntype = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\n'
        'params = { C = 0.5, max_iter = 0x64 }  # tuned once\n')
    cfg.write_text(text)
    assert apply_params(cfg, "lgbm", {"num_leaves": 12, "lambda_l2": 0.5}) == \
        {"num_leaves": 12, "max_bin": 63, "lambda_l2": 0.5}
    apply_params(cfg, "lr", {"C": 2.0})
    apply_params(cfg, "lr_slow", {"C": 0.25, "solver": "saga"})
    new = cfg.read_text()
    assert ('[models.lgbm.params]\n# hand-picked, see the notebook\nnum_leaves = 12  # small\n'
            'max_bin = 0x3f  # as written\nlambda_l2 = 0.5\n\n[models.lr]\n') in new
    # a model without params gets them after its last key, not under the comment that opens the next table
    assert ('type = "sklearn"  # a baseline\nestimator = "sklearn.linear_model.LogisticRegression"\n'
            'params = { C = 2.0 }\n\n# the slow one\n[models.lr_slow]\n') in new
    assert 'params = { C = 0.25, max_iter = 0x64, solver = "saga" }  # tuned once\n' in new
    assert new.startswith(text[: text.index("[models.lgbm]")])  # everything above the models untouched
    models = tomllib.loads(new)["models"]
    assert models["lr_slow"]["params"] == {"C": 0.25, "max_iter": 100, "solver": "saga"}


def test_two_processes_share_one_study_of_20_trials_then_it_resumes_after_an_interrupt(titanic_ws):
    _use_fast_model(titanic_ws)
    assert main(["run", "--root", str(titanic_ws), "--stage", "features"]) == 0  # both workers find it fresh
    procs = [subprocess.Popen(_tune_cmd(titanic_ws, 20), env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trained = [int(err.split(" trained by this command")[0].rsplit("(", 1)[1]) for _, err in outs]
    assert sum(trained) == 20, trained  # every trial trained once, by one of the two (which one is the scheduler's)
    assert not any("Traceback" in err for _, err in outs), outs  # skipped trials are no errors
    study = _study(titanic_ws)
    # each reports the study's best, never the best of what had finished when it stopped
    best = [float(out.split("best roc_auc ", 1)[1].split(":", 1)[0]) for out, _ in outs]
    assert best == [pytest.approx(study.best_value, abs=5e-6)] * 2, (best, study.best_value)
    states = _states(study)
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 20 and "RUNNING" not in states, states
    params = [tuple(sorted(t.params.items())) for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(set(params)) == len(params)  # no duplicate trials
    assert any(t.state.name == "PRUNED" and len(t.intermediate_values) < 5 for t in study.trials) or \
        states.get("PRUNED", 0) == 0
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert all(len(t.intermediate_values) == 5 for t in complete)  # full 5-fold CV per finished trial

    # interrupt a longer run after a few more trials, then resume it
    proc = subprocess.Popen(_tune_cmd(titanic_ws, 60), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:  # waits on the study's progress, not on a wall-clock deadline
        time.sleep(0.5)
        s = _states(_study(titanic_ws))
        if s.get("COMPLETE", 0) + s.get("PRUNED", 0) >= 23:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command to resume" in err, err[-3000:]
    before = _states(_study(titanic_ws))
    finished = before.get("COMPLETE", 0) + before.get("PRUNED", 0)
    assert 23 <= finished < 60 and "RUNNING" not in before
    done = subprocess.run(_tune_cmd(titanic_ws, finished + 3), env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{finished} finished trial(s), target {finished + 3}" in done.stderr
    after = _states(_study(titanic_ws))
    assert after.get("COMPLETE", 0) + after.get("PRUNED", 0) == finished + 3


def test_apply_writes_the_best_parameters_and_the_next_run_reproduces_the_score(titanic_ws, capsys, monkeypatch):
    monkeypatch.delenv(ENV_URL, raising=False)
    cfg = _use_fast_model(titanic_ws)
    assert main(["tune", "--root", str(titanic_ws), "--model", "lgbm", "--trials", "3", "--apply", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    best = float(out.split("best roc_auc ")[1].split(":")[0])
    params = tomllib.loads(cfg.read_text())["models"]["lgbm"]["params"]
    assert set(params) == {"n_estimators", "early_stopping_rounds", "num_leaves", "learning_rate",
                           "min_child_samples", "feature_fraction"}
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv"]) == 0
    import json

    scores = json.loads((titanic_ws / "competition" / "titanic" / "runs" / "models" / "lgbm" / "scores.json").read_text())
    assert scores["overall"] == pytest.approx(best, abs=1e-5)


def test_apply_keeps_the_current_params_when_they_score_better_than_every_trial(titanic_ws, capsys, monkeypatch):
    # learning rates near 1 overfit titanic at once: every trial scores below the model as configured
    monkeypatch.delenv(ENV_URL, raising=False)
    cfg = _use_fast_model(titanic_ws)
    text = cfg.read_text()
    cfg.write_text(text[: text.index("[models.lgbm.search_space]")]
                   + "[models.lgbm.search_space]\nlearning_rate = { low = 0.95, high = 1.0 }\n")
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv"]) == 0
    before = cfg.read_text()
    capsys.readouterr()
    assert main(["tune", "--root", str(titanic_ws), "lgbm", "--trials", "2", "--apply", "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    best = float(out.split("best roc_auc ")[1].split(":")[0])
    current = float(err.split("the current params of lgbm score ")[1].split(" ")[0])
    assert best < current
    assert "the best trial is no better; keep them" in err
    assert "not written: the current params of [models.lgbm] score better than the best trial" in out
    assert cfg.read_text() == before
    # a config edit makes the cv run stale: no score to compare with, so --apply writes
    cfg.write_text(before.replace("n_estimators = 150", "n_estimators = 140"))
    assert main(["tune", "--root", str(titanic_ws), "lgbm", "--trials", "2", "--apply", "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    assert "the current params" not in err and "wrote [models.lgbm] params" in out


def test_the_current_params_are_scored_on_the_trials_cv_repeat_not_on_the_average_of_two(titanic_ws, capsys,
                                                                                       monkeypatch):
    # two CV repeats: the cv run's own score averages two OOF predictions per row and scores better than any
    # one-repeat trial could; a trial of the very same params must score what the current params are said to
    monkeypatch.delenv(ENV_URL, raising=False)
    cfg = _use_fast_model(titanic_ws)
    text = cfg.read_text().replace("repeats = 1", "repeats = 2")
    cfg.write_text(text[: text.index("[models.lgbm.search_space]")]
                   + "[models.lgbm.search_space]\nn_estimators = [150]\n")  # the params as they are
    assert main(["run", "--root", str(titanic_ws), "--stage", "cv"]) == 0
    import json

    averaged = json.loads((titanic_ws / "competition" / "titanic" / "runs" / "models" / "lgbm" /
                           "scores.json").read_text())["overall"]
    capsys.readouterr()
    assert main(["tune", "--root", str(titanic_ws), "lgbm", "--trials", "1"]) == 0
    out, err = capsys.readouterr()
    trial = float(out.split("best roc_auc ")[1].split(":")[0])
    current = float(err.split("the current params of lgbm score ")[1].split(" ")[0])
    assert current == pytest.approx(trial, abs=1e-5) and abs(averaged - trial) > 1e-4


@pytest.mark.parametrize("args,edit,message", [
    (["--model", "lgbmx"], None, r"tune: 'lgbmx' is not an enabled model .*\(did you mean 'lgbm'\?\)"),
    (["--model", "lr"], '\n[models.lr]\ntype = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\n',
     r"models\.lr has no search space; add \[models\.lr\.search_space\]"),
    (["--model", "lgbm"], '\n[models.lgbm.search_space]\nnum_leafs = { low = 4, high = 8 }\n',
     r"models\.lgbm\.search_space .*LightGBM has no parameter 'num_leafs' \(did you mean 'num_leaves'\?\)"),
    (["--model", "lgbm", "--trials", "0"], None, r"--trials must be at least 1, got 0"),
    # the hint's range is for a parameter the model has, written as its type reads it
    (["lr"], '\n[models.lr]\ntype = "sklearn"\nestimator = "sklearn.linear_model.Ridge"\nparams = { alpha = 3.0 }\n',
     r"with ranges like alpha = \{ low = 0\.3, high = 30\.0, log = true \}$"),
    (["lgbmx"], None, r"tune: 'lgbmx' is not an enabled model .*\(did you mean 'lgbm'\?\)"),
    ([], None, r"tune: name the model to tune, e\.g\. `python -m pipeline tune lgbm --trials 20` \(models: lgbm"),
    (["lgbm", "--model", "lr"], None, r"tune: two models named, 'lgbm' and --model 'lr'; tune one at a time"),
])
def test_bad_tune_arguments_exit_2(titanic_ws, capsys, args, edit, message):
    import re

    if edit:
        cfg = titanic_ws / "competition" / "titanic" / "competition.toml"
        cfg.write_text(cfg.read_text() + edit)
    argv = ["tune", "--root", str(titanic_ws), *args]
    if "--trials" not in argv:
        argv += ["--trials", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(message, err[-1]), err[-1]


def test_a_trial_that_stopped_for_another_process_running_trial_goes_on_when_that_one_fails(titanic_ws,
                                                                                           monkeypatch):
    """The race two processes on one study can meet: this process stops because another's running trial
    would fill the study, then that trial fails; the study must still reach its target, trained here."""
    import optuna

    from pipeline import tune as tuning
    from pipeline.execution import SEQUENTIAL
    from pipeline.workspace import Workspace

    _use_fast_model(titanic_ws)
    monkeypatch.delenv(ENV_URL, raising=False)
    assert main(["run", "--root", str(titanic_ws), "--stage", "features"]) == 0
    comp = Workspace(titanic_ws).competition(None)
    first = tuning.tune(comp, "lgbm", trials=1, seed=1, backend=SEQUENTIAL, log=lambda _m: None)
    assert first.n_complete + first.n_pruned == 1
    other_process = _study(titanic_ws)
    theirs = other_process.ask()  # running, in "another process", ahead of this one's next trial
    real_wait = tuning._wait_for_others
    failed_theirs = []

    def wait(study, state, log, **kwargs):
        if not failed_theirs:
            other_process.tell(theirs.number, state=optuna.trial.TrialState.FAIL)
            failed_theirs.append(theirs.number)
        real_wait(study, state, log, **kwargs)

    monkeypatch.setattr(tuning, "_wait_for_others", wait)
    result = tuning.tune(comp, "lgbm", trials=2, seed=2, backend=SEQUENTIAL, log=lambda _m: None)
    assert failed_theirs == [theirs.number]  # this process did stop for it first
    assert result.n_complete + result.n_pruned == 2 and result.ran == 1, result
    states = _states(_study(titanic_ws))
    assert states.get("COMPLETE", 0) + states.get("PRUNED", 0) == 2 and "RUNNING" not in states, states
