"""A throwaway PostgreSQL cluster on loopback for the tests of the registrar's PostgreSQL store.

``initdb`` into a new temporary directory, then ``postgres`` on a free 127.0.0.1 port (and its
unix socket in that directory), started by this process and stopped by its process id. PostgreSQL
refuses to run as root: as root, the cluster runs as the ``postgres`` user of Debian's package
(or ``nobody``). Password authentication on TCP (scram-sha-256): the superuser's password is
random, generated here, and handed to the tests, never written in the code.

The server binaries are Debian's ``postgresql`` (``scripts/install.sh``); without them
:func:`find_bin_dir` raises :class:`PostgresMissing`, which the fixtures turn into a failure that
says so, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

SUPERUSER = "wimpu_test"
START_TIMEOUT = 60.0
"Seconds for the new server to accept connections (initdb and start take about 2 s here)."


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries (initdb, postgres) are not installed."""


def find_bin_dir() -> Path:
    """Where ``initdb`` and ``postgres`` are: ``$WIMPU_PG_BIN``, Debian's newest
    ``/usr/lib/postgresql/<version>/bin``, or the PATH.

    Raises:
        PostgresMissing: none has them.
    """
    candidates = [os.environ.get("WIMPU_PG_BIN", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0), reverse=True
    )
    initdb = shutil.which("initdb")
    candidates += [str(Path(initdb).parent)] if initdb else []
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise PostgresMissing(
        "the PostgreSQL server binaries (initdb, postgres) are not installed: the registrar's PostgreSQL "
        "store is tested against a real server (Debian package postgresql; bash scripts/install.sh), "
        "or set WIMPU_PG_BIN to the folder that holds them"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One PostgreSQL server of the test session; :meth:`create_database` gives each test its own."""

    def __init__(self) -> None:
        self.bin = find_bin_dir()
        self.password = secrets.token_urlsafe(18)
        "The superuser's password (random; tests pass it as libpq's PGPASSWORD or ``password``)."
        self.host = "127.0.0.1"
        self.port = 0
        self.dir = Path(tempfile.mkdtemp(prefix="wimpu-pg-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None
        self._count = 0
        if os.geteuid() == 0:  # "root" execution of the PostgreSQL server is not permitted
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    entry = pwd.getpwnam(name)
                    self._user = name
                    os.chown(self.dir, entry.pw_uid, entry.pw_gid)
                    break

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            args, user=self._user, capture_output=True, text=True, cwd=self.dir, timeout=START_TIMEOUT
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()}")

    def start(self) -> PgCluster:
        """initdb, then start the server and wait until it accepts connections."""
        data = self.dir / "data"
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self.port = _free_port()
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 - the server writes it until stopped
        self._proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir),
             "-c", f"listen_addresses={self.host}", "-c", "max_connections=200",
             "-c", "fsync=on", "-c", "synchronous_commit=on"],
            user=self._user, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.connect("postgres").close()
                return self
            except Exception:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"the test PostgreSQL server did not start:\n{tail}") from None
                time.sleep(0.05)

    def dsn(self, database: str) -> str:
        """The libpq URI of ``database`` (no password in it: see :attr:`password`)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[Any]:
        """An autocommit psycopg connection as the superuser (for set-up and inspection)."""
        import psycopg

        return psycopg.connect(self.dsn(database), password=self.password, autocommit=True, connect_timeout=5)

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database; its name."""
        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def create_schema(self, database: str, prefix: str = "s") -> tuple[str, str]:
        """A new, empty schema in ``database``: its name, and the URI of the database whose
        ``search_path`` is that schema (what the registrar creates goes there). Much faster than a
        database (1 ms, not 30 to 250 ms): the tests' isolation, one schema a test."""
        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        self._admin(f'CREATE SCHEMA "{name}"', database)
        return name, f"{self.dsn(database)}?options=-csearch_path%3D{name}"

    def drop_schema(self, database: str, name: str) -> None:
        """Drop a schema and everything in it."""
        self._admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE', database)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing what is still connected to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str, database: str = "postgres") -> None:
        conn = self.connect(database)
        try:
            conn.execute(statement)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server this object started (fast shutdown, by its pid) and remove its files."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: "smart" would wait for clients; postgres' SIGTERM is fast shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
