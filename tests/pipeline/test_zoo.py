"""The default model zoo by task kind and data shape, written by init, used by run, kept in a time budget."""

from __future__ import annotations

import pandas as pd
import pytest

from core.tasks import TASKS
from pipeline.cli import main
from pipeline.config import parse_config
from pipeline.zoo import Facts, default_models, default_repeats, facts_of
from tests.conftest import DATA, make_workspace


def test_the_zoo_for_each_task_kind():
    for task in TASKS:
        zoo = default_models(task, Facts(rows=1_000, cols=20))
        assert list(zoo) == ["lgbm_slow", "lgbm_shallow", "lgbm_extra", "catboost", "linear", "mlp"]
        assert {zoo[n]["type"] for n in zoo} == {"lightgbm", "catboost", "sklearn", "mlp"}
        wide = default_models(task, Facts(rows=1_000, cols=40))  # 25 rows a column: no CatBoost, the TD LightGBM
        assert list(wide) == ["lgbm", "lgbm_slow", "lgbm_shallow", "lgbm_extra", "linear", "mlp"]
    assert default_models("binary", Facts(1_000, 20))["linear"]["estimator"].endswith("LogisticRegression")
    ridge = default_models("regression", Facts(1_000, 20))["linear"]
    assert ridge["estimator"].endswith("Ridge") and ridge["trim_outliers"] == 4.0
    # TD defaults differ by task (learning rate, bagging); the leaf shape is LightGBM's own for both
    regression, binary = (default_models(task, Facts(1_000, 40))["lgbm"]["params"] for task in ("regression", "binary"))
    assert (regression["learning_rate"], binary["learning_rate"]) == (0.05, 0.04)
    assert regression["num_leaves"] == binary["num_leaves"] == 31
    assert regression["min_data_in_leaf"] == binary["min_data_in_leaf"] == 20


def test_every_task_kinds_zoo_passes_the_config_checks(tmp_path):
    """The zoo init writes, and a config without [models] trains, is a valid config for every task kind;
    a multi-target regression leaves out the ridge's trimmed outliers (chosen on single-target sets)."""
    for task in TASKS:
        target = ["a", "b"] if TASKS[task].multi_target else "a"
        for facts in (Facts(rows=1_000, cols=20), Facts(rows=1_000, cols=40), Facts(rows=0, cols=0)):
            zoo = default_models(task, facts)
            competition = {"task": task, "target": target, "id": "id", "metric": TASKS[task].default_metric}
            cfg = parse_config({"competition": competition, "models": zoo}, tmp_path / "competition.toml")
            assert list(cfg["models"]) == list(zoo)
        trim = default_models(task, Facts(1_000, 20))["linear"].get("trim_outliers", 0.0)
        assert trim == (4.0 if task == "regression" else 0.0)


def test_catboost_joins_where_rows_per_column_and_classes_keep_it_cheap_and_takes_the_td_lightgbms_place():
    # AutoGluon's shape: depth 6, lr 0.08, up to 1,000 rounds with 100 rounds' patience
    params = default_models("binary", Facts(2_000, 13))["catboost"]["params"]
    assert (params["depth"], params["learning_rate"], params["iterations"], params["early_stopping_rounds"]) == (6, 0.08, 1000, 100)
    # 40 rows a column at least: a short, wide table (breast_cancer 455 x 30, cells 1,615 x 56) keeps the TD LightGBM
    assert "catboost" in default_models("binary", Facts(1_200, 30)) and "lgbm" not in default_models("binary", Facts(1_200, 30))
    assert "catboost" not in default_models("binary", Facts(1_199, 30)) and "lgbm" in default_models("binary", Facts(1_199, 30))
    # where the slow LightGBM variants do not run, CatBoost joins beside the TD LightGBM: a large table, few classes
    assert list(default_models("regression", Facts(47_030, 12))) == ["lgbm", "lgbm_extra", "catboost", "linear", "mlp"]
    assert list(default_models("multiclass", Facts(3_464, 7, classes=4))) == ["lgbm", "catboost", "linear", "mlp"]
    # one tree per class per round: not on many rows x classes, nor on a pixel grid
    assert "catboost" not in default_models("multiclass", Facts(6_000, 7, classes=4))  # 24,000 trees' rows a round
    assert "catboost" not in default_models("multiclass", Facts(1_437, 64, image=True, classes=10))


