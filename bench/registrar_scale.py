"""The wIMPU Registrar at 1,000,000 entries: W6 and W7 rates and latency, bytes per entry (issue 18, 3),
on each store backend: the embedded SQLite file and a PostgreSQL database (``--backends``).

For each level N a registrar database is filled with N entries, each one individual IMPU of a block
with one live contact: half of block1 (option A, ``sip:wrtc-u<n>@block1.ims.example.net``), half of
block2 (option B, bound to the external identity ``sip:user<n>@enterprise.com``, the IMPU allocated
as ``WimpuBlock.allocate`` does), with the sizes the eP-CSCF writes (an outbound contact URI, a
``+sip.instance`` UUID, a flow token, one Path entry). The fill goes through the Store's schema
(``Store(path)`` creates it) with ``executemany`` in one transaction (SQLite) or ``COPY`` (PostgreSQL,
then ``ANALYZE``): a million W6 writes over
HTTPS would take half an hour to an hour (300-560 writes/s), and the fill is not what is measured. Printed:
the fill time and the database's bytes per entry (SQLite: file size after a WAL checkpoint;
PostgreSQL: the tables with their indexes, ``pg_total_relation_size``; divided by N),
beside the bytes of the values themselves, and one ``Store.sweep`` with nothing expired, timed: the
service runs one every second on its event loop, where no request is answered meanwhile.

Then, on that database, each measured for ``--seconds`` (one after the other, never together):

- **peers, in this process, one caller**: the look-up done directly with the driver, ``sqlite3`` or
  ``psycopg`` (prepared statements: the entry by IMPU with a live contact, then by external identity;
  the floor of the storage), and the Store's own ``status``, ``read`` and ``upsert_contact`` (identity
  canonicalisation, a read transaction, the records built), without HTTP;
- **the real service**: ``python -m reference.nodes.wimpu_registrar`` (``RegistrarService``, HTTPS
  with mutual TLS, the reference profile's access policy, its sweeper, one INFO log line per
  request as in the stack) in its own process on 127.0.93.1, driven by C concurrent clients
  (``--clients``, levels), each with one ``aiohttp`` session over one kept-alive connection and the
  client certificate of the node that makes that call in the stack: ``i-cscf`` for W7
  (``GET /w7/v1/registration-status?identity=...``), ``ep-cscf1`` or ``ep-cscf2`` (every other
  client) for W6 reads (``GET /w6/v1/registrations/{impu}``) and contact writes (``PUT
  .../contacts/{contact_id}``: the re-registration of an entry's contact, or a new contact of an
  entry) of random entries of its own block.

Looked-up identities are random: *registered* an entry's IMPU (option A) or external identity
(option B, which the Store finds after missing it as an IMPU), *absent* an identity of neither kind
(both look-ups miss). Each row: requests/s, p50, p99 and the slowest request (max), errors (an
unexpected status or an exception), and for the service the CPU share of one core of the client
process and of the registrar process over that row. No figure is asserted; the target of issue 18
is printed beside the measured p99.

PostgreSQL: by default a throwaway server of this run (``reference/pg_cluster.py``: ``initdb`` into a
temporary folder, ``postgres`` on a free loopback port, default settings but ``fsync`` and
``synchronous_commit`` on, as the registrar needs); ``--postgresql URI`` uses a running server instead
(the password in ``PGPASSWORD``; each level in a schema of its own, dropped after). At the end, one line
per backend and level: the W7 look-up p99 beside the target, and the W6 write rate.

Usage: ``python3 bench/registrar_scale.py [--entries 10000,1000000] [--seconds 5] [--clients 1,8]
[--backends sqlite,postgresql] [--postgresql URI]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from reference.nodes.wimpu_registrar.backends import is_postgres
from reference.nodes.wimpu_registrar.model import AllocatedBy, ContactWrite
from reference.nodes.wimpu_registrar.store import Store
from reference.tls import TestPki

HOST = "127.0.93.1"
DOMAIN = "ims.example.net"
BLOCKS = {  # option letter: (wimpu, eP-CSCF node of the reference profile)
    "A": ("sip:wrtc-!.*!@block1.ims.example.net", "ep-cscf1"),
    "B": ("sip:wrtc-!.*!@block2.ims.example.net", "ep-cscf2"),
}
LIFETIME = 3600
"Seconds a contact lives after its registration; every filled contact is live for at least 10 min."
BATCH = 50_000
TARGET_MS = 1.0
ROOT = Path(__file__).resolve().parents[1]


# -- the entries, derived from their number n (option A for even n, B for odd) -------------------


def option(n: int) -> str:
    return "A" if n % 2 == 0 else "B"


def external(n: int) -> str:
    return f"sip:user{n}@enterprise.com"


def impu(n: int) -> str:
    if option(n) == "A":
        return f"sip:wrtc-u{n}@block1.{DOMAIN}"
    digest = hashlib.sha256(external(n).encode()).digest()  # WimpuBlock.allocate, on a canonical identity
    return f"sip:wrtc-{base64.b32encode(digest[:10]).decode().lower()}@block2.{DOMAIN}"


def called(n: int) -> str:
    """What a caller dials: the IMPU (option A) or the external identity (option B)."""
    return impu(n) if option(n) == "A" else external(n)


def absent(n: int) -> str:
    """An identity of no entry: neither a stored IMPU nor an external identity."""
    return f"sip:wrtc-x{n}@block1.{DOMAIN}"


def contact(n: int, k: int = 0) -> ContactWrite:
    """The ``k``-th contact of entry ``n``, as the eP-CSCF writes it (a JsSIP WIC with outbound)."""
    h = hashlib.blake2b(f"{n}/{k}".encode(), digest_size=40).hexdigest()
    token = base64.urlsafe_b64encode(bytes.fromhex(h[:60])).decode()  # 40 characters, as a minted flow
    instance = f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    node = BLOCKS[option(n)][1]
    return ContactWrite(
        contact_id=f"{instance}#1",
        uri=f"sip:{h[32:40]}@{h[40:52]}.invalid;transport=ws;ob",
        flow=token,
        ep_cscf=f"sip:{node}.{DOMAIN}",
        expires=LIFETIME,
        instance_id=instance,
        reg_id=1,
        path=(f"<sip:{token}@{node}.{DOMAIN}:5080;transport=tcp;lr;ob>",),
    )


def rows_of(first: int, last: int, now: float, rng: random.Random) -> tuple[list[tuple[object, ...]], ...]:
    """The entries and contacts rows of entries ``first`` to ``last`` (excluded), as the Store writes them."""
    rows_e: list[tuple[object, ...]] = []
    rows_c: list[tuple[object, ...]] = []
    for n in range(first, last):
        a = option(n) == "A"
        registered = now - rng.uniform(0, LIFETIME - 600)
        rows_e.append(
            (impu(n), BLOCKS[option(n)][0], None if a else external(n),
             AllocatedBy.THIRD_PARTY.value if a else AllocatedBy.EP_CSCF.value, registered, registered)
        )  # fmt: skip
        c = contact(n)
        rows_c.append(
            (rows_e[-1][0], c.contact_id, c.uri, c.flow, c.instance_id, c.reg_id,
             f'["{c.path[0]}"]', c.ep_cscf, registered + LIFETIME, registered)
        )  # fmt: skip
    return rows_e, rows_c


def values_of(rows_e: list[tuple[object, ...]], rows_c: list[tuple[object, ...]]) -> int:
    """Bytes of the stored values themselves (text lengths, 8 per number)."""
    return sum(
        sum(len(str(v)) for v in e[:4]) + sum(len(str(v)) for v in c[:8]) + 24
        for e, c in zip(rows_e, rows_c, strict=True)
    )


def fill(location: str, entries: int, now: float) -> tuple[float, int]:
    """Create the registrar database (the Store's schema) and insert ``entries``; returns the
    seconds taken and the bytes of the stored values."""
    Store(location).close()  # the schema, its version (and WAL mode)
    started = time.perf_counter()
    rng = random.Random(1)
    values = 0
    if is_postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")  # the fill only; the registrar sets it on
            with conn.transaction(), conn.cursor() as cur:
                for first in range(0, entries, BATCH):
                    rows_e, rows_c = rows_of(first, min(entries, first + BATCH), now, rng)
                    values += values_of(rows_e, rows_c)
                    with cur.copy("COPY entries FROM STDIN") as copy:
                        for row in rows_e:
                            copy.write_row(row)
                    with cur.copy("COPY contacts FROM STDIN") as copy:
                        for row in rows_c:
                            copy.write_row(row)
            conn.execute("ANALYZE entries")
            conn.execute("ANALYZE contacts")
            with contextlib.suppress(psycopg.Error):
                conn.execute("CHECKPOINT")  # a superuser's (the throwaway server's)
        return time.perf_counter() - started, values
    db = sqlite3.connect(location, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    for first in range(0, entries, BATCH):
        rows_e, rows_c = rows_of(first, min(entries, first + BATCH), now, rng)
        values += values_of(rows_e, rows_c)
        db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows_e)
        db.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_c)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started, values


def size_of(location: str) -> int:
    """Bytes the store takes: the SQLite file (and its WAL), or the PostgreSQL tables of the
    ``search_path`` schema with their indexes and TOAST."""
    if is_postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            row = conn.execute(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    wal = Path(f"{location}-wal")
    return Path(location).stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# -- figures ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    client_cpu: float | None = None
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        if q == 0.5:
            return statistics.median(ordered) * 1000
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    def line(self) -> str:
        cpu = "".join(
            f" {x:>7.0%}" if x is not None else f" {'-':>7}" for x in (self.client_cpu, self.server_cpu)
        )
        return (
            f"{self.name:<40} {self.clients:>7} {self.rate:>9.0f} {self.ms(0.5):>8.3f} {self.ms(0.99):>8.3f}"
            f" {self.ms(1.0):>9.3f}"
            f" {self.errors:>6}{cpu}"
        )


HEADER = (
    f"{'what':<40} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'errors':>6}"
    f" {'client':>7} {'server':>7}"
)


def timed(name: str, seconds: float, call: Callable[[], object]) -> Row:
    """One caller in this process, ``call()`` back to back for ``seconds``."""
    row = Row(name, 1)
    begin = time.perf_counter()
    deadline = begin + seconds
    cpu = time.process_time()
    while (start := time.perf_counter()) < deadline:
        try:
            call()
        except Exception:  # noqa: BLE001 - counted, the row goes on
            row.errors += 1
            continue
        row.latencies.append(time.perf_counter() - start)
    row.seconds = time.perf_counter() - begin
    row.client_cpu = (time.process_time() - cpu) / row.seconds
    return row


LIVE = "AND EXISTS (SELECT 1 FROM contacts c WHERE c.impu = e.impu AND c.expires_at > ?)"


def driver_status(db: Any, identity: str, now: float) -> tuple[str, str, str | None] | None:
    """The W7 look-up straight on the Store's tables with the driver (``sqlite3`` or ``psycopg``):
    by IMPU, then by external identity, with a live contact (what ``Store.status`` asks, without its
    checks and records)."""
    mark = "%s" if not isinstance(db, sqlite3.Connection) else "?"
    for key in ("impu", "external_identity"):
        query = f"SELECT impu, wimpu, external_identity FROM entries e WHERE {key} = ? {LIVE}"
        found = db.execute(query.replace("?", mark), (identity, now)).fetchone()
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


def driver_of(location: str) -> str:
    """The driver module the floor row of ``location``'s backend uses."""
    return "psycopg" if is_postgres(location) else "sqlite3"


def in_process(location: str, entries: int, seconds: float) -> list[Row]:
    rng = random.Random(2)
    now = time.time()
    present = lambda: called(rng.randrange(entries))  # noqa: E731
    missing = lambda: absent(rng.randrange(entries))  # noqa: E731
    if is_postgres(location):
        import psycopg

        db: Any = psycopg.connect(location, autocommit=True)
    else:
        db = sqlite3.connect(location, isolation_level=None)
    store = Store(location)
    driver = driver_of(location)
    rows = []
    try:
        assert driver_status(db, called(entries - 1), now) is not None
        assert store.status(called(entries - 1), now).registered
        rows.append(
            timed(f"{driver} look-up, registered", seconds, lambda: driver_status(db, present(), now))
        )
        rows.append(timed(f"{driver} look-up, absent", seconds, lambda: driver_status(db, missing(), now)))
        rows.append(timed("Store.status, registered", seconds, lambda: store.status(present(), now)))
        rows.append(timed("Store.status, absent", seconds, lambda: store.status(missing(), now)))
        rows.append(
            timed("Store.read (W6 read)", seconds, lambda: store.read(impu(rng.randrange(entries)), now))
        )

        def upsert() -> None:
            n = rng.randrange(entries)
            wimpu = BLOCKS[option(n)][0]
            a = option(n) == "A"
            allocated = AllocatedBy.THIRD_PARTY if a else AllocatedBy.EP_CSCF
            store.upsert_contact(
                impu(n), wimpu, allocated, None if a else external(n), contact(n), time.time()
            )

        rows.append(timed("Store.upsert_contact (re-registration)", seconds, upsert))
    finally:
        store.close()
        db.close()
    return rows


# -- the service --------------------------------------------------------------------------------


def cpu_of(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (``/proc``; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def registrar(directory: Path, db: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``python -m reference.nodes.wimpu_registrar`` on ``db`` (a file or a ``postgresql://`` URI,
    the password in ``PGPASSWORD``): its base URL once it listens."""
    command = [sys.executable, "-m", "reference.nodes.wimpu_registrar", "--db", db]
    command += ["--state-dir", str(directory / "state"), "--host", HOST, "--port", "0"]
    with (directory / "registrar.log").open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(
                f"the registrar did not start: {(directory / 'registrar.log').read_text()[-2000:]}"
            )
        yield line.split()[1], process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


Request = tuple[str, str, dict[str, object] | None, tuple[int, ...]]
"Method, path with query, JSON body, the statuses that are a success."


def w7(identity: str) -> Request:
    return "GET", f"/w7/v1/registration-status?identity={quote(identity, safe='')}", None, (200,)


def w6_read(n: int) -> Request:
    return "GET", f"/w6/v1/registrations/{quote(impu(n), safe='')}", None, (200,)


def w6_write(n: int, k: int) -> Request:
    c = contact(n, k)
    a = option(n) == "A"
    body: dict[str, object] = {
        "wimpu": BLOCKS[option(n)][0],
        "allocated_by": (AllocatedBy.THIRD_PARTY if a else AllocatedBy.EP_CSCF).value,
        "contact": {
            "uri": c.uri, "flow": c.flow, "ep_cscf": c.ep_cscf, "expires": c.expires,
            "instance_id": c.instance_id, "reg_id": c.reg_id, "path": list(c.path),
        },
    }  # fmt: skip
    if not a:
        body["external_identity"] = external(n)
    path = f"/w6/v1/registrations/{quote(impu(n), safe='')}/contacts/{quote(c.contact_id, safe='')}"
    return "PUT", path, body, (200, 201)


async def load(
    base: str, pki: TestPki, clients: int, seconds: float, node: Callable[[int], str],
    make: Callable[[random.Random, int], Request],
) -> Row:  # fmt: skip
    """``clients`` callers, each its own session (one kept-alive connection, the certificate of
    ``node(i)``), sending ``make(rng, i)`` back to back for ``seconds``."""
    row = Row("", clients)
    contexts = {name: pki.client_context(node=name) for name in {node(i) for i in range(clients)}}

    async def caller(i: int, deadline: float) -> None:
        rng = random.Random(100 + i)
        connector = aiohttp.TCPConnector(ssl=contexts[node(i)], limit=1)
        async with aiohttp.ClientSession(
            base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        ) as s:
            async with s.get("/openapi.json") as warm:  # the TLS handshake, outside the figures
                await warm.read()
            while time.perf_counter() < deadline:
                method, path, body, ok = make(rng, i)
                start = time.perf_counter()
                try:
                    async with s.request(method, path, json=body) as r:
                        await r.read()
                        good = r.status in ok
                except (aiohttp.ClientError, TimeoutError):
                    good = False
                if good:
                    row.latencies.append(time.perf_counter() - start)
                else:
                    row.errors += 1

    begin = time.perf_counter()
    await asyncio.gather(*(caller(i, begin + seconds) for i in range(clients)))
    row.seconds = time.perf_counter() - begin
    return row


def over_http(base: str, pid: int, pki: TestPki, entries: int, clients: int, seconds: float) -> list[Row]:
    half = max(1, entries // 2)
    ep = lambda i: BLOCKS["A" if i % 2 == 0 else "B"][1]  # noqa: E731
    own = lambda rng, i: 2 * rng.randrange(half) + i % 2  # noqa: E731 - an entry of client i's block
    kinds: list[tuple[str, Callable[[int], str], Callable[[random.Random, int], Request]]] = [
        ("W7 status, registered", lambda i: "i-cscf", lambda rng, i: w7(called(rng.randrange(entries)))),
        ("W7 status, absent", lambda i: "i-cscf", lambda rng, i: w7(absent(rng.randrange(entries)))),
        ("W6 read", ep, lambda rng, i: w6_read(own(rng, i))),
        ("W6 write, re-registration", ep, lambda rng, i: w6_write(own(rng, i), 0)),
        ("W6 write, new contact", ep, lambda rng, i: w6_write(own(rng, i), rng.randrange(1, 1 << 30))),
    ]  # fmt: skip
    rows = []
    for name, node, make in kinds:
        mine = resource.getrusage(resource.RUSAGE_SELF)
        theirs = cpu_of(pid)
        row = asyncio.run(load(base, pki, clients, seconds, node, make))
        used = resource.getrusage(resource.RUSAGE_SELF)
        row.name = f"HTTPS {name}"
        row.client_cpu = (used.ru_utime + used.ru_stime - mine.ru_utime - mine.ru_stime) / row.seconds
        row.server_cpu = (cpu_of(pid) - theirs) / row.seconds
        rows.append(row)
    return rows


@dataclass
class Summary:
    """What the end of the run prints for one backend and level."""

    backend: str
    entries: int
    w7_p99: float
    "The worse p99 of the HTTPS W7 rows (registered, absent; every client level), ms."
    store_p99: float
    "``Store.status``, registered, p99 ms (in process, no HTTP)."
    writes: dict[int, float]
    "HTTPS W6 re-registration writes/s by client level."
    store_writes: float
    "``Store.upsert_contact`` writes/s (in process, one caller)."


def level(directory: Path, location: str, entries: int, seconds: float, clients: list[int]) -> Summary:
    backend = "postgresql" if is_postgres(location) else "sqlite"
    took, values = fill(location, entries, time.time())
    size = size_of(location)
    print(
        f"\n[{backend}] {entries:,} entries: filled in {took:.1f} s "
        f"({entries / took:,.0f} entries/s); {size:,} bytes, {size / entries:.0f} bytes per entry "
        f"({values / entries:.0f} of values)"
    )
    store = Store(location)
    started = time.perf_counter()
    store.sweep(time.time())  # nothing has expired: what the service's sweeper costs at this size
    swept = time.perf_counter() - started
    store.close()
    print(
        f"one Store.sweep with nothing expired: {swept * 1000:.1f} ms"
        " (the service sweeps every 1 s, on its event loop)"
    )
    print(f"load average {os.getloadavg()[0]:.2f} before the rows\n")
    print(HEADER)
    rows = in_process(location, entries, seconds)
    for row in rows:
        print(row.line(), flush=True)
    pki = TestPki(directory / "state" / "pki")
    with registrar(directory, location) as (base, process):
        for c in clients:
            http = over_http(base, process.pid, pki, entries, c, seconds)
            for row in http:
                print(row.line(), flush=True)
            rows += http
    print(f"load average {os.getloadavg()[0]:.2f} after the rows")
    by = {(r.name, r.clients): r for r in rows}
    driver = driver_of(location)
    floor = by[f"{driver} look-up, registered", 1].ms(0.99)
    store_p99 = by["Store.status, registered", 1].ms(0.99)
    for c in clients:
        w7_row = by["HTTPS W7 status, registered", c]
        print(f"ratio W7 p99 HTTPS ({c} clients) / Store.status {w7_row.ms(0.99) / store_p99:.1f}x, "
              f"/ {driver} {w7_row.ms(0.99) / floor:.1f}x; W7 registered rate HTTPS / Store.status "
              f"{w7_row.rate / by['Store.status, registered', 1].rate:.3f}")  # fmt: skip
    worst = max(by["HTTPS W7 status, " + k, c].ms(0.99) for k in ("registered", "absent") for c in clients)
    print(f"target (issue 18): W7 look-up p99 under {TARGET_MS:g} ms at 1,000,000 entries; here, at "
          f"{entries:,}: {worst:.3f} ms (the worse W7 row)")  # fmt: skip
    return Summary(
        backend,
        entries,
        worst,
        store_p99,
        {c: by["HTTPS W6 write, re-registration", c].rate for c in clients},
        by["Store.upsert_contact (re-registration)", 1].rate,
    )


@contextlib.contextmanager
def postgres_server(uri: str | None) -> Iterator[Callable[[int], contextlib.AbstractContextManager[str]]]:
    """A factory of empty PostgreSQL stores, one a level: a schema of its own (as ``search_path``)
    in ``uri``'s database, or, without ``uri``, in a throwaway server of this run
    (:mod:`reference.pg_cluster`), stopped at the end."""
    import psycopg

    cluster = None
    if uri is None:
        from reference.pg_cluster import PgCluster

        cluster = PgCluster().start()
        os.environ["PGPASSWORD"] = cluster.password  # for this process's connections and the registrar's
        uri = str(cluster.dsn(cluster.create_database("bench")))
    base = uri

    @contextlib.contextmanager
    def store(entries: int) -> Iterator[str]:
        schema = f"wimpu_bench_{os.getpid()}_{entries}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    try:
        yield store
    finally:
        if cluster is not None:
            cluster.stop()


def server_version(uri_factory: Callable[[int], contextlib.AbstractContextManager[str]]) -> str:
    """The PostgreSQL server's version, for the heading."""
    import psycopg

    with uri_factory(0) as uri, psycopg.connect(uri, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--entries", default="10000,1000000", help="levels of entries (10000,1000000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per row (5)")
    parser.add_argument("--clients", default="1,8", help="levels of concurrent HTTPS clients (1,8)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="store backends (sqlite,postgresql)")
    parser.add_argument(
        "--postgresql", help="URI of a running PostgreSQL database (default: a throwaway server of this run)"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.entries.split(",") if x.strip()]
    clients = [int(x) for x in args.clients.split(",") if x.strip()]
    backends = [x.strip() for x in args.backends.split(",") if x.strip()]
    unknown = sorted(set(backends) - {"sqlite", "postgresql"})
    if unknown:
        parser.error(f"unknown backend {unknown[0]!r} (sqlite, postgresql)")
    summaries: list[Summary] = []
    with (
        tempfile.TemporaryDirectory(prefix="wimpu-regscale-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        pg = stack.enter_context(postgres_server(args.postgresql)) if "postgresql" in backends else None
        pg_version = f"; PostgreSQL {server_version(pg)}" if pg is not None else ""
        print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; SQLite {sqlite3.sqlite_version}"
              f"{pg_version}; {args.seconds:g} s per row; HTTPS: kept-alive connections, one session per "
              "client")  # fmt: skip
        for backend in backends:
            for entries in levels:
                if backend == "postgresql":
                    assert pg is not None
                    with pg(entries) as uri:
                        summaries.append(level(Path(tmp), uri, entries, args.seconds, clients))
                else:
                    location = str(Path(tmp) / f"registrar-{entries}.db")
                    summaries.append(level(Path(tmp), location, entries, args.seconds, clients))
    print("\nclient/server: CPU share of one core of this process / of the registrar's over the row")
    print(f"\nsummary: W7 look-up p99 (the worse HTTPS W7 row; target under {TARGET_MS:g} ms at 1,000,000) "
          "and W6 re-registration writes/s")  # fmt: skip
    for s in summaries:
        writes = ", ".join(
            f"{rate:,.0f}/s at {c} client{'s' if c > 1 else ''}" for c, rate in s.writes.items()
        )
        print(f"summary {s.backend:<10} {s.entries:>9,} entries: W7 p99 {s.w7_p99:.3f} ms HTTPS, "
              f"{s.store_p99:.3f} ms Store.status; W6 writes {writes} HTTPS, "
              f"{s.store_writes:,.0f}/s Store.upsert_contact")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
