"""The explore stage's EDA report: every section with its plots on the six real sets, adversarial
validation on a random and a shifted split, warnings, sampling, bad settings."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import DATASETS, make_workspace

# End to end (the CLI or the runner on a real data set): `make test-all` and CI run these.
pytestmark = pytest.mark.slow

# section -> whether it holds a plot
BASE_SECTIONS = {"overview": True, "warnings": False, "target": True, "adversarial": True, "columns": True,
                 "association": True}


class Sections(HTMLParser):
    """Section ids of a report page and, per section, its inline PNG images (decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.images: dict[str, list[bytes]] = {}
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.current = a["id"]
            self.images[self.current] = []
        elif tag == "img":
            src = a.get("src", "")
            if src.startswith("data:image/png;base64,"):
                self.images[self.current].append(base64.b64decode(src.split(",", 1)[1]))
            else:
                self.external.append(src)
        elif tag in ("script", "link") or (tag == "a" and str(a.get("href", "")).startswith("http")):
            self.external.append(str(a))

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None


def parse(path: Path) -> Sections:
    parser = Sections()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def set_explore(ws: Path, name: str, lines: str) -> None:
    cfg = ws / "competition" / name / "competition.toml"
    text = cfg.read_text()
    text = text.replace("[explore]\n", f"[explore]\n{lines}\n", 1)
    cfg.write_text(text)


def explore(ws: Path, name: str, capsys=None) -> tuple[Path, dict]:
    assert main(["run", "--stage", "explore", "--root", str(ws), "--competition", name]) == 0
    out = ws / "competition" / name / "runs" / "explore"
    return out / "report.html", json.loads((out / "summary.json").read_text())


@pytest.mark.parametrize("name", DATASETS)
def test_eda_report_has_every_section_with_plots(tmp_path, capsys, name):
    ws = make_workspace(tmp_path, name)
    set_explore(ws, name, "column_plots = 3")
    report, summary = explore(ws, name)
    page = parse(report)
    expected = dict(BASE_SECTIONS)
    if name == "fine_foods":
        expected["text"] = True
    if name == "digits":
        expected["images"] = True
    assert list(page.images) == [k for k in ["overview", "warnings", "target", "adversarial", "columns",
                                              "association", "text", "images"] if k in expected]
    for section, has_plot in expected.items():
        if has_plot:
            assert page.images[section], f"{name}: section {section} has no image"
    for images in page.images.values():
        assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000 for png in images)
    assert page.external == []  # self-contained: nothing fetched at view time
    assert 1 <= len(page.images["columns"]) <= 3  # explore.column_plots (an id-like column gets none)
    # the terminal summary: shapes, the adversarial AUC, where the report is
    err = capsys.readouterr().err
    assert f"[explore] train {summary['overview']['train_rows']:,} x" in err
    assert "adversarial validation AUC" in err and str(report) in err
    # every random split of the shipped sets looks alike to the adversarial classifier
    assert 0.35 <= summary["adversarial"]["auc"] <= 0.62
    assert summary["columns"] and all(c["drift"] is not None for c in summary["columns"])


def test_titanic_random_split_auc_near_half_shifted_test_clearly_above(tmp_path):
    ws = make_workspace(tmp_path / "random")
    _, summary = explore(ws, "titanic")
    assert 0.45 <= summary["adversarial"]["auc"] <= 0.60
    assert not [w for w in summary["warnings"] if w["kind"] == "adversarial"]

    shifted_ws = make_workspace(tmp_path / "shifted")
    test_csv = shifted_ws / "competition" / "titanic" / "test.csv"
    test = pd.read_csv(test_csv)
    test["age"] = test["age"].fillna(test["age"].median()) + 25  # passengers 25 years older
    test["pclass"] = "1st"  # and all in first class
    test.to_csv(test_csv, index=False)
    report, summary = explore(shifted_ws, "titanic")
    adv = summary["adversarial"]
    assert adv["auc"] >= 0.8
    assert list(adv["importance"])[0] in ("age", "pclass")
    assert any(w["kind"] == "adversarial" for w in summary["warnings"])
    assert "test differs from train" in report.read_text()


