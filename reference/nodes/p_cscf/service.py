"""The P-CSCF half of the eP-CSCF: carries out the flows of ``flows.py`` (asyncio).

Messages from WICs arrive from the IWF over the internal interface; REGISTERs run the
registration flow directly, every other message enters this P-CSCF's SIP node as if
received on a ``WSS`` transport whose connection is the IWF's flow token, so the same
transactions and forking proxy serve both sides. Towards the IMS core the node speaks
TCP/UDP: block registrations (5.2.2.5.1), originating requests on the block's
Service-Route (5.2.2.5.3), terminating requests on the block's Path (5.2.2.5.4).

The eP-CSCF Record-Routes dialogs it forwards with ``sip:<flow token>@<host>:<port>``,
so in-dialog requests from the core find the WIC's flow, and requests from the WIC
continue along their Route set.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from reference.blocks import WimpuBlock, block_of
from reference.logutil import RateLimitedLog
from reference.nodes.p_cscf import reallocation
from reference.nodes.p_cscf.block_registration import (
    BlockCredentials,
    BlockRegistration,
    BlockRegistrationError,
)
from reference.nodes.p_cscf.dialogs import DialogTable, Refused
from reference.nodes.p_cscf.failover import BlockKeeper
from reference.nodes.p_cscf.flows import (
    Fork,
    Onward,
    Registered,
    RegistrationPolicy,
    Trigger,
    W6Read,
    W6ReadByExternal,
    W6Remove,
    W6Write,
    block_registration_due,
    originate,
    register_wic,
    strip_bearer,
    terminate,
)
from reference.nodes.p_cscf.state import WicRegistrations
from reference.nodes.wimpu_registrar.client import RegistrarClient, RegistrarRejected, RegistrarUnavailable
from reference.sip.errors import SipError
from reference.sip.identity import IdentityError
from reference.sip.message import Request, Response
from reference.sip.proxy import prepare_request
from reference.sip.transaction import ServerTransaction, make_response, new_branch
from reference.spec import clause
from reference.timers import Timers
from reference.transport.endpoint import Source, Target, TransportFailure
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.resolver import Resolver, UnresolvableUri, next_hop_uri
from reference.transport.sip_node import SipNode

__all__ = ["Pcscf", "WicSender"]

log = logging.getLogger("wimpu.p_cscf")

FLOW_TRANSPORTS = ("WS", "WSS")
IN_DIALOG_METHODS = frozenset({"BYE", "UPDATE", "INFO", "PRACK"})
"Methods only ever sent inside a dialog (RFC 3261 15, RFC 3311, RFC 6086, RFC 3262)."


class WicSender(Protocol):
    """The way back to WICs (internal interface P-CSCF -> IWF)."""

    reroutes: bool
    "True if the IWF moves a WIC to the block's new P-CSCF itself (decomposed eP-CSCF)."

    async def send_to_flow(self, flow_token: str, message: Request | Response) -> None: ...

    def flow_is_open(self, flow_token: str) -> bool: ...

    def close_flow(self, flow_token: str, reason: str) -> None:
        """Close a WIC's WebSocket (its block moved to another eP-CSCF: it must reconnect)."""

    def serving_changed(self) -> None:
        """The blocks this P-CSCF serves changed (a decomposed IWF routes WICs by block)."""


