"""Timer C of a proxied INVITE on the stack's clock (RFC 3261 16.6 item 11, 16.7 step 2, 16.8).

Three nodes on loopback: a caller, the proxy under test and a callee that rings (180) and never
answers. The proxy's timers run on a clock the test moves (``Timers.advance``), as a tester does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sip_requests import request

from reference.sip.message import Request, Response
from reference.sip.parser import parse_message
from reference.sip.transaction import ServerTransaction
from reference.sip.transaction_base import make_response
from reference.timers import Timers
from reference.transport.endpoint import Source, Target
from reference.transport.proxy_shell import AFTER_CANCEL, TIMER_C, Branch, proxy
from reference.transport.sip_node import SipNode


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def move(self, seconds: float) -> None:
        self.now += seconds


def invite(n: int, uri: str) -> Request:
    return request("INVITE", uri, n, contact="sip:uac@127.0.0.1")


@pytest.fixture
async def trio() -> AsyncIterator[tuple[SipNode, SipNode, SipNode, list[str], Timers, Clock]]:
    caller, middle, callee = SipNode("caller"), SipNode("proxy"), SipNode("callee")
    for node in (caller, middle, callee):
        await node.start()
    clock = Clock()
    timers = Timers(clock, poll=None)
    seen: list[str] = []
    rings = {"provisional": 180, "terminates": 1}
    callee.rings = rings  # type: ignore[attr-defined]  # the tests' switch: does the callee answer 487?

    async def ring(tx: ServerTransaction, request: Request, source: Source) -> None:
        seen.append(request.method)
        if rings["provisional"]:
            callee.respond(tx, make_response(request, rings["provisional"], "Ringing", to_tag="callee"))

        def cancelled(reason: str | None) -> None:
            seen.append("CANCEL")
            if rings["terminates"]:
                callee.respond(tx, make_response(request, 487, "Request Terminated", to_tag="callee"))

        callee.when_cancelled(tx, cancelled)

    async def forward(tx: ServerTransaction, request: Request, source: Source) -> None:
        target = Target("TCP", "127.0.0.1", callee.port)
        await proxy(middle, tx, request, [Branch(request.uri, target)], timers=timers)

    callee.on_request = ring
    middle.on_request = forward
    yield caller, middle, callee, seen, timers, clock
    for node in (caller, middle, callee):
        await node.stop()


async def _call(caller: SipNode, middle: SipNode, n: int) -> tuple[asyncio.Future[Response], list[Response]]:
    responses: list[Response] = []
    done: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def receive(response: Response) -> None:
        responses.append(response)
        if response.status >= 200 and not done.done():
            done.set_result(response)

    caller.send_request(
        invite(n, "sip:callee@x"), Target("TCP", "127.0.0.1", middle.port), on_response=receive
    )
    for _ in range(200):
        if any(r.status == 180 for r in responses):
            break
        await asyncio.sleep(0.01)
    return done, responses


async def test_timer_c_is_larger_than_3_minutes() -> None:
    assert TIMER_C > 180


async def test_a_ringing_branch_is_cancelled_when_timer_c_fires_and_the_caller_gets_487(trio) -> None:  # type: ignore[no-untyped-def]
    caller, middle, callee, seen, timers, clock = trio
    done, responses = await _call(caller, middle, 1)
    assert [r.status for r in responses if r.status > 100] == [180]
    await timers.advance(180, clock.move)  # 3 minutes: not yet (16.6 item 11)
    await asyncio.sleep(0.2)
    assert "CANCEL" not in seen and not done.done()
    await timers.advance(TIMER_C - 180 + 1, clock.move)
    final = await asyncio.wait_for(done, 5)
    assert final.status == 487
    assert seen == ["INVITE", "CANCEL"]


async def test_a_provisional_response_resets_timer_c(trio) -> None:  # type: ignore[no-untyped-def]
    caller, middle, callee, seen, timers, clock = trio
    done, _ = await _call(caller, middle, 2)
    await timers.advance(TIMER_C - 10, clock.move)
    # a second 180 on the branch, 10 s before Timer C: it runs again from here (16.7 step 2)
    tx = next(t for t in callee.layer.servers.values() if t.request.method == "INVITE")
    callee.respond(tx, make_response(tx.request, 180, "Ringing", to_tag="callee"))
    await asyncio.sleep(0.2)
    await timers.advance(20, clock.move)
    await asyncio.sleep(0.2)
    assert "CANCEL" not in seen and not done.done()
    await timers.advance(TIMER_C, clock.move)
    assert (await asyncio.wait_for(done, 5)).status == 487


async def test_no_timer_c_is_left_once_the_branch_answered(trio) -> None:  # type: ignore[no-untyped-def]
    caller, middle, callee, seen, timers, clock = trio
    done, _ = await _call(caller, middle, 3)
    tx = next(t for t in callee.layer.servers.values() if t.request.method == "INVITE")
    callee.respond(tx, make_response(tx.request, 486, "Busy Here", to_tag="callee"))
    assert (await asyncio.wait_for(done, 5)).status == 486
    assert len(timers) == 0


async def test_a_branch_cancelled_at_timer_c_that_never_ends_fails_with_408_after_64_t1(trio) -> None:  # type: ignore[no-untyped-def]
    """RFC 3261 9.1: no final response 64*T1 after the CANCEL: the branch is over, the caller gets 408
    and no timer is left (the callee answers the CANCEL 200, never its INVITE)."""
    caller, middle, callee, seen, timers, clock = trio
    callee.rings["terminates"] = 0
    done, _ = await _call(caller, middle, 4)
    await timers.advance(TIMER_C + 1, clock.move)
    await asyncio.sleep(0.2)
    assert seen == ["INVITE", "CANCEL"] and not done.done()
    await timers.advance(AFTER_CANCEL, clock.move)
    assert (await asyncio.wait_for(done, 5)).status == 408
    assert len(timers) == 0


def test_a_late_provisional_response_arms_no_timer_once_the_proxy_is_done() -> None:
    """A fork whose other branch answered 2xx is over (``cancel_all``): a losing branch's late 180
    re-arms no Timer C."""
    from reference.transport.proxy_shell import _TimerC

    clock = Clock()
    timers = Timers(clock, poll=None)
    timer_c = _TimerC(timers, TIMER_C)
    timer_c.arm("b1", lambda: None)
    timer_c.cancel_all()
    ringing = parse_message(
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/TCP x;branch=z9hG4bKb1\r\nFrom: <sip:a@x>;tag=1\r\n"
        b"To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(ringing, Response)
    timer_c.receive("b1", ringing, lambda: None)
    assert len(timers) == 0
