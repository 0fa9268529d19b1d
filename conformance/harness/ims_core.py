"""The IMS core the harness plays: an S-CSCF with its HSS data, and a plain I-CSCF.

When a PIXIT says ``[s_cscf] mode = "emulated"`` (and ``[i_cscf] mode = "emulated"``),
the node under test (an eP-CSCF, TR 23.701 5.2.2.3.2) registers its wIMPU blocks with,
and routes its sessions through, this emulation instead of the reference S-CSCF.

TR 23.701 5.2.2.1: the solution uses the wildcarded IMPU of TS 23.228 "as is", so
"S-CSCF and HSS are not impacted". This module is therefore a plain TS 23.228 core:

- registrar (TS 23.228 5.2.2.3, RFC 3261 10.3) with SIP digest (RFC 3261 22.4,
  RFC 2617, RFC 7616; IMS AKA is out of scope, as in the solution profile), Path
  (RFC 3327), Service-Route (RFC 3608) and P-Associated-URI (RFC 3455 4.1) listing the
  distinct IMPUs, then the wildcarded IMPUs (TS 23.003 13.4A) of the implicit set;
- originating routing on the Service-Route (TS 23.228 5.6, TR 23.701 5.2.2.5.3 step 3);
- terminating routing (TS 23.228 5.7, TR 23.701 5.2.2.5.4 step 3): the Request-URI is
  matched against the distinct IMPUs, then the wildcards (a distinct IMPU wins,
  TS 29.228 6.1.4), and forked to every live binding through its Path, with
  P-Called-Party-ID (RFC 3455 4.2);
- an I-CSCF that proxies every initial request to the S-CSCF (the Cx location query always
  names this S-CSCF); given a W7 client (``w7``) and the webRTC domains, it also plays the
  enhancement of TR 23.701 5.2.2.3.3 for the SUT's wIMPU Registrar: the W7 status query of a
  called webRTC user, rejection of one not registered, and the retargeting of an option B
  external identity to its individual IMPU (5.2.2.5.4 steps 1-2). Without it, an option B
  call to an external identity cannot reach the eP-CSCF under test.

Independence: it imports nothing of the reference's S-CSCF, HSS, digest or identity
modules. Identity matching, the wildcard expression, digest and bindings are written
here again, so a bug of the reference's S-CSCF logic is not shared by the tester that
checks an eP-CSCF against it. Only the generic SIP layer is shared (message model,
name-addr parsing, transactions, RFC 3261 16 proxy core, the TCP/UDP node), which
has its own tests and is not what TR 23.701 is about.

Simplifications (harness choices): no 423/Min-Expires and no clamp of the interval;
no CSeq ordering check of refreshed bindings; nonces never go stale (kept in a set);
wildcard expressions run on Python ``re`` (TS 23.003 asks for POSIX ERE: the same
language for the usual ``.*``, ``[0-9]{4}`` expressions); one registration per
distinct IMPU, and a subscriber counts as registered through its representative
(first) distinct IMPU.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Final

from reference.nodes.wimpu_registrar.model import RegistrationStatus
from reference.sip.address import NameAddr, parse_name_addr, parse_uri
from reference.sip.errors import SipError
from reference.sip.message import Header, Request, Response
from reference.sip.proxy import check_max_forwards, prepare_request
from reference.sip.transaction import ServerTransaction, make_response, new_branch
from reference.transport.endpoint import Source, Target
from reference.transport.proxy_shell import Branch, proxy
from reference.transport.resolver import Resolver, UnresolvableUri, next_hop_uri
from reference.transport.sip_node import SipNode

from .ims_identity import HASHES, IdentityKey, Wildcard, auth_params, digest, identity_key

__all__ = ["ImsCore", "Subscriber"]

log = logging.getLogger("wimpu.harness.ims_core")

DEFAULT_EXPIRES: Final = 3600
"RFC 3261 10.3 step 6: the locally configured default interval."
SUPPORTED_OPTIONS: Final = frozenset({"path"})
"Option tags understood in Require (RFC 3261 10.3 step 2)."

@dataclasses.dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscription of the emulated HSS."""

    impi: str
    "The private identity, the digest username (``block1@ims.example.net``)."
    password: str = dataclasses.field(repr=False)
    distinct: tuple[str, ...]
    "Distinct IMPUs; the first is the one registered (the representative)."
    wildcards: tuple[str, ...] = ()
    "Wildcarded IMPUs (TS 23.003 13.4A): the part between ``!`` and ``!`` is a regular expression."


