"""Stateful proxying on a :class:`SipNode`: the I/O side of ``reference.sip.proxy``.

:func:`proxy` forwards one server transaction's request to one or more targets in
parallel (RFC 3261 16.6), feeds every branch's responses and failures to a
:class:`~reference.sip.proxy.ForkingContext`, and carries out its actions: forward a
response upstream, CANCEL a branch, send the best response (16.7). A CANCEL from
upstream cancels every pending branch (16.10).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence

from reference.sip.message import Request, Response
from reference.sip.proxy import (
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
from reference.sip.transaction import ServerTransaction
from reference.spec import clause

from .endpoint import Target
from .sip_node import ClientHandle, SipNode

__all__ = ["Branch", "proxy"]

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
) -> Response:
    """Forward ``request`` to every branch in parallel; return the final response sent upstream.

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
            copy, branch.target, on_response=_feed(context, branch_id, apply), add_via=False
        )
    try:
        return await finished
    finally:
        node.when_cancelled(server_tx, None)


def _feed(
    context: ForkingContext, branch_id: str, apply: Callable[[list[ProxyAction]], None]
) -> Callable[[Response], None]:
    return lambda response: apply(context.receive_response(branch_id, response))
