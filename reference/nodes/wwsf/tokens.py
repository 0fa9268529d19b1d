"""The security token the WWSF issues after web authentication (TR 23.701 5.2.2.5.2 step 1).

"Upon successful authentication, the WWSF issues a security token for the user." The
solution profile makes it a JWT (RFC 7519) signed ES256, with the claims ``iss`` (the
WWSF origin), ``aud`` (the eP-CSCF serving the user's block), ``sub`` (the identity the
WIC registers with), ``iat``, ``nbf``, ``exp`` and ``jti``; the public key is published
as a JWKS (RFC 7517) whose ``kid`` is the key's RFC 7638 thumbprint.

A :class:`Token` never shows its value in ``repr()`` or ``str()``: Allure records step
arguments with ``repr()``, and logs must not carry credentials.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from reference.spec import clause

__all__ = ["ALGORITHM", "Token", "TokenIssuer"]

ALGORITHM = "ES256"
"The JWS algorithm of every token (RFC 7518 3.4: ECDSA P-256 with SHA-256)."


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Token:
    """A compact JWT together with the claims worth showing; the value never leaks."""

    value: str
    "The compact serialisation, for the ``Authorization: Bearer`` header only."
    sub: str
    aud: str
    iss: str
    exp: int
    jti: str

    def __repr__(self) -> str:
        return f"Token(sub={self.sub!r}, exp={self.exp!r}, jti={self.jti!r})"

    __str__ = __repr__


class TokenIssuer:
    """Signs tokens with one EC P-256 key and publishes that key as a JWKS.

    Args:
        issuer: the ``iss`` claim, the WWSF origin (``https://127.0.0.1:8443``).
        lifetime: seconds from ``iat`` to ``exp``.
        clock: returns the current POSIX time (``time.time`` in a service).
        signing_key_pem: a PKCS#8 or SEC1 PEM EC P-256 private key; a new key is
            generated when omitted.
    """

    def __init__(
        self,
        issuer: str,
        *,
        lifetime: int = 3600,
        clock: Callable[[], float],
        signing_key_pem: bytes | None = None,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("token lifetime must be positive")
        self.issuer = issuer
        self.lifetime = lifetime
        self._clock = clock
        self._key = _load_signing_key(signing_key_pem)
        self._public_jwk: dict[str, Any] = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        self.kid = _thumbprint(self._public_jwk)

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self.issuer!r}, kid={self.kid!r})"

    @clause("TR 23.701 5.2.2.5.2", steps=1)
    def issue(self, subject: str, audience: str) -> Token:
        """Issue a token asserting ``subject`` to the eP-CSCF ``audience``."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        value = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"})
        return Token(
            value=value,
            sub=subject,
            aud=audience,
            iss=self.issuer,
            exp=claims["exp"],
            jti=claims["jti"],
        )

    def signing_key_pem(self) -> bytes:
        """The signing key as unencrypted PKCS#8 PEM (a tester forging tokens, a restart keeping the key)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWK Set (RFC 7517 5) holding the public key."""
        key = dict(self._public_jwk, kid=self.kid, alg=ALGORITHM, use="sig")
        return {"keys": [key]}


def _load_signing_key(pem: bytes | None) -> ec.EllipticCurvePrivateKey:
    if pem is None:
        return ec.generate_private_key(ec.SECP256R1())
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the signing key is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key must be an EC P-256 key (ES256)")
    return key


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256) of an EC public key."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
