"""Competition definitions: `competition/<name>/competition.toml`, validated on load.

The schema is data: each section maps key -> (type, default, help). Unknown keys, wrong types,
missing files and missing columns raise UserError naming the key, file or column and the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserError, did_you_mean
from core.params import REQUIRED, check_choice, validate

from core.io import separator_hint, tomllib

# section -> key -> (type(s), default, one-line help). README documents the same keys.
SCHEMA: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "competition": {
        "task": (str, REQUIRED, "kind of target"),
        "target": ((str, list), REQUIRED, "target column in train.csv; a multi-target task (multilabel, "
                                          "multiregression): a list of columns, one submission column each"),
        "id": (str, REQUIRED, "id column in train, test and the sample submission"),
        "metric": (str, REQUIRED, "the competition's metric"),
        "submission": (str, "", "submission format (inferred from the sample submission if empty)"),
        "train": (str, "train.csv", "training data file, relative to the competition folder"),
        "test": (str, "test.csv", "test data file"),
        "sample_submission": (str, "sample_submission.csv", "sample submission file"),
        "external_data": (bool, False, "allow data files outside the workspace (by default they must lie inside it)"),
        "weight": (str, "", "train column of per-row sample weights (numeric, >= 0, none missing, not all 0; "
                            "never a feature): every fit that takes sample_weight, the metric and the ensemble"),
    },
    "cv": {
        "scheme": (str, "auto", "CV scheme (auto: stratified for classification, kfold for regression)"),
        "n_splits": (int, 5, "number of folds (>= 2)"),
        "seed": (int, 0, "shuffle seed for kfold/stratified/group"),
        "group_column": (str, "", "column whose values never span two folds (scheme = group)"),
        "time_column": (str, "", "column ordering rows in time (scheme = time or forward): dates or numbers"),
        "file": (str, "", "fold file made elsewhere, columns id, fold[, repeat] (scheme = file), relative to the "
                          "competition folder"),
        "repeats": (int, 0, "fold assignments (seed, seed + 1, ...): every model trains on each and its OOF "
                            "predictions are averaged; the ensemble is fitted per repeat (shuffled schemes); 0 = "
                            "automatic: 2 on a table up to 10,000 rows (not an image, not many classes), else 1"),
        "repeat_unused": (bool, True, "later CV repeats also train the models the ensemble would leave out "
                                      "(no weight from hill climbing on the first repeat's OOF predictions), "
                                      "but for a costly one (repeat_unused_share); false: every such model keeps "
                                      "one repeat with ensemble.method = auto (faster; the ensemble's OOF a "
                                      "little noisier)"),
        "repeat_unused_share": (float, 0.3, "a model the ensemble would leave out keeps one repeat when its "
                                            "type's estimated cost on this table is at least this share of all "
                                            "the models' (the MLP on a noisy table, never a cheap LightGBM); 1 = never"),
        "gap": (int, 0, "distinct times left out between each fold's training rows and its validation block "
                        "(scheme = forward)"),
    },
    "features": {
        "blocks": (list, [], "feature blocks to build; [] chooses them from the column types"),
        "drop": (list, [], "columns never used as features"),
    },
    "pseudo": {
        "enabled": (bool, False, "retrain models with pseudo-labelled test rows in each fold's training rows"),
        "models": (list, [], "models to pseudo-train; [] = the top_k best by CV"),
        "top_k": (int, 1, "with models = []: how many of the best cv models to pseudo-train"),
        "labels": (str, "model", "who labels fold k's test rows (always models that never saw fold k)"),
        "selection": (str, "auto", "which test rows get labels, and how (auto: soft, threshold for a model "
                                   "without sample_weight, agreement for regression)"),
        "threshold": (float, 0.95, "threshold selection: minimum predicted class probability (0 to 1)"),
        "fraction": (float, 0.3, "top and agreement selection: share of test rows labelled (0 to 1)"),
        "weight": (float, 1.0, "sample weight of a pseudo row (the fold's own rows weigh 1)"),
        "rounds": (int, 1, "most rounds; each labels with the previous round's fold models"),
        "tolerance": (float, 0.0, "another round only while the CV score improves by more than this"),
    },
    "ensemble": {
        "method": (str, "auto", "ensemble method (auto: every applicable one, the best honest OOF score wins)"),
        "models": (list, [], "runs to combine (cv, pseudo, imported); [] means all"),
        "stackers": (list, ["linear"], "stack's level-2 models: linear | lightgbm | a [models.NAME] name | an "
                                       "inline table; several -> a linear level 3 combines them"),
        "passthrough": (bool, False, "stack: give the level-2 model the original features as well (its OOF "
                        "score is then optimistic, so method = auto does not choose it)"),
        "hill_climb_rounds": (int, 50, "hill_climb (and its bagged and log-space forms): most greedy selection rounds"),
        "calibrate": (bool, True, "log loss: each method's probabilities get a temperature, fitted on the "
                                  "other folds for each fold's rows"),
    },
    "explore": {
        "enabled": (bool, True, "write the EDA report"),
        "sample_rows": (int, 100_000, "rows of train and of test sampled for distributions, drift, plots and models"),
        "column_plots": (int, 8, "columns (most drifted first) that get a train-vs-test plot (every column is in the drift table)"),
    },
    "runtime": {
        "threads": (int, 0, "threads per fit; 0 = automatic: one on a table under 50,000 training rows (deterministic, robust on a busy machine), else cores / n_jobs"),
        "n_jobs": (int, 0, "parallel workers (folds or trials); 0 = automatic: the cv stage's folds on one worker per "
                           "core when its estimated training (all CV repeats) takes 25 s or more, everything else "
                           "in this process"),
        "backend": (str, "auto", "where folds and trials run: sequential | processes | dask (auto: processes "
                                 "when n_jobs > 1 and the work pays for the workers, else sequential)"),
        "scheduler": (str, "", "backend = dask: the scheduler's address, e.g. tcp://host:8786 (run --scheduler "
                               "overrides)"),
        "time_budget": (float, 0.0, "seconds for a whole run: models are trained cheapest first and those that "
                                    "would not fit are skipped (0 = no budget; `run --time-budget S` overrides)"),
        "alongside": (bool, True, "run the EDA report (explore) in its own process beside the other stages, "
                                  "on idle CPU, and the run waits at its end for what is left of it; false: in turn, "
                                  "in this process"),
        "save_models": (bool, True, "keep every fold model in its run folder (fitted/), so `predict` and `bundle` "
                                    "can score new rows; false keeps only predictions and scores"),
    },
    "tracking": {
        "mlflow_uri": (str, "", "MLflow tracking URI every model run and the ensemble are mirrored to, e.g. "
                                "sqlite:///mlflow.db or http://host:5000 (empty = off; pip install -e \".[mlflow]\")"),
    },
}

# Keys of each `[models.NAME]` table.
MODEL_SCHEMA: dict[str, tuple[Any, Any, str]] = {
    "type": (str, REQUIRED, "lightgbm | sklearn | a plug-in name or import path"),
    "params": (dict, {}, "parameters passed to the model"),
    "estimator": (str, "", "import path of a scikit-learn estimator (type = sklearn)"),
    "enabled": (bool, True, "train this model"),
    "search_space": (dict, {}, "Optuna search space for `pipeline tune`: NAME = { low, high, log, step } or [choices]"),
    "clip": (bool, True, "regression: clip predictions to the fold's training target range"),
    "trim_outliers": (float, 0.0, "regression: refit each fold without training rows whose residual exceeds "
                                  "this many robust standard deviations (0 = off)"),
    "preprocess": (str, "auto", "auto | none | impute | scale | splines: imputation/one-hot (+ scaling; + a cubic "
                                "spline basis of each numeric column) before the model"),
    "repeats": (int, 0, "CV repeats this model trains at most (0 = every one of cv.repeats); the ensemble "
                        "reuses its repeats' average in the later ones"),
}

# The allowed range of each numeric key: (section, key) -> (lowest, highest or None). NaN is never in
# range. runtime.threads above the machine's cores is allowed here and capped, with a warning, at run
# time (core.threads.resolve_threads).
RANGES: dict[tuple[str, str], tuple[float, float | None]] = {
    ("cv", "n_splits"): (2, None),  # and at most half the train rows (pipeline.data)
    ("cv", "seed"): (0, 2**32 - 1),
    ("cv", "gap"): (0, None),
    ("cv", "repeats"): (0, 20),
    ("cv", "repeat_unused_share"): (0, 1),
    ("ensemble", "hill_climb_rounds"): (1, None),
    ("explore", "sample_rows"): (1, None),
    ("explore", "column_plots"): (0, 10_000),
    ("runtime", "threads"): (0, None),
    ("runtime", "n_jobs"): (0, None),
    ("pseudo", "threshold"): (0, 1),
    ("pseudo", "fraction"): (0, 1),
    ("pseudo", "weight"): (0, 1_000),
    ("pseudo", "rounds"): (1, 100),
    ("pseudo", "top_k"): (1, None),
    ("pseudo", "tolerance"): (0, None),
    ("runtime", "time_budget"): (0, None),
}
MODEL_RANGES: dict[str, tuple[float, float | None]] = {"trim_outliers": (0, 1_000), "repeats": (0, 20)}



def _default_models(task: str) -> dict:
    """A config without [models] tables trains the default zoo for its task (pipeline/zoo.py)."""
    from core.tasks import TASKS
    from pipeline.zoo import Facts, default_models

    if task not in TASKS:  # reported by _check_values with the registry's names
        return {"lgbm": {"type": "lightgbm"}}
    return default_models(task, Facts(rows=0, cols=0))

@dataclass
class Competition:
    """A loaded, validated competition: its folder, name and config (defaults filled in)."""

    name: str
    root: Path
    cfg: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        """The workspace root (holds competition/ and submissions/)."""
        return self.root.parent.parent

    @property
    def submissions_dir(self) -> Path:
        return self.workspace / "submissions" / self.name

    @property
    def config_path(self) -> Path:
        return self.root / "competition.toml"

    @property
    def runs(self) -> Path:
        """Generated artifacts (git-ignored)."""
        return self.root / "runs"

    @property
    def train_path(self) -> Path:
        return self.root / self.cfg["competition"]["train"]

    @property
    def test_path(self) -> Path:
        return self.root / self.cfg["competition"]["test"]

    @property
    def sample_path(self) -> Path:
        return self.root / self.cfg["competition"]["sample_submission"]

    @property
    def folds_path(self) -> Path:
        return self.runs / "folds.csv"

    @property
    def imports_dir(self) -> Path:
        """Teammates' imported prediction bundles (plain files, safe to commit)."""
        return self.root / "imports"

    @property
    def task(self) -> str:
        return self.cfg["competition"]["task"]

    @property
    def target(self) -> str | list[str]:
        """The target column, or a multi-target task's list of columns (`train[comp.target]` is then the
        targets' frame)."""
        return self.cfg["competition"]["target"]

    @property
    def target_columns(self) -> list[str]:
        """The target column(s) as a list."""
        target = self.target
        return [target] if isinstance(target, str) else list(target)

    @property
    def id_col(self) -> str:
        return self.cfg["competition"]["id"]

    @property
    def weight_col(self) -> str:
        """The train column of per-row sample weights ([competition] weight), "" for none."""
        return self.cfg["competition"]["weight"]

    @property
    def metric_name(self) -> str:
        return self.cfg["competition"]["metric"]

    @property
    def models(self) -> dict[str, dict]:
        """Enabled model tables by name."""
        return {k: v for k, v in self.cfg["models"].items() if v.get("enabled", True)}

    @property
    def fold_file(self) -> Path | None:
        """The fold file cv.file names (scheme = "file"), else None."""
        cv = self.cfg["cv"]
        return self.root / cv["file"] if cv["scheme"] == "file" and cv["file"] else None

    def data_files(self) -> list[Path]:
        """The files a data-reading stage's fingerprint covers: train, test, the sample, and a fold file."""
        return [self.train_path, self.test_path, self.sample_path, *([self.fold_file] if self.fold_file else [])]


