"""De-registration without a token on the flow a token authorised (issue 17, SIP.js).

SIP.js un-REGISTERs without the extra headers that carried its token. Solution profile,
"De-registration without a token": a REGISTER that only removes contacts, without a token,
is accepted on a WebSocket over which a valid token already registered the same identity
(5.2.2.3.2: the WIC is authorised at registration; the flow carries that authorisation).
Anything else without a token is challenged as before (401 with a Bearer challenge).
"""

from __future__ import annotations

from conformance.harness.wic import Wic, web_login
from reference.stack import Stack

ALICE = "sip:wrtc-alice@block1.ims.example.net"


async def registered(stack: Stack, name: str) -> tuple[Wic, str]:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token)).status == 200
    return wic, login.ep_cscf_url


async def contacts(stack: Stack) -> int:
    async with stack.observer() as w6:
        entry = await w6.read(ALICE)
    return 0 if entry is None else len(entry.contacts)


async def test_the_authorised_flow_deregisters_its_contact_without_a_token(stack: Stack) -> None:
    wic, _ = await registered(stack, "A1")
    try:
        assert await contacts(stack) == 1
        response = await wic.register(ALICE, token=None, expires=0)
        assert response.status == 200, response.start_line()
        assert await contacts(stack) == 0
    finally:
        await wic.close()


async def test_without_a_token_anything_but_a_removal_on_that_flow_is_challenged(stack: Stack) -> None:
    wic, url = await registered(stack, "A1")
    other = Wic("A2", ssl_context=stack.pki.client_context())
    await other.connect(url, origin=stack.wwsf.origin)
    try:
        refresh = await wic.register(ALICE, token=None, expires=600)
        star = await wic.request(wic.register_request(ALICE, token=None, expires=0, contact_star=True))
        elsewhere = await other.register(ALICE, token=None, expires=0)  # a flow no token authorised
        assert [r.status for r in (refresh, star, elsewhere)] == [401, 401, 401]
        assert all((r.get("WWW-Authenticate") or "").startswith("Bearer") for r in (refresh, star, elsewhere))
        assert await contacts(stack) == 1, "nothing was removed without the authorisation"
    finally:
        await other.close()
        await wic.close()


async def test_a_closed_flow_takes_its_authorisation_with_it(stack: Stack) -> None:
    """A new WebSocket starts unauthorised, even for the same WIC (the flow is the authorisation)."""
    wic, url = await registered(stack, "A1")
    await wic.close()
    again = Wic("A1", ssl_context=stack.pki.client_context())
    again.instance, again.contact_user, again.host = wic.instance, wic.contact_user, wic.host
    await again.connect(url, origin=stack.wwsf.origin)
    try:
        assert (await again.register(ALICE, token=None, expires=0)).status == 401
    finally:
        await again.close()
