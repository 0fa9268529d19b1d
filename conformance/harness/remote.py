"""The remote IMS party: the other end of a session, on the core side of the IMS.

As UAC it places terminating sessions towards the I-CSCF (TR 23.701 5.2.2.5.4 step 1);
as UAS it answers the originating sessions the S-CSCF routes to it (5.2.2.5.3 step 3).
It records every request and response it sees, for the checks.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

from reference.nodes.p_cscf.block_registration import BlockCredentials, BlockRegistration
from reference.sip.message import Header, Request, Response
from reference.sip.transaction import InviteClientTransaction, ServerTransaction, make_response
from reference.timers import Timers
from reference.transport.endpoint import Source, Target
from reference.transport.resolver import Resolver, next_hop_uri
from reference.transport.sip_node import ClientHandle, SipNode

from .expect import EVENT_WAIT, wait_until_async

__all__ = ["RemoteParty"]


class RemoteParty:
    def __init__(self, domain: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.domain = domain
        self.node = SipNode("remote", host=host, port=port)
        self.node.on_request = self._request
        self.node.on_ack = self._ack
        self.received: list[Request] = []
        self.responses: list[Response] = []
        "Every response to the INVITEs this party placed, in order."
        self.response_times: list[float] = []
        "time.monotonic() at which each of :attr:`responses` arrived."
        self.answer: int | None = 200
        "The final response to an INVITE; None: ring (180) and wait for a CANCEL, answered 487."
        self.answer_sdp: Callable[[bytes], bytes] | None = None
        """The SDP answer (RFC 3264) its 200 gives to an INVITE's offer; None: a 200 without a body
        (a WIC that offers in its INVITE, SIP.js or a browser, wants the answer)."""
        self.tag = secrets.token_hex(5)
        self.call_ids: list[str] = []
        "Call-IDs of the sessions this party placed, in order."
        self.cancelled: list[tuple[str, str | None]] = []
        "(Call-ID, Reason) of each ringing INVITE a CANCEL ended, in order."
        self.service_route: tuple[str, ...] = ()
        "The Service-Route of this party's IMS registration (:meth:`register_in_ims`), ``<uri>`` each."
        self.established: list[tuple[Request, Response]] = []
        "(the INVITE as sent, its 2xx) of each session this party placed that was set up, in order."
        self._local_cseq: dict[str, int] = {}
        "The last CSeq number this party used in each of those dialogs, by Call-ID (RFC 3261 12.2.1.1)."
        self._registration: BlockRegistration | None = None
        self._timers = Timers()
        "The refresh of its IMS registration, on real time (a peer of the suite's, not the SUT's clock)."

    async def start(self) -> None:
        self._timers.start()
        await self.node.start()

    async def stop(self) -> None:
        if self._registration is not None:
            self._registration.cancel()
        await self.node.stop()
        await self._timers.stop()

    async def register_in_ims(
        self, impu: str, *, impi: str, password: str, registrar: str, scscf: Target
    ) -> Response:
        """Register ``impu`` with the S-CSCF as an ordinary IMS subscriber (SIP digest).

        The REGISTER is the standard one the eP-CSCF also sends for a block (Contact and
        Path name this party), so terminating requests for ``impu`` reach this party.
        """
        credentials = BlockCredentials(
            wimpu="", representative=impu, impi=impi, password=password, registrar=registrar
        )
        user = impu.partition(":")[2].partition("@")[0]
        self._registration = BlockRegistration(self.node, credentials, scscf, user, self._timers)
        response = await self._registration.register()
        self.service_route = tuple(f"<{a.uri}>" for a in response.addresses("Service-Route"))
        return response

    @property
    def target(self) -> Target:
        return Target("TCP", self.node.host, self.node.port)

    # ----- UAS (origination reaches us) ------------------------------------------------

    async def _request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        self.received.append(request)
        if request.method == "INVITE":
            self.node.respond(tx, make_response(request, 180, to_tag=self.tag))
            if self.answer is None:  # rings until cancelled (RFC 3261 9.2: 200 to the CANCEL, 487)
                self.node.when_cancelled(tx, lambda reason: self._cancelled(tx, request, reason))
                return
            response = make_response(request, self.answer, to_tag=self.tag)
            if self.answer == 200:
                response = response.with_header(
                    "Contact", f"<sip:remote@{self.node.host}:{self.node.port};transport=tcp>"
                )
                rr = request.get_all("Record-Route")
                if rr:
                    response = response.with_header_set("Record-Route", *rr)
                if self.answer_sdp is not None and request.body:
                    response = response.with_body(self.answer_sdp(request.body), "application/sdp")
            self.node.respond(tx, response)
        else:
            self.node.respond(tx, make_response(request, 200, to_tag=self.tag))

    def _cancelled(self, tx: ServerTransaction, invite: Request, reason: str | None) -> None:
        """A CANCEL matched a ringing INVITE (the node answered the CANCEL 200): the INVITE gets 487."""
        self.cancelled.append((invite.call_id, reason))
        self.node.respond(tx, make_response(invite, 487, to_tag=self.tag))

    async def _ack(self, ack: Request, source: Source) -> None:
        self.received.append(ack)

    def invites(self) -> list[Request]:
        return [r for r in self.received if r.method == "INVITE"]

    # ----- UAC (termination starts here) -----------------------------------------------

    def invite_request(
        self, target_uri: str, caller: str | None = None, route: tuple[str, ...] = ()
    ) -> Request:
        """An INVITE to ``target_uri`` from ``caller``; ``route``: its preloaded Route (a UE's
        Service-Route, TS 24.229 5.1.2A.1.1: the request goes to its S-CSCF as originating)."""
        caller = caller or f"sip:dave@{self.domain}"
        user = caller.partition(":")[2].partition("@")[0] or "dave"
        headers = (
            Header("Max-Forwards", "70"),
            Header("To", f"<{target_uri}>"),
            Header("From", f"<{caller}>;tag={secrets.token_hex(5)}"),
            Header("Call-ID", f"{secrets.token_hex(8)}@{self.domain}"),
            Header("CSeq", "1 INVITE"),
            Header("Contact", f"<sip:{user}@{self.node.host}:{self.node.port};transport=tcp>"),
            Header("P-Asserted-Identity", f"<{caller}>"),
            *(Header("Route", value) for value in route),
            Header("Content-Length", "0"),
        )
        return Request(headers=headers, body=b"", method="INVITE", uri=target_uri)

    def message_request(self, target_uri: str, text: str) -> Request:
        """An out-of-dialog MESSAGE (RFC 3428) from dave of this party's domain to ``target_uri``."""
        return self._standalone("MESSAGE", target_uri, (Header("Content-Type", "text/plain"),), text.encode())

    def options_request(self, target_uri: str) -> Request:
        """An out-of-dialog OPTIONS (RFC 3261 11.1) from dave of this party's domain to ``target_uri``."""
        return self._standalone("OPTIONS", target_uri, (Header("Accept", "application/sdp"),), b"")

    def _standalone(self, method: str, target_uri: str, extra: tuple[Header, ...], body: bytes) -> Request:
        caller = f"sip:dave@{self.domain}"
        headers = (
            Header("Max-Forwards", "70"),
            Header("To", f"<{target_uri}>"),
            Header("From", f"<{caller}>;tag={secrets.token_hex(5)}"),
            Header("Call-ID", f"{secrets.token_hex(8)}@{self.domain}"),
            Header("CSeq", f"1 {method}"),
            Header("P-Asserted-Identity", f"<{caller}>"),
            *extra,
            Header("Content-Length", str(len(body))),
        )
        return Request(headers=headers, body=body, method=method, uri=target_uri)

    async def message(self, target_uri: str, via: Target, text: str, *, wait: float = EVENT_WAIT) -> Response:
        """Send ``text`` to ``target_uri`` in a MESSAGE through ``via`` (the I-CSCF); returns the
        final response."""
        return await self.send_standalone(self.message_request(target_uri, text), via, wait=wait)

    async def send_standalone(self, request: Request, via: Target, *, wait: float = EVENT_WAIT) -> Response:
        """Send an out-of-dialog non-INVITE ``request`` (MESSAGE, OPTIONS) through ``via`` (the I-CSCF);
        returns the final response."""
        self.call_ids.append(request.call_id)
        handle = self.node.send_request(request, via, on_response=self._response)
        return await asyncio.wait_for(handle.final, wait)

    def _response(self, response: Response) -> None:
        self.responses.append(response)
        self.response_times.append(time.monotonic())

    async def call(
        self,
        target_uri: str,
        via: Target,
        *,
        wait: float = EVENT_WAIT,
        caller: str | None = None,
        route: tuple[str, ...] = (),
    ) -> Response:
        """Place a call through ``via`` (the I-CSCF; an IMS user's S-CSCF), as ``caller`` (dave
        of this party's domain by default) with the preloaded ``route``; ACK a 2xx. Returns the
        final response."""
        invite = self.invite_request(target_uri, caller, route)
        self.call_ids.append(invite.call_id)
        handle = self.node.send_request(invite, via, on_response=self._response)
        final = await asyncio.wait_for(handle.final, wait)
        await self._ack_2xx(handle.request, final)
        return final

    async def call_until(
        self, target_uri: str, via: Target, *, when: Callable[[], bool], wait: float = EVENT_WAIT
    ) -> ClientHandle:
        """Place a call through ``via`` and return once ``when()`` holds (at most ``wait`` s;
        TimeoutError otherwise): the call goes on, and :meth:`final_of` waits for its end."""
        invite = self.invite_request(target_uri)
        self.call_ids.append(invite.call_id)
        handle = self.node.send_request(invite, via, on_response=self._response)
        await wait_until_async(when, "the moment the call was waiting for", wait)
        return handle

    async def final_of(self, handle: ClientHandle, *, wait: float = EVENT_WAIT) -> Response | None:
        """The final response to the call of ``handle`` (None if none came within ``wait`` s); a 2xx
        is ACKed here, a non-2xx by the INVITE's client transaction (17.1.1.3)."""
        try:
            final = await asyncio.wait_for(asyncio.shield(handle.final), wait)
        except TimeoutError:
            return None
        await self._ack_2xx(handle.request, final)
        return final

    async def call_then_cancel(
        self, target_uri: str, via: Target, *, when: Callable[[], bool], reason: str, wait: float = EVENT_WAIT
    ) -> tuple[Response, Response | None]:
        """Place a call through ``via`` and CANCEL it once ``when()`` holds (at most ``wait`` s;
        RFC 3261 9.1: only after a provisional response, which ``when`` must imply), with
        ``Reason: reason`` (RFC 3326). Returns (the final response to the CANCEL, the final
        response to the INVITE; None if none came within ``wait``: the checks say what is missing)."""
        handle = await self.call_until(target_uri, via, when=when, wait=wait)
        # RFC 3261 9.1: the INVITE's Request-URI, Call-ID, To, From, CSeq number and its one Via
        transaction = handle.transaction
        assert isinstance(transaction, InviteClientTransaction)
        cancel = transaction.cancel_request().with_header("Reason", reason)
        handle.cancelled = True  # the node sends no CANCEL of its own for it
        cancelled = await asyncio.wait_for(self.node.send_request(cancel, via, add_via=False).final, wait)
        return cancelled, await self.final_of(handle, wait=wait)

    async def _ack_2xx(self, invite: Request, final: Response) -> None:
        if 200 <= final.status < 300:
            ack = self.ack_for(invite, final)
            await self.node.send_ack(ack, Resolver().resolve(next_hop_uri(ack.uri, ack.get_all("Route"))))
            self.established.append((invite, final))

    async def in_dialog(
        self, method: str, *, wait: float = EVENT_WAIT, via: Target | None = None
    ) -> Response | None:
        """Send ``method`` (a BYE, an INFO) in the last session this party set up, on the dialog's
        route set (RFC 3261 12.2.1.1): a request of the core towards the WIC the session was
        delivered to (TR 23.701 5.2.2.5.4 step 5). With ``via``, the request, its Route unchanged,
        goes to that address instead of the first Route's (RFC 3261 8.1.2: "MAY be sent to any
        server that the UA is certain will honor the Route"; a caller with one connection to the
        IMS entry point, as SIPp over TCP). Returns its final response; None if none came within
        ``wait`` seconds (the client transaction's own 408 would come only at Timer F, 32 s)."""
        assert self.established, "the remote party set up no session"
        invite, final = self.established[-1]
        request = self.in_dialog_request(invite, final, method)
        target = via or Resolver().resolve(next_hop_uri(request.uri, request.get_all("Route")))
        try:
            return await asyncio.wait_for(self.node.send_request(request, target).final, wait)
        except TimeoutError:
            return None

    def in_dialog_request(self, invite: Request, response: Response, method: str) -> Request:
        """A request in the dialog ``response`` (a 2xx) set up for ``invite``, with the dialog's next
        CSeq (RFC 3261 12.2.1.1)."""
        cseq = self._local_cseq.get(invite.call_id, invite.cseq.number) + 1
        self._local_cseq[invite.call_id] = cseq
        return self._dialog_request(invite, response, method, cseq)

    @staticmethod
    def _dialog_request(invite: Request, response: Response, method: str, cseq: int) -> Request:
        """``method`` in the dialog ``response`` (a 2xx to ``invite``) set up, RFC 3261 12.2.1.1: the
        remote target (the 2xx's Contact) as Request-URI, the route set (its Record-Route reversed,
        12.1.2), the dialog's tags and Call-ID; no Via (the transaction layer's)."""
        target = response.contacts[0].uri if response.contacts else invite.uri
        headers = (
            Header("Max-Forwards", "70"),
            Header("To", response.get("To") or ""),
            Header("From", invite.get("From") or ""),
            Header("Call-ID", invite.call_id),
            Header("CSeq", f"{cseq} {method}"),
            *(Header("Route", r) for r in reversed(response.get_all("Record-Route"))),
            Header("Content-Length", "0"),
        )
        return Request(headers=headers, body=b"", method=method, uri=target)

    def final_responses_to_last_call(self) -> list[tuple[float, Response]]:
        """(arrival time, response) of every final response to the last session placed."""
        if not self.call_ids:
            return []
        return [
            (at, r)
            for at, r in zip(self.response_times, self.responses, strict=True)
            if r.call_id == self.call_ids[-1] and r.is_final
        ]

    def responses_to_last_call(self, status: int) -> list[Response]:
        """Every response with ``status`` received for the last session placed."""
        if not self.call_ids:
            return []
        return [r for r in self.responses if r.call_id == self.call_ids[-1] and r.status == status]

    def ack_for(self, invite: Request, response: Response) -> Request:
        """The ACK of a 2xx to ``invite`` (RFC 3261 13.2.2.4): on the route set the response made,
        the INVITE's CSeq number, a Via of its own (an ACK of a 2xx is a transaction of its own)."""
        ack = self._dialog_request(invite, response, "ACK", invite.cseq.number)
        via = f"{self.node.via()};branch=z9hG4bK{secrets.token_hex(8)}"
        return ack.with_header("Via", via, first=True)
