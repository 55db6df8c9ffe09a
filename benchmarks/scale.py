"""Large tables and parallel runs: the pipeline's full run beside a hand-written LightGBM 5-fold loop.

    python benchmarks/scale.py                                  # 100k and 300k rows x 100 columns, speed-ups
    python benchmarks/scale.py --rows 1000000 --no-speedup      # the 1M case (once: ~30 min on 2 busy cores)
    python benchmarks/scale.py --rows 20000 --cols 20           # a quick look

For each size it generates a binary competition reproducibly (`generate`: rows x columns as arguments,
seeded; 95% float columns with 4 decimals, 5% small integers; test = rows / 4), then runs, side by
side and alternating which goes first, each as its own process:

- the pipeline's full run, cold (`python -m pipeline run` on a fresh copy: CSV parse, folds, features,
  LightGBM 5-fold CV, ensemble, submission; the explore report is switched off, the loop has none);
- a hand-written loop doing the same work the way one writes it (with the OpenMP libraries' own wait
  settings, not the pipeline's): `pd.read_csv` with float32 dtypes,
  stratified 5 folds, `lgb.train` with the pipeline's honest early stopping (20% of each fold's
  training rows held out per class, then a refit on all of them for the rounds x their share),
  OOF and averaged test predictions, a submission CSV.

It prints wall time, CPU seconds and peak RSS (`os.wait4`'s ru_maxrss: the largest process) of both,
their ratios (targets: time <= 1.05, peak RSS <= 1.3), the largest OOF difference between them, the
no-op re-run time at the largest size (target <= 1 s), and the speed-up of runtime.n_jobs = 2 over 1
on the cv stage of a small multi-model competition (titanic, one thread per fit) and of the `--speedup-rows`
table (with the sum of the process tree's RSS, sampled, since several processes work at once). The
load average is printed beside the figures: other jobs on the machine slow both sides.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
N_SPLITS = 5


# ---- the competitions -----------------------------------------------------------------------------
def generate(root: Path, rows: int, cols: int, *, seed: int = 0, learning_rate: float = 0.3) -> Path:
    """A workspace at root/ws-<rows>x<cols> holding competition/scale (the data kept once written; the
    config written each time, with `learning_rate`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ws = root / f"ws-{rows}x{cols}"
    comp = ws / "competition" / "scale"
    if (comp / "sample_submission.csv").is_file():
        write_config(comp, learning_rate)
        return ws
    tmp = root / f".tmp-{rows}x{cols}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "competition" / "scale").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n_int = max(1, cols // 20)
    names = [f"x{i}" for i in range(cols - n_int)] + [f"i{i}" for i in range(n_int)]
    n_test = max(10, rows // 4)
    total = rows + n_test
    data = {}
    for name in names[: cols - n_int]:
        data[name] = np.round(rng.normal(size=total), 4)
    for name in names[cols - n_int:]:
        data[name] = rng.integers(0, 10, size=total)
    x = [data[n] for n in names]
    logit = (x[0] + 0.8 * x[1] * x[2] - 0.7 * np.abs(x[3]) + 0.5 * np.sin(2 * x[4]) + 0.3 * (x[-1] % 3 == 1)
             + 0.4 * rng.normal(size=total))
    target = (logit > np.median(logit)).astype(np.int64)
    ids = np.arange(total) + 1
    order = [("id", ids)] + [(n, data[n]) for n in names]
    train = pa.table({k: v[:rows] for k, v in order} | {"target": target[:rows]})
    test = pa.table({k: v[rows:] for k, v in order})
    out = tmp / "competition" / "scale"
    pacsv.write_csv(train, out / "train.csv")
    pacsv.write_csv(test, out / "test.csv")
    pacsv.write_csv(pa.table({"id": ids[rows:], "target": np.full(n_test, 0.5)}), out / "sample_submission.csv")
    write_config(out, learning_rate)
    (tmp / "pipeline.toml").write_text('default_competition = "scale"\n')
    shutil.rmtree(ws, ignore_errors=True)
    os.replace(tmp, ws)
    return ws


def write_config(comp: Path, learning_rate: float) -> None:
    """The generated competition's config: one LightGBM model, no EDA report."""
    (comp / "competition.toml").write_text(f'''[competition]
task = "binary"
target = "target"
id = "id"
metric = "roc_auc"
submission = "proba"

[explore]
enabled = false  # the hand-written loop writes no EDA report

[models.lgbm]
type = "lightgbm"
params = {{ learning_rate = {learning_rate} }}
''')


def fresh_copy(ws: Path, dest: Path) -> Path:
    """The workspace's config and data without any run outputs (a cold run)."""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "competition" / "scale").mkdir(parents=True)
    shutil.copyfile(ws / "pipeline.toml", dest / "pipeline.toml")
    for f in ("train.csv", "test.csv", "sample_submission.csv"):
        os.link(ws / "competition" / "scale" / f, dest / "competition" / "scale" / f)  # same bytes, no copy
    shutil.copyfile(ws / "competition" / "scale" / "competition.toml",
                    dest / "competition" / "scale" / "competition.toml")
    return dest


# ---- the hand-written loop (run in its own process: `scale.py hand DIR THREADS LR`) ----------------
def hand_loop(comp: Path, threads: int, learning_rate: float, out: Path) -> None:
    """What one writes by hand for this table, with the pipeline's honest early stopping and refit."""
    import math

    import lightgbm as lgb
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    header = pd.read_csv(comp / "train.csv", nrows=0).columns
    features = [c for c in header if c not in ("id", "target")]
    dtypes = {c: np.float32 for c in features}
    train = pd.read_csv(comp / "train.csv", dtype=dtypes)
    test = pd.read_csv(comp / "test.csv", dtype=dtypes)
    X, y, ids = train[features].to_numpy(np.float32), train["target"].to_numpy(), train["id"].to_numpy()
    T, test_ids = test[features].to_numpy(np.float32), test["id"].to_numpy()
    del train, test
    params = {"objective": "binary", "learning_rate": learning_rate, "num_leaves": 31, "verbose": -1, "seed": 0,
              "metric": "binary_logloss", "num_threads": threads}
    oof, pred = np.zeros(len(y)), np.zeros(len(T))
    splits = StratifiedKFold(N_SPLITS, shuffle=True, random_state=0).split(np.arange(len(y)), y)
    for k, (tr, va) in enumerate(splits):
        y_tr = y[tr]
        rng = np.random.default_rng(k)  # 20% of each class's training rows choose the rounds
        held = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y_tr == c))[:int(round(0.2 * (y_tr == c).sum()))]
                                       for c in np.unique(y_tr)]))
        rest = np.setdiff1d(np.arange(len(tr)), held, assume_unique=True)
        dtrain = lgb.Dataset(X[tr[rest]], y_tr[rest])
        dvalid = lgb.Dataset(X[tr[held]], y_tr[held], reference=dtrain)
        booster = lgb.train(params, dtrain, 1000, valid_sets=[dvalid],
                            callbacks=[lgb.early_stopping(100, verbose=False)])
        rounds = max(1, math.ceil(booster.best_iteration * len(tr) / len(rest)))
        del dtrain, dvalid, booster
        both = np.concatenate([rest, held])
        booster = lgb.train(params, lgb.Dataset(X[tr[both]], y_tr[both]), rounds)
        oof[va] = booster.predict(X[va])
        pred += booster.predict(T) / N_SPLITS
    pd.DataFrame({"id": ids, "pred": oof}).to_parquet(out / "hand_oof.parquet")
    pd.DataFrame({"id": test_ids, "target": pred}).to_csv(out / "hand_submission.csv", index=False)


