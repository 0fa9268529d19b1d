"""Cut a transport's bytes into SIP messages, sans-I/O.

- Reliable byte streams (TCP, TLS): RFC 3261 18.3, "In the case of stream-oriented
  transports such as TCP, the Content-Length header field indicates the size of the
  body. All stream-oriented transports MUST use Content-Length". :class:`StreamFramer`
  buffers, finds the end of the header section, reads Content-Length and yields one
  message at a time. RFC 5626 3.5.1 keep-alives (a double CRLF ping, answered by a
  single CRLF pong) are reported as :class:`KeepAlive` so the shell can answer.
- WebSocket: RFC 7118 5.2, "each SIP message MUST be carried within a single WebSocket
  message, and a WebSocket message MUST NOT contain more than one SIP message".
  :func:`frame_websocket_message` checks exactly that, on one received message.
- Datagrams (UDP): one datagram, one message (:func:`parse_message` directly).

Every framer has a hard size limit; going over it is a :class:`FramingError` (for a
stream: the connection must be closed, since the position of the next message is
lost) or :class:`MessageTooLarge`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from .errors import FramingError, MessageTooLarge, SipError
from .message import Request, Response
from .parser import DEFAULT_MAX_SIZE, parse_message

__all__ = ["Framed", "KeepAlive", "StreamFramer", "frame_websocket_message"]

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$", re.I | re.M)


@dataclasses.dataclass(frozen=True, slots=True)
class KeepAlive:
    """A CRLF CRLF ping (RFC 5626 3.5.1); the receiver answers with one CRLF."""


@dataclasses.dataclass(frozen=True, slots=True)
class Framed:
    """One complete message cut from the stream: its raw bytes and its parse result.

    ``message`` is None when the bytes were framed correctly but do not parse; the
    ``error`` then says why, and the stream can go on (the next message's position is
    known from Content-Length).
    """

    raw: bytes
    message: Request | Response | None
    error: SipError | None = None


class StreamFramer:
    """Frame SIP messages out of a reliable byte stream (RFC 3261 18.3).

    Feed bytes with :meth:`receive_data`, then iterate :meth:`events`.
    """

    def __init__(self, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._buffer = bytearray()
        self._max_size = max_size
        self._failed: FramingError | None = None

    def receive_data(self, data: bytes) -> None:
        """Append bytes received from the stream."""
        if self._failed is None:
            self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet framed."""
        return len(self._buffer)

    def events(self) -> Iterator[Framed | KeepAlive]:
        """Yield every complete message (or keep-alive) now in the buffer.

        Raises:
            FramingError: the stream cannot be framed any more (no or bad
                Content-Length, or a header section over the size limit). The caller
                must close the connection; later calls raise the same error.
        """
        while True:
            if self._failed is not None:
                raise self._failed
            item = self._next()
            if item is None:
                return
            yield item

    def _fail(self, message: str) -> FramingError:
        self._failed = FramingError(message)
        self._buffer.clear()
        return self._failed

    def _next(self) -> Framed | KeepAlive | None:
        buf = self._buffer
        if buf.startswith(b"\r\n\r\n"):
            del buf[:4]
            return KeepAlive()
        if buf.startswith(b"\r\n"):
            if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                return None  # maybe the start of a ping
            del buf[:2]  # a lone CRLF (pong, or 7.5 leading CRLF): ignore it
            return self._next()
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self._max_size:
                raise self._fail(f"no end of headers within {self._max_size} bytes")
            return None
        head = bytes(buf[:end])
        lengths = _CONTENT_LENGTH.findall(head.replace(b"\r\n", b"\n"))
        if len(lengths) != 1 or not lengths[0].isdigit():
            raise self._fail(
                "a message on a stream must carry exactly one numeric Content-Length "
                "(RFC 3261 18.3)"
            )
        total = end + 4 + int(lengths[0])
        if total > self._max_size:
            raise self._fail(f"message of {total} bytes is over the limit of {self._max_size}")
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        del buf[:total]
        try:
            return Framed(raw, parse_message(raw, max_size=self._max_size))
        except SipError as exc:
            return Framed(raw, None, exc)


def frame_websocket_message(data: bytes | str, *, max_size: int = DEFAULT_MAX_SIZE) -> Request | Response:
    """Parse the one SIP message carried by one WebSocket message (RFC 7118 5.2).

    Text and binary WebSocket messages are both allowed (RFC 7118 5.3); text is
    UTF-8. Bytes after the message that Content-Length covers mean a second message
    in the same WebSocket message, which RFC 7118 forbids.

    Raises:
        SipError: a typed parse error, :class:`MessageTooLarge` or
            :class:`FramingError` for more than one SIP message.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_size:
        raise MessageTooLarge(f"WebSocket message of {len(raw)} bytes is over the limit of {max_size}")
    message = parse_message(raw, max_size=max_size)
    declared = message.get("Content-Length")
    if declared is not None:
        head_end = raw.lstrip(b"\r\n").find(b"\r\n\r\n") + 4
        extra = len(raw.lstrip(b"\r\n")) - head_end - int(declared)
        if extra > 0:
            raise FramingError(
                f"{extra} bytes follow the SIP message in one WebSocket message "
                "(RFC 7118 5.2: one SIP message per WebSocket message)"
            )
    return message
