"""SIP digest authentication (RFC 3261 22.4, RFC 2617, RFC 7616, RFC 8760): the S-CSCF
challenges and checks (:class:`DigestAuthenticator`), the eP-CSCF's block registration
answers (:func:`digest_response`). Part of the SIP core, so neither node imports the other.

The block registration is authenticated with SIP digest against the HSS password (the
solution profile, "Block registration": IMS AKA is out of scope for a reference
implementation and is listed as an assumption). Supported: ``qop=auth`` and the
RFC 2069 form without ``qop`` (RFC 3261 22.4 keeps it for backwards compatibility),
algorithms ``MD5`` and ``SHA-256`` (RFC 8760 adds SHA-256 to SIP). Not supported:
``auth-int``, the ``-sess`` algorithms, ``userhash`` and ``username*``: credentials using
them are answered with a fresh challenge.

Nonces are stateless: ``base64url(issue time | 12 random bytes | HMAC-SHA-256 tag)``.
The tag (over the realm, the time and the random bytes, with a secret key) proves the
nonce is ours and its time is genuine, so a stale nonce is recognised without storage
and answered with ``stale=true`` (RFC 7616 3.3). Without state there is no ``nc``
replay check: a nonce can be replayed until it is stale (``nonce_lifetime``).

``sipmessage.AuthCredentials.parse`` is not used: it splits the parameters at every
comma, even inside a quoted string (``nonce="a,b"``, a ``uri`` with a comma), and then
refuses the header. :func:`parse_auth_params` honours quoted strings.

Errors (both :class:`~reference.sip.errors.RemoteProtocolError`, answered with 400)::

    DigestError
    ├── DigestSyntaxError   an Authorization header that does not parse
    └── DigestUriMismatch   digest-uri is not the Request-URI (RFC 7616 3.4.6)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import hmac
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from reference.sip.errors import RemoteProtocolError
from reference.sip.grammar import is_token, read_quoted_string, split_commas
from reference.sip.message import Request
from reference.spec import clause

__all__ = [
    "ALGORITHMS",
    "DigestAuthenticator",
    "DigestCredentials",
    "DigestError",
    "DigestSyntaxError",
    "DigestUriMismatch",
    "Outcome",
    "digest_response",
    "find_credentials",
    "parse_auth_params",
]

ALGORITHMS: Final[Mapping[str, str]] = {"MD5": "md5", "SHA-256": "sha256"}
"Digest algorithms: RFC 7616 name (compared case-insensitively) -> hashlib name."

_RANDOM_BYTES: Final = 12
_TAG_BYTES: Final = 16
_MAX_FUTURE: Final = 1.0
"A nonce issued more than this many seconds in the future is not ours."


class DigestError(RemoteProtocolError):
    """Digest credentials that cannot be checked (400 Bad Request)."""


class DigestSyntaxError(DigestError):
    """An ``Authorization: Digest`` header that does not follow RFC 7616 3.4."""


class DigestUriMismatch(DigestError):
    """The digest-uri differs from the Request-URI (RFC 7616 3.4.6)."""


class Outcome(enum.Enum):
    """The result of checking digest credentials."""

    AUTHENTICATED = "authenticated"
    "The response is right and the nonce is ours and fresh."
    STALE = "stale"
    "The response is right for a nonce of ours that is too old: challenge with stale=true."
    INVALID_NONCE = "invalid-nonce"
    "The nonce is not one of ours (forged, another realm or key, garbled): challenge again."
    UNSUPPORTED = "unsupported"
    "An algorithm or qop this server does not offer: challenge again."
    WRONG_RESPONSE = "wrong-response"
    "The response does not match the password: the user is not authenticated."


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    if read_quoted_string(value, 0) != len(value):
        raise ValueError(f"text after the quoted string {value!r}")
    out: list[str] = []
    chars = iter(value[1:-1])
    for char in chars:
        # quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)  RFC 3261 25.1
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def parse_auth_params(text: str) -> dict[str, str]:
    """Parse ``auth-param *(COMMA auth-param)`` into lower-case names -> unquoted values.

    auth-param = auth-param-name EQUAL ( token / quoted-string )  (RFC 3261 25.1)

    Raises:
        DigestSyntaxError: a parameter without ``=``, a bad name, an unterminated
            quoted string, or a parameter given twice.
    """
    params: dict[str, str] = {}
    try:
        items = split_commas(text)
        for item in items:
            name, equal, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if not equal or not is_token(name) or not value:
                raise ValueError(f"{item!r} is not name=value")
            if not value.startswith('"') and not is_token(value):
                raise ValueError(f"{item!r}: the value is neither a token nor a quoted string")
            if name.lower() in params:
                raise ValueError(f"parameter {name!r} appears twice")
            params[name.lower()] = _unquote(value)
    except ValueError as exc:
        raise DigestSyntaxError(f"Authorization: {exc}") from None
    return params


@dataclasses.dataclass(frozen=True, slots=True)
class DigestCredentials:
    """The parameters of an ``Authorization: Digest`` header (RFC 7616 3.4)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    extra: tuple[str, ...] = ()
    "Names of parameters this implementation does not support (``userhash``, ``username*``)."

    @classmethod
    @clause("RFC 7616 3.4")
    def parse(cls, value: str) -> DigestCredentials:
        """Parse an ``Authorization`` value with the Digest scheme.

        Raises:
            DigestSyntaxError: another scheme, or a required parameter missing.
        """
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "digest":
            raise DigestSyntaxError(f"Authorization: scheme {scheme!r} is not Digest")
        params = parse_auth_params(rest)
        missing = [n for n in ("username", "realm", "nonce", "uri", "response") if n not in params]
        if missing:
            raise DigestSyntaxError(f"Authorization: Digest without {', '.join(missing)}")
        qop = params.get("qop")
        # cnonce: "This MUST be specified if a qop directive is sent"; nonce-count: "This
        # MUST be specified if a qop directive is sent" (RFC 2617 3.2.2).
        if qop is not None and ("nc" not in params or "cnonce" not in params):
            raise DigestSyntaxError("Authorization: qop without nc and cnonce (RFC 7616 3.4)")
        known = {"username", "realm", "nonce", "uri", "response", "algorithm", "qop", "nc",
                 "cnonce", "opaque"}  # fmt: skip
        extra = tuple(n for n in params if n not in known and n in ("userhash", "username*"))
        return cls(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"].lower(),
            algorithm=params.get("algorithm", "MD5"),
            qop=qop,
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            opaque=params.get("opaque"),
            extra=extra,
        )


