"""The S-CSCF of the reference stack: registrar, terminating and originating routing.

TR 23.701 5.2.2.1: the solution "uses the wild carded Public User Identity (wIMPU)
[...] as is with respect to registration, call origination and call termination. Hence
S-CSCF and HSS are not impacted." This S-CSCF runs the standard TS 23.228 procedures,
reduced to what the flows need; the solution profile ("Termination") puts it as: match
the Request-URI against the registered wildcard blocks, route to the block's registered
contact through its Path, and carry the called identity in P-Called-Party-ID.

Sans-I/O. The decisions are values: :class:`Respond` (answer the request) or
:class:`Forward` (send these requests on). Each flow is one synchronous step: the HSS
is an in-process data set here (Cx is not a reference point of the seed), so unlike
the eP-CSCF flows there is nothing to ``yield``. The proxy core does the RFC 3261 16.6
chores that are not routing decisions: Max-Forwards, Via, Record-Route, transactions,
CANCEL, and the fork of :attr:`Forward.branches` (RFC 3261 16.7).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from reference.nodes.hss.data import HssData
from reference.nodes.s_cscf.config import ScscfConfig
from reference.nodes.s_cscf.registrar import ScscfRegistrar
from reference.sip.address import parse_name_addr, parse_uri
from reference.sip.errors import SipError
from reference.sip.identity import IdentityError
from reference.sip.message import Request, Response
from reference.sip.transaction import make_response
from reference.spec import clause

__all__ = ["Forward", "OriginatingDecision", "Respond", "Scscf", "TerminatingDecision"]


@dataclasses.dataclass(frozen=True, slots=True)
class Respond:
    """Answer the request with ``response`` (a rejection, or the REGISTER's answer)."""

    response: Response


@dataclasses.dataclass(frozen=True, slots=True)
class Forward:
    """Send each of ``branches`` on, in parallel (one per registered contact)."""

    branches: tuple[Request, ...]

    @property
    def request(self) -> Request:
        """The first (usually the only) branch."""
        return self.branches[0]


TerminatingDecision = Respond | Forward
OriginatingDecision = Respond | Forward


def _uri_key(uri: str) -> tuple[str, str | None, str, int | None, bool]:
    parsed = parse_uri(uri)
    return (parsed.scheme.lower(), parsed.user, parsed.host.lower(), parsed.port,
            "orig" in parsed.parameters)  # fmt: skip


class Scscf:
    """One S-CSCF: its registrar and its routing of other requests.

    Args:
        config: names, next hops and limits.
        hss: the HSS data set (Cx answers).
        nonce_key: secret protecting digest nonces.
        random_bytes: randomness for nonces and To tags (``os.urandom``).
    """

    def __init__(
        self,
        config: ScscfConfig,
        hss: HssData,
        *,
        nonce_key: bytes,
        random_bytes: Callable[[int], bytes],
    ) -> None:
        self.config = config
        self.hss = hss
        self.registrar = ScscfRegistrar(config, hss, nonce_key=nonce_key, random_bytes=random_bytes)
        self._random_bytes = random_bytes
        self._own = _uri_key(config.uri)
        self._orig = _uri_key(config.orig_uri)

    # ----- entry points ------------------------------------------------------------

    def receive_register(self, request: Request, now: float) -> Response:
        """See :meth:`ScscfRegistrar.receive_register`."""
        return self.registrar.receive_register(request, now)

    def get_timer(self) -> float | None:
        return self.registrar.get_timer()

    def handle_timer(self, now: float) -> None:
        self.registrar.handle_timer(now)

    def receive_request(self, request: Request, now: float) -> Respond | Forward:
        """Dispatch a request: REGISTER, originating (top Route is the Service-Route),
        in-dialog (To has a tag: follow the Route set), or terminating."""
        if request.method == "REGISTER":
            return Respond(self.receive_register(request, now))
        try:
            if self._top_route_is(request, self._orig):
                return self.route_originating(request, now)
            if request.to.tag is not None:
                return Forward((self._pop_own_route(request),))
        except SipError as exc:
            return self._respond(request, exc.status, exc.reason)
        return self.route_terminating(request, now)

    # ----- helpers -----------------------------------------------------------------

    def _respond(self, request: Request, status: int, reason: str | None = None) -> Respond:
        return Respond(make_response(request, status, reason, to_tag=self._random_bytes(6).hex()))

    def _top_route_is(self, request: Request, key: tuple[str, str | None, str, int | None, bool]) -> bool:
        routes = request.get_all("Route")
        if not routes:
            return False
        try:
            return _uri_key(parse_name_addr(routes[0]).uri) == key
        except ValueError:
            return False

    @clause("RFC 3261 16.4")
    def _pop_own_route(self, request: Request) -> Request:
        # "If the first value in the Route header field indicates this proxy, the proxy
        # MUST remove that value from the request." RFC 3261 16.4
        while self._top_route_is(request, self._own) or self._top_route_is(request, self._orig):
            request = request.without_first_value("Route")
        return request

    def _served_by_home(self, target: str) -> bool:
        try:
            if self.hss.lookup_public_identity(target) is not None:
                return True
        except IdentityError:
            pass
        try:
            host = parse_uri(target).host.lower()
        except ValueError:
            return False
        return host in {d.lower() for d in self.config.i_cscf_domains}

    # ----- terminating ---------------------------------------------------------------

    @clause("TS 23.228 5.7")
    @clause("TR 23.701 5.2.2.5.4", steps=3)
    @clause("RFC 3455 4.2")
    def route_terminating(self, request: Request, now: float) -> TerminatingDecision:
        """Route a request for a served user to its registered contacts.

        The Request-URI is resolved through the HSS (a distinct IMPU wins over a
        wildcard, TS 29.228 6.1.4) and then to the live registration of its implicit
        set: a wIMPU block's individual IMPU reaches the block's contact. Unknown
        identity: 404. Known but not registered: 480. Otherwise one branch per
        contact: Request-URI = the contact, Route = the stored Path then any Route
        left after our own, ``P-Called-Party-ID`` = the Request-URI as received.
        Anything else (``P-Profile-Key`` from the I-CSCF included) is kept.
        """
        try:
            request = self._pop_own_route(request)
            target = request.uri
            try:
                found, registration = self.registrar.lookup(target, now)
            except IdentityError:
                found, registration = None, None
            if found is None:
                return self._respond(request, 404, "Unknown public identity")
            if registration is None:
                return self._respond(request, 480, "Not registered")
            remaining = request.get_all("Route")
        except SipError as exc:  # overlapping wildcards, a Route that does not parse
            return self._respond(request, exc.status, exc.reason)
        # RFC 3455 4.2: P-Called-Party-ID carries the Request-URI as it was received
        # before the proxy retargets it to the registered contact.
        called = request.with_header_set("P-Called-Party-ID", f"<{target}>")
        branches: list[Request] = []
        for binding in registration.bindings:
            # TS 23.228 5.7 / RFC 3327 5.3 (paraphrased): a request to the registered
            # contact is routed through the Path recorded at registration, in order.
            routes = [*binding.path, *remaining]
            branch = called.with_uri(binding.contact.uri)
            branch = branch.with_header_set("Route", *routes) if routes else branch.without_header("Route")
            branches.append(branch)
        return Forward(tuple(branches))

    # ----- originating ---------------------------------------------------------------

    @clause("TS 23.228 5.6")
    @clause("TR 23.701 5.2.2.5.3", steps=3)
    @clause("RFC 3608 6")
    def route_originating(self, request: Request, now: float) -> OriginatingDecision:
        """Route a request arriving on the Service-Route of a registered caller.

        The top Route must be this S-CSCF's originating URI (it is removed). The caller
        is the P-Asserted-Identity (RFC 3325), which must belong to a registered
        implicit set, distinct or matched by a wildcard; otherwise 403. Next hop: the
        Route values the request still carries; else the I-CSCF for a home-network
        target (known to the HSS, or a host in ``i_cscf_domains``); else
        ``remote_party_uri``; else the Request-URI itself (see :class:`ScscfConfig`).
        """
        try:
            if not self._top_route_is(request, self._orig):
                return self._respond(request, 403, "Not on the Service-Route of this S-CSCF")
            request = self._pop_own_route(request)
            if not self._caller_registered(request, now):
                return self._respond(request, 403, "P-Asserted-Identity not registered here")
            if request.get_all("Route"):
                return Forward((request,))
        except SipError as exc:
            return self._respond(request, exc.status, exc.reason)
        if self._served_by_home(request.uri):
            hop: str | None = self.config.i_cscf_uri
        else:
            hop = self.config.remote_party_uri
        if hop is not None:
            request = request.with_header_set("Route", f"<{hop}>")
        return Forward((request,))

    def _caller_registered(self, request: Request, now: float) -> bool:
        for asserted in request.addresses("P-Asserted-Identity"):
            try:
                if self.registrar.lookup(asserted.uri, now)[1] is not None:
                    return True
            except IdentityError:
                continue
        return False
