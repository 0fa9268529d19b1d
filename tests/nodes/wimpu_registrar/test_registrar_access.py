"""Authorisation rules of W6, W7 and the lease API (TS 33.501 13.4 practice), sans I/O."""

from __future__ import annotations

import dataclasses

import pytest

from reference.blocks import WimpuBlock
from reference.nodes.wimpu_registrar.access import (
    AccessPolicy,
    Forbidden,
    Grant,
    Operation,
    Role,
)
from reference.stack import Stack, StackConfig
from reference.stack_access import registrar_access

BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"
EP1, EP2 = "sip:ep-cscf1.ims.example.net", "sip:ep-cscf2.ims.example.net"


@pytest.fixture
def policy() -> AccessPolicy:
    """The reference profile with ep-cscf2 standing by for block 1."""
    blocks = tuple(
        dataclasses.replace(b, standby=("ep-cscf2",)) if b.name == "block1" else b
        for b in StackConfig().blocks
    )
    config = StackConfig(blocks=blocks)
    return registrar_access(
        config, lambda n: f"sip:{n}.ims.example.net", lambda n: f"sip:{n}.ims.example.net"
    )


def test_registrar_refuses_a_certificate_naming_no_known_node(policy: AccessPolicy) -> None:
    with pytest.raises(Forbidden):
        policy.caller("mallory")
    with pytest.raises(Forbidden):
        policy.caller(None)


def test_ep_cscf_writes_only_impus_of_its_blocks(policy: AccessPolicy) -> None:
    ep1 = policy.caller("ep-cscf1")
    policy.authorise_write(ep1, "sip:wrtc-alice@block1.ims.example.net", BLOCK1, None, EP1)
    outside = [
        ("sip:wrtc-alice@block2.ims.example.net", BLOCK2),
        ("sip:mallory@evil.example", BLOCK1),
        ("sip:wrtc-alice@block1.ims.example.net", BLOCK2),
    ]
    for impu, wimpu in outside:
        with pytest.raises(Forbidden):
            policy.authorise_write(ep1, impu, wimpu, None, EP1)


def test_ep_cscf_binds_external_identities_only_of_its_block_domains(policy: AccessPolicy) -> None:
    ep1, ep2 = policy.caller("ep-cscf1"), policy.caller("ep-cscf2")
    policy.authorise_write(ep2, "sip:wrtc-x@block2.ims.example.net", BLOCK2, "sip:bob@enterprise.com", EP2)
    with pytest.raises(Forbidden, match="outside the domains"):
        policy.authorise_write(
            ep1, "sip:wrtc-x@block1.ims.example.net", BLOCK1, "sip:bob@enterprise.com", EP1
        )
    with pytest.raises(Forbidden, match="outside the domains"):
        policy.authorise_write(ep2, "sip:wrtc-x@block2.ims.example.net", BLOCK2, "sip:bob@evil.example", EP2)


def test_ep_cscf_writes_contacts_only_as_itself(policy: AccessPolicy) -> None:
    with pytest.raises(Forbidden, match="writes contacts as"):
        policy.authorise_write(
            policy.caller("ep-cscf1"), "sip:wrtc-a@block1.ims.example.net", BLOCK1, None, EP2
        )


def test_standby_ep_cscf_may_serve_the_block_it_stands_by_for(policy: AccessPolicy) -> None:
    """TR 23.701 5.2.2.2: ep-cscf2 stands by for block 1, so it may take it over."""
    ep2 = policy.caller("ep-cscf2")
    policy.authorise_write(ep2, "sip:wrtc-alice@block1.ims.example.net", BLOCK1, None, EP2)
    policy.authorise_block(ep2, Operation.LEASE_WRITE, BLOCK1, EP2)
    with pytest.raises(Forbidden):
        policy.authorise_block(policy.caller("ep-cscf1"), Operation.LEASE_WRITE, BLOCK2, EP1)


def test_lease_only_under_the_callers_own_identity(policy: AccessPolicy) -> None:
    with pytest.raises(Forbidden, match="holds leases as"):
        policy.authorise_block(policy.caller("ep-cscf1"), Operation.LEASE_WRITE, BLOCK1, EP2)


@pytest.mark.parametrize(
    ("node", "allowed"),
    [
        ("i-cscf", {Operation.W7_STATUS}),
        ("wwsf", {Operation.LEASE_READ}),
        ("observer", {Operation.W6_READ, Operation.W7_STATUS, Operation.LEASE_READ, Operation.BLOCK_READ}),
    ],
)
def test_i_cscf_wwsf_and_observer_only_read(policy: AccessPolicy, node: str, allowed: set[Operation]) -> None:
    grant = policy.caller(node)
    for operation in Operation:
        if operation in allowed:
            policy.authorise(grant, operation)
        else:
            with pytest.raises(Forbidden):
                policy.authorise(grant, operation)


def test_ep_cscf_may_not_query_w7() -> None:
    grant = Grant("ep", Role.EP_CSCF, (WimpuBlock.parse(BLOCK1, "A"),), EP1, EP1)
    with pytest.raises(Forbidden):
        AccessPolicy([grant]).authorise(grant, Operation.W7_STATUS)


def test_decomposed_p_cscf_holds_leases_as_itself_and_writes_as_its_ep_cscf(tmp_path: object) -> None:
    stack = Stack(StackConfig())
    try:
        from reference.stack import PcscfSpec

        config = StackConfig(p_cscfs=(PcscfSpec("p-a", "ep-cscf1"),))
        policy = registrar_access(config, stack.ep_identity, stack.p_cscf_identity)
        grant = policy.caller("p-a")
        assert grant.holder == "sip:p-a.ims.example.net" and grant.serves_as == EP1
        policy.authorise_block(grant, Operation.LEASE_WRITE, BLOCK1, "sip:p-a.ims.example.net")
        policy.authorise_write(grant, "sip:wrtc-a@block1.ims.example.net", BLOCK1, None, EP1)
    finally:
        if stack._tmp is not None:
            stack._tmp.cleanup()
