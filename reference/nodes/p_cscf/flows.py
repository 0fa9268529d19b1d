"""The eP-CSCF's procedures, as generators of effects (sans-I/O).

WIC registration (5.2.2.5.2), origination (5.2.2.5.3), termination (5.2.2.5.4), and
the block registration with the S-CSCF (5.2.2.5.1, ``register_block``).

A flow ``yield``s an effect (a W6 read or write, a REGISTER to the S-CSCF) and
receives its result; each ``yield`` is one arrow of the text's figure. ``service.py``
carries the W6 effects out over HTTP, ``block_registration.py`` the REGISTERs over
SIP; unit tests (``tests/nodes/p_cscf/test_flows.py``) answer them directly. The
token was validated before the flow starts (step 4, ``reference.nodes.iwf.token_check``);
the flow gets its claims.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Generator, Sequence
from typing import Any

from reference.blocks import Allocation, WimpuBlock
from reference.nodes.wimpu_registrar.model import (
    MAX_CONTACT_ID_LENGTH,
    MAX_REG_ID,
    MAX_TEXT_LENGTH,
    AllocatedBy,
    ContactWrite,
    Entry,
    Outcome,
    RegistrationWrite,
)
from reference.sip.address import NameAddr, parse_uri
from reference.sip.digest import digest_response, parse_auth_params
from reference.sip.identity import same_identity
from reference.sip.message import Header, Request, Response
from reference.sip.transaction_base import make_response
from reference.spec import clause

__all__ = [
    "BlockBinding",
    "BlockCredentials",
    "BlockRegistrationError",
    "STALE_RETRIES",
    "SendRegister",
    "Trigger",
    "Registered",
    "Fork",
    "Onward",
    "W6Read",
    "W6ReadByExternal",
    "W6Remove",
    "W6Write",
    "block_registration_due",
    "digest_authorization",
    "contact_key",
    "contact_problem",
    "originate",
    "register_block",
    "register_wic",
    "remove_other_bindings",
    "strip_bearer",
    "terminate",
]

Flow = Generator[Any, Any, Response]


# ----- effects -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class W6Read:
    """Read the registration entry of an individual IMPU. Result: :class:`Entry` or None."""

    impu: str


@dataclasses.dataclass(frozen=True, slots=True)
class W6ReadByExternal:
    """Option B: read the entry bound to an external identity. Result: :class:`Entry` or None."""

    external_identity: str


@dataclasses.dataclass(frozen=True, slots=True)
class W6Write:
    """Create or refresh one contact of an entry. Result: (:class:`Outcome`, :class:`Entry`)."""

    impu: str
    write: RegistrationWrite

    @property
    def contact_id(self) -> str:
        return self.write.contact.contact_id


@dataclasses.dataclass(frozen=True, slots=True)
class W6Remove:
    """Remove one contact (or every contact when ``contact_id`` is None). Result: None."""

    impu: str
    contact_id: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Registered:
    """What the flow tells the service after a successful registration."""

    impu: str
    external_identity: str | None
    outcome: Outcome
    contact_id: str = ""
    expires: int = 0
    "The registration interval granted, in seconds."


# ----- helpers -------------------------------------------------------------------------


def contact_key(contact: NameAddr) -> str:
    """The identity of a contact for step 6 ("the contact is the same as the stored one").

    RFC 5626 4.2: with outbound, a contact is identified by ``+sip.instance`` and
    ``reg-id``; otherwise by its URI (RFC 3261 10.3 compares URIs).
    """
    instance = contact.param("+sip.instance")
    if instance:
        return instance.strip('"<>') + "#" + (contact.param("reg-id") or "0")
    return contact.uri


def contact_problem(contact: NameAddr) -> str | None:
    """Why a WIC's Contact cannot be stored, or None (answered 400 with this reason).

    RFC 5626 4.1/4.2: ``+sip.instance`` is a quoted URN, ``reg-id`` a number from 1 to
    2**31-1. The lengths are the wIMPU Registrar's (``model.py``): a value the registrar
    would refuse is refused here, at the edge, with a reason the WIC can read.
    """
    if len(contact.uri) > MAX_TEXT_LENGTH:
        return f"Contact URI longer than {MAX_TEXT_LENGTH} characters"
    reg_id = contact.param("reg-id")
    if reg_id is not None and (not reg_id.isdigit() or not 1 <= int(reg_id) <= MAX_REG_ID):
        return "reg-id is not a number from 1 to 2**31-1 (RFC 5626 4.2)"
    instance = contact.param("+sip.instance")
    if instance is not None:
        urn = instance.strip('"')
        if not (urn.startswith("<") and urn.endswith(">")) or not urn[1:-1].lower().startswith("urn:"):
            return "+sip.instance is not a quoted <urn:...> (RFC 5626 4.1)"
        if len(contact_key(contact)) > MAX_CONTACT_ID_LENGTH:
            return f"+sip.instance longer than {MAX_CONTACT_ID_LENGTH - 12} characters"
    # reg-id without +sip.instance: RFC 5626 6 has the registrar apply RFC 3261 alone.
    return None


def _is_zero(value: str | None) -> bool:
    """An Expires value of zero (RFC 3261 20.19: delta-seconds, so "00" is zero too)."""
    text = (value or "").strip()
    return text.isdigit() and int(text) == 0


def _expires(request: Request, contact: NameAddr, default: int) -> int:
    # RFC 3261 10.2.1.1: the Contact "expires" parameter overrides the Expires header.
    value = contact.param("expires")
    if value is None:
        header = request.get("Expires")
        return default if header is None else int(header)
    return int(value)


def _contact_values(stored: Entry, written: ContactWrite) -> list[str]:
    """The Contact header values of the 200 OK: every live contact of the IMPU with its
    remaining time (RFC 3261 10.3 step 8).

    The registrar granted ``written.expires`` to the contact just written, so the time
    of its answer is that contact's expiry less its interval: the other contacts'
    remaining times are counted from there, on the registrar's clock, not this one's.
    """
    answered = next(
        (c.expires_at - written.expires for c in stored.contacts if c.contact_id == written.contact_id),
        None,
    )
    values = []
    for c in stored.contacts:
        # Rounded up (as the registrar does), less 2 ms for the millisecond timestamps.
        expires = written.expires if answered is None else max(1, c.expires_in(answered + 0.002))
        values.append(
            f"<{c.uri}>;expires={expires}"
            + (f';+sip.instance="<{c.instance_id}>"' if c.instance_id else "")
            + (f";reg-id={c.reg_id}" if c.reg_id else "")
        )
    return values


@dataclasses.dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    """Local choices of the eP-CSCF (PIXIT items)."""

    ep_cscf: str
    "This eP-CSCF's identity, stored with each contact."
    default_expires: int = 600
    min_expires: int = 60
    max_expires: int = 3600


@clause("TR 23.701 5.2.2.5.2", steps=(3, 5, 6, 7))
@clause("TR 23.701 5.2.2.3.2")
def register_wic(
    request: Request,
    *,
    identity: str,
    block: WimpuBlock,
    flow: str,
    path: tuple[str, ...],
    policy: RegistrationPolicy,
    to_tag: str,
) -> Flow:
    """Register a WIC whose token (step 4) already checked out for ``identity``.

    Steps of TR 23.701 5.2.2.5.2:

    3. the REGISTER carries the identity: an individual IMPU of the block (option A) or
       the external identity (option B);
    5. "The eP-CSCF shall query the registration status of the WIC" (W6 read);
    6. new registration, new contact of a registered IMPU, or re-registration; in
       option B the binding external identity <-> allocated IMPU is stored too (W6 write);
       ``Expires: 0`` de-registers (5.2.2.3.2 "remove the registration entry ... when
       the WIC is de-registered");
    7. "The eP-CSCF shall send the OK response back to the WIC."
    """
    option_b = block.allocation is Allocation.EP_CSCF
    if request.contact_is_star:
        # RFC 3261 10.3 step 6: "*" only with Expires 0, removes every binding.
        if not _is_zero(request.get("Expires")):
            return make_response(request, 400, "Contact * requires Expires: 0", to_tag=to_tag)
        entry = yield (W6ReadByExternal(identity) if option_b else W6Read(identity))
        if entry is not None:
            yield W6Remove(entry.impu, None)
        return make_response(request, 200, to_tag=to_tag)

    contacts = request.contacts
    if len(contacts) != 1:
        return make_response(request, 400, "Exactly one Contact per WIC REGISTER", to_tag=to_tag)
    contact = contacts[0]
    problem = contact_problem(contact)
    if problem is not None:
        return make_response(request, 400, problem, to_tag=to_tag)
    expires = _expires(request, contact, policy.default_expires)

    # Step 5: query the registration status.
    entry = yield (W6ReadByExternal(identity) if option_b else W6Read(identity))

    if expires == 0:
        if entry is not None:
            yield W6Remove(entry.impu, contact_key(contact))
        return make_response(request, 200, to_tag=to_tag)
    if expires < policy.min_expires:
        # RFC 3261 10.3 step 7: 423 Interval Too Brief with Min-Expires.
        response = make_response(request, 423, to_tag=to_tag)
        return response.with_header("Min-Expires", str(policy.min_expires))
    expires = min(expires, policy.max_expires)

    if option_b:
        impu = entry.impu if entry is not None else block.allocate(identity)
    else:
        impu = identity

    # Step 6: store the registration information (and the option B binding).
    written = ContactWrite(
        contact_id=contact_key(contact),
        uri=contact.uri,
        flow=flow,
        ep_cscf=policy.ep_cscf,
        expires=expires,
        instance_id=(contact.param("+sip.instance") or "").strip('"<>') or None,
        reg_id=int(contact.param("reg-id") or 0) or None,
        path=path,
    )
    outcome, stored = yield W6Write(
        impu,
        RegistrationWrite(
            wimpu=str(block.wimpu),
            allocated_by=AllocatedBy(block.allocation.value),
            external_identity=identity if option_b else None,
            contact=written,
        ),
    )
    yield Registered(
        impu=impu, external_identity=identity if option_b else None, outcome=outcome,
        contact_id=written.contact_id, expires=expires,
    )  # fmt: skip

    # Step 7: 200 OK with every live contact of the IMPU (RFC 3261 10.3 step 8).
    response = make_response(request, 200, to_tag=to_tag)
    response = response.with_header_set("Contact", *_contact_values(stored, written))
    # 5.2.2.1: "IMS identities are only used within the IMS domain": in option B the WIC
    # is told only its external identity, never the IMPU allocated to it.
    associated = [f"<{identity}>"] if option_b else [f"<{impu}>"]
    response = response.with_header_set("P-Associated-URI", ", ".join(associated))
    if path and "path" in {s.lower() for s in request.get_all("Supported")}:
        response = response.with_header_set("Path", *path)  # RFC 3327 5.3
    if written.instance_id and written.reg_id:
        # RFC 5626 6: a registrar that applied outbound to the contact (its instance and
        # reg-id identify the flow; the eP-CSCF is the single hop) "MUST include the
        # 'outbound' option-tag in a Require header field in its response".
        response = response.with_header_set("Require", "outbound")
    return response


# ----- origination (5.2.2.5.3) and termination (5.2.2.5.4) ---------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Onward:
    """Send ``request`` on to the IMS core (its Route set is in place)."""

    request: Request


@dataclasses.dataclass(frozen=True, slots=True)
class Fork:
    """Deliver ``request`` to every contact: (contact URI, flow token) pairs."""

    request: Request
    contacts: tuple[tuple[str, str], ...]


def strip_bearer(request: Request) -> Request:
    """Remove the WWSF's Bearer token before a WIC's request enters the IMS core.

    The token was issued for this eP-CSCF (its ``aud``) and checked here (5.2.2.5.2
    step 4); some WICs (JsSIP) put it on every request. It must not travel further.
    """
    kept = [h for h in request.headers if not (h.key == "authorization" and h.value[:7].lower() == "bearer ")]
    return request if len(kept) == len(request.headers) else request.replace_headers(kept)


@clause("TR 23.701 5.2.2.5.3", steps=(1, 2, 3))
@clause("TR 23.701 5.2.2.3.2")
def originate(
    request: Request,
    *,
    block: WimpuBlock,
    flow: str,
    registered: frozenset[str],
    service_route: tuple[str, ...],
    to_tag: str,
) -> Generator[Any, Any, Response | Onward]:
    """A WIC originating a session (TR 23.701 5.2.2.5.3).

    1. "The identity included in the session initiation request shall be the same
       identity used during the WIC registration": the From URI (the external identity
       in option B, the individual IMPU in option A) must be registered over this flow.
    2. Option B only: "the eP-CSCF retrieves the registration context and modifies the
       originating request accordingly. The eP-CSCF includes the allocated individual
       IMPU before proxying the session onwards. The external address include in the
       from field in not touched": P-Asserted-Identity = the IMPU, From byte for byte.
       Option A: no registrar query; a P-Preferred-Identity must be a registered IMPU
       and is replaced by P-Asserted-Identity (standard P-CSCF, RFC 3325).
    3. "The eP-CSCF then performs standard IMS session origination procedure": the
       Service-Route of the block registration goes on top of the Route set.
    """
    identity = request.from_.uri
    if block.allocation is Allocation.EP_CSCF:
        entry = yield W6ReadByExternal(identity)  # step 2
        flows = {c.flow for c in entry.contacts} if entry else set()
        if entry is None or flow not in flows:
            return make_response(request, 403, "Originating identity not registered", to_tag=to_tag)
        asserted = entry.impu
    else:
        if not any(same_identity(identity, impu) for impu in registered):
            return make_response(request, 403, "Originating identity not registered", to_tag=to_tag)
        preferred = request.addresses("P-Preferred-Identity")
        asserted = preferred[0].uri if preferred else identity
        if not any(same_identity(asserted, impu) for impu in registered):
            return make_response(request, 403, "P-Preferred-Identity not registered", to_tag=to_tag)
    # RFC 3325 9.1: the identity is asserted by the eP-CSCF, whatever the WIC wrote.
    onward = (
        strip_bearer(request)
        .without_header("P-Preferred-Identity")
        .without_header("P-Asserted-Identity")
        .with_header("P-Asserted-Identity", f"<{asserted}>")
    )
    # Step 3 (RFC 3608; TS 24.229 5.2.6.3.3): the preloaded Route set of the WIC is
    # replaced by the Service-Route, so a WIC cannot have the request relayed elsewhere.
    onward = onward.without_header("Route")
    for route in reversed(service_route):
        onward = onward.with_header("Route", route, first=True)
    return Onward(onward)


@clause("TR 23.701 5.2.2.5.4", steps=(4, 5))
@clause("TR 23.701 5.2.2.3.2")
def terminate(request: Request, *, to_tag: str) -> Generator[Any, Any, Response | Fork]:
    """A session for a WIC arriving from the S-CSCF (TR 23.701 5.2.2.5.4).

    4. "The eP-CSCF fetches the contact information for the individual IMPU from the
       wIMPU registrar": the called IMPU is the P-Called-Party-ID the S-CSCF added.
    5. "The eP-CSCF delivers the session to the WIC associated with the individual
       IMPU", forking "to all contacts associated with a called IMPU" (5.2.2.5.4).
    """
    called_values = request.addresses("P-Called-Party-ID")
    called = called_values[0].uri if called_values else request.uri
    entry = yield W6Read(called)  # step 4
    if entry is None or not entry.contacts:
        return make_response(request, 480, "Called WIC not registered", to_tag=to_tag)
    contacts = tuple((c.uri, c.flow) for c in entry.contacts)
    # Towards the WIC: P-Profile-Key is for the IMS core (RFC 5002), and in option B the
    # WIC is called by its external identity, not by the IMPU (5.2.2.1).
    delivered = request.without_header("P-Profile-Key")
    if entry.external_identity:
        delivered = delivered.with_header_set("P-Called-Party-ID", f"<{entry.external_identity}>")
    return Fork(delivered, contacts)  # step 5


# ----- block registration (5.2.2.5.1) -------------------------------------------------------


class BlockRegistrationError(Exception):
    """The block could not be registered (the S-CSCF refused, or did not answer)."""


@dataclasses.dataclass(frozen=True, slots=True)
class BlockCredentials:
    """What the eP-CSCF needs to register one block."""

    wimpu: str
    representative: str
    "The distinct IMPU registered for the block (To and From of the REGISTER)."
    impi: str
    password: str = dataclasses.field(repr=False)
    registrar: str
    "The S-CSCF (or home registrar) Request-URI, e.g. ``sip:ims.example.net``."
    option: int = 1
    "5.2.2.5.1 option 1 (at start-up) or 2 (on the first WIC registration)."
    expires: int = 600


class Trigger(enum.Enum):
    """What may make the eP-CSCF register a block (TR 23.701 5.2.2.5.1, 5.2.2.2)."""

    START = "start"
    "The eP-CSCF initialises, or starts serving the block (its lease was acquired)."
    WIC_REGISTRATION = "wic-registration"
    "A WIC registers an identity of the block (5.2.2.5.2)."
    TAKE_OVER = "take-over"
    "The block was re-allocated to this eP-CSCF from a failed one (5.2.2.2)."


@clause("TR 23.701 5.2.2.5.1")
def block_registration_due(option: int, trigger: Trigger, registered: bool) -> bool:
    """TR 23.701 5.2.2.5.1: is the block to be registered now?

    Option 1: "autonomously ... upon initialisation" (at ``START``). Option 2: "upon the
    first WIC registration" for the block: any WIC registration finds the block
    registered, or registers it (so does option 1's, if its start-up registration
    failed). A block taken over from a failed eP-CSCF is registered at once (5.2.2.2),
    whatever its option, so that terminating requests reach the new eP-CSCF.
    """
    if trigger is Trigger.WIC_REGISTRATION:
        return not registered
    if trigger is Trigger.TAKE_OVER:
        return True
    return option == 1


@dataclasses.dataclass(frozen=True, slots=True)
class SendRegister:
    """Send ``request`` to the S-CSCF. Result: its final :class:`Response`."""

    request: Request


@dataclasses.dataclass
class BlockBinding:
    """One block's registration with the S-CSCF as the eP-CSCF (UAC) keeps it: the
    REGISTER dialog (RFC 3261 10.2) and what the 200 OK told (5.2.2.5.1)."""

    credentials: BlockCredentials
    contact_user: str
    "The user part of the eP-CSCF's contact for the block (the block's short name)."
    host: str
    port: int
    call_id: str
    from_tag: str
    cseq: int = 0
    registered: bool = False
    service_route: tuple[str, ...] = ()
    "Service-Route of the 200 OK (RFC 3608): the route of originating requests (5.2.2.5.3)."
    associated: tuple[str, ...] = ()
    "P-Associated-URI of the 200 OK: the implicit registration set (RFC 3455)."

    @property
    def contact(self) -> str:
        return f"<sip:{self.contact_user}@{self.host}:{self.port};transport=tcp>"

    @property
    def path(self) -> str:
        """RFC 3327: the eP-CSCF stays on the path of terminating requests for the block."""
        return f"<sip:term@{self.host}:{self.port};transport=tcp;lr>"

    def is_own(self, contact: NameAddr) -> bool:
        """True if ``contact`` is this eP-CSCF's binding of the block."""
        mine, other = parse_uri(self.contact.strip("<>")), parse_uri(contact.uri)
        return (mine.user, mine.host.lower(), mine.port) == (other.user, other.host.lower(), other.port)

    def register_request(
        self, expires: int, authorization: str | None, contacts: Sequence[str] | None = None
    ) -> Request:
        """The next REGISTER of the dialog (RFC 3261 10.2: same Call-ID, CSeq up by one)."""
        self.cseq += 1
        c = self.credentials
        headers = [
            Header("Max-Forwards", "70"),
            Header("To", f"<{c.representative}>"),
            Header("From", f"<{c.representative}>;tag={self.from_tag}"),
            Header("Call-ID", self.call_id),
            Header("CSeq", f"{self.cseq} REGISTER"),
            *(Header("Contact", f"{contact};expires={expires}") for contact in (contacts or [self.contact])),
            Header("Path", self.path),
            Header("Supported", "path"),
            Header("Expires", str(expires)),
        ]
        if authorization:
            headers.append(Header("Authorization", authorization))
        headers.append(Header("Content-Length", "0"))
        return Request(headers=tuple(headers), body=b"", method="REGISTER", uri=c.registrar)

    def granted(self, response: Response, wanted: int) -> int:
        """The registration interval the S-CSCF granted this eP-CSCF's contact."""
        for contact in response.contacts:
            expires = contact.param("expires")
            if self.is_own(contact) and expires and expires.isdigit():  # RFC 3261 10.2.4: ours only
                return int(expires)
        return wanted


