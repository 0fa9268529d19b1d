"""The enhanced I-CSCF's terminating procedure, as a generator of effects (sans-I/O).

TR 23.701 5.2.2.3.3: "For terminating sessions, the I-CSCF shall initially query the
wIMPU Registrar to validate the registration status of a called webRTC user. If the
called webRTC user is registered, the I-CSCF shall proceed with standard IMS procedures
for terminating sessions, otherwise the session is rejected." and "The I-CSCF shall be
configurable with the domain names for which such a query is to be performed."
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Generator
from typing import Any

from reference.nodes.wimpu_registrar.model import RegistrationStatus
from reference.sip.identity import IdentityError, canonical_identity
from reference.sip.message import Request, Response
from reference.sip.transaction import make_response
from reference.spec import clause

__all__ = ["Forward", "HssLocation", "W7Query", "route_terminating", "webrtc_domain_of"]


@dataclasses.dataclass(frozen=True, slots=True)
class W7Query:
    """Ask the wIMPU Registrar over W7. Result: a :class:`RegistrationStatus`."""

    identity: str


@dataclasses.dataclass(frozen=True, slots=True)
class HssLocation:
    """Standard Cx location query (LIR/LIA). Result: the serving S-CSCF URI, or None
    when the HSS knows no subscription for the identity."""

    identity: str


@dataclasses.dataclass(frozen=True, slots=True)
class Forward:
    """Forward ``request`` to the S-CSCF ``scscf`` (standard terminating procedure)."""

    request: Request
    scscf: str
    webrtc: bool
    "True when the W7 check was made (the called user is a webRTC user)."


Flow = Generator[Any, Any, Response | Forward]


def webrtc_domain_of(identity: str, webrtc_domains: Collection[str]) -> str | None:
    """The configured webRTC domain of ``identity``, or None (5.2.2.5.4 step 1)."""
    try:
        canonical = canonical_identity(identity)
    except IdentityError:
        return None
    host = canonical.partition("@")[2].split(":")[0]
    return host if host in {d.lower() for d in webrtc_domains} else None


@clause("TR 23.701 5.2.2.5.4", steps=(1, 2, 3))
@clause("TR 23.701 5.2.2.3.3")
def route_terminating(
    request: Request,
    *,
    webrtc_domains: Collection[str],
    external_domains: Collection[str],
    to_tag: str,
) -> Flow:
    """Steps of TR 23.701 5.2.2.5.4 at the I-CSCF.

    1. "The I-CSCF identifies this is a session for a webRTC user using the configured
       domains for that purpose."
    2. "The I-CSCF validates through the interaction with the wIMPU registrar if the
       called webRTC user is registered and retrieves any registration context if needed
       to locate the individual IMPU and wIMPU associated with the called webRTC user."
       Not registered: "the I-CSCF shall reject the session with the appropriate code":
       480 for a user the network knows (an IMPU of a block, or an external identity of
       an option B domain, who may register later), 404 for one that belongs to no block
       (solution profile; an open point of the text).
    3. "The I-CSCF then performs standard IMS session termination procedure to locate
       the eP-CSCF for the wIMPU associated with the called webRTC user": the HSS
       location query for the individual IMPU (matched by the block's wildcard), and
       forwarding to that S-CSCF.
    Other domains: no W7 query at all, only the standard procedure.
    """
    called = request.uri
    try:
        canonical_identity(called)
    except IdentityError:
        return make_response(request, 404, "Not a public user identity", to_tag=to_tag)
    target = request
    webrtc = webrtc_domain_of(called, webrtc_domains) is not None
    if webrtc:
        status: RegistrationStatus = yield W7Query(called)  # step 2
        if not status.registered or status.impu is None:
            known = yield HssLocation(called)
            external = webrtc_domain_of(called, external_domains) is not None
            if known is not None or external:
                return make_response(request, 480, "Called webRTC user not registered", to_tag=to_tag)
            return make_response(request, 404, "Not in any wIMPU block", to_tag=to_tag)
        impu = status.impu
        if canonical_identity(impu) != canonical_identity(called):
            # Option B: the called identity is external; retarget to the individual IMPU
            # (RFC 3261 16.5), keeping the original in P-Called-Party-ID is the S-CSCF's
            # job for the IMPU; the external identity stays in To.
            target = target.with_uri(impu)
        if status.wimpu:
            # RFC 5002: the wildcarded identity that matched, for the S-CSCF.
            target = target.with_header_set("P-Profile-Key", f"<{status.wimpu}>")
    scscf = yield HssLocation(target.uri)  # step 3: Cx location query
    if scscf is None:
        return make_response(request, 404, "Unknown public user identity", to_tag=to_tag)
    return Forward(target, scscf, webrtc)
