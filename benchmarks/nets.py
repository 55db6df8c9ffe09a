"""Neural nets side by side: MLP snapshots, DenseNet on digits, RNN with attention on fine_foods.

    python benchmarks/nets.py                       # everything (about 20 minutes on 2 CPU cores)
    python benchmarks/nets.py --only mlp            # one part: mlp, densenet, rnn
    python benchmarks/nets.py --device cuda         # the nets on a GPU (also prints CPU vs GPU per epoch)

Each part builds a temporary workspace from benchmarks/data/<set> with the config `init` writes, runs
the folds and features stages, and trains under the pipeline's 5-fold CV (`ModelSetup.train_cv`, one
thread unless --threads):

  mlp       `type = "mlp"` at the same epochs (50) with and without snapshots: one cosine cycle and
            the final weights, vs 5 cycles with the 5 end-of-cycle snapshots averaged; OOF and test
            score and the wall-time ratio (target <= 1.15: the snapshots must be nearly free), on
            titanic and hpc. Each is timed twice, interleaved; the faster run counts.
  densenet  `type = "densenet"` (defaults) on digits: OOF and test accuracy (target >= 0.985; default
            LightGBM run 0.969, AutoGluon best_quality 0.981).
  rnn       `type = "rnn"` (defaults) on fine_foods: OOF and test AUC against TF-IDF + logistic
            regression (the features stage's out-of-fold `tfidf_linear` column, 0.871 in ANCHORS.md),
            the same net joined with the feature table, and the default ensemble (every model `init`
            writes, the default zoo) without and with the RNN, end to end through the submission.

Training rows per second = training rows x epochs / seconds (fit and prediction, all folds). Test
scores come from solution.csv, which the pipeline never reads; choices are made on the OOF score.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import core  # noqa: E402,F401  (sets the OpenMP wait policy before torch loads)
from benchmarks.score_submission import score_submission  # noqa: E402
from pipeline.runner import Runner  # noqa: E402
from pipeline.stages import build_pipeline  # noqa: E402
from pipeline.context import CompetitionContext  # noqa: E402
from pipeline.model_setup import ModelSetup  # noqa: E402
from pipeline.workspace import Workspace  # noqa: E402

DATA = REPO / "benchmarks" / "data"
PARTS = ("mlp", "densenet", "rnn")
TFIDF_ANCHOR = 0.871
SUMMARY: list[str] = []


def _workspace(root: Path, name: str, models: str = "") -> Path:
    """competition/<name> under `root` with the data and the config `init` writes (+ `models` tables)."""
    from pipeline.init_competition import _read, infer, render_config

    dest = root / "competition" / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        shutil.copyfile(DATA / name / f, dest / f)
    config = render_config(infer(*[_read(dest / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]), {})
    (dest / "competition.toml").write_text(config + models)
    return dest


def _training(root: Path, name: str) -> ModelSetup:
    comp = Workspace(root).competition(name)
    Runner(build_pipeline(), comp, log=lambda m: None).run("features")
    return CompetitionContext(comp, log=lambda m: None).training()


def _test_score(tr: ModelSetup, pred: np.ndarray) -> float:
    comp = tr.comp
    sol = pd.read_csv(DATA / comp.name / "solution.csv")
    pos = pd.Index(tr.test[comp.id_col]).get_indexer(sol[comp.id_col])
    return tr.metric(tr.task.encode(sol[comp.target]), np.asarray(pred)[pos])


def _cv(tr: ModelSetup, spec: dict, threads: int) -> tuple:
    t0 = time.perf_counter()
    res = tr.train_cv("net", spec, threads=threads, log=lambda m: None)
    return res, time.perf_counter() - t0


def _rows_per_s(tr: ModelSetup, epochs: int, seconds: float) -> float:
    n_folds = len(np.unique(tr.folds))
    return len(tr.y) * (n_folds - 1) * epochs / seconds  # each row trains in n_folds - 1 folds


def _line(label: str, oof: float, test: float, seconds: float, rows_s: float, note: str = "") -> str:
    return f"  {label:<34} {oof:>8.4f} {test:>8.4f} {seconds:>8.1f} {rows_s:>9.0f}  {note}"


def _header(title: str, tr: ModelSetup) -> None:
    better = "higher" if tr.metric.greater_is_better else "lower"
    print(f"\n{title}: {tr.metric.name} ({better} is better), {len(tr.y)} train / {len(tr.test)} test rows")
    print(f"  {'':<34} {'OOF':>8} {'test':>8} {'seconds':>8} {'rows/s':>9}")


def bench_mlp(root: Path, threads: int, device: str, epochs: int = 50, m: int = 5) -> None:
    for name in ("titanic", "hpc"):
        _workspace(root, name)
        tr = _training(root, name)
        plain = {"type": "mlp", "params": {"epochs": epochs, "cycles": 1, "snapshots": 1, "device": device}}
        snap = {"type": "mlp", "params": {"epochs": epochs, "cycles": m, "snapshots": m, "device": device}}
        runs: dict[str, list] = {"plain": [], "snap": []}
        for _ in range(2):  # interleaved, so that a busy moment on the machine hits both
            for key, spec in (("plain", plain), ("snap", snap)):
                runs[key].append(_cv(tr, spec, threads))
        (res_p, t_p), (res_s, t_s) = (min(runs[k], key=lambda r: r[1]) for k in ("plain", "snap"))
        assert np.array_equal(runs["snap"][0][0].oof, runs["snap"][1][0].oof), "the MLP is not reproducible"
        _header(f"{name}: MLP, {epochs} epochs", tr)
        print(_line("one cycle, final weights", res_p.overall, _test_score(tr, res_p.test), t_p,
                    _rows_per_s(tr, epochs, t_p)))
        print(_line(f"{m} cycles, {m} snapshots averaged", res_s.overall, _test_score(tr, res_s.test), t_s,
                    _rows_per_s(tr, epochs, t_s)))
        ratio = t_s / t_p
        verdict = "meets" if ratio <= 1.15 else "MISSES"
        print(f"  wall-time ratio snapshots / one cycle: {ratio:.3f} ({verdict} the <= 1.15 target)")
        SUMMARY.append(f"mlp {name}: OOF {res_p.overall:.4f} -> {res_s.overall:.4f} with snapshots, "
                       f"time ratio {ratio:.3f} ({verdict} <= 1.15)")


def _epoch_seconds(tr: ModelSetup, spec: dict, threads: int, device: str, epochs: int = 2) -> float:
    """Seconds per epoch of one fold's training (fold 0's training rows, `epochs` epochs, no CV)."""
    from models import build_model
    from models._cv import wanted_arrays

    spec = {**spec, "params": {**spec["params"], "epochs": epochs, "device": device, "cycles": 1, "snapshots": 1}}
    X, _, arrays = tr.features
    from models import ModelContext

    model = build_model("net", spec, ModelContext(tr.task, tr.metric, threads, None, arrays))
    rows = tr.folds != np.unique(tr.folds)[0]
    fit_arrays = {k: a[rows] for k, (a, _) in wanted_arrays(model, arrays).items()}
    t0 = time.perf_counter()
    model.fit(X[rows], tr.y[rows], arrays=fit_arrays)
    return (time.perf_counter() - t0) / epochs


def _gpu_line(tr: ModelSetup, spec: dict, threads: int) -> None:
    import torch

    if not torch.cuda.is_available():
        print("  GPU: none available on this machine (torch.cuda.is_available() is False): CPU figures only")
        return
    cpu, gpu = (_epoch_seconds(tr, spec, threads, d) for d in ("cpu", "cuda"))
    print(f"  seconds per epoch (one fold): CPU {cpu:.2f}, GPU {gpu:.2f} ({cpu / gpu:.1f}x), "
          f"{torch.cuda.get_device_name(0)}")


def bench_densenet(root: Path, threads: int, device: str) -> None:
    from models.nets import NETS

    _workspace(root, "digits")
    tr = _training(root, "digits")
    spec = {"type": "densenet", "params": {"device": device}}
    res, seconds = _cv(tr, spec, threads)
    epochs = NETS["densenet"].loop["epochs"]
    test = _test_score(tr, res.test)
    _header("digits: DenseNet (defaults)", tr)
    print(_line("densenet", res.overall, test, seconds, _rows_per_s(tr, epochs, seconds),
                "(LightGBM default run 0.969, AutoGluon best_quality 0.981)"))
    verdict = "meets" if test >= 0.985 else "MISSES"
    print(f"  test accuracy {test:.4f}: {verdict} the >= 0.985 target")
    _gpu_line(tr, spec, threads)
    SUMMARY.append(f"densenet digits: OOF {res.overall:.4f}, test {test:.4f} ({verdict} >= 0.985), {seconds:.0f}s")


def _models_start(config: str) -> int:
    """Where the first [models.NAME] table starts (a line of its own, not a mention in a comment)."""
    return config.index("\n[models.") + 1 if "\n[models." in config else len(config)


def _zoo_models(comp_dir: Path) -> str:
    """The [models.*] tables `init` writes for this competition (the default zoo), as TOML text."""
    config = (comp_dir / "competition.toml").read_text()
    return config[_models_start(config):]


def _init_config(root: Path, name: str) -> Path:
    """The workspace with exactly the config `pipeline init` writes (the zoo for the task and data)."""
    from pipeline.init_competition import _read, infer, render_config

    comp_dir = _workspace(root, name)
    frames = [_read(comp_dir / f) for f in ("train.csv", "test.csv", "sample_submission.csv")]
    inf = infer(*frames)
    try:
        from pipeline.zoo import default_models, describe, facts_of
    except ImportError:  # a checkout without the zoo: init writes one LightGBM model
        return comp_dir
    facts = facts_of(frames[0], frames[1], id_col=inf.id, target=inf.target)
    (comp_dir / "competition.toml").write_text(render_config(inf, {}, default_models(inf.task, facts),
                                                             describe(inf.task, facts)))
    return comp_dir


def _without(models: str, name: str) -> str:
    """TOML model tables without [models.<name>]."""
    parts = ("\n" + models).split("\n[models.")
    return "".join("\n[models." + part for part in parts[1:] if not part.startswith(f"{name}]")).lstrip("\n")


def _pipeline_run(root: Path, name: str, models: str) -> tuple[float, float, float]:
    """Run every stage with the config `init` writes, its models replaced by `models`:
    (ensemble OOF score, submission test score, seconds)."""
    comp_dir = root / "competition" / name
    config = (comp_dir / "competition.toml").read_text()
    (comp_dir / "competition.toml").write_text(config[: _models_start(config)] + models)
    comp = Workspace(root).competition(name)
    runner = Runner(build_pipeline(), comp, log=lambda m: None)
    t0 = time.perf_counter()
    runner.run()
    seconds = time.perf_counter() - t0
    scores = pd.read_json(comp.runs / "ensemble" / "scores.json", typ="series")
    sub = comp.workspace / runner.state["submit"]["paths"][0]
    _, test = score_submission(sub, DATA / name / "solution.csv", comp_dir=comp_dir)
    return float(scores["overall"]), test, seconds


def bench_rnn(root: Path, threads: int, device: str) -> None:
    import json

    from models.nets import NETS

    comp_dir = _init_config(root, "fine_foods")
    zoo = _zoo_models(comp_dir)
    rnn_table = '[models.rnn]\ntype = "rnn"\n' + (f'params = {{ device = "{device}" }}\n' if device != "auto" else "")
    with_rnn = _without(zoo, "rnn") + "\n" + rnn_table
    tr = _training(root, "fine_foods")
    epochs = NETS["rnn"].loop["epochs"]
    X, X_test, _ = tr.features
    tfidf = [c for c in X.columns if c.endswith("__tfidf_lr")][0]
    _header("fine_foods: RNN with attention (defaults)", tr)
    print(_line(f"TF-IDF + logistic (OOF {tfidf})", tr.metric(tr.y, X[tfidf].to_numpy()),
                _test_score(tr, X_test[tfidf].to_numpy()), float("nan"), float("nan"), f"(ANCHORS: {TFIDF_ANCHOR})"))
    without = _pipeline_run(root, "fine_foods", _without(zoo, "rnn"))
    joined = _pipeline_run(root, "fine_foods", with_rnn)  # the cv stage trains only the rnn: the rest is fresh
    run = tr.comp.runs / "models" / "rnn"
    rnn_oof = json.loads((run / "scores.json").read_text())["overall"]
    rnn_test = _test_score(tr, tr.task.from_frame(pd.read_parquet(run / "test.parquet")))
    seconds = json.loads((run / "timings.json").read_text())["total"]
    print(_line("rnn", rnn_oof, rnn_test, seconds, _rows_per_s(tr, epochs, seconds)))
    spec = {"type": "rnn", "params": {"inputs": ["review_seq", "table"], "device": device}}
    res, t_table = _cv(tr, spec, threads)
    table_test = _test_score(tr, res.test)
    print(_line("rnn joined with the feature table", res.overall, table_test, t_table,
                _rows_per_s(tr, epochs, t_table)))
    _gpu_line(tr, {"type": "rnn", "params": {}}, threads)
    members = ", ".join(part.split("]")[0] for part in ("\n" + _without(zoo, "rnn")).split("\n[models.")[1:])
    print(_line(f"default ensemble ({members})", without[0], without[1], without[2], float("nan"),
                "(whole pipeline)"))
    print(_line("default ensemble + rnn", joined[0], joined[1], joined[2], float("nan"),
                "(the ensemble weights members by OOF)"))
    SUMMARY.append(f"rnn fine_foods: OOF {rnn_oof:.4f}, test {rnn_test:.4f} vs TF-IDF+linear {TFIDF_ANCHOR}; "
                   f"joined with the table OOF {res.overall:.4f}, test {table_test:.4f}; default ensemble test "
                   f"{without[1]:.4f} -> {joined[1]:.4f} with the rnn (OOF {without[0]:.4f} -> {joined[0]:.4f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    p.add_argument("--threads", type=int, default=1, help="torch threads per fit (default 1)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = p.parse_args()
    import torch

    print(f"torch {torch.__version__}, {args.threads} thread(s), device {args.device} "
          f"(GPU available: {torch.cuda.is_available()})")
    with tempfile.TemporaryDirectory() as tmp:
        for part in args.only.split(","):
            part = part.strip()
            {"mlp": bench_mlp, "densenet": bench_densenet, "rnn": bench_rnn}[part](Path(tmp) / part, args.threads,
                                                                                  args.device)
    print("\nsummary")
    for line in SUMMARY:
        print(f"  {line}")


if __name__ == "__main__":
    main()
