"""Data model of the wIMPU Registrar (TR 23.701 5.2.2.3.1): typed records and validation.

Pure code: no I/O, no clock. Everything that enters the registrar, from the W6/W7 HTTP
API or from a direct caller of :class:`~reference.nodes.wimpu_registrar.store.Store`,
goes through a ``parse_*``/``check_*`` function here first, so a bad request is refused
before anything is written. The same records are what the W6/W7 client
(:mod:`~reference.nodes.wimpu_registrar.client`) hands its callers: ``from_json``
validates an answer of the registrar into them (one model, both sides of the API).

Errors, by HTTP status (each class carries ``status`` and ``title``)::

    RegistrarError (500)
    ├── ValidationError (400)      a field, parameter or body that is not acceptable;
    │                              ``field`` names it
    ├── NotFoundError (404)        no live entry / contact for the identity
    ├── ConflictError (409)        the write contradicts a stored binding
    ├── PreconditionFailed (412)   a conditional removal whose condition no longer holds
    ├── UnsupportedMediaType (415) the request body is not application/json
    ├── PayloadTooLarge (413)      the request body is over the limit
    ├── SchemaVersionError (500)   the database file has another schema version
    └── StoreUnavailable (503)     the database server cannot be reached (PostgreSQL)
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import math
import re
from collections.abc import Mapping
from typing import ClassVar, Final

from reference.sip.errors import WildcardError
from reference.sip.identity import IdentityError, WildcardImpu, canonical_identity

__all__ = [
    "MAX_CONTACTS_PER_ENTRY",
    "MAX_EXPIRES",
    "MAX_IDENTITY_LENGTH",
    "MAX_PATH_ENTRIES",
    "MAX_TEXT_LENGTH",
    "AllocatedBy",
    "CanonicalIdentity",
    "ConflictError",
    "Contact",
    "ContactWrite",
    "Entry",
    "NotFoundError",
    "PreconditionFailed",
    "Outcome",
    "PayloadTooLarge",
    "RegistrarError",
    "RegistrationStatus",
    "RegistrationWrite",
    "SchemaVersionError",
    "StoreUnavailable",
    "SweepResult",
    "UnsupportedMediaType",
    "ValidationError",
    "check_contact_id",
    "check_identity",
    "check_in_block",
    "check_wimpu",
    "parse_registration_write",
    "same_block",
]

MAX_IDENTITY_LENGTH: Final = 512
"Longest identity (IMPU, wIMPU, external identity) accepted, in characters."
MAX_TEXT_LENGTH: Final = 1024
"Longest contact URI, flow, Path entry, instance-id or eP-CSCF identity accepted."
MAX_CONTACT_ID_LENGTH: Final = 256
"Longest contact key accepted."
MAX_PATH_ENTRIES: Final = 16
"Most Path entries stored for one contact."
MAX_EXPIRES: Final = 7 * 86400
"Longest registration interval accepted, in seconds (one week)."
MAX_REG_ID: Final = 2**31 - 1
"Largest ``reg-id`` (RFC 5626 4.2 allows 1 to 2**31-1)."
MAX_CONTACTS_PER_ENTRY: Final = 32
"Most live contacts one IMPU may hold; a further new contact is a conflict."


class RegistrarError(Exception):
    """Base class of every error the registrar reports; ``status`` is the HTTP status."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"


class ValidationError(RegistrarError):
    """A field, a parameter or a body that is not acceptable."""

    status = 400
    title = "Bad Request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        "Dotted name of the offending field or parameter (``contact.expires``)."


class NotFoundError(RegistrarError):
    """No live registration entry, or no live contact, for the identity."""

    status = 404
    title = "Not Found"


class ConflictError(RegistrarError):
    """The write contradicts a binding already stored (block, external identity)."""

    status = 409
    title = "Conflict"


class PreconditionFailed(RegistrarError):
    """A removal conditioned on the contact's flow, and the contact is on another flow now
    (RFC 5626 6: a newer registration over another flow replaced it)."""

    status = 412
    title = "Precondition Failed"


class UnsupportedMediaType(RegistrarError):
    """The request body is not ``application/json``."""

    status = 415
    title = "Unsupported Media Type"


