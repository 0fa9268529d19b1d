"""The eP-CSCF's check of the WWSF security token (TR 23.701 5.2.2.5.2 steps 3 and 4).

Step 3: "The request includes the user identity, as well as the security token received
from the WWSF as an attachment to the request." Step 4: "The eP-CSCF shall validate the
contents of the security token in relation to the user identity. The exact means for
doing so are out of scope."

The solution profile fills the gap: a JWT (RFC 7519) signed by the WWSF, carried as
``Authorization: Bearer <token>`` (RFC 8898, RFC 6750 2.1) or in the TS 24.371 form
``Authorization: Bearer access_token="<token>"``, or as a body part
``application/jwt`` (the seed's "attachment"). Sans-I/O: the current time is an
argument, so pyjwt's own clock checks are switched off and done here.

Errors (all :class:`~reference.sip.errors.RemoteProtocolError`)::

    TokenError
    ├── TokenMissing (401)           no token: challenge with Bearer, no error code
    ├── TokenInvalid (401)           a token that fails a check: error="invalid_token"
    └── TokenIdentityMismatch (403)  a valid token for another identity
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from reference.sip.errors import RemoteProtocolError
from reference.sip.identity import IdentityError, canonical_identity, same_identity
from reference.sip.message import Request
from reference.spec import clause

__all__ = [
    "REQUIRED_CLAIMS",
    "Claims",
    "Keys",
    "PublicKey",
    "TokenError",
    "TokenIdentityMismatch",
    "TokenInvalid",
    "TokenMissing",
    "challenge",
    "extract_bearer",
    "keys_from_jwks",
    "removes_contacts_only",
    "validate",
]

PublicKey: TypeAlias = (
    ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
Keys: TypeAlias = "jwt.PyJWKSet | Mapping[str, jwt.PyJWK | PublicKey]"
"The WWSF's verification keys: a JWK Set, or ``kid -> key``."

REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "sub", "exp", "iat")
"Claims a token must carry; ``nbf`` and ``jti`` are checked when present."


class TokenError(RemoteProtocolError):
    """The token does not authorise this REGISTER; ``detail`` says which check failed."""

    status = 401
    reason = "Unauthorized"
    error: ClassVar[str | None] = "invalid_token"
    "The RFC 6750 3.1 ``error`` of the Bearer challenge, if any."

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TokenMissing(TokenError):
    """No token in the request (RFC 6750 3.1: the challenge carries no error code)."""

    error = None


class TokenInvalid(TokenError):
    """Malformed, badly signed, expired, not yet valid, or for another audience or issuer."""


class TokenIdentityMismatch(TokenError):
    """A valid token whose ``sub`` is not the identity being registered."""

    status = 403
    reason = "Forbidden"
    error = None


@dataclasses.dataclass(frozen=True, slots=True)
class Claims:
    """The claims of a token that passed every check."""

    sub: str
    iss: str
    aud: tuple[str, ...]
    exp: float
    iat: float
    nbf: float | None
    jti: str | None
    kid: str | None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    "Every other claim, unchecked."


# -- carriage (step 3) --------------------------------------------------------------------

_AUTH_SCHEME = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s+(.*?))?\s*", re.S)
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 7235 2.1, RFC 6750 2.1 b64token
_AUTH_PARAM = re.compile(
    r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*"
    r"(?:\"((?:[^\"\\]|\\.)*)\"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))\s*(?:,|$)",
    re.S,
)


def _from_authorization(value: str) -> str | None:
    match = _AUTH_SCHEME.fullmatch(value)
    if match is None or match.group(1).lower() != "bearer":
        return None  # Digest and every other scheme are someone else's business
    rest = match.group(2) or ""
    if not rest:
        raise TokenInvalid("Authorization: Bearer without a token")
    if _TOKEN68.fullmatch(rest):
        return rest  # RFC 6750 2.1: Bearer b64token
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        param = _AUTH_PARAM.match(rest, position)
        if param is None or param.end() == position:
            raise TokenInvalid(f"Authorization: Bearer credentials do not parse at {position}")
        quoted, plain = param.group(2), param.group(3)
        params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
        position = param.end()
    token = params.get("access_token")  # TS 24.371: Bearer access_token="<token>"
    if not token:
        raise TokenInvalid("Authorization: Bearer credentials without access_token")
    return token


def _from_body(body: bytes, content_type: str | None) -> list[bytes]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/jwt":
        return [body]
    if media.startswith("multipart/") and content_type is not None:
        head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + body)
        parts: list[bytes] = []
        for part in message.walk():
            if part.get_content_type() == "application/jwt":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    parts.append(payload)
        return parts
    return []


@clause("TR 23.701 5.2.2.5.2", steps=3)
def extract_bearer(authorization_values: Sequence[str], body: bytes, content_type: str | None) -> str | None:
    """The token a REGISTER carries, or ``None`` if it carries none.

    Args:
        authorization_values: every ``Authorization`` header value (RFC 3261 7.3.1:
            never combined into one line). Schemes other than Bearer are ignored.
        body: the message body.
        content_type: the ``Content-Type`` of the body, if any; ``application/jwt``
            and ``application/jwt`` parts of a ``multipart/*`` body are read.

    Raises:
        TokenInvalid: a Bearer credential that does not parse, or two different
            tokens (RFC 6750 2: a client uses one method only).
    """
    found: list[str] = []
    for value in authorization_values:
        token = _from_authorization(value)
        if token is not None:
            found.append(token)
    for raw in _from_body(body, content_type):
        try:
            found.append(raw.decode("ascii").strip())
        except UnicodeDecodeError:
            raise TokenInvalid("the application/jwt body is not ASCII") from None
    distinct = {token for token in found if token}
    if len(distinct) > 1:
        raise TokenInvalid(f"{len(distinct)} different tokens in one request (RFC 6750 2)")
    return distinct.pop() if distinct else None


# -- validation (step 4) ------------------------------------------------------------------


def keys_from_jwks(document: str | bytes | Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """``kid -> key`` of the signing keys of a JWK Set (RFC 7517 5).

    Keys whose ``use`` is not ``sig`` are left out; a key without ``kid`` is stored
    under ``""``. Raises ``ValueError`` when no usable key remains.
    """
    try:
        if isinstance(document, Mapping):
            jwks = jwt.PyJWKSet.from_dict(dict(document))
        else:
            jwks = jwt.PyJWKSet.from_json(document.decode() if isinstance(document, bytes) else document)
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise ValueError(f"not a usable JWK Set: {error}") from None
    table = _jwks_table(jwks)
    if not table:
        raise ValueError("the JWK Set has no signing key")
    return table


def _jwks_table(jwks: jwt.PyJWKSet) -> dict[str, jwt.PyJWK]:
    return {key.key_id or "": key for key in jwks.keys if key.public_key_use in (None, "sig")}


def _key_table(keys: Keys) -> dict[str, jwt.PyJWK | PublicKey]:
    if isinstance(keys, jwt.PyJWKSet):
        return dict(_jwks_table(keys))
    return dict(keys)


def _key_fits(alg: str, key: jwt.PyJWK | PublicKey) -> bool:
    if isinstance(key, jwt.PyJWK):
        return key.algorithm_name == alg  # pyjwt checks it too; this gives the detail
    curves = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
    if alg in curves:
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == curves[alg]
    if alg[:2] in ("RS", "PS"):
        return isinstance(key, rsa.RSAPublicKey)
    if alg in ("EdDSA", "Ed25519", "Ed448"):
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    return False


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid(f"claim {name!r} is not a NumericDate (RFC 7519 2)")
    return float(value)


def _select_key(header: Mapping[str, Any], keys: Keys) -> jwt.PyJWK | PublicKey:
    table = _key_table(keys)
    kid = header.get("kid")
    if kid is None:
        if len(table) != 1:
            raise TokenInvalid(f"the token has no kid and the WWSF has {len(table)} keys")
        return next(iter(table.values()))
    if not isinstance(kid, str) or kid not in table:
        raise TokenInvalid(f"unknown kid {kid!r}")
    return table[kid]


@clause("TR 23.701 5.2.2.5.2", steps=4)
def validate(
    token: str | None,
    *,
    identity: str,
    keys: Keys,
    issuer: str | Collection[str],
    audience: str,
    now: float,
    leeway: float = 0,
    algorithms: Sequence[str] = ("ES256",),
    required: Sequence[str] = REQUIRED_CLAIMS,
) -> Claims:
    """Check ``token`` "in relation to the user identity" being registered.

    Args:
        token: from :func:`extract_bearer`.
        identity: the identity the WIC registers with (To of the REGISTER).
        keys: the WWSF's public keys.
        issuer: the WWSF origin(s) this eP-CSCF accepts tokens from.
        audience: this eP-CSCF's identity.
        now: the current POSIX time.
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        algorithms: accepted JWS algorithms; asymmetric only.
        required: claims that must be present.

    Raises:
        TokenMissing, TokenInvalid: answer 401 with :func:`challenge`.
        TokenIdentityMismatch: answer 403.
        IdentityError: ``identity`` itself is not a public user identity (answer 400).
    """
    weak = [a for a in algorithms if a.lower() == "none" or a.upper().startswith("HS")]
    if weak:
        raise ValueError(f"only asymmetric JWS algorithms can verify WWSF tokens, not {weak}")
    if not token:
        raise TokenMissing("the request carries no token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenInvalid(f"malformed token: {error}") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise TokenInvalid(f"alg {alg!r}: unsecured JWS (RFC 7518 3.6) is never accepted")
    if alg not in algorithms:
        raise TokenInvalid(f"alg {alg!r} is not one of the accepted {list(algorithms)}")
    key = _select_key(header, keys)
    if not _key_fits(alg, key):
        raise TokenInvalid(f"alg {alg!r} does not fit the key of kid {header.get('kid')!r}")
    options: Any = {
        "require": list(required),
        "verify_exp": False,  # checked below against `now`: pyjwt reads the wall clock
        "verify_nbf": False,
        "verify_iat": False,
        "verify_aud": False,  # checked below, with a precise detail
        "verify_iss": False,
    }
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[alg], options=options)
    except jwt.InvalidSignatureError:
        raise TokenInvalid(f"signature does not verify with kid {header.get('kid')!r}") from None
    except jwt.MissingRequiredClaimError as error:
        raise TokenInvalid(f"required claim {error.claim!r} is missing") from None
    except jwt.PyJWTError as error:
        raise TokenInvalid(f"token rejected: {error}") from None

    iss = claims.get("iss")
    accepted = (issuer,) if isinstance(issuer, str) else issuer
    if iss is not None and iss not in accepted:
        raise TokenInvalid(f"iss {iss!r} is not an accepted WWSF ({sorted(accepted)})")
    aud_claim = claims.get("aud")
    aud = (aud_claim,) if isinstance(aud_claim, str) else aud_claim
    if aud is not None and (not isinstance(aud, list | tuple) or not all(isinstance(a, str) for a in aud)):
        raise TokenInvalid("claim 'aud' is not a string or an array of strings (RFC 7519 4.1.3)")
    if aud is not None and audience not in aud:
        raise TokenInvalid(f"aud {aud_claim!r} does not include this eP-CSCF {audience!r}")

    exp, nbf, iat = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
    if exp is not None and now >= exp + leeway:  # RFC 7519 4.1.4
        raise TokenInvalid(f"expired at {exp:.0f}, now {now:.0f} (leeway {leeway:g} s)")
    if nbf is not None and now + leeway < nbf:  # RFC 7519 4.1.5
        raise TokenInvalid(f"not valid before {nbf:.0f}, now {now:.0f} (leeway {leeway:g} s)")
    if iat is not None and iat > now + leeway:
        raise TokenInvalid(f"issued in the future ({iat:.0f}), now {now:.0f}")

    canonical_identity(identity)  # IdentityError (400): the request's fault, not the token's
    sub = claims.get("sub")
    try:
        same = sub is None or same_identity(sub, identity)
    except IdentityError as error:
        raise TokenInvalid(f"sub {sub!r} is not a public user identity: {error}") from None
    if not same:
        raise TokenIdentityMismatch(f"token sub {sub!r} is not the identity being registered {identity!r}")
    jti = claims.get("jti")
    known = {"sub", "iss", "aud", "exp", "iat", "nbf", "jti"}
    return Claims(
        sub=str(sub),
        iss=str(iss),
        aud=tuple(aud or ()),
        exp=exp if exp is not None else float("inf"),
        iat=iat if iat is not None else float("-inf"),
        nbf=nbf,
        jti=jti if isinstance(jti, str) else None,
        kid=header.get("kid"),
        extra={k: v for k, v in claims.items() if k not in known},
    )


# -- challenge ----------------------------------------------------------------------------


def _quoted(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"control characters cannot be sent in a quoted-string: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(realm: str, authz_server: str, error: str | None = None) -> str:
    """The ``WWW-Authenticate`` value of a 401 (RFC 8898 2.3, RFC 6750 3).

    ``error`` is ``"invalid_token"`` when a token was present but failed a check
    (:attr:`TokenError.error`), ``None`` when there was no token.
    """
    value = f"Bearer realm={_quoted(realm)}, authz_server={_quoted(authz_server)}"
    if error is not None:
        value += f", error={_quoted(error)}"
    return value


@clause("TR 23.701 5.2.2.3.2")
def removes_contacts_only(request: Request) -> bool:
    """True when the REGISTER only removes contacts: each of its contacts has an expiry of 0
    (its ``expires`` parameter, else the ``Expires`` header; RFC 3261 10.2.2), and there is at
    least one. ``Contact: *`` is not counted: it removes every contact of the identity, those
    of other WICs too, and needs the token (solution profile, "De-registration without a
    token")."""
    if request.contact_is_star:
        return False
    contacts = request.contacts
    default = (request.get("Expires") or "").strip()
    values = [(c.param("expires") or default).strip() for c in contacts]
    return bool(contacts) and all(v.isdigit() and int(v) == 0 for v in values)  # "00" is 0 too