def _fill_section(where: str, given: Any, schema: dict, file: Path) -> dict:
    if not isinstance(given, dict):
        raise UserError(f"{file}: [{where}] must be a table, got {given!r}")
    return validate(given, schema, where=str(file), name=lambda key: f"{where}.{key}",
                    missing_hint=lambda key: f"; add it to [{where}]")


def parse_config(raw: dict, file: Path) -> dict:
    """Validate a parsed TOML document against the schema and fill defaults."""
    known = set(SCHEMA) | {"models"}
    for section in raw:
        if section not in known:
            raise UserError(f"{file}: unknown section [{section}]{did_you_mean(section, tuple(known))}")
    cfg = {name: _fill_section(name, raw.get(name, {}), schema, file) for name, schema in SCHEMA.items()}
    models = raw.get("models", None)
    if models is None:
        models = _default_models(cfg["competition"]["task"])
    if not isinstance(models, dict):
        raise UserError(f"{file}: [models] must hold tables like [models.lgbm], got {models!r}")
    cfg["models"] = {name: _fill_section(f"models.{name}", table, MODEL_SCHEMA, file)
                     for name, table in models.items()}
    _check_values(cfg, file)
    return cfg


def registry_choices() -> dict[tuple[str, str], tuple[str, ...]]:
    """Config keys whose value names a registry entry -> the names it may take, read from the
    registries themselves (the single source: adding a metric, task, CV scheme, submission style or
    ensemble method never touches this file)."""
    from core.metrics import metric_names
    from core.tasks import TASKS
    from models.ensemble import METHODS
    from pipeline.schemes import SCHEMES
    from pipeline.pseudo_labels import SELECTIONS, SOURCES
    from pipeline.execution import BACKENDS
    from pipeline.submission import STYLES

    return {("competition", "task"): tuple(TASKS), ("competition", "metric"): metric_names(),
            ("competition", "submission"): tuple(STYLES), ("cv", "scheme"): ("auto", *SCHEMES),
            ("ensemble", "method"): ("auto", *METHODS), ("pseudo", "selection"): ("auto", *SELECTIONS),
            ("pseudo", "labels"): tuple(SOURCES), ("runtime", "backend"): ("auto", *BACKENDS)}


