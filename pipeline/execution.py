"""Execution backends: where the model stages' tasks run -- folds of a model, and tuning trials.

The work of a model stage is a set of independent tasks (one model x one fold; one tuning worker's
trials). A backend maps them:

    sequential   here, one after another (the default with runtime.n_jobs = 1, and with 0, automatic,
                 for every stage but a cv stage whose estimated training pays for workers)
    processes    `n_jobs` worker processes on this machine (joblib's loky; the default with n_jobs > 1,
                 and one per core for that cv stage with n_jobs = 0: pipeline.stages.cv)
    dask         the workers of a dask.distributed cluster (runtime.scheduler = "tcp://host:8786", or
                 `run --scheduler ADDRESS`), so the same workspace scales past one machine

`models.train_cv` knows nothing of them: it takes a `map_folds(run_fold, data, tasks)` callable
(`Backend.fold_map`). What every fold reads (`data`: feature matrices, target, folds) is sent to the
workers once per stage, not once per task: written once to a memory-mapped file that the local
worker processes share (processes), or scattered once to every worker (dask). Each fit gets an
explicit thread count, cores / worker slots (`Backend.threads`), so workers x threads never exceed
the cores. Results are combined in fold order, so OOF predictions are identical whatever the backend
(for the same threads per fit). Heavy libraries (joblib, dask) are imported only when a backend opens.

A backend is opened once per process and settings (`backend_for`) and closed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import socket
import sys
import tempfile
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from core.errors import UserError, exception_line

CONNECT_TIMEOUT_S = 5  # an unreachable scheduler is reported within this (the CLI's promise: 10 s)
WORKERS_TIMEOUT_S = 10  # a reachable scheduler without workers is reported after this


# ---- the backends ----------------------------------------------------------------------------------
class Backend:
    """Runs tasks: `fold_map` for `models.train_cv`'s folds, `run_all` for long independent tasks.

    `workers` is how many tasks run at once; `threads` the thread count each fit gets."""

    name = "sequential"
    workers = 1

    @property
    def fold_map(self) -> Callable | None:
        """`map_folds` for `models.train_cv`; None runs the folds in this process (with its log)."""
        return None

    def threads(self, requested: int = 0, *, warn: Callable[[str], None] | None = None,
                rows: int | None = None) -> int:
        """Threads for one fit: runtime.threads (capped so that workers x threads fit the cores), or
        automatic (one below core.threads.ONE_THREAD_BELOW_ROWS training `rows`, else cores / workers)."""
        from core.threads import resolve_threads

        return resolve_threads(requested, n_jobs=self.workers, warn=warn, rows=rows)

    def map(self, func: Callable[[Any, Any], Any], shared: Any, items: Iterable[Any]) -> Iterator[Any]:
        """func(shared, item) for each item, results in the items' order."""
        return (func(shared, item) for item in items)

    def run_all(self, func: Callable[[Any], Any], items: list) -> list:
        """func(item) for each item, all at once where the backend can (results in order)."""
        return [func(item) for item in items]

    def describe(self) -> str:
        """One line for the log: where the tasks run."""
        return "sequential (this process)"

    def close(self) -> None:
        """Release workers and files."""


