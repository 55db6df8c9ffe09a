"""models.persist: every model type fitted as the CV loop fits it, written with `model_files`, read back
with `load_model`, predicts exactly as before; tampered files, untrusted types and models without a
way to be saved are refused on one line."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.errors import UserError
from core.metrics import get_metric
from core.tasks import TASKS, TaskInfo
from models import ModelContext, build_model, fit_model, predict_model
from models.persist import (FORMATS, NotSaveable, load_model, model_files, read_files, total_bytes, why_not_saveable,
                            write_files)
from models.testing import make_arrays, make_data

INFOS = {"binary": TaskInfo("binary", (0, 1)), "multiclass": TaskInfo("multiclass", (0, 1, 2)),
         "regression": TaskInfo("regression")}
BOOST = {"n_estimators": 30, "early_stopping_rounds": 10}
NET = {"epochs": 3, "batch_size": 64}

# (task, model table, arrays the net reads): every built-in type, fitted as the CV loop fits it
CASES = {
    "lightgbm-binary": ("binary", {"type": "lightgbm", "params": BOOST}, None),
    "lightgbm-multiclass": ("multiclass", {"type": "lightgbm", "params": BOOST}, None),
    "lightgbm-regression": ("regression", {"type": "lightgbm", "params": BOOST}, None),
    # dart starts from a constant raw score outside its trees (init_score_), saved beside the model text
    "lightgbm-dart-binary": ("binary", {"type": "lightgbm", "params": {**BOOST, "boosting": "dart"}}, None),
    "lightgbm-dart-multiclass": ("multiclass", {"type": "lightgbm", "params": {**BOOST, "boosting": "dart"}}, None),
    "lightgbm-dart-regression": ("regression", {"type": "lightgbm", "params": {**BOOST, "boosting": "dart"}}, None),
    "catboost-binary": ("binary", {"type": "catboost", "params": {"iterations": 30, "early_stopping_rounds": 10,
                                                                 "depth": 4}}, None),
    "catboost-regression": ("regression", {"type": "catboost", "params": {"iterations": 30, "depth": 4}}, None),
    # columns left out by a glob pattern: the saved model still takes every column, and ignores the same ones
    "catboost-ignoring": ("regression", {"type": "catboost", "params": {"iterations": 30, "depth": 4,
                                                                       "ignored_features": ["x[34]"]}}, None),
    "xgboost-multiclass": ("multiclass", {"type": "xgboost", "params": BOOST}, None),
    "xgboost-regression": ("regression", {"type": "xgboost", "params": BOOST}, None),
    # one fit per fold: the early-stopped model cut to its best round is what is saved
    "catboost-kept": ("multiclass", {"type": "catboost", "params": {"iterations": 30, "early_stopping_rounds": 5,
                                                                   "depth": 4, "refit": False}}, None),
    "xgboost-kept": ("binary", {"type": "xgboost", "params": {**BOOST, "refit": False}}, None),
    "logistic": ("binary", {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression"}, None),
    "ridge": ("regression", {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge"}, None),
    "random-forest": ("multiclass", {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier",
                                     "params": {"n_estimators": 10}}, None),
    "extra-trees": ("regression", {"type": "sklearn", "estimator": "sklearn.ensemble.ExtraTreesRegressor",
                                   "params": {"n_estimators": 10}}, None),
    "k-neighbors": ("binary", {"type": "sklearn", "estimator": "sklearn.neighbors.KNeighborsClassifier"}, None),
    "hist-gradient-boosting": ("binary", {"type": "sklearn",
                                          "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
                                          "params": {"max_iter": 10}}, None),
    "bare-sklearn": ("regression", {"type": "sklearn", "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                                    "preprocess": "none", "params": {"max_iter": 10}}, None),
    "mlp-snapshots": ("binary", {"type": "mlp", "params": {"epochs": 6, "cycles": 3, "snapshots": 3, "width": 16,
                                                           "batch_size": 64}}, None),
    "mlp-regression": ("regression", {"type": "mlp", "params": {**NET, "cycles": 1, "snapshots": 1, "width": 16}},
                       None),
    "linear-splines": ("binary", {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                                  "preprocess": "splines"}, None),
    "mlp-numeric-bins": ("regression", {"type": "mlp", "params": {**NET, "cycles": 1, "snapshots": 1, "width": 16,
                                                               "numeric_bins": 8}}, None),
    "net-layers": ("multiclass", {"type": "net", "params": {**NET, "layers": [
        {"type": "dense", "units": 16}, {"type": "silu"}, {"type": "batchnorm"}, {"type": "dropout", "rate": 0.1}]}},
                   None),
    "densenet": ("multiclass", {"type": "densenet", "params": {"epochs": 2, "cycles": 2, "snapshots": 2,
                                                               "batch_size": 64, "growth_rate": 4,
                                                               "blocks": [1, 1]}}, "image"),
    "rnn": ("binary", {"type": "rnn", "params": {"epochs": 2, "units": 8, "embedding_dim": 8, "head_units": 8}},
            "tokens"),
    "rnn-with-table": ("regression", {"type": "rnn", "params": {"epochs": 2, "units": 8, "embedding_dim": 8,
                                                                "inputs": ["tokens", "table"]}}, "tokens"),
}


def _ctx(task: str, arrays: dict | None = None, plugin_dir: Path | None = None) -> ModelContext:
    return ModelContext(INFOS[task], get_metric(TASKS[task].default_metric), arrays=arrays, plugin_dir=plugin_dir)


def _fitted(task: str, spec: dict, array: str | None = None, plugin_dir: Path | None = None, n: int = 300):
    """(a model fitted as a CV fold fits it, rows to predict, their arrays)."""
    X, y = make_data(INFOS[task], n=n, categorical=True)  # a categorical column and missing values
    arrays = {array: make_arrays(y)[array]} if array else {}
    model = build_model("m", spec, _ctx(task, {k: (v, v[:10]) for k, v in arrays.items()}, plugin_dir))
    fit, held = np.arange(n) < 0.8 * n, np.arange(n) >= 0.8 * n
    if getattr(model, "wants_validation", lambda: False)():  # early stopping on held-out training rows
        fit_model(model, X[fit], y[fit], X[held], y[held], arrays={k: v[fit] for k, v in arrays.items()},
                  arrays_valid={k: v[held] for k, v in arrays.items()})
    else:
        fit_model(model, X, y, arrays=arrays)
    return model, X, arrays


def _outputs(model, X, task: str, arrays: dict) -> list[np.ndarray]:
    """What a later `predict` command reads: the pipeline's predictions, and predict itself."""
    kwargs = {"arrays": arrays} if arrays else {}
    out = [predict_model(model, X, INFOS[task], arrays=arrays), np.asarray(model.predict(X, **kwargs))]
    if INFOS[task].is_classification:
        out.append(np.asarray(model.predict_proba(X, **kwargs)))
    return out


