"""Where the wIMPU Registrar's store lives: an embedded SQLite file or a shared PostgreSQL database.

The registration entries, their contacts and the block leases are one model, written once in
:mod:`.store` and :mod:`.leases` in the SQL both databases speak (``?`` placeholders, ``ON CONFLICT
... DO UPDATE``, ``RETURNING``, ``CASE``). A :class:`Backend` holds only what differs:

============================  ==================================  ==========================================
                              SQLite (:class:`SqliteBackend`)     PostgreSQL (:class:`PostgresBackend`)
============================  ==================================  ==========================================
selected by                   a file path (or ``:memory:``)       a ``postgresql://`` (or ``postgres://``) URI
placeholders                  ``?``                               ``%s`` (the SQL is rewritten once, cached)
column types                  ``REAL``                            ``DOUBLE PRECISION`` (``REAL`` is 4 bytes)
schema version                ``PRAGMA user_version``             table ``wimpu_registrar_schema``
a write transaction           ``BEGIN IMMEDIATE``: one writer     ``BEGIN`` + a transaction advisory lock: one
                                                                  writer across every process on the database
a read transaction            ``BEGIN`` (deferred): a snapshot    ``BEGIN ISOLATION LEVEL REPEATABLE READ READ
                                                                  ONLY``: a snapshot, never blocked by writers
durable at commit             WAL + ``synchronous=FULL``          ``synchronous_commit = on``, per session
a foreign database            any table and no version            a registrar table (entries, contacts,
                                                                  leases) and no version table
============================  ==================================  ==========================================

Writers are serialised exactly as SQLite serialises them: several registrar processes sharing one
PostgreSQL database see each other's committed writes, and of two concurrent lease claims on one block
exactly one wins (TR 23.701 5.2.2.2), because every read-then-write transaction runs alone. Readers (W7
above all) run beside the writer on their snapshot.

Errors a user can make (an unreachable server, a wrong password, a database that does not exist) are
:class:`~.model.StoreUnavailable` with one line naming the database (never its password); a lost
connection during service is the same error (503), and the next call connects again.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from .model import SchemaVersionError, StoreUnavailable

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "POSTGRES_SCHEMES",
    "Backend",
    "Cursor",
    "Db",
    "PostgresBackend",
    "SqliteBackend",
    "describe_location",
    "check_location",
    "is_postgres",
    "open_backend",
    "read_password_file",
]

POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")
"A store location starting with one of these names a PostgreSQL database (a libpq URI)."

REGISTRAR_TABLES: Final = frozenset({"entries", "contacts", "leases"})
"The tables of the registrar's schema (:data:`.store._SCHEMA`)."

_PG_VERSION_TABLE: Final = "wimpu_registrar_schema"
_PG_WRITE_LOCK: Final = 0x7769_6D70_7531  # "wimpu1": the transaction advisory lock of every writer
"""Key of the advisory lock a write transaction takes (``pg_advisory_xact_lock``): one writer at a time
on the database, as ``BEGIN IMMEDIATE`` on a SQLite file. Advisory locks are per database."""


class Cursor(Protocol):
    """What the model reads of a statement's result (both drivers' cursors have it)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """One open transaction: ``execute`` takes SQL with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


def is_postgres(location: str) -> bool:
    """Whether a store location names a PostgreSQL database rather than a SQLite file."""
    return location.startswith(POSTGRES_SCHEMES)


def describe_location(location: str) -> str:
    """The location for logs and messages: a password written in a URI is masked."""
    if not is_postgres(location):
        return location
    masked = re.sub(r"^(\w+://[^:@/]*):[^@/]*@", r"\1:***@", location)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", masked)


def check_location(location: str) -> None:
    """Refuse a store location that holds a secret: a PostgreSQL password goes in a file
    (``password_file``) or libpq's environment (``PGPASSWORD``, ``PGPASSFILE``), never in a
    configuration file or a command line that ``ps`` shows.

    Raises:
        ValueError: the URI carries a password, or is empty.
    """
    if not location.strip():
        raise ValueError("the registrar's store location is empty")
    if not is_postgres(location):
        return
    parts = urllib.parse.urlsplit(location)
    query = urllib.parse.parse_qs(parts.query)
    if "@" in parts.netloc and ":" in parts.netloc.split("@", 1)[0] or "password" in query:
        raise ValueError(
            f"{describe_location(location)}: no password in the URI; put it in a file named by "
            "password_file (--db-password-file) or in libpq's PGPASSWORD or PGPASSFILE"
        )


def read_password_file(path: str) -> str:
    """The password in ``path``: its first line, without the line end.

    Raises:
        ValueError: the file cannot be read or is empty (the message names the file, not its content).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"registrar database password file {path}: {exc.strerror or exc}") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise ValueError(f"registrar database password file {path}: empty")
    return password


def open_backend(location: str, password: str | None = None) -> Backend:
    """Connect to the store at ``location`` (a SQLite path or a ``postgresql://`` URI).

    Args:
        location: where the store is; see :data:`POSTGRES_SCHEMES`.
        password: the PostgreSQL password (from a file or the environment; libpq's own
            ``PGPASSWORD`` and ``PGPASSFILE`` work too). Not allowed with SQLite.

    Raises:
        StoreUnavailable: the PostgreSQL server cannot be reached or refuses the credentials.
        SchemaVersionError: the SQLite file cannot be opened or is not a database.
    """
    if is_postgres(location):
        return PostgresBackend(location, password)
    if password is not None:
        raise ValueError("a password goes with a PostgreSQL store, not with a SQLite file")
    return SqliteBackend(location)