@clause("TR 23.701 5.2.2.5.1")
@clause("RFC 3261 22.4")
def digest_authorization(credentials: BlockCredentials, challenge: str, request: Request, cnonce: str) -> str:
    """TR 23.701 5.2.2.5.1 (solution profile: SIP digest against the HSS data set): the
    Authorization answering the S-CSCF's challenge (RFC 3261 22.4, RFC 7616).

    Raises:
        BlockRegistrationError: the challenge is not a Digest one.
    """
    scheme, _, params_text = challenge.partition(" ")
    if scheme.lower() != "digest":
        raise BlockRegistrationError(f"S-CSCF challenged with {scheme}, not Digest")
    params = parse_auth_params(params_text)
    if "realm" not in params or "nonce" not in params:
        raise BlockRegistrationError("S-CSCF challenge without realm or nonce")
    algorithm = params.get("algorithm", "MD5")
    qop = "auth" if "auth" in params.get("qop", "").split(",") else None
    response = digest_response(
        algorithm, username=credentials.impi, realm=params["realm"],
        password=credentials.password, method="REGISTER", uri=request.uri,
        nonce=params["nonce"], qop=qop, nc="00000001" if qop else None, cnonce=cnonce if qop else None,
    )  # fmt: skip
    parts = [
        f'username="{credentials.impi}"', f'realm="{params["realm"]}"', f'nonce="{params["nonce"]}"',
        f'uri="{request.uri}"', f'response="{response}"', f"algorithm={algorithm}",
    ]  # fmt: skip
    if qop:
        parts += [f"qop={qop}", "nc=00000001", f'cnonce="{cnonce}"']
    if "opaque" in params:
        parts.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(parts)