@clause("RFC 3261 22.4")
def find_credentials(request: Request, realm: str) -> DigestCredentials | None:
    """The Digest credentials of ``request`` for ``realm``, or None.

    A request may carry several Authorization headers; the server uses the one whose
    realm is its own (RFC 3261 22.4: "the realm parameter ... is used to identify the
    credentials"). Credentials of another scheme or realm are ignored.

    Raises:
        DigestSyntaxError: a Digest header for ``realm`` that does not parse.
    """
    for value in request.get_all("Authorization"):
        if value.split(" ", 1)[0].lower() != "digest":
            continue
        try:
            header_realm = parse_auth_params(value.strip().partition(" ")[2]).get("realm")
        except DigestSyntaxError:
            header_realm = realm  # ours or not, it does not parse: report that
        if header_realm == realm:
            return DigestCredentials.parse(value)
    return None


@clause("RFC 7616 3.4.1")
def digest_response(
    algorithm: str, *, username: str, realm: str, password: str, method: str, uri: str,
    nonce: str, qop: str | None = None, nc: str | None = None, cnonce: str | None = None,
) -> str:  # fmt: skip
    """The ``response`` value a client computes (RFC 7616 3.4.1, RFC 2617 3.2.2.1).

    With ``qop=auth``: ``KD(H(A1), nonce:nc:cnonce:qop:H(A2))``; without qop (RFC 2069):
    ``KD(H(A1), nonce:H(A2))``, where ``A1 = username:realm:password`` and
    ``A2 = method:digest-uri``.

    Raises:
        KeyError: an algorithm outside :data:`ALGORITHMS`.
    """
    name = ALGORITHMS[algorithm.upper()]

    def h(text: str) -> str:
        return hashlib.new(name, text.encode("utf-8")).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}")
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


