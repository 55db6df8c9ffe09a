"""Fitted models as portable files, each library's own format, and back: `model_files`, `load_model`.

    files = model_files(fold_model)            # {"model.json": ..., "model.txt": ...}: name -> bytes
    write_files(files, run_dir / "fold_0")     # or ship the dict back from a worker process first
    model = load_model(run_dir / "fold_0")     # predict / predict_proba as the fitted model's

Every model is written as a folder of files: `model.json` (the format, the wrapper's own attributes --
classes_, parameters, best iteration, feature names --, the library versions and a SHA-256 digest of
every other file) beside the library's own files. `FORMATS` is the registry: the first format whose
`claims(model)` holds writes it, and `model.json` names the format that reads it back.

| format | models | files |
|---|---|---|
| plugin | a class with `save_files(self) -> {name: bytes}` and a classmethod `load_files(cls, files)` | its own |
| lightgbm | models.lgbm.LightGBMModel | model.txt (`Booster.model_to_string`) |
| catboost | models.catboost_model.CatBoostModel | model.cbm (CatBoost's `save_model`) |
| xgboost | models.xgboost_model.XGBoostModel | model.ubj (XGBoost's UBJSON, categories included) |
| torch | models.nn.TorchNet (mlp, net, densenet, rnn) | snapshot_<i>.pt (`torch.save` state dicts), preprocessing.npz |
| per_target | models._multi.PerTarget (multi-target tasks) | target_<j>/: each column's model's own files |
| preprocessed | models.sk.Preprocessed | transformer.skops + estimator/ (the inner estimator's own files) |
| skops | any other scikit-learn estimator | model.skops |

Loading runs no pickled code: torch reads weights with `weights_only=True`, NumPy without pickle,
skops only with an explicit trusted list built from `skops.io.get_untrusted_types` (classes defined in
scikit-learn, NumPy, SciPy or this `models` package; where the file only references a function, a
ufunc or a function of a few array-computing scikit-learn modules, `_FUNCTION_MODULES`); a net is
rebuilt from its definition (net type, parameters, input specs) by the net registry, a `factory` net
by calling its factory (code named by its import path) again. A file whose digest does not match, or
that its library refuses, is a UserError on one line; LightGBM's and CatBoost's files are checked
against the sizes their headers declare first (their parsers read past the end of a truncated file).
Predictions of a loaded model equal the fitted model's bit for bit on the same machine and threads.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import json
import platform
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.errors import UserError

MANIFEST = "model.json"
FORMAT_VERSION = 1
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "models.")
_DENIED = ("numpy.memmap",)  # classes under the trusted packages whose constructor writes files
_PLUGIN_DOC = "models/plugins.py, 'Saving a fitted model'"


class NotSaveable(UserError):
    """A fitted model has no way to be written as portable files; the message is one line saying why."""


@dataclass(frozen=True)
class Format:
    """One way to write a fitted model: which models it claims, what it writes and how it reads them back.

    `dump(model) -> (files, attributes)`: the library's files and the JSON-able attributes model.json
    keeps; `load(attributes, files, plugin_dir) -> model`. `libraries`: the packages whose versions
    model.json records."""

    name: str
    claims: Callable[[Any], bool]
    dump: Callable[[Any], tuple[dict[str, bytes], dict]]
    load: Callable[[dict, dict[str, bytes], Path | None], Any]
    libraries: tuple[str, ...] = ()


# ---- the public functions ----------------------------------------------------------------------------
def model_files(model: Any) -> dict[str, bytes]:
    """The fitted `model` as files (name -> content; "estimator/model.json" is in a folder): model.json
    and the library's own files. NotSaveable (a UserError, one line) when it has no way to be saved.
    Their size is `total_bytes(files)`."""
    fmt = _format_of(model)
    if fmt is None:
        raise NotSaveable(_no_route(model))
    try:
        files, attributes = fmt.dump(model)
    except UserError:
        raise
    except Exception as exc:  # an unfitted model, a value the library cannot write
        raise NotSaveable(f"{_name(model)} cannot be saved as {fmt.name} ({_one_line(exc)})") from None
    if MANIFEST in files:
        raise NotSaveable(f"{_name(model)}.save_files returned a file named {MANIFEST!r}, which persist writes "
                          f"itself; rename it")
    for key, content in files.items():
        _check_name(key, f"{_name(model)}: file")
        if not isinstance(content, (bytes, bytearray)):
            raise NotSaveable(f"{_name(model)}: file {key!r} holds {type(content).__name__}, not bytes")
    manifest = {"format": fmt.name, "format_version": FORMAT_VERSION, "class": _class_path(type(model)),
                "versions": _versions(fmt.libraries), "attributes": attributes,
                "files": {key: _digest(content) for key, content in sorted(files.items())}}
    text = _json(manifest, f"{_name(model)}: model.json")
    return {MANIFEST: text.encode("utf-8"), **{k: bytes(v) for k, v in files.items()}}


def why_not_saveable(model: Any) -> str | None:
    """None if `model_files(model)` can save the fitted model, else the one line saying why not (it
    writes the files to find out, so call `model_files` itself when you mean to save)."""
    try:
        model_files(model)
    except NotSaveable as exc:
        return str(exc)
    return None


def load_model(files: dict[str, bytes] | Path, plugin_dir: Path | None = None) -> Any:
    """The model `model_files` wrote (a folder, or its name -> bytes dict), ready to predict; a plug-in
    file's class is read from `plugin_dir` (competition/<name>/models). UserError on one line for a
    missing, tampered or truncated file or a type that is not trusted."""
    where = str(files) if isinstance(files, (str, Path)) else "model files"
    if isinstance(files, (str, Path)):
        files = read_files(Path(files))
    try:
        return _load(dict(files), plugin_dir, "")
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None


def write_files(files: dict[str, bytes], folder: Path) -> None:
    """Write `model_files`' output as `folder` (replaced whole, atomically)."""
    from core.io import atomic_dir

    with atomic_dir(folder) as tmp:
        for name, content in files.items():
            _check_name(name, f"{folder}: file")
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative POSIX name -> bytes); UserError if there is no model.json."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise UserError(f"{folder}: no {MANIFEST}; this is not a saved model folder (models.persist.write_files "
                        f"writes one)")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def total_bytes(files: dict[str, bytes]) -> int:
    """The size of a model's files in bytes (the sum of their contents)."""
    return sum(len(content) for content in files.values())