def test_warnings_name_leaks_ids_train_only_columns_and_missingness(tmp_path):
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    train, test = pd.read_csv(comp / "train.csv"), pd.read_csv(comp / "test.csv")
    rng = np.random.default_rng(0)
    flip = rng.random(len(train)) < 0.01
    train["boarding_code"] = np.where(flip, 1 - train["survived"], train["survived"]) * 7 + 3  # the target, 1% noise
    test["boarding_code"] = rng.choice([3, 10], len(test))
    train["ticket"] = [f"T{i:05d}" for i in range(len(train))]  # unique per row
    test["ticket"] = [f"T{i:05d}" for i in range(50_000, 50_000 + len(test))]
    train["cabin"] = np.where(rng.random(len(train)) < 0.8, None, "C")
    test["cabin"] = np.where(rng.random(len(test)) < 0.8, None, "C")
    train["lifeboat"] = rng.integers(0, 5, len(train))  # only known after the fact: not in test
    train["age_per_sibling"] = train["age"] / train["sibsp"]  # inf where sibsp is 0 and age is not
    test["age_per_sibling"] = test["age"] / test["sibsp"]
    train["deck_number"] = rng.integers(1, 9, len(train))
    test["deck_number"] = [str(v) for v in rng.integers(1, 9, len(test))]
    test.loc[3, "deck_number"] = "upper"  # one stray string makes the test column text
    train.to_csv(comp / "train.csv", index=False)
    test.to_csv(comp / "test.csv", index=False)
    report, summary = explore(ws, "titanic")
    kinds = {(w["kind"], w["column"]) for w in summary["warnings"]}
    assert ("leak", "boarding_code") in kinds
    assert ("id_like", "ticket") in kinds
    assert ("train_only", "lifeboat") in kinds
    assert ("missing", "cabin") in kinds
    assert ("infinite", "age_per_sibling") in kinds and ("infinite", "age") not in kinds
    assert ("types", "deck_number") in kinds and ("types", "age") not in kinds
    clash = next(w["message"] for w in summary["warnings"] if w["kind"] == "types")
    assert "numbers in train, text in test (e.g. 'upper', 1 of" in clash
    ratio = next(c for c in summary["columns"] if c["column"] == "age_per_sibling")
    assert ratio["infinite_train"] == int(np.isinf(train["age_per_sibling"]).sum()) > 0
    assert np.isfinite(ratio["mean"]) and np.isfinite(ratio["max"])
    assert ("leak", "sex") not in kinds and ("id_like", "age") not in kinds
    ticket = next(c for c in summary["columns"] if c["column"] == "ticket")
    assert ticket["unseen_in_test"] == 1.0
    # an id-like column is left out of adversarial validation and of the association ranking
    assert "ticket" in summary["adversarial"]["excluded"] and "ticket" not in summary["association"]
    text = report.read_text()
    assert "Leak hints" in text and "boarding_code" in text


def test_columns_that_are_no_features_are_neither_described_nor_warned_of(tmp_path, capsys):
    """features.drop's columns, the weight column and a multi-target task's other targets are no features:
    the report leaves them out, and changing features.drop (not the blocks) runs it again."""
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    train = pd.read_csv(comp / "train.csv")
    train["lifeboat"] = train["survived"] * 3  # only known after the fact, and the target itself
    train["w"] = 1.0
    train.to_csv(comp / "train.csv", index=False)
    text = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(text.replace("[competition]\n", '[competition]\nweight = "w"\n', 1))
    _, summary = explore(ws, "titanic")
    assert {("leak", "lifeboat"), ("train_only", "lifeboat")} <= {(w["kind"], w["column"]) for w in summary["warnings"]}
    assert "w" not in {c["column"] for c in summary["columns"]}  # the weight column (not in test either)
    config = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(config.replace("[features]\n", '[features]\ndrop = ["lifeboat"]\n', 1))
    assert main(["status", "--root", str(ws)]) == 0
    assert "explore   stale     changed: config" in capsys.readouterr().out
    _, summary = explore(ws, "titanic")
    described = {c["column"] for c in summary["columns"]}
    assert not {"lifeboat", "w"} & described and {"age", "sex"} <= described
    assert not [w for w in summary["warnings"] if w["column"] in ("lifeboat", "w")]
    explored = (comp / "competition.toml").read_text()
    (comp / "competition.toml").write_text(explored.replace("[features]\n", '[features]\nblocks = ["numeric"]\n', 1))
    assert main(["status", "--root", str(ws)]) == 0
    assert "explore   fresh" in capsys.readouterr().out