class DigestAuthenticator:
    """Issues challenges and checks credentials for one realm; stateless nonces.

    Args:
        realm: the realm of the challenges (the home network domain).
        key: the secret that protects nonces (at least 16 bytes).
        random_bytes: source of nonce randomness, ``os.urandom`` in production.
        nonce_lifetime: seconds after which a nonce is stale.
        algorithms: the algorithms offered, preferred first; one challenge each
            (RFC 8760, paraphrased: one challenge per algorithm, preferred first).
    """

    def __init__(
        self,
        realm: str,
        key: bytes,
        random_bytes: Callable[[int], bytes],
        *,
        nonce_lifetime: float = 300.0,
        algorithms: Sequence[str] = ("MD5",),
    ) -> None:
        if len(key) < 16:
            raise ValueError("the nonce key must be at least 16 bytes")
        unknown = [a for a in algorithms if a.upper() not in ALGORITHMS]
        if unknown or not algorithms:
            raise ValueError(f"unsupported or no digest algorithms: {unknown}")
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        self.algorithms = tuple(a.upper() for a in algorithms)
        self._key = key
        self._random_bytes = random_bytes

    def _tag(self, payload: bytes) -> bytes:
        mac = hmac.new(self._key, self.realm.encode("utf-8") + b"\x00" + payload, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def make_nonce(self, now: float) -> str:
        """A fresh nonce carrying ``now``, protected by the key."""
        payload = struct.pack(">d", now) + self._random_bytes(_RANDOM_BYTES)
        return base64.urlsafe_b64encode(payload + self._tag(payload)).decode("ascii").rstrip("=")

    def nonce_issued_at(self, nonce: str) -> float | None:
        """When ``nonce`` was issued, or None if it is not a nonce of this authenticator."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != 8 + _RANDOM_BYTES + _TAG_BYTES:
            return None
        payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(payload)):
            return None
        issued: float = struct.unpack(">d", payload[:8])[0]
        return issued

    @clause("RFC 7616 3.3")
    @clause("RFC 3261 22.4")
    def challenges(self, now: float, *, stale: bool = False) -> tuple[str, ...]:
        """``WWW-Authenticate`` values, one per algorithm, sharing one fresh nonce.

        RFC 3261 22.4 (paraphrased): a SIP server always sends ``qop`` in its
        challenges; RFC 2069 clients without qop are still accepted by :meth:`verify`.
        """
        nonce = self.make_nonce(now)
        tail = ", stale=true" if stale else ""
        return tuple(
            f'Digest realm="{self.realm}", nonce="{nonce}", algorithm={algorithm}, qop="auth"{tail}'
            for algorithm in self.algorithms
        )

    @clause("RFC 7616 3.4.6")
    @clause("RFC 3261 22.4")
    def verify(
        self, credentials: DigestCredentials, *, method: str, uri: str, password: str, now: float
    ) -> Outcome:
        """Check ``credentials`` of a request with ``method`` and Request-URI ``uri``.

        Raises:
            DigestUriMismatch: the digest-uri is not the Request-URI.
        """
        # "The authenticating server MUST assure that the resource designated by the
        # "uri" parameter is the same as the resource specified in the Request-Line; if
        # they are not, the server SHOULD return a 400 Bad Request error." RFC 7616 3.4.6
        if credentials.uri != uri:
            raise DigestUriMismatch(f"digest-uri {credentials.uri!r} is not the Request-URI {uri!r}")
        algorithm = credentials.algorithm.upper()
        if algorithm not in self.algorithms or credentials.extra:
            return Outcome.UNSUPPORTED
        if credentials.qop not in (None, "auth"):
            return Outcome.UNSUPPORTED
        if credentials.realm != self.realm:
            return Outcome.INVALID_NONCE
        issued = self.nonce_issued_at(credentials.nonce)
        if issued is None or issued > now + _MAX_FUTURE:
            return Outcome.INVALID_NONCE
        expected = digest_response(
            algorithm, username=credentials.username, realm=credentials.realm, password=password,
            method=method, uri=credentials.uri, nonce=credentials.nonce, qop=credentials.qop,
            nc=credentials.nc, cnonce=credentials.cnonce,
        )  # fmt: skip
        if not hmac.compare_digest(expected.encode(), credentials.response.encode("utf-8")):
            return Outcome.WRONG_RESPONSE
        # stale: "The server should only set stale to TRUE if it receives a request for
        # which the nonce is invalid but with a valid digest for that nonce." RFC 2617 3.2.1
        if now - issued > self.nonce_lifetime:
            return Outcome.STALE
        return Outcome.AUTHENTICATED