def _check_values(cfg: dict, file: Path) -> None:
    from core.metrics import METRICS, competition_metrics, get_metric
    from core.tasks import TASKS
    from pipeline.schemes import SCHEMES

    for (section, key), names in registry_choices().items():
        value = cfg[section][key]
        if key == "metric":  # built-ins, families (map@3) and the competition's metrics.py: get_metric checks
            continue
        if value or key != "submission":  # an empty submission style is inferred
            check_choice(value, names, where=f"{file}: {section}.{key}")
    comp = cfg["competition"]
    competition_metrics(file.parent)  # a metrics.py is checked whether or not competition.metric names one of its
    try:
        metric = get_metric(comp["metric"], file.parent)
    except UserError as exc:
        raise UserError(f"{file}: competition.metric: {exc}") from None
    if comp["weight"]:
        try:
            metric.check_weighted()
        except UserError as exc:
            raise UserError(f"{file}: {exc}") from None
    _check_targets(comp, file)
    if comp["task"] not in metric.tasks:
        fits = [m.name for m in [*METRICS.values(), *competition_metrics(file.parent).values()]
                if comp["task"] in m.tasks]
        raise UserError(f"{file}: metric {comp['metric']!r} does not fit task {comp['task']!r}; "
                        f"use one of {', '.join(fits)}")
    for (section, key), bounds in RANGES.items():
        if key in cfg[section]:
            check_range(cfg[section][key], bounds, where=f"{file}: {section}.{key}")
    for name, table in cfg["models"].items():
        for key, bounds in MODEL_RANGES.items():
            check_range(table[key], bounds, where=f"{file}: models.{name}.{key}")
    cv = cfg["cv"]
    column_key = SCHEMES[cv["scheme"]].column_key if cv["scheme"] in SCHEMES else ""
    if column_key and not cv[column_key]:
        what = "PATH" if SCHEMES[cv["scheme"]].column_is_file else "<column>"
        raise UserError(f"{file}: cv.scheme = {cv['scheme']!r} needs cv.{column_key} = '{what}'")
    if cv["file"] and cv["scheme"] != "file":
        raise UserError(f"{file}: cv.file applies to scheme = 'file' only; remove it or set cv.scheme = 'file'")
    if cv["repeats"] > 1 and cv["scheme"] in SCHEMES and not SCHEMES[cv["scheme"]].shuffled:
        raise UserError(f"{file}: cv.repeats = {cv['repeats']} needs a shuffled scheme (kfold, stratified, group); "
                        f"scheme = {cv['scheme']!r} gives the same folds every time; set cv.repeats = 1")
    if cv["gap"] and (cv["scheme"] not in SCHEMES or SCHEMES[cv["scheme"]].train_from is None):
        raise UserError(f"{file}: cv.gap = {cv['gap']} applies to scheme = 'forward' only (training on the past); "
                        f"remove it or set cv.scheme = 'forward'")
    for name, table in cfg["models"].items():
        trim = table["trim_outliers"]
        if trim < 0 or (trim and TASKS[comp["task"]].classification):
            raise UserError(f"{file}: models.{name}.trim_outliers = {trim} must be 0 (off) or a positive number "
                            f"of standard deviations such as 4, and applies to regression only")
    if not cfg["models"]:
        raise UserError(f"{file}: no models: add a table such as [models.lgbm] type = 'lightgbm'")
    _check_pseudo(cfg, file)