class Pcscf:
    """P-CSCF for wIMPU-based WebRTC access (TR 23.701 5.2.2.3.2)."""

    def __init__(
        self,
        *,
        name: str,
        blocks: Sequence[WimpuBlock],
        registrar: RegistrarClient,
        policy: RegistrationPolicy,
        iwf: WicSender,
        resolver: Resolver | None = None,
        credentials: Sequence[BlockCredentials] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        keeper: BlockKeeper | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.name = name
        self.blocks = list(blocks)
        self.registrar = registrar
        self.policy = policy
        self.iwf = iwf
        self.resolver = resolver or Resolver()
        self.node = SipNode(name, host=host, port=port)
        self.node.on_request = self._request
        self.node.on_ack = self._ack
        self.node.endpoint.flow_sender = self._send_to_flow
        self.clock: Callable[[], float] = clock or time.time
        self._own_timers = timers is None
        self.timers = timers if timers is not None else Timers(self.clock)
        """Timers on the stack's clock (the block refresh, Timer C of proxied INVITEs); its own, started and
        stopped here, if not given."""
        self.registrations = WicRegistrations()
        "The identities and contacts registered over each WIC flow (``state.py``)."
        self.credentials = {c.wimpu: c for c in credentials}
        self.block_registrations: dict[str, BlockRegistration] = {}
        self.keeper = keeper
        """Block leases (failover, TR 23.701 5.2.2.2); None: this P-CSCF serves its
        configured blocks unconditionally (no re-allocation)."""
        if keeper is not None:
            keeper.owner = self
        self.dialogs = DialogTable((host, port), resolve=self._hop)
        self.refusals = RateLimitedLog(log)
        "Warnings about refused in-dialog requests, rate-limited (a peer must not fill the log)."
        "The dialogs this P-CSCF record-routed, per WIC flow (authorises in-dialog requests)."

    # ----- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._own_timers:
            self.timers.start()
        await self.node.start()
        self.dialogs.own = (self.node.host.lower(), self.node.port)
        for block in self.blocks:
            creds = self.credentials.get(str(block.wimpu))
            if creds is None:
                continue
            target = self.resolver.resolve(creds.registrar)
            reg = BlockRegistration(self.node, creds, target, block.name, self.timers)
            self.block_registrations[str(block.wimpu)] = reg
            if self.keeper is None and block_registration_due(creds.option, Trigger.START, reg.registered):
                await self._register_at_start(reg)

    @clause("TR 23.701 5.2.2.5.1", steps=1)
    async def _register_at_start(self, reg: BlockRegistration) -> None:
        """Option 1: register the block "upon initialisation". A refusal of the S-CSCF (a password
        the HSS does not hold, an unknown block) does not stop the eP-CSCF: it serves its other
        blocks, and a WIC registration of this one tries the block registration again and, refused
        again, is refused 503 (the block is not registered, so neither is the WIC: TP_WIMPU_BLK_008)."""
        try:
            await reg.register()
        except BlockRegistrationError as exc:
            wimpu = reg.credentials.wimpu
            log.error("P-CSCF %s: block %s not registered at start-up: %s", self.name, wimpu, exc)

    async def start_leases(self) -> None:
        """With failover: claim the leases of this P-CSCF's blocks (after :meth:`start` and
        once WICs can reach it); a block is served, and registered, once its lease is held."""
        if self.keeper is not None:
            await self.keeper.start()

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop; ``graceful`` releases the block leases so a standby takes over at once."""
        if self.keeper is not None:
            await self.keeper.stop(release=graceful)
        for reg in self.block_registrations.values():
            reg.cancel()
        await self.node.stop()
        if self._own_timers:
            await self.timers.stop()

    def serves(self, block: WimpuBlock) -> bool:
        """True if this P-CSCF serves ``block`` now (always, without failover)."""
        return self.keeper is None or self.keeper.serving(str(block.wimpu))

    # ----- re-allocation of a block (TR 23.701 5.2.2.2): see reallocation.py ------------

    async def take_block(self, wimpu: str, previous: str | None) -> None:
        """This P-CSCF now serves ``wimpu``: :func:`.reallocation.take_block`."""
        await reallocation.take_block(self, wimpu, previous)

    async def drop_block(self, wimpu: str, holder: str) -> None:
        """Another one serves ``wimpu`` now: :func:`.reallocation.drop_block`."""
        await reallocation.drop_block(self, wimpu, holder)

    @property
    def uri(self) -> str:
        return self.node.uri()

    def _hop(self, uri: str) -> tuple[str, int] | None:
        """The (host, port) a URI or name-addr reaches from here, or None."""
        try:
            target = self.resolver.resolve(uri.strip())
        except (UnresolvableUri, ValueError):
            return None
        return str(target.host).lower(), int(target.port)

    def _record_route(self, flow: str) -> str:
        return f"<sip:{flow}@{self.node.host}:{self.node.port};transport=tcp;lr>"

    def block_for(self, identity: str) -> WimpuBlock | None:
        """TR 23.701 5.2.2.1: the block of this P-CSCF an identity belongs to (option A by
        the wildcard, option B by domain; :func:`reference.blocks.block_of`).

        Raises:
            IdentityError: ``identity`` is not a valid public user identity.
        """
        return block_of(self.blocks, identity)

    # ----- from the IWF ------------------------------------------------------------------

    async def from_wic(self, message: Request | Response, flow_token: str, identity: str | None) -> None:
        if isinstance(message, Request) and message.method == "REGISTER":
            if identity is None:
                return
            try:
                response = await self.register(message, flow_token, identity)
            except SipError as exc:  # a header of the REGISTER that does not parse: 400
                log.info("P-CSCF: REGISTER on %s answered %d: %s", flow_token, exc.status, exc)
                response = make_response(message, exc.status, " ".join(str(exc).split())[:80])
            except Exception:  # a fault of ours: answered all the same (RFC 3261 8.2)
                log.exception("P-CSCF: internal error on REGISTER from %s", flow_token)
                response = make_response(message, 500, "Server Internal Error")
            await self._send(flow_token, response)
            return
        if isinstance(message, Response):
            self.dialogs.wic_answered(flow_token, message)
            message = self.dialogs.assert_response(message, flow_token)
        self.node.inject(message, Source("WSS", "flow.invalid", 0, flow_token))

    def registered_on(self, flow: str) -> frozenset[str]:
        """The identities registered over a flow whose registration has not expired."""
        return self.registrations.registered_on(flow, self.clock())

    def flow_opened(self, flow_token: str) -> None:
        """A WIC's WebSocket opened (nothing to do: contacts come with REGISTER)."""

    def flow_closed(self, flow_token: str) -> None:
        """A closed WebSocket makes its contacts unreachable (solution profile, Lifecycle).

        They are removed from the wIMPU Registrar at once, so no terminating request is
        offered to them (the fork skips closed flows in any case, answering 430 when no
        live contact is left).
        """
        self.dialogs.flow_closed(flow_token)
        for impu, contact_id in self.registrations.flow_closed(flow_token):
            self.node.spawn(self._forget(impu, contact_id, flow_token))

    async def _forget(self, impu: str, contact_id: str, flow_token: str) -> None:
        """Remove a contact of a closed flow, unless a newer registration moved it to
        another flow meanwhile (RFC 5626 6; the registrar checks it: 412)."""
        try:
            if await self.registrar.remove(impu, contact_id, flow=flow_token):
                log.info("P-CSCF: flow %s closed: contact %s of %s removed", flow_token, contact_id, impu)
            else:
                log.info("P-CSCF: flow %s closed: contact %s of %s is on another flow now", flow_token,
                         contact_id, impu)  # fmt: skip
        except (RegistrarUnavailable, RegistrarRejected) as exc:
            log.warning(
                "P-CSCF: flow %s closed: could not remove %s of %s: %s", flow_token, contact_id, impu, exc
            )

    async def _send_to_flow(self, message: Request | Response, target: Target) -> None:
        await self.iwf.send_to_flow(str(target.connection), message)

    async def _send(self, flow_token: str, message: Request | Response) -> None:
        try:
            await self.iwf.send_to_flow(flow_token, message)
        except TransportFailure as exc:
            log.info("P-CSCF: could not reach WIC on %s: %s", flow_token, exc)

    # ----- registration (5.2.2.5.2) ------------------------------------------------------

    async def register(self, request: Request, flow_token: str, identity: str) -> Response:
        """Run the registration flow (TR 23.701 5.2.2.5.2 steps 5-7) for a token-checked WIC."""
        tag = secrets.token_hex(4)
        try:
            block = self.block_for(identity)
        except IdentityError as exc:
            return make_response(request, 400, str(exc)[:80], to_tag=tag)
        if block is None:  # anyone may send these: rate-limited, as every refusal caused by a peer
            self.refusals.log(
                logging.WARNING, ("REGISTER", 403),
                "P-CSCF: REGISTER for %s refused: the identity is in no wIMPU block of this eP-CSCF",
                identity,
            )  # fmt: skip
            return make_response(request, 403, "Identity outside every wIMPU block", to_tag=tag)
        if not self.serves(block):
            # TR 23.701 5.2.2.2: the block is (now) another eP-CSCF's; the WIC gets the
            # current one from the WWSF. Temporary from the WIC's point of view.
            owner = self.keeper.owner_of(str(block.wimpu)) if self.keeper else None
            log.warning(
                "P-CSCF %s: REGISTER for %s refused: block %s is served by %s, not by this eP-CSCF",
                self.name, identity, block.wimpu, owner or "no eP-CSCF yet",
            )  # fmt: skip
            response = make_response(request, 503, "wIMPU block not served by this eP-CSCF", to_tag=tag)
            return response.with_header("Retry-After", str(self._retry_after()))
        try:
            reg = self.block_registrations.get(str(block.wimpu))
            if reg is not None:
                await reg.ensure()  # 5.2.2.5.1 option 2: upon the first WIC registration
            flow = register_wic(
                request,
                identity=identity,
                block=block,
                flow=flow_token,
                path=(),
                policy=self.policy,
                to_tag=tag,
            )
            result: Response = await self._drive(flow, flow_token)
            return result
        except (RegistrarUnavailable, BlockRegistrationError) as exc:
            log.error("P-CSCF: REGISTER for %s failed: %s", identity, exc)
            response = make_response(request, 503, "Service temporarily unavailable", to_tag=tag)
            return response.with_header("Retry-After", "5")
        except RegistrarRejected as exc:
            log.warning("P-CSCF: REGISTER for %s refused by the registrar: %s", identity, exc)
            status = 403 if exc.status == 409 else 500
            return make_response(request, status, "Registration refused by wIMPU Registrar", to_tag=tag)

    def _retry_after(self) -> int:
        """Seconds a WIC should wait before retrying: about one lease duration."""
        if self.keeper is None:
            return 5
        return max(1, round(self.keeper.timing.duration))

    async def _drive(self, flow: Any, flow_token: str) -> Any:
        result: Any = None
        while True:
            try:
                effect = flow.send(result)
            except StopIteration as stop:
                return stop.value
            result = await self._effect(effect, flow_token)

    async def _effect(self, effect: object, flow_token: str) -> Any:
        if isinstance(effect, W6Read):
            return await self.registrar.read(effect.impu)
        if isinstance(effect, W6ReadByExternal):
            return await self.registrar.read_by_external(effect.external_identity)
        if isinstance(effect, W6Write):
            return await self.registrar.write(effect.impu, effect.write)
        if isinstance(effect, W6Remove):
            await self.registrar.remove(effect.impu, effect.contact_id)
            self.registrations.deregistered(flow_token, effect.impu, effect.contact_id)
            return None
        if isinstance(effect, Registered):
            moved = self.registrations.registered(
                flow_token, impu=effect.impu, external_identity=effect.external_identity,
                contact_id=effect.contact_id, expires_at=self.clock() + effect.expires,
            )  # fmt: skip
            for m in moved:
                log.info("P-CSCF: contact %s of %s moved from flow %s to %s", m.contact_id, m.impu, m.old,
                         m.new)  # fmt: skip
            log.info("P-CSCF: %s registered (%s) on %s", effect.impu, effect.outcome.value, flow_token)
            return None
        raise TypeError(f"unknown effect {effect!r}")

    # ----- other requests -----------------------------------------------------------------

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        tag = secrets.token_hex(4)
        in_dialog = request.to.tag is not None or request.method in IN_DIALOG_METHODS
        try:
            if source.transport in FLOW_TRANSPORTS:
                flow = str(source.connection)
                if in_dialog:
                    await self._in_dialog_from_wic(tx, request, flow)
                else:
                    await self._originate(tx, request, flow, tag)
            elif in_dialog:
                await self._in_dialog_from_core(tx, request)
            else:
                await self._terminate(tx, request, tag)
        except RegistrarUnavailable as exc:
            log.error("P-CSCF: %s failed: %s", request.method, exc)
            self.node.respond(
                tx,
                make_response(request, 503, "wIMPU Registrar unavailable", to_tag=tag).with_header(
                    "Retry-After", "5"
                ),
            )
        except RegistrarRejected as exc:
            log.error("P-CSCF: %s: registrar refused: %s", request.method, exc)
            self.node.respond(tx, make_response(request, 500, "Registrar refused", to_tag=tag))
        except UnresolvableUri as exc:
            log.error("P-CSCF: %s", exc)
            self.node.respond(tx, make_response(request, 404, "No route", to_tag=tag))

    async def _originate(self, tx: ServerTransaction, request: Request, flow: str, tag: str) -> None:
        """TR 23.701 5.2.2.5.3 for a request from a WIC."""
        try:
            block = self.block_for(request.from_.uri)
        except IdentityError:
            block = None
        reg = self.block_registrations.get(str(block.wimpu)) if block else None
        if block is None or reg is None:
            self.node.respond(
                tx, make_response(request, 403, "Originating identity not served here", to_tag=tag)
            )
            return
        if not reg.registered:
            # 5.2.2.5.1: the block's registration (its Service-Route) is not live, for now (refused,
            # run out unrefreshed): temporary, as for the WIC registrations of the block
            response = make_response(request, 503, "wIMPU block not registered", to_tag=tag)
            self.node.respond(tx, response.with_header("Retry-After", "5"))
            return
        outcome = await self._drive(
            originate(
                request,
                block=block,
                flow=flow,
                registered=self.registered_on(flow),
                service_route=reg.service_route,
                to_tag=tag,
            ),
            flow,
        )
        if isinstance(outcome, Response):
            log.warning("P-CSCF: %s from %s refused: %s", request.method, request.from_.uri, outcome.reason)
            self.node.respond(tx, outcome)
            return
        assert isinstance(outcome, Onward)
        onward = outcome.request
        target = self.resolver.resolve(next_hop_uri(onward.uri, onward.get_all("Route")))
        invite = request.method == "INVITE"
        if invite:
            asserted = onward.addresses("P-Asserted-Identity")[0].uri
            self.dialogs.originated(flow, onward, asserted)
        final = await proxy(
            self.node,
            tx,
            onward,
            [Branch(onward.uri, target, request=onward)],
            record_route=self._record_route(flow) if invite else None,
            own_uris=[self.uri],
            timers=self.timers,
        )
        if invite:
            self.dialogs.answered(flow, final)

    async def _terminate(self, tx: ServerTransaction, request: Request, tag: str) -> None:
        """TR 23.701 5.2.2.5.4 steps 4-5 for a request from the S-CSCF."""
        outcome = await self._drive(terminate(request, to_tag=tag), "")
        if isinstance(outcome, Response):
            self.node.respond(tx, outcome)
            return
        assert isinstance(outcome, Fork)
        live = [(uri, flow) for uri, flow in outcome.contacts if self.iwf.flow_is_open(flow)]
        if not live:
            # RFC 5626 5.3: the flow is gone; fail at once rather than time out.
            self.node.respond(tx, make_response(request, 430, "Flow Failed", to_tag=tag))
            return
        log.info(
            "P-CSCF: forking %s to %d contact(s) of %s",
            request.method,
            len(live),
            request.get("P-Called-Party-ID"),
        )
        branches = []
        delivered = outcome.request
        invite = request.method == "INVITE"
        called = request.addresses("P-Called-Party-ID")
        asserted = called[0].uri if called else request.uri
        if invite:
            self.dialogs.offered(request.call_id)
        for uri, flow in live:
            copy = delivered
            if invite:
                copy = delivered.with_header("Record-Route", self._record_route(flow), first=True)
                self.dialogs.terminated(flow, copy, asserted)
            branches.append(Branch(uri, Target("WSS", "flow.invalid", 0, flow), request=copy))
        final = await proxy(
            self.node, tx, request, branches, own_uris=[self.uri, *self._own_path_uris()], timers=self.timers
        )
        if invite:  # the WICs whose branch lost are in no dialog (dialogs.py)
            self.dialogs.settled([flow for _, flow in live], request.call_id, final.status)

    def _own_path_uris(self) -> list[str]:
        return [f"sip:term@{self.node.host}:{self.node.port};transport=tcp;lr"]

    @clause("TR 23.701 5.2.2.3.2")
    async def _in_dialog_from_wic(self, tx: ServerTransaction, request: Request, flow: str) -> None:
        """An in-dialog request from a WIC: relayed only on a dialog this eP-CSCF
        record-routed on that flow, to the next hop of its route set, with the identity
        the eP-CSCF asserts (``dialogs.py``)."""
        verdict = self.dialogs.authorise_from_wic(strip_bearer(request), flow)
        if isinstance(verdict, Refused):
            self._refuse(tx, request, verdict, f"from WIC on {flow}")
            return
        onward = verdict.request.without_first_value("Route")  # ours (RFC 3261 16.4)
        target = self.resolver.resolve(next_hop_uri(onward.uri, onward.get_all("Route")))
        final = await proxy(
            self.node, tx, onward, [Branch(onward.uri, target, request=onward)], timers=self.timers
        )
        if request.method == "BYE" and final.status < 300:
            self.dialogs.ended(flow, request.call_id)

    async def _in_dialog_from_core(self, tx: ServerTransaction, request: Request) -> None:
        """An in-dialog request from the IMS core: our Record-Route names the WIC's flow;
        a flow that is gone is answered 430 Flow Failed (RFC 5626 5.3), whether it ever
        existed or not (flow tokens carry a MAC: ``iwf/flow_token.py``)."""
        flow = self.dialogs.flow_of_route(request)
        if flow is None:
            refused = Refused(403, "Not routed through a dialog of this eP-CSCF")
            self._refuse(tx, request, refused, "from core")
            return
        if not self.iwf.flow_is_open(flow):
            self._refuse(tx, request, Refused(430, "Flow Failed"), "from core")
            return
        not_ours = self.dialogs.authorise_to_wic(request, flow)
        if not_ours is not None:
            self._refuse(tx, request, not_ours, "from core")
            return
        onward = request.without_first_value("Route")
        target = Target("WSS", "flow.invalid", 0, flow)
        final = await proxy(
            self.node, tx, onward, [Branch(onward.uri, target, request=onward)], timers=self.timers
        )
        if request.method == "BYE" and final.status < 300:
            self.dialogs.ended(flow, request.call_id)

    def _refuse(self, tx: ServerTransaction, request: Request, refused: Refused, where: str) -> None:
        self.refusals.log(
            logging.WARNING, (where, refused.status), "P-CSCF: %s %s refused %d: %s",
            where, request.summary(), refused.status, refused.reason,
        )  # fmt: skip
        self.node.respond(tx, make_response(request, refused.status, refused.reason))

    def _ack_route(self, ack: Request, source: Source) -> tuple[Request, Target] | Refused:
        """Where the ACK of a 2xx goes, under the same authorisation as other in-dialog requests."""
        if source.transport in FLOW_TRANSPORTS:
            verdict = self.dialogs.authorise_from_wic(strip_bearer(ack), str(source.connection))
            if isinstance(verdict, Refused):
                return verdict
            onward = verdict.request.without_first_value("Route")
            return onward, self.resolver.resolve(next_hop_uri(onward.uri, onward.get_all("Route")))
        flow = self.dialogs.flow_of_route(ack)
        if flow is None:
            return Refused(403, "Not routed through a dialog of this eP-CSCF")
        refused = self.dialogs.authorise_to_wic(ack, flow)
        if refused is not None:
            return refused
        return ack.without_first_value("Route"), Target("WSS", "flow.invalid", 0, flow)

    async def _ack(self, ack: Request, source: Source) -> None:
        """The ACK of a 2xx goes end to end along the Route set (RFC 3261 13.2.2.4, 16.11)."""
        try:
            route = self._ack_route(ack, source)
            if isinstance(route, Refused):
                why = route.reason
                self.refusals.log(logging.INFO, ("ACK", 0), "P-CSCF: ACK %s dropped: %s", ack.call_id, why)
                return
            routed, target = route
            copy = prepare_request(
                routed, routed.uri, via=self.node.via(target.transport), branch=new_branch()
            )
            await self.node.forward_stateless(copy, target)
        except Exception as exc:  # noqa: BLE001 - an ACK that cannot go on is dropped
            log.warning("P-CSCF: ACK dropped: %s", exc)
