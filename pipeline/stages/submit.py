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
from pipeline.submission import make_submission, write_submission


def run(ctx: StageContext) -> list[Path]:
    comp = ctx.comp
    _, _, sample = ctx.data()
    task = ctx.task_info()
    ens = read_run(comp.runs / "ensemble", id_col=comp.id_col, task=task)
    sub = make_submission(sample, id_col=comp.id_col, test_ids=ens.test_ids, pred=ens.test, task=task,
                          style=ctx.cfg["competition"]["submission"], metric=ctx.metric())
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
