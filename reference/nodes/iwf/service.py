"""The IWF: the eP-CSCF's contact point for WICs (TR 23.701 5.2.2.2, "decomposed eP-CSCF").

It terminates WSS (RFC 7118) with the Origin check of step 2, validates the WWSF token of
step 4 on every REGISTER, and hands SIP to a P-CSCF over the internal interface
:class:`PcscfPort`, naming the WebSocket flow with a flow token (RFC 5626 edge proxy).
The P-CSCF reaches a WIC back through :meth:`Iwf.send_to_flow`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from reference.limits import DEFAULT_LIMITS, Limits
from reference.nodes.iwf.flow_token import FlowTokens
from reference.nodes.iwf.token_check import (
    TokenError,
    TokenMissing,
    challenge,
    extract_bearer,
    removes_contacts_only,
    validate,
)
from reference.sip.errors import SipError
from reference.sip.identity import IdentityError, canonical_identity
from reference.sip.message import Request, Response
from reference.sip.transaction_base import make_response
from reference.spec import clause
from reference.transport.endpoint import TransportFailure
from reference.transport.websocket import Flow, WebSocketListener

__all__ = ["Iwf", "PcscfPort", "TrustedWwsf"]

log = logging.getLogger("wimpu.iwf")


class PcscfPort(Protocol):
    """The internal interface IWF -> P-CSCF (bundled as eP-CSCF)."""

    async def from_wic(self, message: Request | Response, flow_token: str, identity: str | None) -> None:
        """A SIP message from a WIC; ``identity`` is the token-checked identity of a REGISTER."""

    def flow_opened(self, flow_token: str) -> None:
        """A WIC's WebSocket opened."""

    def flow_closed(self, flow_token: str) -> None:
        """The WebSocket of a flow closed: its contacts are unreachable."""


class TrustedWwsf:
    """What the eP-CSCF trusts of a WWSF: its origin (CORS) and its token keys."""

    def __init__(self, origin: str, keys: Mapping[str, Any], realm: str) -> None:
        self.origin = origin
        self.keys = dict(keys)
        self.realm = realm


