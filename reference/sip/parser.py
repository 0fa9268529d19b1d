"""Parse bytes into a :class:`Request` or :class:`Response`, or raise a typed error.

The parser is strict where a wrong reading would change what a proxy or registrar
does (start line, Via, From, To, Call-ID, CSeq, Contact, Content-Length, the numeric
headers, Date), and keeps every other header as opaque text. It never raises anything
but a :class:`~reference.sip.errors.SipError` subclass for any input bytes: that is
checked with the RFC 4475 corpus and with random bytes in ``tests/sip``.

sipmessage's own ``Message.parse`` is not used for the framing: it does not unfold
continuation lines (RFC 3261 7.3.1), does not check Content-Length, the start line
or mandatory headers, and raises bare ``ValueError``/``UnicodeDecodeError``
(see ``docs/sip-core.md``). Its ``URI`` and ``Via`` grammars are used for those values.
"""

from __future__ import annotations

import re

from sipmessage import Via

from .address import parse_name_addr, validate_uri
from .errors import (
    ContentLengthError,
    EncodingError,
    HeaderSyntaxError,
    MessageTooLarge,
    MissingHeaderError,
    ParseError,
    SipError,
    StartLineError,
)
from .grammar import MAX_CSEQ, MAX_DELTA_SECONDS, is_token
from .message import Header, Message, Request, Response

__all__ = ["DEFAULT_MAX_SIZE", "VersionNotSupported", "parse_message", "rejection_for"]

DEFAULT_MAX_SIZE = 65_535
"Hard limit on one message, headers and body (bytes)."

# RFC 3261 8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain
# the following header fields: To, From, CSeq, Call-ID, Max-Forwards, and Via". We do
# not require Max-Forwards: RFC 4475 3.4.1 (an RFC 2543 request without it) must be
# accepted, and a proxy adds it (RFC 3261 16.6 item 3).
MANDATORY = ("via", "from", "to", "call-id", "cseq")

_HEADER_NAME = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:")
_VERSION = re.compile(r"SIP/(\d+)\.(\d+)", re.IGNORECASE)
_STATUS = re.compile(r"[1-6]\d\d")
_DIGITS = re.compile(r"\d{1,20}")
_CSEQ = re.compile(r"(\d{1,20})[ \t]+(\S+)")
# rfc1123-date = wkday "," SP date1 SP time SP "GMT"  (RFC 3261 20.17)
_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT"
)
_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")


class VersionNotSupported(StartLineError):
    """A SIP version other than 2.0 (RFC 3261 8.2.2.1 ... 21.5.7: 505)."""

    status = 505
    reason = "Version Not Supported"


def parse_message(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Request | Response:
    """Parse one complete SIP message (one datagram, one WebSocket message, one framed
    stream message).

    Content-Length, when present, must not exceed the body: RFC 3261 18.3 says a
    datagram with fewer body bytes than Content-Length is discarded, and any extra bytes
    beyond it are dropped. When absent the body runs to the end of ``data``.

    Raises:
        SipError: a typed error (``ParseError`` subclasses map to 400,
            ``MessageTooLarge`` to 513, ``VersionNotSupported`` to 505).
    """
    if len(data) > max_size:
        raise MessageTooLarge(f"message of {len(data)} bytes is over the limit of {max_size}")
    data = data.lstrip(b"\r\n")  # RFC 3261 7.5: ignore CRLFs before the start line
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ParseError("no empty line (CRLF CRLF) ends the header section", drop=True)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"header section is not UTF-8 (byte 0x{head[exc.start]:02x} at {exc.start})",
            drop=True,
        ) from None
    start, _, header_text = text.partition("\r\n")
    message = _parse_start_line(start)
    headers = _parse_headers(head[head.find(b"\r\n") + 2 :]) if header_text else ()
    message = _finish(message, headers, body)
    try:
        _validate(message)
    except SipError:
        raise
    except (ValueError, IndexError) as exc:  # a typed view failed: the header is bad
        raise HeaderSyntaxError(str(exc)) from None
    return message


