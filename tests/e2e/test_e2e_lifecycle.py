"""End to end: expiry of a WIC registration, and malformed SIP over the WebSocket.

TR 23.701 5.2.2.3.1: "An entry is removed upon de-registration or registration timer
expiry." The stack runs on a clock the test moves, so expiry needs no sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conformance.harness.clock import FakeClock
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def stack(clock: FakeClock) -> AsyncIterator[Stack]:
    s = Stack(clock=clock)
    await s.start()
    yield s
    await s.stop()


async def registered(stack: Stack, expires: int) -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("alice", ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token, expires=expires)).status == 200
    return wic


async def test_registration_expires_and_the_called_wic_is_then_unreachable(
    stack: Stack, clock: FakeClock
) -> None:
    wic = await registered(stack, expires=120)
    async with stack.observer() as w6:
        assert await w6.read(ALICE) is not None
        clock.advance(119)
        assert await w6.read(ALICE) is not None, "expired a second early"
        clock.advance(2)
        assert await w6.read(ALICE) is None, "an expired contact was returned (W6)"
        status = await w6.status(ALICE)
        assert status.registered is False, "an expired registration was reported registered (W7)"
    remote = RemoteParty("remote.example.org")
    await remote.start()
    try:
        response = await remote.call(ALICE, Target("TCP", "127.0.0.1", stack.icscf.node.port))
        assert response.status == 480
        assert wic.answered_invites() == []
    finally:
        await remote.stop()
        await wic.close()


async def test_refresh_before_expiry_keeps_the_registration(stack: Stack, clock: FakeClock) -> None:
    wic = await registered(stack, expires=120)
    clock.advance(100)
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    assert (await wic.register(ALICE, token=login.token, expires=120)).status == 200
    clock.advance(100)
    async with stack.observer() as w6:
        assert await w6.read(ALICE) is not None, "the refresh did not extend the registration"
    await wic.close()


async def test_expired_token_on_reregister_is_refused(stack: Stack, clock: FakeClock) -> None:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("alice", ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token, expires=3600)).status == 200
    clock.advance(login.expires_in + 1)
    response = await wic.register(ALICE, token=login.token, expires=3600)
    assert response.status == 401 and 'error="invalid_token"' in (response.get("WWW-Authenticate") or "")
    await wic.close()


async def test_malformed_sip_over_the_websocket_gets_400_and_changes_nothing(stack: Stack) -> None:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("alice", ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    good = wic.register_request(ALICE, token=login.token)
    bad = good.to_bytes().replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE")  # method mismatch
    assert wic.connection is not None
    await wic.connection.send(bad.decode())
    response = await wic._inbox.get()
    assert response.status == 400, response.start_line()
    assert "differs from the request method" in (response.get("Warning") or "")
    async with stack.observer() as w6:
        assert await w6.read(ALICE) is None
    await wic.close()


async def test_no_origination_after_deregistration(stack: Stack, remote: RemoteParty) -> None:
    wic = await registered(stack, expires=600)
    assert (await wic.invite(ALICE, "sip:dave@remote.example.org")).status == 200
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    assert (await wic.register(ALICE, token=login.token, expires=0)).status == 200
    assert (await wic.invite(ALICE, "sip:dave@remote.example.org")).status == 403
    assert len(remote.invites()) == 1
    await wic.close()


async def test_no_origination_after_expiry(stack: Stack, clock: FakeClock, remote: RemoteParty) -> None:
    wic = await registered(stack, expires=120)
    clock.advance(121)
    assert (await wic.invite(ALICE, "sip:dave@remote.example.org")).status == 403
    assert remote.invites() == []
    await wic.close()
