"""WebSocket loss: a closed WIC connection's contacts are no longer offered a call.

Solution profile, Lifecycle: "A WebSocket that closes makes its contacts unreachable; a
request to them fails fast (no hanging transaction), and the reference removes them."
"""

from __future__ import annotations

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"


async def wic(stack: Stack, name: str, mode: str) -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    w = Wic(name, ssl_context=ctx)
    w.answer_mode = mode
    await w.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await w.register(ALICE, token=login.token)).status == 200
    return w


async def test_closed_contact_is_removed_and_the_live_one_answers(stack: Stack, remote: RemoteParty) -> None:
    dead, live = await wic(stack, "dead", "answer"), await wic(stack, "live", "answer")
    await dead.close()
    async with stack.observer() as w6:

        async def one_contact_left() -> bool:
            entry = await w6.read(ALICE)
            return entry is not None and len(entry.contacts) == 1

        await wait_until_async(one_contact_left, "the closed WIC's contact removed from the registrar")
    response = await remote.call(ALICE, Target("TCP", "127.0.0.1", stack.icscf.node.port))
    assert response.status == 200
    assert dead.answered_invites() == [] and len(live.answered_invites()) == 1
    await live.close()


async def test_only_dead_contacts_fail_fast(stack: Stack, remote: RemoteParty) -> None:
    dead = await wic(stack, "dead", "answer")
    # Keep the registrar entry but kill the flow: the eP-CSCF must not wait for a timeout.
    stack.ep_cscfs["ep-cscf1"].pcscf.registrations.forget_contacts()
    await dead.close()
    listener = stack.ep_cscfs["ep-cscf1"].iwf.listener
    await wait_until_async(lambda: not listener.flows, "the IWF forgetting the closed WIC's flow")
    response = await remote.call(ALICE, Target("TCP", "127.0.0.1", stack.icscf.node.port))
    assert response.status == 430, response.start_line()  # the failed flow named; a timeout gives 408