STALE_RETRIES = 2
"""How many times a REGISTER whose credentials the S-CSCF found stale is answered again with its new
nonce (RFC 7616 3.3)."""


@clause("RFC 7616 3.3")
def _register_authenticated(
    binding: BlockBinding, expires: int, cnonce: str, contacts: Sequence[str] | None = None
) -> Generator[SendRegister, Response, Response]:
    """One REGISTER, answered once more with digest credentials if challenged (401), and again with
    the new nonce while the S-CSCF says the one answered was stale (at most :data:`STALE_RETRIES`
    times). RFC 7616 3.3 (paraphrased): ``stale=true`` means the response was right for a nonce no
    longer valid, and the client may retry with the new nonce without asking for the password again.
    A nonce can go stale between the 401 and the answer to it (a slow answer, or a tester's clock
    jump just then); a second 401 without ``stale`` is a wrong password, and ends the attempt."""
    request = binding.register_request(expires, None, contacts)
    response = yield SendRegister(request)
    challenge = response.get("WWW-Authenticate")
    retries = STALE_RETRIES
    while response.status == 401 and challenge:
        authorization = digest_authorization(binding.credentials, challenge, request, cnonce)
        response = yield SendRegister(binding.register_request(expires, authorization, contacts))
        challenge = response.get("WWW-Authenticate")
        if response.status != 401 or not challenge or not _stale(challenge) or retries == 0:
            break
        retries -= 1
    return response