def test_a_multilabel_tasks_other_targets_are_no_columns_only_in_train(tmp_path, capsys):
    """...and a section before the target's sets the target columns side by side: their shares of 1s and how
    they move together, in the summary, on the page (a heatmap) and on the terminal."""
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    train = pd.read_csv(comp / "train.csv")
    train["alone"] = ((train["sibsp"] + train["parch"]) == 0).astype(int)
    train.to_csv(comp / "train.csv", index=False)
    sample = pd.read_csv(comp / "sample_submission.csv").assign(alone=0.5)
    sample.to_csv(comp / "sample_submission.csv", index=False)
    text = (comp / "competition.toml").read_text().replace('target = "survived"', 'target = ["survived", "alone"]')
    (comp / "competition.toml").write_text(text.replace('task = "binary"', 'task = "multilabel"')
                                           .replace('submission = "proba"', 'submission = "targets"'))
    report, summary = explore(ws, "titanic")
    assert "alone" not in {c["column"] for c in summary["columns"]}
    assert not [w for w in summary["warnings"] if w["column"] == "alone"]
    facts = summary["target_columns"]
    assert facts["columns"]["survived"]["positive_share"] == pytest.approx(train["survived"].mean())
    assert facts["columns"]["alone"]["positive_share"] == pytest.approx(train["alone"].mean())
    r = np.corrcoef(train["survived"], train["alone"])[0, 1]  # travelling alone went with dying (r < 0)
    assert facts["correlation"][0][1] == pytest.approx(r) and r < -0.1
    assert facts["most_correlated"] == [{"columns": ["survived", "alone"], "r": pytest.approx(r)}]
    page = parse(report)
    assert list(page.images)[:4] == ["overview", "warnings", "target_columns", "target"]
    assert page.images["target_columns"]
    err = capsys.readouterr().err
    assert (f"[explore] 2 target columns: survived {train['survived'].mean():.1%} 1s, alone "
            f"{train['alone'].mean():.1%} 1s; most correlated: survived ~ alone r = {r:.2f}") in err


def test_fine_foods_product_column_is_flagged_id_like_and_unseen(tmp_path):
    ws = make_workspace(tmp_path, "fine_foods")
    set_explore(ws, "fine_foods", "column_plots = 2")
    _, summary = explore(ws, "fine_foods")
    product = [w for w in summary["warnings"] if w["column"] == "product"]
    assert [w["kind"] for w in product] == ["id_like"]
    assert "100% of its test values unseen in train" in product[0]["message"]
    review = summary["text"]["review"]
    assert review["tokens"] and review["mean_words"] > 10


def test_large_tables_are_sampled_and_the_report_says_so(tmp_path):
    ws = make_workspace(tmp_path)
    set_explore(ws, "titanic", "sample_rows = 200\ncolumn_plots = 2")
    report, summary = explore(ws, "titanic")
    assert summary["sample"] == {"train_rows": 200, "test_rows": 200}
    assert summary["overview"]["train_rows"] == 1047  # counts use every row
    assert "random sample of 200 of 1,047 train rows" in report.read_text()


