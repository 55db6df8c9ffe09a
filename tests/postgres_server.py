"""A real PostgreSQL server for the tests and benchmarks/registry.py: Debian's `postgresql` package
(`apt-get install -y postgresql`, which .ci/run does), a throw-away cluster in a temporary folder on a free
port, owned by an unprivileged user (PostgreSQL refuses to run as root), password authentication on.

`start()` returns a `Server` (url(), stop(), start(), close()); `unavailable()` says why none can be started."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

USER = "pipeline"
PASSWORD = "Tr0ub4dor-s3cret"  # the tests check it never appears in output or files


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def unavailable() -> str:
    """Why no server can be started here ("" when one can)."""
    if _bin() is None:
        return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed (pip install -e ".[postgres]")'
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running cluster: `url(database)` for SQLAlchemy, `stop()` / `start()` it, `close()` removes it."""

    folder: Path
    port: int
    bin: Path
    user: str | None  # the system user it runs as (None: this one)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user, capture_output=True, text=True,
                              check=check, timeout=120)

    def url(self, database: str = "postgres", *, driver: str = "postgresql") -> str:
        return f"{driver}://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        done = self._run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"), "-w",
                         "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                         "start", check=False)
        if done.returncode:
            log = (self.folder / "server.log").read_text()[-800:] if (self.folder / "server.log").is_file() else ""
            raise RuntimeError(f"PostgreSQL did not start: {done.stdout.strip()[-300:]} "
                               f"{done.stderr.strip()[-300:]} {log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop", check=False)

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url().replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """Initialise and start a cluster in a new temporary folder (RuntimeError with the server's words if it fails)."""
    bin_dir = _bin()
    folder = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    folder.chmod(0o755)
    (folder / "pw").write_text(PASSWORD + "\n")
    if user:
        shutil.chown(folder, user)
        shutil.chown(folder / "pw", user)
    server = Server(folder, _free_port(), bin_dir, user)
    try:
        server._run("initdb", "-D", str(folder / "data"), "-U", USER, f"--pwfile={folder / 'pw'}",
                    "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        (folder / "pw").unlink()
        server.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL's initdb failed: {exc.stderr.strip()[-500:]}") from None
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server
