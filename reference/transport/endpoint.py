"""SIP over UDP and TCP on one host:port: the asyncio shell around the sans-I/O framing.

A :class:`SipEndpoint` listens on UDP and TCP on the same port (RFC 3261 18.2.1: a
server listens on both), hands each parsed message to its owner with the
:class:`Source` it came from, answers unparseable requests with 400 when it can and
drops garbage (RFC 3261 18.3), and sends messages to a :class:`Target` over the
transport it names, reusing an open TCP connection to the same address
(RFC 3261 18.1.1: responses go back over the connection the request came on).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import itertools
import logging
from collections.abc import Awaitable, Callable

from reference.logutil import Lazy, RateLimitedLog
from reference.sip.errors import SipError
from reference.sip.framing import Framed, KeepAlive, StreamFramer
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message, rejection_for

PORT_PICKS = 20
"How many ports :meth:`SipEndpoint.start` tries when the port is 0 and UDP finds one taken."

__all__ = ["SipEndpoint", "Source", "Target", "TransportFailure"]

log = logging.getLogger("wimpu.transport")

Message = Request | Response


class TransportFailure(Exception):
    """A message could not be sent (connection refused or closed): RFC 3261 18.4."""


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from."""

    transport: str
    "UDP, TCP, WS or WSS."
    host: str
    port: int
    connection: int | str | None = None
    "Connection id for stream transports, or flow token for WebSocket (responses go back over it)."


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """Where to send a message."""

    transport: str
    host: str
    port: int
    connection: int | str | None = None
    "Use this connection (or WebSocket flow) when it is still open (RFC 3261 18.2.2)."

    @classmethod
    def of(cls, source: Source) -> Target:
        """The target that answers ``source`` over the same connection."""
        return cls(source.transport, source.host, source.port, source.connection)


Receiver = Callable[[Message, Source], None]
FlowSender = Callable[[Message, Target], Awaitable[None]]
"Sends over a WebSocket flow (the IWF's side of the eP-CSCF); raises TransportFailure."

"Called for each message received; must not block (schedule work on the loop)."

_ids = itertools.count(1)


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a _SelectorDatagramTransport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = Source("UDP", str(addr[0]), int(addr[1]))
        if data.strip(b"\r\n") == b"":
            return  # keep-alive (RFC 5626 3.5.1 STUN is not used here)
        try:
            message = parse_message(data, max_size=self.endpoint.max_size)
        except SipError as exc:
            self.endpoint.rejected(data, exc, source)
            answer = rejection_for(data, exc)
            if answer and self.transport:
                self.transport.sendto(answer, addr)
            return
        self.endpoint.deliver(message, source, data)


