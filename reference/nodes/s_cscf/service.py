"""The S-CSCF as a SIP service (asyncio) around the sans-I/O :class:`Scscf`.

TR 23.701 5.2.2.1: S-CSCF and HSS "are not impacted": standard TS 23.228 procedures with
a wildcarded IMPU in the block's implicit registration set.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable

from reference.nodes.hss.data import HssData
from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.flows import Forward, Respond, Scscf
from reference.sip.message import Request
from reference.sip.proxy import prepare_request, preprocess_route
from reference.sip.transaction import ServerTransaction, make_response, new_branch
from reference.spec import clause
from reference.timers import Timer, Timers
from reference.transport.endpoint import Source
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.resolver import Resolver, UnresolvableUri, next_hop_uri
from reference.transport.sip_node import SipNode

__all__ = ["ScscfService"]

log = logging.getLogger("wimpu.s_cscf")


class ScscfService:
    """The S-CSCF node. Its registrar's bindings expire on ``clock`` (the stack's clock, seconds
    since the epoch), woken by ``timers`` (the stack's; its own, started and stopped here, if
    not given)."""

    def __init__(
        self,
        *,
        config: ScscfConfig,
        hss: HssData,
        resolver: Resolver,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.node = SipNode("s-cscf", host=host, port=port)
        self.node.on_request = self._request
        self.node.on_ack = self._ack
        self.core = Scscf(config, hss, nonce_key=secrets.token_bytes(32), random_bytes=os.urandom)
        self.resolver = resolver
        self.clock: Callable[[], float] = clock or time.time
        self._own_timers = timers is None
        self.timers = timers if timers is not None else Timers(self.clock)
        self._expiry: Timer | None = None

    async def start(self) -> None:
        if self._own_timers:
            self.timers.start()
        await self.node.start()

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await self.node.stop()
        if self._own_timers:
            await self.timers.stop()

    def _now(self) -> float:
        return self.clock()

    @clause("RFC 3261 10.3")
    def _arm_expiry(self) -> None:
        """Wake at the next binding expiry (the registrar core's timer), on the stack's clock."""
        deadline = self.core.get_timer()
        if self._expiry is not None:
            if not self._expiry.cancelled and self._expiry.deadline == deadline:
                return
            self._expiry.cancel()
        self._expiry = None
        if deadline is not None:
            self._expiry = self.timers.call_at(deadline, self._expire, "expiry of S-CSCF bindings")

    def _expire(self) -> None:
        """A binding's registration interval has run out: the registrar core drops it."""
        self._expiry = None
        self.core.handle_timer(self._now())
        self._arm_expiry()

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        # The Record-Route URI of this node (its address) is also "this proxy" (16.4);
        # the core knows its configured names (scscf..., orig@scscf...) only.
        request = preprocess_route(request, [self.node.uri()])
        decision = self.core.receive_request(request, self._now())
        if request.method == "REGISTER":
            self._arm_expiry()
        if isinstance(decision, Respond):
            self.node.respond(tx, decision.response)
            return
        assert isinstance(decision, Forward)
        try:
            branches = [
                Branch(b.uri, self.resolver.resolve(next_hop_uri(b.uri, b.get_all("Route"))), request=b)
                for b in decision.branches
            ]
        except UnresolvableUri as exc:
            log.error("S-CSCF: %s", exc)
            self.node.respond(tx, make_response(request, 404, "No route", to_tag=secrets.token_hex(4)))
            return
        record = self.node.uri() if request.method == "INVITE" and request.to.tag is None else None
        await proxy(self.node, tx, request, branches, record_route=record, own_uris=[self.node.uri()])

    async def _ack(self, ack: Request, source: Source) -> None:
        """The ACK of a 2xx: forwarded statelessly along its Route (RFC 3261 16.11)."""
        try:
            copy = prepare_request(
                ack, ack.uri, via=self.node.via(), branch=new_branch(), own_uris=[self.node.uri()]
            )
            target = self.resolver.resolve(next_hop_uri(copy.uri, copy.get_all("Route")))
            await self.node.forward_stateless(copy, target)
        except Exception as exc:  # noqa: BLE001 - an ACK that cannot go on is dropped
            log.warning("S-CSCF: ACK dropped: %s", exc)