def _check_targets(comp: dict, file: Path) -> None:
    """competition.target: one column name for a single-target task; a list of at least 2 distinct
    column names for a multi-target one (core.tasks.Task.multi_target)."""
    from core.tasks import TASKS

    target, task = comp["target"], TASKS.get(comp["task"])
    if task is None:
        return
    if task.multi_target and comp["submission"] not in ("", "targets"):
        raise UserError(f"{file}: competition.submission = {comp['submission']!r} does not fit task {task.name!r}; "
                        f"a multi-target task submits one column per target: set submission = 'targets'")
    if task.multi_target:  # the one style it has (so every writer of its submissions uses it)
        comp["submission"] = "targets"
    multi = [t.name for t in TASKS.values() if t.multi_target]
    if isinstance(target, str):
        if task.multi_target:
            raise UserError(f"{file}: competition.task = {task.name!r} needs at least 2 target columns, got "
                            f"competition.target = {target!r}; set target = [\"col1\", \"col2\", ...]")
        return
    if not task.multi_target:
        raise UserError(f"{file}: competition.target is a list ({len(target)} columns) but task {task.name!r} has "
                        f"one target; name one column, or set competition.task to {' or '.join(multi)}")
    bad = next((t for t in target if not isinstance(t, str) or not t), None)
    if bad is not None or not target:
        raise UserError(f"{file}: competition.target must list column names, got {bad!r}")
    if len(target) < 2:
        raise UserError(f"{file}: competition.task = {task.name!r} needs at least 2 target columns, got "
                        f"{len(target)} ({target}); add columns, or use a single-target task")
    twice = next((t for t in target if target.count(t) > 1), None)
    if twice is not None:
        raise UserError(f"{file}: competition.target names {twice!r} twice; list each target column once")


