"""Durable storage of the wIMPU Registrar (TR 23.701 5.2.2.3.1): one SQLite file, or a PostgreSQL
database shared by several registrar processes.

Synchronous and clock-free: every method takes ``now`` (seconds since the epoch) and
never reads a clock, so tests drive expiry with a fake time (the aioquic pattern).

One model, two databases: the SQL here and in :mod:`.leases` is written once; what differs
(connection, placeholders, schema version, transactions) is in :mod:`.backends`. The location
selects the database: a file path (the embedded default), or a ``postgresql://`` URI.

Durability: every write is one transaction that has committed before the method returns, so a
W6 write is durable before the W6 call answers success (solution profile, "W6 and W7"). SQLite:
WAL mode, ``synchronous=FULL``, ``BEGIN IMMEDIATE``. PostgreSQL: ``synchronous_commit = on``, and
a write transaction takes the database's writer lock first, so writers from several registrar
processes run one at a time, as on SQLite.

Expiry: a contact whose ``expires_at`` is not after ``now`` is dead. Reads never return
dead contacts, and an entry without live contacts reads as absent, even before
:meth:`Store.sweep` deletes them ("Expired contacts are never returned, even before a
sweep removes them").

Identities: every method takes identities in any valid spelling and stores and looks
them up in canonical form (:func:`reference.sip.identity.canonical_identity`); the
returned records hold the canonical form. An identity that
:func:`~reference.nodes.wimpu_registrar.model.check_identity` returned (a
:class:`~reference.nodes.wimpu_registrar.model.CanonicalIdentity`, as the service hands over) is
taken as it is, not canonicalised again. A wildcarded IMPU is kept as written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Final

from reference.spec import clause

from . import leases
from .backends import REGISTRAR_TABLES, Backend, Db, open_backend
from .leases import Lease, LeaseClaim, LeaseOutcome
from .model import (
    MAX_CONTACTS_PER_ENTRY,
    AllocatedBy,
    ConflictError,
    Contact,
    ContactWrite,
    Entry,
    NotFoundError,
    Outcome,
    PreconditionFailed,
    RegistrationStatus,
    SchemaVersionError,
    StoreUnavailable,
    SweepResult,
    check_contact_id,
    check_identity,
    check_in_block,
    check_wimpu,
    same_block,
)

__all__ = ["SCHEMA_VERSION", "Store"]

SCHEMA_VERSION: Final = 2
"""Stored in ``PRAGMA user_version`` (SQLite) or the table ``wimpu_registrar_schema``
(PostgreSQL); a database with another version is refused, except version 1 (before block
leases), which is migrated in place."""

_SCHEMA: Final = (
    """
