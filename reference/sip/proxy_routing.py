"""Request processing of a proxy (RFC 3261 16.3 items 3-4, 16.4, 16.6), sans-I/O.

Re-exported by :mod:`reference.sip.proxy`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Sequence
from typing import Final

from ..spec import clause
from .address import parse_name_addr, parse_uri
from .errors import LocalProtocolError, RemoteProtocolError
from .message import Request
from .transaction_base import MAGIC_COOKIE

__all__ = [
    "DEFAULT_MAX_FORWARDS",
    "TooManyHops",
    "LoopDetected",
    "check_loop",
    "check_max_forwards",
    "loop_branch",
    "loop_hash",
    "prepare_request",
    "preprocess_route",
]

DEFAULT_MAX_FORWARDS: Final = 70


class LoopDetected(RemoteProtocolError):
    """A request came back to the proxy unchanged (RFC 3261 16.3 item 4): answer 482."""

    status = 482
    reason = "Loop Detected"


class TooManyHops(RemoteProtocolError):
    """A request arrived with ``Max-Forwards: 0`` (RFC 3261 16.3 item 3): answer 483."""

    status = 483
    reason = "Too Many Hops"


# ----- requests (16.3, 16.4, 16.6) -----------------------------------------------------


def _hop(uri: str) -> tuple[str, int] | str:
    """What identifies the element a URI resolves to: host and port (default filled)."""
    try:
        parsed = parse_uri(uri)
    except ValueError:
        return uri.lower()
    default = 5061 if parsed.scheme.lower() == "sips" else 5060
    return parsed.host.lower(), parsed.port or default


def _route_uri(value: str) -> str:
    try:
        return parse_name_addr(value).uri
    except ValueError:
        return value.strip().strip("<>")


def _is_own(uri: str, own_uris: Collection[str]) -> bool:
    hop = _hop(uri)
    return any(hop == _hop(_route_uri(own)) for own in own_uris)


@clause("RFC 3261 16.3")
def check_max_forwards(request: Request) -> None:
    """16.3 item 3.

    "If the request contains a Max-Forwards header field with a field value of zero (0),
    the element MUST NOT forward the request. If the request was for OPTIONS, the
    element MAY act as the final recipient and respond per Section 11. Otherwise, the
    element MUST return a 483 (Too many hops) response." RFC 3261 16.3

    Raises:
        TooManyHops: Max-Forwards is 0 (status 483).
    """
    if request.int_header("Max-Forwards") == 0:
        raise TooManyHops(f"{request.method} {request.uri}: Max-Forwards is 0")


def loop_hash(request: Request) -> str:
    """The part of a branch that tells a loop from a spiral (RFC 3261 16.6 item 8).

    "the proxy MAY ... include ... a hash of the To tag, From tag, Call-ID header
    field, the Request-URI of the request received (before translation), ... the
    sequence number from the CSeq header field, in addition to any Proxy-Require and
    Proxy-Authorization header fields". The topmost Route is included too (a request
    routed on elsewhere is a spiral), the topmost Via is not: on a looped request it is
    this proxy's own, so including it would hide every loop.
    """
    fields = (
        request.to.tag or "",
        request.from_.tag or "",
        request.call_id,
        str(request.cseq.number),
        request.uri,
        next(iter(request.get_all("Route")), ""),
        ",".join(request.get_all("Proxy-Require")),
        ",".join(request.get_all("Proxy-Authorization")),
    )
    return hashlib.sha256("\x00".join(fields).encode()).hexdigest()[:16]


def loop_branch(request: Request) -> str:
    """A branch for a copy of ``request``: the magic cookie, :func:`loop_hash` and 64
    random bits (RFC 3261 16.6 item 8: unique per branch, loop-detectable)."""
    return f"{MAGIC_COOKIE}{loop_hash(request)}.{secrets.token_hex(8)}"


@clause("RFC 3261 16.3", steps=4)
def check_loop(request: Request, sent_by: tuple[str, int]) -> None:
    """16.3 item 4: "If the request contains a Via header field with a sent-by value
    that equals a value placed into previous requests by the proxy, the request has
    been forwarded by this element before. The request has either looped or is
    legitimately spiraling through the element. To determine if the request has
    looped, the element MAY perform the branch parameter calculation described in
    Section 16.6 on this message and compare it to the parameter received in that Via
    header field. If the parameters match, the request has looped. If they differ, the
    request is spiraling through the element [...] If a loop is detected, the element
    MAY return a 482 (Loop Detected) response."

    Raises:
        LoopDetected: one of this proxy's Vias carries this request's :func:`loop_hash`.
    """
    host, port = sent_by[0].lower(), sent_by[1]
    mark = MAGIC_COOKIE + loop_hash(request) + "."
    for via in request.vias:
        if via.host.lower() != host or (via.port or 5060) != port:
            continue
        branch = next((v for k, v in via.parameters.items() if k.lower() == "branch"), None) or ""
        if branch.startswith(mark):
            raise LoopDetected(f"{request.method} {request.uri} came back unchanged")


@clause("RFC 3261 16.4")
def preprocess_route(request: Request, own_uris: Collection[str]) -> Request:
    """Route information preprocessing (16.4), for URIs that indicate this proxy.

    ``own_uris`` are the URIs this proxy puts in Record-Route, Path or Service-Route
    and its own addresses; hosts and ports are compared, not users or parameters.
    """
    routes = request.get_all("Route")
    if routes and _is_own(request.uri, own_uris):
        # "If the Request-URI of the request contains a value this proxy previously
        # placed into a Record-Route header field (see Section 16.6 item 4), the proxy
        # MUST replace the Request-URI in the request with the last value from the Route
        # header field, and remove that value from the Route header field." RFC 3261 16.4
        request = _set_routes(request.with_uri(_route_uri(routes[-1])), routes[:-1])
        routes = routes[:-1]
    if routes and _is_own(_route_uri(routes[0]), own_uris):
        # "If the first value in the Route header field indicates this proxy, the proxy
        # MUST remove that value from the request." RFC 3261 16.4
        request = request.without_first_value("Route")
    return request


def _set_routes(request: Request, routes: Sequence[str]) -> Request:
    if not routes:
        return request.without_header("Route")
    return request.with_header_set("Route", ", ".join(routes))


@clause("RFC 3261 16.6")
def prepare_request(
    request: Request,
    target_uri: str,
    *,
    via: str,
    branch: str,
    record_route: str | None = None,
    own_uris: Collection[str] = (),
) -> Request:
    """The copy of ``request`` to forward to one target (16.6 steps 1-9).

    Args:
        target_uri: the target of the target set (16.5).
        via: ``sent-protocol sent-by`` of this proxy, e.g. ``"SIP/2.0/TCP 127.0.0.1:5060"``.
        branch: the branch of the new client transaction (magic cookie required).
        record_route: a URI or name-addr with ``lr`` to record-route with, or None.
        own_uris: URIs that indicate this proxy (16.4).

    Raises:
        TooManyHops: Max-Forwards is 0 (16.3 item 3).
        LocalProtocolError: the branch lacks the magic cookie, or the Record-Route URI
            lacks ``lr``.
    """
    check_max_forwards(request)
    # "If the first value in the Route header field indicates this proxy, the proxy
    # MUST remove that value from the request." RFC 3261 16.4
    request = preprocess_route(request, own_uris)

    # 1. Copy request: "The copy MUST initially contain all of the header fields from the
    # received request. Fields not detailed in the processing described below MUST NOT
    # be removed." (messages are immutable: every step returns a new copy)

    # 2. Request-URI: "The Request-URI in the copy's start line MUST be replaced with the
    # URI for this target. If the URI contains any parameters not allowed in a
    # Request-URI, they MUST be removed." (the ?headers component, RFC 3261 19.1.1)
    copy = request.with_uri(_without_uri_headers(target_uri))

    # 3. Max-Forwards: "If the copy contains a Max-Forwards header field, the proxy MUST
    # decrement its value by one (1). If the copy does not contain a Max-Forwards header
    # field, the proxy MUST add one with a field value, which SHOULD be 70."
    max_forwards = copy.int_header("Max-Forwards")
    if max_forwards is None:
        copy = copy.with_header("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
    else:
        copy = copy.with_header_set("Max-Forwards", str(max_forwards - 1))

    # 4. Record-Route: "it MUST insert a Record-Route header field value into the copy
    # before any existing Record-Route header field values" ... "This URI MUST contain an
    # lr parameter"
    if record_route is not None:
        value = record_route if "<" in record_route else f"<{record_route}>"
        if "lr" not in {k.lower() for k in parse_uri(_route_uri(value)).parameters}:
            raise LocalProtocolError(f"Record-Route {value} has no lr parameter (16.6 item 4)")
        copy = copy.with_header("Record-Route", value, first=True)

    # 6. Postprocess routing information: "If the copy contains a Route header field, the
    # proxy MUST inspect the URI in its first value. If that URI does not contain an lr
    # parameter, the proxy MUST modify the copy as follows: - The proxy MUST place the
    # Request-URI into the Route header field as the last value. - The proxy MUST then
    # place the first Route header field value into the Request-URI and remove that
    # value from the Route header field."
    routes = copy.get_all("Route")
    if routes and not _has_lr(_route_uri(routes[0])):
        copy = _set_routes(copy.with_uri(_route_uri(routes[0])), [*routes[1:], f"<{copy.uri}>"])

    # 8. Via: "The proxy MUST insert a Via header field value into the copy before the
    # existing Via header field values." ... "contain the requisite magic cookie"
    if not branch.startswith(MAGIC_COOKIE):
        raise LocalProtocolError(f"branch {branch!r} lacks the magic cookie (16.6 item 8)")
    copy = copy.with_header("Via", f"{via};branch={branch}", first=True)

    # 9. Content-Length: "If the request will be sent to the next hop using a stream-
    # based transport and the copy contains no Content-Length header field, the proxy
    # MUST insert one with the correct value for the body of the request"
    if not copy.has("Content-Length"):
        copy = copy.with_header("Content-Length", str(len(copy.body)))
    return copy


def _without_uri_headers(uri: str) -> str:
    at = uri.find("@")
    mark = uri.find("?", at + 1 if at >= 0 else 0)
    return uri if mark < 0 else uri[:mark]


def _has_lr(uri: str) -> bool:
    try:
        return "lr" in {k.lower() for k in parse_uri(uri).parameters}
    except ValueError:
        return True  # not a SIP URI: no strict-routing rewrite
