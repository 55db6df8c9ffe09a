"""Run registry: every model run's scores in a SQL database, for `python -m pipeline leaderboard`.

By default an embedded SQLite file `<workspace>/runs.db` (git-ignored). A team sharing one
leaderboard points every workspace at a server database with a SQLAlchemy URL, from the environment
variable PIPELINE_REGISTRY_URL or `registry_url` in `<workspace>/pipeline.toml`; Optuna's studies
(`pipeline tune`) live in the same database. Writes are batched: one parameterised INSERT per table
for all the runs of a stage (executemany).

Tables: `pipeline_runs` (one row per run), `pipeline_run_folds` (one row per fold of a run) and
`pipeline_lb_scores` (the public leaderboard score a user got for a written submission, recorded with
`python -m pipeline lb`; one row per competition and submission file, a later score replaces it).
"""

from __future__ import annotations

import getpass
import json
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.errors import UserError

ENV_URL = "PIPELINE_REGISTRY_URL"
DEFAULT_FILE = "runs.db"
_SQLITE_TIMEOUT_S = 60
_CONNECT_TIMEOUT_S = 10
PENDING_DIR = ".registry-pending"  # in the workspace: runs whose registry write failed, recorded by the next run


@dataclass
class RunRecord:
    """One model run as the registry stores it."""

    competition: str
    model: str
    model_type: str
    params: dict[str, Any]
    metric: str
    greater_is_better: bool
    overall: float
    fold_scores: list[float]
    fold_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stage: str = "cv"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    finished_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    user: str = field(default_factory=lambda: _user())
    host: str = field(default_factory=socket.gethostname)
    workspace: str = ""

    @property
    def params_hash(self) -> str:
        """Short content hash of the parameters (same parameters, same hash)."""
        from core.io import hash_obj

        return hash_obj(self.params)[:12]


