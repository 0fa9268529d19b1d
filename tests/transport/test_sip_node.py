"""The SIP node shell: transactions over real TCP and UDP sockets on loopback."""

from __future__ import annotations

import pytest
from sip_requests import request

from reference.sip.message import Request, Response
from reference.sip.transaction import ServerTransaction, make_response
from reference.transport.endpoint import Source, Target
from reference.transport.sip_node import SipNode


@pytest.mark.parametrize("transport", ["TCP", "UDP"])
async def test_node_answers_options_over(pair: tuple[SipNode, SipNode], transport: str) -> None:
    uac, uas = pair

    async def answer(tx: ServerTransaction, req: Request, source: Source) -> None:
        assert source.transport == transport
        uas.respond(tx, make_response(req, 200, to_tag="s1"))

    uas.on_request = answer
    response = await uac.request(
        request("OPTIONS", "sip:uas@127.0.0.1"), Target(transport, "127.0.0.1", uas.port)
    )
    assert response.status == 200 and response.to.tag == "s1"
    assert response.top_via.transport == transport


async def test_node_synthesises_503_when_the_peer_is_down(pair: tuple[SipNode, SipNode]) -> None:
    uac, uas = pair
    port = uas.port
    await uas.stop()
    response = await uac.request(request("OPTIONS", "sip:uas@127.0.0.1"), Target("TCP", "127.0.0.1", port))
    assert response.status == 503


async def test_invite_cancelled_after_ringing_gets_487(pair: tuple[SipNode, SipNode]) -> None:
    uac, uas = pair
    pending: dict[str, tuple[ServerTransaction, Request]] = {}

    async def ring(tx: ServerTransaction, req: Request, source: Source) -> None:
        pending["invite"] = (tx, req)
        uas.respond(tx, make_response(req, 180, to_tag="s2"))

    def cancelled(tx: ServerTransaction) -> None:
        invite_tx, invite = pending["invite"]
        assert invite_tx is tx
        uas.respond(tx, make_response(invite, 487, to_tag="s2"))

    uas.on_request = ring
    uas.on_cancel = cancelled
    seen: list[Response] = []
    handle = uac.send_request(
        request("INVITE", "sip:uas@127.0.0.1"), Target("TCP", "127.0.0.1", uas.port), on_response=seen.append
    )
    uac.cancel(handle, 'SIP;cause=200;text="Call completed elsewhere"')  # before 180: deferred
    final = await handle.final
    assert final.status == 487
    assert [r.status for r in seen] == [180, 487] or [r.status for r in seen] == [100, 180, 487]
