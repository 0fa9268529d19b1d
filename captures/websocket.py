"""WebSocket frames after the opening handshake, and the SIP messages they carry.

- RFC 6455 5.2: the base framing (FIN, RSV1-3, opcode, MASK, 7/16/64-bit payload length,
  masking key). 5.3: client-to-server frames are masked with a 32-bit key, server-to-client
  frames are not (5.1: a frame on the wrong side of that rule is reported). 5.4: a message
  is a first frame (text or binary) plus continuation frames up to FIN; control frames
  (5.5: close, ping, pong, at most 125 bytes, never fragmented) may come between them.
- RFC 7692 (permessage-deflate): RSV1 on the first frame marks a compressed message
  (6); the receiver appends ``00 00 ff ff`` and inflates (7.2.2) with one raw-deflate
  inflater per direction, kept across messages unless the handshake negotiated
  ``client_no_context_takeover``/``server_no_context_takeover`` for that sender (7.1.1).
- RFC 7118 5.2: one SIP message per WebSocket message, checked by
  :func:`reference.sip.framing.frame_websocket_message`.
"""

from __future__ import annotations

import dataclasses
import zlib

from reference.sip.errors import SipError
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response

from .errors import ProblemKind
from .model import Transport
from .streams import Slot

__all__ = ["Deflate", "WebSocketStream", "negotiated_deflate", "unmask"]

_MAX_MESSAGE = 16 << 20
_CONTINUATION, _TEXT, _BINARY, _CLOSE = 0x0, 0x1, 0x2, 0x8


@dataclasses.dataclass(frozen=True, slots=True)
class Deflate:
    """The permessage-deflate parameters the server's 101 response accepted (RFC 7692 7.1)."""

    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False


def negotiated_deflate(header: str) -> Deflate | None:
    """Read ``Sec-WebSocket-Extensions`` of a 101 response; None without permessage-deflate."""
    for offer in header.split(","):
        params = [p.strip().lower() for p in offer.split(";")]
        if params[0] == "permessage-deflate":
            names = {p.split("=", 1)[0].strip() for p in params[1:]}
            return Deflate("client_no_context_takeover" in names, "server_no_context_takeover" in names)
    return None


def unmask(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 5.3: XOR the payload with the 4-byte masking key, repeated."""
    size = len(payload)
    if not size:
        return b""
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


class WebSocketStream:
    """One direction of a WebSocket connection carrying SIP (RFC 7118).

    Args:
        slot: the direction.
        masked: True for the client-to-server direction (whose frames must be masked).
        deflate: the negotiated permessage-deflate parameters, or None.
        subprotocol: the ``Sec-WebSocket-Protocol`` of the 101 response.
    """

    def __init__(self, slot: Slot, *, masked: bool, deflate: Deflate | None, subprotocol: str | None) -> None:
        self.slot = slot
        self._masked = masked
        self._deflate = deflate
        self._reset = deflate is not None and (
            deflate.client_no_context_takeover if masked else deflate.server_no_context_takeover
        )
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._compressed = False
        self._closed = False
        self._warned: set[str] = set()
        self._transport: Transport = "WSS" if slot.layer.secure else "WS"
        if subprotocol is not None and subprotocol.lower() != "sip":
            self._fail(
                ProblemKind.NOT_DECODED, f"WebSocket subprotocol {subprotocol!r} is not SIP (RFC 7118)"
            )

    def receive_data(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while not self._closed and len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            masked = bool(second & 0x80)
            end = offset + (4 if masked else 0) + length
            if length > _MAX_MESSAGE:
                self._fail(ProblemKind.GARBAGE, f"a WebSocket frame of {length} bytes: not a frame boundary")
                return
            if len(buffer) < end:
                return
            payload = bytes(buffer[end - length : end])
            if masked:
                payload = unmask(payload, bytes(buffer[offset : offset + 4]))
            del buffer[:end]
            if masked != self._masked:
                side = "client-to-server frame without" if self._masked else "server-to-client frame with"
                self._warn(f"a {side} a mask (RFC 6455 5.1)")
            self._frame(first >> 7, (first >> 4) & 0x7, first & 0x0F, payload)

    def receive_eof(self) -> None:
        pass

    def _fail(self, kind: ProblemKind, detail: str) -> None:
        self._closed = True
        self.slot.fail(kind, detail)

    def _warn(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            self.slot.output.problem(ProblemKind.GARBAGE, self.slot.where, text)

    def _frame(self, fin: int, rsv: int, opcode: int, payload: bytes) -> None:
        if opcode >= 0x8:  # RFC 6455 5.5: control frames, between fragments too
            if opcode == _CLOSE:
                self._closed = True
            return
        if opcode in (_TEXT, _BINARY):
            if self._fragments:
                self._warn("a new data frame before the previous message ended (RFC 6455 5.4)")
            self._fragments = [payload]
            self._compressed = bool(rsv & 0x4)
            if self._compressed and self._deflate is None:
                self._fail(ProblemKind.GARBAGE, "RSV1 set but permessage-deflate was not negotiated")
                return
        elif opcode == _CONTINUATION and self._fragments:
            self._fragments.append(payload)
        else:
            self._warn(f"an unexpected frame with opcode {opcode} (RFC 6455 5.2, 5.4)")
            return
        if fin:
            message = b"".join(self._fragments)
            self._fragments = []
            if self._compressed:
                message = self._inflate(message)
            self._message(message)

    def _inflate(self, data: bytes) -> bytes:
        """RFC 7692 7.2.2: append 00 00 ff ff, then inflate with this direction's context."""
        if self._reset:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            return self._inflater.decompress(data + b"\x00\x00\xff\xff", _MAX_MESSAGE)
        except zlib.error as exc:
            self._fail(ProblemKind.GARBAGE, f"permessage-deflate data does not inflate: {exc}")
            return b""

    def _message(self, raw: bytes) -> None:
        if not raw.strip(b"\r\n"):
            return  # a CRLF keep-alive (RFC 5626 3.5.1), or an empty message
        message: Request | Response | None = None
        error: SipError | None = None
        try:
            message = frame_websocket_message(raw)
        except SipError as exc:
            error = exc
        self.slot.output.sip(self.slot, self._transport, raw, message, error)