def _forged(files: dict[str, bytes], name: str, content: bytes) -> dict[str, bytes]:
    """`files` with `name` replaced and model.json's digest made to match: only the reader can refuse it."""
    manifest = json.loads(files["model.json"])
    manifest["files"][name] = hashlib.sha256(content).hexdigest()
    return {**files, name: content, "model.json": json.dumps(manifest).encode()}


@pytest.mark.parametrize("case", CASES)
def test_every_model_type_round_trips_to_identical_predictions(case, tmp_path):
    task, spec, array = CASES[case]
    model, X, arrays = _fitted(task, spec, array)
    before = _outputs(model, X, task, arrays)
    files = model_files(model)
    assert total_bytes(files) == sum(len(v) for v in files.values()) > 0
    manifest = json.loads(files["model.json"])
    assert manifest["format"] in FORMATS and "numpy" in manifest["versions"]
    write_files(files, tmp_path / "fold_0")
    assert read_files(tmp_path / "fold_0") == files
    for loaded in (load_model(tmp_path / "fold_0"), load_model(files)):
        assert type(loaded) is type(model)
        for a, b in zip(before, _outputs(loaded, X, task, arrays)):
            assert a.dtype == b.dtype and np.array_equal(a, b)  # exactly: every library here round-trips bit for bit
    assert _outputs(model, X, task, arrays)[0].tolist() == before[0].tolist()  # saving left the model alone


def test_each_library_writes_its_own_format():
    names = {}
    for case in ("lightgbm-binary", "catboost-binary", "xgboost-multiclass", "logistic", "bare-sklearn",
                 "mlp-snapshots"):
        task, spec, array = CASES[case]
        names[case] = sorted(model_files(_fitted(task, spec, array, n=120)[0]))
    assert names["lightgbm-binary"] == ["model.json", "model.txt"]
    assert names["catboost-binary"] == ["model.cbm", "model.json"]
    assert names["xgboost-multiclass"] == ["model.json", "model.ubj"]
    assert names["logistic"] == ["estimator/model.json", "estimator/model.skops", "model.json", "transformer.skops"]
    assert names["bare-sklearn"] == ["model.json", "model.skops"]
    assert names["mlp-snapshots"] == ["model.json", "preprocessing.npz", "snapshot_0.pt", "snapshot_1.pt",
                                      "snapshot_2.pt"]


