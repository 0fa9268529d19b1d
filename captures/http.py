"""HTTP/1.1 messages on a byte stream (RFC 9112), enough for W6/W7, the WWSF and the
WebSocket opening handshake.

Message length (RFC 9112 6.3): no body for a response to HEAD, for 1xx, 204 and 304; a
chunked body (7.1) when Transfer-Encoding ends in ``chunked``; else Content-Length; a
request without either has no body; a response without either runs to the end of the
connection. A 1xx other than 101 does not answer the request.

The WebSocket upgrade (RFC 6455 4.1, 4.2.2): after a request asking for
``Upgrade: websocket`` the client direction holds its further bytes until the response
is seen. On 101 both directions switch to :class:`captures.websocket.WebSocketStream`
with the negotiated subprotocol and permessage-deflate parameters (RFC 7692 7.1); on any
other status the held bytes are read as HTTP again.
"""

from __future__ import annotations

import re

from .errors import ProblemKind
from .model import HttpInfo
from .streams import Detect, Slot
from .websocket import WebSocketStream, negotiated_deflate

__all__ = ["HttpStream"]

_REQUEST = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]")
_RESPONSE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: .*)?")
_MAX_HEAD = 65_536
_MAX_BODY = 16 << 20


class HttpStream:
    """One direction of an HTTP/1.1 connection."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self._buffer = bytearray()
        self._held = False
        "True after a WebSocket upgrade request, until its response is seen."
        self._until_eof: tuple[bytes, HttpInfo] | None = None

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        if not self._held:
            self._parse()

    def receive_eof(self) -> None:
        if self._until_eof is not None:
            head, info = self._until_eof
            body = bytes(self._buffer)
            self._until_eof = None
            self._buffer.clear()
            self._emit(head + body, _with_body(info, body))
        elif self._buffer.strip(b"\r\n"):
            self.slot.output.problem(
                ProblemKind.TRUNCATED,
                self.slot.where,
                f"{len(self._buffer)} bytes of an unfinished HTTP message",
            )

    def take_held(self) -> bytes:
        """The bytes held after an upgrade request (they are WebSocket frames)."""
        held = bytes(self._buffer)
        self._buffer.clear()
        return held

    def release(self) -> None:
        """The upgrade was refused: read the held bytes as HTTP."""
        self._held = False
        self._parse()

    def _parse(self) -> None:
        buffer = self._buffer
        while buffer and self._until_eof is None and not self._held:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self.slot.fail(ProblemKind.GARBAGE, f"no end of HTTP header within {_MAX_HEAD} bytes")
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            request, response = _REQUEST.fullmatch(lines[0]), _RESPONSE.fullmatch(lines[0])
            if request is None and response is None:
                self.slot.fail(ProblemKind.GARBAGE, f"not an HTTP/1.1 start line: {lines[0][:60]!r}")
                return
            headers = tuple(_header(line) for line in lines[1:])
            info = _info(request, response, headers, self.slot)
            start = end + 4
            fields = {k.lower(): v for k, v in headers}
            if info.status is not None and (
                info.status < 200 or info.status in (204, 304) or info.method == "HEAD"
            ):
                length: int | None = 0
            elif fields.get("transfer-encoding", "").lower().endswith("chunked"):
                try:
                    chunked = _chunked(buffer, start)
                except ValueError as exc:
                    self.slot.fail(ProblemKind.GARBAGE, str(exc))
                    return
                if chunked is None:
                    return
                body, total = chunked
                self._complete(bytes(buffer[:total]), _with_body(info, body), fields)
                del buffer[:total]
                continue
            elif "content-length" in fields:
                if not fields["content-length"].isdigit() or int(fields["content-length"]) > _MAX_BODY:
                    self.slot.fail(ProblemKind.GARBAGE, f"bad Content-Length {fields['content-length']!r}")
                    return
                length = int(fields["content-length"])
            else:
                length = 0 if info.status is None else None
            if length is None:  # RFC 9112 6.3 item 8: the body ends with the connection
                self._until_eof = (bytes(buffer[:start]), info)
                del buffer[:start]
                return
            if len(buffer) < start + length:
                return
            raw = bytes(buffer[: start + length])
            del buffer[: start + length]
            self._complete(raw, _with_body(info, raw[start:]), fields)

    def _complete(self, raw: bytes, info: HttpInfo, fields: dict[str, str]) -> None:
        layer = self.slot.layer
        upgrade = fields.get("upgrade", "").lower() == "websocket"
        if info.status is None:
            layer.requests.append((info.method, info.path, upgrade))
            self._emit(raw, info)
            self._held = upgrade
            return
        self._emit(raw, info)
        if info.status < 200 and info.status != 101:
            return  # an interim response: the request is still open
        asked = layer.requests.popleft()[2] if layer.requests else upgrade
        peer = self.slot.peer
        if info.status == 101 and asked:
            deflate = negotiated_deflate(fields.get("sec-websocket-extensions", ""))
            protocol = fields.get("sec-websocket-protocol")
            pending = peer.sink.take_held() if isinstance(peer.sink, HttpStream) else _detected(peer)
            rest = bytes(self._buffer)
            self._buffer.clear()
            peer.switch(WebSocketStream(peer, masked=True, deflate=deflate, subprotocol=protocol), pending)
            self.slot.switch(
                WebSocketStream(self.slot, masked=False, deflate=deflate, subprotocol=protocol), rest
            )
            self._held = True  # this sink is done; its slot now holds the WebSocket reader
        elif asked and isinstance(peer.sink, HttpStream):
            peer.sink.release()

    def _emit(self, raw: bytes, info: HttpInfo) -> None:
        self.slot.output.http(self.slot, raw, info)


def _detected(slot: Slot) -> bytes:
    sink = slot.sink
    if isinstance(sink, Detect):
        return sink.take_buffer()
    return b""


def _header(line: bytes) -> tuple[str, str]:
    name, _, value = line.decode("latin-1").partition(":")
    return name.strip(), value.strip()


def _info(
    request: re.Match[bytes] | None,
    response: re.Match[bytes] | None,
    headers: tuple[tuple[str, str], ...],
    slot: Slot,
) -> HttpInfo:
    if request is not None:
        return HttpInfo(request[1].decode(), request[2].decode("latin-1"), None, headers, b"")
    assert response is not None
    pending = slot.layer.requests
    method, path = (pending[0][0], pending[0][1]) if pending else ("", "")
    return HttpInfo(method, path, int(response[1]), headers, b"")


def _with_body(info: HttpInfo, body: bytes) -> HttpInfo:
    return HttpInfo(info.method, info.path, info.status, info.headers, body)


def _chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """RFC 9112 7.1: the decoded body and the end of the message, or None if incomplete."""
    chunks: list[bytes] = []
    position = start
    while True:
        eol = buffer.find(b"\r\n", position)
        if eol < 0:
            return None
        size_text = bytes(buffer[position:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            size = -1
        if size < 0:
            raise ValueError(f"bad chunk size {size_text[:20]!r}")
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", eol)
            if buffer[eol : eol + 4] == b"\r\n\r\n":
                trailer_end = eol
            if trailer_end < 0:
                return None
            return b"".join(chunks), trailer_end + 4
        if len(buffer) < eol + 2 + size + 2:
            return None
        chunks.append(bytes(buffer[eol + 2 : eol + 2 + size]))
        position = eol + 2 + size + 2
