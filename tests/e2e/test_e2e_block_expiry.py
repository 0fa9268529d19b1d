"""End to end: the block registration lives on the stack's clock, at both ends (issue 15).

TR 23.701 5.2.2.5.1: the eP-CSCF registers its wIMPU block with the S-CSCF (600 s in the
reference profile) and refreshes it at half its interval; the S-CSCF ends a binding that is
not refreshed (RFC 3261 10.3). Both timers run on the stack's clock, so a tester who lets 700 s
pass (:meth:`Stack.advance`) sees the refreshes at 300 s and 600 s, and, with the refresh
switched off, the S-CSCF's expiry: the remote party's call to a WIC still registered (its own
registration lasts 3600 s) then gets 480.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conformance.harness.clock import FakeClock
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.nodes.p_cscf.block_registration import BlockRegistration
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def stack(clock: FakeClock) -> AsyncIterator[Stack]:
    s = Stack(clock=clock)
    await s.start()
    yield s
    await s.stop()


async def call_alice_after_700_s(stack: Stack) -> tuple[int, Wic]:
    """Alice's WIC registers for 3600 s, 700 s pass on the stack's clock, the remote party calls her."""
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("alice", ssl_context=ctx)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token, expires=3600)).status == 200
    await stack.advance(700)
    remote = RemoteParty("remote.example.org")
    await remote.start()
    try:
        response = await remote.call(ALICE, Target("TCP", "127.0.0.1", stack.icscf.node.port))
    finally:
        await remote.stop()
    return response.status, wic


def block_bindings(stack: Stack, clock: FakeClock) -> int:
    """The S-CSCF's live bindings reaching block 1 (its sans-I/O registrar, read in-process)."""
    return len(stack.scscf.core.registrar.bindings_for(ALICE, clock()))


async def test_the_block_registration_is_refreshed_on_the_stack_clock(stack: Stack, clock: FakeClock) -> None:
    status, wic = await call_alice_after_700_s(stack)
    try:
        assert block_bindings(stack, clock) == 1
        assert status == 200, "the block was not refreshed as the stack's clock passed its half-life"
    finally:
        await wic.close()


async def test_the_s_cscf_expires_a_block_registration_not_refreshed(
    stack: Stack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    registration = stack.ep_cscfs["ep-cscf1"].pcscf.block_registrations[BLOCK1]
    registration.cancel()  # the refresh armed at start-up
    monkeypatch.setattr(BlockRegistration, "_schedule_refresh", lambda self, granted: None)
    status, wic = await call_alice_after_700_s(stack)
    try:
        assert block_bindings(stack, clock) == 0, "the S-CSCF kept a binding past its 600 s"
        assert status == 480, "the S-CSCF reached a block whose registration had expired on the stack's clock"
        assert wic.answered_invites() == [], "the WIC was offered the call"
    finally:
        await wic.close()
