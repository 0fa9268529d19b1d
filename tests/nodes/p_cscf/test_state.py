"""The eP-CSCF's per-flow registration state (``reference/nodes/p_cscf/state.py``), no I/O."""

from __future__ import annotations

from reference.nodes.p_cscf.state import Moved, WicRegistrations

T0 = 1000.0
ALICE = "sip:alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
BOB_IMPU = "sip:wrtc-bob@block2.ims.example.net"


def registered(
    state: WicRegistrations,
    flow: str,
    impu: str,
    contact: str,
    *,
    external: str | None = None,
    expires_at: float = T0 + 600,
) -> list[Moved]:
    return state.registered(
        flow, impu=impu, external_identity=external, contact_id=contact, expires_at=expires_at
    )


def test_an_identity_is_registered_on_its_flow_until_it_expires() -> None:
    state = WicRegistrations()
    assert registered(state, "f1", ALICE, "c1", expires_at=T0 + 60.0) == []
    assert state.registered_on("f1", T0) == {ALICE}
    assert state.registered_on("f2", T0) == frozenset()
    assert state.registered_on("f1", T0 + 60) == frozenset(), "expired at its time"


def test_option_b_registers_the_external_identity_with_the_impu() -> None:
    state = WicRegistrations()
    registered(state, "f1", BOB_IMPU, "c1", external=BOB)
    assert state.registered_on("f1", T0) == {BOB_IMPU, BOB}
    state.deregistered("f1", BOB_IMPU, "c1")
    assert state.registered_on("f1", T0) == frozenset() and state.external_of == {}


def test_deregistering_one_contact_keeps_the_other_flows() -> None:
    state = WicRegistrations()
    registered(state, "f1", ALICE, "c1")
    registered(state, "f2", ALICE, "c2")
    state.deregistered("f1", ALICE, "c1")
    assert state.registered_on("f1", T0) == frozenset()
    assert state.registered_on("f2", T0) == {ALICE}
    assert state.flow_closed("f2") == {(ALICE, "c2")}


def test_deregistering_every_contact_forgets_the_identity_on_every_flow() -> None:
    state = WicRegistrations()
    registered(state, "f1", BOB_IMPU, "c1", external=BOB)
    registered(state, "f2", BOB_IMPU, "c2", external=BOB)
    state.deregistered("f1", BOB_IMPU, None)
    assert state.registered_on("f1", T0) == state.registered_on("f2", T0) == frozenset()
    assert state.flow_closed("f1") == state.flow_closed("f2") == set()
    assert state.external_of == {}


def test_the_same_contact_on_a_new_flow_moves_from_the_old_one() -> None:
    """RFC 5626 6: the newer flow replaces the older; closing the old one removes nothing."""
    state = WicRegistrations()
    registered(state, "old", ALICE, "urn:1#1")
    moved = registered(state, "new", ALICE, "urn:1#1")
    assert moved == [Moved(ALICE, "urn:1#1", "old", "new", deregistered=True)]
    assert state.registered_on("old", T0) == frozenset()
    assert state.registered_on("new", T0) == {ALICE}
    assert state.flow_closed("old") == set()
    assert state.flow_closed("new") == {(ALICE, "urn:1#1")}


def test_a_moved_contact_leaves_the_old_flow_registered_for_its_other_contacts() -> None:
    state = WicRegistrations()
    registered(state, "old", ALICE, "urn:1#1")
    registered(state, "old", ALICE, "urn:1#2")
    [moved] = registered(state, "new", ALICE, "urn:1#1")
    assert not moved.deregistered
    assert state.registered_on("old", T0) == {ALICE}


def test_a_closed_flow_gives_its_contacts_back_once() -> None:
    state = WicRegistrations()
    registered(state, "f1", BOB_IMPU, "c1", external=BOB)
    assert state.flow_closed("f1") == {(BOB_IMPU, "c1")}
    assert state.flow_closed("f1") == set()
    assert state.registered_on("f1", T0) == frozenset() and state.external_of == {}


def test_dropping_a_block_forgets_the_flows_registered_in_it() -> None:
    """TR 23.701 5.2.2.2: the block went to another eP-CSCF."""
    state = WicRegistrations()
    registered(state, "f1", ALICE, "c1")
    registered(state, "f2", BOB_IMPU, "c2", external=BOB)
    assert state.drop_flows(lambda identity: identity.endswith("@block1.ims.example.net")) == ["f1"]
    assert state.flows() == ["f2"]
    assert state.flow_closed("f1") == set()


def test_forgotten_contacts_are_not_removed_when_their_flow_closes() -> None:
    state = WicRegistrations()
    registered(state, "f1", ALICE, "c1")
    state.forget_contacts()
    assert state.registered_on("f1", T0) == {ALICE}
    assert state.flow_closed("f1") == set()