# ---- reading -----------------------------------------------------------------------------------------
def _load(files: dict[str, bytes], plugin_dir: Path | None, folder: str) -> Any:
    """The model of `files`; `folder` ("" at the top, "estimator/" inside) names them in messages."""
    if MANIFEST not in files:
        raise UserError(f"no {folder}{MANIFEST}; not a saved model")
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        fmt_name, listed, attributes = manifest["format"], dict(manifest["files"]), manifest["attributes"]
    except Exception as exc:
        raise UserError(f"{folder}{MANIFEST} is not a saved model's manifest ({_one_line(exc)}); the file is "
                        f"damaged -- save the model again") from None
    if fmt_name not in FORMATS:
        raise UserError(f"{folder}{MANIFEST}: saved in format {fmt_name!r}, which this version does not know "
                        f"(formats: {', '.join(FORMATS)}); load it with the version that saved it")
    for key, digest in listed.items():
        if key not in files:
            raise UserError(f"file {folder + key!r} listed in {folder}{MANIFEST} is missing")
        if _digest(files[key]) != digest:
            raise UserError(f"file {folder + key!r} does not match its digest in {folder}{MANIFEST} (tampered or "
                            f"truncated); save the model again")
    own = {k: v for k, v in files.items() if k in listed}
    try:
        return FORMATS[fmt_name].load(attributes, own, plugin_dir)
    except UserError:
        raise
    except Exception as exc:  # the library refused a file
        inside = f" in {folder}" if folder else ""
        raise UserError(f"the {fmt_name} model{inside} could not be read ({_one_line(exc)})") from None


def _format_of(model: Any) -> Format | None:
    return next((fmt for fmt in FORMATS.values() if fmt.claims(model)), None)


def _no_route(model: Any) -> str:
    cls = type(model)
    module = sys.modules.get(cls.__module__)
    where = (getattr(module, "__file__", None) or cls.__module__) if cls.__module__.startswith("_pipeline_plugin_") \
        else cls.__module__  # a plug-in file's module name is ours, its path is the author's
    return (f"{_name(model)} ({where}) has no way to be saved: give the class save_files(self) -> "
            f"{{name: bytes}} and a classmethod load_files(cls, files) (see {_PLUGIN_DOC})")