def check_range(value: float, bounds: tuple[float, float | None], *, where: str) -> None:
    """UserError unless lowest <= value <= highest (NaN never passes)."""
    low, high = bounds
    if low <= value and (high is None or value <= high):
        return
    expected = f"between {low} and {high}" if high is not None else f"at least {low}"
    raise UserError(f"{where} must be {expected}, got {value!r}")


def _check_pseudo(cfg: dict, file: Path) -> None:
    from core.tasks import TASKS
    from pipeline.schemes import SCHEMES
    from pipeline.pseudo_labels import SELECTIONS

    ps, task = cfg["pseudo"], cfg["competition"]["task"]  # numeric ranges: RANGES
    selection = ps["selection"]
    if selection != "auto" and not SELECTIONS[selection].applies(TASKS[task]):
        fits = [s.name for s in SELECTIONS.values() if s.applies(TASKS[task])]
        raise UserError(f"{file}: pseudo.selection = {selection!r} does not fit task {task!r}; "
                        f"use auto or one of {', '.join(fits)}")
    enabled = [name for name, table in cfg["models"].items() if table["enabled"]]
    for name in ps["models"]:
        if name not in enabled:
            raise UserError(f"{file}: pseudo.models names {name!r}, which is not an enabled [models.NAME] table"
                            f"{did_you_mean(str(name), enabled)}; name an enabled model, or [] for the top_k best")
    scheme = SCHEMES.get(cfg["cv"]["scheme"])
    if ps["enabled"] and scheme is not None and scheme.train_from is not None:
        raise UserError(f"{file}: pseudo.enabled with cv.scheme = {scheme.name!r}: test rows come after every "
                        f"validation block, so pseudo-labels would train each fold on the future; set "
                        f"pseudo.enabled = false or choose another scheme")


