"""Saved feature states: a run's blocks frozen in plain files, to turn new rows into its model inputs.

`save_states(feature_set, folder)` writes, atomically (a temp folder renamed into place)::

    <folder>/manifest.json          blocks (name, class, params, columns, key, order, output columns,
                                    arrays, state files with their SHA-256), the run's X_test columns
                                    and dtypes (categories included), array dtypes and trailing shapes,
                                    the input columns' types, library versions
    <folder>/<nn>-<block>/state.json + <ref>.npy    one block's state (features._portable; no pickle)

`FrozenFeatures.load(folder, plugin_file=None).transform(frame)` gives new rows the run's X_test
columns, order and dtypes (categoricals with the run's categories: an unseen value is NaN) and its
arrays. Every built-in block transforms each row on its own from its frozen state, so chunks of rows
concatenated equal all rows at once. Two blocks that learn from train and test rows together
keep what they learned frozen: `rank` ranks a new row against the run's train + test values, and
`count` (scope all or train) gives a new row the run's count of its value (0 if the run never
counted it); new rows never change either. A `@feature_block` function is used on new rows only when
it was found row-wise at build time; a plug-in block with no state is refused when it is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from core import io as _io
from core.errors import UserError
from features._base import Block, Transformed
from features._build import BUILTIN_BLOCKS, FeatureSet, feature_frame, load_plugin
from features._categorical import as_category
from features._portable import Unportable, read_state, write_state

MANIFEST = "manifest.json"
FORMAT = 1


def save_states(features: FeatureSet, folder: str | Path) -> Path:
    """Write every block's state and the run's X_test layout to `folder` (replaced whole, atomically)."""
    import pandas as pd

    folder = Path(folder)
    with _io.atomic_dir(folder) as tmp:
        blocks = []
        for i, bs in enumerate(features.states):
            entry: dict[str, Any] = {"order": i, "name": bs.name, "class": bs.cls, "params": bs.params,
                                     "columns": bs.columns, "inputs": bs.inputs, "key": bs.key,
                                     "outputs": bs.outputs, "arrays": bs.arrays}
            if bs.source is not None:
                entry["source"] = {"file": Path(bs.source).name, "sha256": _io.hash_file(bs.source)}
            if isinstance(bs.state, Unportable):
                entry["unportable"] = bs.state.reason
            else:
                entry["dir"] = f"{i:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', bs.name)}"
                entry["files"] = write_state(tmp / entry["dir"], bs.state)
            blocks.append(entry)
        columns = [_dtype_spec(name, features.test[name].dtype) for name in features.test.columns]
        arrays = {name: {"dtype": te.dtype.str, "shape": list(te.shape[1:])}
                  for name, (_, te) in sorted(features.arrays.items())}
        _io.write_json(tmp / MANIFEST, {"format": FORMAT, "blocks": blocks, "columns": columns, "arrays": arrays,
                                        "inputs": features.input_dtypes, "versions": _versions(pd)})
    return folder


class FrozenFeatures:
    """A run's feature blocks with their saved states: `transform(frame)` -> (X, arrays) for new rows."""

    def __init__(self, folder: Path, manifest: dict, blocks: list[tuple[dict, Block, Any]]):
        self.folder = folder
        self.manifest = manifest
        self.blocks = blocks
        self.columns = [c["name"] for c in manifest["columns"]]
        self.inputs = list(dict.fromkeys(c for entry, _, _ in blocks for c in entry["inputs"]))
        self._dtypes = {c["name"]: _dtype_from(c) for c in manifest["columns"]}

    @classmethod
    def load(cls, folder: str | Path, plugin_file: str | Path | None = None) -> "FrozenFeatures":
        """Read a `save_states` folder; `plugin_file`: the competition's features.py when plug-in blocks ran.
        UserError (one line) for a missing, damaged or altered folder or a changed plug-in file."""
        folder = Path(folder)
        try:
            manifest = _io.read_json(folder / MANIFEST)
            if manifest.get("format") != FORMAT:
                raise ValueError(f"unknown format {manifest.get('format')!r}")
            entries = manifest["blocks"]
            _ = manifest["columns"], manifest["arrays"], manifest["inputs"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise UserError(f"{folder}: not a saved feature-states folder ({_one_line(err)}); run the features "
                            f"stage again (`python -m pipeline run --stage features --force`)") from None
        registry: dict[str, type[Block]] = dict(BUILTIN_BLOCKS)
        if any("source" in e for e in entries):
            registry.update(_plugin_blocks(folder, entries, plugin_file))
        blocks = []
        for entry in entries:
            try:
                block_cls = registry[entry["name"]]
                if _class_name(block_cls) != entry["class"]:
                    raise UserError(f"{folder}: block {entry['name']!r} was {entry['class']} in the run, now "
                                    f"{_class_name(block_cls)}; run the features stage again")
                block = block_cls(entry["columns"], **entry["params"])
                state = Unportable(entry["unportable"]) if "unportable" in entry \
                    else read_state(folder / entry["dir"], entry["files"])
            except KeyError as err:
                raise UserError(f"{folder}: {MANIFEST} names an unknown block or lacks {err}; run the features "
                                f"stage again") from None
            except (ValueError, TypeError) as err:
                raise UserError(f"{folder}: block {entry.get('name')!r}: {_one_line(err)}; the saved states were "
                                f"changed or damaged, run the features stage again") from None
            blocks.append((entry, block, state))
        return cls(folder, manifest, blocks)

    def transform(self, frame) -> tuple[Any, dict[str, np.ndarray]]:
        """(X, arrays) for the rows of `frame` (raw columns as in test.csv; others are ignored): the run's
        X_test columns, order and dtypes, and its arrays, from the frozen states only."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise UserError(f"features need a DataFrame of rows, got {type(frame).__name__}")
        missing = [c for c in self.inputs if c not in frame.columns]
        if missing:
            raise UserError(f"the rows lack column(s) {', '.join(map(repr, missing[:5]))} that the run's feature "
                            f"blocks read{' (+%d more)' % (len(missing) - 5) if len(missing) > 5 else ''}")
        n = len(frame)
        inputs = {c: _aligned(frame[c].reset_index(drop=True), self.manifest["inputs"].get(c), c) for c in self.inputs}
        frames, arrays = [], {}
        for entry, block, state in self.blocks:
            if isinstance(state, Unportable):
                raise UserError(state.reason)
            out = block.transform(state, pd.DataFrame({c: inputs[c] for c in entry["inputs"]},
                                                      index=pd.RangeIndex(n)))
            _check(entry, out, n)
            if out.frame.shape[1]:
                frames.append(feature_frame(block, out.frame.set_axis([str(c) for c in out.frame.columns], axis=1)
                                            .reset_index(drop=True)))
            arrays.update(out.arrays)
        X = pd.concat(frames, axis=1) if frames else pd.DataFrame(index=pd.RangeIndex(n))
        if list(X.columns) != self.columns:
            raise UserError(f"{self.folder}: the blocks gave columns {list(X.columns)[:5]}..., the run had "
                            f"{self.columns[:5]}...; run the features stage again")
        for col in self.columns:
            X[col] = _as_dtype(X[col], self._dtypes[col])
        for name, spec in self.manifest["arrays"].items():
            arr = arrays[name]
            if list(arr.shape[1:]) != spec["shape"]:
                raise UserError(f"array {name!r}: new rows give shape {list(arr.shape[1:])} per row, the run "
                                f"had {spec['shape']}")
            arrays[name] = arr.astype(np.dtype(spec["dtype"]), copy=False)
        return X, {name: arrays[name] for name in self.manifest["arrays"]}


def _check(entry: dict, out: Transformed, n: int) -> None:
    name = entry["name"]
    if not isinstance(out, Transformed):
        raise UserError(f"block {name!r}: transform must return features.Transformed, got {type(out).__name__}")
    if len(out.frame) != n or any(len(a) != n for a in out.arrays.values()):
        raise UserError(f"block {name!r}: transform returned {len(out.frame)} rows for {n}")
    if [str(c) for c in out.frame.columns] != entry["outputs"] or sorted(out.arrays) != entry["arrays"]:
        raise UserError(f"block {name!r}: transform gave columns {[str(c) for c in out.frame.columns][:5]} and "
                        f"arrays {sorted(out.arrays)}, the run had {entry['outputs'][:5]} and {entry['arrays']}")


def _plugin_blocks(folder: Path, entries: list[dict], plugin_file: str | Path | None) -> dict[str, type[Block]]:
    """The plug-in file's blocks, refused unless it is the file the run used (same SHA-256)."""
    names = [e["name"] for e in entries if "source" in e]
    if plugin_file is None or not Path(plugin_file).is_file():
        raise UserError(f"{folder}: block(s) {', '.join(map(repr, names))} come from the competition's features.py; "
                        f"pass plugin_file (the competition's features.py)")
    recorded = {e["source"]["sha256"] for e in entries if "source" in e}
    if _io.hash_file(plugin_file) not in recorded:
        raise UserError(f"{plugin_file}: changed since the run saved its feature states (blocks "
                        f"{', '.join(map(repr, names))}); run the features stage again")
    return load_plugin(Path(plugin_file))


def _class_name(cls: type[Block]) -> str:
    return cls.__qualname__ if getattr(cls, "_source_file", None) else f"{cls.__module__}.{cls.__qualname__}"


def _dtype_spec(name: str, dtype) -> dict:
    """A column's dtype as JSON: its name, and for a categorical its categories, their dtype and order."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return {"name": name, "dtype": "category", "categories": dtype.categories.tolist(),
                "categories_dtype": str(dtype.categories.dtype), "ordered": bool(dtype.ordered)}
    return {"name": name, "dtype": str(dtype)}


def _dtype_from(spec: dict):
    import pandas as pd

    if spec["dtype"] == "category":
        return pd.CategoricalDtype(pd.Index(spec["categories"], dtype=spec["categories_dtype"]),
                                   ordered=spec["ordered"])
    return pd.api.types.pandas_dtype(spec["dtype"])


def _as_dtype(series, dtype):
    """A column in the run's X_test dtype, converted as features._build._combine converts test columns."""
    import pandas as pd

    if series.dtype == dtype:
        return series
    if isinstance(dtype, pd.CategoricalDtype):
        return as_category(series.astype("str"), dtype)  # a value outside the run's categories -> NaN
    if pd.api.types.is_numeric_dtype(series) and pd.api.types.is_numeric_dtype(dtype):
        if dtype.kind in "iu" and series.dtype.kind == "f":  # new rows the run's integers cannot hold stay float
            return series
        return series.astype(dtype)
    return series.astype("str").astype(dtype)


def _aligned(series, saved: str | None, column: str):
    """An input column in the type it had among the run's test rows, where the values allow it: a chunk
    of a CSV may parse an integer column as floats (missing values) or a text column as numbers."""
    import pandas as pd

    if saved is None or str(series.dtype) == saved:
        return series
    try:
        target = pd.api.types.pandas_dtype(saved)
    except TypeError:
        return series
    if not (isinstance(target, np.dtype) and target.kind in "biuf"):
        if target == object or str(target) == "str":
            return series.astype("str") if pd.api.types.is_numeric_dtype(series) else series
        return series
    if not pd.api.types.is_numeric_dtype(series):
        try:
            series = pd.to_numeric(series)
        except (ValueError, TypeError):
            bad = next((v for v in series if pd.notna(v) and pd.isna(pd.to_numeric(v, errors="coerce"))), None)
            raise UserError(f"column {column!r}: value {bad!r} is not a number, but the column was numeric "
                            f"({saved}) in the run") from None
    if target.kind == "f":
        return series.astype(target)
    if target.kind in "iu" and series.dtype.kind == "f":
        whole = series.dropna()
        if not (whole == np.round(whole)).all():
            return series
        return series.astype(target) if len(whole) == len(series) else series.astype("Int64")
    return series


def _versions(pd) -> dict[str, str]:
    import sklearn

    return {"numpy": np.__version__, "pandas": pd.__version__, "scikit-learn": sklearn.__version__}


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__