def _stale(challenge: str) -> bool:
    """The Digest challenge says ``stale=true`` (RFC 7616 3.3: case-insensitive)."""
    scheme, _, params = challenge.partition(" ")
    return scheme.lower() == "digest" and parse_auth_params(params).get("stale", "").lower() == "true"


@clause("TR 23.701 5.2.2.5.1")
def register_block(
    binding: BlockBinding, *, expires: int | None = None, cnonce: str
) -> Generator[SendRegister, Response, tuple[Response, int]]:
    """TR 23.701 5.2.2.5.1: "A single IMS registration is required to register the wIMPU
    block as per existing 23.228 procedures. The eP-CSCF would need to trigger the IMS
    registration of the wIMPU block with IMS." Only a distinct IMPU can be registered:
    the block's representative IMPU, whose implicit registration set holds the wIMPU.

    Registers (or refreshes, or with ``expires=0`` de-registers) the eP-CSCF's binding
    of the block, answering a digest challenge; the 200 OK's Service-Route and
    P-Associated-URI are kept in ``binding``.

    Returns:
        The 200 OK and the interval granted (0 when de-registered); refresh before it ends.

    Raises:
        BlockRegistrationError: the registration was not accepted.
    """
    wanted = binding.credentials.expires if expires is None else expires
    try:
        response = yield from _register_authenticated(binding, wanted, cnonce)
    except BlockRegistrationError:
        binding.registered = False
        raise
    if response.status != 200:
        binding.registered = False
        raise BlockRegistrationError(
            f"block {binding.credentials.wimpu}: REGISTER of {binding.credentials.representative} "
            f"answered {response.status} {response.reason}"
        )
    if wanted == 0:
        binding.registered = False
        binding.service_route = ()
        return response, 0
    binding.service_route = tuple(f"<{a.uri}>" for a in response.addresses("Service-Route"))
    binding.associated = tuple(a.uri for a in response.addresses("P-Associated-URI"))
    binding.registered = True
    return response, binding.granted(response, wanted)