class Backend:
    """One connection to the store and the SQL dialect it speaks; see the module's table."""

    name: str = ""
    "``sqlite`` or ``postgresql``."
    location: str
    "Where the store is, for messages (a password masked)."
    foreign_if_any_table: bool = True
    """Whether any table without a schema version makes the database foreign (SQLite: a file is
    the registrar's alone), or only a registrar table does (PostgreSQL: a shared database)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written with ``?`` placeholders."""
        raise NotImplementedError

    def begin_write(self) -> None:
        """Open a write transaction: once it returns, no other writer runs on the store."""
        raise NotImplementedError

    def begin_read(self) -> None:
        """Open a read-only transaction: its reads are one snapshot."""
        raise NotImplementedError

    def commit(self) -> None:
        """Commit; durable (on disk) once it returns."""
        self.execute("COMMIT")

    def rollback(self) -> None:
        """Roll the open transaction back (nothing to do if the connection was lost)."""
        self.execute("ROLLBACK")

    def ddl(self, statement: str) -> str:
        """A ``CREATE`` statement of :mod:`.store` in this dialect."""
        return statement

    def schema_version(self) -> tuple[int, set[str]]:
        """Inside a write transaction: the stored schema version (0: none) and the tables there."""
        raise NotImplementedError

    def set_schema_version(self, version: int) -> None:
        """Inside a write transaction: record the schema version."""
        raise NotImplementedError

    def unavailable(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database cannot be reached now (then reconnect on next use)."""
        return False

    def close(self) -> None:
        """Close the connection; idempotent."""
        raise NotImplementedError


class SqliteBackend(Backend):
    """The embedded default: one SQLite file, WAL mode, ``synchronous=FULL``."""

    name = "sqlite"

    def __init__(self, path: str) -> None:
        """Open (creating if needed) the file at ``path`` (``":memory:"`` for tests).

        Raises:
            SchemaVersionError: the file cannot be opened or is not a SQLite database.
        """
        self.location = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise SchemaVersionError(f"cannot open registrar database {path!r}: {exc}") from exc
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SchemaVersionError(f"{path!r} is not a usable SQLite database: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._db.execute(sql, params)

    def begin_write(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self._db.execute("BEGIN")

    def schema_version(self) -> tuple[int, set[str]]:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        return version, tables

    def set_schema_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        self._db.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The sqlite3 connection (tests look at its pragmas)."""
        return self._db


@functools.lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (the model's SQL holds no other ``?`` nor ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresBackend(Backend):
    """A PostgreSQL database shared by several registrar processes (psycopg 3, synchronous).

    Synchronous, like :class:`SqliteBackend`: the service calls the store from its event loop, and
    a statement on loopback takes tens of microseconds, less than handing it to a thread would.
    """

    name = "postgresql"
    foreign_if_any_table = False

    def __init__(self, dsn: str, password: str | None = None) -> None:
        """Connect to the database named by the libpq URI ``dsn``.

        Raises:
            StoreUnavailable: psycopg is not installed, the server cannot be reached, or it
                refuses the user, the password or the database (one line, no password).
        """
        self.dsn = dsn
        self.location = describe_location(dsn)
        self._password = password
        self._conn: psycopg.Connection[Any] | None = None
        self._connected = False
        self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a dependency of the package
            raise StoreUnavailable(
                f"registrar database {self.location}: PostgreSQL needs psycopg "
                "(pip install 'psycopg[binary]')"
            ) from None
        extra: dict[str, Any] = {} if self._password is None else {"password": self._password}
        try:
            # At start-up a server may take a moment; once serving, a reconnection blocks the
            # event loop, so it gives up sooner (the request answers 503, the next one retries).
            timeout = 2 if self._connected else 10
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=timeout, **extra)
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to registrar database {self.location}: {_one_line(exc)}"
            ) from None
        try:
            # The durability promise (committed before W6 answers) whatever the server's default.
            conn.execute("SET synchronous_commit = on")
        except psycopg.Error as exc:
            conn.close()
            raise StoreUnavailable(f"registrar database {self.location}: {_one_line(exc)}") from None
        self._conn = conn
        self._connected = True
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._connect()
        return conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._connection().execute(_pg_sql(sql), params)

    def begin_write(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_WRITE_LOCK,))

    def begin_read(self) -> None:
        self._connection().execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def rollback(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.execute("ROLLBACK")

    def ddl(self, statement: str) -> str:
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)

    def schema_version(self) -> tuple[int, set[str]]:
        tables = {
            str(r[0])
            for r in self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        }
        if _PG_VERSION_TABLE not in tables:
            return 0, tables
        rows = self.execute(f"SELECT version FROM {_PG_VERSION_TABLE}").fetchall()
        if len(rows) != 1:
            raise SchemaVersionError(
                f"registrar database {self.location}: {_PG_VERSION_TABLE} holds {len(rows)} rows, not one"
            )
        return int(rows[0][0]), tables - {_PG_VERSION_TABLE}

    def set_schema_version(self, version: int) -> None:
        self.execute(f"CREATE TABLE IF NOT EXISTS {_PG_VERSION_TABLE} (version INTEGER NOT NULL)")
        self.execute(f"DELETE FROM {_PG_VERSION_TABLE}")
        self.execute(f"INSERT INTO {_PG_VERSION_TABLE} (version) VALUES (?)", (int(version),))

    def unavailable(self, exc: BaseException) -> bool:
        import psycopg

        if isinstance(exc, psycopg.OperationalError) or (self._conn is not None and self._conn.broken):
            self.close()
            return True
        return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _one_line(exc: BaseException) -> str:
    """A driver's message on one line (libpq's span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__
