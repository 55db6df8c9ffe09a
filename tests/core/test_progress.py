"""Progress: a tqdm bar on a terminal, plain lines (at most one per interval) elsewhere; the CV folds report."""

from __future__ import annotations

import io
import re

import pytest

from core import progress as P


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _auto_mode(monkeypatch):
    monkeypatch.delenv(P.ENV, raising=False)


def test_plain_lines_when_not_a_terminal_with_count_elapsed_estimate_and_note():
    out = io.StringIO()
    with P.progress(4, "[cv] lgbm", unit="fold", stream=out, interval=0) as bar:
        for k in range(4):
            bar.update(note=f"auc 0.8{k}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert re.fullmatch(r"\[cv\] lgbm: 1/4 folds, \d+s elapsed, about \d+s left \(auc 0.80\)", lines[0])
    assert re.fullmatch(r"\[cv\] lgbm: 4/4 folds, \d+s elapsed \(auc 0.83\)", lines[-1])  # no estimate when done
    assert "\r" not in out.getvalue()


def test_plain_mode_prints_at_most_one_line_per_interval():
    out = io.StringIO()
    with P.progress(1000, "[tune] lgbm", unit="trial", stream=out, interval=3600) as bar:
        for _ in range(1000):
            bar.update()
    assert out.getvalue() == ""  # fast work stays quiet; the stage's own lines say when it finished


def test_bar_on_a_terminal_and_echo_writes_above_it():
    out = Terminal()
    assert P.mode(out) == "bar"
    with P.progress(3, "[cv] models", unit="model", stream=out) as bar:
        bar.update(note="lgbm")
        P.echo("[cv] lgbm fold 0: roc_auc 0.85", out)
        bar.update()
        bar.update()
    text = out.getvalue()
    assert "[cv] models: 1/3 model" in text and ", lgbm" in text  # count and note (redraws are rate-limited)
    assert re.search(r"\[\d\d:\d\d<", text) and "\r" in text  # elapsed<remaining, redrawn in place
    assert "[cv] lgbm fold 0: roc_auc 0.85\n" in text
    assert P._open_bars == []  # closed bars are forgotten: echo prints plainly again
    plain = Terminal()
    P.echo("done", plain)
    assert plain.getvalue() == "done\n"


def test_environment_chooses_the_mode(monkeypatch):
    out = Terminal()
    monkeypatch.setenv(P.ENV, "off")
    with P.progress(2, "x", stream=out) as bar:
        bar.update()
    assert out.getvalue() == ""
    monkeypatch.setenv(P.ENV, "plain")
    assert P.mode(Terminal()) == "plain"
    monkeypatch.setenv(P.ENV, "bar")
    assert P.mode(io.StringIO()) == "bar"


def test_track_reports_each_item_and_closes_on_break():
    out = io.StringIO()
    seen = []
    for item in P.track(["a", "b", "c"], "[cv] models", unit="model", stream=out, interval=0):
        seen.append(item)
        if item == "b":
            break
    assert seen == ["a", "b"]
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == ["[cv] models: 1/3 models"]
    for _ in P.track(["a"], "[cv] models", unit="model", stream=Terminal()):
        break
    assert P._open_bars == []


def test_cv_stage_reports_folds_as_plain_lines_in_a_log(titanic_ws, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setattr(P, "PLAIN_INTERVAL_S", 0.0)
    assert main(["run", "--stage", "cv", "--root", str(titanic_ws)]) == 0
    err = capsys.readouterr().err
    folds = re.findall(r"^\[cv\] lgbm: (\d)/5 folds, \d+s elapsed.*\(roc_auc 0\.\d+\)$", err, flags=re.M)
    assert folds == ["1", "2", "3", "4", "5"]
    assert re.search(r"^\[cv\] models: 1/1 models, ", err, flags=re.M)
