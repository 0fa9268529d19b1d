"""The registrar's store on a shared PostgreSQL database (issue 18): what differs from SQLite.

The same model runs on both backends (every store, lease and service test runs on each, see
``conftest.py``); here what only a shared server has: durability set per session, the schema
version table, a database other applications use too, user errors (unreachable server, wrong
or missing password, a password written in the URI) in one line, and several stores (several
registrar processes) on one database: each sees the others' writes, and of concurrent lease claims
on one block exactly one wins (TR 23.701 5.2.2.2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from registrar_db import schema_version, sql

from reference import pg_cluster
from reference.nodes.wimpu_registrar import (
    SCHEMA_VERSION,
    AllocatedBy,
    ContactWrite,
    RegistrarService,
    SchemaVersionError,
    Store,
)
from reference.nodes.wimpu_registrar.leases import LeaseClaim, LeaseHeldError, LeaseOutcome
from reference.nodes.wimpu_registrar.model import StoreUnavailable
from reference.pg_cluster import PgCluster, PostgresMissing, find_bin_dir

T0 = 1_700_000_000.0
IMPU = "sip:wrtc-0001@block1.ims.example.net"
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
A = AllocatedBy.THIRD_PARTY
Make = Callable[..., ContactWrite]


def test_commits_are_synchronous_and_the_version_is_a_table(pg_dsn: str) -> None:
    store = Store(pg_dsn)
    try:
        assert store.backend == "postgresql"
        assert store._db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    finally:
        store.close()
    assert schema_version(pg_dsn) == SCHEMA_VERSION


def test_a_shared_database_with_other_applications_tables_is_used(pg_dsn: str, make_contact: Make) -> None:
    sql(pg_dsn, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    store = Store(pg_dsn)
    try:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact(), T0)
        assert store.counts() == (1, 1)
    finally:
        store.close()
    assert sql(pg_dsn, "SELECT count(*) FROM invoices") == [[(0,)]]


def test_two_stores_on_one_database_see_each_others_writes(pg_dsn: str, make_contact: Make) -> None:
    first, second = Store(pg_dsn), Store(pg_dsn)
    try:
        entry, _ = first.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        assert second.read(IMPU, T0 + 1) == entry
        assert second.status(IMPU, T0 + 1).registered
        second.upsert_contact(IMPU, WIMPU, A, None, make_contact("c2"), T0 + 2)
        found = first.read(IMPU, T0 + 3)
        assert found is not None and [c.contact_id for c in found.contacts] == ["c1", "c2"]
        first.claim_lease(WIMPU, LeaseClaim("sip:ep-cscf1.ims.example.net", 30.0), T0)
        with pytest.raises(LeaseHeldError):
            second.claim_lease(WIMPU, LeaseClaim("sip:ep-cscf2.ims.example.net", 30.0), T0 + 1)
        assert second.remove_entry(IMPU, T0 + 4).impu == IMPU
        assert first.read(IMPU, T0 + 4) is None
    finally:
        first.close()
        second.close()


_CLAIMANT = textwrap.dedent(
    """
    import json, os, sys, time
    from reference.nodes.wimpu_registrar import AllocatedBy, ContactWrite, Store
    from reference.nodes.wimpu_registrar.leases import LeaseClaim, LeaseHeldError

    dsn, name, go, blocks, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    store = Store(dsn)
    print("open", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    won = []
    for i in range(blocks):
        wimpu = f"sip:wrtc-!.*!@race{i}.ims.example.net"
        try:
            _, outcome, _ = store.claim_lease(wimpu, LeaseClaim(f"sip:{name}.ims.example.net", 3600.0), now)
            won.append([i, outcome.value])
        except LeaseHeldError:
            pass
        impu = f"sip:wrtc-{name}-{i}@race{i}.ims.example.net"
        contact = ContactWrite(contact_id="c1", uri="sip:c1@x.invalid;transport=ws", flow="f",
                               ep_cscf=f"sip:{name}.ims.example.net", expires=600)
        store.upsert_contact(impu, wimpu, AllocatedBy.THIRD_PARTY, None, contact, now)
    store.close()
    print(json.dumps(won), flush=True)
    """
)


def test_two_registrar_processes_claiming_at_once_have_one_winner_per_block(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Two processes, each with its own store on one database, claim the same 40 lapsed leases
    (their holder failed) at the same instant of the store's clock: every block has exactly one
    winner (TAKEN_OVER, generation 2), and each process's registrations are there for the other.
    Whatever the interleaving, a second winner would be a lost update; none is allowed."""
    blocks = 40
    store = Store(pg_dsn)
    for i in range(blocks):
        store.claim_lease(f"sip:wrtc-!.*!@race{i}.ims.example.net", LeaseClaim("sip:failed@x", 1.0), T0)
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMANT, pg_dsn, name, str(go), str(blocks), str(T0 + 10)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("ep-a", "ep-b")
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        go.touch()  # both stores are open: claim at once
        results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0]
    winners: dict[int, list[str]] = {}
    for name, won in zip(("ep-a", "ep-b"), results, strict=True):
        for i, outcome in won:
            assert outcome == LeaseOutcome.TAKEN_OVER.value
            winners.setdefault(i, []).append(name)
    print(f"\nlease race, two processes: blocks={blocks} won by a={len(results[0])} b={len(results[1])}")
    assert {i: len(w) for i, w in winners.items()} == dict.fromkeys(range(blocks), 1)
    try:
        for i in range(blocks):
            lease = store.lease(f"sip:wrtc-!.*!@race{i}.ims.example.net")
            assert lease is not None and lease.generation == 2
            assert lease.holder == f"sip:{winners[i][0]}.ims.example.net"
        assert store.counts() == (2 * blocks, 2 * blocks)
    finally:
        store.close()