@dataclass
class LbRecord:
    """The public leaderboard score of one written submission, beside its CV score."""

    competition: str
    submission: str  # the file's name in submissions/<competition>/
    lb: float
    cv: float | None
    metric: str
    greater_is_better: bool
    digest: str = ""  # content hash of the submission file
    note: str = ""
    recorded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    user: str = field(default_factory=lambda: _user())
    host: str = field(default_factory=socket.gethostname)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def registry_url(workspace: str | os.PathLike) -> str:
    """The database URL: $PIPELINE_REGISTRY_URL, else pipeline.toml's registry_url, else <workspace>/runs.db."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    settings = Path(workspace) / "pipeline.toml"
    if settings.is_file():
        from core.io import tomllib

        try:
            url = str(tomllib.loads(settings.read_text(encoding="utf-8")).get("registry_url", "")).strip()
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{settings}: malformed TOML: {exc}") from None
        if url:
            return url
    return f"sqlite:///{(Path(workspace) / DEFAULT_FILE).resolve()}"


def engine_url(url: str) -> str:
    """The URL SQLAlchemy is given: a PostgreSQL URL without a driver uses psycopg 3 (the `postgres`
    extra), whatever SQLAlchemy's default driver is."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def engine_kwargs(url: str) -> dict[str, Any]:
    """Engine options: SQLite waits for a concurrent writer instead of failing at once; a server is pinged
    before a pooled connection is reused and a connection attempt gives up after _CONNECT_TIMEOUT_S."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": _SQLITE_TIMEOUT_S}}
    if url.startswith(("postgresql", "postgres")):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": _CONNECT_TIMEOUT_S}}
    return {"pool_pre_ping": True}


class Registry:
    """The runs table behind a SQLAlchemy engine; create with `open_registry`."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.url = url
        try:
            self.engine = sa.create_engine(engine_url(url), **engine_kwargs(url))
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            hint = ' (pip install -e ".[postgres]")' if url.startswith("postgres") else ""
            raise UserError(f"registry URL {_safe(url)!r} is not usable ({mask(str(exc), url)}){hint}; set "
                            f"{ENV_URL} to a SQLAlchemy URL such as sqlite:///runs.db or "
                            f"postgresql://user@host/db") from None
        meta = sa.MetaData()
        self.runs = sa.Table(
            "pipeline_runs", meta,
            sa.Column("run_id", sa.String(32), primary_key=True),
            sa.Column("competition", sa.String(200), nullable=False, index=True),
            sa.Column("model", sa.String(200), nullable=False),
            sa.Column("model_type", sa.String(200), nullable=False),
            sa.Column("stage", sa.String(40), nullable=False),
            sa.Column("params_hash", sa.String(12), nullable=False),
            sa.Column("params", sa.Text, nullable=False),
            sa.Column("metric", sa.String(40), nullable=False),
            sa.Column("greater_is_better", sa.Boolean, nullable=False),
            sa.Column("overall", sa.Float, nullable=False),
            sa.Column("fold_mean", sa.Float),
            sa.Column("fold_std", sa.Float),
            sa.Column("n_folds", sa.Integer, nullable=False),
            sa.Column("seconds", sa.Float, nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("user", sa.String(200)),
            sa.Column("host", sa.String(200)),
            sa.Column("workspace", sa.Text),
        )
        self.folds = sa.Table(
            "pipeline_run_folds", meta,
            sa.Column("run_id", sa.String(32), sa.ForeignKey("pipeline_runs.run_id"), primary_key=True),
            sa.Column("fold", sa.Integer, primary_key=True),
            sa.Column("score", sa.Float, nullable=False),
            sa.Column("seconds", sa.Float),
        )
        self.lb = sa.Table(
            "pipeline_lb_scores", meta,
            sa.Column("competition", sa.String(200), primary_key=True),
            sa.Column("submission", sa.String(400), primary_key=True),
            sa.Column("digest", sa.String(64), nullable=False),
            sa.Column("cv", sa.Float),
            sa.Column("lb", sa.Float, nullable=False),
            sa.Column("metric", sa.String(40), nullable=False),
            sa.Column("greater_is_better", sa.Boolean, nullable=False),
            sa.Column("note", sa.Text),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("user", sa.String(200)),
            sa.Column("host", sa.String(200)),
        )
        for attempt in range(5):  # two processes creating the tables at once: the loser retries
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":  # a server serialises creation under a lock instead
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7265781)"))
                    meta.create_all(conn)
                break
            except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError) as exc:
                if "already exists" in str(exc) and attempt < 4:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise UserError(f"registry {_safe(url)!r}: cannot open the database "
                                f"({mask(str(exc.orig).strip().splitlines()[0], url)}); check the URL in "
                                f"{ENV_URL} or pipeline.toml") from None

    def record(self, records: list[RunRecord]) -> None:
        """Insert runs and their folds in one transaction: two executemany statements in all."""
        import numpy as np

        if not records:
            return
        run_rows, fold_rows = [], []
        for r in records:
            scores = np.asarray(r.fold_scores, dtype=float)
            scores = scores[np.isfinite(scores)]  # a fold whose metric is undefined (one class) has no score
            run_rows.append({
                "run_id": r.run_id, "competition": r.competition, "model": r.model, "model_type": r.model_type,
                "stage": r.stage, "params_hash": r.params_hash,
                "params": json.dumps(r.params, sort_keys=True, default=str), "metric": r.metric,
                "greater_is_better": bool(r.greater_is_better), "overall": float(r.overall),
                "fold_mean": float(scores.mean()) if len(scores) else None,
                "fold_std": float(scores.std()) if len(scores) else None, "n_folds": int(len(r.fold_scores)),
                "seconds": float(r.seconds), "finished_at": r.finished_at, "user": r.user, "host": r.host,
                "workspace": r.workspace})
            for k, score in enumerate(r.fold_scores):
                if not np.isfinite(score):
                    continue  # the fold's row is left out; n_folds still counts it
                seconds = r.fold_seconds[k] if k < len(r.fold_seconds) else None
                fold_rows.append({"run_id": r.run_id, "fold": k, "score": float(score), "seconds": seconds})
        with self.engine.begin() as conn:
            conn.execute(self.runs.insert(), run_rows)
            if fold_rows:
                conn.execute(self.folds.insert(), fold_rows)

    def leaderboard(self, competition: str | None = None, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs sorted best first within each competition and metric (direction from the metric)."""
        import sqlalchemy as sa

        t = self.runs
        key = sa.case((t.c.greater_is_better == sa.true(), -t.c.overall), else_=t.c.overall)
        query = sa.select(t).order_by(t.c.competition, t.c.metric, key, t.c.finished_at)
        if competition is not None:
            query = query.where(t.c.competition == competition)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if limit is not None:
            kept, seen = [], {}
            for row in rows:
                group = (row["competition"], row["metric"])
                seen[group] = seen.get(group, 0) + 1
                if seen[group] <= limit:
                    kept.append(row)
            rows = kept
        return rows

    def runs_by_id(self, prefix: str, competition: str | None = None) -> list[dict[str, Any]]:
        """Recorded runs whose id starts with `prefix` (newest first), each with its fold scores under
        "folds" (fold number -> score; a fold without a score is absent)."""
        import sqlalchemy as sa

        t, f = self.runs, self.folds
        query = sa.select(t).where(t.c.run_id.startswith(prefix, autoescape=True)).order_by(t.c.finished_at.desc())
        if competition is not None:
            query = query.where(t.c.competition == competition)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.limit(20))]
            for row in rows:
                folds = conn.execute(sa.select(f.c.fold, f.c.score).where(f.c.run_id == row["run_id"]))
                row["folds"] = {int(k): float(v) for k, v in folds}
        return rows

    def record_lb(self, record: LbRecord) -> float | None:
        """Store a submission's public leaderboard score; returns the score it replaces, if any."""
        import sqlalchemy as sa

        t = self.lb
        key = (t.c.competition == record.competition) & (t.c.submission == record.submission)
        row = {"competition": record.competition, "submission": record.submission, "digest": record.digest,
               "cv": None if record.cv is None else float(record.cv), "lb": float(record.lb),
               "metric": record.metric, "greater_is_better": bool(record.greater_is_better), "note": record.note,
               "recorded_at": record.recorded_at, "user": record.user, "host": record.host}
        for attempt in range(3):  # two processes recording the same file at once: the later one replaces
            try:
                with self.engine.begin() as conn:
                    previous = conn.execute(sa.select(t.c.lb).where(key)).scalar_one_or_none()
                    conn.execute(t.delete().where(key))
                    conn.execute(t.insert(), [row])
                return previous
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
        return None  # pragma: no cover - the loop returns or raises

    def lb_scores(self, competition: str | None = None) -> list[dict[str, Any]]:
        """Recorded public leaderboard scores, oldest first within each competition."""
        import sqlalchemy as sa

        t = self.lb
        query = sa.select(t).order_by(t.c.competition, t.c.recorded_at, t.c.submission)
        if competition is not None:
            query = query.where(t.c.competition == competition)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def dispose(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()


def mask(text: str, url: str) -> str:
    """`text` with the password of `url` (if it has one) replaced by ***, wherever it appears."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # noqa: BLE001 - not a SQLAlchemy URL: look for user:password@ by hand
        from urllib.parse import urlsplit

        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
    if password:
        from urllib.parse import quote

        for form in {str(password), quote(str(password), safe="")}:
            text = text.replace(form, "***")
    return text


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given
        return url


def open_registry(workspace: str | os.PathLike, url: str | None = None) -> Registry:
    """The registry for a workspace (see `registry_url`), tables created on first use."""
    return Registry(url or registry_url(workspace))


def record_runs(workspace: str | os.PathLike, records: list[RunRecord]) -> tuple[int, str]:
    """Record runs, first those an earlier run could not record (PENDING_DIR); returns (how many were
    recorded, "" or the one-line reason none was). On failure the batch is kept in PENDING_DIR for the next
    run that reaches the registry: nothing is lost, the leaderboard only shows the runs later."""
    pending = Path(workspace) / PENDING_DIR
    claimed = _claim_pending(pending)
    # a run without a finite overall score (a metric that gave NaN) ranks nowhere, and a NOT NULL column would
    # refuse it, and with it every batch queued after it, on every later run: it is left out
    batch = [r for _, rs in claimed for r in rs] + list(records)
    batch = [r for r in batch if math.isfinite(r.overall)]
    if not batch:
        for path, _ in claimed:
            path.unlink(missing_ok=True)
        return 0, ""
    url = registry_url(workspace)
    try:
        registry = open_registry(workspace, url)
        try:
            registry.record(batch)
        finally:
            registry.dispose()
    except Exception as exc:  # noqa: BLE001 - kept for the next run; the run folders are written
        for path, _ in claimed:
            path.rename(path.with_suffix(".json"))  # back in the queue
        if records:
            from core.io import write_json

            pending.mkdir(parents=True, exist_ok=True)
            write_json(pending / f"{uuid.uuid4().hex}.json", [_to_json(r) for r in records])
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return 0, mask(text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}", url)[:400]
    for path, _ in claimed:
        path.unlink(missing_ok=True)
    return len(batch), ""


def _claim_pending(pending: Path) -> list[tuple[Path, list[RunRecord]]]:
    """The queued batches, each renamed to <name>.claimed first so that two runs never record one twice."""
    from core.io import read_json

    out = []
    for path in sorted(pending.glob("*.json")) if pending.is_dir() else []:
        claimed = path.with_suffix(f".claimed{os.getpid()}")
        try:
            path.rename(claimed)
        except OSError:  # another run took it
            continue
        try:
            out.append((claimed, [_from_json(r) for r in read_json(claimed)]))
        except (OSError, ValueError, TypeError, KeyError):
            claimed.rename(claimed.with_suffix(".unreadable"))  # kept for a human, never retried
    return out


def _to_json(record: RunRecord) -> dict[str, Any]:
    from dataclasses import asdict

    row = asdict(record)
    row["finished_at"] = record.finished_at.isoformat()
    return row


def _from_json(row: dict[str, Any]) -> RunRecord:
    return RunRecord(**{**row, "finished_at": datetime.fromisoformat(row["finished_at"])})
