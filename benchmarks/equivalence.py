"""Behaviour fingerprint of default runs: OOF/test predictions and submission bytes, recorded or compared.

    python benchmarks/equivalence.py --record     # write benchmarks/equivalence.json from this checkout
    python benchmarks/equivalence.py              # run again and compare with the recorded file

Cases: `init` + `run` with one LightGBM on each of the six sets in benchmarks/data/ (through the
CLI, in a temporary workspace; the model is pinned, as init's default zoo grows), the shipped
titanic competition as it is, and hpc and ames_clean with a small
zoo (LightGBM, scikit-learn, the torch MLP, a plug-in model, pseudo-labelling, a LightGBM stacker),
so that refactoring the code under every stage is checked end to end. For each case it records the
SHA-256 of every run's `oof.parquet` / `test.parquet` prediction values (ids included) and of the
submission's bytes. A restructuring must leave all of them unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "data"
RECORD = REPO / "benchmarks" / "equivalence.json"
SETS = ("titanic", "breast_cancer", "hpc", "ames_clean", "digits", "fine_foods")

_ZOO = """
[pseudo]
enabled = true
models = ["lgbm"]

[ensemble]
stackers = ["linear", "lightgbm"]

[models.lgbm]
type = "lightgbm"
params = {{ num_leaves = 15 }}

[models.forest]
type = "sklearn"
estimator = "sklearn.ensemble.ExtraTrees{kind}"
params = {{ n_estimators = 50, min_samples_leaf = 3, random_state = 0 }}

[models.mlp]
type = "mlp"
params = {{ cycles = 2, epochs = 6, snapshots = 2 }}

[models.mine]
type = "mine"
"""

_PLUGIN = '''"""A plug-in model: a scikit-learn linear model with its own imputation."""
from sklearn.base import BaseEstimator


class Model(BaseEstimator):
    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        import numpy as np

        X = X.select_dtypes("number")
        self.columns_ = list(X.columns)
        is_class = np.issubdtype(np.asarray(y).dtype, np.integer)
        est = LogisticRegression(C=1 / self.alpha, max_iter=500) if is_class else Ridge(alpha=self.alpha)
        self.model_ = make_pipeline(SimpleImputer(), est).fit(X, y)
        if is_class:
            self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X[self.columns_])

    def predict_proba(self, X):
        return self.model_.predict_proba(X[self.columns_])
'''


def _cli(root: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--root", str(root), *args],
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def _digest_frame(path: Path) -> str:
    import pandas as pd

    frame = pd.read_parquet(path)
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    for col in frame.columns:
        h.update(frame[col].astype(str).str.cat(sep="|").encode()
                 if frame[col].dtype.kind not in "fiub" else frame[col].to_numpy().tobytes())
    return h.hexdigest()[:16]


def _fingerprint(root: Path, name: str) -> dict:
    runs = root / "competition" / name / "runs"
    out = {}
    for path in sorted(runs.rglob("*.parquet")):
        rel = path.relative_to(runs)
        if rel.parts[0] in ("models", "pseudo", "ensemble") and path.name in ("oof.parquet", "test.parquet"):
            out[str(rel)] = _digest_frame(path)
    sub = root / "submissions" / name / "latest.csv"
    out["submission"] = hashlib.sha256(sub.read_bytes()).hexdigest()[:16]
    return out


def _init_case(tmp: Path, name: str, zoo: bool) -> dict:
    root = tmp / (name + ("-zoo" if zoo else ""))
    (root / "competition").mkdir(parents=True)
    _cli(root, "init", name, *[f"--{f.replace('_', '-')}={DATA / name / (f + '.csv')}"
                               for f in ("train", "test", "sample_submission")])
    comp = root / "competition" / name
    config = (comp / "competition.toml").read_text()
    config = config[: config.index("\n[models.") + 1]  # init's model zoo grows with the project: pinned here
    if zoo:
        config = config.replace("[pseudo]\n", "").replace("[ensemble]\n", "")  # the zoo sets them
        kind = "Regressor" if 'task = "regression"' in config else "Classifier"
        (comp / "competition.toml").write_text(config + _ZOO.format(kind=kind))
        (comp / "models").mkdir()
        (comp / "models" / "mine.py").write_text(_PLUGIN)
    else:
        (comp / "competition.toml").write_text(config + '[models.lgbm]\ntype = "lightgbm"\n')
    _cli(root, "run")
    return _fingerprint(root, name)


def _shipped_case(tmp: Path) -> dict:
    root = tmp / "shipped"
    (root / "competition").mkdir(parents=True)
    src = REPO / "competition" / "titanic"
    dest = root / "competition" / "titanic"
    dest.mkdir()
    for f in src.iterdir():
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    _cli(root, "run")
    return _fingerprint(root, "titanic")


def collect(cases: list[str]) -> dict:
    """Run every case in a temporary folder; case name -> {artifact: digest}."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for case in cases:
            print(f"running {case} ...", file=sys.stderr, flush=True)
            if case == "shipped-titanic":
                out[case] = _shipped_case(tmp)
            else:
                name, _, zoo = case.partition("+")
                out[case] = _init_case(tmp, name, zoo == "zoo")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", action="store_true", help=f"write {RECORD.name} instead of comparing")
    p.add_argument("--cases", default=None, help="comma-separated subset of cases")
    p.add_argument("--file", type=Path, default=RECORD,
                   help=f"the record to write or compare with (default {RECORD.name}; e.g. one recorded from a "
                        f"checkout of the commit before a restructuring)")
    args = p.parse_args()
    all_cases = [*SETS, "shipped-titanic", "hpc+zoo", "ames_clean+zoo"]
    cases = args.cases.split(",") if args.cases else all_cases
    got = collect(cases)
    if args.record:
        args.file.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(got)} cases in {args.file}")
        return 0
    want = json.loads(args.file.read_text())
    bad = 0
    for case in cases:
        diffs = sorted(k for k in set(want.get(case, {})) | set(got[case])
                       if want.get(case, {}).get(k) != got[case].get(k))
        print(f"{case:<18} {'identical' if not diffs else 'DIFFERENT: ' + ', '.join(diffs)}"
              f"  ({len(got[case])} artifacts)")
        bad += bool(diffs)
    print(f"{len(cases) - bad} of {len(cases)} cases identical to {args.file.name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