# ---- measuring ------------------------------------------------------------------------------------
def measure(cmd: list[str], *, cwd: Path, env: dict | None = None, tree: bool = False) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MB) of a command run as a child process; with `tree`,
    also the peak of the summed RSS of it and its descendants (sampled every 0.1 s)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_tree = [0]
    stop = threading.Event()
    if tree:
        import psutil

        def sample() -> None:
            root = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    procs = [root, *root.children(recursive=True)]
                    peak_tree[0] = max(peak_tree[0], sum(p.memory_info().rss for p in procs if p.is_running()))
                except psutil.Error:
                    pass
                stop.wait(0.1)

        threading.Thread(target=sample, daemon=True).start()
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"wall": seconds, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "tree_mb": peak_tree[0] / 2**20, "output": output}


def pipeline_cmd(ws: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", "run", "--root", str(ws), *extra]


def env_with_progress_off() -> dict:
    return {**os.environ, "PIPELINE_PROGRESS": "off"}


def env_as_by_hand() -> dict:
    """This environment without the OpenMP wait settings `import core` put in it (a hand-written
    script runs with the libraries' defaults)."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compare_size(root: Path, rows: int, cols: int, *, learning_rate: float, repeats: int) -> dict:
    """Full cold pipeline run vs the hand-written loop on one generated table (medians of `repeats`)."""
    import pandas as pd
    from core.threads import cpu_count

    t0 = time.perf_counter()
    ws = generate(root, rows, cols, learning_rate=learning_rate)
    gen = time.perf_counter() - t0
    comp = ws / "competition" / "scale"
    hand_out = root / f"hand-{rows}x{cols}"
    hand_out.mkdir(exist_ok=True)
    runs: dict[str, list] = {"pipe": [], "hand": []}
    load_before = load()
    for i in range(repeats):
        for side in (("pipe", "hand") if i % 2 == 0 else ("hand", "pipe")):
            if side == "pipe":
                cold = fresh_copy(ws, root / f"run-{rows}x{cols}")
                runs["pipe"].append(measure(pipeline_cmd(cold), cwd=REPO, env=env_with_progress_off()))
            else:
                runs["hand"].append(measure([sys.executable, __file__, "hand", str(comp), str(cpu_count()),
                                             str(learning_rate), str(hand_out)], cwd=REPO, env=env_as_by_hand()))
    pick = (lambda side, key: float(np.median([r[key] for r in runs[side]])))
    oof = pd.read_parquet(cold / "competition" / "scale" / "runs" / "models" / "lgbm" / "oof.parquet")
    hand = pd.read_parquet(hand_out / "hand_oof.parquet")
    diff = float(np.abs(oof["pred"].to_numpy() - hand["pred"].to_numpy()).max())
    return {"rows": rows, "cols": cols, "generate_s": gen, "load_before": load_before, "load_after": load(),
            "pipe": {k: pick("pipe", k) for k in ("wall", "cpu", "rss_mb")},
            "hand": {k: pick("hand", k) for k in ("wall", "cpu", "rss_mb")}, "oof_diff": diff, "ws": cold}


def noop_rerun(ws: Path, repeats: int = 3) -> float:
    """Seconds of `python -m pipeline run` with nothing to do (best of `repeats`, after one warm-up)."""
    measure(pipeline_cmd(ws), cwd=REPO, env=env_with_progress_off())
    return min(measure(pipeline_cmd(ws), cwd=REPO, env=env_with_progress_off())["wall"] for _ in range(repeats))


def set_runtime(ws: Path, comp_name: str, line: str) -> None:
    """Set one [runtime] key line (e.g. "n_jobs = 2") in the competition's config."""
    cfg = ws / "competition" / comp_name / "competition.toml"
    key = line.split("=")[0].strip()
    lines = [x for x in cfg.read_text().splitlines() if x.split("=")[0].strip() != key]
    if "[runtime]" in lines:
        lines.insert(lines.index("[runtime]") + 1, line)
    else:
        lines += ["", "[runtime]", line]
    cfg.write_text("\n".join(lines) + "\n")


def speedup(ws: Path, comp_name: str, *, repeats: int) -> dict:
    """cv stage (--force) with n_jobs = 1 and 2, alternating; medians of wall time and tree RSS."""
    out: dict[int, list] = {1: [], 2: []}
    set_runtime(ws, comp_name, "n_jobs = 1")
    measure(pipeline_cmd(ws, "--stage", "features"), cwd=REPO, env=env_with_progress_off())
    for i in range(repeats):
        for n in ((1, 2) if i % 2 == 0 else (2, 1)):
            set_runtime(ws, comp_name, f"n_jobs = {n}")
            out[n].append(measure(pipeline_cmd(ws, "--stage", "cv", "--force"), cwd=REPO,
                                  env=env_with_progress_off(), tree=True))
    med = (lambda n, key: float(np.median([r[key] for r in out[n]])))
    return {n: {"wall": med(n, "wall"), "tree_mb": med(n, "tree_mb")} for n in (1, 2)}


def titanic_workspace(root: Path) -> Path:
    """The shipped titanic competition (its several models) in a workspace of its own."""
    ws = root / "ws-titanic"
    shutil.rmtree(ws, ignore_errors=True)
    (ws / "competition").mkdir(parents=True)
    shutil.copytree(REPO / "competition" / "titanic", ws / "competition" / "titanic",
                    ignore=shutil.ignore_patterns("runs"))
    (ws / "pipeline.toml").write_text('default_competition = "titanic"\n')
    return ws


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="100000,300000", help="comma-separated row counts (1000000: the 1M case)")
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--repeats", type=int, default=1, help="runs of each side per size (medians)")
    p.add_argument("--learning-rate", type=float, default=0.3,
                   help="LightGBM learning rate, both sides (0.3: fewer rounds, so the fixed costs weigh more)")
    p.add_argument("--speedup-rows", type=int, default=300_000, help="table of the n_jobs speed-up (0: skip it)")
    p.add_argument("--no-speedup", action="store_true", help="skip the n_jobs speed-ups")
    p.add_argument("--workdir", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "pipeline-scale"))
    args = p.parse_args()
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    sizes = [int(r) for r in args.rows.split(",") if r]
    print(f"machine: {os.cpu_count()} cores; load average {load()}", flush=True)
    print(f"{'rows x cols':>15} {'pipeline s':>10} {'hand s':>8} {'ratio':>6} {'pipe CPU s':>10} {'hand CPU s':>10} "
          f"{'pipe MB':>8} {'hand MB':>8} {'ratio':>6} {'OOF max|diff|':>13}  load avg before / after", flush=True)
    last = None
    for rows in sizes:
        r = compare_size(root, rows, args.cols, learning_rate=args.learning_rate, repeats=args.repeats)
        last = r
        pipe, hand = r["pipe"], r["hand"]
        print(f"{rows:>8,} x {args.cols:<4} {pipe['wall']:>10.1f} {hand['wall']:>8.1f} "
              f"{pipe['wall'] / hand['wall']:>6.3f} "
              f"{pipe['cpu']:>10.1f} {hand['cpu']:>10.1f} {pipe['rss_mb']:>8.0f} {hand['rss_mb']:>8.0f} "
              f"{pipe['rss_mb'] / hand['rss_mb']:>6.3f} {r['oof_diff']:>13.2g}  {r['load_before']} / {r['load_after']}",
              flush=True)
    if last is not None:
        seconds = noop_rerun(last["ws"])
        print(f"no-op re-run at {last['rows']:,} x {args.cols}: {seconds:.2f} s (target <= 1 s; load {load()})",
              flush=True)
    if args.no_speedup:
        return
    t = speedup(titanic_workspace(root), "titanic", repeats=3)
    print(f"n_jobs speed-up, titanic (shipped models, cv stage): n_jobs=1 {t[1]['wall']:.1f} s, n_jobs=2 "
          f"{t[2]['wall']:.1f} s: x{t[1]['wall'] / t[2]['wall']:.2f} (tree RSS {t[1]['tree_mb']:.0f} / "
          f"{t[2]['tree_mb']:.0f} MB; load {load()})", flush=True)
    if args.speedup_rows:
        ws = generate(root, args.speedup_rows, args.cols, learning_rate=args.learning_rate)
        cold = fresh_copy(ws, root / f"speedup-{args.speedup_rows}x{args.cols}")
        s = speedup(cold, "scale", repeats=1)
        print(f"n_jobs speed-up, {args.speedup_rows:,} x {args.cols} (cv stage): n_jobs=1 (2 threads/fit) "
              f"{s[1]['wall']:.1f} s, n_jobs=2 (1 thread/fit) {s[2]['wall']:.1f} s: x{s[1]['wall'] / s[2]['wall']:.2f} "
              f"(tree RSS {s[1]['tree_mb']:.0f} / {s[2]['tree_mb']:.0f} MB; load {load()})", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    if len(sys.argv) > 1 and sys.argv[1] == "hand":
        hand_loop(Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
    else:
        main()