def _parse_start_line(line: str) -> Request | Response:
    if line.startswith("SIP/") or line[:4].upper() == "SIP/":
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF  (RFC 3261 7.2)
        parts = line.split(" ", 2)
        if len(parts) < 3:
            parts += [""] * (3 - len(parts))
        version, code, reason = parts
        _check_version(version)
        if not _STATUS.fullmatch(code):
            raise StartLineError(f"status code {code[:20]!r} is not three digits 100-699")
        return Response(headers=(), body=b"", status=int(code), reason=reason)
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF  (RFC 3261 7.1)
    # "The elements are separated by single space (SP) characters" (RFC 4475 3.1.2.9,
    # 3.1.2.10: extra or trailing white space is an error).
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise StartLineError(
            f"request line {line[:80]!r} is not 'Method SP Request-URI SP SIP-Version'",
            drop=not is_token(parts[0]) if parts else True,
        )
    method, uri, version = parts
    if not is_token(method):
        raise StartLineError(f"method {method[:20]!r} is not a token", drop=True)
    _check_version(version)
    try:
        validate_uri(uri, allow_headers=False)
    except ValueError as exc:
        raise StartLineError(f"Request-URI: {exc}") from None
    return Request(headers=(), body=b"", method=method, uri=uri)


def _check_version(version: str) -> None:
    match = _VERSION.fullmatch(version)
    if not match:
        raise StartLineError(f"{version[:20]!r} is not a SIP version", drop=True)
    if (match.group(1), match.group(2)) != ("2", "0"):
        raise VersionNotSupported(f"SIP version {version} is not supported")


def _parse_headers(raw_head: bytes) -> tuple[Header, ...]:
    headers: list[Header] = []
    raw_lines = raw_head.split(b"\r\n")
    # Group continuation lines (starting with SP or HTAB) with the line they continue.
    groups: list[list[bytes]] = []
    for raw in raw_lines:
        if raw[:1] in (b" ", b"\t"):
            if not groups:
                raise HeaderSyntaxError("the first header line starts with white space")
            groups[-1].append(raw)
        else:
            groups.append([raw])
    for group in groups:
        raw = b"\r\n".join(group)
        line = _FOLD.sub(" ", raw.decode("utf-8"))
        match = _HEADER_NAME.match(line)
        if not match:
            raise HeaderSyntaxError(f"header line {line[:40]!r} is not 'name: value'")
        headers.append(Header(match.group(1), line[match.end() :].strip(" \t"), raw))
    return tuple(headers)


def _finish(message: Request | Response, headers: tuple[Header, ...], body: bytes) -> Request | Response:
    lengths = [h.value for h in headers if h.key == "content-length"]
    if len(lengths) > 1:
        raise ContentLengthError("more than one Content-Length header")
    if lengths:
        if not _DIGITS.fullmatch(lengths[0]):
            raise ContentLengthError(f"Content-Length {lengths[0][:20]!r} is not a number")
        length = int(lengths[0])
        if length > len(body):
            raise ContentLengthError(
                f"Content-Length {length} is larger than the {len(body)} body bytes received"
            )
        body = body[:length]
    if isinstance(message, Request):
        return Request(headers=headers, body=body, method=message.method, uri=message.uri)
    return Response(headers=headers, body=body, status=message.status, reason=message.reason)


def _single(message: Message, key: str) -> str:
    lines = [h for h in message.headers if h.key == key]
    if len(lines) > 1:
        raise HeaderSyntaxError(f"{lines[0].name}: appears {len(lines)} times, once is allowed")
    return lines[0].value


