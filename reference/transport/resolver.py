"""Next-hop resolution: the stack's stand-in for DNS (RFC 3263) on loopback.

TR 23.701 5.2.2.3.3 needs DNS configured so that terminating sessions to third-party
domains reach the operator's I-CSCF. The reference stack has no DNS server: each node
name (``scscf.ims.example.net``) maps to a loopback address, port and transport in a
static table; a URI with an IP address and port resolves to itself.
"""

from __future__ import annotations

import ipaddress

from reference.sip.address import parse_uri

from .endpoint import Target

__all__ = ["Resolver", "UnresolvableUri"]


class UnresolvableUri(LookupError):
    """No next hop is known for a URI (a proxy answers 404 or 503)."""


class Resolver:
    def __init__(self, table: dict[str, Target] | None = None) -> None:
        self.table: dict[str, Target] = dict(table or {})

    def add(self, name: str, target: Target) -> None:
        self.table[name.lower()] = target

    def resolve(self, uri: str) -> Target:
        """The next hop for ``uri`` (its host and port, or the static table)."""
        parsed = parse_uri(uri.strip("<>").split(">")[0])
        transport = (parsed.parameters.get("transport") or "tcp").upper()
        host = parsed.host.strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            found = self.table.get(host.lower())
            if found is None:
                raise UnresolvableUri(f"no next hop is configured for {host} ({uri})") from None
            return found
        return Target(transport, host, parsed.port or 5060)


def next_hop_uri(request_uri: str, routes: list[str]) -> str:
    """Where a request goes next: its top Route (loose routing), else its Request-URI."""
    if routes:
        return routes[0].strip().strip("<").split(">")[0]
    return request_uri
