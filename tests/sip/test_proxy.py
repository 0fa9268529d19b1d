"""RFC 3261 section 16: request forwarding (16.3-16.6) and the response context (16.7)."""

from __future__ import annotations

import pytest

from reference.sip.errors import LocalProtocolError
from reference.sip.message import Header, Request, Response
from reference.sip.parser import parse_message
from reference.sip.proxy import (
    CALL_COMPLETED_ELSEWHERE,
    BranchState,
    CancelBranch,
    Completed,
    ForkingContext,
    ForkingError,
    ForwardResponse,
    NotForwardable,
    ProxyAction,
    TooManyHops,
    prepare_request,
    preprocess_route,
    strip_own_via,
)
from reference.sip.transaction import make_response
from reference.spec import references_of

OWN = ("sip:pcscf.ims.example.net;lr",)
VIA = "SIP/2.0/TCP 127.0.0.1:5060"


def incoming(method: str = "INVITE", *, extra: str = "", max_forwards: str | None = "70") -> Request:
    text = (
        f"{method} sip:wrtc-0001@block1.ims.example.net SIP/2.0\r\n"
        "Via: SIP/2.0/TCP scscf.ims.example.net;branch=z9hG4bKscscf1\r\n"
        "Via: SIP/2.0/UDP remote.example.com;branch=z9hG4bKremote;received=192.0.2.1\r\n"
        + (f"Max-Forwards: {max_forwards}\r\n" if max_forwards is not None else "")
        + "Route: <sip:pcscf.ims.example.net;lr>, <sip:next.example.net;lr>\r\n"
        "Record-Route: <sip:scscf.ims.example.net;lr>\r\n"
        "To: <sip:wrtc-0001@block1.ims.example.net>\r\n"
        "From: <sip:carol@remote.example.com>;tag=c1\r\n"
        "Call-ID: fork-1@remote.example.com\r\n"
        f"CSeq: 7 {method}\r\n"
        "Content-Type: application/sdp\r\n"
        f"{extra}"
        "Content-Length: 4\r\n\r\nv=0\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def forked(request: Request, branch: str) -> Request:
    return prepare_request(
        request, f"sip:{branch}@df7jal23ls0d.invalid;transport=ws", via=VIA,
        branch=f"z9hG4bK{branch}", own_uris=OWN,
    )  # fmt: skip


def answer(request: Request, branch: str, status: int, *headers: Header) -> Response:
    """The response of a branch, as its client transaction passes it up."""
    return make_response(forked(request, branch), status, to_tag=f"tag-{branch}", headers=headers)


def statuses(actions: list[ProxyAction]) -> list[tuple[str, int | str | None]]:
    out: list[tuple[str, int | str | None]] = []
    for action in actions:
        if isinstance(action, ForwardResponse):
            out.append(("forward", action.response.status))
        elif isinstance(action, Completed):
            out.append(("completed", action.response.status))
        elif isinstance(action, CancelBranch):
            out.append(("cancel", action.branch_id))
    return out


# ----- request forwarding (16.3, 16.4, 16.6) -------------------------------------------


def test_prepare_request_sets_the_target_and_decrements_max_forwards() -> None:
    received = incoming()
    copy = forked(received, "b1")
    assert copy.uri == "sip:b1@df7jal23ls0d.invalid;transport=ws"
    assert copy.get("Max-Forwards") == "69"
    assert copy.body == received.body
    assert copy.get("Content-Type") == "application/sdp"


def test_prepare_request_adds_max_forwards_70_when_absent() -> None:
    assert forked(incoming(max_forwards=None), "b1").get("Max-Forwards") == "70"


def test_prepare_request_refuses_max_forwards_zero_with_483() -> None:
    with pytest.raises(TooManyHops) as caught:
        forked(incoming(max_forwards="0"), "b1")
    assert (caught.value.status, caught.value.reason) == (483, "Too Many Hops")


def test_prepare_request_pushes_via_and_record_route_on_top() -> None:
    received = incoming()
    copy = prepare_request(
        received, "sip:b1@df7jal23ls0d.invalid", via=VIA, branch="z9hG4bKb1",
        record_route="sip:pcscf.ims.example.net;lr", own_uris=OWN,
    )  # fmt: skip
    assert copy.get_all("Via") == [f"{VIA};branch=z9hG4bKb1", *received.get_all("Via")]
    assert copy.get_all("Record-Route") == [
        "<sip:pcscf.ims.example.net;lr>",
        "<sip:scscf.ims.example.net;lr>",
    ]


def test_prepare_request_pops_its_own_route_and_keeps_the_next() -> None:
    copy = forked(incoming(), "b1")
    assert copy.get_all("Route") == ["<sip:next.example.net;lr>"]
    # a Route that names another element stays
    untouched = prepare_request(
        incoming(), "sip:b1@x.invalid", via=VIA, branch="z9hG4bKb1",
        own_uris=("sip:other.example.net",),
    )  # fmt: skip
    assert untouched.get_all("Route") == incoming().get_all("Route")
    # the same host and default port, written differently, is still this proxy
    assert preprocess_route(incoming(), ["sip:PCSCF.ims.example.net:5060"]).get_all("Route") == [
        "<sip:next.example.net;lr>"
    ]


def test_prepare_request_keeps_other_headers_in_order() -> None:
    received = incoming()
    copy = forked(received, "b1")
    skip = {"via", "max-forwards", "route"}
    assert [h for h in copy.headers if h.key not in skip] == [
        h for h in received.headers if h.key not in skip
    ]


def test_prepare_request_requires_the_magic_cookie_and_lr_in_record_route() -> None:
    with pytest.raises(LocalProtocolError):
        prepare_request(incoming(), "sip:b@x.invalid", via=VIA, branch="nocookie")
    with pytest.raises(LocalProtocolError):
        prepare_request(
            incoming(), "sip:b@x.invalid", via=VIA, branch="z9hG4bK1",
            record_route="<sip:pcscf.ims.example.net>",
        )  # fmt: skip


def test_prepare_request_reformats_for_a_strict_router() -> None:
    received = incoming().with_header_set("Route", "<sip:strict.example.net>")
    copy = prepare_request(received, "sip:b1@x.invalid", via=VIA, branch="z9hG4bK1")
    assert copy.uri == "sip:strict.example.net"
    assert copy.get_all("Route") == ["<sip:b1@x.invalid>"]


def test_preprocess_route_undoes_a_strict_router_that_put_us_in_the_request_uri() -> None:
    received = incoming().with_uri("sip:pcscf.ims.example.net;lr")
    received = received.with_header_set("Route", "<sip:a.example.net;lr>, <sip:bob@b.example.net>")
    fixed = preprocess_route(received, OWN)
    assert fixed.uri == "sip:bob@b.example.net"
    assert fixed.get_all("Route") == ["<sip:a.example.net;lr>"]


def test_prepare_request_adds_content_length_when_absent() -> None:
    received = incoming().without_header("Content-Length")
    assert forked(received, "b1").get("Content-Length") == "4"


def test_strip_own_via_removes_only_the_top_value() -> None:
    response = answer(incoming(), "b1", 180)
    stripped = strip_own_via(response)
    assert stripped.get_all("Via") == incoming().get_all("Via")
    with pytest.raises(NotForwardable):
        strip_own_via(strip_own_via(stripped))


# ----- the response context (16.7) -------------------------------------------------------


def test_fork_forwards_180_immediately_but_never_100() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    assert ctx.receive_response("b1", answer(request, "b1", 100)) == []
    [forward] = ctx.receive_response("b1", answer(request, "b1", 180))
    assert isinstance(forward, ForwardResponse)
    assert forward.response.status == 180
    assert forward.response.get_all("Via") == request.get_all("Via")  # own Via removed
    assert ctx.state_of("b1") is BranchState.PROCEEDING
    assert ctx.state_of("b2") is BranchState.CALLING


def test_fork_to_two_forwards_the_first_2xx_and_cancels_the_other_branch() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b1", answer(request, "b1", 180))
    ctx.receive_response("b2", answer(request, "b2", 180))
    actions = ctx.receive_response("b2", answer(request, "b2", 200))
    assert statuses(actions) == [("forward", 200), ("cancel", "b1")]
    cancel = actions[1]
    assert isinstance(cancel, CancelBranch)
    assert cancel.reason == CALL_COMPLETED_ELSEWHERE
    assert cancel.reason == 'SIP;cause=200;text="Call completed elsewhere"'
    assert ctx.final_response is not None and ctx.final_response.status == 200
    # the cancelled branch answers 487: nothing more goes upstream
    assert ctx.receive_response("b1", answer(request, "b1", 487)) == []
    assert ctx.completed


def test_fork_to_three_cancels_every_pending_branch_on_the_first_2xx() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2", "b3"])
    for branch in ("b1", "b2", "b3"):
        ctx.receive_response(branch, answer(request, branch, 180))
    ctx.receive_response("b3", answer(request, "b3", 486))  # already final: no CANCEL
    actions = ctx.receive_response("b2", answer(request, "b2", 200))
    assert statuses(actions) == [("forward", 200), ("cancel", "b1")]
    ctx2 = ForkingContext(request, ["b1", "b2", "b3"])
    for branch in ("b1", "b2", "b3"):
        ctx2.receive_response(branch, answer(request, branch, 183))
    actions = ctx2.receive_response("b1", answer(request, "b1", 200))
    assert statuses(actions) == [("forward", 200), ("cancel", "b2"), ("cancel", "b3")]


def test_fork_waits_for_a_provisional_before_cancelling_a_branch() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    actions = ctx.receive_response("b1", answer(request, "b1", 200))
    assert statuses(actions) == [("forward", 200)]  # b2 has not answered: no CANCEL yet
    # "the client MUST wait for the arrival of a provisional response" (9.1)
    actions = ctx.receive_response("b2", answer(request, "b2", 180))
    assert statuses(actions) == [("cancel", "b2")]  # and the 180 is not forwarded
    assert ctx.receive_response("b2", answer(request, "b2", 183)) == []


def test_fork_6xx_cancels_the_others_and_is_the_final_response() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2", "b3"])
    for branch in ("b1", "b2", "b3"):
        ctx.receive_response(branch, answer(request, branch, 180))
    actions = ctx.receive_response("b2", answer(request, "b2", 603))
    assert statuses(actions) == [("cancel", "b1"), ("cancel", "b3")]  # not forwarded yet
    assert all(isinstance(a, CancelBranch) and a.reason == 'SIP;cause=603;text="Decline"' for a in actions)
    with pytest.raises(ForkingError):  # "MUST NOT create any new branches"
        ctx.add_branch("b4")
    assert ctx.receive_response("b1", answer(request, "b1", 487)) == []
    actions = ctx.receive_response("b3", answer(request, "b3", 487))
    assert statuses(actions) == [("completed", 603)]


def test_fork_all_failures_give_the_lowest_class() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2", "b3"])
    assert ctx.receive_response("b1", answer(request, "b1", 503)) == []
    assert ctx.receive_response("b2", answer(request, "b2", 486)) == []
    [done] = ctx.receive_response("b3", answer(request, "b3", 302))
    assert isinstance(done, Completed)
    assert done.response.status == 302
    assert done.response.get_all("Via") == request.get_all("Via")
    assert done.response.to.tag == "tag-b3"  # "SHOULD preserve the To tag"


def test_fork_4xx_beats_5xx_and_503_becomes_500() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b1", answer(request, "b1", 503))
    [done] = ctx.receive_response("b2", answer(request, "b2", 480))
    assert isinstance(done, Completed) and done.response.status == 480
    only_503 = ForkingContext(request, ["b1", "b2"])
    only_503.receive_response("b1", answer(request, "b1", 503))
    [done] = only_503.receive_response("b2", answer(request, "b2", 503))
    assert isinstance(done, Completed)
    assert (done.response.status, done.response.reason) == (500, "Server Internal Error")
    mixed = ForkingContext(request, ["b1", "b2"])
    mixed.receive_response("b1", answer(request, "b1", 503))
    [done] = mixed.receive_response("b2", answer(request, "b2", 501))
    assert isinstance(done, Completed) and done.response.status == 501


def test_fork_prefers_and_aggregates_401_and_407_challenges() -> None:
    request = incoming()
    www = Header("WWW-Authenticate", 'Digest realm="a.example", nonce="1"')
    proxy = Header("Proxy-Authenticate", 'Digest realm="b.example", nonce="2"')
    ctx = ForkingContext(request, ["b1", "b2", "b3"])
    ctx.receive_response("b1", answer(request, "b1", 404))
    ctx.receive_response("b2", answer(request, "b2", 401, www))
    [done] = ctx.receive_response("b3", answer(request, "b3", 407, proxy))
    assert isinstance(done, Completed)
    assert done.response.status == 401
    assert done.response.get_all("WWW-Authenticate") == [www.value]
    assert done.response.get_all("Proxy-Authenticate") == [proxy.value]
    assert done.response.headers[-1].key == "content-length"


def test_fork_without_any_final_response_answers_408() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"], tag_factory=lambda: "proxytag")
    assert ctx.branch_failed("b1", status=None) == []
    [done] = ctx.branch_failed("b2", status=None)
    assert isinstance(done, Completed)
    assert done.response.status == 408
    assert done.response.to.tag == "proxytag"
    assert done.response.get_all("Via") == request.get_all("Via")


def test_fork_prefers_a_received_response_to_a_made_up_timeout() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.branch_failed("b1")  # Timer B: as if 408
    [done] = ctx.receive_response("b2", answer(request, "b2", 486))
    assert isinstance(done, Completed) and done.response.status == 486
    flow = ForkingContext(request, ["b1"])
    [done] = flow.branch_failed("b1", status=430)  # RFC 5626 flow failed
    assert isinstance(done, Completed) and done.response.status == 430


def test_fork_does_not_forward_a_late_486_after_a_200() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b2", answer(request, "b2", 180))
    ctx.receive_response("b1", answer(request, "b1", 200))
    assert ctx.receive_response("b2", answer(request, "b2", 486)) == []
    assert ctx.receive_response("b2", answer(request, "b2", 180)) == []


def test_fork_forwards_two_2xx_to_an_invite() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b2", answer(request, "b2", 180))
    first = ctx.receive_response("b1", answer(request, "b1", 200))
    second = ctx.receive_response("b2", answer(request, "b2", 200))
    assert statuses(first) == [("forward", 200), ("cancel", "b2")]
    assert statuses(second) == [("forward", 200)]
    forwarded = second[0]
    assert isinstance(forwarded, ForwardResponse)
    assert forwarded.response.to.tag == "tag-b2"  # "MUST NOT modify the tag"


def test_fork_forwards_a_2xx_that_follows_the_best_response() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b1", answer(request, "b1", 486))
    ctx.receive_response("b2", answer(request, "b2", 487))
    # a 2xx from behind a forking downstream proxy, after its best response: forwarded
    assert statuses(ctx.receive_response("b2", answer(request, "b2", 200))) == [("forward", 200)]
    late = ForkingContext(request, ["b1"])
    late.receive_response("b1", answer(request, "b1", 404))
    assert statuses(late.receive_response("b1", answer(request, "b1", 200))) == [("forward", 200)]


def test_fork_of_a_non_invite_forwards_one_final_and_sends_no_cancel() -> None:
    request = incoming("MESSAGE")
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b2", answer(request, "b2", 100))
    assert statuses(ctx.receive_response("b1", answer(request, "b1", 200))) == [("forward", 200)]
    assert ctx.receive_response("b2", answer(request, "b2", 200)) == []


def test_fork_cancelled_upstream_cancels_branches_and_returns_487() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b1", answer(request, "b1", 180))
    actions = ctx.cancel_all(reason='SIP;cause=487;text="ORIGINATOR_CANCEL"')
    assert statuses(actions) == [("cancel", "b1")]
    assert isinstance(actions[0], CancelBranch)
    assert actions[0].reason == 'SIP;cause=487;text="ORIGINATOR_CANCEL"'
    assert statuses(ctx.receive_response("b2", answer(request, "b2", 100))) == [("cancel", "b2")]
    ctx.receive_response("b1", answer(request, "b1", 487))
    [done] = ctx.receive_response("b2", answer(request, "b2", 487))
    assert isinstance(done, Completed) and done.response.status == 487
    assert ctx.cancel_all() == []  # nothing left to cancel


def test_fork_timer_c_cancels_a_ringing_branch_or_counts_as_408() -> None:
    request = incoming()
    ctx = ForkingContext(request, ["b1", "b2"])
    ctx.receive_response("b1", answer(request, "b1", 180))
    assert statuses(ctx.timer_c_fired("b1")) == [("cancel", "b1")]
    assert ctx.timer_c_fired("b2") == []  # as if 408; b1 still open
    [done] = ctx.receive_response("b1", answer(request, "b1", 487))
    # a received 4xx is preferred to the made-up 408 of the same class
    assert isinstance(done, Completed) and done.response.status == 487
    silent = ForkingContext(request, ["b1"])
    [done] = silent.timer_c_fired("b1")
    assert isinstance(done, Completed) and done.response.status == 408


def test_fork_refuses_unknown_or_duplicate_branches_and_an_empty_target_set() -> None:
    request = incoming()
    with pytest.raises(ForkingError):
        ForkingContext(request, [])
    with pytest.raises(ForkingError):
        ForkingContext(request, ["b1", "b1"])
    ctx = ForkingContext(request, ["b1"])
    with pytest.raises(ForkingError):
        ctx.receive_response("nope", answer(request, "b1", 180))
    ctx.add_branch("b2")
    assert ctx.state_of("b2") is BranchState.CALLING


def test_proxy_functions_name_their_clause() -> None:
    refs = {str(r) for r in references_of(ForkingContext.receive_response)}
    assert any(r.startswith("RFC 3261 16.7") for r in refs)
    assert {str(r) for r in references_of(prepare_request)} == {"RFC 3261 16.6"}
