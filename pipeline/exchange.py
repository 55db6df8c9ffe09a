"""Teammates' predictions: export a run as a portable bundle, import bundles and notebook CSVs.

A bundle is a zip (or a folder) of plain files -- nothing in it is executed, no pickles:

    bundle.json     format, competition, run, id column, task, classes, prediction columns, metric,
                    folds_sha256 (digest of the fold assignment), row counts
    oof.parquet     id + prediction columns, one row per train row (out-of-fold)
    test.parquet    id + prediction columns, one row per test row
    scores.json     the exporter's scores (informative; re-computed on import)
    params.json     the exporter's model parameters (kept as provenance)
    fitted/         the run's fold models (manifest.json with each file's SHA-256, each library's own
                    format) and
    features/       the saved feature-block states they read (JSON and .npy): with both, the
                    importer's `predict` and `bundle` score new rows with the teammate's models on the
                    teammate's features. Left out for a run that kept no fold models, one of a plug-in
                    model type or plug-in feature blocks (code a bundle does not carry), or `--no-models`.

Import validates before writing anything: same id sets (no missing, extra or repeated ids), the same
fold assignment as runs/folds.csv, prediction columns that fit the task, no NaN/inf, probabilities in
[0, 1]. The run lands in competition/<name>/imports/<run>/ in the run-folder layout, so it joins the
leaderboard and the ensemble like a local model.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import numpy as np

from core import io as _io
from pipeline.config import Competition
from core.errors import UserError, shown
from core.io import separator_hint
from core.folds import fold_ids, folds_digest

BUNDLE_FORMAT = "kaggle-pipeline-bundle"
BUNDLE_VERSION = 1
BUNDLE_FILES = ("bundle.json", "oof.parquet", "test.parquet", "scores.json", "params.json")
# the folders of fold models and feature states (`_model_files`); a member's path below them: plain names
IMPORTED_FEATURES = "features"  # in an imported run's folder: the feature states its fold models read
MODEL_FOLDERS = ("fitted", IMPORTED_FEATURES)
# (a multi-target run's fold holds a model per target column, each with its estimator: r0/f0/target_0/estimator/)
_MODEL_MEMBER = re.compile(rf"^({'|'.join(MODEL_FOLDERS)})(/[A-Za-z0-9_][A-Za-z0-9_.-]{{0,199}}){{1,8}}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_MAX_MEMBER_BYTES = 2 << 30


def _competition_rows(comp: Competition, context=None):
    """(train, test, folds aligned with train, task) for validation: the validated train rows only
    (forward chaining never predicts its earliest block, so OOF files leave those rows out). `context`:
    the run's pipeline.context.CompetitionContext when the caller has one."""
    from core.folds import validated
    from pipeline.context import CompetitionContext

    if not comp.folds_path.is_file():
        raise UserError(f"{comp.folds_path}: no fold file yet; run `python -m pipeline run --stage folds` first")
    context = context or CompetitionContext(comp)
    train, test, _ = context.data()
    task = context.task_info()
    folds = context.folds()
    rows = validated(folds)
    if not rows.all():
        train, folds = train[rows].reset_index(drop=True), folds[rows]
    return train, test, folds, task