class PayloadTooLarge(RegistrarError):
    """The request body is larger than the configured limit."""

    status = 413
    title = "Content Too Large"


class SchemaVersionError(RegistrarError):
    """The database file was written by another schema version of the registrar."""


class StoreUnavailable(RegistrarError):
    """The registrar's database server cannot be reached or refuses the registrar's credentials
    (a PostgreSQL store); the message is one line naming the database, never its password."""

    status = 503
    title = "Service Unavailable"


class AllocatedBy(enum.Enum):
    """Who allocated the individual IMPU (TR 23.701 5.2.2.3.2, 5.2.2.5.2)."""

    THIRD_PARTY = "third-party"
    "Option A: the third party allocated it; the WIC registers with the IMPU itself."
    EP_CSCF = "ep-cscf"
    "Option B: the eP-CSCF allocated it and binds it to the external identity."


class Outcome(enum.Enum):
    """The three cases of TR 23.701 5.2.2.5.2 step 6."""

    NEW_REGISTRATION = "new-registration"
    "The IMPU was not registered: the registration information is stored."
    NEW_CONTACT = "new-contact"
    "Registered, and the contact differs from the stored ones: a new contact."
    RE_REGISTRATION = "re-registration"
    "Registered with the same contact: a re-registration (refresh)."


@dataclasses.dataclass(frozen=True, slots=True)
class ContactWrite:
    """A contact as the eP-CSCF writes it over W6 (validated)."""

    contact_id: str
    "Opaque key chosen by the eP-CSCF (from ``+sip.instance``/``reg-id`` or the URI)."
    uri: str
    "The Contact URI of the WIC."
    flow: str
    "Flow token / IWF connection identity that reaches the WIC's WebSocket."
    ep_cscf: str
    "Identity of the eP-CSCF serving the contact."
    expires: int
    "Registration interval granted, in seconds (1 to :data:`MAX_EXPIRES`)."
    instance_id: str | None = None
    "``+sip.instance`` of the WIC (RFC 5626), if any."
    reg_id: int | None = None
    "``reg-id`` of the WIC (RFC 5626), if any."
    path: tuple[str, ...] = ()
    "Path header entries recorded for the contact (RFC 3327)."

    def to_json(self) -> dict[str, object]:
        """The ``contact`` member of a W6 write body (absent optional members left out)."""
        doc: dict[str, object] = {"uri": self.uri, "flow": self.flow, "ep_cscf": self.ep_cscf}
        doc["expires"] = self.expires
        if self.instance_id is not None:
            doc["instance_id"] = self.instance_id
        if self.reg_id is not None:
            doc["reg_id"] = self.reg_id
        doc["path"] = list(self.path)
        return doc


@dataclasses.dataclass(frozen=True, slots=True)
class RegistrationWrite:
    """The body of a W6 contact write: the entry attributes and one contact."""

    wimpu: str
    allocated_by: AllocatedBy
    external_identity: str | None
    contact: ContactWrite

    def to_json(self) -> dict[str, object]:
        """The JSON body of the write; :func:`parse_registration_write` is its inverse."""
        doc: dict[str, object] = {"wimpu": self.wimpu, "allocated_by": self.allocated_by.value}
        if self.external_identity is not None:
            doc["external_identity"] = self.external_identity
        doc["contact"] = self.contact.to_json()
        return doc