def test_bad_explore_settings_exit_2_with_one_line(tmp_path, capsys):
    ws = make_workspace(tmp_path)
    set_explore(ws, "titanic", "sample_rows = 5")
    assert main(["run", "--stage", "explore", "--root", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: explore.sample_rows must be at least 100, got 5")
    assert not (ws / "competition" / "titanic" / "runs" / "explore" / "report.html").exists()


def test_a_test_set_after_train_in_time_is_named_until_the_folds_follow_time(tmp_path):
    """Every test row dated after the last train row: random folds would validate on rows among their training
    rows. The warning names the column and the dates (pandas 3 reads them as microseconds: they were shown
    in 1970), and goes once cv.scheme = "forward" orders the folds by that column."""
    ws = make_workspace(tmp_path)
    comp = ws / "competition" / "titanic"
    train, test = pd.read_csv(comp / "train.csv"), pd.read_csv(comp / "test.csv")
    train["booked"] = (pd.Timestamp("2012-01-01") + pd.to_timedelta(np.arange(len(train)) % 366, unit="D")).astype(str)
    test["booked"] = (pd.Timestamp("2013-01-01") + pd.to_timedelta(np.arange(len(test)) % 60, unit="D")).astype(str)
    train["deck_number"] = np.arange(len(train)) % 9  # a number whose test values lie inside train's: no warning
    test["deck_number"] = np.arange(len(test)) % 9
    train.to_csv(comp / "train.csv", index=False)
    test.to_csv(comp / "test.csv", index=False)
    _, summary = explore(ws, "titanic")
    after = [w for w in summary["warnings"] if w["kind"] == "after"]
    assert [w["column"] for w in after] == ["booked"], after
    assert ("booked: every test row is at or after train's last value (train 2012-01-01..2012-12-31, test "
            "2013-01-01..2013-03-01)") in after[0]["message"]
    assert 'cv.scheme = "forward", cv.time_column = "booked"' in after[0]["message"]
    cfg = comp / "competition.toml"
    cfg.write_text(cfg.read_text().replace("[cv]\n", '[cv]\nscheme = "forward"\ntime_column = "booked"\n', 1))
    _, summary = explore(ws, "titanic")  # the scheme is in the stage's fingerprint: it runs again
    assert not [w for w in summary["warnings"] if w["kind"] == "after"]


def _association_in_a_daemon(queue) -> None:
    """Mutual information with two threads in a daemon process, as the report runs beside the other
    stages: the warnings it raised, and its result, go back through `queue`."""
    import warnings

    from core.metrics import get_metric
    from core.tasks import TaskInfo
    from pipeline.reports.eda import Options, analyze
    from tests.conftest import DATA

    train = pd.read_csv(DATA / "titanic" / "train.csv")
    test = pd.read_csv(DATA / "titanic" / "test.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eda = analyze(train, test, name="titanic", target="survived", id_col="id",
                      task=TaskInfo("binary", (0, 1)), metric=get_metric("roc_auc"), options=Options(threads=2))
    queue.put(([str(w.message) for w in caught], eda.association))


def test_the_report_beside_the_stages_estimates_mutual_information_without_joblibs_warning():
    """joblib cannot start worker processes from a daemon process (and says so on the terminal): the
    report's mutual information there runs on one, quietly, with the same result."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_association_in_a_daemon, args=(queue,), daemon=True)
    child.start()
    said, association = queue.get(timeout=300)
    child.join(timeout=60)
    assert not [m for m in said if "Loky" in m or "n_jobs" in m]
    assert association and set(association) >= {"sex", "pclass"}
    assert max(association, key=association.get) == "sex"


def test_a_multiregressions_target_columns_are_summed_up_by_mean_spread_and_range():
    from core.tasks import TaskInfo
    from pipeline.reports.eda import _target_columns, _target_columns_line

    targets = pd.DataFrame({"cohesion": [1.0, 2.0, 3.0, 4.0, np.nan], "syntax": [2.0, 4.1, 5.9, 8.0, 1.0],
                            "vocabulary": [3.0, 1.0, 3.0, 1.0, 2.0]})
    facts = _target_columns(targets, TaskInfo("multiregression"))
    spread = pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert facts["columns"]["cohesion"] == {"missing": 1, "mean": 2.5, "std": spread, "min": 1.0, "max": 4.0}
    top = facts["most_correlated"][0]  # cohesion and syntax nearly a line, over the rows both have
    assert top["columns"] == ["cohesion", "syntax"] and top["r"] > 0.99
    assert _target_columns_line(facts).startswith("3 target columns: cohesion mean 2.5, syntax mean 4.2, vocabulary")
