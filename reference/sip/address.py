"""name-addr / addr-spec values (From, To, Contact, Route, Path, ...), kept verbatim.

sipmessage's ``Address`` re-serialises parameters percent-encoded (a JsSIP Contact's
``+sip.instance="<urn:uuid:...>"`` came out as ``%2Bsip.instance=%22%3Curn...``) and its
``URI`` has no ``?headers`` part, which RFC 3261 allows inside ``<...>``. A proxy must
forward what it does not change byte for byte, so this module keeps the URI text and
each parameter exactly as received, and uses ``sipmessage.URI`` only to validate and
to read the URI's parts.
"""

from __future__ import annotations

import dataclasses
import re

from sipmessage import URI

from .grammar import is_token, parse_params, read_quoted_string

__all__ = ["NameAddr", "parse_name_addr", "parse_uri", "validate_uri"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:")
_WS = re.compile(r"\s")


def validate_uri(text: str, *, allow_headers: bool) -> None:
    """Check ``text`` as a SIP, SIPS, tel or other absolute URI.

    RFC 3261 19.1.1 and table 1: the ``?headers`` component is allowed in a URI inside
    ``<...>`` of a header, never in a Request-URI or a bare addr-spec.

    Raises:
        ValueError: the URI is not valid, with the reason.
    """
    if not text or _WS.search(text):
        raise ValueError(f"URI {text!r} is empty or contains white space")
    if not _SCHEME.match(text):
        raise ValueError(f"URI {text!r} has no scheme")
    scheme = text.split(":", 1)[0].lower()
    if scheme in ("sip", "sips", "tel"):
        base, sep = _split_headers(text)
        if sep and (not allow_headers or scheme == "tel"):
            raise ValueError(f"URI {text!r} carries headers where none are allowed")
        try:
            URI.parse(base)
        except ValueError:
            raise ValueError(f"{scheme} URI {text!r} does not follow RFC 3261/3966") from None
    # Other schemes (RFC 3261 19.1: absoluteURI) are accepted as opaque text; a UA
    # answers 416 at the application layer (RFC 4475 3.3.2).


def parse_uri(text: str) -> URI:
    """Parse a SIP, SIPS or tel URI into ``sipmessage.URI`` (headers dropped)."""
    validate_uri(text, allow_headers=True)
    return URI.parse(_split_headers(text)[0])


def _split_headers(text: str) -> tuple[str, bool]:
    """Split ``sip:user@host;params?headers`` before its headers.

    The user part may itself contain ``?`` (RFC 3261 25.1 user-unreserved), so the
    headers start at the first ``?`` after the ``@`` when there is one.
    """
    at = text.find("@")
    mark = text.find("?", at + 1 if at >= 0 else 0)
    if mark < 0:
        return text, False
    return text[:mark], True


@dataclasses.dataclass(frozen=True, slots=True)
class NameAddr:
    """One name-addr or addr-spec with its header parameters, as written."""

    uri: str
    "The URI text, without the angle brackets."
    display: str | None = None
    "The display name as written (quotes kept), or None."
    params: tuple[tuple[str, str | None], ...] = ()
    "Header parameters (tag, expires, +sip.instance, ...) as written, in order."

    def param(self, name: str) -> str | None:
        """The value of a parameter (names compare case-insensitively), or None."""
        lname = name.lower()
        for key, value in self.params:
            if key.lower() == lname:
                return value
        return None

    def has_param(self, name: str) -> bool:
        """True if the parameter is present, with or without a value."""
        lname = name.lower()
        return any(key.lower() == lname for key, _ in self.params)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (RFC 3261 19.3)."""
        return self.param("tag")

    def parsed_uri(self) -> URI:
        """The URI parsed by sipmessage (headers dropped)."""
        return parse_uri(self.uri)

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """A copy with ``name`` set (replacing an existing one)."""
        kept = tuple(p for p in self.params if p[0].lower() != name.lower())
        return dataclasses.replace(self, params=kept + ((name, value),))

    def __str__(self) -> str:
        text = f"{self.display} <{self.uri}>" if self.display else f"<{self.uri}>"
        for key, value in self.params:
            text += f";{key}" if value is None else f";{key}={value}"
        return text


def _check_display_name(display: str) -> None:
    # display-name = *(token LWS) / quoted-string   (RFC 3261 25.1)
    if display.startswith('"'):
        if read_quoted_string(display, 0) != len(display):
            raise ValueError(f"text after the quoted display name {display!r}")
        return
    for word in display.split():
        if not is_token(word):
            raise ValueError(f"display name {display!r} has characters outside token")


def parse_name_addr(value: str) -> NameAddr:
    """Parse ``( name-addr / addr-spec ) *( SEMI param )`` (RFC 3261 20.10, 20.20).

    Raises:
        ValueError: the value does not follow the grammar, with the reason.
    """
    text = value.strip()
    if text.startswith('"'):
        end = read_quoted_string(text, 0)
        display: str | None = text[:end]
        rest = text[end:].lstrip()
        if not rest.startswith("<"):
            raise ValueError("a quoted display name must be followed by '<URI>'")
    elif "<" in text:
        lt = text.index("<")
        display = text[:lt].strip() or None
        rest = text[lt:]
        if display:
            _check_display_name(display)
    else:
        # addr-spec: "If the URI is not enclosed in angle brackets, any semicolon-
        # delimited parameters are header-parameters, not URI parameters."
        # RFC 3261 20.10; it then cannot contain a comma, question mark or semicolon.
        uri, _, params = text.partition(";")
        uri = uri.strip()
        validate_uri(uri, allow_headers=False)
        return NameAddr(uri=uri, params=parse_params(";" + params) if params else ())
    gt = rest.find(">")
    if gt < 0:
        raise ValueError("'<' without a closing '>'")
    uri = rest[1:gt]
    validate_uri(uri, allow_headers=True)
    return NameAddr(uri=uri, display=display, params=parse_params(rest[gt + 1 :]))