def test_catboost_ignores_exactly_the_pairs_blocks_columns():
    from fnmatch import fnmatchcase

    from features import BUILTIN_BLOCKS

    patterns = default_models("regression", Facts(2_000, 8))["catboost"]["params"]["ignored_features"]
    frame = pd.DataFrame({"water": [1.0, 2.0], "cement": [3.0, 4.0], "cement_per_m3": [5.0, 6.0]})
    made = BUILTIN_BLOCKS["pairs"](list(frame.columns), products=True, ratios=True).transform({}, frame).frame
    assert all(any(fnmatchcase(c, p) for p in patterns) for c in made.columns)
    assert not any(fnmatchcase(c, p) for c in frame.columns for p in patterns)


def test_array_inputs_add_their_nets_and_large_tables_drop_the_mlp():
    image = default_models("multiclass", Facts(1_500, 64, image=True))
    assert list(image) == ["linear", "mlp", "cnn"]  # trees on raw pixels got no weight beside the CNN
    assert "rnn" not in default_models("binary", Facts(4_000, 5, text=True))  # OOF +0.001 for 5x the time
    assert "cnn" not in default_models("binary", Facts(1_000, 20)) and "rnn" not in default_models("binary", Facts(1_000, 20))
    assert "mlp" not in default_models("binary", Facts(1_000_000, 100))


def test_large_tables_get_cheaper_settings_and_small_ones_keep_theirs():
    small, large = default_models("binary", Facts(3_000, 100)), default_models("binary", Facts(50_000, 25))  # 30 rows a column: the TD LightGBM
    assert small["lgbm"]["params"]["early_stopping_rounds"] == 300 and "epochs" not in small["mlp"].get("params", {})
    assert small["lgbm_slow"]["params"]["learning_rate"] == 0.02 and small["lgbm_extra"]["params"]["learning_rate"] == 0.03
    # the noisy-target member: fewer, larger leaves than the slow one, and room for the rounds a small tree needs
    shallow, slow = small["lgbm_shallow"]["params"], small["lgbm_slow"]["params"]
    assert shallow["num_leaves"] < slow["num_leaves"] and shallow["min_child_samples"] > slow["min_child_samples"]
    assert shallow["n_estimators"] == 3000 and shallow["learning_rate"] == slow["learning_rate"]
    assert list(large) == ["lgbm", "lgbm_extra", "catboost", "linear", "mlp"]  # one diversity LightGBM, not two
    assert large["lgbm"]["params"]["early_stopping_rounds"] == 100
    assert large["lgbm_extra"]["params"]["learning_rate"] == 0.06
    assert large["lgbm_extra"]["params"]["num_leaves"] == 63  # the rest of the member stays as it is
    assert large["mlp"] == {"type": "mlp", "repeats": 1, "params": {"select_cycles": True, "front_scale": 2.0,
                                                                     "epochs": 10}}
    # the MLP's epochs fall with the rows (about 500,000 training-row passes), between 10 and the default 50
    epochs = [default_models("regression", Facts(rows, 20))["mlp"].get("params", {}).get("epochs", 50)
              for rows in (1_000, 10_000, 20_000, 40_000, 100_000)]
    assert epochs == [50, 50, 25, 12, 10]
    # the zoo's tables are fresh copies: changing one never changes the next call's
    large["lgbm"]["params"]["learning_rate"] = 1.0
    assert default_models("binary", Facts(50_000, 25))["lgbm"]["params"]["learning_rate"] == 0.04


def test_many_classes_keep_one_lightgbm_and_few_keep_the_variants():
    # one tree per class per round: 1,525 rows x 32 classes (leaf) cost each variant 32 binary fits
    many = default_models("multiclass", Facts(1_525, 58, classes=32))
    assert list(many) == ["lgbm", "linear", "mlp"]
    assert many["lgbm"]["params"]["early_stopping_rounds"] == 300  # the member itself is unchanged
    # hpc: 3,464 rows x 4 classes = 13,856 trees' rows a round, above the large-table line: one LightGBM too
    assert [m for m in default_models("multiclass", Facts(3_464, 7, classes=4)) if m.startswith("lgbm")] == ["lgbm"]
    few = default_models("multiclass", Facts(2_000, 7, classes=4))  # 8,000: as a small single-output table
    assert list(few) == ["lgbm_slow", "lgbm_shallow", "lgbm_extra", "catboost", "linear", "mlp"]
    assert Facts(1_525, 58, classes=32).round_rows == 48_800