@clause("TR 23.701 5.2.2.2")
@clause("RFC 3261 10.2.2")
def remove_other_bindings(
    binding: BlockBinding, registered: Response, *, cnonce: str
) -> Generator[SendRegister, Response, list[str]]:
    """Re-allocation (TR 23.701 5.2.2.2, 5.2.2.5.1): remove the block's bindings that are
    not this eP-CSCF's.

    After a take-over the S-CSCF still holds the failed eP-CSCF's binding (its 200 OK
    lists every binding, RFC 3261 10.3 step 8); terminating requests would be forked
    to it too. "A UA requests the removal of a binding by sending a REGISTER with an
    expires value of 0" (RFC 3261 10.2.2), here for the other eP-CSCF's contacts only,
    after this eP-CSCF's own binding is in place, so the block is never unregistered.

    Returns:
        The bindings removed.

    Raises:
        BlockRegistrationError: the S-CSCF refused the removal.
    """
    others = [f"<{c.uri}>" for c in registered.contacts if not binding.is_own(c)]
    if not others:
        return []
    answer = yield from _register_authenticated(binding, 0, cnonce, others)
    if answer.status != 200:
        raise BlockRegistrationError(
            f"block {binding.credentials.wimpu}: removing {len(others)} other binding(s) answered "
            f"{answer.status} {answer.reason}"
        )
    return others
