"""The S-CSCF registrar: block registration with a wildcarded IMPU (sans-I/O).

TR 23.701 5.2.2.5.1: "A single IMS registration is required to register the wIMPU
block as per existing 23.228 procedures". The S-CSCF is "not impacted" (5.2.2.1): this
is a standard registrar (TS 23.228 5.2.2.3, RFC 3261 10.3) with the IMS extensions the
flows rely on: Path (RFC 3327), Service-Route (RFC 3608), P-Associated-URI (RFC 3455).

Simplifications, each a choice of the reference implementation:

- SIP digest (RFC 3261 22.4) against the HSS password instead of IMS AKA;
- the registration is held per implicit registration set, keyed by the set's
  representative distinct IMPU: registering any distinct IMPU of the set registers
  the whole set, wildcarded IMPUs included (TS 23.228 implicit registration);
- only a distinct IMPU can be registered: a wildcarded IMPU, or an identity that only
  a wildcard matches, in To is refused with 403 (solution profile, "Block
  registration");
- no third-party registration, reg event package or network-initiated
  de-registration; contacts compare by scheme, user, host, port and transport only.

The clock is an argument (``now``); randomness (nonces, To tags) comes from the injected
``random_bytes``. Expiry is driven with :meth:`get_timer` / :meth:`handle_timer`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

from reference.nodes.hss.data import HssData, PublicIdentityLookup, Subscription
from reference.nodes.s_cscf.config import ScscfConfig
from reference.sip.address import NameAddr, parse_uri
from reference.sip.digest import DigestAuthenticator, DigestError, Outcome, find_credentials
from reference.sip.errors import SipError, WildcardError
from reference.sip.identity import IdentityError, WildcardImpu
from reference.sip.message import Header, Request, Response
from reference.sip.transaction import make_response
from reference.spec import clause

__all__ = ["SUPPORTED_OPTIONS", "Binding", "Registration", "ScscfRegistrar"]

SUPPORTED_OPTIONS = frozenset({"path"})
"Option tags this registrar understands in Require (RFC 3261 10.3 step 2)."


@dataclasses.dataclass(frozen=True, slots=True)
class Binding:
    """One registered contact of an implicit registration set."""

    contact: NameAddr
    "The Contact as registered, without its ``expires`` parameter."
    expires_at: float
    path: tuple[str, ...]
    "The Path values of the REGISTER that created or refreshed the binding, in order."
    call_id: str
    cseq: int

    def expires_in(self, now: float) -> int:
        """Whole seconds left (rounded up), 0 once expired."""
        return max(0, math.ceil(self.expires_at - now))


@dataclasses.dataclass(frozen=True, slots=True)
class Registration:
    """The registration state of one implicit registration set."""

    subscription: Subscription
    impu: str
    "The distinct IMPU the set was registered with (canonical)."
    bindings: tuple[Binding, ...]

    def live(self, now: float) -> tuple[Binding, ...]:
        """The bindings not yet expired at ``now``."""
        return tuple(b for b in self.bindings if b.expires_at > now)


def _contact_key(contact: NameAddr) -> tuple[str, str | None, str, int | None, str | None]:
    # RFC 3261 10.3 step 7 compares contact URIs "using the rules in Section 19.1.4";
    # simplified here to scheme, user, host, port and transport.
    uri = parse_uri(contact.uri)
    transport = uri.parameters.get("transport")
    return (uri.scheme.lower(), uri.user, uri.host.lower(), uri.port, transport and transport.lower())


class _Refused(Exception):
    """A REGISTER refused with ``response``; raised inside, caught in one place."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class ScscfRegistrar:
    """Registrations of implicit registration sets, in memory."""

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
        self.auth = DigestAuthenticator(
            config.realm, nonce_key, random_bytes,
            nonce_lifetime=config.nonce_lifetime, algorithms=config.digest_algorithms,
        )  # fmt: skip
        self._random_bytes = random_bytes
        self._registrations: dict[str, Registration] = {}

    # ----- reading -------------------------------------------------------------------

    def lookup(self, identity: str, now: float) -> tuple[PublicIdentityLookup | None, Registration | None]:
        """The HSS entry of ``identity`` and the live registration of its set, if any.

        A wildcard match resolves to the registration of the block's implicit set.

        Raises:
            IdentityError: ``identity`` is not a public user identity.
        """
        found = self.hss.lookup_public_identity(identity)
        if found is None:
            return None, None
        registration = self._registrations.get(found.subscription.representative)
        if registration is None or not registration.live(now):
            return found, None
        return found, dataclasses.replace(registration, bindings=registration.live(now))

    def bindings_for(self, identity: str, now: float) -> tuple[Binding, ...]:
        """The live bindings reaching ``identity`` (distinct, or matched by a wildcard)."""
        try:
            registration = self.lookup(identity, now)[1]
        except IdentityError:
            return ()
        return () if registration is None else registration.bindings

    @property
    def registrations(self) -> tuple[Registration, ...]:
        """Every stored registration (expired bindings included until :meth:`expire`)."""
        return tuple(self._registrations.values())

    # ----- timers --------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When the next binding expires, or None."""
        times = [b.expires_at for r in self._registrations.values() for b in r.bindings]
        return min(times, default=None)

    def handle_timer(self, now: float) -> None:
        """Drop what has expired at ``now``."""
        self.expire(now)

    @clause("RFC 3261 10.3")
    def expire(self, now: float) -> tuple[str, ...]:
        """Drop expired bindings; return the IMPUs whose registration ended."""
        ended: list[str] = []
        for key, registration in list(self._registrations.items()):
            live = registration.live(now)
            if not live:
                del self._registrations[key]
                ended.append(registration.impu)
            elif live != registration.bindings:
                self._registrations[key] = dataclasses.replace(registration, bindings=live)
        return tuple(ended)

    # ----- REGISTER ------------------------------------------------------------------

    def _reply(
        self, request: Request, status: int, reason: str | None = None, headers: Iterable[Header] = ()
    ) -> Response:
        return make_response(request, status, reason, to_tag=self._random_bytes(6).hex(), headers=headers)

    def _refuse(self, request: Request, status: int, reason: str | None = None, *extra: Header) -> _Refused:
        return _Refused(self._reply(request, status, reason, extra))

    @clause("TS 23.228 5.2.2.3")
    @clause("TR 23.701 5.2.2.5.1")
    @clause("RFC 3261 10.3")
    def receive_register(self, request: Request, now: float) -> Response:
        """Process a REGISTER (RFC 3261 10.3 steps 2 to 8) and return the final response."""
        try:
            return self._register(request, now)
        except _Refused as refused:
            return refused.response
        except SipError as exc:  # a header the parser kept as text and that does not parse
            return self._reply(request, exc.status, exc.reason)

    def _register(self, request: Request, now: float) -> Response:
        if request.method != "REGISTER":
            raise self._refuse(request, 405, None, Header("Allow", "REGISTER"))
        # 10.3 step 2: "the registrar [...] MUST process the Require header field values
        # as described for UASs in Section 8.2.2" (8.2.2.3: 420 with Unsupported).
        unknown = [t for t in request.get_all("Require") if t.lower() not in SUPPORTED_OPTIONS]
        if unknown:
            raise self._refuse(request, 420, None, Header("Unsupported", ", ".join(unknown)))
        subscription = self._authenticate(request, now)  # 10.3 step 3
        impu = self._authorise(request, subscription)  # 10.3 steps 4 and 5
        registration = self._registrations.get(subscription.representative)
        bindings = self._update_bindings(request, registration, now)  # 10.3 steps 6 and 7
        key = subscription.representative
        if bindings:
            self._registrations[key] = Registration(subscription, impu, bindings)
        else:
            self._registrations.pop(key, None)
        return self._ok(request, subscription, impu, bindings, now)  # 10.3 step 8

    @clause("RFC 3261 22.4")
    def _authenticate(self, request: Request, now: float) -> Subscription:
        try:
            credentials = find_credentials(request, self.config.realm)
            if credentials is None:
                raise self._challenge(request, now, stale=False)
            subscription = self.hss.subscription_for_impi(credentials.username)
            if subscription is None:
                raise self._refuse(request, 403, "Unknown private identity")
            outcome = self.auth.verify(
                credentials, method=request.method, uri=request.uri, password=subscription.password, now=now
            )
        except DigestError as exc:
            raise self._refuse(request, exc.status, str(exc)[:80]) from None
        if outcome is Outcome.STALE:
            raise self._challenge(request, now, stale=True)
        if outcome in (Outcome.INVALID_NONCE, Outcome.UNSUPPORTED):
            raise self._challenge(request, now, stale=False)
        if outcome is Outcome.WRONG_RESPONSE:
            # 403, as TS 24.229 does when an IMS authentication fails; it ends the exchange
            # instead of inviting the client to guess again (a choice of this reference).
            raise self._refuse(request, 403, "Authentication failed")
        return subscription

    def _challenge(self, request: Request, now: float, *, stale: bool) -> _Refused:
        # "A registrar SHOULD authenticate the UAC." RFC 3261 10.3 step 3; this one always
        # does, with a 401 carrying WWW-Authenticate (RFC 3261 22.2).
        lines = [Header("WWW-Authenticate", v) for v in self.auth.challenges(now, stale=stale)]
        return self._refuse(request, 401, None, *lines)

    def _authorise(self, request: Request, subscription: Subscription) -> str:
        to_uri = request.to.uri
        try:
            wildcard: WildcardImpu | None = WildcardImpu.parse(to_uri) if "!" in to_uri else None
        except WildcardError:
            wildcard = None
        if wildcard is not None and any(wildcard == w for s in self.hss.subscriptions
                                        for w in s.wildcard_impus):  # fmt: skip
            raise self._refuse(request, 403, "A wildcarded IMPU cannot be registered")
        try:
            found = self.hss.lookup_public_identity(to_uri)
        except IdentityError as exc:
            raise self._refuse(request, 400, str(exc)[:80]) from None
        # 10.3 step 5: "If the address-of-record is not valid for the domain in the
        # Request-URI, the registrar MUST send a 404 (Not Found) response".
        if found is None:
            raise self._refuse(request, 404, "Unknown public identity")
        if found.wildcarded:
            raise self._refuse(request, 403, "Only a distinct IMPU can be registered")
        # 10.3 step 4: "If the authenticated user is not authorized to modify bindings,
        # the registrar MUST return a 403 (Forbidden) and skip the remaining steps."
        if found.subscription is not subscription:
            raise self._refuse(request, 403, "IMPU not associated with this private identity")
        return found.identity

    @clause("RFC 3261 10.3")
    def _update_bindings(
        self, request: Request, registration: Registration | None, now: float
    ) -> tuple[Binding, ...]:
        current = list(registration.live(now)) if registration else []
        header = request.int_header("Expires")
        call_id, cseq = request.call_id, request.cseq.number
        if request.contact_is_star:
            # "If the request has additional Contact fields or an expiration time other
            # than zero, the request is invalid, and the server MUST return a 400
            # (Invalid Request) and skip the remaining steps." RFC 3261 10.3 step 6
            if header != 0:
                raise self._refuse(request, 400, "Contact: * requires Expires: 0")
            for binding in current:
                self._check_order(request, binding, call_id, cseq)
            return ()
        wanted: list[tuple[NameAddr, int]] = []
        for contact in request.contacts:
            param = contact.param("expires")
            # "If a field value has an "expires" parameter, that value MUST be taken as the
            # requested expiration. If there is no such parameter, but the request has an
            # Expires header field, that value MUST be taken as the requested expiration.
            # If there is neither, the registrar SHOULD take a locally-configured default
            # value as the requested expiration." RFC 3261 10.3 step 6
            expires = int(param) if param is not None else header if header is not None else None
            if expires is None:
                expires = self.config.default_expires
            # "If and only if the requested expiration interval is greater than zero AND
            # smaller than one hour AND less than a registrar-configured minimum, the
            # registrar MAY reject the registration with a response of 423 (Interval Too
            # Brief)." RFC 3261 10.3 step 6; the 423 "MUST contain a Min-Expires header
            # field" (RFC 3261 20.23).
            if 0 < expires < min(3600, self.config.min_expires):
                raise self._refuse(request, 423, None, Header("Min-Expires", str(self.config.min_expires)))
            plain = dataclasses.replace(contact, params=tuple(
                p for p in contact.params if p[0].lower() != "expires"))  # fmt: skip
            wanted.append((plain, min(expires, self.config.max_expires)))
        path = tuple(request.get_all("Path"))
        for contact, expires in wanted:
            key = _contact_key(contact)
            existing = next((b for b in current if _contact_key(b.contact) == key), None)
            if existing is not None:
                self._check_order(request, existing, call_id, cseq)
                current.remove(existing)
            if expires > 0:
                current.append(Binding(contact, now + expires, path, call_id, cseq))
        # "The binding updates MUST be committed [...] if and only if all binding updates
        # and additions succeed." RFC 3261 10.3 step 7: every refusal above is raised
        # before anything is stored.
        return tuple(current)

    def _check_order(self, request: Request, binding: Binding, call_id: str, cseq: int) -> None:
        # "If the value is higher than that of the existing binding, it MUST update or
        # remove the binding as above. If not, the update MUST be aborted and the request
        # fails." RFC 3261 10.3 step 7 (same Call-ID)
        if binding.call_id == call_id and cseq <= binding.cseq:
            raise self._refuse(request, 400, "CSeq not higher than the stored binding's")

    @clause("RFC 3327 5.3")
    @clause("RFC 3608 6")
    @clause("RFC 3455 4.1")
    def _ok(
        self, request: Request, sub: Subscription, impu: str, bindings: tuple[Binding, ...], now: float
    ) -> Response:
        # "The registrar returns a 200 (OK) response. The response MUST contain Contact
        # header field values enumerating all current bindings. Each Contact value MUST
        # feature an "expires" parameter indicating its expiration interval chosen by the
        # registrar." RFC 3261 10.3 step 8
        lines = [Header("Contact", str(b.contact.with_param("expires", str(b.expires_in(now)))))
                 for b in bindings]  # fmt: skip
        # RFC 3327 5.3 (paraphrased): the registrar stores the Path values with the
        # registration and returns them, in order, in the 200 (OK).
        lines += [Header("Path", value) for value in request.get_all("Path")]
        if bindings:
            # RFC 3608 6: the registrar may return a Service-Route, the route the UA
            # preloads for its originating requests.
            lines.append(Header("Service-Route", f"<{self.config.orig_uri}>"))
            # RFC 3455 4.1: P-Associated-URI lists the identities associated with the
            # registered AOR. The registered distinct IMPU first, the other distinct
            # IMPUs, then the wildcarded ones: "the wildcarded IMPU not first" (profile).
            associated = [impu] + [i for i in sub.distinct_impus if i != impu]
            if self.config.associate_wildcards:
                associated += [w.text for w in sub.wildcard_impus]
            lines.append(Header("P-Associated-URI", ", ".join(f"<{a}>" for a in associated)))
        return self._reply(request, 200, None, lines)