@dataclasses.dataclass(frozen=True, slots=True)
class _Binding:
    contact: NameAddr
    "The Contact as registered, without its ``expires`` parameter."
    path: tuple[str, ...]
    expires_at: float


class _Reject(Exception):
    """Answer the request with ``status`` (raised inside, answered in one place)."""

    def __init__(self, status: int, reason: str, *headers: Header) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers


def _contact_key(contact: NameAddr) -> tuple[str, str, str, int | None, str]:
    uri = parse_uri(contact.uri)
    transport = uri.parameters.get("transport") or ""
    return uri.scheme.lower(), uri.user or "", uri.host.lower(), uri.port, transport.lower()


def _route_uri(value: str) -> str:
    return parse_name_addr(value).uri


# ----- the core -------------------------------------------------------------------------


class ImsCore:
    """The emulated S-CSCF (with its HSS data) and I-CSCF of the harness.

    Args:
        domain: the home network domain, the digest realm.
        subscribers: the HSS data set.
        scscf: where the S-CSCF listens (host, port); port 0 picks a free port.
        icscf: where the I-CSCF listens, or None for no I-CSCF.
        clock: wall clock of the registrar (binding expiry), injectable in tests.
        w7: the W7 registration-status query of the wIMPU Registrar (identity -> its
            :class:`~reference.nodes.wimpu_registrar.model.RegistrationStatus`), or None for
            an I-CSCF without the TR 23.701 enhancement.
        webrtc_domains: the domains for which the I-CSCF queries W7 (5.2.2.3.3).
        external_domains: those of them that are option B external identities' domains.
    """

    def __init__(
        self,
        *,
        domain: str,
        subscribers: Sequence[Subscriber],
        scscf: tuple[str, int],
        icscf: tuple[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        w7: Callable[[str], Awaitable[RegistrationStatus]] | None = None,
        webrtc_domains: Collection[str] = (),
        external_domains: Collection[str] = (),
    ) -> None:
        self.domain = domain
        self._w7 = w7
        self._webrtc_domains = {d.lower() for d in webrtc_domains}
        self._external_domains = {d.lower() for d in external_domains}
        self.subscribers = tuple(subscribers)
        self.clock = clock
        self.registers: list[Request] = []
        "Every REGISTER received by the S-CSCF, in order."
        self._register_finals: set[IdentityKey] = set()
        "The AoRs a REGISTER of which the S-CSCF answered with a final response other than 401."
        self._distinct = [(identity_key(i), s) for s in self.subscribers for i in s.distinct]
        self._wildcards = [(s, Wildcard.compile(w)) for s in self.subscribers for w in s.wildcards]
        self._bindings: dict[IdentityKey, list[_Binding]] = {}
        self._nonces: set[str] = set()
        self._remotes: dict[str, Target] = {}
        self.scscf_node = SipNode("s-cscf", host=scscf[0], port=scscf[1])
        self.scscf_node.on_request = self._scscf_request
        self.scscf_node.on_ack = self._scscf_ack
        self.icscf_node: SipNode | None = None
        if icscf is not None:
            self.icscf_node = SipNode("i-cscf", host=icscf[0], port=icscf[1])
            self.icscf_node.on_request = self._icscf_request
            self.icscf_node.on_ack = self._icscf_ack

    # ----- life cycle and configuration ---------------------------------------------------

    def provision_password(self, impi: str, password: str) -> None:
        """The emulated HSS holds ``password`` for ``impi`` from now on (an operator's change of the
        subscription's credentials): later digest answers are checked against it.

        Raises:
            KeyError: no subscriber has that private identity.
        """
        if not any(s.impi == impi for s in self.subscribers):
            raise KeyError(f"no subscriber with the private identity {impi!r}")
        self.subscribers = tuple(
            dataclasses.replace(s, password=password) if s.impi == impi else s for s in self.subscribers
        )
        self._distinct = [(identity_key(i), s) for s in self.subscribers for i in s.distinct]
        self._wildcards = [(s, Wildcard.compile(w)) for s in self.subscribers for w in s.wildcards]

    async def start(self) -> None:
        """Listen (TCP, and UDP on the same port) on the S-CSCF and I-CSCF addresses."""
        await self.scscf_node.start()
        if self.icscf_node is not None:
            await self.icscf_node.start()

    async def stop(self) -> None:
        if self.icscf_node is not None:
            await self.icscf_node.stop()
        await self.scscf_node.stop()

    def add_remote(self, domain: str, target: Target) -> None:
        """Requests for ``domain`` (originating targets, in-dialog next hops) go to ``target``."""
        self._remotes[domain.lower()] = target

    @property
    def scscf_target(self) -> Target:
        return Target("TCP", self.scscf_node.host, self.scscf_node.port)

    @property
    def icscf_target(self) -> Target | None:
        node = self.icscf_node
        return None if node is None else Target("TCP", node.host, node.port)

    @property
    def service_route(self) -> str:
        """The Service-Route value of a 200 to REGISTER (RFC 3608)."""
        return f"<{self.scscf_node.uri('orig')}>"

    def bindings(self, aor: str) -> list[tuple[str, tuple[str, ...], float]]:
        """The live bindings of ``aor``: (contact URI, Path values, expiry time)."""
        return [(b.contact.uri, b.path, b.expires_at) for b in self._live(identity_key(aor))]

    def register_answered(self, aor: str) -> bool:
        """Whether the S-CSCF has answered a REGISTER of ``aor`` with a final response other than
        its digest challenge (registered, or refused)."""
        return identity_key(aor) in self._register_finals

    # ----- HSS data -----------------------------------------------------------------------

    def _live(self, aor: IdentityKey) -> list[_Binding]:
        now = self.clock()
        return [b for b in self._bindings.get(aor, []) if b.expires_at > now]

    def _owner_of_aor(self, aor: IdentityKey) -> Subscriber | None:
        return next((s for key, s in self._distinct if key == aor), None)

    def served(self, identity: str) -> Subscriber | None:
        """The subscriber ``identity`` belongs to: a distinct IMPU equal to it, else a
        wildcarded IMPU matching it (a distinct IMPU wins, TS 29.228 6.1.4)."""
        try:
            key = identity_key(identity)
        except ValueError:
            return None
        owner = self._owner_of_aor(key)
        if owner is not None:
            return owner
        return next((s for s, wildcard in self._wildcards if wildcard.matches(key)), None)

    def _registered(self, subscriber: Subscriber) -> list[_Binding]:
        """Live bindings of the subscriber's implicit set (its representative IMPU)."""
        return self._live(identity_key(subscriber.distinct[0]))

    # ----- registrar ----------------------------------------------------------------------

    def _register(self, request: Request) -> Response:
        """REGISTER: RFC 3261 10.3 steps 2 to 8, TS 23.228 5.2.2.3, TR 23.701 5.2.2.5.1."""
        unknown = [t for t in request.get_all("Require") if t.lower() not in SUPPORTED_OPTIONS]
        if unknown:
            raise _Reject(420, "Bad Extension", Header("Unsupported", ", ".join(unknown)))
        try:
            aor = identity_key(request.to.uri)
        except ValueError as exc:
            raise _Reject(400, "To is not a public user identity") from exc
        subscriber = self._owner_of_aor(aor)
        if subscriber is None:
            raise _Reject(403, "Unknown public identity")
        self._authenticate(request, subscriber)
        self._bindings[aor] = self._updated_bindings(request, aor)
        return self._registered_ok(request, subscriber, aor)

    def _note_register(self, request: Request, status: int) -> None:
        if status != 401:
            try:
                self._register_finals.add(identity_key(request.to.uri))
            except ValueError:
                pass

    def _challenge(self) -> _Reject:
        """RFC 3261 22.4 / RFC 2617 3.2.1: a 401 with a fresh nonce."""
        nonce = secrets.token_urlsafe(18)
        self._nonces.add(nonce)
        value = f'Digest realm="{self.domain}", nonce="{nonce}", algorithm=MD5, qop="auth"'
        return _Reject(401, "Unauthorized", Header("WWW-Authenticate", value))

    def _credentials(self, request: Request) -> dict[str, str] | None:
        """The Digest parameters of the Authorization for our realm (RFC 3261 22.4)."""
        for value in request.get_all("Authorization"):
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() != "digest":
                continue
            try:
                params = auth_params(rest)
            except ValueError as exc:
                raise _Reject(400, "Malformed Authorization") from exc
            if params.get("realm") == self.domain:
                return params
        return None

    def _authenticate(self, request: Request, subscriber: Subscriber) -> None:
        """RFC 3261 22.4 with RFC 2617 3.2.2 / RFC 7616 3.4 (MD5 or SHA-256, qop auth or none)."""
        params = self._credentials(request)
        if params is None:
            raise self._challenge()
        missing = [n for n in ("username", "nonce", "uri", "response") if n not in params]
        qop = params.get("qop")
        if missing or (qop is not None and not {"nc", "cnonce"} <= params.keys()):
            raise _Reject(400, "Incomplete Digest credentials")
        if params["username"] != subscriber.impi:
            raise _Reject(403, "IMPU not associated with this private identity")
        algorithm = params.get("algorithm", "MD5").upper()
        if params["nonce"] not in self._nonces or algorithm not in HASHES or qop not in (None, "auth"):
            raise self._challenge()
        if params["uri"] != request.uri:  # RFC 7616 3.4.6
            raise _Reject(400, "digest-uri is not the Request-URI")
        expected = digest(
            algorithm, username=params["username"], realm=self.domain, password=subscriber.password,
            method=request.method, uri=params["uri"], nonce=params["nonce"], qop=qop,
            nc=params.get("nc"), cnonce=params.get("cnonce"),
        )  # fmt: skip
        if not hmac.compare_digest(expected, params["response"].lower()):
            raise _Reject(403, "Authentication failed")

    def _updated_bindings(self, request: Request, aor: IdentityKey) -> list[_Binding]:
        """RFC 3261 10.3 steps 6 and 7; the Path is stored with each binding (RFC 3327 5.3)."""
        now = self.clock()
        current = self._live(aor)
        header = request.int_header("Expires")
        if request.contact_is_star:
            if header != 0:
                raise _Reject(400, "Contact: * requires Expires: 0")
            return []
        path = tuple(request.get_all("Path"))
        for contact in request.contacts:
            expires = self._requested_expires(contact, header)
            plain = dataclasses.replace(contact, params=tuple(
                p for p in contact.params if p[0].lower() != "expires"))  # fmt: skip
            key = _contact_key(plain)
            current = [b for b in current if _contact_key(b.contact) != key]
            if expires > 0:
                current.append(_Binding(plain, path, now + expires))
        return current

    @staticmethod
    def _requested_expires(contact: NameAddr, header: int | None) -> int:
        """RFC 3261 10.3 step 6: the Contact's expires, else Expires, else the default."""
        param = contact.param("expires")
        try:
            return int(param) if param is not None else header if header is not None else DEFAULT_EXPIRES
        except ValueError as exc:
            raise _Reject(400, "Bad expires parameter") from exc

    def _registered_ok(self, request: Request, subscriber: Subscriber, aor: IdentityKey) -> Response:
        """RFC 3261 10.3 step 8, RFC 3327 5.3, RFC 3608 6, RFC 3455 4.1."""
        now = self.clock()
        bindings = self._live(aor)
        contacts = [
            str(b.contact.with_param("expires", str(max(0, math.ceil(b.expires_at - now))))) for b in bindings
        ]
        # RFC 3261 7.3.1: several values of a header field in one row, comma-separated, are the same
        # as one row each; a real S-CSCF may write either, so this one joins them (an eP-CSCF that
        # reads one binding per row misses the others: issue 16, the take-over's removal).
        lines = [Header("Contact", ", ".join(contacts))] if contacts else []
        lines += [Header("Path", value) for value in request.get_all("Path")]
        if bindings:
            lines.append(Header("Service-Route", self.service_route))
            registered = next(i for i in subscriber.distinct if identity_key(i) == aor)
            associated = [
                registered,
                *(i for i in subscriber.distinct if i != registered),
                *subscriber.wildcards,
            ]
            lines.append(Header("P-Associated-URI", ", ".join(f"<{a}>" for a in associated)))
        return make_response(request, 200, to_tag=secrets.token_hex(6), headers=lines)

    # ----- routing ------------------------------------------------------------------------

    def _names_us(self, route: str, *, user: str | None = None) -> bool:
        """True if the Route value's URI is this S-CSCF's address (and ``user``, when given)."""
        try:
            uri = parse_uri(_route_uri(route))
        except ValueError:
            return False
        node = self.scscf_node
        ours = uri.host.lower() == node.host.lower() and (uri.port or 5060) == node.port
        return ours and (user is None or uri.user == user)

    def _pop_own_routes(self, request: Request) -> Request:
        """RFC 3261 16.4: remove the top Route values that name this S-CSCF."""
        while (routes := request.get_all("Route")) and self._names_us(routes[0]):
            request = request.without_first_value("Route")
        return request

    def _resolve(self, uri: str) -> Target:
        """The next hop: an ``add_remote`` domain, else a numeric host:port (the Resolver)."""
        try:
            host = parse_uri(uri).host.lower()
            return self._remotes.get(host) or Resolver().resolve(uri)
        except (UnresolvableUri, ValueError) as exc:
            raise _Reject(404, "No route") from exc

    def _along_route(self, request: Request) -> Branch:
        """Loose routing (RFC 3261 16.5, 16.6): to the top Route, else the Request-URI."""
        return Branch(request.uri, self._resolve(next_hop_uri(request.uri, request.get_all("Route"))),
                      request=request)  # fmt: skip

    def _route(self, request: Request) -> list[Branch]:
        """Which procedure applies: originating (on the Service-Route), in-dialog, terminating."""
        routes = request.get_all("Route")
        if routes and self._names_us(routes[0], user="orig"):
            return self._originating(request)
        if request.to.tag is not None:
            return [self._along_route(self._pop_own_routes(request))]  # RFC 3261 16.12
        return self._terminating(request)

    def _originating(self, request: Request) -> list[Branch]:
        """TS 23.228 5.6, TR 23.701 5.2.2.5.3 step 3, RFC 3608 6: the caller (the
        P-Asserted-Identity, RFC 3325) must be in a registered implicit set."""
        request = self._pop_own_routes(request)
        if not self._caller_registered(request):
            raise _Reject(403, "P-Asserted-Identity not registered here")
        if request.get_all("Route"):
            return [self._along_route(request)]
        try:
            host = parse_uri(request.uri).host.lower()
        except ValueError as exc:
            raise _Reject(416, "Unsupported URI Scheme") from exc
        if host in self._remotes:
            return [Branch(request.uri, self._remotes[host], request=request)]
        home = self.served(request.uri) is not None or host in self._webrtc_domains
        icscf = self.icscf_target
        if home and icscf is not None:
            # TS 23.228 5.6, 5.7: a callee of the home network (a webRTC domain's included, which
            # the enhanced I-CSCF checks over W7, TR 23.701 5.2.2.5.4 step 1) goes to the I-CSCF
            return [Branch(request.uri, icscf, request=request)]
        if self.served(request.uri) is not None:
            return self._terminating(request)
        raise _Reject(404, "No route to the target")

    def _caller_registered(self, request: Request) -> bool:
        for asserted in request.addresses("P-Asserted-Identity"):
            subscriber = self.served(asserted.uri)
            if subscriber is not None and self._registered(subscriber):
                return True
        return False

    def _terminating(self, request: Request) -> list[Branch]:
        """TS 23.228 5.7, TR 23.701 5.2.2.5.4 step 3, RFC 3327 5.3, RFC 3455 4.2: one
        branch per live binding, through its Path, with P-Called-Party-ID."""
        request = self._pop_own_routes(request)
        subscriber = self.served(request.uri)
        if subscriber is None:
            raise _Reject(404, "Unknown public identity")
        bindings = self._registered(subscriber)
        if not bindings:
            raise _Reject(480, "Not registered")
        remaining = request.get_all("Route")
        called = request.with_header_set("P-Called-Party-ID", f"<{request.uri}>")
        branches: list[Branch] = []
        for binding in bindings:
            routes = [*binding.path, *remaining]
            copy = called.with_uri(binding.contact.uri)
            copy = copy.with_header_set("Route", *routes) if routes else copy.without_header("Route")
            branches.append(self._along_route(copy))
        return branches

    # ----- SIP entry points -----------------------------------------------------------------

    async def _scscf_request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        """Every request but CANCEL and ACK reaching the S-CSCF."""
        node = self.scscf_node
        try:
            if request.method == "REGISTER":
                self.registers.append(request)
                try:
                    response = self._register(request)
                except _Reject as exc:
                    self._note_register(request, exc.status)
                    raise
                self._note_register(request, response.status)
                node.respond(tx, response)
                return
            check_max_forwards(request)
            branches = self._route(request)
            initial_invite = request.method == "INVITE" and request.to.tag is None
            await proxy(node, tx, request, branches, record_route=node.uri() if initial_invite else None,
                        own_uris=[node.uri(), node.uri("orig")])  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - every failure becomes a final response
            self._fail(node, tx, request, exc)

    async def _icscf_request(self, tx: ServerTransaction, request: Request, source: Source) -> None:
        """The I-CSCF (TS 23.228 5.7): every initial request to the S-CSCF, without Record-Route,
        after the webRTC check of :meth:`_webrtc_check` when there is a W7 client; a request in a
        dialog on along its Route (the reference I-CSCF does the same, ``reference/nodes/i_cscf``)."""
        node = self.icscf_node
        assert node is not None
        try:
            check_max_forwards(request)
            if request.to.tag is not None:
                # RFC 3261 16.4, 16.6: a request in a dialog with a route set (a caller with one
                # connection to its entry point sends it there) goes on to the Route's next hop; the
                # I-CSCF is on no dialog's path, so without a Route it does not belong here
                if not request.get_all("Route"):
                    raise _Reject(403, "Not a dialog-forming request")
                await proxy(node, tx, request, [self._along_route(request)], own_uris=[node.uri()])
                return
            request = await self._webrtc_check(request)
            await proxy(node, tx, request, [Branch(request.uri, self.scscf_target)], own_uris=[node.uri()])
        except Exception as exc:  # noqa: BLE001 - every failure becomes a final response
            self._fail(node, tx, request, exc)

    async def _webrtc_check(self, request: Request) -> Request:
        """TR 23.701 5.2.2.5.4 steps 1-2 (5.2.2.3.3) at the emulated I-CSCF.

        Step 1: a called identity of a configured webRTC domain is a webRTC user's. Step 2: the
        wIMPU Registrar is asked over W7 whether it is registered; not registered: 480 if the
        network knows it (an identity of a block, or of an option B domain), else 404 (solution
        profile). Registered under another identity (option B, an external identity): the
        request is retargeted to the individual IMPU (RFC 3261 16.5), with ``P-Profile-Key``
        naming the wIMPU (RFC 5002). Other domains, or no W7 client: the request unchanged.
        """
        try:
            key = identity_key(request.uri)
        except ValueError:
            return request
        if self._w7 is None or key[2] not in self._webrtc_domains:
            return request
        status = await self._w7(request.uri)
        if not status.registered:
            if self.served(request.uri) is not None or key[2] in self._external_domains:
                raise _Reject(480, "Called webRTC user not registered")
            raise _Reject(404, "Not in any wIMPU block")
        impu = status.impu or request.uri
        if identity_key(impu) != key:
            request = request.with_uri(impu)
        if status.wimpu:
            request = request.with_header_set("P-Profile-Key", f"<{status.wimpu}>")
        return request

    def _fail(self, node: SipNode, tx: ServerTransaction, request: Request, exc: Exception) -> None:
        headers: Iterable[Header] = ()
        if isinstance(exc, _Reject):
            status, reason, headers = exc.status, exc.reason, exc.headers
            log.info("%s: %s answered %d %s", node.name, request.summary(), status, reason)
        elif isinstance(exc, SipError):
            status, reason = exc.status, exc.reason
            log.warning("%s: %s: %s", node.name, request.summary(), exc)
        else:
            status, reason = 500, "Server Internal Error"
            log.error("%s: %s failed", node.name, request.summary(), exc_info=exc)
        try:
            node.respond(
                tx, make_response(request, status, reason, to_tag=secrets.token_hex(6), headers=headers)
            )
        except Exception:  # noqa: BLE001 - the transaction already has its final response
            log.exception("%s: could not answer %s", node.name, request.summary())

    async def _scscf_ack(self, ack: Request, source: Source) -> None:
        """The ACK of a 2xx: forwarded statelessly along its Route (RFC 3261 16.11)."""
        try:
            copy = self._pop_own_routes(ack)
            copy = prepare_request(copy, copy.uri, via=self.scscf_node.via(), branch=new_branch())
            await self.scscf_node.forward_stateless(copy, self._along_route(copy).target)
        except Exception as exc:  # noqa: BLE001 - an ACK that cannot go on is dropped
            log.warning("s-cscf: ACK dropped: %s", exc)

    async def _icscf_ack(self, ack: Request, source: Source) -> None:
        """An ACK reaching the I-CSCF: statelessly on to the S-CSCF (RFC 3261 16.11)."""
        node = self.icscf_node
        assert node is not None
        try:
            copy = prepare_request(ack, ack.uri, via=node.via(), branch=new_branch(), own_uris=[node.uri()])
            await node.forward_stateless(copy, self.scscf_target)
        except Exception as exc:  # noqa: BLE001 - an ACK that cannot go on is dropped
            log.warning("i-cscf: ACK dropped: %s", exc)
