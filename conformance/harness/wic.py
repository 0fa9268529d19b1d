"""An emulated WIC (WebRTC IMS Client): web login at the WWSF, then SIP over WSS.

It plays TR 23.701 5.2.2.5.2 steps 1-3 from the client side with real HTTPS, a real WSS
connection (RFC 7118: subprotocol ``sip``, ``.invalid`` Via and Contact hosts, one SIP
message per WebSocket message), by default in the suite's own shape, close to JsSIP's
(``+sip.instance``, ``reg-id``, ``Supported: path, gruu, outbound``, ``Authorization: Bearer``).

Every message the WIC sends or receives is kept in :attr:`Wic.sent` and
:attr:`Wic.received` as raw bytes, so checks can compare what the harness saw with what
was captured on the wire.

The shapes of its messages are a :class:`~conformance.harness.dialects.Dialect`'s: the suite's
own (:data:`~conformance.harness.dialects.HARNESS`) unless the WIC is given JsSIP's, SIP.js's or
a sipML5-like client's (``dialect=``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import ssl
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHeader, InvalidMessage, InvalidStatus, NegotiationError

from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response
from reference.sip.transaction import make_response

from . import dialects
from .dialects import ANSWER_SDP, HARNESS, OFFER_SDP, Dialect
from .expect import EVENT_WAIT, wait_until_async

FAILURES = {"busy": 486, "decline": 480}
"The final response of each refusing answer mode (:attr:`Wic.answer_mode`)."

__all__ = [
    "ANSWER_SDP",
    "OFFER_SDP",
    "HandshakeRefused",
    "Login",
    "LoginAnswer",
    "LoginThrottled",
    "Wic",
    "login_attempt",
]


class HandshakeRefused(Exception):
    """The eP-CSCF refused the WebSocket handshake (step 2)."""

    def __init__(self, status: int | None) -> None:
        """``status``: the HTTP status of the refusal; None: the connection closed with no answer."""
        shown = f"with HTTP {status}" if status is not None else "with no HTTP answer (connection closed)"
        super().__init__(f"WebSocket handshake refused {shown}")
        self.status = status


class HandshakeFailed(Exception):
    """The eP-CSCF accepted the WebSocket handshake (101) with an answer the WIC must not take, and
    the WIC failed the connection (RFC 6455 4.1: e.g. a subprotocol it did not offer)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """What the WWSF returned for a successful web login (step 1)."""

    identity: str
    token: str = dataclasses.field(repr=False)
    ep_cscf_url: str
    expires_in: int

    def __repr__(self) -> str:  # never show the token (tooling notes: allure repr())
        return f"Login(identity={self.identity!r}, ep_cscf_url={self.ep_cscf_url!r})"


@dataclasses.dataclass(frozen=True, slots=True)
class LoginAnswer:
    """The WWSF's answer to a log-in, whatever it was (step 1): its status and JSON body."""

    status: int
    body: dict[str, Any] = dataclasses.field(repr=False)
    retry_after: str | None = None
    "The answer's Retry-After (RFC 9110 10.2.3), if any: a refusal for the rate of log-ins."

    def __repr__(self) -> str:  # the body may hold a token
        return (
            f"LoginAnswer(status={self.status}, keys={sorted(self.body)!r}, retry_after={self.retry_after!r})"
        )


