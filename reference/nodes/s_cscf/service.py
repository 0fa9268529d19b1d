"""The S-CSCF as a SIP service (asyncio) around the sans-I/O :class:`Scscf`.

TR 23.701 5.2.2.1: S-CSCF and HSS "are not impacted": standard TS 23.228 procedures with
a wildcarded IMPU in the block's implicit registration set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets

from reference.nodes.hss.data import HssData
from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.flows import Forward, Respond, Scscf
from reference.sip.message import Request
from reference.sip.proxy import prepare_request, preprocess_route
from reference.sip.transaction import ServerTransaction, make_response, new_branch
from reference.transport.endpoint import Source
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.resolver import Resolver, UnresolvableUri, next_hop_uri
from reference.transport.sip_node import SipNode

__all__ = ["ScscfService"]

log = logging.getLogger("wimpu.s_cscf")


class ScscfService:
    def __init__(
        self, *, config: ScscfConfig, hss: HssData, resolver: Resolver, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.node = SipNode("s-cscf", host=host, port=port)
        self.node.on_request = self._request
        self.node.on_ack = self._ack
        self.core = Scscf(config, hss, nonce_key=secrets.token_bytes(32), random_bytes=os.urandom)
        self.resolver = resolver
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.node.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.node.stop()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.core.handle_timer(asyncio.get_running_loop().time())

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        # The Record-Route URI of this node (its address) is also "this proxy" (16.4);
        # the core knows its configured names (scscf..., orig@scscf...) only.
        request = preprocess_route(request, [self.node.uri()])
        decision = self.core.receive_request(request, self._now())
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