def test_the_wrappers_attributes_come_back():
    model, X, _ = _fitted("multiclass", CASES["lightgbm-multiclass"][1])
    loaded = load_model(model_files(model))
    assert loaded.best_iteration_ == model.best_iteration_ and loaded.params == model.params
    assert np.array_equal(loaded.classes_, model.classes_) and loaded.classes_.dtype == model.classes_.dtype
    assert list(loaded.feature_names_in_) == list(model.feature_names_in_)
    assert np.array_equal(loaded.feature_importances_, model.feature_importances_)
    assert loaded.stop_metric is None or loaded.stop_metric.name == model.stop_metric.name


def test_a_net_keeps_its_snapshots_history_and_preprocessing():
    task, spec, _ = CASES["mlp-snapshots"]
    model, X, _ = _fitted(task, spec)
    loaded = load_model(model_files(model))
    assert len(loaded.snapshots_) == len(model.snapshots_) == 3
    for a, b in zip(model.snapshots_, loaded.snapshots_):
        assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert loaded.history_ == model.history_ and loaded.inputs_ == model.inputs_
    assert loaded.precision_ == model.precision_ == "float32"  # the precision the steps trained in
    prep, back = model.preps_["table"], loaded.preps_["table"]
    assert back.levels == prep.levels and back.cardinalities == prep.cardinalities  # the embedding's levels
    assert back.logged == prep.logged and np.array_equal(back.std, prep.std)


def test_the_densenet_trains_in_the_precision_its_machine_has_natively_and_says_so():
    from models._loop import resolve_precision

    task, spec, array = CASES["densenet"]
    model, _X, _ = _fitted(task, spec, array)
    assert model.precision == "auto"  # the net type's default
    assert load_model(model_files(model)).precision_ == model.precision_ == resolve_precision("auto", "cpu")


FACTORY = '''
import torch
from torch import nn
from models.layers import TableInput


def table_net(inputs, n_outputs, width=8):
    """The functional style: the table through one hidden layer."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = TableInput(inputs["table"])
            self.body = nn.Sequential(nn.Linear(self.table.out_features, width), nn.SiLU(), nn.Linear(width, n_outputs))

        def forward(self, table):
            return self.body(self.table(*table))

    return Net()
'''


