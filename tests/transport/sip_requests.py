"""Requests a test's UAC sends through the node shell, built from their text (no Via: the node adds
its own on sending)."""

from __future__ import annotations

from reference.sip.message import Request
from reference.sip.parser import parse_message


def request(method: str, uri: str, n: int = 1, *, contact: str | None = None) -> Request:
    """A ``method`` to ``uri``, its dialog identifiers numbered ``n``; a Contact when given."""
    raw = (
        f"{method} {uri} SIP/2.0\r\nMax-Forwards: 70\r\nTo: <{uri}>\r\n"
        f"From: <sip:uac@example.net>;tag=u{n}\r\nCall-ID: call-{method}-{n}\r\nCSeq: {n} {method}\r\n"
        + (f"Contact: <{contact}>\r\n" if contact else "")
        + f"Via: SIP/2.0/TCP placeholder.invalid;branch=z9hG4bKplaceholder{n}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(raw)
    assert isinstance(message, Request)
    return message.without_header("Via")
