"""The SIP message model: requests and responses as immutable values.

A message keeps every header line as it was received (``Header.raw``), so a proxy that
changes one header forwards every other one byte for byte; headers added or rewritten
here are written as ``Name: value``. Typed views (Via, CSeq, name-addr values) are
computed on demand from the text. Parsing lives in :mod:`reference.sip.parser`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator
from typing import ClassVar, Self

from sipmessage import Via

from .address import NameAddr, parse_name_addr
from .errors import HeaderSyntaxError
from .grammar import first_element, split_commas

__all__ = [
    "COMPACT_FORMS",
    "CSeq",
    "Header",
    "LIST_HEADERS",
    "Message",
    "Request",
    "Response",
    "canonical_name",
]

# RFC 3261 7.3.3 and the IANA registry: compact forms expand to these names.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "o": "Event", "r": "Refer-To", "s": "Subject",
    "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}  # fmt: skip

# Header fields whose value is a comma-separated list (RFC 3261 7.3.1). Authorization
# and the challenge headers are not: their commas separate auth-params.
LIST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Via", "Contact", "Route", "Record-Route", "Path", "Service-Route",
        "P-Associated-URI", "P-Asserted-Identity", "P-Preferred-Identity", "Supported",
        "Require", "Proxy-Require", "Unsupported", "Allow", "Accept", "Accept-Encoding",
        "Accept-Language", "Allow-Events", "In-Reply-To", "Reason",
    )
)  # fmt: skip


@functools.lru_cache(maxsize=1024)
def canonical_name(name: str) -> str:
    """The lower-case long form of a header name (compact forms expanded).

    Cached: the same few dozen names (as written on the wire, and the literals of the
    look-ups) come back on every message; the bound keeps odd names from growing it.
    """
    lname = name.lower()
    return COMPACT_FORMS.get(lname, name).lower()


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """One header line."""

    name: str
    "The name as written (``v``, ``Via``, ``VIA`` ...)."
    value: str
    "The value, with folding replaced by a single space and outer white space trimmed."
    raw: bytes | None = None
    "The exact bytes of the line(s) as received, without the final CRLF; None if built here."
    key: str = dataclasses.field(init=False, repr=False, compare=False)
    "Lower-case long name used for lookups, computed once when the line is made (not per look-up)."

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", canonical_name(self.name))

    def to_bytes(self) -> bytes:
        """The line as it goes on the wire (received bytes when unchanged)."""
        if self.raw is not None:
            return self.raw
        return f"{self.name}: {self.value}".encode()


@dataclasses.dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (RFC 3261 20.16)."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """Behaviour shared by requests and responses."""

    headers: tuple[Header, ...]
    body: bytes
    _by_key: dict[str, tuple[Header, ...]] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    "The lines of each header by key, built at the first look-up (a copy starts without it)."

    is_request: ClassVar[bool] = False

    # ----- reading -----------------------------------------------------------------

    def _index(self) -> dict[str, tuple[Header, ...]]:
        """The header lines grouped by key, in order: one pass over the headers per message,
        then each look-up is a dict access instead of a walk over every line."""
        index = self._by_key
        if index is None:
            grouped: dict[str, list[Header]] = {}
            for line in self.headers:
                grouped.setdefault(line.key, []).append(line)
            index = {key: tuple(lines) for key, lines in grouped.items()}
            object.__setattr__(self, "_by_key", index)
        return index

    def _lines(self, name: str) -> Iterator[Header]:
        return iter(self._index().get(canonical_name(name), ()))

    def has(self, name: str) -> bool:
        """True if at least one line of the header is present."""
        return next(self._lines(name), None) is not None

    def get(self, name: str) -> str | None:
        """The value of the first line of the header, or None."""
        line = next(self._lines(name), None)
        return None if line is None else line.value

    def get_all(self, name: str) -> list[str]:
        """Every value of the header, list headers split at their commas, in order."""
        values: list[str] = []
        split = canonical_name(name) in LIST_HEADERS
        for line in self._lines(name):
            if split:
                try:
                    values.extend(split_commas(line.value))
                except ValueError as exc:
                    raise HeaderSyntaxError(f"{line.name}: {exc}") from None
            else:
                values.append(line.value)
        return values

    def addresses(self, name: str) -> list[NameAddr]:
        """The name-addr values of a header (From, To, Contact, Route, Path, ...)."""
        try:
            return [parse_name_addr(v) for v in self.get_all(name) if v != "*"]
        except ValueError as exc:
            raise HeaderSyntaxError(f"{name}: {exc}") from None

    def address(self, name: str) -> NameAddr:
        """The single name-addr of a header that must be present (From, To)."""
        found = self.addresses(name)
        if len(found) != 1:
            raise HeaderSyntaxError(f"{name}: expected exactly one address, found {len(found)}")
        return found[0]

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first (RFC 3261 20.42)."""
        try:
            return [Via.parse(v) for v in self.get_all("Via")]
        except ValueError:
            raise HeaderSyntaxError("Via: does not follow RFC 3261 20.42") from None

    def first_value(self, name: str) -> str | None:
        """The first value of a list header (top Via, top Route), or None if absent.

        Only the first line is read, and only up to its first separating comma: a
        response's top Via is read on every hop, its other Vias never.
        """
        line = next(self._lines(name), None)
        if line is None:
            return None
        try:
            return first_element(line.value)
        except ValueError as exc:
            raise HeaderSyntaxError(f"{line.name}: {exc}") from None

    @property
    def top_via(self) -> Via:
        """The topmost Via, parsed alone (:attr:`vias` parses them all)."""
        value = self.first_value("Via")
        if value is None:
            raise HeaderSyntaxError("Via: missing")
        try:
            return Via.parse(value)
        except ValueError:
            raise HeaderSyntaxError("Via: does not follow RFC 3261 20.42") from None

    @property
    def branch(self) -> str | None:
        """The branch parameter of the topmost Via (names are case-insensitive, 7.3.1)."""
        for name, value in self.top_via.parameters.items():
            if name.lower() == "branch":
                return value
        return None

    @property
    def call_id(self) -> str:
        """The Call-ID (RFC 3261 20.8)."""
        value = self.get("Call-ID")
        if value is None:
            raise HeaderSyntaxError("Call-ID: missing")
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq (RFC 3261 20.16)."""
        value = self.get("CSeq")
        if value is None:
            raise HeaderSyntaxError("CSeq: missing")
        number, _, method = value.partition(" ")
        return CSeq(int(number), method.strip())

    @property
    def from_(self) -> NameAddr:
        """The From address."""
        return self.address("From")

    @property
    def to(self) -> NameAddr:
        """The To address."""
        return self.address("To")

    @property
    def contacts(self) -> list[NameAddr]:
        """The Contact addresses (``*`` is reported by :attr:`contact_is_star`)."""
        return self.addresses("Contact")

    @property
    def contact_is_star(self) -> bool:
        """True for ``Contact: *`` (RFC 3261 10.2.2, only with ``Expires: 0``)."""
        return self.get_all("Contact") == ["*"]

    def int_header(self, name: str) -> int | None:
        """A header whose value is a number (Expires, Max-Forwards, Content-Length)."""
        value = self.get(name)
        return None if value is None else int(value)

    # ----- changing (every method returns a new message) ---------------------------

    def replace_headers(self, headers: Iterable[Header]) -> Self:
        """A copy with the given header lines."""
        return dataclasses.replace(self, headers=tuple(headers))

    def with_header(self, name: str, value: str, *, first: bool = False) -> Self:
        """A copy with one more line of the header, at the top of its kind or last.

        ``first`` puts it before the existing lines of that header (Via, Record-Route
        are added on top, RFC 3261 16.6 items 4 and 8).
        """
        new = Header(name, value)
        headers = list(self.headers)
        if first:
            key = canonical_name(name)
            for i, line in enumerate(headers):
                if line.key == key:
                    headers.insert(i, new)
                    break
            else:
                headers.insert(0, new)
        else:
            headers.append(new)
        return self.replace_headers(headers)

    def with_header_set(self, name: str, *values: str) -> Self:
        """A copy where the header has exactly these values (one line each), in place."""
        key = canonical_name(name)
        headers: list[Header] = []
        placed = False
        for line in self.headers:
            if line.key == key:
                if not placed:
                    headers.extend(Header(name, v) for v in values)
                    placed = True
                continue
            headers.append(line)
        if not placed:
            headers.extend(Header(name, v) for v in values)
        return self.replace_headers(headers)

    def without_header(self, name: str) -> Self:
        """A copy with no line of the header."""
        key = canonical_name(name)
        return self.replace_headers(h for h in self.headers if h.key != key)

    def without_first_value(self, name: str) -> Self:
        """A copy with the first value of a list header removed (top Via, top Route)."""
        key = canonical_name(name)
        headers = list(self.headers)
        for i, line in enumerate(headers):
            if line.key == key:
                values = split_commas(line.value)
                if len(values) == 1:
                    del headers[i]
                else:
                    headers[i] = Header(line.name, ", ".join(values[1:]))
                break
        return self.replace_headers(headers)

    def with_body(self, body: bytes, content_type: str | None) -> Self:
        """A copy with a new body, Content-Type and a correct Content-Length."""
        msg = dataclasses.replace(self, body=body)
        msg = msg.with_header_set("Content-Length", str(len(body)))
        if content_type is None:
            return msg.without_header("Content-Type")
        return msg.with_header_set("Content-Type", content_type)

    # ----- writing -------------------------------------------------------------------

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The message as it goes on the wire."""
        head = b"\r\n".join([self.start_line().encode(), *(h.to_bytes() for h in self.headers)])
        return head + b"\r\n\r\n" + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def summary(self) -> str:
        """A one-line description for logs: start line, Call-ID and CSeq."""
        return f"{self.start_line()} [{self.get('Call-ID')} {self.get('CSeq')}]"


@dataclasses.dataclass(frozen=True, slots=True)
class Request(Message):
    """A SIP request (RFC 3261 7.1)."""

    method: str = ""
    uri: str = ""
    "The Request-URI as text."

    is_request: ClassVar[bool] = True

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def with_uri(self, uri: str) -> Request:
        """A copy with another Request-URI (retargeting, RFC 3261 16.5)."""
        return dataclasses.replace(self, uri=uri)


@dataclasses.dataclass(frozen=True, slots=True)
class Response(Message):
    """A SIP response (RFC 3261 7.2)."""

    status: int = 0
    reason: str = ""

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        return 100 <= self.status < 200

    @property
    def is_final(self) -> bool:
        return self.status >= 200
