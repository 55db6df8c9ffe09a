"""Scoring new rows with a finished run: the saved feature-block states, every ensemble member's fold
models, and the ensemble's method, applied as the run applied them to test.csv.

A `Predictor` is described by a small JSON (`predictor.json`: the competition's id, target, task,
classes, metric, submission style, test.csv's columns, the members' run folders and the ensemble)
plus the train rows' targets and folds (`target.parquet`) that the ensemble's method was fitted on.
In a workspace it is built from the competition's context; `python -m pipeline bundle` writes it
into a folder that predicts on a machine with neither the data nor the internet.

New rows are read in chunks: features and fold models run chunk by chunk, and the ensemble's method
is applied once to the members' predictions (a few numbers per row). Its fit is replayed from the
members' OOF predictions exactly as the ensemble stage made it (same code, same rows), so `predict`
on test.csv gives the run's own test predictions -- and hence its submission.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core import io as _io
from core.errors import UserError, shown

PREDICTOR_DIR = "predictor"  # in a bundle's competition folder: predictor.json + target.parquet
SPEC_FILE = "predictor.json"
TARGET_FILE = "target.parquet"
CHUNK_ROWS = 100_000
_FORMAT = 1


@dataclass
class Predictor:
    """What scoring new rows needs: `spec` (predictor.json), `root` (the folder the spec's paths are
    relative to), the train rows' targets and folds, and where the plug-ins live."""

    spec: dict
    root: Path
    target: Any  # DataFrame: id, target:<column> per target column, fold_<r> per CV repeat[, weight]
    sample: Any  # the sample submission (DataFrame)
    log: Callable[[str], None] = print
    _models: dict = field(default_factory=dict)
    _states: dict = field(default_factory=dict)  # feature states folder -> features.FrozenFeatures, loaded once
    _blends: dict = field(default_factory=dict)  # CV repeat -> the fitted weights of a linear method, found once
    _oofs: dict = field(default_factory=dict)  # member -> its OOF predictions (models.ensemble.Member), read once

    # ---- building -------------------------------------------------------------------------------
    @classmethod
    def from_workspace(cls, ctx, *, log: Callable[[str], None] = print) -> "Predictor":
        """The predictor of the competition's latest run (a `pipeline.context.CompetitionContext`)."""
        comp = ctx.comp
        ensemble = comp.runs / "ensemble"
        if not (ensemble / "params.json").is_file():
            raise UserError(f"{comp.name}: no ensemble run in {ensemble}; run `python -m pipeline run` first")
        stale = _stale_stages(comp)
        if stale:
            log(f"note: the latest run is stale ({'; '.join(stale)}): these are its predictions, not those of "
                f"competition.toml and the data as they are now; `python -m pipeline run` first to use the change")
        train, test, sample = ctx.data()
        task = ctx.task_info()
        params = _io.read_json(ensemble / "params.json")
        dirs = ctx.run_dirs()
        members = _member_names(params, ensemble)
        from pipeline.artifacts import FITTED_DIR
        from pipeline.exchange import IMPORTED_FEATURES

        imported = comp.imports_dir
        paths, own_features = {}, {}
        for name in members:
            if name not in dirs:
                raise UserError(f"ensemble member {name!r} has no run folder any more; run `python -m pipeline run`")
            path = dirs[name]
            if path.parent == imported:
                if not ((path / FITTED_DIR / "manifest.json").is_file() and (path / IMPORTED_FEATURES).is_dir()):
                    raise UserError(f"ensemble member {name!r} is an imported teammate run without fold models "
                                    f"(predictions only), so new rows cannot be scored with it; ask for an export "
                                    f"with them (`export` sends them unless --no-models) or leave it out with "
                                    f"ensemble.models and run the ensemble again")
                # the teammate's models read the teammate's features: their saved states came with them
                own_features[name] = os.path.relpath(path / IMPORTED_FEATURES, comp.root)
            paths[name] = os.path.relpath(path, comp.root)
        frame = {comp.id_col: train[comp.id_col].to_numpy()}
        for col in comp.target_columns:  # one or several (multi-target tasks)
            frame[f"target:{col}"] = train[col].to_numpy()
        for r in range(ctx.repeats()):
            frame[f"fold_{r}"] = np.asarray(ctx.folds(r), dtype=np.int64)
        weights = ctx.sample_weight()
        if weights is not None:
            frame["weight"] = np.asarray(weights, dtype=np.float64)
        import pandas as pd

        from pipeline.artifacts import FEATURE_STATES_DIR, FEATURES_DIR

        cfg = comp.cfg
        spec = {
            "format": _FORMAT, "competition": comp.name, "id": comp.id_col, "target": comp.target,
            "task": task.task, "classes": list(task.classes), "targets": list(task.targets),
            "metric": comp.metric_name,
            "submission": cfg["competition"]["submission"],
            "columns": {str(c): str(test[c].dtype) for c in test.columns},
            "members": paths, "ensemble": os.path.relpath(ensemble, comp.root),
            "features": os.path.relpath(comp.runs / FEATURES_DIR / FEATURE_STATES_DIR, comp.root),
            "features_digest": ctx.training().features_digest(), "member_features": own_features,
            "ensemble_config": cfg["ensemble"], "stacker_tables": _stacker_tables(cfg),
            "threads": ctx.threads(),
        }
        return cls(spec, comp.root, pd.DataFrame(frame), sample, log)

    @classmethod
    def from_folder(cls, folder: Path, *, log: Callable[[str], None] = print) -> "Predictor":
        """A predictor written by `save` (a bundle's competition folder)."""
        import pandas as pd

        folder = Path(folder)
        spec_path = folder / PREDICTOR_DIR / SPEC_FILE
        try:
            spec = _io.read_json(spec_path)
            target = pd.read_parquet(folder / PREDICTOR_DIR / TARGET_FILE)
            sample = pd.read_csv(folder / "sample_submission.csv")
        except (OSError, ValueError) as exc:
            raise UserError(f"{folder}: not a predictor folder ({type(exc).__name__}: {str(exc)[:120]}); "
                            f"make one with `python -m pipeline bundle`") from None
        if not isinstance(spec, dict) or spec.get("format") != _FORMAT:
            raise UserError(f"{spec_path}: unknown predictor format; make the bundle again with this version")
        return cls(spec, folder, target, sample, log)

    @classmethod
    def load(cls, path: str | os.PathLike = ".", *, competition: str | None = None,
             log: Callable[[str], None] = print) -> "Predictor":
        """The predictor at `path`, for Python code (a notebook, Kaggle's inference server): a bundle's
        competition folder (`python -m pipeline bundle`), else a workspace or one of its competition folders,
        whose latest run it scores with (`competition`: which of a workspace's competitions, when it has several)."""
        path = Path(path)
        if (path / PREDICTOR_DIR / SPEC_FILE).is_file():
            return cls.from_folder(path, log=log)
        from pipeline.context import CompetitionContext
        from pipeline.workspace import Workspace

        if not path.is_dir():
            raise UserError(f"{path}: no such folder; give a workspace or a bundle's competition folder")
        if (path / "competition.toml").is_file() and path.parent.name == "competition":  # competition/NAME
            path, competition = path.parent.parent, competition or path.name
        comp = Workspace(path).competition(competition)
        return cls.from_workspace(CompetitionContext(comp, log=log), log=log)

    def save(self, folder: Path) -> None:
        """Write predictor.json, the train rows' targets and folds, and the sample submission into
        `folder` (the caller copies the run folders the spec names)."""
        out = Path(folder) / PREDICTOR_DIR
        out.mkdir(parents=True, exist_ok=True)
        _io.write_json(out / SPEC_FILE, self.spec)
        _io.write_parquet(out / TARGET_FILE, self.target)
        with _io.atomic_path(Path(folder) / "sample_submission.csv") as tmp:
            self.sample.to_csv(tmp, index=False)

    # ---- what it is made of ---------------------------------------------------------------------
    @functools.cached_property
    def task(self):
        from core.tasks import TaskInfo

        return TaskInfo(self.spec["task"], tuple(self.spec["classes"]), tuple(self.spec.get("targets", ())))

    @functools.cached_property
    def metric(self):
        from core.metrics import get_metric

        return get_metric(self.spec["metric"], self.root)

    @functools.cached_property
    def predict_threads(self) -> int:
        """Threads a model that predicts alike on any count may use here: this machine's cores."""
        from core.threads import cpu_count

        return cpu_count()

    @property
    def plugin_dir(self) -> Path | None:
        path = self.root / "models"
        return path if path.is_dir() else None

    def files(self) -> list[Path]:
        """Every file a bundle must carry for this predictor (relative to `root`)."""
        out = []
        for rel in [*self.spec["members"].values(), self.spec["ensemble"]]:
            folder = self.root / rel
            out += [p for p in folder.rglob("*") if p.is_file()]
        states = self.root / self.spec["features"]
        out += [p for p in states.rglob("*") if p.is_file()]
        if self.spec["ensemble_config"].get("passthrough"):
            features = states.parent
            out += sorted(features.glob("train*.parquet"))
        for plugin in ("features.py", "metrics.py"):
            if (self.root / plugin).is_file():
                out.append(self.root / plugin)
        if self.plugin_dir is not None:
            out += [p for p in self.plugin_dir.rglob("*.py")]
        return [p.relative_to(self.root) for p in out]

    @property
    def features(self):
        """The run's own feature states (`features.FrozenFeatures`)."""
        return self._frozen(self.spec["features"])

    def _states_of(self, name: str) -> str:
        """The feature states member `name`'s fold models read: the run's, or an imported teammate run's own."""
        return self.spec.get("member_features", {}).get(name, self.spec["features"])

    def _feature_sets(self) -> list[str]:
        """The feature states these rows must be transformed with: the members' (and the run's own for a
        stack that passes the features through)."""
        sets = [self.spec["features"]] if self._passthrough else []
        return list(dict.fromkeys([*sets, *(self._states_of(n) for n in self.spec["members"])]))

    def _frozen(self, rel: str):
        """The feature states in folder `rel` (`features.FrozenFeatures`), loaded once."""
        if rel not in self._states:
            from features import FrozenFeatures

            states = self.root / rel
            if not states.is_dir():
                raise UserError(f"{states}: no saved feature states; re-run the features stage "
                                f"(`python -m pipeline run --stage features --force`)")
            plugin = self.root / "features.py"  # a teammate's states hold no plug-in blocks (pipeline.exchange)
            own = rel == self.spec["features"] and plugin.is_file()
            self._states[rel] = FrozenFeatures.load(states, plugin_file=plugin if own else None)
        return self._states[rel]

    def transform(self, rows) -> dict[str, tuple[Any, dict]]:
        """(X, arrays) of a DataFrame of new rows under each feature state set a member reads."""
        return {rel: self._frozen(rel).transform(rows) for rel in self._feature_sets()}

    def _fold_models(self, name: str) -> tuple[bool, list[tuple[list, list, Any]]]:
        """Member `name`'s fold models, loaded once: whether its model type sets its own threads, and per
        CV repeat (models, clip ranges, test weights)."""
        if name in self._models:
            return self._models[name]
        from models._types import model_type
        from models.persist import load_model
        from pipeline.artifacts import run_model_type

        folder = self.root / self.spec["members"][name] / "fitted"
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise UserError(f"ensemble member {name!r} kept no fold models ({folder} is missing); set "
                            f"runtime.save_models = true and re-train it (`python -m pipeline run --force`)")
        manifest = _io.read_json(manifest_path)
        if manifest.get("unsaved"):
            raise UserError(f"ensemble member {name!r} cannot score new rows: {manifest['unsaved']}")
        own_states = name in self.spec.get("member_features", {})  # an import: its states came with it
        if not own_states and manifest.get("features_digest") and \
                manifest["features_digest"] != self.spec["features_digest"]:
            raise UserError(f"{folder}: these fold models were trained on other features (another competition, "
                            f"or features built since); re-train them with `python -m pipeline run`")
        repeats = []
        for rep in manifest["repeats"]:
            models, clips = [], []
            for entry in rep["folds"]:
                files = {}
                for fname, digest in entry["files"].items():
                    path = folder / entry["dir"] / fname
                    try:
                        content = path.read_bytes()
                    except OSError:
                        raise UserError(f"{path}: missing; the run folder is incomplete, re-train {name!r}") from None
                    if hashlib.sha256(content).hexdigest() != digest:
                        raise UserError(f"{path}: contents differ from what the run wrote (SHA-256); the file was "
                                        f"changed or damaged, re-train {name!r}")
                    files[fname] = content
                model = load_model(files, self.plugin_dir)
                if hasattr(model, "set_predict_threads"):  # values do not depend on it (models.lgbm)
                    model.set_predict_threads(self.predict_threads)
                models.append(model)
                clips.append(None if entry["clip"] is None else
                             tuple(np.asarray(c, dtype=np.float64) if isinstance(c, list) else float(c)
                                   for c in entry["clip"]))
            share = None if rep.get("share") is None else np.asarray(rep["share"], dtype=np.float64)
            repeats.append((models, clips, share))
        if not repeats:
            raise UserError(f"ensemble member {name!r} kept no fold models; re-train it with runtime.save_models = true")
        kind = run_model_type(_io.read_json(self.root / self.spec["members"][name] / "params.json"))
        own = model_type(name, {"type": kind}, self.plugin_dir).own_threads if kind else False
        self._models[name] = (own, repeats)
        return self._models[name]

    def check(self) -> None:
        """Load every member's fold models and the feature states now (bad files fail before any row is read)."""
        for rel in self._feature_sets():
            self._frozen(rel)
        for name in self.spec["members"]:
            self._fold_models(name)

    # ---- predicting -----------------------------------------------------------------------------
    def member_predictions(self, features: dict[str, tuple[Any, dict]]) -> dict[str, np.ndarray]:
        """Each member's predictions for new rows, `transform`ed (X and arrays per feature state set): its
        fold models averaged per CV repeat as the run averaged its test predictions, then the repeats
        averaged."""
        from models import wanted_arrays
        from models._cv import predict_folds

        out = {}
        for name in self.spec["members"]:
            X, arrays = features[self._states_of(name)]
            own, repeats = self._fold_models(name)
            per_repeat = []
            for models, clips, share in repeats:
                # the array inputs the model reads (wanted_arrays takes (train, test) pairs: these rows twice)
                wanted = {n: pair[1] for n, pair in
                          wanted_arrays(models[0], {n: (a, a) for n, a in arrays.items()}).items()}
                per_repeat.append(predict_folds(models, clips, X, self.task, self.metric, share=share,
                                                arrays=wanted, one_job=not own))
            out[name] = per_repeat[0] if len(per_repeat) == 1 else np.mean(per_repeat, axis=0)
        return out

    def combine(self, new: dict[str, np.ndarray], X_new=None) -> np.ndarray:
        """The ensemble's predictions for new rows from its members' (`new`): the chosen method fitted
        again on the members' OOF predictions, per CV repeat, exactly as the ensemble stage did. A method
        whose predictions are its weights' blend (`Method.linear`, no temperature) keeps them from the first
        call, and later calls blend with them: the same numbers without fitting it again per batch."""
        from core.folds import validated
        from models.ensemble import Member, Problem, blend, get_method, run_methods

        params = _io.read_json(self.root / self.spec["ensemble"] / "params.json")
        method = params["method"]
        names = _member_names(params, self.root / self.spec["ensemble"])
        if self._blends:
            per_repeat = [blend([new[n] for n in names], w) for w in self._blends.values()]
            return per_repeat[0] if len(per_repeat) == 1 else np.mean(per_repeat, axis=0)
        task, metric = self.task, self.metric
        frame = self.target
        folds0 = frame["fold_0"].to_numpy()
        rows = validated(folds0)
        ids = frame[self.spec["id"]].to_numpy()[rows]
        y = task.encode(self._targets(frame.loc[rows]))
        sw = frame["weight"].to_numpy()[rows] if "weight" in frame.columns else None
        if not self._oofs:  # the runs' files as loaded: a later run in the workspace is another Predictor
            self._oofs.update({name: self._oof(name, ids) for name in self.spec["members"]})
        runs = self._oofs
        repeats = sum(1 for c in frame.columns if c.startswith("fold_"))
        per_repeat, weights, keep = [], {}, get_method(method).linear
        for r in range(repeats):
            folds = frame[f"fold_{r}"].to_numpy()[rows]
            members = [Member(n, runs[n].repeat(r).oof, new[n]) for n in names]
            problem = Problem(members, y, folds, task, metric, sw)
            options = self._method_options(r, rows, X_new)
            result = run_methods(problem, [method], options=options,
                                 calibrate=self.spec["ensemble_config"].get("calibrate", False))[method]
            per_repeat.append(result.test)
            weights[r] = np.array([result.weights.get(n, 0.0) for n in names], dtype=np.float64)
            keep = keep and "temperature" not in result.details
        if keep:
            self._blends.update(weights)
        return per_repeat[0] if len(per_repeat) == 1 else np.mean(per_repeat, axis=0)

    def _targets(self, frame):
        """The raw target of these target.parquet rows, as the competition names it: a column, or a
        frame of the target columns (multi-target tasks)."""
        cols = [c for c in frame.columns if c.startswith("target:")]
        if isinstance(self.spec["target"], list):
            return frame[cols].rename(columns=lambda c: c[len("target:"):]).reset_index(drop=True)
        return frame[cols[0]].to_numpy()

    def _oof(self, name: str, ids: np.ndarray):
        """Member `name`'s OOF predictions (a models.ensemble.Member, no test predictions), averaged and per
        CV repeat, aligned with the validated train ids."""
        import pandas as pd

        from models.ensemble import Member
        from pipeline.artifacts import read_run

        run = read_run(self.root / self.spec["members"][name], id_col=self.spec["id"], task=self.task)
        pos = pd.Index(run.oof_ids).get_indexer(ids)
        if (pos < 0).any():
            raise UserError(f"run {name!r} lacks {int((pos < 0).sum())} train id(s); re-train it on this data")
        return Member(name, run.oof[pos], np.empty(0), [p[pos] for p in run.oof_repeats])

    def _method_options(self, repeat: int, rows: np.ndarray, X_new) -> dict:
        """The ensemble stage's method options (pipeline.stages.ensemble.method_options) for this predictor."""
        import functools as _ft

        from models import train_cv
        from pipeline.stages.ensemble import method_options

        X_train = None
        if self.spec["ensemble_config"].get("passthrough"):
            from pipeline.artifacts import read_feature_table

            X_train = read_feature_table((self.root / self.spec["features"]).parent, repeat)
            if not rows.all():
                X_train = X_train.iloc[np.flatnonzero(rows)].reset_index(drop=True)
        trainer = _ft.partial(train_cv, plugin_dir=self.plugin_dir)
        return method_options(self.spec["ensemble_config"], self.spec["stacker_tables"], trainer=trainer,
                              threads=self.spec["threads"], log=lambda _m: None, X_train=X_train, X_test=X_new)

    def predict(self, rows) -> Any:
        """What `predict --test` writes for these rows, as a DataFrame in the sample submission's columns and
        formats, one row per id in the order given: `rows` (pandas, or anything with `to_pandas()`, such as a
        polars frame) need test.csv's columns and are checked as a file's are (UserError, one line)."""
        import pandas as pd

        if hasattr(rows, "to_pandas") and not isinstance(rows, pd.DataFrame):
            rows = rows.to_pandas()
        if not isinstance(rows, pd.DataFrame):
            raise UserError(f"Predictor.predict takes a DataFrame of rows with test.csv's columns, got "
                            f"{type(rows).__name__}")
        self.check()
        columns, id_col = self.spec["columns"], self.spec["id"]
        _check_columns(rows.columns, columns, "rows")
        if not len(rows):
            raise UserError("rows: no rows to score; give at least one")
        rows = _checked_chunk(rows[list(columns)], columns, "rows", id_col)
        ids = rows[id_col].to_numpy()
        _check_unique(ids, "rows", id_col)
        return self._submission(ids, self.predict_frame(rows))[0]

    def predict_frame(self, rows) -> np.ndarray:
        """The ensemble's predictions (the convention's shape) for a DataFrame of new rows."""
        features = self.transform(rows)
        X_new = features[self.spec["features"]][0] if self._passthrough else None
        return self.combine(self.member_predictions(features), X_new)

    @property
    def _passthrough(self) -> bool:
        return bool(self.spec["ensemble_config"].get("passthrough"))

    def predict_file(self, path: Path, out: Path, *, chunk_rows: int = CHUNK_ROWS) -> Path:
        """Score the rows of CSV `path` and write the submission (the sample's format when the ids are
        the sample's, else the same columns for these ids) to `out` atomically."""
        import pandas as pd

        from core.progress import progress

        self.check()
        id_col = self.spec["id"]
        member_parts: dict[str, list] = {n: [] for n in self.spec["members"]}
        ids_parts, X_parts = [], []
        reader = _chunks(path, chunk_rows, self.spec["columns"], id_col)
        bar = progress(_rows_estimate(path), "[predict] rows", unit="row")
        n_rows = 0
        try:
            for chunk in reader:
                features = self.transform(chunk)
                for name, pred in self.member_predictions(features).items():
                    member_parts[name].append(pred)
                ids_parts.append(chunk[id_col].to_numpy())
                if self._passthrough:
                    X_parts.append(features[self.spec["features"]][0])
                n_rows += len(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
        if not ids_parts:
            raise UserError(f"{path}: no data rows; give at least one row to score")
        ids = np.concatenate(ids_parts)
        _check_unique(ids, path, id_col)
        new = {n: np.concatenate(parts) for n, parts in member_parts.items()}
        X_new = pd.concat(X_parts, ignore_index=True) if X_parts else None
        pred = self.combine(new, X_new)
        return self.write(out, ids, pred)

    def write(self, out: Path, ids: np.ndarray, pred: np.ndarray) -> Path:
        """Write the predictions in the sample submission's format: its rows when the ids are exactly
        the sample's, else one row per id in the order given."""
        from pipeline.submission import write_submission

        sub, sample = self._submission(ids, pred)
        return write_submission(out, sub, sample, id_col=self.spec["id"])

    def _submission(self, ids: np.ndarray, pred: np.ndarray) -> tuple[Any, Any]:
        """(the submission frame, the sample it follows): the sample's rows when the ids are exactly its
        own, else its columns and dtypes for one row per id in the order given; the decision rule applied."""
        from pipeline.stages.submit import decided
        from pipeline.submission import infer_style, make_submission

        id_col, task, metric = self.spec["id"], self.task, self.metric
        sample = self.sample
        same = len(sample) == len(ids) and set(sample[id_col].tolist()) == set(ids.tolist())
        if not same:  # the sample's columns and dtypes, one row per new id
            template = sample.iloc[np.zeros(len(ids), dtype=np.int64)].reset_index(drop=True)
            template[id_col] = ids
            sample = template
        style = self.spec["submission"] or infer_style(sample, id_col, classification=task.is_classification)
        pred = decided(metric, style, self._ensemble_oof, pred, log=self.log)
        sub = make_submission(sample, id_col=id_col, test_ids=ids, pred=pred, task=task, style=style, metric=metric)
        return sub, sample

    def _ensemble_oof(self) -> tuple[np.ndarray, np.ndarray]:
        """(encoded target, ensemble OOF predictions) on the ensemble's OOF rows (for a metric's decision)."""
        from pipeline.artifacts import read_run

        ens = read_run(self.root / self.spec["ensemble"], id_col=self.spec["id"], task=self.task)
        frame = self.target.set_index(self.spec["id"]).loc[ens.oof_ids]
        return self.task.encode(self._targets(frame)), ens.oof


# the stages whose outputs a predictor applies (explore and submit write nothing it reads)
_PREDICTOR_STAGES = ("folds", "features", "cv", "pseudo", "ensemble")


def _stale_stages(comp) -> list[str]:
    """'stage: why' for each stage the predictor reads whose recorded run differs from what the config, the
    data and the code give now (an edit not yet run)."""
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline

    rows = Runner(build_pipeline(), comp, log=lambda _m: None).status()
    return [f"{name}: {why}" for name, state, why in rows if state == "stale" and name in _PREDICTOR_STAGES]


def _member_names(params: dict, ensemble: Path) -> list[str]:
    """The ensemble's members in the order its methods were fitted (params.json's `members`)."""
    members = params.get("members")
    if not isinstance(members, list) or not members:
        raise UserError(f"{ensemble}: the ensemble does not list its members; run the ensemble stage again "
                        f"(`python -m pipeline run --stage ensemble --force`)")
    return [str(m) for m in members]




def _stacker_tables(cfg: dict) -> list:
    """ensemble.stackers resolved to built-in names or model tables (so a bundle needs no [models])."""
    from pipeline.stages.ensemble import resolve_stackers

    return resolve_stackers(cfg["ensemble"]["stackers"], cfg["models"])


_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst", ".tar"}


def _rows_estimate(path: Path) -> int | None:
    """The data rows of an uncompressed CSV, counted as its line breaks less the header (a few too many
    where a quoted field spans lines), for the progress total; None for a compressed or missing file."""
    path = Path(path)
    if path.suffix.lower() == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (OSError, ValueError):
            return None  # unreadable: the reader says why
    if path.suffix.lower() in _COMPRESSED or not path.is_file():
        return None
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its line break
    return max(lines - 1, 0)


def _chunks(path: Path, chunk_rows: int, columns: dict[str, str], id_col: str):
    """New rows in chunks, checked against test.csv's columns and dtypes (UserError on the first problem)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the CSV of rows to score with --test")
    from pipeline.data import csv_errors

    with csv_errors(path):
        first, rows = True, False
        for chunk in _parquet_chunks(path, chunk_rows) if path.suffix.lower() == ".parquet" else \
                pd.read_csv(path, chunksize=chunk_rows, low_memory=False):
            if first:
                _check_columns(chunk.columns, columns, path)
                first = False
            if len(chunk):
                rows = True
                yield _checked_chunk(chunk[list(columns)], columns, path, id_col)
    if not rows:
        raise UserError(f"{path}: a header and no rows; give at least one row to score")


def _parquet_chunks(path: Path, chunk_rows: int):
    """A Parquet file's rows as frames of at most `chunk_rows` (pyarrow's record batches): new rows may come as
    Parquet, as many competitions ship them. A file pyarrow cannot read: `pipeline.data.parquet_errors`."""
    import pyarrow.parquet as pq

    from pipeline.data import parquet_errors

    with parquet_errors(path):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()


def _check_columns(present, columns: dict[str, str], where) -> None:
    """UserError naming the columns of test.csv the rows to score lack."""
    missing = [c for c in columns if c not in set(present)]
    if missing:
        raise UserError(f"{where}: missing column(s) {missing[:5]} of test.csv; the rows to score need every column "
                        f"test.csv had")


def _check_unique(ids: np.ndarray, where, id_col: str) -> None:
    """UserError naming the first id seen twice."""
    import pandas as pd

    dup = pd.Index(ids).duplicated()
    if dup.any():
        raise UserError(f"{where}: id {shown(ids[dup][0])} appears more than once in column {id_col!r}; "
                        f"ids must be unique")


def _checked_chunk(chunk, columns: dict[str, str], path: Path, id_col: str):
    """The chunk with test.csv's dtypes: a numeric column must hold numbers; text stays text."""
    import pandas as pd

    if chunk[id_col].isna().any():
        raise UserError(f"{path}: a row has no id in column {id_col!r}; give every row a unique id")
    out = {}
    for col, dtype in columns.items():
        values = chunk[col]
        kind = np.dtype(dtype).kind if dtype not in ("str", "string", "object", "category") else "O"
        if kind in "iuf" and not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise UserError(f"{path}: column {col!r} holds {shown(values[bad].iloc[0])}, but it is numeric in "
                                f"test.csv; fix the value or the column")
            values = numbers
        if kind in "iu" and values.isna().any():
            values = values.astype(np.float64)  # test.csv had no missing value here; these rows do
        elif kind in "iuf":
            values = values.astype(dtype)
        elif kind == "b":
            values = values.astype(dtype) if not values.isna().any() else values
        elif kind == "O" and pd.api.types.is_numeric_dtype(values) and values.notna().any():
            values = values.astype("str").where(values.notna())
        elif kind == "O":
            values = values.astype(dtype) if dtype in ("str", "string") else values
        out[col] = values
    return pd.DataFrame(out, index=chunk.index)
