"""Degradation attacks on the eP-CSCF's WSS listener (issue 13 item 6).

- "WSS connection flood": one source opens more connections than its cap (200 by
  default): every one over the cap must be refused at the handshake (HTTP 503 with
  Retry-After), and a legitimate WIC elsewhere still connects and registers.
- "idle WSS connections": connections that never carry an authorised REGISTER (silent,
  an unauthenticated REGISTER, garbage) must be closed with 1008 once the first-REGISTER
  time is over; a WIC that registered stays.

An attempt is "rejected" when the stack refuses it as required, "wrongly accepted" when
the connection is admitted or kept, "unanswered" when neither a refusal nor a close comes
in time. Loopback only; a second source address is another 127.0.0.0/8 address.
"""

from __future__ import annotations

import asyncio

from tally import Family
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conformance.harness.expect import wait_until_async
from conformance.harness.wic import Wic, web_login
from reference.stack import Stack
from reference.transport.websocket import POLICY_VIOLATION, WebSocketListener

ALICE = "sip:wrtc-alice@block1.ims.example.net"
ATTACKER = "127.0.0.2"
"The attacker's source address; the legitimate WICs come from 127.0.0.1."



def alice_listener(stack: Stack) -> WebSocketListener:
    return stack.ep_cscfs["ep-cscf1"].iwf.listener


async def attacker_ws(stack: Stack, url: str) -> ClientConnection:
    return await connect(
        url,
        ssl=stack.pki.client_context(),
        origin=stack.wwsf.origin,  # type: ignore[arg-type]
        subprotocols=["sip"],  # type: ignore[list-item]
        local_addr=(ATTACKER, 0),
        open_timeout=5,
    )


async def legitimate_wic_registers(stack: Stack, name: str) -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    response = await wic.register(ALICE, token=login.token)
    assert response.status == 200, response.start_line()
    return wic


async def test_wss_connection_flood_from_one_source_is_capped(stack: Stack) -> None:
    family = Family("WSS connection flood")
    listener = alice_listener(stack)
    cap = listener.admission.max_per_source
    url = stack.ep_wss_url("ep-cscf1")
    held: list[ClientConnection] = []
    try:
        for _ in range(cap):  # up to the cap: admitted (a NAT may hide that many WICs)
            held.append(await attacker_ws(stack, url))
        for i in range(20):  # over the cap: each refused at the handshake
            label = f"connection {cap + i + 1} from {ATTACKER}"
            try:
                held.append(await attacker_ws(stack, url))
                family.wrongly_accepted(label)
            except InvalidStatus as exc:
                retry_after = exc.response.headers.get("Retry-After", "")
                family.judge(label, refused=exc.response.status_code == 503 and retry_after.isdigit())
            except (OSError, TimeoutError):
                family.no_answer(label)
        assert listener.admission.open_from(ATTACKER) == cap
        # While the attacker holds its whole share, alice connects and registers.
        wic = await legitimate_wic_registers(stack, "alice-during-flood")
        await wic.close()
    finally:
        await asyncio.gather(*(c.close() for c in held), return_exceptions=True)
    family.assert_clean()
    await wait_until_async(
        lambda: listener.admission.open_from(ATTACKER) == 0, "closed connections giving their place back"
    )


async def test_idle_wss_connections_are_closed_after_the_first_register_time(stack: Stack) -> None:
    family = Family("idle WSS connections")
    listener = alice_listener(stack)
    assert listener.register_within == 30.0  # the default; shortened here to keep the test short
    listener.register_within = 0.5
    url = stack.ep_wss_url("ep-cscf1")
    wic = await legitimate_wic_registers(stack, "alice-registered")
    silent = [(f"silent {i}", await attacker_ws(stack, url)) for i in range(10)]
    unauthorised = []
    for i in range(5):  # a REGISTER without a token is answered 401 and does not count
        connection = await attacker_ws(stack, url)
        probe = Wic(f"no-token-{i}", ssl_context=stack.pki.client_context())
        await connection.send(probe.register_request(ALICE, token=None).to_bytes().decode())
        unauthorised.append((f"REGISTER without token {i}", connection))
    garbage = []
    for i in range(5):
        connection = await attacker_ws(stack, url)
        await connection.send(f"garbage {i}\r\n\r\n")
        garbage.append((f"garbage {i}", connection))

    async def judge(label: str, connection: ClientConnection) -> None:
        try:
            while True:  # read (and drop) the answers until the close
                await asyncio.wait_for(connection.recv(), 3)
        except ConnectionClosed:
            family.judge(label, refused=connection.close_code == POLICY_VIOLATION)
        except TimeoutError:
            family.wrongly_accepted(label + " (still open)")

    await asyncio.gather(*(judge(label, c) for label, c in [*silent, *unauthorised, *garbage]))
    family.assert_clean()
    # The registered WIC is past the same deadline and still there: it re-registers.
    assert wic.connection is not None and wic.connection.close_code is None
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", stack.pki.client_context())
    assert (await wic.register(ALICE, token=login.token)).status == 200
    await wic.close()
    fresh = await legitimate_wic_registers(stack, "alice-after")
    await asyncio.sleep(0.7)  # on purpose: past the registration deadline, the registered WIC stays
    assert fresh.connection is not None and fresh.connection.close_code is None
    await fresh.close()