def _competition(comp, frame: pd.DataFrame, n: int, *, sample, config: str):
    """A competition folder from one frame (id, features, target y): its first n rows train, the rest test."""
    comp.mkdir(parents=True)
    frame.iloc[:n].to_csv(comp / "train.csv", index=False)
    frame.iloc[n:].drop(columns="y").to_csv(comp / "test.csv", index=False)
    frame.iloc[n:][["id"]].assign(y=sample).to_csv(comp / "sample_submission.csv", index=False)
    (comp / "competition.toml").write_text(f'[competition]\ntarget = "y"\nid = "id"\n{config}\n')
    return comp


def test_a_config_without_models_counts_the_classes_as_init_does(tmp_path):
    import numpy as np

    from pipeline.config import load_competition

    rng = np.random.default_rng(0)
    n = 1_500
    frame = pd.DataFrame({"id": np.arange(n + 100), "a": rng.normal(size=n + 100).round(3),
                          "y": np.arange(n + 100) % 20})
    comp = _competition(tmp_path / "ws" / "competition" / "many", frame, n, sample=0,
                        config='task = "multiclass"\nmetric = "log_loss"\nsubmission = "label"')
    train, test = pd.read_csv(comp / "train.csv"), pd.read_csv(comp / "test.csv")
    facts = facts_of(train, test, id_col="id", target="y", task="multiclass")
    assert facts.classes == 20 and facts.round_rows == 30_000
    assert list(load_competition(comp).cfg["models"]) == list(default_models("multiclass", facts)) \
        == ["lgbm", "linear", "mlp"]


def test_facts_come_from_the_data():
    def facts(name):
        about = pd.read_json(DATA / name / "about.json", typ="series")
        train, test = (pd.read_csv(DATA / name / f) for f in ("train.csv", "test.csv"))
        return facts_of(train, test, id_col=about["id"], target=about["target"])

    assert facts("digits").image and not facts("digits").text
    assert facts("fine_foods").text and not facts("fine_foods").image
    assert facts("titanic") == Facts(rows=1047, cols=facts("titanic").cols) and not facts("titanic").text


def test_init_writes_the_zoo_and_a_config_without_models_uses_it(tmp_path, capsys):
    ws = tmp_path / "ws"
    (ws / "competition").mkdir(parents=True)
    assert main(["init", "titanic", "--root", str(ws), *[f"--{f.replace('_', '-')}={DATA / 'titanic' / (f + '.csv')}"
                                                          for f in ("train", "test", "sample_submission")]]) == 0
    text = (ws / "competition" / "titanic" / "competition.toml").read_text()
    for name in ("lgbm_slow", "lgbm_shallow", "lgbm_extra", "catboost", "linear", "mlp"):  # 209 rows a column
        assert f"[models.{name}]" in text
    assert "[models.lgbm]" not in text
    import tomllib

    raw = tomllib.loads(text)
    del raw["models"]
    cfg = parse_config(raw, ws / "competition.toml")  # no table read: no rows known, so no CatBoost
    assert list(cfg["models"]) == ["lgbm", "lgbm_slow", "lgbm_shallow", "lgbm_extra", "linear", "mlp"]


def test_a_config_without_models_gets_the_zoo_init_would_write_for_its_size(tmp_path):
    import numpy as np
    import pandas as pd

    from pipeline.config import load_competition
    from pipeline.zoo import facts_of

    rng = np.random.default_rng(0)
    n = 30_000
    frame = pd.DataFrame({"id": np.arange(n + 2000), "a": rng.normal(size=n + 2000).round(3),
                          "b": rng.integers(0, 5, size=n + 2000), "y": rng.integers(0, 2, size=n + 2000)})
    comp = _competition(tmp_path / "ws" / "competition" / "big", frame, n, sample=0.5,
                        config='task = "binary"\nmetric = "roc_auc"')
    models = load_competition(comp).cfg["models"]
    train, test = pd.read_csv(comp / "train.csv"), pd.read_csv(comp / "test.csv")
    wanted = default_models("binary", facts_of(train, test, id_col="id", target="y"))
    assert list(models) == list(wanted) and "lgbm_slow" not in models and "lgbm_shallow" not in models  # the large-table zoo
    for name, table in wanted.items():
        assert models[name]["params"] == table.get("params", {})


