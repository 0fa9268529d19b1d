"""What the decoder produces: one :class:`WireMessage` per SIP or HTTP message on the wire.

``WireMessage`` is what the conformance checks read, live or from a capture file: where
the harness also saw a message, the two must agree byte for byte (``raw``).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from reference.sip.errors import SipError
from reference.sip.message import Request, Response

__all__ = ["Endpoint", "HttpInfo", "TcpConnection", "Transport", "WireMessage"]

Endpoint = tuple[str, int]
"(IP address, port)."

Transport = Literal["UDP", "TCP", "TLS", "WS", "WSS", "HTTP", "HTTPS"]
"""How the message travelled: SIP over UDP, TCP, TLS (RFC 3261 18), WS or WSS (RFC 7118),
or an HTTP/1.1 message (RFC 9112) in clear or inside TLS (W6, W7, the WWSF, and the
WebSocket handshake of RFC 6455 4)."""


@dataclasses.dataclass(slots=True)
class TcpConnection:
    """What the decoder saw of one TCP connection itself, below what it carries: when each side
    first sent a byte and when it closed. For the facts no message shows: a WIC's WebSocket that
    closed (its contact can no longer be reached over it), a server that never answered (a read
    of the wIMPU Registrar that got nothing, not even a TLS handshake).

    The decoder updates it as frames come (a verifier streaming a capture sees it as of the frame
    it is at); a question about a time before that frame has the same answer at the end.
    """

    client: Endpoint
    "The end that sent the connection's first segment (its SYN)."
    server: Endpoint
    opened: float
    "Capture time of its first segment."
    frame: int
    "The frame of its first segment."
    handshake: bool = True
    """Its first segment was a SYN: ``client`` opened it. False for a connection the capture joined
    under way, whose ends' roles are then a guess."""
    client_data: float | None = None
    "Capture time of the first payload byte the client sent (None: none yet)."
    server_data: float | None = None
    "Capture time of the first payload byte the server sent (None: none yet)."
    closed: float | None = None
    "Capture time of the first FIN or RST of either side (None: open so far)."

    def answered_by(self, at: float) -> bool:
        """The server had sent a byte at or before capture time ``at``."""
        return self.server_data is not None and self.server_data <= at

    def closed_by(self, at: float) -> bool:
        """Either side had closed or reset it at or before capture time ``at``."""
        return self.closed is not None and self.closed <= at


@dataclasses.dataclass(frozen=True, slots=True)
class HttpInfo:
    """An HTTP/1.1 request or response (RFC 9112), with the request a response answers."""

    method: str
    "The request's method; for a response, the method of the request it answers ('' if unknown)."
    path: str
    "The request target; for a response, the target of the request it answers."
    status: int | None
    "The status code of a response; None for a request."
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def is_request(self) -> bool:
        return self.status is None

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name), or None."""
        key = name.lower()
        return next((v for k, v in self.headers if k.lower() == key), None)

    def start_line(self) -> str:
        if self.status is None:
            return f"{self.method} {self.path} HTTP/1.1"
        return f"HTTP/1.1 {self.status} (to {self.method} {self.path})"


@dataclasses.dataclass(frozen=True, slots=True)
class WireMessage:
    """One message as captured, in the order its last byte reached the wire."""

    index: int
    "Position among the decoded messages (0, 1, 2 ...)."
    frame: int
    "Number of the frame that completed the message, from 1 as Wireshark and tshark count."
    time: float
    "Capture time (seconds since the epoch) of the packet that completed the message."
    src: Endpoint
    dst: Endpoint
    transport: Transport
    raw: bytes
    "The message's bytes: the SIP message, or the whole HTTP message (head and body)."
    message: Request | Response | None = None
    "The parsed SIP message, None for HTTP or when the bytes do not parse."
    error: SipError | None = None
    "Why SIP bytes did not parse (reference.sip.parser.parse_message), else None."
    http: HttpInfo | None = None
    "The HTTP request or response, for HTTP and HTTPS."
    connection: int | None = None
    "Number of the TCP connection the message came on (None for UDP)."

    @property
    def is_sip(self) -> bool:
        return self.http is None

    def start_line(self) -> str:
        """The SIP or HTTP start line, or a note of the parse error."""
        if self.http is not None:
            return self.http.start_line()
        if self.message is not None:
            return self.message.start_line()
        first = self.raw.split(b"\r\n", 1)[0][:80].decode("utf-8", "replace")
        return f"{first} [unparsable: {self.error}]"