def read_toml(file: Path) -> dict:
    """A TOML file parsed; malformed TOML or text that is not UTF-8 -> UserError naming the file and the fix."""
    try:
        return tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{file}: malformed TOML: {exc}; fix the syntax at that line") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{file}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


# Encoding of every CSV the pipeline reads: UTF-8, with or without a byte-order mark (Excel writes one).
CSV_ENCODING = "utf-8-sig"


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file, read without pandas (fast, for validation)."""
    try:
        with open(path, newline="", encoding=CSV_ENCODING) as fh:
            row = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    except csv.Error as exc:
        raise UserError(f"{path}: cannot parse the CSV header ({exc}); save the file as CSV") from None
    if not row:
        raise UserError(f"{path}: file is empty; it needs a header row and data")
    return row


def column_hint(name: str, columns: list[str]) -> str:
    """' (did you mean X?)' for a close column name, else how many columns the file has: a message
    never lists a file's header (it may not be a CSV at all)."""
    import difflib

    close = difflib.get_close_matches(name, [c for c in columns if len(c) <= 200], n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" ({separator_hint(columns) or f'the file has {len(columns)} column(s)'})"


def load_competition(root: Path) -> Competition:
    """Load and validate `root/competition.toml` and check its data files and columns exist."""
    root = Path(root)
    file = root / "competition.toml"
    if not file.is_file():
        raise UserError(f"{file}: not found; create it with `python -m pipeline init {root.name} --train ...`")
    raw = read_toml(file)
    cfg = parse_config(raw, file)
    comp = Competition(name=root.name, root=root, cfg=cfg)
    _check_data(comp)
    if raw.get("models") is None:  # the default zoo, sized for this table (as `init` would write it)
        cfg["models"] = {name: _fill_section(f"models.{name}", table, MODEL_SCHEMA, file)
                         for name, table in _sized_zoo(comp).items()}
    return comp


def _sized_zoo(comp: Competition) -> dict:
    """The default zoo for the task and the data's shape, from the headers and the train file's lines
    (counted up to 64 MiB; a larger file's rows are estimated from its first lines' length, as reading
    every line of it on every command would cost seconds; the zoo's size thresholds lie far below)."""
    from core.tasks import TASKS
    from pipeline.zoo import default_models, header_facts, round_trees

    train_cols, test_cols = read_header(comp.train_path), read_header(comp.test_path)
    shared = [c for c in train_cols if c in test_cols and c not in (comp.id_col, *comp.target_columns)]
    size = comp.train_path.stat().st_size
    with open(comp.train_path, "rb") as fh:
        head = fh.read(1 << 26 if size <= 1 << 26 else 1 << 16)
    lines = head.count(b"\n") + (not head.endswith(b"\n"))
    rows = lines - 1 if len(head) >= size else int(size / (len(head) / max(1, lines))) - 1
    classes = 1
    if TASKS[comp.task].per_class_outputs:  # the classes among the lines read (all of them up to 64 MiB)
        import io

        import pandas as pd

        complete = head if len(head) >= size else head[: head.rfind(b"\n") + 1]
        classes = round_trees(comp.task, pd.read_csv(io.BytesIO(complete), usecols=[comp.target])[comp.target])
    return default_models(comp.task, header_facts(shared, rows, classes))


def _check_data(comp: Competition) -> None:
    c = comp.cfg["competition"]
    workspace = comp.workspace.resolve()
    for key in ("train", "test", "sample_submission"):
        path = comp.root / c[key]
        if not c["external_data"] and not path.resolve().is_relative_to(workspace):
            raise UserError(f"competition.{key} = {c[key]!r} is outside the workspace {workspace}; copy the "
                            f"file into {comp.root}, or set competition.external_data = true to read it there")
        if not path.is_file():
            raise UserError(f"{path}: data file not found (competition.{key}); put the file there "
                            f"or point competition.{key} at it")
    train_cols = read_header(comp.train_path)
    test_cols = read_header(comp.test_path)
    sample_cols = read_header(comp.sample_path)
    for cols, path in ((train_cols, comp.train_path), (test_cols, comp.test_path), (sample_cols, comp.sample_path)):
        seen: set[str] = set()
        for name in cols:  # pandas would rename the second one 'name.1' and every message would name that
            if name in seen:
                raise UserError(f"{path}: column {name[:60]!r} appears {cols.count(name)} times in the header; "
                                f"give each column its own name")
            seen.add(name)
    for target in comp.target_columns:
        if target not in train_cols:
            raise UserError(f"{comp.train_path}: target column {target!r} not found"
                            f"{column_hint(target, train_cols)}; set competition.target")
    for cols, path in ((train_cols, comp.train_path), (test_cols, comp.test_path),
                       (sample_cols, comp.sample_path)):
        if comp.id_col not in cols:
            raise UserError(f"{path}: id column {comp.id_col!r} not found"
                            f"{column_hint(comp.id_col, cols)}; set competition.id")
    cv = comp.cfg["cv"]
    if comp.fold_file is not None:
        if not c["external_data"] and not comp.fold_file.resolve().is_relative_to(workspace):
            raise UserError(f"cv.file = {cv['file']!r} is outside the workspace {workspace}; copy the file into "
                            f"{comp.root}, or set competition.external_data = true to read it there")
        if not comp.fold_file.is_file():
            raise UserError(f"{comp.fold_file}: fold file not found (cv.file); put it there or point cv.file at it")
    if comp.weight_col and comp.weight_col not in train_cols:
        raise UserError(f"{comp.train_path}: competition.weight {comp.weight_col!r} not found"
                        f"{column_hint(comp.weight_col, train_cols)}")
    if comp.weight_col in (*comp.target_columns, comp.id_col):
        role = "target" if comp.weight_col in comp.target_columns else "id"
        raise UserError(f"competition.weight = {comp.weight_col!r} is the {role} column; name the column of "
                        f"per-row weights")
    for key in ("group_column", "time_column"):
        col = cv[key]
        if col and col not in train_cols:
            raise UserError(f"{comp.train_path}: cv.{key} {col!r} not found{column_hint(col, train_cols)}")
    for name in comp.cfg["features"]["drop"]:
        if name not in train_cols:
            raise UserError(f"{comp.train_path}: features.drop names {name!r}, which is not a column"
                            f"{column_hint(str(name), train_cols)}")