def test_a_factory_net_is_rebuilt_by_calling_its_factory_again(tmp_path, monkeypatch):
    (tmp_path / "persist_nets.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {"type": "net", "params": {**NET, "factory": "persist_nets:table_net", "options": {"width": 8}}}
    model, X, _ = _fitted("binary", spec)
    files = model_files(model)
    assert b"persist_nets:table_net" in files["model.json"]  # code, named by its path, never pickled
    loaded = load_model(files)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


# ---- plug-ins ------------------------------------------------------------------------------------
PLUGIN = '''
import io
import numpy as np


def _numbers(X):
    X = X.select_dtypes("number") if hasattr(X, "select_dtypes") else X
    return np.nan_to_num(np.asarray(X, dtype=np.float64))


class Model:
    """Least squares on the numeric columns, with its own files."""

    def __init__(self, ridge=1.0):
        self.ridge = ridge

    def get_params(self, deep=True):
        return {"ridge": self.ridge}

    def set_params(self, **params):
        self.__dict__.update(params)
        return self

    def fit(self, X, y):
        A = _numbers(X)
        self.coef_ = np.linalg.solve(A.T @ A + self.ridge * np.eye(A.shape[1]), A.T @ y)
        return self

    def predict(self, X):
        return _numbers(X) @ self.coef_

    def save_files(self):
        buffer = io.BytesIO()
        np.save(buffer, self.coef_)
        return {"coef.npy": buffer.getvalue()}

    @classmethod
    def load_files(cls, files):
        model = cls()
        model.coef_ = np.load(io.BytesIO(files["coef.npy"]))
        return model


class NoRoute(Model):
    save_files = None


class Estimator:
    """A plug-in with no way to be saved."""

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)
'''

SK_PLUGIN = '''
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Model(RegressorMixin, BaseEstimator):
    """A scikit-learn estimator from a plug-in file: skops could write it, but never load its class."""

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)
'''


@pytest.fixture
def plugins(tmp_path) -> Path:
    folder = tmp_path / "competition" / "demo" / "models"
    folder.mkdir(parents=True)
    (folder / "mine.py").write_text(PLUGIN)
    (folder / "sk_mine.py").write_text(SK_PLUGIN)
    return folder


def test_a_plugin_saves_through_its_own_save_files_and_load_files(plugins):
    model, X, _ = _fitted("regression", {"type": "mine"}, plugin_dir=plugins)
    files = model_files(model)
    assert sorted(files) == ["coef.npy", "model.json"]
    assert np.array_equal(load_model(files, plugin_dir=plugins).predict(X), model.predict(X))
    with pytest.raises(UserError, match=r"plug-in file mine\.py; pass plugin_dir"):
        load_model(files)


def test_a_plugin_behind_the_preprocessing_saves_its_estimator_its_own_way(plugins):
    model, X, _ = _fitted("regression", {"type": "mine", "preprocess": "impute"}, plugin_dir=plugins)
    files = model_files(model)
    assert "estimator/coef.npy" in files and "transformer.skops" in files
    assert np.array_equal(load_model(files, plugin_dir=plugins).predict(X), model.predict(X))


def test_skops_files_are_deflated_and_read_back_the_same():
    """skops stores its JSON schema uncompressed by default: a fold's spline basis was 730 KB on 56 columns."""
    import zipfile

    import skops.io

    task, spec, _ = CASES["linear-splines"]
    model, X, _ = _fitted(task, spec)
    files = model_files(model)
    info = zipfile.ZipFile(io.BytesIO(files["transformer.skops"])).getinfo("schema.json")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    assert len(files["transformer.skops"]) < 0.3 * len(skops.io.dumps(model.transformer_))
    assert np.array_equal(load_model(files).predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("spec, expected", [
    ({"type": "mine", "estimator": "Estimator"}, r"^Estimator \(/\S+/competition/demo/models/mine\.py\) has no way to "
                                                 r"be saved: give "
                                                 r"the class save_files"),
    ({"type": "mine", "estimator": "NoRoute"}, r"^NoRoute \(/\S+/mine\.py\) has no way to be saved"),  # its file
    ({"type": "sk_mine"}, r"^Model holds _pipeline_plugin_\w+\.Model, which skops files may not load"),
])
def test_a_plugin_without_a_way_to_be_saved_gets_one_line(plugins, spec, expected):
    model, _, _ = _fitted("regression", spec, plugin_dir=plugins)
    reason = why_not_saveable(model)
    assert reason is not None and "\n" not in reason
    assert __import__("re").search(expected, reason), reason
    with pytest.raises(NotSaveable, match=expected):
        model_files(model)
    assert issubclass(NotSaveable, UserError)


def test_a_saveable_model_has_no_reason():
    assert why_not_saveable(_fitted("regression", CASES["ridge"][1], n=80)[0]) is None


@pytest.mark.parametrize("case, expected", [("lightgbm-binary", "LightGBMModel cannot be saved as lightgbm ("),
                                            ("bare-sklearn", "HistGradientBoostingRegressor cannot be saved as skops ("),
                                            ("ridge", "Preprocessed cannot be saved as preprocessed (")])
def test_an_unfitted_model_is_not_saveable(case, expected):
    task, spec, _ = CASES[case]
    assert why_not_saveable(build_model("m", spec, _ctx(task))).startswith(expected)


# ---- refused files -------------------------------------------------------------------------------
# (model, file, what refuses it when model.json's digest was forged to match a truncated file). LightGBM's
# and CatBoost's parsers read past the end of a truncated file (a crash, not an error): persist checks
# the sizes their headers declare first.
TRUNCATED = [("lightgbm-binary", "model.txt", r"model\.txt is not a complete LightGBM model"),
             ("catboost-binary", "model.cbm", r"model\.cbm is not a complete CatBoost model"),
             ("xgboost-regression", "model.ubj", r"the xgboost model could not be read \("),
             ("mlp-snapshots", "snapshot_1.pt", r"the torch model could not be read \("),
             ("logistic", "estimator/model.skops", r"file 'estimator/model\.skops' does not match its digest in "
                                                   r"estimator/model\.json"),
             ("logistic", "transformer.skops", r"transformer\.skops: not a readable skops file \(")]


@pytest.mark.parametrize("case, name, forged", TRUNCATED)
def test_a_tampered_or_truncated_file_is_refused_on_one_line(case, name, forged, tmp_path):
    task, spec, array = CASES[case]
    files = model_files(_fitted(task, spec, array, n=120)[0])
    content = files[name]
    flipped = content[:len(content) // 2] + bytes([content[len(content) // 2] ^ 1]) + content[len(content) // 2 + 1:]
    for bad in (flipped, content[:len(content) // 2]):
        with pytest.raises(UserError, match=rf"file '{name}' does not match its digest in model\.json") as err:
            load_model({**files, name: bad})
        assert "\n" not in str(err.value)
        with pytest.raises(UserError, match=r"does not match its digest"):  # the same from a folder
            write_files({**files, name: bad}, tmp_path / "m")
            load_model(tmp_path / "m")
    # a forged digest reaches the library's reader, which must refuse the truncated file, not crash
    with pytest.raises(UserError, match=forged) as err:
        load_model(_forged(files, name, content[:len(content) // 3]))
    assert "\n" not in str(err.value)


def test_a_damaged_manifest_or_a_missing_file_is_refused():
    files = model_files(_fitted("regression", CASES["ridge"][1], n=80)[0])
    with pytest.raises(UserError, match=r"model\.json is not a saved model's manifest"):
        load_model({**files, "model.json": files["model.json"][:-5]})
    with pytest.raises(UserError, match=r"file 'transformer\.skops' listed in model\.json is missing"):
        load_model({k: v for k, v in files.items() if k != "transformer.skops"})
    with pytest.raises(UserError, match=r"no model\.json"):
        load_model({"model.txt": b""})


class _Boom:
    """Unpickling it would run a command (it writes a file where the test looks)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


def test_torch_weights_never_unpickle_code(tmp_path):
    import torch

    task, spec, _ = CASES["mlp-regression"]
    files = model_files(_fitted(task, spec, n=80)[0])
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save({"x": _Boom(str(marker))}, buffer)
    with pytest.raises(UserError, match=r"the torch model could not be read") as err:
        load_model(_forged(files, "snapshot_0.pt", buffer.getvalue()))
    assert "\n" not in str(err.value) and not marker.exists()
    with pytest.raises(UserError, match=r"the torch model could not be read"):  # npz is read without pickle
        load_model(_forged(files, "preprocessing.npz", pickle.dumps({"table.mean": _Boom(str(marker))})))
    assert not marker.exists()


def test_skops_refuses_a_type_outside_the_trusted_packages():
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    files = model_files(_fitted("regression", CASES["bare-sklearn"][1], n=80)[0])
    for func, name in ((pickle.loads, "_pickle.loads"), (np.save, "numpy.save")):  # numpy's own functions too
        evil = sio.dumps(FunctionTransformer(func=func))
        with pytest.raises(UserError, match=rf"model\.skops: refuses to load type {name} ") as err:
            load_model(_forged(files, "model.skops", evil))
        assert "\n" not in str(err.value)
    with pytest.raises(NotSaveable, match=r"holds _pickle\.loads, which skops files may not load"):
        model_files(FunctionTransformer(func=pickle.loads).fit(np.zeros((2, 1))))


@pytest.mark.parametrize("task, spec", [
    (TaskInfo("multilabel", (0, 1), ("a", "b", "never")), CASES["lightgbm-binary"][1]),
    (TaskInfo("multiregression", (), ("u", "v")), CASES["mlp-regression"][1]),
])
def test_a_multi_target_model_saves_each_columns_model(task, spec):
    X, first = make_data(task.column(), n=200, categorical=True)
    second = np.roll(first, 7)
    y = np.column_stack([first, second] + ([np.zeros(len(first), dtype=first.dtype)] if len(task.targets) == 3 else []))
    model = build_model("m", spec, ModelContext(task, get_metric(TASKS[task.task].default_metric)))
    fit_model(model, X, y)
    files = model_files(model)
    assert "target_0/model.json" in files and "target_1/model.json" in files and "target_2/model.json" not in files
    loaded = load_model(files)
    assert loaded.constants_ == model.constants_ and loaded.task == model.task
    assert np.array_equal(predict_model(loaded, X, task), predict_model(model, X, task))
    assert np.array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("case", ["xgboost-multiclass", "lightgbm-multiclass"])
def test_categorical_levels_survive_in_the_librarys_own_file(case):
    import pandas as pd

    task, spec, _ = CASES[case]
    model, X, _ = _fitted(task, spec)
    loaded = load_model(model_files(model))
    shuffled = X.assign(c0=pd.Categorical(X["c0"].astype(str), categories=["c", "b", "a"]))  # other codes
    assert np.array_equal(loaded.predict_proba(shuffled), model.predict_proba(X))
