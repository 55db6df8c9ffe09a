"""Parameter validation and loading user code: one schema format, one checker, one plug-in loader.

A schema maps a key to `(type or tuple of types, default, help)`; `REQUIRED` as default means the key
must be given. `validate` checks a table against it (unknown keys with a suggestion, missing keys,
types, allowed values, lower bounds) and fills the defaults. Config sections, model tables and
feature blocks all use it, so every message reads the same way.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any, Callable

from core.errors import UserError, did_you_mean

REQUIRED = object()

# How a type is named in error messages.
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "a list", dict: "a table"}


def type_names(typ: Any) -> str:
    """'an integer or a number' for (int, float)."""
    types = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join(TYPE_NAMES.get(t, getattr(t, "__name__", str(t))) for t in types)


def check_type(value: Any, typ: Any) -> tuple[bool, Any]:
    """(fits, value): an int where only a float is expected becomes a float; a bool is never a number."""
    types = typ if isinstance(typ, tuple) else (typ,)
    if float in types and int not in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool)) for t in types)
    return ok, value


def validate(given: dict, schema: dict[str, tuple[Any, Any, str]], *, where: str, noun: str = "key",
             name: Callable[[str], str] = repr, choices: dict[str, tuple] | None = None,
             minimum: dict[str, float] | None = None, unknown_hint: str = "",
             missing_hint: Callable[[str], str] = lambda key: "") -> dict:
    """`given` checked against `schema`, defaults filled in (deep copies); UserError on the first problem.

    Messages read `<where>: unknown <noun> <name(key)> (did you mean ...?)<unknown_hint>`,
    `<where>: missing <noun> <name(key)> (<help>)<missing_hint(key)>` and
    `<where>: <noun> <name(key)> must be <type>, got <value>`."""
    for key in given:
        if key not in schema:
            raise UserError(f"{where}: unknown {noun} {name(key)}{did_you_mean(str(key), tuple(schema))}"
                            f"{unknown_hint}")
    out = {}
    for key, (typ, default, help_) in schema.items():
        if key not in given:
            if default is REQUIRED:
                raise UserError(f"{where}: missing {noun} {name(key)} ({help_}){missing_hint(key)}")
            out[key] = copy.deepcopy(default)
            continue
        ok, value = check_type(given[key], typ)
        if not ok:
            raise UserError(f"{where}: {noun} {name(key)} must be {type_names(typ)}, got {given[key]!r}")
        allowed = (choices or {}).get(key)
        for item in (value if isinstance(value, list) else [value]) if allowed is not None else []:
            if item not in allowed:
                raise UserError(f"{where}: {noun} {name(key)} has {item!r}, expected one of "
                                f"{', '.join(map(repr, allowed))}"
                                f"{did_you_mean(str(item), [str(a) for a in allowed])}")
        low = (minimum or {}).get(key)
        if low is not None and value < low:
            raise UserError(f"{where}: {noun} {name(key)} must be at least {low}, got {value!r}")
        out[key] = value
    return out


def check_choice(value: str, choices: tuple[str, ...] | list[str], *, where: str) -> None:
    """UserError unless `value` is one of `choices` (a registry's names)."""
    if value not in choices:
        raise UserError(f"{where} = {value!r} is not one of {', '.join(choices)}"
                        f"{did_you_mean(value, tuple(choices)) if ' (did' in did_you_mean(value, tuple(choices)) else ''}")


# ---- estimators' constructor parameters --------------------------------------------------------
def init_params(cls: Any) -> tuple[set[str], bool]:
    """(constructor parameter names, accepts **kwargs) of a class, or of a function's signature."""
    try:
        sig = inspect.signature(cls.__init__ if inspect.isclass(cls) else cls)
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
    return names, any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def check_init_params(cls: Any, params: dict, *, where: str) -> None:
    """Raise UserError naming the first parameter `cls` does not accept."""
    names, var_kw = init_params(cls)
    if var_kw:
        return
    for key in params:
        if key not in names:
            label = getattr(cls, "__name__", str(cls))
            raise UserError(f"{where}: {label} does not accept parameter {key!r}"
                            f"{did_you_mean(key, sorted(names)) if names else ' (it takes no parameters)'}")


def with_threads(cls: Any, params: dict, threads: int) -> dict:
    """`params` plus the thread count under the name the estimator uses (n_jobs, num_threads, thread_count).
    A scikit-learn estimator's `n_jobs` is left as it is: its default (None) takes the joblib context each
    fit runs in (the run's threads), and LogisticRegression warns on every fit that it is deprecated."""
    names, _ = init_params(cls)
    out = dict(params)
    for key in ("n_jobs", "num_threads", "thread_count", "nthread"):
        if key in names:
            if not (key == "n_jobs" and _from_sklearn(cls)):
                out[key] = threads
            break
    return out


def _from_sklearn(cls: Any) -> bool:
    """Whether `cls` is an estimator scikit-learn ships, or a subclass of one (not only of its base classes
    and mixins, which a teammate's own estimator inherits too)."""
    modules = (c.__module__ for c in getattr(cls, "__mro__", ()))
    return any(m.split(".")[0] == "sklearn" and not m.startswith(("sklearn.base", "sklearn.utils")) for m in modules)


# ---- user code -------------------------------------------------------------------------------------
def import_object(path: str, *, where: str) -> Any:
    """Import `pkg.mod.Name` or `pkg.mod:Name`; a missing module or name -> UserError naming `where`."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise UserError(f"{where} = {path!r} is not an import path; write it as 'package.module.Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"{where} = {path!r}: cannot import module {module_name!r} ({exc}); "
                        f"check the spelling or install the package") from None
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise UserError(f"{where} = {path!r}: module {module_name!r} has no {attr!r}{did_you_mean(attr, public)}")
    return getattr(module, attr)


def load_module_file(path: Path, *, prefix: str, what: str) -> Any:
    """Import a user's Python file as a module (a fresh module per path; re-read when called again).

    It is registered in sys.modules (dataclasses and pickling look modules up there); a failure to
    import it -> UserError naming the file, `what` it is, and the exception on one line."""
    path = Path(path)
    module_name = f"_{prefix}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: reported on one line
        sys.modules.pop(module_name, None)
        raise UserError(f"{path}: the {what} failed to import ({type(exc).__name__}: {exc}); fix the file") from None
    return module


def flatten_params(params: dict, prefix: str = "") -> dict[str, Any]:
    """Nested parameters as dotted keys: {"params": {"num_leaves": 15}} -> {"params.num_leaves": 15}
    (an empty table stays a value)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            out.update(flatten_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
