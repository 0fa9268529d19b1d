"""In-dialog requests sent through the I-CSCF with the dialog's Route (issue 17).

A caller with one connection to the network's entry point (SIPp over TCP does this) sends
its ACK and BYE to the I-CSCF, with the Route the dialog's Record-Route gave it. The
I-CSCF is on no dialog's path, but a proxy forwards a request with a Route to the Route's
next hop (RFC 3261 16.4, 16.6 steps 6-7; an ACK of a 2xx statelessly, 16.11). Before the
fix the ACK was dropped (the WIC retransmitted its 200 for 32 s) and the BYE answered 403.
"""

from __future__ import annotations

import secrets

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.sip.message import Header, Request
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"


def bye_for(ack: Request, remote: RemoteParty) -> Request:
    """The caller's BYE in the dialog its ``ack`` belongs to (RFC 3261 15.1.1)."""
    headers = [h for h in ack.headers if h.name not in ("Via", "CSeq")]
    via = Header("Via", f"{remote.node.via()};branch=z9hG4bK{secrets.token_hex(8)}")
    return Request(
        headers=(via, *headers, Header("CSeq", f"{ack.cseq.number + 1} BYE")),
        body=b"",
        method="BYE",
        uri=ack.uri,
    )


async def test_ack_and_bye_with_a_route_are_forwarded_by_the_icscf(stack: Stack, remote: RemoteParty) -> None:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic("A1", ssl_context=ctx)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await wic.register(ALICE, token=login.token)).status == 200
    icscf = Target("TCP", "127.0.0.1", stack.icscf.node.port)
    try:
        invite = remote.invite_request(ALICE)
        answered = await remote.node.send_request(invite, icscf).final
        assert answered.status == 200 and answered.get_all("Record-Route"), answered.start_line()
        ack = remote.ack_for(invite, answered)
        assert ack.get_all("Route"), "the dialog has a route set (the eP-CSCF record-routes)"
        await remote.node.send_ack(ack, icscf)  # to the entry point, not to the Route's first hop
        await wait_until_async(lambda: any(r.method == "ACK" for r in wic.incoming), "the ACK at the WIC")
        bye = await remote.node.request(bye_for(ack, remote), icscf)
        assert bye.status == 200, bye.start_line()
        assert [r.method for r in wic.incoming if r.method == "BYE"] == ["BYE"]
    finally:
        await wic.close()


async def test_an_in_dialog_request_without_a_route_is_still_refused(
    stack: Stack, remote: RemoteParty
) -> None:
    """The I-CSCF record-routes nothing: a request in a dialog with no Route beyond it has no
    next hop the I-CSCF could know of."""
    icscf = Target("TCP", "127.0.0.1", stack.icscf.node.port)
    invite = remote.invite_request(ALICE)
    stray = Request(
        headers=tuple(
            Header("To", f"{h.value};tag=abc") if h.name == "To" else h for h in invite.headers
        ),
        body=b"", method="BYE", uri=invite.uri,
    )  # fmt: skip
    stray = stray.with_header_set("CSeq", "2 BYE")
    response = await remote.node.request(stray, icscf)
    assert response.status == 403, response.start_line()