# ---- helpers -----------------------------------------------------------------------------------------
def _name(model: Any) -> str:
    return type(model).__name__


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _check_name(name: str, where: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise NotSaveable(f"{where} {name!r} is not a plain relative file name (like 'weights.bin' or 'sub/x.bin')")


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _versions(libraries: tuple[str, ...]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("numpy", *libraries):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(obj: Any, where: str) -> str:
    try:
        return json.dumps(obj, default=_plain, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise NotSaveable(f"{where}: {_one_line(exc)}; only numbers, strings, lists and tables can be saved") from None


def _jsonable(value: Any, where: str) -> Any:
    """`value` as JSON would read it back (NotSaveable when JSON cannot hold it)."""
    return json.loads(_json(value, where))


def _array(a: Any) -> dict | None:
    """A small array (classes_, feature names) as JSON that gives back the same dtype and values."""
    if a is None:
        return None
    a = np.asarray(a)
    return {"dtype": a.dtype.str if a.dtype != object else "object", "values": a.tolist()}


def _from_array(d: dict | None) -> np.ndarray | None:
    if d is None:
        return None
    dtype = object if d["dtype"] == "object" else np.dtype(d["dtype"])
    return np.asarray(d["values"], dtype=dtype)


def _set_fitted(model: Any, attributes: dict, names: tuple[str, ...]) -> None:
    """Set the fitted attributes `names` that `attributes` holds (arrays were written by `_array`)."""
    for name in names:
        if name in attributes:
            value = attributes[name]
            setattr(model, name, _from_array(value) if isinstance(value, dict) and "dtype" in value else value)


def _get_fitted(model: Any, names: tuple[str, ...], arrays: tuple[str, ...] = ()) -> dict:
    return {n: _array(getattr(model, n)) if n in arrays else getattr(model, n) for n in names if hasattr(model, n)}


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    return buffer.getvalue()


def _from_npz(content: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(content), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _instance_of(path: str) -> Callable[[Any], bool]:
    """A `claims` test: isinstance of the class at `path` ("module:Class", imported when first asked)."""
    def claims(model: Any) -> bool:
        module, attr = path.split(":")
        return isinstance(model, getattr(importlib.import_module(module), attr))

    return claims


def _params(model: Any, skip: tuple[str, ...] = ()) -> dict:
    """The estimator's constructor parameters as JSON (NotSaveable naming one JSON cannot hold)."""
    params = model.get_params(deep=False)
    return {k: _jsonable(v, f"{_name(model)}.{k}") for k, v in params.items() if k not in skip}


# ---- plug-ins: the class's own save_files / load_files ------------------------------------------------
def _has_own_route(model: Any) -> bool:
    return callable(getattr(model, "save_files", None)) and callable(getattr(type(model), "load_files", None))


def _dump_plugin(model: Any) -> tuple[dict[str, bytes], dict]:
    cls = type(model)
    files = model.save_files()
    if not isinstance(files, dict):
        raise NotSaveable(f"{cls.__name__}.save_files returned {type(files).__name__}, not a dict of name -> bytes")
    module = sys.modules.get(cls.__module__)
    path = Path(getattr(module, "__file__", "") or "")
    from_file = cls.__module__.startswith("_pipeline_plugin_")  # a competition's plug-in file (models.plugins)
    return dict(files), {"module": cls.__module__, "qualname": cls.__qualname__,
                         "file": path.name if from_file else None}


def _load_plugin(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    from core.params import import_object, load_module_file

    if attributes["file"]:
        path = Path(plugin_dir or "") / attributes["file"]
        if plugin_dir is None or not path.is_file():
            raise UserError(f"the saved model's class {attributes['qualname']} is in the plug-in file "
                            f"{attributes['file']}; pass plugin_dir (competition/<name>/models) holding it")
        cls: Any = load_module_file(path, prefix="pipeline_plugin", what="plug-in")
        for part in attributes["qualname"].split("."):
            cls = getattr(cls, part)
    else:
        cls = import_object(f"{attributes['module']}:{attributes['qualname']}", where="saved model class")
    if not callable(getattr(cls, "load_files", None)):
        raise UserError(f"{attributes['qualname']} has no load_files classmethod now; it saved through save_files")
    return cls.load_files(dict(files))


# ---- LightGBM ----------------------------------------------------------------------------------------
_LGBM_FITTED = ("best_iteration_", "classes_", "feature_names_in_", "feature_importances_", "init_score_")
_ARRAYS = ("classes_", "feature_names_in_", "feature_importances_", "init_score_")


def _dump_lightgbm(model: Any) -> tuple[dict[str, bytes], dict]:
    stop = model.stop_metric
    attributes = {"params": _params(model, skip=("stop_metric",)),
                  "stop_metric": None if stop is None else getattr(stop, "name", str(stop)),
                  **_get_fitted(model, _LGBM_FITTED, _ARRAYS)}
    # every tree (num_iteration=-1): predict reads best_iteration_ of them, as the fitted model does
    return {"model.txt": model.booster_.model_to_string(num_iteration=-1).encode("utf-8")}, attributes


def _load_lightgbm(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    import lightgbm as lgb

    from models.lgbm import LightGBMModel

    model = LightGBMModel(**attributes["params"], stop_metric=_metric(attributes["stop_metric"], plugin_dir))
    text = files["model.txt"]
    _check_lightgbm_text(text)
    # the model text's own parameters apply (LightGBM ignores others given with it): num_threads as trained
    model.booster_ = lgb.Booster(model_str=text.decode("utf-8"))
    _set_fitted(model, attributes, _LGBM_FITTED)
    return model


def _check_lightgbm_text(text: bytes) -> None:
    """UserError unless `text` holds every tree its header announces (`tree_sizes`, in bytes) and then
    "end of trees": LightGBM's parser reads the trees by those sizes and crashes the process on a
    truncated file instead of raising."""
    header, sep, _ = text.partition(b"\n\n")
    sizes_line = next((line for line in header.split(b"\n") if line.startswith(b"tree_sizes=")), None)
    try:
        sizes = [int(v) for v in sizes_line.split(b"=", 1)[1].split()] if sizes_line is not None else None
    except ValueError:
        sizes = None
    position = len(header) + len(sep)
    ok = text.startswith(b"tree\n") and sep and sizes is not None
    for i, size in enumerate(sizes or []):
        ok = ok and size > 0 and text.startswith(b"Tree=%d\n" % i, position)
        position += size
    if not (ok and text.startswith(b"end of trees", position)):
        raise UserError("model.txt is not a complete LightGBM model (its trees do not match the tree_sizes its header "
                        "lists); the file is damaged -- save the model again")


def _metric(name: str | None, plugin_dir: Path | None) -> Any:
    """The early-stopping metric by name (a competition's own from plugin_dir's folder), else None:
    it only matters to a refit, never to predictions."""
    if name is None:
        return None
    from core.metrics import get_metric

    try:
        return get_metric(name, None if plugin_dir is None else Path(plugin_dir).parent)
    except UserError:
        return None


# ---- CatBoost ----------------------------------------------------------------------------------------
_BOOST_FITTED = ("best_iteration_", "classes_", "feature_names_in_", "feature_importances_")


def _dump_catboost(model: Any) -> tuple[dict[str, bytes], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.cbm"
        model.model_.save_model(str(path), format="cbm")
        content = path.read_bytes()
    return {"model.cbm": content}, {"params": _params(model), **_get_fitted(model, _BOOST_FITTED, _ARRAYS)}


def _load_catboost(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    import catboost

    from models.catboost_model import CatBoostModel

    content = files["model.cbm"]
    _check_cbm(content)
    model = CatBoostModel(**attributes["params"])
    model.model_ = catboost.CatBoost()
    model.model_.load_model(blob=content)
    _set_fitted(model, attributes, _BOOST_FITTED)
    return model


def _check_cbm(content: bytes) -> None:
    """UserError unless `content` starts like a .cbm file ("CBM1", the model core's size) and holds that
    core: CatBoost reads the core by its declared size, past the end of a truncated blob."""
    import struct

    if len(content) < 8 or content[:4] != b"CBM1" or 8 + struct.unpack("<I", content[4:8])[0] > len(content):
        raise UserError("model.cbm is not a complete CatBoost model (its header's size is more than the file "
                        "holds); the file is damaged -- save the model again")


# ---- XGBoost -----------------------------------------------------------------------------------------
def _dump_xgboost(model: Any) -> tuple[dict[str, bytes], dict]:
    raw = model.booster_.save_raw(raw_format="ubj")
    return {"model.ubj": bytes(raw)}, {"params": _params(model), **_get_fitted(model, _BOOST_FITTED, _ARRAYS)}


def _load_xgboost(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    import xgboost as xgb

    from models.xgboost_model import XGBoostModel

    model = XGBoostModel(**attributes["params"])
    threads = int((model.params or {}).get("nthread", 1))
    model.booster_ = xgb.Booster(params={"nthread": threads}, model_file=bytearray(files["model.ubj"]))
    _set_fitted(model, attributes, _BOOST_FITTED)
    return model


# ---- torch nets --------------------------------------------------------------------------------------
_NET_FITTED = ("inputs_", "n_out_", "y_mean_", "y_std_", "batch_size_", "device_", "iterations_per_epoch_",
               "epochs_", "steps_", "best_epoch_", "history_", "classes_", "cycles_", "cycle_losses_", "precision_")


def _dump_torch(model: Any) -> tuple[dict[str, bytes], dict]:
    import torch

    from models.nets import TABLE

    preps, arrays = {}, {}
    for name, prep in model.preps_.items():
        meta, values = prep.state()
        preps[name] = _jsonable(meta, f"{_name(model)}: the {name!r} input's preprocessing")
        arrays.update({f"{name}.{k}": v for k, v in values.items()})
    files = {"preprocessing.npz": _npz(arrays)}
    for i, state in enumerate(model.snapshots_):
        buffer = io.BytesIO()
        torch.save({k: v.detach().to("cpu") for k, v in state.items()}, buffer)
        files[f"snapshot_{i}.pt"] = buffer.getvalue()
    attributes = {"params": _params(model), "preps": preps, "table": TABLE, "snapshots": len(model.snapshots_),
                  **_jsonable(_get_fitted(model, _NET_FITTED, ("classes_",)), f"{_name(model)}: a fitted attribute")}
    return files, attributes


def _load_torch(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    import torch

    from models.nn import TorchNet, _ArrayInput, _Tabular, _table_spec

    model = TorchNet(**attributes["params"])
    _set_fitted(model, attributes, _NET_FITTED)
    arrays = _from_npz(files["preprocessing.npz"])
    model.preps_ = {}
    for name, meta in attributes["preps"].items():
        own = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.split(".", 1)[0] == name}
        kind = _Tabular if name == attributes["table"] else _ArrayInput
        model.preps_[name] = kind.from_state(meta, own)
    model.preps_ = {name: model.preps_[name] for name in model.inputs_}  # the net's input order
    specs = [_table_spec(prep) if name == attributes["table"] else prep.spec(name)
             for name, prep in model.preps_.items()]
    model.snapshots_ = [torch.load(io.BytesIO(files[f"snapshot_{i}.pt"]), map_location="cpu", weights_only=True)
                        for i in range(int(attributes["snapshots"]))]
    if model.device_ != "cpu" and not torch.cuda.is_available():
        model.device_ = "cpu"  # trained on a GPU, predicting on a CPU: the same weights (not bit-identical outputs)
    with torch.random.fork_rng(devices=[]):  # the module's random initialisation leaves the caller's seed alone
        net = model._net_type().build(specs, int(model.n_out_), model._net_params())
    net.load_state_dict(model.snapshots_[-1])
    model.net_ = net.to(model.device_)
    return model


# ---- scikit-learn: skops with a trusted list, our preprocessing wrapper around any estimator ---------------
def _dump_preprocessed(model: Any) -> tuple[dict[str, bytes], dict]:
    files = {"transformer.skops": _skops_dumps(model.transformer_, f"{_name(model)}.transformer_")}
    inner = model_files(model.estimator_)
    files.update({f"estimator/{k}": v for k, v in inner.items()})
    attributes = {"scale": model.scale, "max_categories": model.max_categories, "min_frequency": model.min_frequency,
                  "splines": model.splines,
                  "cat_cols": _jsonable(list(model._cat_cols), f"{_name(model)}: a column name"),
                  **_get_fitted(model, ("classes_", "feature_names_out_"), ("classes_", "feature_names_out_"))}
    return files, attributes


def _load_preprocessed(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    from models.sk import Preprocessed

    inner = {k.removeprefix("estimator/"): v for k, v in files.items() if k.startswith("estimator/")}
    estimator = _load(inner, plugin_dir, "estimator/")
    model = Preprocessed(_template(estimator), scale=attributes["scale"], max_categories=attributes["max_categories"],
                         min_frequency=attributes["min_frequency"], splines=int(attributes.get("splines", 0)))
    model.transformer_ = _skops_loads(files["transformer.skops"], "transformer.skops")
    model._cat_cols = list(attributes["cat_cols"])
    model.estimator_ = estimator
    _set_fitted(model, attributes, ("classes_", "feature_names_out_"))
    return model


def _is_sklearn(model: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def _dump_skops(model: Any) -> tuple[dict[str, bytes], dict]:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)  # an unfitted estimator: NotFittedError, reported as not saveable
    return {"model.skops": _skops_dumps(model, _name(model))}, {}


def _load_skops(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    return _skops_loads(files["model.skops"], "model.skops")


def _skops_io():
    """skops.io, imported without building skops' default trusted list, which imports every scikit-learn
    module to list its estimators (`all_estimators`: 4.5 s of a small set's run). Nothing here relies on
    that list: every type a file names is checked by `_trustable` and passed to skops as `trusted`."""
    import sys

    if "skops.io" not in sys.modules:
        import sklearn.utils

        every_estimator = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = every_estimator
    return sys.modules["skops.io"]


def _skops_dumps(obj: Any, where: str) -> bytes:
    """skops' file of `obj`, deflated; NotSaveable unless every type in it is one `load_model` trusts. skops'
    default (stored) leaves its JSON schema as written: 730 KB for one fold's spline basis on a 56-column
    table, 40 KB deflated, for 5 ms more a fold."""
    import zipfile

    sio = _skops_io()

    try:
        content = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    except Exception as exc:
        raise NotSaveable(f"{where}: skops cannot write it ({_one_line(exc)}); give the class save_files / "
                          f"load_files (see {_PLUGIN_DOC})") from None
    wanted, refused = _skops_types(content)
    if refused:
        raise NotSaveable(f"{where} holds {refused}, which skops files may not load ({_TRUST_RULE}); give the class "
                          f"save_files / load_files (see {_PLUGIN_DOC})")
    return content


def _skops_loads(content: bytes, where: str) -> Any:
    """The object of a skops file, trusting only the types `_trustable` allows (UserError naming another)."""
    sio = _skops_io()

    try:
        wanted, refused = _skops_types(content)
    except Exception as exc:
        raise UserError(f"{where}: not a readable skops file ({_one_line(exc)})") from None
    if refused:
        raise UserError(f"{where}: refuses to load type {refused} ({_TRUST_RULE})")
    return sio.loads(content, trusted=wanted)


_TRUST_RULE = "skops files may hold classes of scikit-learn, NumPy, SciPy and models.*, and no other code"
# Functions a skops file may name (beside NumPy / SciPy ufuncs): a loaded model calls them (a
# FunctionTransformer's `func`, SelectKBest's `score_func`), with arguments the file may set through a
# functools.partial, so only modules whose functions compute on arrays -- never one that reads or writes
# files, imports or runs code (numpy.load, numpy.testing, sklearn.datasets, ...).
_FUNCTION_MODULES = ("sklearn.utils.validation", "sklearn.utils.extmath", "sklearn.feature_selection.",
                     "sklearn.metrics.", "sklearn.preprocessing.", "sklearn.neighbors.", "sklearn.linear_model.",
                     # numpy's array-API aliases (asarray, ...): a fitted SplineTransformer's scipy BSplines hold one
                     "scipy._lib.array_api_compat.numpy.")
_SAFE_NAMES = {("functools.partial", "PartialNode")}  # skops builds a plain partial itself; its func is checked


def _skops_types(content: bytes) -> tuple[list[str], str | None]:
    """(the types skops asks to trust, the first one refused or None). Each is checked where the file uses
    it (schema.json's nodes): a loader that calls or instantiates it needs a class, a function reference
    (FunctionNode) a ufunc or a function of `_FUNCTION_MODULES`."""
    import zipfile

    sio = _skops_io()

    wanted = sio.get_untrusted_types(data=content)
    uses: dict[str, set[str]] = {name: set() for name in wanted}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                name = f"{node['__module__']}.{node['__class__']}"
                if name in uses:
                    uses[name].add(str(node.get("__loader__", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        walk(json.loads(archive.read("schema.json")))
    refused = next((name for name, loaders in uses.items()
                    if not loaders or not all(_trustable(name, loader) for loader in loaders)), None)
    return wanted, refused


def _trustable(name: str, loader: str) -> bool:
    """Whether a skops file may name `name` for its `loader`: a class in scikit-learn, NumPy, SciPy or this
    models package (re-exports of other packages' objects refused), or for a FunctionNode a ufunc or a
    function of `_FUNCTION_MODULES`. skops calls a reduced object's constructor with the file's arguments,
    so no other function may stand where a class is expected."""
    if (name, loader) in _SAFE_NAMES:
        return True
    if not name.startswith(_TRUSTED_PREFIXES) or name in _DENIED:
        return False
    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except Exception:
        return False
    if isinstance(obj, np.ufunc):
        return loader == "FunctionNode"
    home = str(getattr(obj, "__module__", "") or "") + "."  # where it is defined: "numpy.", "sklearn.tree._tree."
    if inspect.isclass(obj):
        return home.startswith(_TRUSTED_PREFIXES) and f"{home}{obj.__qualname__}" not in _DENIED
    return loader == "FunctionNode" and inspect.isfunction(obj) and home.startswith(_FUNCTION_MODULES)


# ---- multi-target: one model per target column ---------------------------------------------------------
def _dump_per_target(model: Any) -> tuple[dict[str, bytes], dict]:
    files: dict[str, bytes] = {}
    for j, estimator in enumerate(model.estimators_):
        if estimator is not None:  # a multilabel column with one value in the training rows: its constant
            files.update({f"target_{j}/{k}": v for k, v in model_files(estimator).items()})
    task = model.task
    attributes = {"task": None if task is None else {"task": task.task, "classes": list(task.classes),
                                                      "targets": list(task.targets)},
                  "targets": list(model.targets), "seed": model.seed, "n_targets_": model.n_targets_,
                  "constants_": list(model.constants_)}
    return files, _jsonable(attributes, f"{_name(model)}: an attribute")


def _load_per_target(attributes: dict, files: dict[str, bytes], plugin_dir: Path | None) -> Any:
    from core.tasks import TaskInfo
    from models._multi import PerTarget

    estimators = []
    for j, constant in enumerate(attributes["constants_"]):
        prefix = f"target_{j}/"
        own = {k.removeprefix(prefix): v for k, v in files.items() if k.startswith(prefix)}
        estimators.append(None if constant is not None else _load(own, plugin_dir, prefix))
    task = attributes["task"]
    task = None if task is None else TaskInfo(task["task"], tuple(task["classes"]), tuple(task["targets"]))
    fitted = [e for e in estimators if e is not None]
    model = PerTarget(_template(fitted[0]) if fitted else None, task, tuple(attributes["targets"]), attributes["seed"])
    model.estimators_, model.constants_ = estimators, list(attributes["constants_"])
    model.n_targets_ = int(attributes["n_targets_"])
    return model


def _template(estimator: Any) -> Any:
    """An unfitted clone of a loaded estimator (the wrapper's template), else the fitted one standing in."""
    from sklearn.base import clone

    try:
        return clone(estimator)
    except Exception:  # a plug-in scikit-learn cannot clone
        return estimator


# ---- the registry ------------------------------------------------------------------------------------
FORMATS: dict[str, Format] = {f.name: f for f in [
    Format("plugin", _has_own_route, _dump_plugin, _load_plugin),
    Format("lightgbm", _instance_of("models.lgbm:LightGBMModel"), _dump_lightgbm, _load_lightgbm, ("lightgbm",)),
    Format("catboost", _instance_of("models.catboost_model:CatBoostModel"), _dump_catboost, _load_catboost,
           ("catboost",)),
    Format("xgboost", _instance_of("models.xgboost_model:XGBoostModel"), _dump_xgboost, _load_xgboost, ("xgboost",)),
    Format("torch", _instance_of("models.nn:TorchNet"), _dump_torch, _load_torch, ("torch",)),
    Format("per_target", _instance_of("models._multi:PerTarget"), _dump_per_target, _load_per_target),
    Format("preprocessed", _instance_of("models.sk:Preprocessed"), _dump_preprocessed, _load_preprocessed,
           ("scikit-learn", "skops")),
    Format("skops", _is_sklearn, _dump_skops, _load_skops, ("scikit-learn", "skops")),
]}