class _Stream(asyncio.Protocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint
        self.framer = StreamFramer(max_size=endpoint.max_size)
        self.id = next(_ids)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        self.endpoint.connections[self.id] = self
        self.endpoint.by_address.setdefault(self.peer, self.id)

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.connections.pop(self.id, None)
        if self.endpoint.by_address.get(self.peer) == self.id:
            del self.endpoint.by_address[self.peer]
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        source = Source("TCP", self.peer[0], self.peer[1], self.id)
        self.framer.receive_data(data)
        try:
            for item in self.framer.events():
                if isinstance(item, KeepAlive):
                    self.write(b"\r\n")  # RFC 5626 3.5.1 pong
                    continue
                self._framed(item, source)
        except SipError as exc:
            self.endpoint.rejected(b"", exc, source)
            if self.transport:
                self.transport.close()  # RFC 3261 18.3: framing lost, close the stream

    def _framed(self, item: Framed, source: Source) -> None:
        if item.message is None:
            assert item.error is not None
            self.endpoint.rejected(item.raw, item.error, source)
            answer = rejection_for(item.raw, item.error)
            if answer:
                self.write(answer)
            return
        self.endpoint.deliver(item.message, source, item.raw)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise TransportFailure(f"TCP connection to {self.peer[0]}:{self.peer[1]} is closed")
        self.transport.write(data)


def _sent_line_level(target: Target) -> int:
    """INFO for the one line per sent message, DEBUG where another line says it already: a
    message for a WebSocket flow is logged by the IWF's listener with its flow number
    (``IWF: flow N <- ...``, also for what the IWF sends without this endpoint)."""
    return logging.DEBUG if target.transport.upper() in ("WS", "WSS") else logging.INFO


class SipEndpoint:
    """A node's SIP listener on UDP and TCP (same host and port)."""

    def __init__(
        self,
        name: str,
        receiver: Receiver,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_size: int = 65_535,
        udp: bool = True,
        tcp: bool = True,
    ) -> None:
        self.name = name
        self.receiver = receiver
        self.host = host
        self.port = port
        self.max_size = max_size
        self._want_udp = udp
        self._want_tcp = tcp
        self.connections: dict[int, _Stream] = {}
        self.by_address: dict[tuple[str, int], int] = {}
        self._udp: _Datagram | None = None
        self._server: asyncio.Server | None = None
        self.flow_sender: FlowSender | None = None
        "How messages for WS/WSS targets leave (set by an eP-CSCF bundling an IWF)."

        self.log = logging.getLogger(f"wimpu.sip.{name}")
        self.bad_input_log = RateLimitedLog(self.log)
        "Warnings about unparsable input, at most a few per source address and minute."

    async def start(self) -> None:
        """Bind TCP first (to pick the port when 0), then UDP on the same port.

        With port 0 the kernel picks a port free for TCP; UDP on that number may be taken
        by another socket of the machine (a client's ephemeral port): then TCP is given back
        and another port is picked, up to :data:`PORT_PICKS` times. A port given in the
        configuration is bound as is, and a failure there is the caller's to report."""
        picks = PORT_PICKS if self.port == 0 and self._want_tcp and self._want_udp else 1
        for pick in range(picks):
            try:
                await self._bind()
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or pick == picks - 1:
                    raise
                self.log.info("port %d is taken for UDP; picking another one", self.port)
                await self.stop()
                self._server, self._udp, self.port = None, None, 0

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._want_tcp:
            self._server = await loop.create_server(lambda: _Stream(self), self.host, self.port)
            self.port = int(self._server.sockets[0].getsockname()[1])
        if self._want_udp:
            _, protocol = await loop.create_datagram_endpoint(
                lambda: _Datagram(self), local_addr=(self.host, self.port)
            )
            self._udp = protocol
            assert protocol.transport is not None
            self.port = int(protocol.transport.get_extra_info("sockname")[1])

    async def stop(self) -> None:
        """Close the listeners and every connection."""
        if self._server is not None:
            self._server.close()
        for stream in list(self.connections.values()):
            if stream.transport:
                stream.transport.close()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def uri(self, transport: str = "tcp") -> str:
        """This endpoint as a SIP URI (for Via, Path, Record-Route)."""
        return f"sip:{self.host}:{self.port};transport={transport.lower()}"

    def deliver(self, message: Message, source: Source, raw: bytes) -> None:
        self.log.info(
            "%s <- %s:%s/%s %s", self.name, source.host, source.port, source.transport, Lazy(message.summary)
        )
        self.log.debug("%s", Lazy(raw.decode, "utf-8", "replace"))
        try:
            self.receiver(message, source)
        except Exception:
            self.log.exception("%s: handler failed on %s", self.name, message.summary())

    def rejected(self, raw: bytes, error: SipError, source: Source) -> None:
        """Log unparsable input, rate-limited per source address (a flood of garbage
        must not become a flood of log lines)."""
        self.bad_input_log.log(
            logging.WARNING,
            source.host,
            "%s: rejected message from %s:%s/%s: %s (%s)",
            self.name,
            source.host,
            source.port,
            source.transport,
            error,
            type(error).__name__,
        )

    async def send(self, message: Message, target: Target) -> None:
        """Send over UDP, or over TCP (reusing a connection, or opening one).

        Raises:
            TransportFailure: the message could not be handed to the network.
        """
        data = message.to_bytes()
        self.log.log(
            _sent_line_level(target),
            "%s -> %s:%s/%s %s", self.name, target.host, target.port, target.transport, Lazy(message.summary),
        )  # fmt: skip
        self.log.debug("%s", Lazy(data.decode, "utf-8", "replace"))
        if target.transport.upper() in ("WS", "WSS"):
            if self.flow_sender is None:
                raise TransportFailure(f"{self.name} has no WebSocket flows")
            await self.flow_sender(message, target)
            return
        if target.transport.upper() == "UDP":
            if self._udp is None or self._udp.transport is None:
                raise TransportFailure(f"{self.name} has no UDP socket")
            self._udp.transport.sendto(data, (target.host, target.port))
            return
        stream = self._stream_for(target)
        if stream is None:
            stream = await self._connect(target)
        stream.write(data)

    def _stream_for(self, target: Target) -> _Stream | None:
        if isinstance(target.connection, int) and target.connection in self.connections:
            return self.connections[target.connection]
        conn = self.by_address.get((target.host, target.port))
        return None if conn is None else self.connections.get(conn)

    async def _connect(self, target: Target) -> _Stream:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Stream(self), target.host, target.port), 5
            )
        except (OSError, TimeoutError) as exc:
            raise TransportFailure(f"cannot connect to {target.host}:{target.port}: {exc}") from None
        # The connection is indexed under the address we dialled, so replies reuse it.
        self.by_address[(target.host, target.port)] = protocol.id
        return protocol
