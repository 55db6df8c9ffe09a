"""Plug-in models: a teammate's estimator class from a file in competition/<name>/models/ or an import path.

The contract is scikit-learn's: parameters only in `__init__`, `fit(X, y) -> self`, `predict(X)`, and
`predict_proba(X)` for classification (rows summing to 1, columns in `classes_` order). A `fit` that
also names `X_valid` and `y_valid` receives rows held out of its training rows for early stopping
(never the rows its fold is scored on: `models._cv.fit_honest`), and one
that names `log` receives a callable for one-line progress messages. Check a
model with `models.testing.check_model(model, task)`.

In the file, the class is the one named by the table's `estimator` key, else the one called `Model`.
With `preprocess = "impute"` or `"scale"` it receives imputed, one-hot encoded numeric arrays;
by default it receives the feature DataFrame itself (floats and pandas categoricals).

Array inputs (a teammate's CNN or sequence model): a `fit` that names `arrays` receives
`{name: array}` with the rows of each array input the features stage wrote (`image`: (n, C, H, W)
floats; `<column>_seq`: padded token ids) for exactly the rows of X it fits on -- never its fold's
validation rows -- and `arrays_valid` alongside X_valid when it names both; its `predict` and
`predict_proba` must then name `arrays` too and receive the rows they predict. An optional
`array_inputs({name: train array}) -> [names]` limits which arrays are sliced for it (default: all).
`check_model(model, task, arrays=...)` checks all of it. Keep `preprocess` at its default ("none"):
the preprocessing wrapper passes no arrays on.

Saving a fitted model (`models.persist`, so that a later `predict` applies a run's fold models to new
rows): a class that defines `save_files(self) -> {name: bytes}` and a classmethod
`load_files(cls, files) -> fitted model` is saved through them -- write each array, tensor or
library model in a format of its own (`np.save`, `torch.save` of a state dict, a library's model file),
never a pickle -- and read back with `load_files({name: bytes})`; the class itself is found again by its
import path or, for a plug-in file, in competition/<name>/models/. Without them a plain scikit-learn
estimator whose attributes are all scikit-learn, NumPy or SciPy objects is saved with skops; anything
else is reported on one line (`models.persist.why_not_saveable`) and the run goes on without its files.

    class Model:
        def save_files(self):
            buffer = io.BytesIO()
            np.save(buffer, self.coef_)
            return {"coef.npy": buffer.getvalue()}

        @classmethod
        def load_files(cls, files):
            model = cls()
            model.coef_ = np.load(io.BytesIO(files["coef.npy"]))
            return model
"""

from __future__ import annotations

import inspect
from typing import Any

from core.params import check_init_params, import_object, load_module_file, with_threads
from models._types import ModelContext
from core.errors import UserError, did_you_mean


def plugin_class(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The estimator class a plug-in model table points at."""
    type_name = spec["type"]
    path = ctx.plugin_dir / f"{type_name}.py" if ctx.plugin_dir is not None else None
    if path is None or not path.is_file():
        return import_object(type_name, where=f"models.{name}.type")
    module = load_module_file(path, prefix="pipeline_plugin", what="plug-in")
    attr = spec.get("estimator") or "Model"
    if not hasattr(module, attr):
        classes = [n for n, v in vars(module).items()
                   if inspect.isclass(v) and v.__module__ == module.__name__ and hasattr(v, "fit")]
        hint = did_you_mean(attr, classes) if classes else " (it defines no class with a fit method)"
        raise UserError(f"{path}: no class {attr!r}{hint}; name it Model or set models.{name}.estimator "
                        f"to the class name")
    return getattr(module, attr)


def build(name: str, spec: dict, ctx: ModelContext) -> Any:
    """The template estimator for a plug-in model table."""
    from models.sk import check_task, instantiate, wrap

    cls = plugin_class(name, spec, ctx)
    if not inspect.isclass(cls) or not hasattr(cls, "fit") or not hasattr(cls, "predict"):
        raise UserError(f"models.{name}: {spec['type']!r} is not an estimator class with fit and predict "
                        f"methods; see models/plugins.py for the contract")
    params = dict(spec.get("params", {}))
    check_init_params(cls, params, where=f"models.{name}.params")
    params = with_threads(cls, params, ctx.threads)
    estimator = instantiate(cls, params, where=f"models.{name}")
    check_task(name, estimator, ctx)
    wrapped = wrap(name, estimator, spec, default="none")
    if wrapped is not estimator and not hasattr(cls, "get_params"):  # the wrapper's folds clone it (sklearn's clone)
        raise UserError(f"models.{name}: {cls.__name__} has no get_params, which preprocess = "
                        f"{spec.get('preprocess')!r} needs to copy it for each fold; subclass "
                        f"sklearn.base.BaseEstimator (get_params and set_params from __init__'s arguments) or set "
                        f"preprocess = \"none\"")
    return wrapped
