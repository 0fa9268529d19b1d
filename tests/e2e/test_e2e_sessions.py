"""End to end: block registration, origination and termination through the reference stack.

TR 23.701 5.2.2.5.1, 5.2.2.5.3 and 5.2.2.5.4, with real WSS towards the WICs, SIP over
TCP between the IMS nodes, and HTTP for W6/W7.
"""

from __future__ import annotations

import pytest

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
REMOTE = "sip:dave@remote.example.org"


def icscf(stack: Stack) -> Target:
    return Target("TCP", stack.config.host, stack.icscf.node.port)


async def registered_wic(stack: Stack, user: str, name: str, mode: str = "ring") -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, user, f"{user}-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    wic.answer_mode = mode
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    response = await wic.register(login.identity, token=login.token)
    assert response.status == 200, response.start_line()
    return wic


async def test_block_registration_option_1_at_start_up(stack: Stack) -> None:
    block1 = stack.ep_cscfs["ep-cscf1"].pcscf.block_registrations["sip:wrtc-!.*!@block1.ims.example.net"]
    assert block1.registered
    assert block1.service_route and "orig@scscf" in block1.service_route[0]
    # P-Associated-URI: the distinct IMPU first, the wildcarded IMPU after it.
    assert block1.associated[0] == "sip:block1@wrtc.ims.example.net"
    assert "sip:wrtc-!.*!@block1.ims.example.net" in block1.associated[1:]


async def test_block_registration_option_2_on_first_wic(stack: Stack) -> None:
    block2 = stack.ep_cscfs["ep-cscf2"].pcscf.block_registrations["sip:wrtc-!.*!@block2.ims.example.net"]
    assert not block2.registered
    wic = await registered_wic(stack, "bob", "bob-1")
    assert block2.registered
    await wic.close()


@pytest.mark.parametrize(("user", "identity"), [("alice", ALICE), ("bob", BOB)])
async def test_origination_inserts_the_impu_and_keeps_from(
    stack: Stack, remote: RemoteParty, user: str, identity: str
) -> None:
    wic = await registered_wic(stack, user, f"{user}-1")
    response = await wic.invite(identity, REMOTE)
    assert response.status == 200, response.start_line()
    invite = remote.invites()[0]
    sent = [m for m in wic.sent if m.startswith(b"INVITE")][0]
    from_line = [ln for ln in sent.split(b"\r\n") if ln.startswith(b"From:")][0]
    assert from_line.decode().split(":", 1)[1].strip() == invite.get("From")  # From untouched
    asserted = invite.addresses("P-Asserted-Identity")[0].uri
    if user == "bob":
        assert asserted.startswith("sip:wrtc-") and asserted.endswith("@block2.ims.example.net")
    else:
        assert asserted == ALICE
    await wait_until_async(lambda: any(r.method == "ACK" for r in remote.received), "the ACK at the remote")
    await wic.close()


async def test_origination_from_an_unregistered_identity_is_refused(
    stack: Stack, remote: RemoteParty
) -> None:
    wic = await registered_wic(stack, "alice", "alice-1")
    response = await wic.invite("sip:wrtc-mallory@block1.ims.example.net", REMOTE)
    assert response.status == 403
    assert remote.invites() == []
    await wic.close()


@pytest.mark.parametrize(("user", "called"), [("alice", ALICE), ("bob", BOB)])
async def test_termination_reaches_the_registered_wic(
    stack: Stack, remote: RemoteParty, user: str, called: str
) -> None:
    wic = await registered_wic(stack, user, f"{user}-1", mode="answer")
    response = await remote.call(called, icscf(stack))
    assert response.status == 200, response.start_line()
    invite = wic.answered_invites()[0]
    assert invite.get("P-Called-Party-ID") is not None
    await wait_until_async(lambda: any(r.method == "ACK" for r in wic.incoming), "the ACK at the WIC")
    await wic.close()


async def test_termination_to_an_unregistered_webrtc_user_is_rejected(
    stack: Stack, remote: RemoteParty
) -> None:
    assert (await remote.call(ALICE, icscf(stack))).status == 480
    assert (await remote.call(BOB, icscf(stack))).status == 480
    assert (await remote.call("sip:wrtc-x@block9.ims.example.net", icscf(stack))).status == 404


async def test_termination_to_a_non_webrtc_domain_skips_w7(stack: Stack, remote: RemoteParty) -> None:
    before = stack.registrar.requests_by_route().get("w7", 0)
    response = await remote.call("sip:carol@ims.example.net", icscf(stack))
    assert response.status == 480  # carol is an IMS user of the HSS, not registered
    assert stack.registrar.requests_by_route().get("w7", 0) == before


@pytest.mark.parametrize("count", [2, 3])
async def test_termination_forks_to_every_contact_first_answer_wins(
    stack: Stack, remote: RemoteParty, count: int
) -> None:
    wics = [await registered_wic(stack, "alice", f"alice-{i}", mode="ring") for i in range(count)]
    wics[1].answer_mode = "answer"
    wics[1].answer_delay = 0.3
    response = await remote.call(ALICE, icscf(stack))
    assert response.status == 200
    losers = [w for i, w in enumerate(wics) if i != 1]
    await wait_until_async(lambda: all(loser.cancels() for loser in losers), "a CANCEL at every loser")
    assert all(len(w.answered_invites()) == 1 for w in wics), [len(w.answered_invites()) for w in wics]
    for loser in losers:
        assert len(loser.cancels()) == 1
        assert "cause=200" in (loser.cancels()[0].get("Reason") or "")
    assert wics[1].cancels() == []
    for w in wics:
        await w.close()