def _model_files(comp: Competition, run_dir: Path, context) -> tuple[dict[str, bytes], str]:
    """The run's fold models and the feature states they read, as bundle members (`fitted/...`,
    `features/...`), or ({}, why they cannot travel)."""
    from models._types import MODEL_TYPES
    from pipeline.artifacts import FEATURE_STATES_DIR, FEATURES_DIR, FITTED_DIR, run_model_type

    fitted = run_dir / FITTED_DIR
    if not (fitted / "manifest.json").is_file():
        if run_dir.parent == comp.runs:  # the ensemble: its fold models are its members'
            return {}, ("an ensemble's fold models are its members'; export them to send them "
                        "(`export NAME NAME ...`: a bundle each)")
        if run_dir.parent == comp.imports_dir:
            return {}, "it was imported as predictions only"
        return {}, "it kept no fold models (runtime.save_models = false when it trained)"
    manifest = _io.read_json(fitted / "manifest.json")
    if manifest.get("unsaved"):
        return {}, str(manifest["unsaved"])
    kind = run_model_type(_io.read_json(run_dir / "params.json")) if (run_dir / "params.json").is_file() else ""
    if kind not in MODEL_TYPES:
        return {}, f"its model type {kind!r} is a plug-in, code a bundle does not carry"
    states = run_dir / IMPORTED_FEATURES  # a teammate's run imported with its models carries their states
    if not states.is_dir():
        if manifest.get("features_digest") != context.training().features_digest():
            return {}, "its fold models were trained on features built before the current ones; retrain it first"
        states = comp.runs / FEATURES_DIR / FEATURE_STATES_DIR
    if any("source" in entry for entry in _io.read_json(states / "manifest.json").get("blocks", [])):
        return {}, "its features include plug-in blocks (features.py), code a bundle does not carry"
    files = {}
    for folder, prefix in zip((fitted, states), MODEL_FOLDERS):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files[f"{prefix}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files, ""


def export_run(comp: Competition, run_dir: Path, out: Path, *, context=None, models: bool = True,
               log=print) -> Path:
    """Write the run in `run_dir` as a bundle zip at `out` (atomically); returns `out`. `models`: send its
    fold models and the feature states they read too, where they can travel (`_model_files`)."""
    import pandas as pd

    from pipeline.context import CompetitionContext

    context = context or CompetitionContext(comp)
    train, _, folds, task = _competition_rows(comp, context)
    oof = pd.read_parquet(run_dir / "oof.parquet")
    if (run_dir / "oof_repeats.parquet").is_file():
        # a teammate combines it on folds.csv's first fold assignment: the first CV repeat's OOF
        # predictions, not the repeats' average (whose rows other repeats' models trained on)
        repeats = pd.read_parquet(run_dir / "oof_repeats.parquet")
        oof = repeats[repeats["repeat"] == 0].drop(columns="repeat").reset_index(drop=True)
    test = pd.read_parquet(run_dir / "test.parquet")
    scores_path, params_path = run_dir / "scores.json", run_dir / "params.json"
    ours = folds_digest(train[comp.id_col], folds)
    made_on = _io.read_json(scores_path).get("folds_sha256", ours) if scores_path.is_file() else ours
    if made_on != ours:  # the manifest would vouch for folds the run was not made on
        raise UserError(f"run {run_dir.name!r} was made on other folds than {comp.folds_path.name} holds now; "
                        f"retrain it (python -m pipeline run --models {run_dir.name}) before exporting it")
    manifest = {
        "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "competition": comp.name, "run": run_dir.name,
        "id": comp.id_col, "task": task.task, "classes": list(task.classes),
        "prediction_columns": task.prediction_columns(), "metric": comp.metric_name,
        "folds_sha256": ours, "n_splits": len(fold_ids(folds)),
        "rows": {"oof": len(oof), "test": len(test)}, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    model_files, why_not = _model_files(comp, run_dir, context) if models else ({}, "")
    if model_files:
        manifest["models"] = {"files": len(model_files), "bytes": sum(map(len, model_files.values()))}
        log(f"[export] {run_dir.name}: with its fold models and the feature states they read "
            f"({manifest['models']['bytes'] / 1e6:.1f} MB): the teammate's `predict` and `bundle` can score new "
            f"rows with it")
    elif why_not:
        log(f"[export] {run_dir.name}: predictions only (a teammate can blend it, not score new rows with it): "
            f"{why_not}")
    with _io.atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bundle.json", _json(manifest))
            if (run_dir / "oof_repeats.parquet").is_file():
                zf.writestr("oof.parquet", oof.to_parquet(index=False))
            else:
                zf.write(run_dir / "oof.parquet", "oof.parquet")
            zf.write(run_dir / "test.parquet", "test.parquet")
            zf.writestr("scores.json", scores_path.read_text() if scores_path.exists() else "{}\n")
            zf.writestr("params.json", params_path.read_text() if params_path.exists() else "{}\n")
            for name, content in model_files.items():
                zf.writestr(name, content)
    return out


def _json(obj) -> str:
    import json

    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


# Most bytes a bundle member may hold once decompressed, checked against the zip's declared sizes
# before anything is decompressed (and again while reading, should a header lie): JSON members are
# small; a prediction table holds an id and a few numbers per row.
_JSON_LIMIT = 1 << 20
_TABLE_BASE, _TABLE_PER_CELL = 4 << 20, 256


def _member_limit(name: str, rows: int, columns: int) -> int:
    if _MODEL_MEMBER.match(name):  # a fold model's or a feature state's file: no size follows from the rows
        return _MAX_MEMBER_BYTES
    if name.endswith(".json"):
        return _JSON_LIMIT
    return _TABLE_BASE + _TABLE_PER_CELL * rows * (columns + 1)


def _bundle_members(path: Path, names: list[str], sizes: dict[str, int], *, rows: int, columns: int) -> None:
    """Every member a known bundle file, once, within its size limit; UserError naming the first that is not."""
    seen: set[str] = set()
    for name in names:
        if name not in BUNDLE_FILES and not (_MODEL_MEMBER.match(name) and ".." not in name.split("/")):
            folders = ", ".join(f + "/" for f in MODEL_FOLDERS)
            raise UserError(f"{path}: unexpected member {name[:80]!r}; a bundle holds only "
                            f"{', '.join(BUNDLE_FILES)} and the folders {folders} -- re-export it with "
                            f"`python -m pipeline export`")
        if name in seen:
            raise UserError(f"{path}: {name} appears twice; a bundle holds each file once -- re-export it")
        seen.add(name)
        limit = _member_limit(name, rows, columns)
        if sizes[name] > limit:
            raise UserError(f"{path}: {name} would be {sizes[name]:,} bytes uncompressed, more than the "
                            f"{limit:,} a bundle of this competition needs; refusing to decompress it")


def _read_bundle(path: Path, *, rows: int, columns: int) -> dict[str, bytes]:
    """The bundle's files by name, from a zip or a folder, each checked (`_bundle_members`) before it
    is read: nothing unknown, repeated, linked or oversized. `rows`: train + test rows; `columns`:
    prediction columns."""
    import stat

    files: dict[str, bytes] = {}
    if path.is_dir():
        entries = sorted(p for p in path.rglob("*") if not (p.is_dir() and not p.is_symlink()
                                                            and p.relative_to(path).parts[0] in MODEL_FOLDERS))
        for entry in entries:
            if entry.is_symlink() or not entry.is_file():
                raise UserError(f"{path}: {entry.relative_to(path).as_posix()[:80]!r} is a link or a folder; a "
                                f"bundle folder holds only the plain files {', '.join(BUNDLE_FILES)} and the "
                                f"folders {', '.join(f + '/' for f in MODEL_FOLDERS)}")
        names = [e.relative_to(path).as_posix() for e in entries]
        _bundle_members(path, names, {n: e.stat().st_size for n, e in zip(names, entries)}, rows=rows,
                        columns=columns)
        files = {n: e.read_bytes() for n, e in zip(names, entries)}
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                prefix = _common_folder([i.filename for i in infos])
                # the folder entries a zip tool writes for fitted/ and features/ (and their subfolders)
                members = [i for i in infos if i.filename != prefix and not (
                    i.is_dir() and i.filename[len(prefix):].split("/", 1)[0] in MODEL_FOLDERS)]
                for info in members:
                    if stat.S_ISLNK(info.external_attr >> 16) or info.is_dir():
                        raise UserError(f"{path}: member {info.filename[:80]!r} is a link or a folder; a bundle "
                                        f"holds only plain files")
                names = [i.filename[len(prefix):] for i in members]
                _bundle_members(path, names, {n: i.file_size for n, i in zip(names, members)},
                                rows=rows, columns=columns)
                for name, info in zip(names, members):
                    files[name] = _read_member(zf, info, _member_limit(name, rows, columns), path, name)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError) as exc:
            raise UserError(f"{path}: damaged or unsupported zip ({str(exc)[:120] or type(exc).__name__}); "
                            f"ask for a new export") from None
    elif path.exists():
        raise UserError(f"{path}: not a bundle (expected a .zip or a folder from `python -m pipeline export`); "
                        f"for plain CSVs use `import --oof OOF.csv --test TEST.csv --name NAME`")
    else:
        raise UserError(f"{path}: not found; pass the bundle written by `python -m pipeline export RUN_ID`")
    missing = [n for n in ("bundle.json", "oof.parquet", "test.parquet") if n not in files]
    if missing:
        raise UserError(f"{path}: bundle lacks {', '.join(missing)}; re-export it with `python -m pipeline export`")
    return files


def _common_folder(names: list[str]) -> str:
    """'folder/' when every member lies in one top folder (a zipped bundle folder), else ''."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return next(iter(tops)) + "/"
    return ""


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: Path, name: str) -> bytes:
    """A member's bytes, read in chunks and abandoned past `limit` (a header may understate the size)."""
    chunks, total = [], 0
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise UserError(f"{path}: {name} decompresses to more than {limit:,} bytes; refusing it")
            chunks.append(chunk)
    return b"".join(chunks)


def _check_name(comp: Competition, name: str) -> None:
    if not _NAME.match(name):
        raise UserError(f"import name {name!r} must be letters, digits, '_', '.' or '-' (start with a letter "
                        f"or digit); pass --name NAME")
    if name in comp.cfg["models"] or name == "ensemble":
        raise UserError(f"import name {name!r} is taken by a local model; pass --name with another name, "
                        f"e.g. --name {name}-teammate")


def _aligned(frame, ids, *, id_col: str, columns: list[str], task, what: str, source: str) -> np.ndarray:
    """Prediction array in the order of `ids`, after the id and value checks."""
    import pandas as pd

    if id_col not in frame.columns:
        raise UserError(f"{source}: no id column {id_col!r} in {what} (columns: {', '.join(map(str, frame.columns))})")
    got = pd.Index(frame[id_col])
    if got.has_duplicates:
        raise UserError(f"{source}: {what} repeats id {shown(got[got.duplicated()][0])}; one row per id")
    want = pd.Index(ids)
    pos = got.get_indexer(want)
    if (pos < 0).any():
        first = want[pos < 0][0]
        raise UserError(f"{source}: {what} misses {int((pos < 0).sum())} of the {len(want)} ids "
                        f"(first: {shown(first)}); it must cover exactly this competition's rows")
    if len(got) != len(want):
        extra = got.difference(want)
        raise UserError(f"{source}: {what} has {len(extra)} id(s) that are not in this competition "
                        f"(first: {shown(extra[0])})")
    try:
        values = frame[columns].to_numpy(dtype=np.float64)[pos]
    except (TypeError, ValueError):
        raise UserError(f"{source}: {what} prediction columns {columns} must be numbers") from None
    if not np.isfinite(values).all():
        raise UserError(f"{source}: {what} has {int((~np.isfinite(values)).any(axis=1).sum())} row(s) with "
                        f"NaN or infinite predictions")
    if task.is_classification:
        if (values < 0).any() or (values > 1).any():
            raise UserError(f"{source}: {what} probabilities must lie in [0, 1]; "
                            f"found {values.min():.4g}..{values.max():.4g}")
        if task.kind.per_class_outputs and not np.allclose(values.sum(axis=1), 1.0, atol=1e-3):  # not multilabel
            raise UserError(f"{source}: {what} class probabilities must sum to 1 in every row")
    return task.squeeze(values)


def _write_import(comp: Competition, name: str, *, train, test, folds, task, oof: np.ndarray,
                  test_pred: np.ndarray, provenance: dict, params: dict, log, files: dict | None = None) -> Path:
    from pipeline.artifacts import by_column, scores_record, write_run
    from core.metrics import column_scores, get_metric

    from pipeline.data import read_weights

    metric = get_metric(comp.metric_name, comp.root)
    y = task.encode(train[comp.target])
    w = read_weights(comp, train)  # [competition] weight: scored like the cv runs it is compared with
    fold_scores = [metric(y[folds == k], oof[folds == k], None if w is None else w[folds == k])
                   for k in np.unique(folds)]
    # checked against our folds.csv, so made on them: recorded as a cv run records its folds
    columns = column_scores(metric, task, y, oof, w)
    scores = scores_record(metric, fold_scores, metric(y, oof, w), folds_sha256=folds_digest(train[comp.id_col], folds),
                           **({"columns": columns} if columns else {}))
    dest = comp.imports_dir / name
    if dest.exists():
        log(f"[import] replacing the earlier import {name!r}")
    write_run(dest, id_col=comp.id_col, task=task, train_ids=train[comp.id_col], oof=oof,
              test_ids=test[comp.id_col], test=test_pred, scores=scores,
              params={"imported": provenance, "params": params}, timings={}, files=files)
    by_target = f"; by target column {by_column(scores, columns)}" if columns else ""
    log(f"[import] {name}: OOF {metric.name} {scores['overall']:.5f} "
        f"(folds {', '.join(f'{s:.4f}' for s in fold_scores)}{by_target})")
    if task.is_classification and np.isin(oof, (0.0, 1.0)).all():
        log(f"[import] warning: the OOF predictions of {name} are all 0 or 1, labels rather than probabilities: a "
            f"blend or a ranking metric gets little from them; export each row's predicted probability instead")
    return dest


def import_bundle(comp: Competition, path: Path, *, name: str | None = None, log=print, context=None,
                  models: bool = True, earlier: dict[str, Path] | None = None) -> Path:
    """Validate a bundle against the competition and add it as competition/<name>/imports/<run>/, with
    the fold models and feature states it carries unless `models` is false. `earlier`: run name -> bundle
    of the imports one command made before this one (two teammates' `lgbm` must not replace each other)."""

    import pandas as pd

    path = Path(path)
    train, test, folds, task = _competition_rows(comp, context)
    files = _read_bundle(path, rows=len(train) + len(test), columns=task.n_outputs)
    manifest = _loads(files["bundle.json"], path, "bundle.json")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise UserError(f"{path}: bundle.json is not a {BUNDLE_FORMAT} manifest; re-export the run")
    if manifest.get("version") != BUNDLE_VERSION:
        raise UserError(f"{path}: bundle version {manifest.get('version')!r}, this pipeline reads "
                        f"version {BUNDLE_VERSION}; re-export with the same pipeline version")
    name = name or str(manifest.get("run", ""))
    _check_name(comp, name)
    if name in (earlier or {}):
        raise UserError(f"{path}: its run {name!r} is also {earlier[name]}'s, imported by this command; import it on "
                        f"its own with --name, e.g. --name {name}-2")
    if manifest.get("task") != task.task:
        raise UserError(f"{path}: bundle task {manifest.get('task')!r} differs from the competition's "
                        f"{task.task!r}; it was made for another competition")
    if [str(c) for c in manifest.get("classes", [])] != [str(c) for c in task.classes]:
        raise UserError(f"{path}: bundle classes {manifest.get('classes')} differ from the training "
                        f"target's {list(task.classes)}")
    if manifest.get("id") != comp.id_col:
        raise UserError(f"{path}: bundle id column {manifest.get('id')!r} differs from competition.id "
                        f"{comp.id_col!r}")
    ours = folds_digest(train[comp.id_col], folds)
    if manifest.get("folds_sha256") != ours:
        raise UserError(f"{path}: its fold assignment differs from {comp.folds_path} (folds_sha256 "
                        f"{str(manifest.get('folds_sha256'))[:12]}... vs ours {ours[:12]}...); its OOF "
                        f"predictions cannot be combined honestly -- retrain it on our folds.csv")
    columns = task.prediction_columns()
    arrays = []
    for part, ids in (("oof.parquet", train[comp.id_col]), ("test.parquet", test[comp.id_col])):
        try:
            frame = pd.read_parquet(io.BytesIO(files[part]))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise UserError(f"{path}: {part} is not a readable parquet file ({type(exc).__name__})") from None
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UserError(f"{path}: {part} lacks prediction column(s) {missing}; expected {columns}")
        arrays.append(_aligned(frame, ids, id_col=comp.id_col, columns=columns, task=task, what=part,
                               source=str(path)))
    params = _loads(files.get("params.json"), path, "params.json")
    provenance = {"source": str(path), "kind": "bundle", "manifest": manifest,
                  "exporter_scores": _loads(files.get("scores.json"), path, "scores.json")}
    model_files = {} if not models else {n: b for n, b in files.items() if n.split("/", 1)[0] in MODEL_FOLDERS}
    if model_files:
        _check_model_files(model_files, path, test)
    dest = _write_import(comp, name, train=train, test=test, folds=folds, task=task, oof=arrays[0],
                         test_pred=arrays[1], provenance=provenance, params=params, log=log, files=model_files)
    if model_files:
        log(f"[import] {name}: with its fold models and feature states, so `predict` and `bundle` score new rows "
            f"with it")
    return dest


def _check_model_files(files: dict[str, bytes], path: Path, test) -> None:
    """A bundle's fold models and feature states, checked before anything is written: every file its
    manifest lists (SHA-256) and no other, each fold model loadable from the trusted formats alone (no
    plug-in code), the feature states readable without plug-in blocks, reading columns test.csv has."""
    import hashlib
    import tempfile

    from features import FrozenFeatures
    from models.persist import load_model

    retry = "or import it as predictions only with --no-models"
    if "fitted/manifest.json" not in files or "features/manifest.json" not in files:
        raise UserError(f"{path}: carries fold models or feature states without their manifests; ask for a new "
                        f"export, {retry}")
    fitted = _loads(files["fitted/manifest.json"], path, "fitted/manifest.json")
    listed = {"fitted/manifest.json"}
    try:
        for rep in fitted["repeats"]:
            for entry in rep["folds"]:
                fold = {}
                for fname, digest in entry["files"].items():
                    member = f"fitted/{entry['dir']}/{fname}"
                    if member not in files or hashlib.sha256(files[member]).hexdigest() != digest:
                        raise UserError(f"{path}: {member} is missing or differs from its manifest's SHA-256; ask "
                                        f"for a new export, {retry}")
                    listed.add(member)
                    fold[fname] = files[member]
                try:
                    load_model(fold)
                except UserError as exc:
                    raise UserError(f"{path}: {entry['dir']}: {exc}; {retry}") from None
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{path}: fitted/manifest.json is not a fold-model manifest; ask for a new export, "
                        f"{retry}") from None
    extra = sorted(n for n in files if n.startswith("fitted/") and n not in listed)
    if extra:
        raise UserError(f"{path}: {extra[0]} is not in fitted/manifest.json; ask for a new export, {retry}")
    with tempfile.TemporaryDirectory() as tmp:
        for member, content in files.items():
            if member.startswith("features/"):
                (Path(tmp) / member).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / member).write_bytes(content)
        try:
            frozen = FrozenFeatures.load(Path(tmp) / "features")
        except UserError as exc:
            raise UserError(f"{path}: its feature states: {str(exc).split(': ', 1)[-1]}; {retry}") from None
    missing = [c for c in frozen.inputs if c not in test.columns]
    if missing:
        raise UserError(f"{path}: its features read column(s) {', '.join(map(repr, missing[:5]))} that test.csv "
                        f"lacks; {retry}")