class Iwf:
    """WSS listener with Origin and token checks, bound to one P-CSCF."""

    def __init__(
        self,
        *,
        name: str,
        identity: str,
        wwsf: TrustedWwsf,
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Any = None,
        limits: Limits = DEFAULT_LIMITS,
        sock: socket.socket | None = None,
    ) -> None:
        self.name = name
        self.identity = identity
        "The eP-CSCF identity tokens must be issued for (the JWT ``aud``)."
        self.wwsf = wwsf
        self.clock = clock or time.time
        self.tokens = FlowTokens(name)
        "Mints and verifies this IWF's flow tokens (RFC 5626 5.2: unguessable, with a MAC)."
        self.pcscf: PcscfPort | None = None
        self.listener = WebSocketListener(
            self._received,
            allowed_origins=lambda: [self.wwsf.origin],
            ssl_context=ssl_context,
            host=host,
            port=port,
            on_open=self._opened,
            on_close=self._closed,
            max_connections=limits.wss_max_connections,
            max_per_source=limits.wss_max_per_source,
            retry_after=limits.wss_retry_after,
            register_within=limits.wss_register_within,
            sock=sock,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._authorised: dict[int, set[str]] = {}
        "Flow id -> the identities a valid token registered over it (canonical form)."
        self.down = False
        "Set when the eP-CSCF crashes (in-process tests): nothing more is handed to the P-CSCF."

    @property
    def url(self) -> str:
        return self.listener.url

    async def start(self) -> None:
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()
        for task in list(self._tasks):
            task.cancel()

    def flow_token(self, flow: Flow) -> str:
        return self.tokens.mint(flow.id)

    def _flow_id(self, token: str) -> int | None:
        return self.tokens.flow_id(token)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _received(self, message: Request | Response, flow: Flow) -> None:
        if not self.down:
            self._spawn(self._handle(message, flow))

    async def _handle(self, message: Request | Response, flow: Flow) -> None:
        assert self.pcscf is not None, "IWF started without a P-CSCF"
        identity: str | None = None
        if isinstance(message, Request) and message.method == "REGISTER":
            try:
                identity = self.check_token(message)
                self.listener.authorised(flow.id)
                self._authorised.setdefault(flow.id, set()).add(canonical_identity(identity))
            except TokenMissing as exc:
                identity = self._deregistration_on_authorised_flow(message, flow)
                if identity is None:
                    await self._reject_token(message, flow, exc)
                    return
            except TokenError as exc:
                await self._reject_token(message, flow, exc)
                return
            except SipError as exc:
                await self._reply(flow, make_response(message, exc.status, str(exc)[:80]))
                return
        await self.pcscf.from_wic(message, self.flow_token(flow), identity)

    @clause("TR 23.701 5.2.2.5.2", steps=4)
    def check_token(self, request: Request) -> str:
        """Step 4: "The eP-CSCF shall validate the contents of the security token in
        relation to the user identity." Returns the identity the token asserts.

        Raises:
            TokenError: missing (401), invalid (401) or for another identity (403).
        """
        identity = request.to.uri
        token = extract_bearer(request.get_all("Authorization"), request.body, request.get("Content-Type"))
        validate(
            token,
            identity=identity,
            keys=self.wwsf.keys,
            issuer=self.wwsf.origin,
            audience=self.identity,
            now=self.clock(),
        )
        return identity

    @clause("TR 23.701 5.2.2.3.2")
    def _deregistration_on_authorised_flow(self, request: Request, flow: Flow) -> str | None:
        """A REGISTER without a token that only removes contacts, on a flow a valid token
        already authorised for the same identity: the identity, else None (challenged).

        5.2.2.3.2: "The eP-CSCF shall perform the WIC authorization at WIC registration";
        the flow carries that authorisation (RFC 5626: the flow is the WIC's connection), and
        removing a contact gives the WIC nothing it did not have. SIP.js un-REGISTERs
        without the extra headers that carried its token (solution profile, "De-registration
        without a token"). ``Contact: *`` still needs the token."""
        try:
            identity = canonical_identity(request.to.uri)
        except (IdentityError, SipError):
            return None
        if identity not in self._authorised.get(flow.id, set()) or not removes_contacts_only(request):
            return None
        log.info("IWF: de-registration of %s without a token on flow %d, authorised by its earlier REGISTER",
                 identity, flow.id)  # fmt: skip
        return request.to.uri

    async def _reject_token(self, request: Request, flow: Flow, exc: TokenError) -> None:
        log.warning("IWF: REGISTER for %s on flow %d rejected: %s", request.get("To"), flow.id, exc.detail)
        response = make_response(request, exc.status, exc.reason, to_tag=secrets.token_hex(4))
        if exc.status == 401:
            response = response.with_header(
                "WWW-Authenticate", challenge(self.wwsf.realm, self.wwsf.origin, exc.error)
            )
        await self._reply(flow, response)

    async def _reply(self, flow: Flow, response: Response) -> None:
        try:
            await self.listener.send(flow.id, response)
        except TransportFailure as exc:
            log.info("IWF: could not answer on flow %d: %s", flow.id, exc)

    def _opened(self, flow: Flow) -> None:
        if self.pcscf is not None and not self.down:
            self.pcscf.flow_opened(self.flow_token(flow))

    def _closed(self, flow: Flow) -> None:
        self._authorised.pop(flow.id, None)
        if self.pcscf is not None and not self.down:
            self.pcscf.flow_closed(self.flow_token(flow))

    async def send_to_flow(self, flow_token: str, message: Request | Response) -> None:
        """Send to a WIC over the flow the token names.

        Raises:
            TransportFailure: unknown or closed flow (the P-CSCF answers 430 Flow Failed).
        """
        flow_id = self._flow_id(flow_token)
        if flow_id is None:
            raise TransportFailure(f"flow token {flow_token!r} is not one of {self.name}'s")
        await self.listener.send(flow_id, message)

    def close_flow(self, flow_token: str, reason: str) -> None:
        """Close a WIC's WebSocket with 1013 Try Again Later (RFC 6455 7.4.1): its block is
        served by another eP-CSCF now, which the WIC learns from the WWSF (5.2.2.2)."""
        flow_id = self._flow_id(flow_token)
        if flow_id is not None:
            self.listener.close(flow_id, 1013, reason)

    reroutes = False
    "Bundled: a WIC whose block moves away must reconnect (through the WWSF)."

    def serving_changed(self) -> None:
        """Bundled, the IWF has one P-CSCF: nothing to re-route."""

    def flow_is_open(self, flow_token: str) -> bool:
        flow_id = self._flow_id(flow_token)
        return flow_id is not None and self.listener.is_open(flow_id)

    def allowed_origins(self) -> Collection[str]:
        return [self.wwsf.origin]
