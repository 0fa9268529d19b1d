"""Fixtures shared by the tests that run the reference stack (end-to-end, security, interop,
preflight): the stack on loopback and a remote party; and the session's default run of every feature
(``runs.in_process_run``), which the conformance comparisons and the Kamailio validation share."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from runs import in_process_run, in_process_verdicts

from conformance.harness.remote import RemoteParty
from reference.pg_cluster import PgCluster, PostgresMissing
from reference.stack import Stack

__all__ = ["in_process_run", "in_process_verdicts"]

# The property and fuzz tests draw the same examples in every run (a red CI is a defect, never
# the luck of a draw); HYPOTHESIS_PROFILE=explore draws new ones, to look for more by hand.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    """The whole reference stack, fresh for each test, on free ports."""
    s = Stack()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def remote(stack: Stack) -> AsyncIterator[RemoteParty]:
    """The remote IMS party, reachable from the S-CSCF as remote.example.org."""
    party = RemoteParty("remote.example.org")
    await party.start()
    stack.resolver.add("remote.example.org", party.target)
    yield party
    await party.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL server on loopback, one per test session (per xdist worker), for the
    registrar's PostgreSQL store (``reference/pg_cluster.py``). Without PostgreSQL's server binaries the
    tests that need it fail, saying so: CI installs them (``scripts/install.sh``)."""
    try:
        cluster = PgCluster()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def pg_database(pg_cluster: PgCluster) -> str:
    """The session's database of registrar tests (each test has its own schema in it)."""
    return pg_cluster.create_database("registrar")


@pytest.fixture
def pg_dsn(pg_cluster: PgCluster, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new, empty PostgreSQL store for one test: the ``postgresql://`` URI of the session's
    database with a schema of its own as ``search_path`` (no password in it: the password is in
    ``PGPASSWORD`` for the test and the processes it starts); the schema is dropped after."""
    schema, dsn = pg_cluster.create_schema(pg_database)
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    yield dsn
    pg_cluster.drop_schema(pg_database, schema)


@pytest.fixture(params=("sqlite", "postgresql"))
def registrar_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a registrar process of a system test keeps its registrations, on each backend: a
    SQLite file in the test's folder, or a new PostgreSQL store (:func:`pg_dsn`)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_dsn"))
    return str(tmp_path / "registrar.db")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every verdict table a test recorded (the ``("verdict_table", ...)`` user property of its report,
    passed or not), printed at the end of the run: the Kamailio validation's, beside the reference's
    (issue 16: "CI ... prints the verdict table beside the reference's"). Here, not in tests/interop:
    the xdist controller loads only this conftest."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "verdict_table":
                    terminalreporter.section(f"verdicts beside the reference: {report.nodeid}")
                    terminalreporter.write_line(str(value))