CREATE TABLE entries (
    impu              TEXT PRIMARY KEY,
    wimpu             TEXT NOT NULL,
    external_identity TEXT UNIQUE,
    allocated_by      TEXT NOT NULL CHECK (allocated_by IN ('third-party', 'ep-cscf')),
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL
);
CREATE TABLE contacts (
    impu          TEXT NOT NULL REFERENCES entries (impu) ON DELETE CASCADE,
    contact_id    TEXT NOT NULL,
    uri           TEXT NOT NULL,
    flow          TEXT NOT NULL,
    instance_id   TEXT,
    reg_id        INTEGER,
    path          TEXT NOT NULL,
    ep_cscf       TEXT NOT NULL,
    expires_at    REAL NOT NULL,
    registered_at REAL NOT NULL,
    PRIMARY KEY (impu, contact_id)
);
CREATE INDEX contacts_expires_at ON contacts (expires_at);
CREATE INDEX entries_wimpu ON entries (wimpu);
"""
    + leases.LEASES_SCHEMA
)

_ENTRY_COLUMNS: Final = "impu, wimpu, external_identity, allocated_by, created_at, updated_at"
_CONTACT_COLUMNS: Final = (
    "contact_id, uri, flow, instance_id, reg_id, path, ep_cscf, expires_at, registered_at"
)
_CONTACT_UPDATE: Final = ", ".join(
    f"{c} = excluded.{c}" for c in _CONTACT_COLUMNS.split(", ") if c != "contact_id"
)
"A stored contact written again: every column but the key takes the new value (an upsert)."


class Store:
    """The registration entries, keyed by individual IMPU, in one SQLite file or PostgreSQL database.

    One connection serialises every read and write of this object. Not thread-safe: use it
    from one thread (the service's event loop). Several objects, in one process or several,
    may share one database: each write transaction runs alone (see :mod:`.backends`).
    """

    def __init__(self, path: str, *, password: str | None = None) -> None:
        """Open (creating the schema if needed) the store at ``path``.

        Args:
            path: a SQLite file path, ``":memory:"`` for tests, or a ``postgresql://`` URI
                (:data:`.backends.POSTGRES_SCHEMES`).
            password: the PostgreSQL password, read by the caller from a file or the
                environment (never written in the URI of a configuration).

        Raises:
            SchemaVersionError: the database holds another schema version, or is not a
                registrar database.
            StoreUnavailable: the PostgreSQL server cannot be reached or refuses the
                credentials.
        """
        self.path = path
        self._db: Backend = open_backend(path, password)
        self.location = self._db.location
        "Where the store is, for logs (a password masked)."
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.name

    def _open(self) -> None:
        # One transaction (not executescript, which commits on its own), so a crash leaves either
        # no schema or the whole schema with its version; on PostgreSQL it holds the writer lock,
        # so two registrars starting at once on an empty database create the schema once.
        with self._write() as db:
            version, tables = self._db.schema_version()
            ours = tables & REGISTRAR_TABLES
            foreign = tables if self._db.foreign_if_any_table else ours
            if version == 0 and not foreign:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(self._db.ddl(statement))
                self._db.set_schema_version(SCHEMA_VERSION)
            elif version == 1:
                # Version 2 added the block leases (failover) and an index by block.
                db.execute(self._db.ddl(leases.LEASES_SCHEMA))
                db.execute("CREATE INDEX entries_wimpu ON entries (wimpu)")
                self._db.set_schema_version(SCHEMA_VERSION)
            elif version == 0:
                raise SchemaVersionError(
                    f"{self.location!r} holds tables but no registrar schema version; "
                    "it is not a wIMPU Registrar database"
                )
            elif version != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"registrar database {self.location!r} has schema version {version}, "
                    f"this registrar needs version {SCHEMA_VERSION}; migrate or remove the file"
                )

    def close(self) -> None:
        """Close the connection; idempotent."""
        self._db.close()

    # -- transactions -----------------------------------------------------------------

    def _write(self) -> contextlib.AbstractContextManager[Db]:
        """One write transaction, committed (durably) on exit, rolled back on error.

        Raises:
            StoreUnavailable: the database server was lost (the next call connects again).
        """
        return self._transaction(self._db.begin_write)

    def _read(self) -> contextlib.AbstractContextManager[Db]:
        """One read transaction, so an entry and its contacts are one snapshot."""
        return self._transaction(self._db.begin_read)

    @contextlib.contextmanager
    def _transaction(self, begin: Callable[[], None]) -> Iterator[Db]:
        """A transaction opened by ``begin``, committed on exit, rolled back on error."""
        with self._reachable():
            begin()
            try:
                yield self._db
            except BaseException:
                self._rollback()
                raise
            self._db.commit()

    @contextlib.contextmanager
    def _query(self) -> Iterator[Db]:
        """No transaction, for a read of one statement (a snapshot by itself on both databases):
        a W7 lookup on PostgreSQL is one round trip instead of three."""
        with self._reachable():
            yield self._db

    def _rollback(self) -> None:
        try:
            self._db.rollback()
        except Exception as exc:  # the connection is gone: so is the transaction
            if not self._db.unavailable(exc):
                raise

    @contextlib.contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self._db.unavailable(exc):
                raise StoreUnavailable(
                    f"registrar database {self.location} unreachable: {' '.join(str(exc).split())}"
                ) from None
            raise

    # -- row mapping --------------------------------------------------------------------

    def _entry(self, db: Db, where: str, key: str, now: float) -> Entry | None:
        """The live entry whose column ``where`` is ``key``, or None (absent, or no live contact)."""
        found = _entries(db, f"e.{where} = ?", (key,), now)
        return found[0] if found else None

    # -- W6 and W7 ----------------------------------------------------------------------

    @clause("TR 23.701 5.2.2.5.2", steps=5)
    def read(self, impu: str, now: float) -> Entry | None:
        """Read the live entry of an individual IMPU (W6; registration status query).

        Returns:
            The entry with its live contacts, or None if the IMPU is not registered.
        """
        impu = check_identity(impu, "impu")
        with self._query() as db:
            return self._entry(db, "impu", impu, now)

    @clause("TR 23.701 5.2.2.5.2", steps=5, option="option B")
    def read_by_external(self, external_identity: str, now: float) -> Entry | None:
        """Read the live entry bound to an external identity (option B).

        Returns:
            The entry, or None if no live entry is bound to ``external_identity``.
        """
        external_identity = check_identity(external_identity, "external_identity")
        with self._query() as db:
            return self._entry(db, "external_identity", external_identity, now)

    @clause("TR 23.701 5.2.2.3.1")
    @clause("TR 23.701 5.2.2.5.2", steps=6)
    def upsert_contact(
        self,
        impu: str,
        wimpu: str,
        allocated_by: AllocatedBy,
        external_identity: str | None,
        contact: ContactWrite,
        now: float,
    ) -> tuple[Entry, Outcome]:
        """Store a contact of an individual IMPU, creating the entry if needed.

        TR 23.701 5.2.2.5.2 step 6: "If the WIC is not registered, the eP-CSCF shall
        store the registration information [NEW_REGISTRATION]. If the individual IMPU is
        already registered and the contact is different than the stored one, then this
        is a new contact [NEW_CONTACT]. If [...] the contact is the same as the stored one
        then this is re-registration [RE_REGISTRATION]." Contacts are the same when their
        ``contact_id`` (the eP-CSCF's key) is the same. "If the eP-CSCF allocates an
        individual IMPU [...] it shall store additionally the binding between the
        allocated individual IMPU and the external received identity."

        An entry without live contacts is treated as absent and replaced; dead contacts
        of a live entry are dropped on the way.

        Returns:
            The entry as stored, and which case of step 6 applied.

        Raises:
            ConflictError: the external identity is bound to another live IMPU, the IMPU
                is bound to another external identity, block or allocating party, or the
                entry already holds :data:`MAX_CONTACTS_PER_ENTRY` contacts.
            ValidationError: a malformed identity or wildcarded IMPU, or an IMPU that
                the block's wildcarded IMPU does not match.
        """
        impu = check_identity(impu, "impu")
        wimpu = check_wimpu(wimpu)
        check_in_block(impu, wimpu)
        if external_identity is not None:
            external_identity = check_identity(external_identity, "external_identity")
        check_contact_id(contact.contact_id)
        with self._write() as db:
            current = self._entry(db, "impu", impu, now)
            if external_identity is not None:
                holder = self._entry(db, "external_identity", external_identity, now)
                if holder is not None and holder.impu != impu:
                    raise ConflictError(
                        f"external identity {external_identity} is already bound to "
                        f"the registered IMPU {holder.impu}"
                    )
                if holder is None:  # a dead entry may still hold the UNIQUE binding
                    db.execute("DELETE FROM entries WHERE external_identity = ?", (external_identity,))
            if current is None:
                db.execute("DELETE FROM entries WHERE impu = ?", (impu,))
                db.execute(
                    f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (impu, wimpu, external_identity, allocated_by.value, now, now),
                )
                outcome = Outcome.NEW_REGISTRATION
                registered_at = now
            else:
                _check_binding(current, wimpu, allocated_by, external_identity)
                db.execute("DELETE FROM contacts WHERE impu = ? AND expires_at <= ?", (impu, now))
                same = [c for c in current.contacts if c.contact_id == contact.contact_id]
                if same:
                    outcome = Outcome.RE_REGISTRATION
                    registered_at = same[0].registered_at or now  # always set in the store
                else:
                    if len(current.contacts) >= MAX_CONTACTS_PER_ENTRY:
                        raise ConflictError(
                            f"IMPU {impu} already holds {MAX_CONTACTS_PER_ENTRY} live "
                            "contacts, the most one entry may hold"
                        )
                    outcome = Outcome.NEW_CONTACT
                    registered_at = now
                db.execute("UPDATE entries SET updated_at = ? WHERE impu = ?", (now, impu))
            db.execute(
                f"INSERT INTO contacts (impu, {_CONTACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" ON CONFLICT (impu, contact_id) DO UPDATE SET {_CONTACT_UPDATE}",
                (
                    impu,
                    contact.contact_id,
                    contact.uri,
                    contact.flow,
                    contact.instance_id,
                    contact.reg_id,
                    json.dumps(list(contact.path)),
                    contact.ep_cscf,
                    now + contact.expires,
                    registered_at,
                ),
            )
            entry = self._entry(db, "impu", impu, now)
        assert entry is not None  # the contact just written is live (expires >= 1)
        return entry, outcome

    @clause("TR 23.701 5.2.2.3.1")
    def remove_contact(
        self, impu: str, contact_id: str, now: float, *, flow: str | None = None
    ) -> Entry | None:
        """De-register one contact; the entry goes with its last live contact.

        5.2.2.3.1: "An entry is removed upon de-registration or registration timer
        expiry." With ``flow``, only if the contact is still on that flow: the eP-CSCF
        forgetting the contacts of a closed WebSocket must not remove one that a newer
        registration moved to another flow (RFC 5626 6, flow replacement).

        Returns:
            The entry with its remaining live contacts, or None if the entry was removed.

        Raises:
            NotFoundError: the IMPU is not registered or has no such live contact.
            PreconditionFailed: the contact is on another flow than ``flow``.
        """
        impu = check_identity(impu, "impu")
        check_contact_id(contact_id)
        with self._write() as db:
            current = self._entry(db, "impu", impu, now)
            if current is None:
                raise NotFoundError(f"IMPU {impu} is not registered")
            found = next((c for c in current.contacts if c.contact_id == contact_id), None)
            if found is None:
                raise NotFoundError(f"IMPU {impu} has no live contact {contact_id!r}")
            if flow is not None and found.flow != flow:
                raise PreconditionFailed(f"contact {contact_id!r} of {impu} is on another flow now")
            db.execute(
                "DELETE FROM contacts WHERE impu = ? AND (contact_id = ? OR expires_at <= ?)",
                (impu, contact_id, now),
            )
            remaining = self._entry(db, "impu", impu, now)
            if remaining is None:
                db.execute("DELETE FROM entries WHERE impu = ?", (impu,))
        return remaining

    @clause("TR 23.701 5.2.2.3.1")
    def remove_entry(self, impu: str, now: float) -> Entry:
        """De-register every contact of an IMPU (``Contact: *``) and remove its entry.

        Returns:
            The entry as it was, with the live contacts it had.

        Raises:
            NotFoundError: the IMPU is not registered.
        """
        impu = check_identity(impu, "impu")
        with self._write() as db:
            current = self._entry(db, "impu", impu, now)
            if current is None:
                raise NotFoundError(f"IMPU {impu} is not registered")
            db.execute("DELETE FROM entries WHERE impu = ?", (impu,))
        return current

    @clause("TR 23.701 5.2.2.5.4", steps=2)
    def status(self, identity: str, now: float) -> RegistrationStatus:
        """Registration status of a called identity (W7).

        "The I-CSCF validates through the interaction with the wIMPU registrar if the
        called webRTC user is registered and retrieves any registration context if
        needed to locate the individual IMPU and wIMPU." The identity is looked up as an
        individual IMPU first, then as an external identity (option B), so an IMPU wins.
        """
        identity = check_identity(identity, "identity")
        with self._query() as db:  # one statement: both lookups on one snapshot
            found = _entries(db, "e.impu = ? OR e.external_identity = ?", (identity, identity), now)
        entry = next((e for e in found if e.impu == identity), None) or next(iter(found), None)
        if entry is None:
            return RegistrationStatus(identity=identity, registered=False)
        return RegistrationStatus(
            identity=identity,
            registered=True,
            impu=entry.impu,
            wimpu=entry.wimpu,
            external_identity=entry.external_identity,
        )

    @clause("TR 23.701 5.2.2.3.1")
    def sweep(self, now: float) -> SweepResult:
        """Registration timer expiry: delete dead contacts, then the entries they left without any.

        Only the entries of the contacts deleted are looked at (the expiry index finds those; every
        other entry still has a contact row, as each write and removal keeps it so). The sweep used to
        scan every entry: at 1,000,000 entries that held the registrar's event loop for 1.4 s of
        every second (``bench/registrar_scale.py``, docs/performance.md section 4).

        Returns:
            How many contacts and entries were deleted.
        """
        with self._write() as db:
            expired = db.execute("DELETE FROM contacts WHERE expires_at <= ? RETURNING impu", (now,))
            impus = [row[0] for row in expired]
            entries = 0
            for impu in sorted(set(impus)):
                entries += db.execute(
                    "DELETE FROM entries WHERE impu = ?"
                    " AND NOT EXISTS (SELECT 1 FROM contacts WHERE contacts.impu = ?)",
                    (impu, impu),
                ).rowcount
        return SweepResult(contacts=len(impus), entries=entries)

    def block_entries(self, wimpu: str, now: float) -> list[Entry]:
        """The live entries of one block (any spelling of its wildcarded IMPU).

        The eP-CSCF taking a block over reads them to drop the contacts it cannot
        reach (their WebSockets were on the failed eP-CSCF).
        """
        wimpu = check_wimpu(wimpu)
        with self._read() as db:
            stored = db.execute("SELECT DISTINCT wimpu FROM entries")
            spellings = [w for (w,) in stored if same_block(w, wimpu)]
            impus = sorted(
                impu
                for spelling in spellings
                for (impu,) in db.execute("SELECT impu FROM entries WHERE wimpu = ?", (spelling,))
            )
            found = [self._entry(db, "impu", impu, now) for impu in impus]
        return [entry for entry in found if entry is not None]

    # -- block leases (failover, TR 23.701 5.2.2.2) -------------------------------------

    def claim_lease(
        self, wimpu: str, claim: LeaseClaim, now: float
    ) -> tuple[Lease, LeaseOutcome, str | None]:
        """Claim or renew a block's lease, atomically; see :func:`.leases.claim`."""
        with self._write() as db:
            return leases.claim(db, check_wimpu(wimpu), claim, now)

    def release_lease(self, wimpu: str, holder: str, now: float) -> Lease:
        """The holder gives a block's lease up; see :func:`.leases.release`."""
        with self._write() as db:
            return leases.release(db, check_wimpu(wimpu), holder, now)

    def lease(self, wimpu: str) -> Lease | None:
        """A block's lease, live or lapsed, or None."""
        with self._query() as db:
            return leases.read(db, check_wimpu(wimpu))

    def all_leases(self) -> list[Lease]:
        """Every block's lease, live or lapsed."""
        with self._query() as db:
            return leases.read_all(db)

    def extend_leases(self, now: float) -> int:
        """Grace after a restart; see :func:`.leases.extend_all`."""
        with self._write() as db:
            return leases.extend_all(db, now)

    def counts(self) -> tuple[int, int]:
        """Rows stored (entries, contacts), dead ones included; for tests and health."""
        with self._read() as db:
            entries = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            contacts = db.execute("SELECT count(*) FROM contacts").fetchone()[0]
        return int(entries), int(contacts)


_ENTRY_QUERY: Final = (
    "SELECT "
    + ", ".join(f"e.{c}" for c in _ENTRY_COLUMNS.split(", "))
    + ", "
    + ", ".join(f"c.{c}" for c in _CONTACT_COLUMNS.split(", "))
    + " FROM entries e JOIN contacts c ON c.impu = e.impu WHERE ({where}) AND c.expires_at > ?"
    " ORDER BY e.impu, c.registered_at, c.contact_id"
)
"""Live entries with their live contacts in one statement: one snapshot without a transaction
(a W7 lookup is one round trip to a PostgreSQL server), on both databases."""


def _entries(db: Db, where: str, params: tuple[str, ...], now: float) -> list[Entry]:
    """The live entries matching ``where`` (on ``e.``, the entries), by IMPU; an entry whose every
    contact has expired is not among them (5.2.2.3.1: the entry is gone)."""
    rows: dict[str, list[Any]] = {}
    for row in db.execute(_ENTRY_QUERY.format(where=where), (*params, now)):
        rows.setdefault(row[0], []).append(row)
    found = []
    for impu, group in rows.items():
        _, wimpu, external, allocated_by, created_at, updated_at = group[0][:6]
        contacts = tuple(
            Contact(
                contact_id=c[6],
                uri=c[7],
                flow=c[8],
                instance_id=c[9],
                reg_id=c[10],
                path=tuple(json.loads(c[11])),
                ep_cscf=c[12],
                expires_at=c[13],
                registered_at=c[14],
            )
            for c in group
        )
        found.append(
            Entry(
                impu=impu,
                wimpu=wimpu,
                external_identity=external,
                allocated_by=AllocatedBy(allocated_by),
                contacts=contacts,
                created_at=created_at,
                updated_at=updated_at,
            )
        )
    return found


def _check_binding(
    current: Entry, wimpu: str, allocated_by: AllocatedBy, external_identity: str | None
) -> None:
    """Refuse a write that would change what the live entry is bound to."""
    if not same_block(current.wimpu, wimpu):
        raise ConflictError(f"IMPU {current.impu} is registered in block {current.wimpu}, not {wimpu}")
    if current.allocated_by is not allocated_by:
        raise ConflictError(
            f"IMPU {current.impu} was allocated by {current.allocated_by.value}, not {allocated_by.value}"
        )
    if current.external_identity != external_identity:
        raise ConflictError(
            f"IMPU {current.impu} is bound to external identity "
            f"{current.external_identity}, not {external_identity}"
        )
