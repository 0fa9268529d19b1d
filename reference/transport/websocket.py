"""SIP over secure WebSocket (RFC 7118), the IWF's listener towards WICs.

The handshake checks of TR 23.701 5.2.2.5.2 step 2 live here as in websockets' own
``server.py`` (sans-I/O checks on the request before any SIP is read):

- the ``sip`` subprotocol (RFC 7118 4.1): a client that does not offer it is refused
  with HTTP 400 by websockets' negotiation;
- the ``Origin`` (RFC 6454) must belong to a WWSF authorised for this eP-CSCF,
  otherwise HTTP 403 and the connection never carries SIP (the CORS check of step 2).

Each accepted connection is a *flow* with an id; messages received on it are handed to
the owner with that flow id, and :meth:`WebSocketListener.send` sends back over a flow
(RFC 5626: the edge proxy routes to a WIC over the connection its flow token names).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import itertools
import logging
import secrets
import ssl
from collections.abc import Callable, Collection

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from reference.sip.errors import SipError
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response
from reference.sip.parser import rejection_for

from .endpoint import TransportFailure

__all__ = ["Flow", "WebSocketListener", "origin_allowed"]

log = logging.getLogger("wimpu.transport.ws")

Message = Request | Response
_ids = itertools.count(secrets.randbelow(2**31) + 1)
"""Flow ids start at a random number in each process: a flow token (``<name>.<id>``)
stored in the durable wIMPU Registrar by an earlier run of the same eP-CSCF must never
name a WebSocket of this run (it would deliver a call to another WIC)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Flow:
    """One WebSocket connection from a WIC."""

    id: int
    remote: tuple[str, int]
    origin: str | None
    transport: str
    "WS or WSS."


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """TR 23.701 5.2.2.5.2 step 2: is ``origin`` a WWSF authorised for this eP-CSCF?

    Origins compare as scheme://host[:port], case-insensitively (RFC 6454 5).
    A request without Origin is not from a browser page and is refused.
    """
    if not origin:
        return False
    return origin.strip().lower().rstrip("/") in {a.lower().rstrip("/") for a in allowed}


FlowReceiver = Callable[[Message, Flow], None]
FlowEvent = Callable[[Flow], None]


class WebSocketListener:
    """A WSS (or WS) listener carrying SIP, one SIP message per WebSocket message."""

    def __init__(
        self,
        receiver: FlowReceiver,
        *,
        allowed_origins: Callable[[], Collection[str]],
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_size: int = 65_535,
        on_open: FlowEvent | None = None,
        on_close: FlowEvent | None = None,
    ) -> None:
        self.receiver = receiver
        self.allowed_origins = allowed_origins
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.max_size = max_size
        self.on_open = on_open
        self.on_close = on_close
        self.flows: dict[int, tuple[Flow, ServerConnection]] = {}
        self._server: Server | None = None

    @property
    def scheme(self) -> str:
        return "wss" if self.ssl_context else "ws"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            ssl=self.ssl_context,
            subprotocols=["sip"],  # type: ignore[list-item]
            process_request=self._check_handshake,
            max_size=self.max_size,
            server_header="wimpu-reference-iwf",
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _check_handshake(self, connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.allowed_origins()):
            log.warning(
                "IWF: WebSocket handshake from %s refused: Origin %r is not an authorised "
                "WWSF (TR 23.701 5.2.2.5.2 step 2)",
                connection.remote_address,
                origin,
            )
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Origin not authorised for this eP-CSCF\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        remote = connection.remote_address
        flow = Flow(
            id=next(_ids),
            remote=(str(remote[0]), int(remote[1])),
            origin=_origin(connection.request.headers if connection.request else None),
            transport="WSS" if self.ssl_context else "WS",
        )
        self.flows[flow.id] = (flow, connection)
        log.info("IWF: flow %d open from %s:%d (Origin %s)", flow.id, *flow.remote, flow.origin)
        if self.on_open:
            self.on_open(flow)
        try:
            async for data in connection:
                self._received(flow, data)
        except ConnectionClosed:
            pass
        finally:
            del self.flows[flow.id]
            log.info("IWF: flow %d closed", flow.id)
            if self.on_close:
                self.on_close(flow)

    def _received(self, flow: Flow, data: str | bytes) -> None:
        try:
            message = frame_websocket_message(data, max_size=self.max_size)
        except SipError as exc:
            log.warning("IWF: flow %d: rejected message: %s (%s)", flow.id, exc, type(exc).__name__)
            raw = data.encode("utf-8") if isinstance(data, str) else data
            answer = rejection_for(raw, exc)
            if answer is not None:
                asyncio.get_running_loop().create_task(self._send_raw(flow.id, answer))
            return
        log.info("IWF: flow %d -> %s", flow.id, message.summary())
        self.receiver(message, flow)

    async def _send_raw(self, flow_id: int, data: bytes) -> None:
        entry = self.flows.get(flow_id)
        if entry is not None:
            try:
                await entry[1].send(data.decode("utf-8", "replace"))
            except ConnectionClosed:
                pass

    def close(self, flow_id: int, code: int, reason: str) -> None:
        """Close a flow from this side (RFC 6455 7.1.2); its ``on_close`` follows."""
        entry = self.flows.get(flow_id)
        if entry is not None:
            log.info("IWF: closing flow %d (%d %s)", flow_id, code, reason)
            asyncio.get_running_loop().create_task(entry[1].close(code, reason[:120]))

    def abort(self) -> None:
        """Drop every connection and the listener at once, as a crash would (no close frames)."""
        if self._server is not None:
            self._server.close(close_connections=False)
        for _, connection in list(self.flows.values()):
            connection.transport.abort()

    def is_open(self, flow_id: int) -> bool:
        return flow_id in self.flows

    async def send(self, flow_id: int, message: Message) -> None:
        """Send one SIP message as one text WebSocket message over a flow.

        Raises:
            TransportFailure: the flow is closed (the caller answers 430 Flow Failed,
                RFC 5626 5.3).
        """
        entry = self.flows.get(flow_id)
        if entry is None:
            raise TransportFailure(f"flow {flow_id} is closed")
        flow, connection = entry
        log.info("IWF: flow %d <- %s", flow.id, message.summary())
        try:
            await connection.send(message.to_bytes().decode("utf-8"))
        except ConnectionClosed:
            raise TransportFailure(f"flow {flow_id} closed while sending") from None


def _origin(headers: Headers | None) -> str | None:
    return None if headers is None else headers.get("Origin")