def test_a_tiny_time_budget_still_gives_a_valid_submission_and_names_what_it_skipped(tmp_path, capsys, monkeypatch):
    """The budget's clock stands still, so what is skipped follows from the members' estimates against the
    budget alone, on any machine."""
    import pipeline.planner

    monkeypatch.setattr(pipeline.planner, "clock", lambda: 0.0)
    ws = make_workspace(tmp_path, "titanic")
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    text = text[: text.index("[models.")]
    cfg.write_text(text + '[models.lgbm]\ntype = "lightgbm"\nparams = { n_estimators = 50 }\n\n'
                   '[models.linear]\ntype = "sklearn"\nestimator = "sklearn.linear_model.LogisticRegression"\n\n'
                   '[models.mlp]\ntype = "mlp"\n')
    assert main(["run", "--root", str(ws), "--time-budget", "1"]) == 0
    out, err = capsys.readouterr()
    sub = pd.read_csv(out.strip().splitlines()[-1])
    sample = pd.read_csv(DATA / "titanic" / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and len(sub) == len(sample)
    assert sub.iloc[:, 1].between(0, 1).all()
    skipped = [line for line in err.splitlines() if line.startswith("[cv] skipped")]
    assert len(skipped) == 2 and any("skipped mlp: estimated" in line for line in skipped)
    assert "budget" in skipped[0]


SLOW = '''
import time

from sklearn.linear_model import LogisticRegression


class Model(LogisticRegression):
    def fit(self, X, y):
        time.sleep(3.5)  # far slower than its type's estimate on titanic (about 0.3 s a fold)
        return super().fit(X, y)
'''


@pytest.mark.slow
def test_a_member_that_runs_past_its_estimate_is_stopped_between_folds_and_the_budget_holds(tmp_path, capsys,
                                                                                             monkeypatch):
    """The budget's clock stands still: 3.06 s stay left to start members in and 3.4 s until it ends, both
    estimates (about 1.7 s) fit, and `slow`'s first fold (at least 3.5 s, however loaded the machine) says its
    other four cannot, however many workers share them: it stops."""
    import pipeline.planner

    monkeypatch.setattr(pipeline.planner, "clock", lambda: 0.0)
    ws = make_workspace(tmp_path, "titanic")
    comp = ws / "competition" / "titanic"
    text = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(
        text[: text.index("[models.")] + '[models.linear]\ntype = "sklearn"\n'
        'estimator = "sklearn.linear_model.LogisticRegression"\n\n[models.slow]\ntype = "slow"\npreprocess = "scale"\n')
    (comp / "models").mkdir()
    (comp / "models" / "slow.py").write_text(SLOW)
    assert main(["run", "--root", str(ws), "--time-budget", "3.4"]) == 0
    err = capsys.readouterr().err
    stopped = [line for line in err.splitlines() if line.startswith("[cv] stopped")]
    assert len(stopped) == 1 and stopped[0].startswith("[cv] stopped slow: its folds take about")
    assert stopped[0].endswith("left until the 3 s budget ends; it trains in a later run with more time")
    assert not (comp / "runs" / "models" / "slow").exists()  # nothing half-written
    assert (comp / "runs" / "models" / "linear" / "oof.parquet").is_file()
    assert main(["status", "--root", str(ws)]) == 0
    assert "slow" in [line for line in capsys.readouterr().out.splitlines() if line.startswith("cv")][0]
    # the next run knows its pace: skipped up front (linear, trained before, gives the submission)
    assert main(["run", "--root", str(ws), "--time-budget", "3.4"]) == 0
    err = capsys.readouterr().err
    assert "[cv] stopped" not in err
    assert [line for line in err.splitlines() if line.startswith("[cv] skipped")] == [
        next(line for line in err.splitlines() if line.startswith("[cv] skipped slow: measured "))]


def test_the_mlp_trains_the_first_cv_repeat_only_where_the_others_train_both():
    facts = Facts(rows=1_904, cols=12, classes=2)
    zoo = default_models("binary", facts)
    assert default_repeats(facts) == 2 and zoo["mlp"]["repeats"] == 1
    assert [name for name, table in zoo.items() if "repeats" in table] == ["mlp"]  # the cheap members: every repeat


def test_automatic_repeats_only_where_training_is_cheap():
    assert default_repeats(Facts(rows=891, cols=8)) == 2
    assert default_repeats(Facts(rows=10_000, cols=30, classes=2)) == 2
    assert default_repeats(Facts(rows=10_001, cols=30)) == 1  # a large table
    assert default_repeats(Facts(rows=1_437, cols=64, image=True)) == 1  # an image: the DenseNet's minutes
    assert default_repeats(Facts(rows=1_525, cols=64, classes=32)) == 1  # a tree per class per round
    assert default_repeats(Facts(rows=3_464, cols=7, classes=4)) == 2
