"""The enhanced I-CSCF as a SIP service (asyncio): carries out ``flows.route_terminating``."""

from __future__ import annotations

import logging
import secrets
import ssl
from collections.abc import Callable, Collection
from typing import Any

from reference.nodes.hss.data import HssData
from reference.nodes.i_cscf.flows import Forward, HssLocation, W7Query, route_terminating
from reference.nodes.wimpu_registrar.client import RegistrarClient, RegistrarRejected, RegistrarUnavailable
from reference.sip.message import Request, Response
from reference.sip.proxy_routing import prepare_request, preprocess_route
from reference.sip.transaction import ServerTransaction, make_response, new_branch
from reference.transport.endpoint import Source
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.resolver import Resolver, UnresolvableUri, next_hop_uri
from reference.transport.sip_node import SipNode

__all__ = ["Icscf"]

log = logging.getLogger("wimpu.i_cscf")


class Icscf:
    """I-CSCF enhanced for wIMPU-based WebRTC access (TR 23.701 5.2.2.3.3)."""

    def __init__(
        self,
        *,
        registrar_url: str,
        registrar_ssl: ssl.SSLContext | Callable[[], ssl.SSLContext | None] | None = None,
        hss: HssData,
        resolver: Resolver,
        webrtc_domains: Collection[str],
        external_domains: Collection[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.node = SipNode("i-cscf", host=host, port=port)
        self.node.on_request = self._request
        self.node.on_ack = self._ack
        self.registrar = RegistrarClient(registrar_url, ssl=registrar_ssl)
        self.hss = hss
        self.resolver = resolver
        self.webrtc_domains = tuple(webrtc_domains)
        self.external_domains = tuple(external_domains)

    async def start(self) -> None:
        await self.node.start()

    async def stop(self) -> None:
        await self.node.stop()
        await self.registrar.close()

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        tag = secrets.token_hex(4)
        if request.method in ("ACK", "CANCEL"):
            return
        if request.to.tag is not None:
            routed = preprocess_route(request, [self.node.uri()])
            if routed.get_all("Route"):
                await self._along_route(tx, routed)
                return
            # In-dialog requests do not traverse the I-CSCF (it does not record-route).
            self.node.respond(tx, make_response(request, 403, "Not a dialog-forming request", to_tag=tag))
            return
        flow = route_terminating(
            request,
            webrtc_domains=self.webrtc_domains,
            external_domains=self.external_domains,
            to_tag=tag,
        )
        try:
            outcome = await self._drive(flow)
        except RegistrarUnavailable as exc:
            log.error("I-CSCF: W7 query failed: %s", exc)
            response = make_response(request, 503, "wIMPU Registrar unavailable", to_tag=tag)
            self.node.respond(tx, response.with_header("Retry-After", "5"))
            return
        except RegistrarRejected as exc:
            log.error("I-CSCF: W7 query refused: %s", exc)
            self.node.respond(tx, make_response(request, 500, "W7 query refused", to_tag=tag))
            return
        if isinstance(outcome, Response):
            log.info("I-CSCF: %s rejected with %d %s", request.uri, outcome.status, outcome.reason)
            self.node.respond(tx, outcome)
            return
        try:
            target = self.resolver.resolve(outcome.scscf)
        except UnresolvableUri as exc:
            log.error("I-CSCF: %s", exc)
            self.node.respond(tx, make_response(request, 404, "S-CSCF unknown", to_tag=tag))
            return
        log.info("I-CSCF: %s -> S-CSCF %s (W7 checked: %s)", request.uri, outcome.scscf, outcome.webrtc)
        await proxy(
            self.node, tx, outcome.request, [Branch(outcome.request.uri, target)], own_uris=[self.node.uri()]
        )

    async def _along_route(self, tx: ServerTransaction, request: Request) -> None:
        """A request in a dialog, with a route set: the I-CSCF record-routes nothing, but a
        client with one connection to its entry point sends its in-dialog requests there,
        with the dialog's Route. A proxy forwards them to the next hop of the Route (RFC 3261
        16.4, 16.6 steps 6-7); the terminating procedure (5.2.2.5.4) is for initial requests."""
        try:
            target = self.resolver.resolve(next_hop_uri(request.uri, request.get_all("Route")))
        except UnresolvableUri as exc:
            log.warning("I-CSCF: %s %s: no next hop: %s", request.method, request.uri, exc)
            unknown = make_response(request, 404, "Next hop unknown", to_tag=secrets.token_hex(4))
            self.node.respond(tx, unknown)
            return
        await proxy(self.node, tx, request, [Branch(request.uri, target, request=request)])

    async def _ack(self, ack: Request, source: Source) -> None:
        """The ACK of a 2xx sent through the I-CSCF with the dialog's Route: forwarded
        statelessly to the next hop (RFC 3261 16.4, 16.11); one with no Route beyond the
        I-CSCF has nowhere to go (the I-CSCF is on no dialog's path) and is dropped."""
        try:
            copy = prepare_request(
                preprocess_route(ack, [self.node.uri()]), ack.uri, via=self.node.via(), branch=new_branch(),
                own_uris=[self.node.uri()],
            )  # fmt: skip
            if not copy.get_all("Route"):
                log.info("I-CSCF: ACK for %s without a Route beyond the I-CSCF dropped", ack.uri)
                return
            target = self.resolver.resolve(next_hop_uri(copy.uri, copy.get_all("Route")))
            await self.node.forward_stateless(copy, target)
        except Exception as exc:  # noqa: BLE001 - an ACK that cannot go on is dropped
            log.warning("I-CSCF: ACK dropped: %s", exc)

    async def _drive(self, flow: Any) -> Response | Forward:
        result: Any = None
        while True:
            try:
                effect = flow.send(result)
            except StopIteration as stop:
                outcome: Response | Forward = stop.value
                return outcome
            if isinstance(effect, W7Query):
                result = await self.registrar.status(effect.identity)
            elif isinstance(effect, HssLocation):
                result = self.hss.serving_scscf(effect.identity)
            else:
                raise TypeError(f"unknown effect {effect!r}")
