"""Submit stage: write submissions/<name>/<name>-<timestamp>-cv<score>.csv and latest.csv.

The ensemble's test predictions go through the one submission writer (pipeline.submission): the
sample submission's format, validated before anything is written."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from core import io as _io
from pipeline.artifacts import read_run
from pipeline.context import StageContext
from pipeline.submission import check_format, infer_style, make_submission, write_submission


def run(ctx: StageContext) -> list[Path]:
    comp = ctx.comp
    train, _, sample = ctx.data()
    task = ctx.task_info()
    metric = ctx.metric()
    ens = read_run(comp.runs / "ensemble", id_col=comp.id_col, task=task)
    style = ctx.cfg["competition"]["submission"] or infer_style(sample, comp.id_col,
                                                                classification=task.is_classification)
    oof = lambda: (task.encode(train.set_index(comp.id_col).loc[ens.oof_ids, comp.target]), ens.oof)  # noqa: E731
    pred = decided(metric, style, oof, ens.test, log=ctx.log)
    sub = make_submission(sample, id_col=comp.id_col, test_ids=ens.test_ids, pred=pred, task=task,
                          style=style, metric=metric)
    out_dir = comp.submissions_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = write_submission(out_dir / f"{comp.name}-{stamp}-cv{ens.overall:.5f}.csv", sub, sample,
                            id_col=comp.id_col)
    latest = out_dir / "latest.csv"
    with _io.atomic_path(latest) as tmp:
        shutil.copyfile(path, tmp)
    method = ens.scores.get("method", "?")
    ctx.log(f"[submit] {len(sub)} rows from the ensemble ({method}), {ens.scores['metric']} "
            f"{ens.overall:.5f} OOF")
    return [path, latest]  # the CLI prints the first as its last line


def check(competition) -> None:
    """A sample submission no submission can match (its column an int, the target's labels text): a
    UserError before the first stage runs, not after every model has trained."""
    comp = competition.comp
    check_format(competition.data()[2], id_col=comp.id_col, task=competition.task_info(),
                 style=comp.cfg["competition"]["submission"], where=str(comp.sample_path))


def decided(metric, style: str, oof, pred, *, log=print):
    """Predictions as the submission needs them: a metric that scores decisions (f1's threshold, qwk's
    rounding) decides them as fitted on every OOF row (`oof()` -> (encoded target, ensemble OOF)) when
    the submission holds labels or values; else `pred` as it is. `pipeline.predict` decides alike."""
    if metric.decide is None or style not in ("label", "value"):
        return pred
    y, oof_pred = oof()
    log(f"[submit] {metric.name}: predictions decided as fitted on the {len(y)} OOF rows")
    return metric.decide(y, oof_pred)(pred)