@dataclasses.dataclass(frozen=True, slots=True)
class Contact:
    """A live contact of a registration entry, as stored."""

    contact_id: str
    uri: str
    flow: str
    instance_id: str | None
    reg_id: int | None
    path: tuple[str, ...]
    ep_cscf: str
    expires_at: float
    "Absolute expiry time (seconds since the epoch, the registrar's clock)."
    registered_at: float | None = None
    "When this contact was first registered (None when read over W6: not in the API)."

    def expires_in(self, now: float) -> int:
        """The remaining registration time at ``now``, in whole seconds rounded up."""
        return math.ceil(self.expires_at - now)

    @classmethod
    def from_json(cls, doc: object, field: str = "contact") -> Contact:
        """Validate a contact of a W6 answer (``openapi.json`` ``Contact``): its expiry is
        ``expires_at`` (the remaining ``expires`` is checked, not kept: it is that time
        less the time of the answer). Members the schema does not know are ignored.

        Raises:
            ValidationError: naming the first offending member.
        """
        c = _members(doc, field, _CONTACT_READ)
        instance_id, reg_id, path = c["instance_id"], c["reg_id"], c["path"]
        _int(c["expires"], f"{field}.expires", 1, MAX_EXPIRES)
        if not isinstance(path, list) or len(path) > MAX_PATH_ENTRIES:
            raise ValidationError(f"{field}.path", f"must be an array of at most {MAX_PATH_ENTRIES} strings")
        return cls(
            contact_id=check_contact_id(c["contact_id"], f"{field}.contact_id"),
            uri=_text(c["uri"], f"{field}.uri"),
            flow=_text(c["flow"], f"{field}.flow"),
            instance_id=None if instance_id is None else _text(instance_id, f"{field}.instance_id"),
            reg_id=None if reg_id is None else _int(reg_id, f"{field}.reg_id", 1, MAX_REG_ID),
            path=tuple(_text(p, f"{field}.path[{i}]") for i, p in enumerate(path)),
            ep_cscf=_text(c["ep_cscf"], f"{field}.ep_cscf"),
            expires_at=_timestamp(c["expires_at"], f"{field}.expires_at"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One registration entry: an individual IMPU and its live contacts (5.2.2.3.1)."""

    impu: str
    wimpu: str
    "The wildcarded IMPU of the block the IMPU belongs to."
    external_identity: str | None
    "Option B: the external identity bound to the IMPU."
    allocated_by: AllocatedBy
    contacts: tuple[Contact, ...]
    "Live contacts only, oldest first; never empty."
    created_at: float | None = None
    "When the entry was created (None when read over W6: not in the API)."
    updated_at: float | None = None
    "When a contact was last added (None when read over W6: not in the API)."

    @classmethod
    def from_json(cls, doc: object, field: str = "entry") -> Entry:
        """Validate an entry of a W6 answer (``openapi.json`` ``Entry``).

        Raises:
            ValidationError: naming the first offending member.
        """
        e = _members(doc, field, _ENTRY_READ)
        external, contacts = e["external_identity"], e["contacts"]
        try:
            allocated_by = AllocatedBy(e["allocated_by"])
        except ValueError:
            raise ValidationError(f"{field}.allocated_by", "must be 'third-party' or 'ep-cscf'") from None
        if not isinstance(contacts, list) or not 1 <= len(contacts) <= MAX_CONTACTS_PER_ENTRY:
            raise ValidationError(
                f"{field}.contacts", f"must be an array of 1 to {MAX_CONTACTS_PER_ENTRY} contacts"
            )
        return cls(
            impu=check_identity(e["impu"], f"{field}.impu"),
            wimpu=check_wimpu(e["wimpu"], f"{field}.wimpu"),
            external_identity=_optional_identity(external, f"{field}.external_identity"),
            allocated_by=allocated_by,
            contacts=tuple(Contact.from_json(c, f"{field}.contacts[{i}]") for i, c in enumerate(contacts)),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RegistrationStatus:
    """The answer to a W7 query (TR 23.701 5.2.2.5.4 step 2)."""

    identity: str
    "The called identity (IMPU, or external identity in option B), in canonical form."
    registered: bool
    impu: str | None = None
    wimpu: str | None = None
    external_identity: str | None = None

    @classmethod
    def from_json(cls, doc: object, field: str = "status") -> RegistrationStatus:
        """Validate a W7 answer (``openapi.json`` ``RegistrationStatus``): a registered
        identity comes with its IMPU and wIMPU, an unregistered one with neither.

        Raises:
            ValidationError: naming the first offending member.
        """
        s = _members(doc, field, _STATUS_READ)
        registered = s["registered"]
        if not isinstance(registered, bool):
            raise ValidationError(f"{field}.registered", "must be a boolean")
        impu, wimpu, external = s["impu"], s["wimpu"], s["external_identity"]
        if registered and (impu is None or wimpu is None):
            raise ValidationError(f"{field}.impu", "a registered identity must come with its IMPU and wIMPU")
        return cls(
            identity=check_identity(s["identity"], f"{field}.identity"),
            registered=registered,
            impu=None if impu is None else check_identity(impu, f"{field}.impu"),
            wimpu=None if wimpu is None else check_wimpu(wimpu, f"{field}.wimpu"),
            external_identity=_optional_identity(external, f"{field}.external_identity"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseState:
    """A block's lease as W6 answers it (``openapi.json`` ``Lease``): who serves the block
    (TR 23.701 5.2.2.2), and its state when the registrar answered, on the registrar's clock."""

    wimpu: str
    holder: str
    "Identity of the eP-CSCF serving the block."
    access: Mapping[str, str] | None
    "Where WICs reach the holder (``uri``, ``identity``), for the WWSF directory."
    live: bool
    "Neither lapsed nor released when the registrar answered."
    remaining: float
    "Seconds the lease still ran when the registrar answered (0 once lapsed or released)."
    generation: int
    "Incremented at each change of holder: a fencing token."
    released: bool

    @classmethod
    def from_json(cls, doc: object, field: str = "lease") -> LeaseState:
        """Validate a lease of a W6 answer.

        Raises:
            ValidationError: naming the first offending member.
        """
        m = _members(doc, field, _LEASE_READ)
        access = m["access"]
        if access is not None and not (
            isinstance(access, Mapping) and all(isinstance(v, str) for v in access.values())
        ):
            raise ValidationError(f"{field}.access", "must be null or an object of strings")
        live, released, generation, remaining = m["live"], m["released"], m["generation"], m["expires"]
        if not isinstance(live, bool) or not isinstance(released, bool):
            raise ValidationError(f"{field}.live", "live and released must be booleans")
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 1:
            raise ValidationError(f"{field}.generation", "must be a positive integer")
        if not isinstance(remaining, (int, float)) or isinstance(remaining, bool) or remaining < 0:
            raise ValidationError(f"{field}.expires", "must be a number of seconds, at least 0")
        return cls(
            wimpu=check_wimpu(m["wimpu"], f"{field}.wimpu"),
            holder=_text(m["holder"], f"{field}.holder"),
            access=None if access is None else {str(k): str(v) for k, v in access.items()},
            live=live,
            remaining=float(remaining),
            generation=generation,
            released=released,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseGrant:
    """The answer to a granted lease claim (W6, TR 23.701 5.2.2.2)."""

    outcome: str
    "``acquired``, ``renewed`` or ``taken-over`` (the store's ``LeaseOutcome`` values)."
    previous_holder: str | None
    "The holder before a take-over; None otherwise."
    lease: LeaseState

    @classmethod
    def from_json(cls, doc: object, field: str = "grant") -> LeaseGrant:
        m = _members(doc, field, ("outcome", "previous_holder", "lease"))
        outcome, previous = m["outcome"], m["previous_holder"]
        if outcome not in ("acquired", "renewed", "taken-over"):
            raise ValidationError(f"{field}.outcome", "must be acquired, renewed or taken-over")
        return cls(
            outcome=str(outcome),
            previous_holder=None if previous is None else _text(previous, f"{field}.previous_holder"),
            lease=LeaseState.from_json(m["lease"], f"{field}.lease"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep removed."""

    contacts: int
    entries: int


# ---------------------------------------------------------------------------------------
# Identity checks: reference.sip.identity does the parsing (TS 23.003 13.4, 13.4A). The
# registrar stores and looks up every identity in canonical form (scheme and host lower
# case, URI parameters dropped, tel numbers without visual separators), so the eP-CSCF
# and the I-CSCF find an entry whatever spelling of the identity they were given.
# Wildcarded IMPUs are stored as written and compared parsed.
#
# An identity is checked and canonicalised once per request: check_identity returns a
# CanonicalIdentity, and given one back (the service checks at the API edge, then the Store
# checks what it is handed) returns it at once.
_PRINTABLE_RE: Final = re.compile(r"[^\x00-\x1f\x7f]+")
_WHITESPACE: Final = re.compile(r"\s")
"Any character ``str.isspace`` calls whitespace (``re`` tests the same Unicode property)."


class CanonicalIdentity(str):
    """An identity that :func:`check_identity` has checked and put in canonical form.

    Only :func:`check_identity` makes one; it compares, hashes, prints and stores as the
    plain string it is, and :func:`check_identity` trusts it rather than checking it again.
    """

    __slots__ = ()


def _identity_text(value: object, field: str) -> str:
    """``value`` if it is a string of 1 to :data:`MAX_IDENTITY_LENGTH` characters without
    whitespace, else raise :class:`ValidationError` naming ``field``."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string holding a sip:, sips: or tel: URI")
    if not value or len(value) > MAX_IDENTITY_LENGTH:
        raise ValidationError(field, f"must be 1 to {MAX_IDENTITY_LENGTH} characters long")
    if _WHITESPACE.search(value) is not None:
        raise ValidationError(
            field,
            "must not contain whitespace (in a query string, percent-encode '+' as %2B)",
        )
    return value


def check_identity(value: object, field: str) -> CanonicalIdentity:
    """Return the canonical form of ``value``, a sip:, sips: or global tel: URI.

    A :class:`CanonicalIdentity` (what this function returned before) is returned as it is.

    Raises:
        ValidationError: naming ``field``, with the reason.
    """
    if type(value) is CanonicalIdentity:
        return value
    text = _identity_text(value, field)
    try:
        return CanonicalIdentity(canonical_identity(text))
    except IdentityError as exc:
        raise ValidationError(field, str(exc)) from None


@functools.lru_cache(maxsize=256)
def _block(text: str) -> WildcardImpu:
    return WildcardImpu.parse(text)


def _optional_identity(value: object, field: str) -> str | None:
    return None if value is None else check_identity(value, field)


def check_wimpu(value: object, field: str = "wimpu") -> str:
    """Return ``value`` if it is a valid wildcarded IMPU (TS 23.003 13.4A), else raise.

    Raises:
        ValidationError: naming ``field``, with the reason.
    """
    text = _identity_text(value, field)
    try:
        _block(text)
    except WildcardError as exc:
        raise ValidationError(field, str(exc)) from None
    return text


def same_block(a: str, b: str) -> bool:
    """True if the wildcarded IMPUs ``a`` and ``b`` denote the same block."""
    return _block(a) == _block(b)


def check_in_block(impu: str, wimpu: str) -> None:
    """Refuse an individual IMPU that the block's wildcarded IMPU does not match.

    Raises:
        ValidationError: naming ``impu``.
    """
    try:
        inside = _block(wimpu).matches(impu)
    except (IdentityError, WildcardError) as exc:
        raise ValidationError("impu", str(exc)) from None
    if not inside:
        raise ValidationError("impu", f"{impu} does not belong to the block {wimpu}")


def check_contact_id(value: object, field: str = "contact_id") -> str:
    """Return ``value`` if it is an acceptable contact key, else raise ValidationError."""
    return _text(value, field, MAX_CONTACT_ID_LENGTH)


def _text(value: object, field: str, limit: int = MAX_TEXT_LENGTH) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if not value or len(value) > limit:
        raise ValidationError(field, f"must be 1 to {limit} characters long")
    if not _PRINTABLE_RE.fullmatch(value):
        raise ValidationError(field, "must not contain control characters")
    return value


def _object(value: object, field: str, required: set[str], optional: set[str]) -> dict[str, object]:
    name = field or "body"
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"{name} must be a JSON object")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        prefix = f"{field}." if field else ""
        raise ValidationError(prefix + unknown[0], f"unknown field {unknown[0]!r} in {name} is not allowed")
    missing = sorted(required - set(value))
    if missing:
        prefix = f"{field}." if field else ""
        raise ValidationError(prefix + missing[0], f"required field {missing[0]!r} is missing")
    return {str(k): v for k, v in value.items()}


def _int(value: object, field: str, low: int, high: int) -> int:
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}, got {value}")
    return value


_CONTACT_READ: Final = (
    "contact_id", "uri", "flow", "instance_id", "reg_id", "path", "ep_cscf", "expires", "expires_at",
)  # fmt: skip
_ENTRY_READ: Final = ("impu", "wimpu", "external_identity", "allocated_by", "contacts")
_STATUS_READ: Final = ("identity", "registered", "impu", "wimpu", "external_identity")
_LEASE_READ: Final = ("wimpu", "holder", "access", "live", "expires", "generation", "released")


def _timestamp(value: object, field: str) -> float:
    """Seconds since the epoch of an ISO 8601 date-time with a time zone (``...Z``)."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be an ISO 8601 date-time string")
    try:
        stamp = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not an ISO 8601 date-time") from None
    if stamp.tzinfo is None:
        raise ValidationError(field, "must carry a time zone (UTC: Z)")
    return stamp.timestamp()


def _members(value: object, field: str, required: tuple[str, ...]) -> dict[str, object]:
    """The members of an object in an answer of the registrar; unknown ones are ignored
    (a newer registrar may add some), missing ones refused."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"{field} must be a JSON object")
    missing = [name for name in required if name not in value]
    if missing:
        raise ValidationError(f"{field}.{missing[0]}", f"required member {missing[0]!r} is missing")
    return {name: value[name] for name in required}


_BODY_REQUIRED: Final = {"wimpu", "allocated_by", "contact"}
_BODY_OPTIONAL: Final = {"external_identity"}
_CONTACT_REQUIRED: Final = {"uri", "flow", "ep_cscf", "expires"}
_CONTACT_OPTIONAL: Final = {"instance_id", "reg_id", "path"}


def parse_registration_write(body: object, contact_id: str) -> RegistrationWrite:
    """Validate the JSON body of a W6 contact write.

    Args:
        body: the decoded JSON document.
        contact_id: the contact key taken from the URL.

    Returns:
        The validated write.

    Raises:
        ValidationError: naming the first offending field.
    """
    fields = _object(body, "", _BODY_REQUIRED, _BODY_OPTIONAL)
    wimpu = check_wimpu(fields["wimpu"])
    try:
        allocated_by = AllocatedBy(fields["allocated_by"])
    except ValueError:
        raise ValidationError("allocated_by", "must be 'third-party' or 'ep-cscf'") from None
    external = fields.get("external_identity")
    if external is not None:
        external = check_identity(external, "external_identity")
    # Option B (5.2.2.5.2 step 6): the binding to the external identity is stored only
    # when the eP-CSCF allocated the IMPU, and then it is mandatory.
    if allocated_by is AllocatedBy.EP_CSCF and external is None:
        raise ValidationError("external_identity", "is required when allocated_by is 'ep-cscf' (option B)")
    if allocated_by is AllocatedBy.THIRD_PARTY and external is not None:
        raise ValidationError(
            "external_identity", "must be absent when allocated_by is 'third-party' (option A)"
        )
    c = _object(fields["contact"], "contact", _CONTACT_REQUIRED, _CONTACT_OPTIONAL)
    path = c.get("path", [])
    if not isinstance(path, list):
        raise ValidationError("contact.path", "must be an array of strings")
    if len(path) > MAX_PATH_ENTRIES:
        raise ValidationError("contact.path", f"must hold at most {MAX_PATH_ENTRIES} entries")
    instance_id = c.get("instance_id")
    reg_id = c.get("reg_id")
    contact = ContactWrite(
        contact_id=check_contact_id(contact_id),
        uri=_text(c["uri"], "contact.uri"),
        flow=_text(c["flow"], "contact.flow"),
        ep_cscf=_text(c["ep_cscf"], "contact.ep_cscf"),
        expires=_int(c["expires"], "contact.expires", 1, MAX_EXPIRES),
        instance_id=None if instance_id is None else _text(instance_id, "contact.instance_id"),
        reg_id=None if reg_id is None else _int(reg_id, "contact.reg_id", 1, MAX_REG_ID),
        path=tuple(_text(p, f"contact.path[{i}]") for i, p in enumerate(path)),
    )
    return RegistrationWrite(
        wimpu=wimpu, allocated_by=allocated_by, external_identity=external, contact=contact
    )
