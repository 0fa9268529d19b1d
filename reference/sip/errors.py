"""Errors of the SIP core, split by whose fault they are (the h11 pattern).

::

    SipError                      status: the response a server answers with
    ├── RemoteProtocolError       the peer (or the system under test) broke the rules:
    │   │                         a conformance verdict FAIL
    │   ├── ParseError (400)      the bytes are not a SIP message
    │   │   ├── StartLineError    malformed request or status line
    │   │   ├── HeaderSyntaxError a header line or value that does not parse
    │   │   ├── MissingHeaderError a mandatory header is absent (RFC 3261 8.1.1)
    │   │   ├── ContentLengthError Content-Length disagrees with the body
    │   │   └── EncodingError     bytes that are not UTF-8 where text is required
    │   ├── MessageTooLarge (513) over the configured hard limit
    │   └── FramingError (400)    the stream cannot be cut into messages: the
    │                             connection must be closed (RFC 3261 18.3)
    ├── LocalProtocolError        we broke the rules (a bug of ours): verdict ERROR,
    │                             never FAIL
    ├── TransactionError          a transaction was driven in a way RFC 3261 17
    │                             forbids (a LocalProtocolError)
    └── WildcardError             a wildcarded IMPU that is not a valid or safe
                                  TS 23.003 expression (configuration error)

Each class carries ``status``, the SIP status a server maps it to, and ``reason``.
Garbage that does not even look like SIP (``ParseError`` raised before a start line
was recognised) has ``drop = True``: RFC 3261 18.3 lets a server discard it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ContentLengthError",
    "EncodingError",
    "FramingError",
    "HeaderSyntaxError",
    "LocalProtocolError",
    "MessageTooLarge",
    "MissingHeaderError",
    "ParseError",
    "RemoteProtocolError",
    "SipError",
    "StartLineError",
    "TransactionError",
    "WildcardError",
]


class SipError(Exception):
    """Base class of every error raised by the SIP core."""

    status: ClassVar[int] = 500
    reason: ClassVar[str] = "Server Internal Error"
    drop: bool = False
    "True when a server should silently discard the input instead of answering."


class RemoteProtocolError(SipError):
    """The peer broke the rules; a conformance verdict of FAIL."""

    status = 400
    reason = "Bad Request"


class LocalProtocolError(SipError):
    """We broke the rules; a verdict of ERROR, never FAIL."""


class ParseError(RemoteProtocolError):
    """The bytes are not a well-formed SIP message."""

    def __init__(self, message: str, *, drop: bool = False) -> None:
        super().__init__(message)
        self.drop = drop


class StartLineError(ParseError):
    """Malformed Request-Line or Status-Line (RFC 3261 7.1, 7.2)."""


class HeaderSyntaxError(ParseError):
    """A header line or a header value that does not follow RFC 3261 25.1."""


class MissingHeaderError(ParseError):
    """A header RFC 3261 8.1.1 makes mandatory is absent."""


class ContentLengthError(ParseError):
    """Content-Length is not a number or disagrees with the body (RFC 3261 18.3)."""


class EncodingError(ParseError):
    """Bytes that are not UTF-8 where RFC 3261 requires UTF-8 text."""


class MessageTooLarge(RemoteProtocolError):
    """The message is larger than the hard limit of the receiver."""

    status = 513
    reason = "Message Too Large"


class FramingError(RemoteProtocolError):
    """A stream that cannot be cut into SIP messages; the connection must close."""


class TransactionError(LocalProtocolError):
    """A transaction was driven in a way RFC 3261 17 does not allow."""


class WildcardError(SipError, ValueError):
    """A wildcarded IMPU that is not a valid or safe TS 23.003 expression."""

    status = 500
