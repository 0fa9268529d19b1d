"""End to end: WIC registration through the reference stack (TR 23.701 5.2.2.5.2).

Real HTTPS to the WWSF, real WSS to the eP-CSCF, real HTTP to the wIMPU Registrar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conformance.harness.wic import HandshakeRefused, Wic, web_login
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.stack import Stack

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"


@pytest.fixture
async def w6(stack: Stack) -> AsyncIterator[RegistrarClient]:
    """Observe the registrar only through its W6 API, as the suite does."""
    async with stack.observer() as client:
        yield client


async def logged_in_wic(
    stack: Stack, username: str, password: str, name: str = "wic"
) -> tuple[Wic, str, str]:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, username, password, ctx)
    wic = Wic(name, ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    return wic, login.token, login.identity


async def test_option_a_register_stores_entry_and_answers_200(stack: Stack, w6: RegistrarClient) -> None:
    wic, token, identity = await logged_in_wic(stack, "alice", "alice-password")
    assert identity == ALICE
    response = await wic.register(ALICE, token=token)
    assert response.status == 200
    assert response.get("P-Associated-URI") == f"<{ALICE}>"
    entry = await w6.read(ALICE)
    assert entry is not None and entry.external_identity is None
    assert len(entry.contacts) == 1 and entry.contacts[0].flow.startswith("ep-cscf1.")
    await wic.close()


async def test_option_b_allocates_an_impu_and_binds_the_external_identity(
    stack: Stack, w6: RegistrarClient
) -> None:
    first, token, identity = await logged_in_wic(stack, "bob", "bob-password", "bob-1")
    assert identity == BOB
    response = await first.register(BOB, token=token)
    assert response.status == 200
    entry = await w6.read_by_external(BOB)
    assert entry is not None
    assert entry.impu.startswith("sip:wrtc-") and entry.impu.endswith("@block2.ims.example.net")
    # A second WIC of the same user gets the same IMPU: a second contact.
    second, token2, _ = await logged_in_wic(stack, "bob", "bob-password", "bob-2")
    assert (await second.register(BOB, token=token2)).status == 200
    again = await w6.read_by_external(BOB)
    assert again is not None and again.impu == entry.impu and len(again.contacts) == 2
    await first.close()
    await second.close()


async def test_reregistration_and_deregistration(stack: Stack, w6: RegistrarClient) -> None:
    wic, token, _ = await logged_in_wic(stack, "alice", "alice-password")
    assert (await wic.register(ALICE, token=token)).status == 200
    assert (await wic.register(ALICE, token=token)).status == 200
    entry = await w6.read(ALICE)
    assert entry is not None and len(entry.contacts) == 1
    assert (await wic.register(ALICE, token=token, expires=0)).status == 200
    assert await w6.read(ALICE) is None
    await wic.close()


async def test_missing_and_foreign_tokens_are_refused_and_nothing_is_stored(
    stack: Stack, w6: RegistrarClient
) -> None:
    wic, token, _ = await logged_in_wic(stack, "alice", "alice-password")
    missing = await wic.register(ALICE, token=None)
    assert missing.status == 401 and "Bearer" in (missing.get("WWW-Authenticate") or "")
    other = "sip:wrtc-mallory@block1.ims.example.net"
    mismatch = await wic.register(other, token=token)
    assert mismatch.status == 403
    assert await w6.read(ALICE) is None
    assert await w6.read(other) is None
    await wic.close()


async def test_unauthorised_origin_is_refused_at_the_handshake(stack: Stack, w6: RegistrarClient) -> None:
    wic = Wic("evil", ssl_context=stack.pki.client_context())
    url = stack.ep_cscfs["ep-cscf1"].wss_url
    with pytest.raises(HandshakeRefused) as info:
        await wic.connect(url, origin="https://evil.example.com")
    assert info.value.status == 403