class LoginThrottled(PermissionError):
    """The WWSF refused a log-in 429 (RFC 6585 4): for the rate of log-ins, before any authentication."""

    def __init__(self, retry_after: str | None, message: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        "The answer's Retry-After, if any."


async def login_attempt(
    wwsf_origin: str, username: str, password: str, ssl_context: ssl.SSLContext
) -> LoginAnswer:
    """Step 1 as the browser tries it: ``POST /login`` over HTTPS (solution profile), answer kept
    as it came, refusal or not. A body that is not a JSON object is kept as ``{"text": ...}``."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{wwsf_origin}/login", json={"username": username, "password": password}, ssl=ssl_context
        ) as r:
            text = await r.text()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    return LoginAnswer(
        r.status, body if isinstance(body, dict) else {"text": text}, r.headers.get("Retry-After")
    )


async def web_login(wwsf_origin: str, username: str, password: str, ssl_context: ssl.SSLContext) -> Login:
    """Step 1: HTTPS to the WWSF, web authentication, security token issued."""
    answer = await login_attempt(wwsf_origin, username, password, ssl_context)
    body = answer.body
    if answer.status == 429:
        raise LoginThrottled(answer.retry_after, f"WWSF login refused (429): {body.get('detail')}")
    if answer.status != 200:
        raise PermissionError(f"WWSF login refused ({answer.status}): {body.get('detail')}")
    return Login(
        identity=body["identity"],
        token=body["token"],
        ep_cscf_url=body["ep_cscf"]["uri"] if isinstance(body["ep_cscf"], dict) else body["ep_cscf"],
        expires_in=int(body["expires_in"]),
    )


class Wic:
    """One WIC instance: one WebSocket connection, one Contact."""

    def __init__(
        self,
        name: str,
        *,
        ssl_context: ssl.SSLContext,
        timeout: float = EVENT_WAIT,
        dialect: Dialect = HARNESS,
    ) -> None:
        """``timeout``: how long the WIC waits for its handshake and for each final response;
        ``dialect``: the client family whose shapes its messages take (the suite's by default)."""
        self.name = name
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.dialect = dialect
        self.host = dialects.random_host(dialect)
        self.contact_user = dialects.random_user(dialect)
        self.instance = f"urn:uuid:{uuid.uuid4()}"
        self.call_id = f"{secrets.token_hex(8)}@{self.host}"
        self.from_tag = secrets.token_hex(5)
        self.cseq = dialects.first_cseq(dialect) - 1
        self.token: str | None = None
        "The token of the WIC's last REGISTER that carried one (a dialect may repeat it)."
        self.connection: ClientConnection | None = None
        self.sent: list[bytes] = []
        self.received: list[bytes] = []
        self._inbox: asyncio.Queue[Request | Response] = asyncio.Queue()
        self._stash: list[Response] = []
        "Responses read while waiting for another one (:meth:`_response`)."
        self._reader: asyncio.Task[None] | None = None
        self.answer_mode = "ring"
        """What to do with an incoming INVITE: 'ring' (180 only), 'answer' (180 then 200), 'busy'
        (180 then 486 Busy Here), 'decline' (180 then 480 Temporarily Unavailable: what JsSIP's
        ``terminate()`` sends for an incoming session not yet answered)."""
        self.answer_delay = 0.0
        "Seconds before answering an INVITE (after :attr:`answer_when`)."
        self.answer_when: Callable[[], bool] | None = None
        "What an INVITE waits for before it is answered (at most :attr:`timeout`), None: nothing."
        self.answer_headers: tuple[tuple[str, str], ...] = ()
        """Header fields the WIC writes into each provisional response and 2xx to an incoming INVITE (a
        page that claims an identity in its answers); none by default. Its refusals get none."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.incoming: list[Request] = []
        "Requests received from the eP-CSCF (INVITE, CANCEL, ACK, BYE ...)."
        self._pending: dict[str, Request] = {}
        self.tag = secrets.token_hex(5)
        self.last_invite: Request | None = None
        self.last_message: Request | None = None
        "The last out-of-dialog MESSAGE this WIC sent (:meth:`message`)."
        "The last INVITE this WIC sent (its dialog, with the final response, for in-dialog requests)."
        self.finals_sent: list[tuple[float, Response]] = []
        "(time.monotonic(), response) of each final response this WIC sent to an incoming INVITE."

    @property
    def contact_uri(self) -> str:
        """The URI of this WIC's Contact (RFC 7118: a random ``.invalid`` host, the dialect's transport)."""
        return dialects.contact_uri(self.dialect, self.contact_user, self.host)

    # ----- step 2 --------------------------------------------------------------------

    async def connect(
        self, url: str, *, origin: str | None, subprotocols: tuple[str, ...] = ("sip",)
    ) -> None:
        """Step 2: open the WSS connection to the eP-CSCF, with the page's Origin, offering
        ``subprotocols`` (RFC 7118 4.1: ``sip``)."""
        try:
            self.connection = await connect(
                url,
                ssl=self.ssl_context if url.startswith("wss:") else None,
                origin=origin,  # type: ignore[arg-type]
                subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]  # none: no header
                open_timeout=self.timeout,
            )
        except InvalidStatus as exc:
            raise HandshakeRefused(exc.response.status_code) from None
        except InvalidMessage:  # closed before any HTTP answer: a refusal without a status
            raise HandshakeRefused(None) from None
        except (NegotiationError, InvalidHeader) as exc:  # a 101 the WIC must not take (RFC 6455 4.1)
            raise HandshakeFailed(f"the WIC failed the connection the eP-CSCF accepted: {exc}") from None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.connection is not None
        try:
            async for data in self.connection:
                raw = data.encode() if isinstance(data, str) else data
                self.received.append(raw)
                message = frame_websocket_message(raw)
                if isinstance(message, Request):
                    self.incoming.append(message)
                    task = asyncio.get_running_loop().create_task(self._uas(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    await self._inbox.put(message)
        except Exception:  # noqa: BLE001 - a closed connection ends the reader
            return

    # ----- termination: the WIC as UAS (5.2.2.5.4 step 5) --------------------------------

    async def _uas(self, request: Request) -> None:
        if request.method == "INVITE":
            self._pending[request.call_id] = request
            at_once = dialects.provisionals(self.dialect, request, to_tag=self.tag, contact=self.contact_uri)
            for provisional in at_once:
                await self.send(self._written(provisional))
            failure = FAILURES.get(self.answer_mode)
            if self.answer_mode != "answer" and failure is None:
                return  # rings until cancelled
            if self.answer_when is not None:
                try:
                    await wait_until_async(self.answer_when, "the moment to answer", self.timeout)
                except AssertionError:
                    pass  # answered anyway: the scenario's checks tell what went wrong
            # the delay is the behaviour asked for (answer later than another WIC), not a wait
            await asyncio.sleep(self.answer_delay)
            if request.call_id not in self._pending:
                return  # cancelled meanwhile
            if failure is not None:
                await self._final(request, make_response(request, failure, to_tag=self.tag))
                return
            ok = dialects.answer(self.dialect, request, to_tag=self.tag, contact=self.contact_uri)
            await self._final(request, self._written(ok))
        elif request.method == "CANCEL":
            await self.send(make_response(request, 200, to_tag=self.tag))
            invite = self._pending.get(request.call_id)
            if invite is not None:
                await self._final(invite, make_response(invite, 487, to_tag=self.tag))
        elif request.method in ("BYE", "OPTIONS", "UPDATE", "INFO", "MESSAGE"):
            await self.send(make_response(request, 200, to_tag=self.tag))

    def _written(self, response: Response) -> Response:
        """``response`` with the header fields of :attr:`answer_headers` added."""
        for name, value in self.answer_headers:
            response = response.with_header(name, value)
        return response

    async def _final(self, invite: Request, response: Response) -> None:
        """Send the final response to an incoming ``invite`` (once) and note when."""
        self._pending.pop(invite.call_id, None)
        self.finals_sent.append((time.monotonic(), response))
        await self.send(response)

    def answered_invites(self) -> list[Request]:
        return [r for r in self.incoming if r.method == "INVITE"]

    def cancels(self) -> list[Request]:
        return [r for r in self.incoming if r.method == "CANCEL"]

    def sent_requests(self, method: str) -> list[bytes]:
        """The raw bytes of every ``method`` request this WIC sent, in order."""
        return [m for m in self.sent if m.startswith(method.encode() + b" ")]

    # ----- origination (5.2.2.5.3 step 1) -------------------------------------------------

    def invite_request(
        self,
        identity: str,
        target: str,
        *,
        asserted: str | None = None,
        preferred: str | None = None,
        route: tuple[str, ...] = (),
    ) -> Request:
        """An INVITE; ``asserted``: a P-Asserted-Identity the WIC writes itself (which the
        eP-CSCF must not let through, RFC 3325 9.1); ``preferred``: a P-Preferred-Identity
        (RFC 3325 9.2: honoured only for an identity the WIC is authorised to use). In the WIC's
        dialect: the token too when it sends it on every request."""
        if not self.dialect.invite_cseq_random:
            self.cseq += 1
        return dialects.invite_request(
            self.dialect,
            identity=identity,
            target=target,
            call_id=f"{secrets.token_hex(8)}@{self.host}",
            cseq=dialects.invite_cseq(self.dialect, self.cseq),
            host=self.host,
            contact=self.contact_uri,
            token=self.token,
            asserted=asserted,
            preferred=preferred,
            route=route,
        )

    def cancel_for(self, invite: Request) -> Request:
        """The CANCEL of ``invite`` (RFC 3261 9.1): its Request-URI, Call-ID, To, From, CSeq
        number and its one Via (same branch), method CANCEL."""
        return self._hop_by_hop(invite, "CANCEL", invite.get("To") or "")

    def ack_for_failure(self, invite: Request, response: Response) -> Request:
        """The ACK of a non-2xx final response, part of the INVITE transaction (RFC 3261
        17.1.1.3): the INVITE's Request-URI, Via and CSeq number, the response's To."""
        return self._hop_by_hop(invite, "ACK", response.get("To") or "")

    def _hop_by_hop(self, invite: Request, method: str, to: str) -> Request:
        lines = [
            f"{method} {invite.uri} SIP/2.0", f"Via: {invite.get('Via')}", "Max-Forwards: 70",
            f"To: {to}", f"From: {invite.get('From')}", f"Call-ID: {invite.call_id}",
            f"CSeq: {invite.cseq.number} {method}", "Content-Length: 0",
        ]  # fmt: skip
        message = frame_websocket_message("\r\n".join(lines) + "\r\n\r\n")
        assert isinstance(message, Request)
        return message

    def ack_for(self, invite: Request, response: Response) -> Request:
        """The ACK of a 2xx: a new transaction along the route set (RFC 3261 13.2.2.4)."""
        return self.in_dialog_request(invite, response, "ACK", invite.cseq.number)

    def in_dialog_request(self, invite: Request, response: Response, method: str, cseq: int) -> Request:
        """A request in the dialog ``invite`` set up with the 2xx ``response``, as its caller
        sends it: Request-URI the remote target, Route the Record-Route reversed (RFC 3261
        12.1.2, 12.2.1.1). Any WIC may send it: the eP-CSCF must tell whose dialog it is."""
        return dialects.in_dialog_request(
            self.dialect, invite, response, method, cseq, host=self.host, token=self.token
        )

    def callee_request(self, invite: Request, method: str, cseq: int = 1) -> Request:
        """A request in the dialog the incoming ``invite`` offered this WIC, as its callee sends it
        (with the tag of this WIC's answers), whether or not this WIC's answer won."""
        return dialects.callee_request(self.dialect, invite, method, cseq, to_tag=self.tag, host=self.host)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self._reader is not None:
            self._reader.cancel()
        for task in list(self._tasks):  # an answer still waiting for its moment
            task.cancel()

    def take_contact_of(self, other: Wic) -> None:
        """From now on register ``other``'s contact: its Contact URI, ``+sip.instance`` and
        ``reg-id``, Call-ID, From tag and CSeq (a refresh of ``other``'s registration, RFC 3261
        10.2.4), over this WIC's own WebSocket (RFC 5626 6: the same instance on a new flow)."""
        self.host, self.contact_user, self.instance = other.host, other.contact_user, other.instance
        self.call_id, self.from_tag, self.cseq = other.call_id, other.from_tag, other.cseq

    # ----- step 3 --------------------------------------------------------------------

    def register_request(
        self,
        identity: str,
        *,
        token: str | None,
        expires: int = 600,
        registrar: str | None = None,
        contact_star: bool = False,
        carriage: dialects.Carriage = "header",
        from_identity: str | None = None,
    ) -> Request:
        """The REGISTER of step 3, in the WIC's dialect (:mod:`~conformance.harness.dialects`).

        The token goes as ``carriage`` says (:data:`~conformance.harness.dialects.Carriage`): in
        ``Authorization: Bearer`` (RFC 8898; TS 24.371's ``access_token=`` form), or as an
        ``application/jwt`` body: the seed's "attachment to the request".
        ``from_identity``: a From other than the identity registered (RFC 3261 10.2: To is
        the address-of-record, From the one responsible for the registration). ``expires`` 0
        is the dialect's de-registration (SIP.js's carries no token).
        """
        self.cseq += 1
        domain = identity.partition("@")[2] or identity
        if token is not None:
            self.token = token
        if self.dialect.contact_user_is_identity:
            self.contact_user = identity.removeprefix("sip:").partition("@")[0]
        deregistration = expires == 0 and not contact_star
        own_tag = deregistration and self.dialect.deregister_new_from_tag
        return dialects.register_request(
            self.dialect,
            identity=identity,
            registrar=f"sip:{registrar or domain}",
            from_identity=from_identity or identity,
            from_tag=secrets.token_hex(5) if own_tag else self.from_tag,
            call_id=self.call_id,
            cseq=self.cseq,
            host=self.host,
            contact=self.contact_uri,
            instance=self.instance,
            expires=expires,
            token=token,
            carriage=carriage,
            contact_star=contact_star,
            agent=self.name,
        )

    async def send(self, message: Request | Response) -> None:
        assert self.connection is not None, "connect() first"
        raw = message.to_bytes()
        self.sent.append(raw)
        await self.connection.send(raw.decode())

    async def request(self, request: Request, *, within: float | None = None) -> Response:
        """Send a request and wait for its final response (provisionals skipped), at most
        ``within`` seconds (default :attr:`timeout`)."""
        await self.send(request)
        return await self._response(request, final=True, within=within)

    async def _response(self, request: Request, final: bool, within: float | None = None) -> Response:
        """The next response to ``request`` (a final one, or a provisional other than 100) within
        ``within`` seconds (default :attr:`timeout`); responses to other requests wait in
        :attr:`_stash` for their own turn."""

        def wanted(m: Response) -> bool:
            return m.cseq == request.cseq and (m.is_final if final else 100 < m.status < 200)

        for kept in self._stash:
            if wanted(kept):
                self._stash.remove(kept)
                return kept
        wait = self.timeout if within is None else within
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(self._inbox.get(), max(remaining, 0.01))
            except TimeoutError:
                kind = "final" if final else "provisional"
                raise TimeoutError(
                    f"{self.name}: no {kind} response to {request.method} (CSeq {request.cseq.number}) "
                    f"within {wait}s"
                ) from None
            if isinstance(message, Response):
                if wanted(message):
                    return message
                self._stash.append(message)

    async def invite_until_ringing(self, identity: str, target: str) -> Request:
        """Originate a session (5.2.2.5.3 step 1) and wait until it rings (a provisional response
        other than 100, within :attr:`timeout`); returns the INVITE, whose final response
        :meth:`final_of` waits for."""
        invite = self.invite_request(identity, target)
        self.last_invite = invite
        await self.send(invite)
        await self._response(invite, final=False)
        return invite

    async def final_of(self, invite: Request) -> Response | None:
        """The final response to ``invite`` (None if none came within :attr:`timeout`), ACKed."""
        try:
            final = await self._response(invite, final=True)
        except TimeoutError:
            return None
        ack = self.ack_for_failure(invite, final) if final.status >= 300 else self.ack_for(invite, final)
        await self.send(ack)
        return final

    async def invite_then_cancel(self, identity: str, target: str) -> tuple[Response, Response | None]:
        """Originate a session and CANCEL it once it rings (RFC 3261 9.1: not before a
        provisional response); ACK the INVITE's final response if it is not a 2xx.
        Returns (the final response to the CANCEL, the final response to the INVITE; None if
        none came within :attr:`timeout`: the scenario's checks say what is missing)."""
        invite = self.invite_request(identity, target)
        self.last_invite = invite
        await self.send(invite)
        await self._response(invite, final=False)
        cancel = self.cancel_for(invite)
        await self.send(cancel)
        cancelled = await self._response(cancel, final=True)
        try:
            final = await self._response(invite, final=True)
        except TimeoutError:
            return cancelled, None
        if final.status >= 300:
            await self.send(self.ack_for_failure(invite, final))
        elif final.status >= 200:  # the answer crossed the CANCEL: the session exists, ACK it
            await self.send(self.ack_for(invite, final))
        return cancelled, final

    async def invite(
        self,
        identity: str,
        target: str,
        *,
        asserted: str | None = None,
        preferred: str | None = None,
        route: tuple[str, ...] = (),
        within: float | None = None,
    ) -> Response:
        """Originate a session (5.2.2.5.3 step 1); ACK a 2xx. Returns the final response, waited
        for at most ``within`` seconds (default :attr:`timeout`; TimeoutError when none came)."""
        invite = self.invite_request(identity, target, asserted=asserted, preferred=preferred, route=route)
        self.last_invite = invite
        response = await self.request(invite, within=within)
        if 200 <= response.status < 300:
            await self.send(self.ack_for(invite, response))
        return response

    async def message(self, identity: str, target: str, text: str) -> Response:
        """Send ``text`` to ``target`` in an out-of-dialog MESSAGE (RFC 3428) with the identity
        ``identity``; returns the final response."""
        request = self._standalone("MESSAGE", identity, target, text)
        self.last_message = request
        return await self.request(request)

    async def options(self, identity: str, target: str) -> Response:
        """Query ``target``'s capabilities in an out-of-dialog OPTIONS (RFC 3261 11) with the identity
        ``identity``; returns the final response."""
        return await self.outside_dialog("OPTIONS", identity, target)

    async def outside_dialog(self, method: str, identity: str, target: str) -> Response:
        """Send ``method`` to ``target`` outside any dialog (no To tag, a Call-ID of its own) with the
        identity ``identity``; returns the final response. For a method that exists only in a dialog
        (BYE, INFO, UPDATE, PRACK) this is a request no client should send (RFC 3261 15.1.1)."""
        return await self.request(self._standalone(method, identity, target))

    def _standalone(self, method: str, identity: str, target: str, text: str = "") -> Request:
        self.cseq += 1
        return dialects.standalone_request(
            self.dialect,
            method,
            identity=identity,
            target=target,
            call_id=f"{secrets.token_hex(8)}@{self.host}",
            cseq=self.cseq,
            host=self.host,
            token=self.token,
            text=text,
        )

    async def register(
        self,
        identity: str,
        *,
        token: str | None,
        expires: int = 600,
        carriage: dialects.Carriage = "header",
        from_identity: str | None = None,
        within: float | None = None,
    ) -> Response:
        """Send a REGISTER and wait for its final response, at most ``within`` seconds (default
        :attr:`timeout`; TimeoutError when none came)."""
        request = self.register_request(
            identity, token=token, expires=expires, carriage=carriage, from_identity=from_identity
        )
        return await self.request(request, within=within)
