"""MLflow mirror: each model run and the ensemble copied into an MLflow tracking store.

Off by default; `[tracking] mlflow_uri = "sqlite:///mlflow.db"` (or an MLflow server's http(s) URL, or
`databricks`) turns it on. The experiment is named after the competition. A model run becomes an
MLflow run named after the model, with

    params     its parameters, flattened to dotted keys (values cut at MLflow's 6,000 characters)
    metrics    `<metric>` (the overall OOF score), `fold_<metric>` and `fold_seconds` (one step per
               fold), `seconds` (the whole run)
    tags       pipeline.run_id (the run registry's id), pipeline.stage, pipeline.model_type,
               pipeline.params_hash, pipeline.user, pipeline.host
    artifacts  the run folder's oof.parquet, test.parquet, scores.json, params.json, timings.json

and the ensemble a run named `ensemble` with its method, score, fold scores, one `weight.<member>`
metric per member and its run folder's files. A SQLite store keeps its artifacts in `mlartifacts/`
beside the database file; a server decides for itself.

The mirror never fails a run: any error (mlflow not installed, the store unreachable) costs one warning
line and nothing else; the run folders and the run registry hold everything it would have copied.
mlflow is imported only when a URI is set (`pip install -e ".[mlflow]"`: mlflow-skinny suffices).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from core.params import flatten_params

ARTIFACTS = ("oof.parquet", "test.parquet", "scores.json", "params.json", "timings.json")
_MAX_PARAM = 6000  # MLflow's longest parameter value
_BATCH = 100  # MLflow's most parameters per log_batch call


def mlflow_uri(comp) -> str:
    """The tracking URI of `[tracking] mlflow_uri` ("" = the mirror is off)."""
    return str(comp.cfg.get("tracking", {}).get("mlflow_uri", "") or "").strip()


def mirror_runs(comp, runs: list[tuple[Any, Path]], *, log: Callable[[str], None] = print,
                prefix: str = "[cv]") -> int:
    """Mirror model runs, each a (pipeline.run_registry.RunRecord, run folder) pair; returns how many
    were mirrored (0 when the mirror is off or failed, after one warning line)."""
    uri = mlflow_uri(comp)
    if not uri or not runs:
        return 0
    try:
        client, experiment = _open(uri, comp)
        for record, folder in runs:
            tags = {"pipeline.run_id": record.run_id, "pipeline.stage": record.stage,
                    "pipeline.model_type": record.model_type, "pipeline.params_hash": record.params_hash,
                    "pipeline.user": record.user, "pipeline.host": record.host}
            metrics = [(record.metric, record.overall, 0), ("seconds", record.seconds, 0)]
            metrics += [(f"fold_{record.metric}", s, k) for k, s in enumerate(record.fold_scores)]
            metrics += [("fold_seconds", s, k) for k, s in enumerate(record.fold_seconds)]
            _log_run(client, experiment, record.model, flatten_params(record.params), metrics, tags, folder)
    except Exception as exc:  # noqa: BLE001 - the mirror is a copy: a failure never fails the run
        log(f"{prefix} warning: MLflow mirror skipped ({describe(exc, uri)}); the run folders and the run "
            f"registry hold these runs")
        return 0
    return len(runs)


def mirror_ensemble(comp, folder: Path, scores: dict, params: dict, *,
                    log: Callable[[str], None] = print) -> bool:
    """Mirror the ensemble's run: method, OOF score, fold scores, weights, files. False when off or failed."""
    uri = mlflow_uri(comp)
    if not uri:
        return False
    try:
        client, experiment = _open(uri, comp)
        metric = scores["metric"]
        metrics = [(metric, float(scores["overall"]), 0)]
        metrics += [(f"fold_{metric}", float(s), k) for k, s in enumerate(scores.get("folds", []))]
        metrics += [(f"weight.{name}", float(w), 0) for name, w in (params.get("weights") or {}).items()]
        metrics += [(f"member.{name}", float(s), 0) for name, s in (scores.get("members") or {}).items()]
        _log_run(client, experiment, "ensemble", {"method": params.get("method", "")}, metrics,
                 {"pipeline.stage": "ensemble"}, folder)
    except Exception as exc:  # noqa: BLE001 - the mirror is a copy: a failure never fails the run
        log(f"[ensemble] warning: MLflow mirror skipped ({describe(exc, uri)}); runs/ensemble holds the result")
        return False
    return True


def _open(uri: str, comp):
    """(client, experiment id): the experiment named after the competition, created on first use."""
    for key, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")):
        os.environ.setdefault(key, value)  # an unreachable server: a warning in seconds, not minutes
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RuntimeError('mlflow is not installed: pip install -e ".[mlflow]"') from None
    import logging

    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # "creating tables" on a new store
        logging.getLogger(name).setLevel(logging.WARNING)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(comp.name)
    if found is not None:
        return client, found.experiment_id
    try:
        return client, client.create_experiment(comp.name, artifact_location=_artifact_root(uri))
    except Exception:  # noqa: BLE001 - another process created it meanwhile
        found = client.get_experiment_by_name(comp.name)
        if found is None:
            raise
        return client, found.experiment_id


def _artifact_root(uri: str) -> str | None:
    """A SQLite store's artifacts: mlartifacts/ beside the database (MLflow's default is ./mlruns in
    whatever folder the run started from). Other stores choose their own."""
    if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        return (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
    return None


def _log_run(client, experiment: str, name: str, params: dict[str, Any], metrics: list[tuple[str, float, int]],
             tags: dict[str, str], folder: Path) -> str:
    import math
    import time

    from mlflow.entities import Metric, Param

    run = client.create_run(experiment, run_name=name, tags={k: str(v) for k, v in tags.items()})
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        items = [Param(k, str(v)[:_MAX_PARAM]) for k, v in params.items()]
        values = [Metric(k, float(v), now, step) for k, v, step in metrics if math.isfinite(float(v))]
        for i in range(0, max(len(items), len(values)), _BATCH):
            client.log_batch(run_id, metrics=values[i:i + _BATCH], params=items[i:i + _BATCH])
        for file in ARTIFACTS:
            if (Path(folder) / file).is_file():
                client.log_artifact(run_id, str(Path(folder) / file))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def describe(exc: BaseException, uri: str) -> str:
    """One line naming the error, with the URI's password (if any) masked."""
    from pipeline.run_registry import mask

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return mask(f"{type(exc).__name__}: {text}"[:300], uri)
