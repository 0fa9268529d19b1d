"""Small pieces of the RFC 3261 section 25 grammar that the parser checks by hand.

sipmessage supplies the URI and Via grammars; what is here is what it does not check
(or checks differently, see ``docs/sip-core.md``): tokens, quoted strings, comma lists
that respect quotes and angle brackets, generic parameters kept verbatim, and the
scalar ranges of RFC 3261 and RFC 4475 section 3.1.2.4.
"""

from __future__ import annotations

import re
import string

__all__ = [
    "MAX_CSEQ",
    "MAX_DELTA_SECONDS",
    "TOKEN_CHARS",
    "first_element",
    "is_token",
    "parse_params",
    "read_quoted_string",
    "split_commas",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
# RFC 3261 section 25.1
TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-.!%*_+`'~")

# CSeq: "The sequence number MUST be expressible as a 32-bit unsigned integer and MUST
# be less than 2**31."  RFC 3261 section 8.1.1.5
MAX_CSEQ = 2**31 - 1

# delta-seconds: "... a value larger than 2**32-1 ... SHOULD be treated as 2**32-1"
# (RFC 3261 section 20.19 for Expires); RFC 4475 3.1.2.4 treats the overlarge forms as
# a reason to reject. We reject values that do not fit 32 bits.
MAX_DELTA_SECONDS = 2**32 - 1

_PARAM_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_PARAM_VALUE_TOKENISH = re.compile(r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+")
_LIST_SPECIAL = re.compile(r'[",<]')
"What ends or encloses a list element: a separating comma, a quoted string, an angle-bracketed URI."


def is_token(value: str) -> bool:
    """True if ``value`` is a non-empty RFC 3261 token."""
    return bool(value) and all(c in TOKEN_CHARS for c in value)


def read_quoted_string(text: str, start: int) -> int:
    """Return the index just past the quoted string that starts at ``text[start]``.

    quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE  (RFC 3261 25.1)

    Raises:
        ValueError: the quoted string is not terminated.
    """
    if text[start] != '"':
        raise ValueError("a quoted string must start with '\"'")
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    raise ValueError("unterminated quoted string")


def split_commas(value: str) -> list[str]:
    """Split a header value at the commas that separate list elements.

    Commas inside quoted strings and inside ``<...>`` belong to the element
    (RFC 3261 7.3.1: a header field with a comma-separated list).

    Raises:
        ValueError: an unterminated quoted string or angle bracket, or an empty element.
    """
    parts: list[str] = []
    begin = 0
    while True:
        end = _element_end(value, begin)
        parts.append(value[begin:end].strip())
        if end == len(value):
            break
        begin = end + 1
    if any(not part for part in parts):
        raise ValueError("empty element in a comma-separated list")
    return parts


def first_element(value: str) -> str:
    """The first element of a comma-separated header value, the rest left unread.

    What :func:`split_commas` would return first, for the callers that need only the top
    one (a response's top Via, on every hop): the scan stops at the first separating comma.

    Raises:
        ValueError: the first element is empty or has an unterminated quoted string or
            angle bracket.
    """
    part = value[: _element_end(value, 0)].strip()
    if not part:
        raise ValueError("empty element in a comma-separated list")
    return part


def _element_end(value: str, begin: int) -> int:
    """The index of the comma ending the element that starts at ``begin`` (or the end).

    Jumps from one ``"``, ``<`` or ``,`` to the next (a regular expression search), since
    every other character of an element is only skipped.

    Raises:
        ValueError: an unterminated quoted string or angle bracket.
    """
    i = begin
    while (found := _LIST_SPECIAL.search(value, i)) is not None:
        i = found.start()
        c = value[i]
        if c == ",":
            return i
        if c == '"':
            i = read_quoted_string(value, i)
            continue
        end = value.find(">", i)
        if end < 0:
            raise ValueError("'<' without a closing '>'")
        i = end + 1
    return len(value)


def parse_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """Parse ``*( SEMI generic-param )`` keeping each name and value as written.

    generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string
    (RFC 3261 25.1). Values are not unquoted or unescaped, so that a proxy re-emits
    them byte for byte (``+sip.instance="<urn:uuid:...>"`` stays as it came).

    Raises:
        ValueError: a parameter that does not follow the grammar (RFC 4475 3.1.2.1).
    """
    params: list[tuple[str, str | None]] = []
    rest = text.strip()
    while rest:
        if rest[0] != ";":
            raise ValueError(f"expected ';' before parameter, found {rest[:20]!r}")
        rest = rest[1:].lstrip()
        match = _PARAM_NAME.match(rest)
        if not match:
            raise ValueError(f"empty or invalid parameter name near {rest[:20]!r}")
        name = match.group(0)
        rest = rest[match.end() :].lstrip()
        value: str | None = None
        if rest.startswith("="):
            rest = rest[1:].lstrip()
            if rest.startswith('"'):
                end = read_quoted_string(rest, 0)
                value = rest[:end]
            else:
                vmatch = _PARAM_VALUE_TOKENISH.match(rest)
                if not vmatch:
                    raise ValueError(f"invalid value for parameter {name!r}")
                value = vmatch.group(0)
                end = vmatch.end()
            rest = rest[end:].lstrip()
        params.append((name, value))
    return tuple(params)
