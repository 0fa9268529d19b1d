"""SIP over secure WebSocket (RFC 7118), the IWF's listener towards WICs.

The handshake checks of TR 23.701 5.2.2.5.2 step 2 live here as in websockets' own
``server.py`` (sans-I/O checks on the request before any SIP is read):

- the ``sip`` subprotocol (RFC 7118 4.1): a client that does not offer it is refused
  with HTTP 400 by websockets' negotiation;
- the ``Origin`` (RFC 6454) must belong to a WWSF authorised for this eP-CSCF,
  otherwise HTTP 403 and the connection never carries SIP (the CORS check of step 2).

Limits that protect legitimate WICs (issue 13 item 6, ``docs/security.md``):

- at most ``max_connections`` open connections, and ``max_per_source`` from one source
  address (:class:`~reference.transport.admission.ConnectionAdmission`): beyond them the
  handshake is answered HTTP 503 with Retry-After (RFC 6455 4.2.2, RFC 9110 10.2.3);
- a connection must carry an authorised REGISTER (the step 4 token check, reported by
  :meth:`WebSocketListener.authorised`) within ``register_within`` seconds of opening,
  or it is closed with 1008 policy violation (RFC 6455 7.4.1);
- small buffers per connection: asyncio's 256 KiB TLS read buffer is cut to one TLS
  record, at most ``max_queue`` received messages wait, and permessage-deflate uses 4 KiB
  windows (``bench/ws_idle_memory.py`` measures it);
- refused handshakes, bad frames and idle closures are logged through a
  :class:`~reference.logutil.RateLimitedLog`, per source address.

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
import socket
import ssl
from collections.abc import Callable, Collection
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from reference.logutil import Lazy, RateLimitedLog
from reference.sip.errors import SipError
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response
from reference.sip.parser import rejection_for

from .admission import ConnectionAdmission
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

POLICY_VIOLATION = 1008
"RFC 6455 7.4.1: the endpoint received a message that violates its policy."

_TLS_READ_BUFFER = 2**14 + 2048
"One TLS record (RFC 8446 5.2: 2^14 bytes of plaintext plus at most 2048 of expansion)."


def _shrink_tls_read_buffer(transport: Any) -> None:
    """Give back most of the 256 KiB read buffer asyncio's SSLProtocol allocates per connection.

    ``asyncio.sslproto.SSLProtocol.max_size`` (256 KiB in CPython 3.11 to 3.13) is both the
    size of the buffer the socket is read into and of each plaintext read; any size works,
    one TLS record suffices. This reaches into the transport's private protocol, so it does
    nothing unless the attributes are exactly those expected.
    """
    protocol = getattr(transport, "_ssl_protocol", None)
    buffer = getattr(protocol, "_ssl_buffer", None)
    if not isinstance(buffer, bytearray) or len(buffer) <= _TLS_READ_BUFFER:
        return
    if not isinstance(getattr(protocol, "_ssl_buffer_view", None), memoryview):
        return
    protocol.max_size = _TLS_READ_BUFFER  # type: ignore[union-attr]
    protocol._ssl_buffer = bytearray(_TLS_READ_BUFFER)  # type: ignore[union-attr]
    protocol._ssl_buffer_view = memoryview(protocol._ssl_buffer)  # type: ignore[union-attr]


class _LeanConnection(ServerConnection):
    """A server connection that keeps only one TLS record of read buffer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        _shrink_tls_read_buffer(transport)