class ProcessesBackend(Backend):
    """`n_jobs` worker processes on this machine (joblib's loky executor, reused across calls).

    The shared data is pickled once per stage into a file under `scratch`, its arrays stored raw and
    memory-mapped by every worker (copy-on-write), so n workers read one copy from the page cache."""

    name = "processes"

    def __init__(self, workers: int, *, scratch: Path | None = None, warn: Callable[[str], None] | None = None):
        from core.threads import cpu_count

        cores = cpu_count()
        if workers > cores:
            if warn is not None:
                warn(f"warning: runtime.n_jobs = {workers} is more than this machine's {cores} core(s); "
                     f"using {cores} worker processes")
            workers = cores
        self.workers = workers
        self._scratch = Path(scratch) if scratch is not None else None
        _quiet_resource_tracker()
        self._shared: _SharedCache = _SharedCache(self._publish, self._forget)

    @property
    def fold_map(self) -> Callable:
        return self.map

    def _parallel(self):
        from joblib import Parallel
        from joblib._parallel_backends import LokyBackend

        from core.threads import cpu_count

        # every worker's BLAS/OpenMP pools get the per-fit thread budget (explicit, never the default)
        inner = max(1, cpu_count() // self.workers)
        return Parallel(n_jobs=self.workers, backend=LokyBackend(inner_max_num_threads=inner),
                        return_as="generator", max_nbytes=None, batch_size=1, pre_dispatch="2*n_jobs")

    def map(self, func, shared, items):
        from joblib import delayed

        path = self._shared.get(shared)
        with _worker_errors():
            out = self._parallel()(delayed(_call_mapped)(func, str(path), item) for item in items)
            try:
                for result in out:  # not `yield from`, which would close `out` itself when this map is closed
                    yield result
            finally:
                with warnings.catch_warnings():  # stopped early on purpose (a pruned trial, a member past its
                    # budget): joblib's note of the folds run or cancelled in vain is no news to the user
                    warnings.filterwarnings("ignore", category=UserWarning, message=(
                        r"\d+ tasks (have been successfully executed|which were still being processed)"))
                    out.close()

    def run_all(self, func, items):
        from joblib import delayed

        with _worker_errors():
            return list(self._parallel()(delayed(_call_plain)(func, item) for item in items))

    def _publish(self, shared) -> Path:
        folder = self._scratch if self._scratch is not None else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        _remove_orphans(folder)
        fd, name = tempfile.mkstemp(prefix=f"shared-{os.getpid()}-", suffix=".bin", dir=folder)
        os.close(fd)
        try:
            write_shared(Path(name), shared)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    @staticmethod
    def _forget(path: Path) -> None:
        path.unlink(missing_ok=True)  # workers that mapped it keep their mapping until they drop it

    def describe(self) -> str:
        return f"processes ({self.workers} worker processes on this machine)"

    def close(self) -> None:
        """Remove the shared files and end the worker processes: loky keeps its reusable workers for
        minutes after the last task, and they hold the stdout and stderr they inherited, so a caller
        capturing the CLI's output would wait for them (closed at exit on every path: success, error,
        Ctrl-C)."""
        self._shared.clear()
        import sys

        if "joblib.externals.loky" in sys.modules:  # no executor was ever made otherwise
            from joblib.externals.loky import get_reusable_executor

            # kill_workers here too: the running executor was made with joblib's arguments (its timeout, the
            # workers' thread variables), so asking for it with other ones replaces it, and without kill_workers
            # the old one's workers are first left to wind down (1.3 s after every run on breast_cancer)
            with contextlib.suppress(Exception):
                get_reusable_executor(max_workers=self.workers, kill_workers=True).shutdown(wait=True,
                                                                                             kill_workers=True)


_TRACKER_NOTE = "ignore:resource_tracker:UserWarning"


def _quiet_resource_tracker() -> None:
    """Silence loky's resource tracker on the folders joblib registers for each map and never makes here
    (max_nbytes=None): joblib forgets them in an exit hook, which a failed or interrupted command skips
    (pipeline.__main__ leaves through os._exit), and the tracker -- a process started from this environment at
    the first map -- then printed "leaked folder objects" under the run's last line. Nothing is on disk."""
    current = os.environ.get("PYTHONWARNINGS", "")
    if _TRACKER_NOTE not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [current, _TRACKER_NOTE]))


