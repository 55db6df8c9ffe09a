"""Explore stage: the EDA report (runs/explore/report.html, summary.json) to read before modelling.

One self-contained HTML page (plots inline, nothing fetched at view time): overview, target,
per-column types, missing values and train/test drift, adversarial validation, relation to the
target, warnings (leak hints, id-like columns, ...), text lengths and tokens, sample images. The
facts are in `pipeline.reports.eda`, the page in `pipeline.reports.eda_page`; this stage reads the
data, writes both files at once (a failed run leaves the previous report) and prints a summary."""

from __future__ import annotations

from pathlib import Path

from core import io as _io
from core.errors import UserError
from core.progress import progress
from pipeline.context import StageContext

EXPLORE_DIR = "explore"
_MIN_SAMPLE_ROWS = 100


def run(ctx: StageContext) -> list[Path]:
    from pipeline.reports.eda import Options, analyze
    from pipeline.reports.eda_page import SECTIONS, render
    from pipeline.schemes import SCHEMES

    cfg = ctx.cfg["explore"]
    if cfg["sample_rows"] < _MIN_SAMPLE_ROWS:
        raise UserError(f"explore.sample_rows must be at least {_MIN_SAMPLE_ROWS}, got {cfg['sample_rows']}; "
                        f"the default is 100000")
    if cfg["column_plots"] < 0:
        raise UserError(f"explore.column_plots must be 0 or more, got {cfg['column_plots']}")
    train, test, _ = ctx.data()
    scheme = SCHEMES.get(ctx.cfg["cv"]["scheme"])
    options = Options(sample_rows=cfg["sample_rows"], column_plots=cfg["column_plots"], threads=ctx.threads(),
                      validates_in_time=scheme is not None and scheme.validates_in_time)
    comp = ctx.comp
    with progress(7 + len(SECTIONS), "[explore]", unit="step") as bar:
        # a multi-target task's report describes its target columns side by side, then its first one as that
        # column's own task; the other target columns, the weight column and the columns features.drop names
        # are never features, so neither described nor warned of (a leak, a column only in train) as one
        not_features = [*comp.target_columns[1:], *([comp.weight_col] if comp.weight_col else []),
                        *ctx.cfg["features"]["drop"]]
        targets = train[comp.target_columns] if len(comp.target_columns) > 1 else None
        train, test = (frame.drop(columns=not_features, errors="ignore") for frame in (train, test))
        eda = analyze(train, test, name=comp.name, target=comp.target_columns[0], id_col=comp.id_col,
                      task=ctx.task_info().column(), metric=ctx.metric(), options=options,
                      on_step=lambda part: bar.update(note=part), targets=targets)
        page = render(eda, on_section=lambda key: bar.update(note=f"{key} plots"))
    out = ctx.runs / EXPLORE_DIR
    with _io.atomic_dir(out) as tmp:
        _io.write_json(tmp / "summary.json", eda.summary())
        _io.write_text(tmp / "report.html", page)
    for line in eda.terminal_summary():
        ctx.log(f"[explore] {line}")
    ctx.log(f"[explore] report at {out / 'report.html'}")
    return [out / "summary.json", out / "report.html"]
