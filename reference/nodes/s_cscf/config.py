"""Configuration of the reference S-CSCF (what TS 23.228 leaves to the operator)."""

from __future__ import annotations

import dataclasses

from reference.sip.address import parse_uri

__all__ = ["ScscfConfig"]


@dataclasses.dataclass(frozen=True, slots=True)
class ScscfConfig:
    """Names, next hops and registration limits of one S-CSCF.

    Next hops of originating requests (:meth:`Scscf.route_originating`): a Request-URI
    that the HSS knows (an IMS user, a wIMPU block) or whose host is in
    ``i_cscf_domains`` (for example the external webRTC domains of option B, which the
    enhanced I-CSCF resolves through W7) goes to ``i_cscf_uri``: standard IMS sends a
    callee of the home network to an I-CSCF for its terminating S-CSCF. Any other
    Request-URI goes to ``remote_party_uri`` (a breakout or interconnect hop), or, when
    that is None, on the Request-URI itself (RFC 3263 resolution by the transport).
    """

    uri: str
    "The S-CSCF's own SIP URI (the server name in the HSS; the I-CSCF routes to it)."
    orig_uri: str
    "The originating URI returned in Service-Route (RFC 3608), e.g. ``sip:orig@scscf...;lr``."
    realm: str
    "The digest realm (the home network domain)."
    i_cscf_uri: str
    "The I-CSCF that takes terminating legs towards the home network."
    remote_party_uri: str | None = None
    "Next hop for targets outside the home network; None routes on the Request-URI."
    i_cscf_domains: tuple[str, ...] = ()
    "Host names whose requests go to the I-CSCF even when the HSS does not know them."
    default_expires: int = 3600
    "Registration interval when neither a Contact expires parameter nor Expires is given."
    min_expires: int = 60
    "Shortest interval accepted (RFC 3261 10.3: shorter gets 423 with Min-Expires)."
    max_expires: int = 7200
    "Longest interval granted; longer requests are shortened (RFC 3261 10.3 MAY)."
    nonce_lifetime: float = 300.0
    "Seconds a digest nonce stays fresh."
    digest_algorithms: tuple[str, ...] = ("MD5",)
    "Digest algorithms offered, preferred first (``SHA-256`` per RFC 8760)."
    associate_wildcards: bool = True
    "List the wildcarded IMPUs in P-Associated-URI after the distinct ones (solution profile)."

    def __post_init__(self) -> None:
        parse_uri(self.uri)  # raises ValueError for a bad URI
        for name in ("orig_uri", "i_cscf_uri", "remote_party_uri"):
            value = getattr(self, name)
            # These go into Route / Service-Route: loose routing only (RFC 3261 16.12).
            if value is not None and "lr" not in parse_uri(value).parameters:
                raise ValueError(f"{name} {value!r} must be a loose-routing URI (;lr)")
        if not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("expected 0 < min_expires <= default_expires <= max_expires")
