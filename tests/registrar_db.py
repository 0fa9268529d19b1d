"""Raw SQL on the registrar's store, beside the registrar, for tests: an SQLite file or a
PostgreSQL database (``postgresql://`` URI, its password in ``PGPASSWORD``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from reference.nodes.wimpu_registrar.backends import is_postgres


def sql(location: str, *statements: str) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` on the store at ``location`` through a separate connection (an
    SQLite file or a ``postgresql://`` URI, the password in ``PGPASSWORD``), committed; the
    rows each returned."""
    results: list[list[tuple[Any, ...]]] = []
    if is_postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            for statement in statements:
                cursor = conn.execute(statement)  # type: ignore[arg-type]
                results.append([tuple(r) for r in cursor.fetchall()] if cursor.description else [])
        return results
    db = sqlite3.connect(location)
    try:
        for statement in statements:
            results.append([tuple(r) for r in db.execute(statement).fetchall()])
        db.commit()
    finally:
        db.close()
    return results


def set_schema_version(location: str, version: int) -> None:
    """Write another schema version into the store at ``location`` (as another registrar would)."""
    if is_postgres(location):
        sql(location, f"UPDATE wimpu_registrar_schema SET version = {version}")
    else:
        sql(location, f"PRAGMA user_version = {version}")


def schema_version(location: str) -> int:
    """The schema version stored at ``location``."""
    query = "SELECT version FROM wimpu_registrar_schema" if is_postgres(location) else "PRAGMA user_version"
    return int(sql(location, query)[0][0][0])
