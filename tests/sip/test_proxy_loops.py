"""RFC 3261 16.3 item 4 and 16.6 item 8: loop detection by the branch parameter."""

from __future__ import annotations

import pytest

from reference.sip.message import Request
from reference.sip.parser import parse_message
from reference.sip.proxy import LoopDetected, check_loop, loop_branch, loop_hash, prepare_request

OWN = ("127.0.0.1", 5080)
VIA = "SIP/2.0/TCP 127.0.0.1:5080"


def bye(uri: str = "sip:x@127.0.0.1:5080;transport=tcp", route: str | None = None) -> Request:
    text = (
        f"BYE {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:6000;branch=z9hG4bKcaller\r\n"
        "Max-Forwards: 70\r\n"
        + (f"Route: {route}\r\n" if route else "")
        + "To: <sip:a@example.net>;tag=t1\r\nFrom: <sip:b@example.net>;tag=f1\r\n"
        "Call-ID: loop-1@example.net\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def forwarded(request: Request) -> Request:
    return prepare_request(request, request.uri, via=VIA, branch=loop_branch(request))


def test_a_request_that_comes_back_unchanged_is_a_loop() -> None:
    first = bye()
    check_loop(first, OWN)  # never seen: no loop
    with pytest.raises(LoopDetected) as info:
        check_loop(forwarded(first), OWN)
    assert info.value.status == 482


def test_a_request_that_comes_back_changed_is_a_spiral() -> None:
    first = bye()
    again = forwarded(first).with_uri("sip:a@elsewhere.example.net")
    check_loop(again, OWN)  # Request-URI changed: spiral (16.3 item 4)
    rerouted = forwarded(first).with_header("Route", "<sip:scscf.example.net;lr>", first=True)
    check_loop(rerouted, OWN)  # top Route changed: spiral


def test_only_this_proxys_vias_count() -> None:
    looped = forwarded(bye())
    check_loop(looped, ("127.0.0.1", 5081))  # another element's sent-by
    check_loop(looped, ("127.0.0.2", 5080))


def test_branches_are_unique_and_carry_the_hash() -> None:
    request = bye()
    a, b = loop_branch(request), loop_branch(request)
    assert a != b and a.startswith("z9hG4bK" + loop_hash(request) + ".")
    assert loop_hash(request) != loop_hash(bye(route="<sip:p.example.net;lr>"))
    # Max-Forwards and Via are not in the hash (they change on every hop of a loop).
    assert loop_hash(request) == loop_hash(forwarded(request))
