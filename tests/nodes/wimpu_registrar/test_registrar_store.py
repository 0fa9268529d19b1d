"""Store of the wIMPU Registrar (TR 23.701 5.2.2.3.1, 5.2.2.5.2 step 6), with a fake now."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from registrar_db import set_schema_version, sql

from reference.nodes.wimpu_registrar import (
    SCHEMA_VERSION,
    AllocatedBy,
    ConflictError,
    ContactWrite,
    NotFoundError,
    Outcome,
    SchemaVersionError,
    Store,
    SweepResult,
    ValidationError,
)
from reference.spec import references_of

T0 = 1_700_000_000.0
IMPU = "sip:wrtc-0001@block1.ims.example.net"
IMPU2 = "sip:wrtc-0002@block1.ims.example.net"
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
EXTERNAL = "sip:bob@enterprise.com"
A = AllocatedBy.THIRD_PARTY
B = AllocatedBy.EP_CSCF

Make = Callable[..., ContactWrite]


class TestStepSix:
    """5.2.2.5.2 step 6: new registration, new contact, re-registration."""

    def test_registrar_stores_unregistered_impu_as_new_registration(
        self, store: Store, make_contact: Make
    ) -> None:
        entry, outcome = store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        assert outcome is Outcome.NEW_REGISTRATION
        assert entry.impu == IMPU and entry.wimpu == WIMPU and entry.allocated_by is A
        assert [c.contact_id for c in entry.contacts] == ["c1"]
        assert entry.contacts[0].expires_at == T0 + 3600
        assert store.read(IMPU, T0) == entry

    def test_registrar_adds_different_contact_as_new_contact(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        entry, outcome = store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c2"), T0 + 5)
        assert outcome is Outcome.NEW_CONTACT
        assert [c.contact_id for c in entry.contacts] == ["c1", "c2"]
        assert entry.created_at == T0 and entry.updated_at == T0 + 5

    def test_registrar_refreshes_same_contact_as_re_registration(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        refreshed = make_contact("c1", flow="flow-new", expires=100)
        entry, outcome = store.upsert_contact(IMPU, WIMPU, A, None, refreshed, T0 + 3000)
        assert outcome is Outcome.RE_REGISTRATION
        (contact,) = entry.contacts
        assert contact.flow == "flow-new"
        assert contact.expires_at == T0 + 3100
        assert contact.registered_at == T0  # first registration time is kept

    def test_upsert_names_its_clause_and_step(self) -> None:
        refs = [str(r) for r in references_of(Store.upsert_contact)]
        assert "TR 23.701 5.2.2.5.2 step 6" in refs

    def test_expired_entry_is_replaced_as_new_registration(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c1", expires=10), T0)
        entry, outcome = store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0 + 10)
        assert outcome is Outcome.NEW_REGISTRATION
        assert entry.allocated_by is A and entry.external_identity is None
        assert entry.created_at == T0 + 10

    def test_expired_contact_of_live_entry_comes_back_as_new_contact(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1", expires=10), T0)
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c2"), T0)
        entry, outcome = store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0 + 20)
        assert outcome is Outcome.NEW_CONTACT
        assert {c.contact_id for c in entry.contacts} == {"c1", "c2"}


class TestOptionB:
    """Option B: binding between the allocated IMPU and the external identity."""

    def test_registrar_binds_external_identity(self, store: Store, make_contact: Make) -> None:
        entry, _ = store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact(), T0)
        assert entry.external_identity == EXTERNAL
        assert store.read_by_external(EXTERNAL, T0) == entry
        assert store.read_by_external("sip:carol@enterprise.com", T0) is None

    def test_second_wic_of_same_external_identity_is_new_contact(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c1"), T0)
        found = store.read_by_external(EXTERNAL, T0 + 1)
        assert found is not None
        entry, outcome = store.upsert_contact(found.impu, WIMPU, B, EXTERNAL, make_contact("c2"), T0 + 1)
        assert outcome is Outcome.NEW_CONTACT and len(entry.contacts) == 2

    def test_external_identity_bound_to_other_live_impu_conflicts(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact(), T0)
        with pytest.raises(ConflictError, match="already bound"):
            store.upsert_contact(IMPU2, WIMPU, B, EXTERNAL, make_contact(), T0 + 1)
        assert store.read(IMPU2, T0 + 1) is None

    def test_external_identity_of_expired_impu_can_be_bound_again(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact(expires=10), T0)
        entry, outcome = store.upsert_contact(IMPU2, WIMPU, B, EXTERNAL, make_contact(), T0 + 10)
        assert outcome is Outcome.NEW_REGISTRATION and entry.impu == IMPU2
        assert store.counts() == (1, 1)  # the dead entry gave its binding up

    @pytest.mark.parametrize(
        ("wimpu", "allocated_by", "external", "match"),
        [
            (WIMPU, B, "sip:carol@enterprise.com", "bound to external identity"),
            ("sip:wrtc-![0-9]*!@block1.ims.example.net", B, EXTERNAL, "block"),
            (WIMPU, A, None, "allocated by"),
        ],
    )
    def test_write_contradicting_live_entry_conflicts(
        self,
        store: Store,
        make_contact: Make,
        wimpu: str,
        allocated_by: AllocatedBy,
        external: str | None,
        match: str,
    ) -> None:
        stored, _ = store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c1"), T0)
        with pytest.raises(ConflictError, match=match):
            store.upsert_contact(IMPU, wimpu, allocated_by, external, make_contact("c2"), T0 + 1)
        assert store.read(IMPU, T0 + 1) == stored


class TestExpiry:
    """5.2.2.3.1: an entry is removed upon registration timer expiry."""

    def test_expired_contacts_are_never_returned_before_a_sweep(
        self, store: Store, make_contact: Make
    ) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c1", expires=10), T0)
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c2", expires=20), T0)
        entry = store.read(IMPU, T0 + 10)
        assert entry is not None and [c.contact_id for c in entry.contacts] == ["c2"]
        assert store.read(IMPU, T0 + 20) is None
        assert store.read_by_external(EXTERNAL, T0 + 20) is None
        assert not store.status(EXTERNAL, T0 + 20).registered
        assert store.counts() == (1, 2)  # still stored, just never returned

    def test_sweep_removes_expired_contacts_and_empty_entries(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1", expires=10), T0)
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c2", expires=30), T0)
        store.upsert_contact(IMPU2, WIMPU, A, None, make_contact("c1", expires=10), T0)
        assert store.sweep(T0 + 9) == SweepResult(contacts=0, entries=0)
        assert store.sweep(T0 + 10) == SweepResult(contacts=2, entries=1)
        assert store.counts() == (1, 1)
        assert store.sweep(T0 + 30) == SweepResult(contacts=1, entries=1)
        assert store.counts() == (0, 0)


class TestDeregistration:
    """5.2.2.3.1: an entry is removed upon de-registration."""

    def test_removing_contacts_removes_entry_with_last_one(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c2"), T0)
        entry = store.remove_contact(IMPU, "c1", T0 + 1)
        assert entry is not None and [c.contact_id for c in entry.contacts] == ["c2"]
        assert store.remove_contact(IMPU, "c2", T0 + 2) is None
        assert store.read(IMPU, T0 + 2) is None
        assert store.counts() == (0, 0)

    def test_removing_unknown_contact_is_not_found(self, store: Store, make_contact: Make) -> None:
        with pytest.raises(NotFoundError, match="not registered"):
            store.remove_contact(IMPU, "c1", T0)
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1", expires=10), T0)
        with pytest.raises(NotFoundError, match="no live contact 'c9'"):
            store.remove_contact(IMPU, "c9", T0)
        with pytest.raises(NotFoundError):  # expired: as if absent
            store.remove_contact(IMPU, "c1", T0 + 10)

    def test_remove_entry_deregisters_every_contact(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c1"), T0)
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact("c2"), T0)
        removed = store.remove_entry(IMPU, T0 + 1)
        assert len(removed.contacts) == 2
        assert store.counts() == (0, 0)
        assert store.read_by_external(EXTERNAL, T0 + 1) is None
        with pytest.raises(NotFoundError):
            store.remove_entry(IMPU, T0 + 1)


class TestStatus:
    """5.2.2.5.4 step 2: W7 registration status of a called identity."""

    def test_status_by_impu_and_by_external_identity(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact(), T0)
        for identity in (IMPU, EXTERNAL):
            status = store.status(identity, T0)
            assert status.registered and status.identity == identity
            assert (status.impu, status.wimpu, status.external_identity) == (
                IMPU,
                WIMPU,
                EXTERNAL,
            )

    def test_status_of_unknown_identity_is_not_registered(self, store: Store) -> None:
        status = store.status(IMPU, T0)
        assert not status.registered and status.impu is None and status.wimpu is None


class TestValidation:
    def test_store_refuses_malformed_identity(self, store: Store, make_contact: Make) -> None:
        with pytest.raises(ValidationError) as info:
            store.upsert_contact("alice@example.com", WIMPU, A, None, make_contact(), T0)
        assert info.value.field == "impu"
        with pytest.raises(ValidationError):
            store.status("", T0)
        assert store.counts() == (0, 0)


class TestIdentities:
    def test_identities_are_stored_and_found_in_canonical_form(
        self, store: Store, make_contact: Make
    ) -> None:
        entry, _ = store.upsert_contact(
            "SIP:wrtc-0001@Block1.IMS.example.net;user=phone",
            WIMPU,
            B,
            "sip:bob@Enterprise.COM",
            make_contact(),
            T0,
        )
        assert entry.impu == IMPU and entry.external_identity == EXTERNAL
        assert store.read("sip:wrtc-0001@BLOCK1.ims.example.net", T0) == entry
        assert store.status("<sip:bob@enterprise.com>", T0).impu == IMPU

    def test_impu_outside_its_block_is_refused(self, store: Store, make_contact: Make) -> None:
        with pytest.raises(ValidationError, match="does not belong to the block") as info:
            store.upsert_contact("sip:wrtc-0001@block2.ims.example.net", WIMPU, A, None, make_contact(), T0)
        assert info.value.field == "impu"
        assert store.counts() == (0, 0)

    def test_same_block_spelled_differently_is_no_conflict(self, store: Store, make_contact: Make) -> None:
        store.upsert_contact(IMPU, WIMPU, A, None, make_contact("c1"), T0)
        other_spelling = "sip:wrtc-!.*!@BLOCK1.ims.example.net"
        _, outcome = store.upsert_contact(IMPU, other_spelling, A, None, make_contact("c2"), T0)
        assert outcome is Outcome.NEW_CONTACT


class TestFile:
    def test_file_is_wal_with_full_sync_and_versioned(self, tmp_path: Path) -> None:
        path = str(tmp_path / "r.sqlite3")
        store = Store(path)
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        store.close()
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        finally:
            db.close()

    def test_writes_survive_reopening(self, db_path: str, make_contact: Make) -> None:
        first = Store(db_path)
        entry, _ = first.upsert_contact(IMPU, WIMPU, B, EXTERNAL, make_contact(), T0)
        first.close()
        second = Store(db_path)
        try:
            assert second.read(IMPU, T0 + 1) == entry
        finally:
            second.close()

    def test_other_schema_version_is_refused_clearly(self, db_path: str) -> None:
        Store(db_path).close()
        set_schema_version(db_path, SCHEMA_VERSION + 1)
        with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
            Store(db_path)

    def test_foreign_database_is_refused(self, db_path: str) -> None:
        sql(db_path, "CREATE TABLE entries (x INTEGER)")  # a registrar table of someone else's
        with pytest.raises(SchemaVersionError, match="not a wIMPU Registrar database"):
            Store(db_path)

    def test_a_foreign_sqlite_file_is_refused_whatever_its_tables(self, tmp_path: Path) -> None:
        path = str(tmp_path / "other.sqlite3")
        sql(path, "CREATE TABLE t (x)")
        with pytest.raises(SchemaVersionError, match="not a wIMPU Registrar database"):
            Store(path)

    def test_garbage_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "garbage.sqlite3"
        path.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(SchemaVersionError, match="not a usable SQLite database"):
            Store(str(path))
