"""Every request a SIP node receives is answered (RFC 3261 8.2, 16.3), whatever its core does."""

from __future__ import annotations

import pytest

from reference.sip.errors import HeaderSyntaxError
from reference.sip.message import Request
from reference.sip.parser import parse_message
from reference.sip.transaction import ServerTransaction
from reference.transport.endpoint import Source, Target
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.sip_node import SipNode


def options(n: int, *, uri: str = "sip:uas@127.0.0.1", max_forwards: int = 70) -> Request:
    raw = (
        f"OPTIONS {uri} SIP/2.0\r\nMax-Forwards: {max_forwards}\r\nTo: <sip:uas@x>\r\n"
        f"From: <sip:uac@example.net>;tag=u{n}\r\nCall-ID: answers-{n}\r\nCSeq: {n} OPTIONS\r\n"
        f"Via: SIP/2.0/TCP placeholder.invalid;branch=z9hG4bKplaceholder{n}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(raw)
    assert isinstance(message, Request)
    return message.without_header("Via")  # the node pushes its own




@pytest.mark.parametrize(
    ("fault", "status"),
    [(HeaderSyntaxError("Foo: bad"), 400), (RuntimeError("bug"), 500), (KeyError("k"), 500)],
)
async def test_a_core_that_raises_still_answers(
    pair: tuple[SipNode, SipNode], fault: Exception, status: int
) -> None:
    uac, uas = pair

    async def broken(tx: ServerTransaction, request: Request, source: Source) -> None:
        raise fault

    uas.on_request = broken
    for n in range(1, 21):
        response = await uac.request(options(n), Target("TCP", "127.0.0.1", uas.port))
        assert response.status == status
    assert not [tx for tx in uas.layer.servers.values() if tx.final_response is None]


async def test_a_proxy_answers_483_and_482_and_the_loop_ends_at_once(pair: tuple[SipNode, SipNode]) -> None:
    uac, uas = pair
    seen: list[Request] = []

    async def forward_to_itself(tx: ServerTransaction, request: Request, source: Source) -> None:
        seen.append(request)
        target = Target("TCP", "127.0.0.1", uas.port)
        await proxy(uas, tx, request, [Branch(request.uri, target)])

    uas.on_request = forward_to_itself
    target = Target("TCP", "127.0.0.1", uas.port)
    assert (await uac.request(options(1, max_forwards=0), target)).status == 483
    looped = await uac.request(options(2, uri=f"sip:x@127.0.0.1:{uas.port};transport=tcp"), target)
    assert looped.status == 482
    assert len([r for r in seen if r.call_id == "answers-2"]) == 2  # once, then once looped