class WebSocketListener:
    """A WSS (or WS) listener carrying SIP, one SIP message per WebSocket message.

    Args:
        receiver: called with each SIP message and its flow.
        allowed_origins: the Origins of authorised WWSFs (step 2).
        ssl_context: TLS for WSS; None for plain WS.
        host, port: where to listen (port 0: any free port).
        max_size: the largest WebSocket message (one SIP message), bytes.
        on_open, on_close: told of each flow as it opens and closes.
        max_connections: connections open at once; beyond it the handshake gets 503.
        max_per_source: connections open at once from one source address; beyond it 503.
        retry_after: seconds in the Retry-After of those 503s.
        register_within: seconds from opening to the first authorised REGISTER
            (:meth:`authorised`) after which the connection is closed with 1008;
            None: never.
        handshake_timeout: seconds for the TLS and WebSocket opening handshakes.
        max_queue: received messages buffered per connection before reading pauses.
        compression: "deflate" (permessage-deflate, RFC 7692, with 4 KiB windows and a
            small zlib memLevel, so an idle connection keeps a small compressor) or None.
    """

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
        max_connections: int = 10_000,
        max_per_source: int = 200,
        retry_after: int = 30,
        register_within: float | None = 30.0,
        handshake_timeout: float = 10.0,
        max_queue: int = 4,
        compression: str | None = "deflate",
        sock: socket.socket | None = None,
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
        self.admission = ConnectionAdmission(
            max_total=max_connections, max_per_source=max_per_source, retry_after=retry_after
        )
        self.register_within = register_within
        self.handshake_timeout = handshake_timeout
        self.max_queue = max_queue
        if compression not in ("deflate", None):
            raise ValueError(f"unsupported compression: {compression!r}")
        self.compression = compression
        self.sock = sock
        """A listening socket to serve on instead of binding ``host``:``port``: another process's,
        inherited (an IWF worker, ``reference.nodes.ep_cscf.workers``)."""
        self.bad_input_log = RateLimitedLog(log)
        "Warnings caused by peers (refused handshakes, bad frames, idle closures), per source."
        self._deadlines: dict[int, asyncio.TimerHandle] = {}
        self._server: Server | None = None

    @property
    def scheme(self) -> str:
        return "wss" if self.ssl_context else "ws"

    @property
    def url(self) -> str:
        bare = ":" in self.host and not self.host.startswith("[")
        host = f"[{self.host}]" if bare else self.host  # RFC 3986 3.2.2: an IPv6 literal
        return f"{self.scheme}://{host}:{self.port}"

    async def start(self) -> None:
        extensions = None
        if self.compression == "deflate":
            # RFC 7692 7.1.2: 4 KiB windows and a smaller zlib memLevel keep the compression
            # state of each connection small. Not server_no_context_takeover: it would save
            # more, but Wireshark/tshark 4.0 then fails to inflate the WIC's later messages,
            # and a lab must be able to read its captures with them.
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
        self._server = await serve(
            self._serve,
            None if self.sock else self.host,
            None if self.sock else self.port,
            sock=self.sock,
            ssl=self.ssl_context,
            subprotocols=["sip"],  # type: ignore[list-item]
            process_request=self._check_handshake,
            max_size=self.max_size,
            max_queue=self.max_queue,
            compression=None,
            extensions=extensions,
            open_timeout=self.handshake_timeout,
            server_header="wimpu-reference-iwf",
            create_connection=_LeanConnection,
        )
        address = next(iter(self._server.sockets)).getsockname()
        if self.sock is not None:  # an inherited socket: its address, not the default host
            self.host = str(address[0])
        self.port = int(address[1])

    def listening_fd(self) -> int:
        """The file descriptor of the listening socket (started), for an IWF worker to inherit."""
        assert self._server is not None, "not listening"
        return int(next(iter(self._server.sockets)).fileno())

    async def stop(self) -> None:
        for handle in self._deadlines.values():
            handle.cancel()
        self._deadlines.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.bad_input_log.flush()

    def _check_handshake(self, connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        source = str(connection.remote_address[0])
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.allowed_origins()):
            self.bad_input_log.log(
                logging.WARNING,
                ("origin", source),
                "IWF: WebSocket handshake from %s refused: Origin %r is not an authorised "
                "WWSF (TR 23.701 5.2.2.5.2 step 2)",
                connection.remote_address,
                origin,
            )
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Origin not authorised for this eP-CSCF\n")
        refusal = self.admission.admit(source)
        if refusal is not None:
            self.bad_input_log.log(
                logging.WARNING, ("limit", source), "IWF: WebSocket handshake from %s refused: %s",
                connection.remote_address, refusal.reason,
            )  # fmt: skip
            response = connection.respond(http.HTTPStatus(refusal.status), refusal.reason + "\n")
            response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        # Counted until the TCP connection is gone, whatever ends it (handshake failure too).
        connection.connection_lost_waiter.add_done_callback(lambda _: self.admission.release(source))
        return None

    def authorised(self, flow_id: int) -> None:
        """The flow carried a REGISTER whose token the IWF accepted (step 4): it may stay open."""
        handle = self._deadlines.pop(flow_id, None)
        if handle is not None:
            handle.cancel()

    def _register_deadline(self, flow: Flow) -> None:
        self._deadlines.pop(flow.id, None)
        entry = self.flows.get(flow.id)
        if entry is None:
            return
        self.bad_input_log.log(
            logging.WARNING, ("idle", flow.remote[0]),
            "IWF: flow %d from %s:%d closed: no authorised REGISTER within %g s",
            flow.id, *flow.remote, self.register_within,
        )  # fmt: skip
        self.close(flow.id, POLICY_VIOLATION, f"no authorised REGISTER within {self.register_within:g} s")

    async def _serve(self, connection: ServerConnection) -> None:
        remote = connection.remote_address
        flow = Flow(
            id=next(_ids),
            remote=(str(remote[0]), int(remote[1])),
            origin=_origin(connection.request.headers if connection.request else None),
            transport="WSS" if self.ssl_context else "WS",
        )
        self.flows[flow.id] = (flow, connection)
        if self.register_within is not None:
            self._deadlines[flow.id] = asyncio.get_running_loop().call_later(
                self.register_within, self._register_deadline, flow
            )
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
            handle = self._deadlines.pop(flow.id, None)
            if handle is not None:
                handle.cancel()
            log.info("IWF: flow %d closed", flow.id)
            if self.on_close:
                self.on_close(flow)

    def _received(self, flow: Flow, data: str | bytes) -> None:
        try:
            message = frame_websocket_message(data, max_size=self.max_size)
        except SipError as exc:
            self.bad_input_log.log(
                logging.WARNING, ("frame", flow.remote[0]),
                "IWF: flow %d: rejected message: %s (%s)", flow.id, exc, type(exc).__name__,
            )  # fmt: skip
            raw = data.encode("utf-8") if isinstance(data, str) else data
            answer = rejection_for(raw, exc)
            if answer is not None:
                asyncio.get_running_loop().create_task(self._send_raw(flow.id, answer))
            return
        log.info("IWF: flow %d -> %s", flow.id, Lazy(message.summary))
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
        log.info("IWF: flow %d <- %s", flow.id, Lazy(message.summary))
        try:
            await connection.send(message.to_bytes().decode("utf-8"))
        except ConnectionClosed:
            raise TransportFailure(f"flow {flow_id} closed while sending") from None


def _origin(headers: Headers | None) -> str | None:
    return None if headers is None else headers.get("Origin")
