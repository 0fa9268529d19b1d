"""Block leases in the wIMPU Registrar: who serves each block (TR 23.701 5.2.2.2, failover).

"If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF shall be
re-allocated to another eP-CSCF": the holder renews, a standby takes a lapsed lease, and
of two eP-CSCFs claiming one block at once exactly one wins.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reference.nodes.wimpu_registrar import SCHEMA_VERSION, ContactWrite, Store
from reference.nodes.wimpu_registrar.backends import is_postgres
from reference.nodes.wimpu_registrar.client import LeaseHeld, RegistrarClient
from reference.nodes.wimpu_registrar.leases import LeaseClaim, LeaseHeldError, LeaseOutcome, block_key
from reference.nodes.wimpu_registrar.model import AllocatedBy, ConflictError, NotFoundError
from reference.nodes.wimpu_registrar.service import RegistrarService

T0 = 1_700_000_000.0
WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
EP1 = "sip:ep-cscf1.ims.example.net"
EP2 = "sip:ep-cscf2.ims.example.net"
ACCESS1 = {"uri": "wss://127.0.0.1:7443", "identity": EP1}


def claim(holder: str, duration: float = 3.0, access: dict[str, str] | None = None) -> LeaseClaim:
    return LeaseClaim(holder=holder, duration=duration, access=access)


class TestStoreLeases:
    """TR 23.701 5.2.2.2: one eP-CSCF serves a block at a time; a failed one's block moves."""

    def test_first_claim_acquires_generation_one(self, store: Store) -> None:
        lease, outcome, previous = store.claim_lease(WIMPU, claim(EP1, access=ACCESS1), T0)
        assert (outcome, previous, lease.holder, lease.generation) == (LeaseOutcome.ACQUIRED, None, EP1, 1)
        assert lease.live(T0 + 2.9) and not lease.live(T0 + 3.0)
        assert lease.access == ACCESS1

    def test_holder_renews_its_live_or_lapsed_lease(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        lease, outcome, previous = store.claim_lease(WIMPU, claim(EP1), T0 + 2)
        assert (outcome, previous, lease.expires_at, lease.generation) == (
            LeaseOutcome.RENEWED,
            EP1,
            T0 + 5,
            1,
        )
        lease, outcome, _ = store.claim_lease(WIMPU, claim(EP1), T0 + 60)
        assert outcome is LeaseOutcome.RENEWED and lease.generation == 1

    def test_another_claimant_is_refused_while_the_lease_lives(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        with pytest.raises(LeaseHeldError) as info:
            store.claim_lease(WIMPU, claim(EP2), T0 + 1)
        assert info.value.lease.holder == EP1 and info.value.lease.remaining(T0 + 1) == pytest.approx(2.0)
        assert info.value.status == 409

    def test_a_lapsed_lease_is_taken_over_and_the_generation_moves(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        lease, outcome, previous = store.claim_lease(WIMPU, claim(EP2), T0 + 3.0)
        assert (outcome, previous, lease.holder, lease.generation) == (LeaseOutcome.TAKEN_OVER, EP1, EP2, 2)
        with pytest.raises(LeaseHeldError):
            store.claim_lease(WIMPU, claim(EP1), T0 + 3.1)  # no fail-back while EP2 holds it

    def test_any_spelling_of_the_block_names_one_lease(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        with pytest.raises(LeaseHeldError):
            store.claim_lease("SIP:wrtc-!.*!@BLOCK1.ims.example.net", claim(EP2), T0 + 1)
        assert block_key(WIMPU) == block_key("SIP:wrtc-!.*!@BLOCK1.ims.example.net")
        assert block_key(WIMPU) != block_key("sip:wrtc-!.*!@block2.ims.example.net")
        # the key of a lease table written before it came from WildcardImpu.key stays the same
        assert block_key(WIMPU) == '["sip", "wrtc-", ".*", "", "block1.ims.example.net"]'

    def test_release_lets_a_standby_take_the_block_at_once(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        with pytest.raises(ConflictError):
            store.release_lease(WIMPU, EP2, T0 + 1)
        released = store.release_lease(WIMPU, EP1, T0 + 1)
        assert released.released and not released.live(T0 + 1)
        lease, outcome, previous = store.claim_lease(WIMPU, claim(EP2), T0 + 1)
        assert (outcome, previous) == (LeaseOutcome.TAKEN_OVER, EP1)
        with pytest.raises(NotFoundError):
            store.release_lease("sip:wrtc-!.*!@block9.ims.example.net", EP1, T0)

    def test_restart_grace_extends_unreleased_leases_only(self, store: Store) -> None:
        store.claim_lease(WIMPU, claim(EP1), T0)
        other = "sip:wrtc-!.*!@block2.ims.example.net"
        store.claim_lease(other, claim(EP1), T0)
        store.release_lease(other, EP1, T0 + 1)
        assert store.extend_leases(T0 + 10) == 1
        lease = store.lease(WIMPU)
        assert lease is not None and lease.expires_at == T0 + 13 and lease.holder == EP1
        with pytest.raises(LeaseHeldError):
            store.claim_lease(WIMPU, claim(EP2), T0 + 12)
        assert store.claim_lease(other, claim(EP2), T0 + 10)[1] is LeaseOutcome.TAKEN_OVER

    def test_block_entries_lists_the_live_entries_of_one_block(
        self, store: Store, make_contact: Callable[..., ContactWrite]
    ) -> None:
        a = AllocatedBy.THIRD_PARTY
        store.upsert_contact("sip:wrtc-a@block1.ims.example.net", WIMPU, a, None, make_contact("c1"), T0)
        store.upsert_contact(
            "sip:wrtc-b@block1.ims.example.net", "SIP:wrtc-!.*!@BLOCK1.ims.example.net", a, None,
            make_contact("c2", expires=1), T0,
        )  # fmt: skip
        store.upsert_contact(
            "sip:wrtc-c@block2.ims.example.net", "sip:wrtc-!.*!@block2.ims.example.net", a, None,
            make_contact("c3"), T0,
        )  # fmt: skip
        assert [e.impu for e in store.block_entries(WIMPU, T0)] == [
            "sip:wrtc-a@block1.ims.example.net",
            "sip:wrtc-b@block1.ims.example.net",
        ]
        assert [e.impu for e in store.block_entries(WIMPU, T0 + 2)] == ["sip:wrtc-a@block1.ims.example.net"]

    def test_a_version_1_database_is_migrated(self, tmp_path: Path) -> None:
        path = str(tmp_path / "v1.sqlite3")
        Store(path).close()
        db = sqlite3.connect(path)
        db.execute("DROP TABLE leases")
        db.execute("DROP INDEX entries_wimpu")
        db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()
        store = Store(path)
        try:
            assert store.claim_lease(WIMPU, claim(EP1), T0)[1] is LeaseOutcome.ACQUIRED
        finally:
            store.close()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        db.close()


LEASE = "/w6/v1/blocks/{wimpu}/lease"


class TestLeaseApi:
    """The lease routes, every response checked against the OpenAPI document."""

    async def test_claim_renew_conflict_release(self, api: Any, clock: Any) -> None:
        first = await api.call(
            "PUT", LEASE, wimpu=WIMPU, json_body={"holder": EP1, "duration": 2, "access": ACCESS1}
        )
        assert first.status == 200 and first.json["outcome"] == "acquired"
        assert first.json["lease"]["access"] == ACCESS1 and first.json["lease"]["expires"] == 2
        clock.advance(1)
        refused = await api.call("PUT", LEASE, wimpu=WIMPU, json_body={"holder": EP2, "duration": 2})
        assert refused.status == 409 and refused.content_type == "application/problem+json"
        assert (refused.json["holder"], refused.json["expires"], refused.json["generation"]) == (EP1, 1, 1)
        listed = await api.call("GET", "/w6/v1/blocks")
        assert [(x["holder"], x["live"]) for x in listed.json["leases"]] == [(EP1, True)]
        clock.advance(1.5)
        taken = await api.call("PUT", LEASE, wimpu=WIMPU, json_body={"holder": EP2, "duration": 2})
        assert (taken.json["outcome"], taken.json["previous_holder"]) == ("taken-over", EP1)
        assert taken.json["lease"]["generation"] == 2 and taken.json["lease"]["access"] is None
        wrong = await api.call("DELETE", LEASE, wimpu=WIMPU, params={"holder": EP1})
        assert wrong.status == 409
        gone = await api.call("DELETE", LEASE, wimpu=WIMPU, params={"holder": EP2})
        assert gone.status == 204
        read = await api.call("GET", LEASE, wimpu=WIMPU)
        assert read.json["released"] is True and read.json["live"] is False

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"holder": EP1}, "duration"),
            ({"holder": EP1, "duration": 0}, "duration"),
            ({"holder": EP1, "duration": True}, "duration"),
            ({"holder": "", "duration": 1}, "holder"),
            ({"holder": EP1, "duration": 1, "access": {"uri": "x"}}, "access.identity"),
            ({"holder": EP1, "duration": 1, "colour": "red"}, "colour"),
        ],
    )
    async def test_bad_claims_are_refused_and_name_the_field(self, api: Any, body: Any, field: str) -> None:
        reply = await api.call("PUT", LEASE, wimpu=WIMPU, json_body=body)
        assert reply.status == 400 and reply.json["field"] == field

    async def test_bad_block_and_missing_lease(self, api: Any) -> None:
        assert (
            await api.call("PUT", LEASE, wimpu="sip:nowildcard@x", json_body={"holder": EP1, "duration": 1})
        ).status == 400
        assert (await api.call("GET", LEASE, wimpu=WIMPU)).status == 404
        assert (await api.call("DELETE", LEASE, wimpu=WIMPU, params={"holder": EP1})).status == 404
        assert (await api.call("DELETE", LEASE, wimpu=WIMPU)).status == 400

    async def test_block_registrations(self, api: Any, w6_body: Callable[..., dict[str, Any]]) -> None:
        contact = "/w6/v1/registrations/{impu}/contacts/{contact_id}"
        await api.call(
            "PUT", contact, impu="sip:wrtc-a@block1.ims.example.net", contact_id="c1", json_body=w6_body()
        )
        reply = await api.call("GET", "/w6/v1/blocks/{wimpu}/registrations", wimpu=WIMPU)
        assert [e["impu"] for e in reply.json["entries"]] == ["sip:wrtc-a@block1.ims.example.net"]
        other = await api.call(
            "GET", "/w6/v1/blocks/{wimpu}/registrations", wimpu="sip:wrtc-!.*!@block2.ims.example.net"
        )
        assert other.json == {"entries": []}


async def test_two_claimants_at_once_never_both_win(db_path: str) -> None:
    """Of two eP-CSCFs claiming one lapsed block at the same instant, exactly one wins.

    Real clock, real HTTP (on PostgreSQL, each claimant through its own registrar on one
    database): 30 rounds of two concurrent claims on a block whose lease has
    just lapsed (odd rounds) or never existed (even rounds); each round has exactly one 200
    and one 409. The claims ask for 5 s, so however slowly a loaded machine serves the two,
    the loser's claim comes while the winner's lease holds (a 0.05 s lease made a slow
    second claim a legitimate second winner).
    """
    service = RegistrarService(db_path=db_path)
    await service.start()
    # On a shared PostgreSQL database, the second claimant goes through a second registrar.
    other = RegistrarService(db_path=db_path) if is_postgres(db_path) else service
    if other is not service:
        await other.start()
    rounds, double_wins, no_win = 30, 0, 0
    try:
        async with RegistrarClient(service.base_url) as a, RegistrarClient(other.base_url) as b:
            for i in range(rounds):
                wimpu = f"sip:wrtc-!.*!@race{i}.ims.example.net"
                if i % 2:
                    await a.claim_lease(wimpu, "sip:failed@x", 0.05)
                    await asyncio.sleep(0.06)  # that eP-CSCF's 0.05 s lease lapses

                async def one(client: RegistrarClient, holder: str, block: str = wimpu) -> bool:
                    try:
                        await client.claim_lease(block, holder, 5.0)
                        return True
                    except LeaseHeld:
                        return False

                won = await asyncio.gather(one(a, f"sip:a{i}@x"), one(b, f"sip:b{i}@x"))
                double_wins += all(won)
                no_win += not any(won)
    finally:
        await service.stop()
        await other.stop()
    print(f"\nlease race: rounds={rounds} double-wins={double_wins} no-winner={no_win}")
    assert double_wins == 0 and no_win == 0


async def test_the_registrar_extends_leases_when_it_restarts(db_path: str, clock: Any) -> None:
    first = RegistrarService(db_path=db_path, clock=clock)
    await first.start()
    async with RegistrarClient(first.base_url) as w6:
        await w6.claim_lease(WIMPU, EP1, 2.0)
    await first.stop()
    clock.advance(60)  # down for a minute: the lease has long lapsed
    second = RegistrarService(db_path=db_path, clock=clock)
    await second.start()
    try:
        async with RegistrarClient(second.base_url) as w6:
            with pytest.raises(LeaseHeld) as info:
                await w6.claim_lease(WIMPU, EP2, 2.0)
            assert info.value.holder == EP1 and info.value.remaining == 2.0
            assert (await w6.claim_lease(WIMPU, EP1, 2.0)).outcome == "renewed"
    finally:
        await second.stop()