def _validate(message: Request | Response) -> None:
    present = {h.key for h in message.headers}
    for key in MANDATORY:
        if key not in present:
            raise MissingHeaderError(f"mandatory header {key.title()} is missing (RFC 3261 8.1.1)")
    for value in message.get_all("Via"):
        try:
            Via.parse(value)
        except ValueError:
            raise HeaderSyntaxError(f"Via: {value[:60]!r} does not follow RFC 3261 20.42") from None
    for key in ("from", "to"):
        value = _single(message, key)
        try:
            parse_name_addr(value)
        except ValueError as exc:
            raise HeaderSyntaxError(f"{key.title()}: {exc}") from None
    if not _single(message, "call-id"):
        raise HeaderSyntaxError("Call-ID: empty")
    match = _CSEQ.fullmatch(_single(message, "cseq"))
    if not match or not is_token(match.group(2)):
        raise HeaderSyntaxError("CSeq: is not 'number method' (RFC 3261 20.16)")
    if int(match.group(1)) > MAX_CSEQ:
        raise HeaderSyntaxError(f"CSeq: {match.group(1)} is not less than 2**31 (RFC 3261 8.1.1.5)")
    if isinstance(message, Request) and match.group(2) != message.method:
        raise HeaderSyntaxError(
            f"CSeq method {match.group(2)!r} differs from the request method {message.method!r}"
        )
    _validate_numbers(message)
    for name in ("Contact", "Route", "Record-Route", "Path", "Service-Route"):
        _validate_addresses(message, name)
    date = message.get("Date")
    if date is not None and not _DATE.fullmatch(date):
        raise HeaderSyntaxError(f"Date: {date!r} is not an RFC 1123 date in GMT (RFC 3261 20.17)")


def _validate_numbers(message: Message) -> None:
    limits = (("max-forwards", 255), ("expires", MAX_DELTA_SECONDS), ("min-expires", MAX_DELTA_SECONDS))
    for key, limit in limits:
        if key not in {h.key for h in message.headers}:
            continue
        value = _single(message, key)
        if not _DIGITS.fullmatch(value) or int(value) > limit:
            raise HeaderSyntaxError(f"{key.title()}: {value[:30]!r} is not a number from 0 to {limit}")


def _validate_addresses(message: Message, name: str) -> None:
    try:
        values = message.get_all(name)
    except SipError:
        raise
    if name == "Contact" and "*" in values:
        if values != ["*"]:
            raise HeaderSyntaxError("Contact: '*' must be the only value (RFC 3261 10.2.2)")
        return
    for value in values:
        try:
            addr = parse_name_addr(value)
        except ValueError as exc:
            raise HeaderSyntaxError(f"{name}: {exc}") from None
        expires = addr.param("expires")
        if expires is not None and (not _DIGITS.fullmatch(expires) or int(expires) > MAX_DELTA_SECONDS):
            raise HeaderSyntaxError(f"{name}: expires={expires[:30]} is not delta-seconds")



_ECHOED = frozenset({"via", "v", "call-id", "i", "cseq", "from", "f", "to", "t"})


def rejection_for(raw: bytes, error: SipError) -> bytes | None:
    """The error response to a request that was framed but could not be accepted.

    RFC 3261 8.2.6 builds a response from the request's Via, From, To, Call-ID and
    CSeq; when those lines can still be read (as text), the answer is ``error.status``
    with a ``Warning: 399`` saying why. Garbage (``error.drop``), responses and requests
    whose essential lines are missing get None: the message is dropped (18.3).
    """
    if error.drop:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
    if not head or head[0].upper().startswith("SIP/"):
        return None
    lines = [ln for ln in head[1:] if ":" in ln and ln.split(":", 1)[0].strip().lower() in _ECHOED]
    if len({ln.split(":", 1)[0].strip().lower()[:1] for ln in lines}) < 4 or len(lines) < 5:
        return None
    reason = str(error).replace("\r", " ").replace("\n", " ").replace('"', "'")[:120]
    headers = [Header(ln.split(":", 1)[0].strip(), ln.split(":", 1)[1].strip()) for ln in lines]
    headers += [Header("Warning", f'399 - "{reason}"'), Header("Content-Length", "0")]
    return Response(headers=tuple(headers), body=b"", status=error.status, reason=error.reason).to_bytes()
