"""Stateful proxying on a :class:`SipNode`: the I/O side of ``reference.sip.proxy``.

:func:`proxy` forwards one server transaction's request to one or more targets in
parallel (RFC 3261 16.6), feeds every branch's responses and failures to a
:class:`~reference.sip.proxy.ForkingContext`, and carries out its actions: forward a
response upstream, CANCEL a branch, send the best response (16.7). A CANCEL from
upstream cancels every pending branch (16.10). Given the node's :class:`~reference.timers.Timers`,
each branch of an INVITE runs Timer C on the stack's clock (16.6 item 11, 16.7 step 2, 16.8), so
a tester who moves that clock past it sees the branch cancelled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence

from reference.sip.message import Request, Response
from reference.sip.proxy import (
    BranchState,
    CancelBranch,
    Completed,
    ForkingContext,
    ForwardResponse,
    ProxyAction,
    check_loop,
    check_max_forwards,
    loop_branch,
    prepare_request,
)
from reference.sip.timers import TimerValues
from reference.sip.transaction import ServerTransaction
from reference.spec import clause
from reference.timers import Timer, Timers

from .endpoint import Target
from .sip_node import ClientHandle, SipNode

__all__ = ["TIMER_C", "Branch", "proxy"]

TIMER_C = TimerValues().timer_c
"Seconds of the stack's clock a branch of a proxied INVITE waits for a final response (16.6 item 11)."

AFTER_CANCEL = TimerValues(reliable=True).timer_b
"""Seconds a branch Timer C cancelled waits for its final response before it fails with 408: "within
64*T1 seconds" (RFC 3261 9.1)."""

log = logging.getLogger("wimpu.proxy")


@dataclasses.dataclass(frozen=True, slots=True)
class Branch:
    """One target of the target set (RFC 3261 16.5)."""

    uri: str
    "The Request-URI of the copy."
    target: Target
    "The next hop the copy is sent to."
    routes: tuple[str, ...] = ()
    "Route values to put on top of the copy's Route (for example a stored Path)."
    request: Request | None = None
    "A copy already retargeted by the node's logic (S-CSCF branches); None: the request."


@clause("RFC 3261 16.6")
@clause("RFC 3261 16.7")
async def proxy(
    node: SipNode,
    server_tx: ServerTransaction,
    request: Request,
    branches: Sequence[Branch],
    *,
    record_route: str | None = None,
    own_uris: Sequence[str] = (),
    timers: Timers | None = None,
    timer_c: float = TIMER_C,
) -> Response:
    """Forward ``request`` to every branch in parallel; return the final response sent upstream.

    ``timers``: the node's timers on the stack's clock, for Timer C (``timer_c`` seconds) of
    each branch of an INVITE; None: no Timer C (the branch waits for its final response as long
    as its client transaction does).

    Raises:
        TooManyHops: Max-Forwards is 0 (16.3 item 3): the node answers 483.
        LoopDetected: the request came back unchanged (16.3 item 4): the node answers 482.
    """
    check_max_forwards(request)
    check_loop(request, (node.host, node.port))
    handles: dict[str, ClientHandle] = {}
    ids = [loop_branch(request) for _ in branches]
    context = ForkingContext(request, ids)
    finished: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    timer_cs = _TimerC(timers, timer_c) if timers is not None and request.method == "INVITE" else None

    def apply(actions: list[ProxyAction]) -> None:
        for action in actions:
            if isinstance(action, ForwardResponse):
                node.respond(server_tx, action.response)
                if action.response.is_final and not finished.done() and action.response.status < 300:
                    finished.set_result(action.response)
            elif isinstance(action, CancelBranch):
                handle = handles.get(action.branch_id)
                if handle is not None:
                    node.cancel(handle, action.reason)
            elif isinstance(action, Completed):
                node.respond(server_tx, action.response)
                if not finished.done():
                    finished.set_result(action.response)

    node.when_cancelled(server_tx, lambda reason: apply(context.cancel_all(reason)))

    def timer_c_fires(branch_id: str) -> Callable[[], None]:
        def fire() -> None:
            apply(context.timer_c_fired(branch_id))
            if timer_cs is not None and context.state_of(branch_id) is not BranchState.COMPLETED:
                timer_cs.arm(branch_id, fire, AFTER_CANCEL)  # RFC 3261 9.1: 64*T1 after the CANCEL

        return fire

    def on_response(branch_id: str) -> Callable[[Response], None]:
        def receive(response: Response) -> None:
            if timer_cs is not None:
                timer_cs.receive(branch_id, response, timer_c_fires(branch_id))
            apply(context.receive_response(branch_id, response))

        return receive

    for branch_id, branch in zip(ids, branches, strict=True):
        copy = branch.request or request
        for route in reversed(branch.routes):
            copy = copy.with_header("Route", route if "<" in route else f"<{route}>", first=True)
        copy = prepare_request(
            copy,
            branch.uri,
            via=node.via(branch.target.transport),
            branch=branch_id,
            record_route=record_route,
            own_uris=own_uris,
        )
        handles[branch_id] = node.send_request(
            copy, branch.target, on_response=on_response(branch_id), add_via=False
        )
        if timer_cs is not None:
            timer_cs.arm(branch_id, timer_c_fires(branch_id))
    try:
        return await finished
    finally:
        node.when_cancelled(server_tx, None)
        if timer_cs is not None:
            timer_cs.cancel_all()


class _TimerC:
    """Timer C of every branch of one proxied INVITE, on the stack's clock."""

    def __init__(self, timers: Timers, seconds: float) -> None:
        self.timers = timers
        self.seconds = seconds
        self._armed: dict[str, Timer] = {}
        self._closed = False
        "The proxying is over: a late response re-arms nothing."

    @clause("RFC 3261 16.6", steps=11)
    def arm(self, branch_id: str, fire: Callable[[], None], seconds: float | None = None) -> None:
        """16.6 item 11: "Timer C MUST be set for each client transaction when an INVITE request is
        proxied. The timer MUST be larger than 3 minutes." Armed again from now if it was running."""
        if self._closed:
            return
        old = self._armed.pop(branch_id, None)
        if old is not None:
            old.cancel()
        delay = self.seconds if seconds is None else seconds
        self._armed[branch_id] = self.timers.call_later(delay, fire, name=f"Timer C {branch_id}")

    @clause("RFC 3261 16.7", steps=2)
    def receive(self, branch_id: str, response: Response, fire: Callable[[], None]) -> None:
        """16.7 step 2: "For an INVITE transaction, if the response is a provisional response with
        status codes 101 to 199 inclusive (i.e., anything but 100), the proxy MUST reset timer C
        for that client transaction. The timer MAY be reset to a different value, but this value
        MUST be greater than 3 minutes." It stops at a final response (its client transaction
        ends)."""
        if 100 < response.status < 200:
            self.arm(branch_id, fire)
        elif response.status >= 200:
            timer = self._armed.pop(branch_id, None)
            if timer is not None:
                timer.cancel()

    def cancel_all(self) -> None:
        self._closed = True
        for timer in self._armed.values():
            timer.cancel()
        self._armed.clear()