def _loads(data: bytes | None, path: Path, name: str) -> dict:
    """A bundle's JSON member as a dict ({} when absent); anything else (a pickle, a list) -> UserError."""
    import json

    if data is None:
        return {}
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{path}: {name} is not JSON text; a bundle's files are plain JSON and parquet "
                        f"(nothing executable) -- re-export the run") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: {name} must hold a JSON object, got a {type(obj).__name__}; re-export the run")
    return obj


def _csv_columns(frame, comp: Competition, task, source: str) -> list[str]:
    """The prediction columns of a notebook CSV: the class labels (multiclass) or its one value column."""
    rest = [c for c in frame.columns if c not in (comp.id_col, "fold")]
    if task.n_outputs > 1:
        names = task.prediction_columns()
        if sorted(map(str, rest)) != sorted(names):
            what = "target columns" if task.kind.multi_target else "classes"
            value = "probability" if task.is_classification else "prediction"
            raise UserError(f"{source}: prediction columns {rest} must be the {what} {names}, one {value} "
                            f"column each")
        return names
    if len(rest) == 1:
        return rest
    for preferred in ("pred", comp.target):
        if preferred in rest:
            return [preferred]
    raise UserError(f"{source}: expected one prediction column besides {comp.id_col!r} and 'fold', "
                    f"found {rest}; name it 'pred'")