def _remove_orphans(folder: Path) -> None:
    """Delete shared files left by processes that no longer run (killed before they could clean up)."""
    for path in folder.glob("shared-*-*.bin"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DaskBackend(Backend):
    """The workers of a dask.distributed cluster; the shared data is scattered to each worker once."""

    name = "dask"

    def __init__(self, address: str, *, warn: Callable[[str], None] | None = None):
        import distributed

        self.address = address
        try:
            self.client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
        except (ValueError, TypeError) as exc:  # not an address: no scheduler to start there
            raise UserError(f"cannot reach the dask scheduler at {address!r} ({_first_line(exc)}); give its "
                            f"address as `dask scheduler` prints it, e.g. tcp://host:8786 (runtime.scheduler or "
                            f"--scheduler)") from None
        except (OSError, distributed.TimeoutError) as exc:
            raise UserError(f"cannot reach the dask scheduler at {address!r} "
                            f"({_first_line(exc)}); start one (`dask scheduler`, then `dask worker {address}`) "
                            f"or fix runtime.scheduler / --scheduler") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except (TimeoutError, distributed.TimeoutError, OSError):
            self.client.close()
            raise UserError(f"the dask scheduler at {address!r} has no workers (waited {WORKERS_TIMEOUT_S} s); "
                            f"start some with `dask worker {address} --nthreads 1`") from None
        self._check_code(address)
        self.workers, self.budget = _cluster_shape(self.client)
        self._shared = _SharedCache(self._publish, self._forget)

    def _check_code(self, address: str) -> None:
        """UserError (one line) when a worker runs other project code than this process: a worker keeps the
        modules it imported, so one started before the code was edited would train the old models while
        the run records the new code's fingerprints."""
        here = loaded_code()
        try:
            there = self.client.run(loaded_code)
        except Exception as exc:  # a worker without this module, or with one of before this check
            self.client.close()
            raise UserError(f"the dask workers at {address!r} cannot say which project code they run "
                            f"({_first_line(exc)}); restart them (`dask worker {address} --nthreads 1`) with this "
                            f"version; {_IMPORTABLE}") from None
        stale = sorted(worker for worker, digest in there.items() if digest != here)
        if stale:
            self.client.close()
            raise UserError(f"{len(stale)} of {len(there)} dask worker(s) at {address!r} run other project code "
                            f"than this process ({stale[0]}{', ...' if len(stale) > 1 else ''}: started before "
                            f"the code was edited, or another version installed there); restart them (`dask "
                            f"worker {address} --nthreads 1`) with this version") from None

    @property
    def fold_map(self) -> Callable:
        return self.map

    def threads(self, requested: int = 0, *, warn: Callable[[str], None] | None = None,
                rows: int | None = None) -> int:
        from core.threads import resolve_threads

        # the budget is the workers' (their host's cores / task slots on it), not this machine's
        return resolve_threads(requested, n_jobs=1, warn=warn, cores=self.budget, rows=rows)

    def map(self, func, shared, items):
        handle = self._shared.get(shared)
        pending: deque = deque()
        window = 2 * self.workers  # tasks in flight: keeps every slot busy, builds fold inputs lazily
        with _worker_errors():
            try:
                for item in items:
                    pending.append(self.client.submit(on_worker, func, handle, item, pure=False))
                    if len(pending) >= window:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            except Exception:
                self._shared.clear()  # a worker that died took its copy: the next stage scatters again
                raise
            finally:
                for future in pending:
                    future.cancel()

    def run_all(self, func, items):
        with _worker_errors():
            futures = [self.client.submit(func, item, pure=False) for item in items]
            try:
                return self.client.gather(futures)
            finally:
                for future in futures:
                    future.cancel()

    def _publish(self, shared):
        return self.client.scatter(shared, broadcast=True, hash=False)

    @staticmethod
    def _forget(handle) -> None:
        handle.release()

    def describe(self) -> str:
        return f"dask cluster at {self.address} ({self.workers} task slot(s), {self.budget} thread(s) per fit)"

    def close(self) -> None:
        self._shared.clear()
        with contextlib.suppress(Exception):
            self.client.close()


@dataclass(frozen=True)
class BackendKind:
    """A registered backend: how to open it from the [runtime] settings."""

    name: str
    doc: str
    open: Callable[["Settings", Callable[[str], None]], Backend]


@dataclass(frozen=True)
class Settings:
    """The [runtime] keys a backend is opened with (and the folder for the processes' shared files)."""

    backend: str
    n_jobs: int
    scheduler: str
    scratch: Path | None = None


def _open_dask(s: Settings, warn: Callable[[str], None]) -> Backend:
    if not s.scheduler:
        raise UserError("runtime.backend = 'dask' needs the scheduler's address: set runtime.scheduler = "
                        "'tcp://host:8786' or run with --scheduler ADDRESS")
    return DaskBackend(s.scheduler, warn=warn)


BACKENDS: dict[str, BackendKind] = {b.name: b for b in [
    BackendKind("sequential", "every task in this process, one after another",
                lambda s, warn: Backend()),
    BackendKind("processes", "n_jobs worker processes on this machine (joblib loky); the shared data is "
                             "memory-mapped", lambda s, warn: ProcessesBackend(s.n_jobs, scratch=s.scratch, warn=warn)),
    BackendKind("dask", "the workers of a dask.distributed cluster (runtime.scheduler or run --scheduler); "
                        "the shared data is scattered to each worker once", _open_dask),
]}
AUTO = "auto"  # processes when n_jobs > 1, else sequential


def settings(comp, *, n_jobs: int | None = None) -> Settings:
    """The competition's [runtime] backend settings, "auto" resolved; `n_jobs` replaces runtime.n_jobs
    (automatic, 0, is one worker unless a stage asks for more: the cv stage, when its training pays)."""
    rt = comp.cfg["runtime"]
    n_jobs = max(1, int(rt["n_jobs"] if n_jobs is None else n_jobs))
    kind = rt.get("backend", AUTO) or AUTO
    if kind == AUTO:
        kind = "processes" if n_jobs > 1 else "sequential"
    return Settings(kind, n_jobs, str(rt.get("scheduler", "") or ""), comp.runs / "cache" / "shared")


_OPEN: dict[Settings, Backend] = {}


def backend_for(comp, *, log: Callable[[str], None] = print, n_jobs: int | None = None) -> Backend:
    """The backend [runtime] names (with `n_jobs` workers instead of runtime.n_jobs when given), opened
    once per process and settings (closed at exit)."""
    s = settings(comp, n_jobs=n_jobs)
    if s not in _OPEN:
        backend = BACKENDS[s.backend].open(s, log)
        if not _OPEN:
            atexit.register(close_all)
        _OPEN[s] = backend
        if backend.name != "sequential":
            log(f"[runtime] tasks run on {backend.describe()}")
    return _OPEN[s]


def close_all() -> None:
    """Close every opened backend (at exit; tests call it between clusters)."""
    while _OPEN:
        _, backend = _OPEN.popitem()
        with contextlib.suppress(Exception):
            backend.close()


SEQUENTIAL = Backend()


# ---- errors from workers ---------------------------------------------------------------------------
@contextlib.contextmanager
def _worker_errors():
    """A worker that died (killed, out of memory) or could not import the code of a task -> UserError on
    one line. Errors the task itself raised (UserError included) pass through unchanged."""
    died: tuple = ()
    with contextlib.suppress(ImportError):
        from joblib.externals.loky.process_executor import BrokenProcessPool

        died += (BrokenProcessPool,)
    distributed = sys.modules.get("distributed")  # loaded only where a dask backend runs (0.5 s to import)
    if distributed is not None:
        died += (distributed.KilledWorker,)
    try:
        yield
    except UserError:
        raise
    except died as exc:
        raise UserError(f"a worker process died while running this stage's tasks (killed, or out of memory: "
                        f"{_first_line(exc)}); nothing unfinished was written; run the same command again, "
                        f"with fewer runtime.n_jobs if memory ran out") from None
    except ImportError as exc:  # raised while a worker unpickled the task, before `on_worker` ran
        raise UserError(f"a worker cannot import the code of a task ({_first_line(exc)}); {_IMPORTABLE}") from None


def _first_line(exc: BaseException) -> str:
    return exception_line(exc, limit=300)


def _cluster_shape(client) -> tuple[int, int]:
    """(task slots, threads per fit): the slots over all workers, and the smallest share of a host's
    cores per slot on it, so that no host runs more threads than it has cores."""
    from core.threads import cpu_count

    info = client.scheduler_info()["workers"]
    cores = client.run(cpu_count)
    slots: dict[str, int] = {}
    host_cores: dict[str, int] = {}
    for address, worker in info.items():
        host = worker.get("host", address)
        slots[host] = slots.get(host, 0) + int(worker.get("nthreads", 1))
        host_cores[host] = int(cores.get(address, 1))
    budget = min(max(1, host_cores[h] // max(1, n)) for h, n in slots.items())
    return sum(slots.values()), budget


# ---- sharing data with workers once ----------------------------------------------------------------
class _SharedCache:
    """The published form (file path, scattered future) of the data last shared, keyed by the identity
    of its fields: the models of one stage share the same matrices, so they are published once."""

    def __init__(self, publish: Callable[[Any], Any], forget: Callable[[Any], None], size: int = 2):
        self._publish, self._forget, self._size = publish, forget, size
        self._entries: list[tuple[tuple, Any, Any]] = []  # (key, the object itself (keeps ids valid), handle)

    def get(self, shared: Any) -> Any:
        key = _identity(shared)
        for k, _, handle in self._entries:
            if k == key:
                return handle
        handle = self._publish(shared)
        self._entries.append((key, shared, handle))
        while len(self._entries) > self._size:
            self._forget(self._entries.pop(0)[2])
        return handle

    def clear(self) -> None:
        while self._entries:
            with contextlib.suppress(Exception):
                self._forget(self._entries.pop()[2])


def _identity(obj: Any) -> tuple:
    """Small values (paths, numbers) by value, anything else (matrices, arrays) by object identity."""
    def key(value: Any) -> Any:
        return value if isinstance(value, (str, int, float, Path, type(None))) else id(value)

    if dataclasses.is_dataclass(obj):
        return (type(obj),) + tuple(key(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    return (type(obj), key(obj))


_ALIGN = 64


def write_shared(path: Path, obj: Any) -> None:
    """Pickle `obj` into `path` with its arrays' buffers stored raw (pickle protocol 5, out of band), so
    `read_shared` maps them instead of copying: a header, the buffers (64-byte aligned), the pickle."""
    import pickle

    import cloudpickle  # a dependency of joblib (and dask)

    buffers: list = []
    body = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    offsets, pos = [], 0
    for v in views:
        pos = -(-pos // _ALIGN) * _ALIGN
        offsets.append((pos, v.nbytes))
        pos += v.nbytes
    header = pickle.dumps({"buffers": offsets, "body": len(body)}, protocol=5)
    start = -(-(16 + len(header)) // _ALIGN) * _ALIGN
    with open(path, "wb") as fh:
        fh.write(len(header).to_bytes(8, "little") + start.to_bytes(8, "little") + header)
        for (offset, _), v in zip(offsets, views):
            fh.seek(start + offset)
            fh.write(v)
        fh.seek(start + pos)
        fh.write(body)


def read_shared(path: Path) -> Any:
    """The object `write_shared` stored, its arrays memory-mapped copy-on-write (writable, shared pages)."""
    import pickle

    import numpy as np

    mm = np.memmap(path, mode="c")
    n_header, start = int.from_bytes(mm[:8], "little"), int.from_bytes(mm[8:16], "little")
    meta = pickle.loads(mm[16:16 + n_header].tobytes())
    end = start + (max((o + n for o, n in meta["buffers"]), default=0))
    buffers = [mm[start + o:start + o + n] for o, n in meta["buffers"]]
    return pickle.loads(mm[end:end + meta["body"]].tobytes(), buffers=buffers)


_LOADED: dict[str, Any] = {}  # in a worker process: the shared file last read


# loky ends a worker whose memory grew more than 300 MB past its size after its first task, taking it for
# a leak ("A worker stopped while some jobs were given to the executor"): the first net fold's torch import
# does that, and the new worker imports pandas, scikit-learn, LightGBM and torch again (about 8 s of CPU,
# once per worker and run). A fold's libraries and models are no leak; this much growth still ends one.
WORKER_MEMORY_GROWTH_BYTES = 4 * 1024**3


def _allow_worker_memory() -> None:
    """In a worker: raise loky's leak threshold (a module global its worker loop reads at each check)."""
    import sys

    executor = sys.modules.get("joblib.externals.loky.process_executor")
    if executor is not None and getattr(executor, "_MAX_MEMORY_LEAK_SIZE", None) != WORKER_MEMORY_GROWTH_BYTES:
        executor._MAX_MEMORY_LEAK_SIZE = WORKER_MEMORY_GROWTH_BYTES


def _call_plain(func: Callable[[Any], Any], item: Any) -> Any:
    """In a worker process: func(item)."""
    _allow_worker_memory()
    return func(item)


def _call_mapped(func: Callable[[Any, Any], Any], path: str, item: Any) -> Any:
    """In a worker process: func(shared, item), the shared data read from `path` once per worker."""
    _allow_worker_memory()
    if path not in _LOADED:
        _LOADED.clear()
        _LOADED[path] = read_shared(Path(path))
    return on_worker(func, _LOADED[path], item)


_IMPORTABLE = ("model code, plug-ins included, must be importable on every worker: install the project (and "
               "any plug-in package) in the workers' environment, and keep the workspace at the same path on "
               "every machine (plug-in files are read from competition/<name>/models/ there)")


_LOADED_CODE: list[str] = []  # the project code's digest when this process first asked (loaded_code)


def loaded_code() -> str:
    """The digest of the project's source (core.fingerprint.project_digest) when this process first asked,
    kept however the files change after: a dask worker asks at its first task or check (DaskBackend), so
    it answers for the modules it imported then."""
    if not _LOADED_CODE:
        from core.fingerprint import project_digest

        _LOADED_CODE.append(project_digest())
    return _LOADED_CODE[0]


def on_worker(func: Callable[[Any, Any], Any], shared: Any, item: Any) -> Any:
    """In a worker: func(shared, item), with code that cannot be imported there reported as a UserError
    naming the worker (a message the sequential run would never give). Other errors pass unchanged."""
    loaded_code()  # this worker's code from now on, for the next run's check
    where = f"worker {socket.gethostname()} (pid {os.getpid()})"
    plugin_dir = getattr(shared, "plugin_dir", None)
    if plugin_dir is not None and not Path(plugin_dir).is_dir():
        raise UserError(f"on {where}: the plug-in folder {plugin_dir} does not exist; {_IMPORTABLE}")
    try:
        return func(shared, item)
    except UserError as exc:
        if isinstance(exc.__context__, ImportError):  # a plug-in that imported here in the parent, not there
            raise UserError(f"on {where}: {exc}; {_IMPORTABLE}") from None
        raise
    except ImportError as exc:
        raise UserError(f"on {where}: {_first_line(exc)}; {_IMPORTABLE}") from None
