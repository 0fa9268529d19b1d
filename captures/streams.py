"""The protocol stack of one TCP connection, sans-I/O: which bytes are TLS, HTTP, WS or SIP.

Each direction of a connection has a :class:`Slot` holding its current :class:`Sink`.
A sink takes in-order bytes (:meth:`Sink.receive_data`) and either emits messages
through the :class:`Output`, or hands the rest of the stream to another sink with
:meth:`Slot.switch`: :class:`Detect` looks at the first bytes and picks TLS, HTTP or
SIP; HTTP switches both directions to WebSocket after a 101 (RFC 6455 4.1, 4.2.2); TLS
feeds its plaintext to the slots of an inner :class:`Layer` (``secure=True``), which
start with :class:`Detect` again. The two slots of a layer share the layer's state (the
HTTP requests awaiting a response, the TLS session).

SIP on a byte stream is framed by Content-Length (RFC 3261 18.3) with
:class:`reference.sip.framing.StreamFramer`.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Protocol

from reference.sip.errors import FramingError, SipError
from reference.sip.framing import Framed, StreamFramer
from reference.sip.message import Request, Response

from .errors import ProblemKind
from .model import Endpoint, HttpInfo, Transport
from .tls import KeyLog

__all__ = ["Detect", "Discard", "Layer", "Output", "SipStream", "Sink", "Slot"]

_HTTP_FIRST = re.compile(rb"^(?:[A-Z]+ \S+ HTTP/1\.[01]|HTTP/1\.[01] \d{3}(?: .*)?)$")
_SIP_FIRST = re.compile(rb"^(?:[A-Za-z!%*_+`'~.-]+ \S+ SIP/2\.0|SIP/2\.0 \d{3}(?: .*)?)$", re.I)
_MAX_FIRST_LINE = 8192


class Output(Protocol):
    """Where decoded messages and problems go (the decoder), and the secrets it knows."""

    keylog: KeyLog

    def sip(
        self,
        slot: Slot,
        transport: Transport,
        raw: bytes,
        message: Request | Response | None,
        error: SipError | None,
    ) -> None: ...

    def http(self, slot: Slot, raw: bytes, info: HttpInfo) -> None: ...

    def problem(self, kind: ProblemKind, where: str, detail: str) -> None: ...


class Sink(Protocol):
    def receive_data(self, data: bytes) -> None: ...

    def receive_eof(self) -> None: ...


class Layer:
    """Both directions of a connection at one level: on TCP, or inside TLS."""

    def __init__(self, output: Output, connection: int, ends: tuple[Endpoint, Endpoint], secure: bool):
        self.output = output
        self.connection = connection
        self.secure = secure
        self.slots = (Slot(self, 0, ends[0], ends[1]), Slot(self, 1, ends[1], ends[0]))
        self.requests: deque[tuple[str, str, bool]] = deque()
        "HTTP requests (method, target, asks for a WebSocket upgrade) awaiting their response."
        self.state: dict[str, Any] = {}
        "Shared state of the sinks of this layer (the TLS session)."


class Slot:
    """One direction of a :class:`Layer`: src -> dst, and the sink its bytes go to."""

    def __init__(self, layer: Layer, side: int, src: Endpoint, dst: Endpoint) -> None:
        self.layer = layer
        self.side = side
        self.src = src
        self.dst = dst
        self.sink: Sink = Detect(self)

    @property
    def output(self) -> Output:
        return self.layer.output

    @property
    def peer(self) -> Slot:
        return self.layer.slots[1 - self.side]

    @property
    def where(self) -> str:
        inside = " (inside TLS)" if self.layer.secure else ""
        return f"{self.src[0]}:{self.src[1]} -> {self.dst[0]}:{self.dst[1]}{inside}"

    def receive_data(self, data: bytes) -> None:
        self.sink.receive_data(data)

    def receive_eof(self) -> None:
        self.sink.receive_eof()

    def switch(self, sink: Sink, rest: bytes = b"") -> None:
        """Hand the stream from here on (starting with ``rest``) to ``sink``."""
        self.sink = sink
        if rest:
            sink.receive_data(rest)

    def fail(self, kind: ProblemKind, detail: str) -> None:
        """Report a problem and ignore the rest of this direction."""
        self.output.problem(kind, self.where, detail)
        self.sink = Discard()


class Discard:
    """A direction nothing more is decoded from."""

    def receive_data(self, data: bytes) -> None:
        pass

    def receive_eof(self) -> None:
        pass


class Detect:
    """The first bytes of a direction decide what it carries: TLS, HTTP/1.1 or SIP."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self._buffer = b""

    def receive_data(self, data: bytes) -> None:
        from .http import HttpStream  # the sinks import this module
        from .tlsstream import TlsStream

        buffer = self._buffer + data
        slot = self.slot
        if buffer[:1] == b"\x16" and not slot.layer.secure:  # a TLS handshake record (RFC 8446 5.1)
            if len(buffer) < 2:
                self._buffer = buffer
            elif buffer[1] == 0x03:
                slot.switch(TlsStream(slot), buffer)
            else:
                slot.fail(ProblemKind.GARBAGE, f"not TLS, HTTP or SIP: starts with {buffer[:24]!r}")
            return
        if buffer.lstrip(b"\r\n") == b"":  # CRLF keep-alives before anything else
            self._buffer = buffer if len(buffer) < 4 else b""
            return
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > _MAX_FIRST_LINE or not _printable(buffer):
                slot.fail(ProblemKind.GARBAGE, f"not TLS, HTTP or SIP: starts with {buffer[:24]!r}")
            else:
                self._buffer = buffer
            return
        first = buffer.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        if _HTTP_FIRST.match(first):
            slot.switch(HttpStream(slot), buffer)
        elif _SIP_FIRST.match(first):
            slot.switch(SipStream(slot), buffer)
        else:
            slot.fail(ProblemKind.GARBAGE, f"not TLS, HTTP or SIP: first line {first[:60]!r}")

    def take_buffer(self) -> bytes:
        """The bytes seen so far (for a WebSocket whose handshake request was not captured)."""
        buffer, self._buffer = self._buffer, b""
        return buffer

    def receive_eof(self) -> None:
        if self._buffer.strip(b"\r\n"):
            self.slot.fail(ProblemKind.GARBAGE, f"stream ends with {self._buffer[:24]!r}")


def _printable(data: bytes) -> bool:
    return all(32 <= b < 127 or b in (9, 13) for b in data[:64])


class SipStream:
    """SIP over TCP or TLS, framed by Content-Length (RFC 3261 18.3)."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self._framer = StreamFramer()
        self._transport: Transport = "TLS" if slot.layer.secure else "TCP"

    def receive_data(self, data: bytes) -> None:
        self._framer.receive_data(data)
        try:
            for item in self._framer.events():
                if isinstance(item, Framed):
                    self.slot.output.sip(self.slot, self._transport, item.raw, item.message, item.error)
        except FramingError as exc:
            self.slot.fail(ProblemKind.GARBAGE, f"SIP stream cannot be framed any more: {exc}")

    def receive_eof(self) -> None:
        if self._framer.buffered:
            self.slot.output.problem(
                ProblemKind.TRUNCATED,
                self.slot.where,
                f"{self._framer.buffered} bytes of an unfinished SIP message",
            )