def import_csv(comp: Competition, oof_path: Path, test_path: Path, *, name: str | None = None, log=print,
               context=None) -> Path:
    """Import OOF and test predictions made elsewhere (a notebook) on our folds.csv.

    The OOF file needs the id, a `fold` column copied from runs/folds.csv (checked row by row) and the
    prediction column(s); the test file the id and the same prediction column(s)."""
    import pandas as pd

    oof_path, test_path = Path(oof_path), Path(test_path)
    name = name or oof_path.stem
    _check_name(comp, name)
    from pipeline.data import csv_errors, read_parquet_table

    frames = []
    for p in (oof_path, test_path):
        if not p.is_file():
            raise UserError(f"{p}: not found")
        if p.suffix.lower() == ".parquet":  # a notebook's predictions may be saved as Parquet
            frames.append(read_parquet_table(p))
            continue
        with csv_errors(p):
            frames.append(pd.read_csv(p))
        hint = separator_hint([str(c) for c in frames[-1].columns])
        if hint:
            raise UserError(f"{p}: {hint}")
    oof_frame, test_frame = frames
    train, test, folds, task = _competition_rows(comp, context)
    if "fold" not in oof_frame.columns:
        raise UserError(f"{oof_path}: no 'fold' column; merge runs/folds.csv into it on {comp.id_col!r} so "
                        f"the import can check the predictions were made on our folds")
    if comp.id_col in oof_frame.columns and not oof_frame[comp.id_col].duplicated().any():
        theirs = dict(zip(oof_frame[comp.id_col].tolist(), oof_frame["fold"].tolist()))
        differ = [i for i, f in zip(train[comp.id_col].tolist(), folds.tolist())
                  if i in theirs and theirs[i] != f]
        if differ:
            raise UserError(f"{oof_path}: fold assignment differs from {comp.folds_path} for {len(differ)} "
                            f"row(s) (first id: {shown(differ[0])}); retrain on our folds.csv")
    columns = _csv_columns(oof_frame, comp, task, str(oof_path))
    ignored = [str(c) for c in oof_frame.columns if c not in (comp.id_col, "fold", *columns)]
    if ignored:
        log(f"[import] predictions from column {columns[0]!r}; other column(s) ignored: {', '.join(ignored)}")
    missing = [c for c in columns if c not in test_frame.columns]
    if missing:
        raise UserError(f"{test_path}: lacks prediction column(s) {missing} found in {oof_path.name}")
    oof = _aligned(oof_frame, train[comp.id_col], id_col=comp.id_col, columns=columns, task=task,
                   what="the OOF file", source=str(oof_path))
    test_pred = _aligned(test_frame, test[comp.id_col], id_col=comp.id_col, columns=columns, task=task,
                         what="the test file", source=str(test_path))
    provenance = {"source": [str(oof_path), str(test_path)], "kind": "csv", "columns": columns}
    return _write_import(comp, name, train=train, test=test, folds=folds, task=task, oof=oof,
                         test_pred=test_pred, provenance=provenance, params={}, log=log)