def test_two_registrars_create_the_schema_once(pg_dsn: str) -> None:
    stores = [Store(pg_dsn), Store(pg_dsn)]  # the second finds the schema the first created
    for s in stores:
        s.close()
    assert sql(pg_dsn, "SELECT count(*) FROM wimpu_registrar_schema") == [[(1,)]]


def test_a_registrar_table_without_version_is_refused(pg_dsn: str) -> None:
    sql(pg_dsn, "CREATE TABLE leases (x INTEGER)")
    with pytest.raises(SchemaVersionError, match="not a wIMPU Registrar database"):
        Store(pg_dsn)


def test_an_unreachable_server_is_one_clear_line(pg_cluster: PgCluster) -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect to registrar database") as info:
        Store("postgresql://wimpu@127.0.0.1:1/wimpu", password="x")
    assert "\n" not in str(info.value) and info.value.status == 503


def test_a_wrong_or_missing_password_is_one_clear_line_without_the_password(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StoreUnavailable, match="password authentication failed") as info:
        Store(pg_dsn, password="not-the-password-4711")
    assert "not-the-password-4711" not in str(info.value) and "\n" not in str(info.value)
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(StoreUnavailable, match="password"):
        Store(pg_dsn)


@pytest.fixture
def password_file(pg_cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cluster's password in a file, and none in libpq's environment."""
    monkeypatch.delenv("PGPASSWORD")
    secret = tmp_path / "db.password"
    secret.write_text(pg_cluster.password + "\n", encoding="utf-8")
    return secret


def test_a_password_file_is_read_and_a_password_in_the_uri_refused(
    pg_dsn: str, pg_cluster: PgCluster, password_file: Path
) -> None:
    secret = password_file
    service = RegistrarService(db_path=pg_dsn, db_password_file=str(secret))
    assert service.db_password_file == str(secret)
    with_password = pg_dsn.replace("wimpu_test@", f"wimpu_test:{pg_cluster.password}@")
    with pytest.raises(ValueError, match="no password in the URI") as info:
        RegistrarService(db_path=with_password)
    assert pg_cluster.password not in str(info.value)


async def test_a_service_starts_with_its_password_file(pg_dsn: str, password_file: Path) -> None:
    service = RegistrarService(db_path=pg_dsn, db_password_file=str(password_file))
    await service.start()
    try:
        assert service.store.backend == "postgresql"
    finally:
        await service.stop()
    missing = RegistrarService(db_path=pg_dsn, db_password_file=str(password_file.with_name("absent")))
    with pytest.raises(ValueError, match="password file"):
        await missing.start()


def test_a_lost_server_connection_is_503_and_the_next_call_reconnects(
    pg_dsn: str, pg_cluster: PgCluster, make_contact: Make
) -> None:
    store = Store(pg_dsn)
    try:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact(), T0)
        pid = store._db.execute("SELECT pg_backend_pid()").fetchone()[0]
        sql(pg_dsn, f"SELECT pg_terminate_backend({int(pid)})")  # the server drops the connection
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.read(IMPU, T0 + 1)
        assert store.read(IMPU, T0 + 1) is not None
    finally:
        store.close()


def test_without_the_server_binaries_the_tests_fail_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI installs PostgreSQL; where it is missing, the fixture fails (never skips) with this."""
    monkeypatch.setattr(pg_cluster.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("WIMPU_PG_BIN", raising=False)
    with pytest.raises(PostgresMissing, match="Debian package postgresql"):
        find_bin_dir()
