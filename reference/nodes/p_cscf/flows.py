"""The eP-CSCF's WIC registration, as a generator of effects (sans-I/O).

A flow ``yield``s an effect (a W6 read or write) and receives its result; each
``yield`` is one arrow of the text's figure. ``service.py`` carries the effects out
over HTTP; unit tests answer them from a dict. The token was validated before the
flow starts (step 4, ``reference.nodes.iwf.token_check``); the flow gets its claims.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

from reference.blocks import Allocation, WimpuBlock
from reference.nodes.wimpu_registrar.model import MAX_CONTACT_ID_LENGTH, MAX_REG_ID, MAX_TEXT_LENGTH
from reference.sip.address import NameAddr
from reference.sip.identity import same_identity
from reference.sip.message import Request, Response
from reference.sip.transaction_base import make_response
from reference.spec import clause

__all__ = [
    "Registered",
    "Fork",
    "Onward",
    "W6Read",
    "W6ReadByExternal",
    "W6Remove",
    "W6Write",
    "contact_key",
    "contact_problem",
    "originate",
    "register_wic",
    "strip_bearer",
    "terminate",
]

Flow = Generator[Any, Any, Response]


# ----- effects -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class W6Read:
    """Read the registration entry of an individual IMPU. Result: entry dict or None."""

    impu: str


@dataclasses.dataclass(frozen=True, slots=True)
class W6ReadByExternal:
    """Option B: read the entry bound to an external identity. Result: dict or None."""

    external_identity: str


@dataclasses.dataclass(frozen=True, slots=True)
class W6Write:
    """Create or refresh one contact of an entry. Result: (outcome, entry dict)."""

    impu: str
    wimpu: str
    allocated_by: str
    external_identity: str | None
    contact_id: str
    contact: dict[str, Any]


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
    outcome: str
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


def _expires(request: Request, contact: NameAddr, default: int) -> int:
    # RFC 3261 10.2.1.1: the Contact "expires" parameter overrides the Expires header.
    value = contact.param("expires")
    if value is None:
        header = request.get("Expires")
        return default if header is None else int(header)
    return int(value)


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
        if request.get("Expires") != "0":
            return make_response(request, 400, "Contact * requires Expires: 0", to_tag=to_tag)
        entry = yield (W6ReadByExternal(identity) if option_b else W6Read(identity))
        if entry is not None:
            yield W6Remove(entry["impu"], None)
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
            yield W6Remove(entry["impu"], contact_key(contact))
        return make_response(request, 200, to_tag=to_tag)
    if expires < policy.min_expires:
        # RFC 3261 10.3 step 7: 423 Interval Too Brief with Min-Expires.
        response = make_response(request, 423, to_tag=to_tag)
        return response.with_header("Min-Expires", str(policy.min_expires))
    expires = min(expires, policy.max_expires)

    if option_b:
        impu = entry["impu"] if entry is not None else block.allocate(identity)
    else:
        impu = identity

    # Step 6: store the registration information (and the option B binding).
    outcome, stored = yield W6Write(
        impu=impu,
        wimpu=str(block.wimpu),
        allocated_by=block.allocation.value,
        external_identity=identity if option_b else None,
        contact_id=contact_key(contact),
        contact={
            "uri": contact.uri,
            "flow": flow,
            "instance_id": (contact.param("+sip.instance") or "").strip('"<>') or None,
            "reg_id": int(contact.param("reg-id") or 0) or None,
            "path": list(path),
            "ep_cscf": policy.ep_cscf,
            "expires": expires,
        },
    )
    yield Registered(
        impu=impu, external_identity=identity if option_b else None, outcome=outcome,
        contact_id=contact_key(contact), expires=expires,
    )  # fmt: skip

    # Step 7: 200 OK with every live contact of the IMPU (RFC 3261 10.3 step 8).
    response = make_response(request, 200, to_tag=to_tag)
    live = stored["contacts"]
    response = response.with_header_set(
        "Contact",
        *(
            f"<{c['uri']}>;expires={c['expires']}"
            + (';+sip.instance="<' + c["instance_id"] + '>"' if c.get("instance_id") else "")
            + (f";reg-id={c['reg_id']}" if c.get("reg_id") else "")
            for c in live
        ),
    )
    # 5.2.2.1: "IMS identities are only used within the IMS domain": in option B the WIC
    # is told only its external identity, never the IMPU allocated to it.
    associated = [f"<{identity}>"] if option_b else [f"<{impu}>"]
    response = response.with_header_set("P-Associated-URI", ", ".join(associated))
    if path and "path" in {s.lower() for s in request.get_all("Supported")}:
        response = response.with_header_set("Path", *path)  # RFC 3327 5.3
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
        flows = {c["flow"] for c in entry["contacts"]} if entry else set()
        if entry is None or flow not in flows:
            return make_response(request, 403, "Originating identity not registered", to_tag=to_tag)
        asserted = entry["impu"]
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
    if entry is None or not entry["contacts"]:
        return make_response(request, 480, "Called WIC not registered", to_tag=to_tag)
    contacts = tuple((c["uri"], c["flow"]) for c in entry["contacts"])
    # Towards the WIC: P-Profile-Key is for the IMS core (RFC 5002), and in option B the
    # WIC is called by its external identity, not by the IMPU (5.2.2.1).
    delivered = request.without_header("P-Profile-Key")
    if entry.get("external_identity"):
        delivered = delivered.with_header_set("P-Called-Party-ID", f"<{entry['external_identity']}>")
    return Fork(delivered, contacts)  # step 5
