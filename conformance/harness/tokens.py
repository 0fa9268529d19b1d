"""Security tokens the tester forges from a genuine one (TR 23.701 5.2.2.5.2 step 4).

Each variant keeps every claim of the token the WWSF issued and breaks exactly one
property, so a refusal can only come from the check the scenario is about:

* signed by another key: same header (``kid`` included) and claims, signed with a fresh
  EC P-256 key the WWSF never published;
* unsigned: same claims with ``alg`` ``none`` and an empty signature (RFC 7519 6);
* not yet valid: same header and claims, ``nbf`` moved ahead, signed again with the WWSF's own key
  (the tester given it by the PIXIT): only the time from which it may be used is wrong;
* issued earlier: every time claim moved back by as much, signed again with the WWSF's own key: how
  a SUT that does not read the tester's clock is shown a token whose lifetime has run out.

A :class:`Secret` never shows its value in ``repr()`` or ``str()`` (Allure records step
arguments with ``repr()``; logs must not carry credentials).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "KeyNotTheIssuers", "Secret", "issued_earlier", "not_valid_before", "signed_by_another_key", "unsigned"
]


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Secret:
    """A token value with a label; only the label is ever shown."""

    value: str
    label: str

    def __repr__(self) -> str:
        return f"Secret({self.label})"

    __str__ = __repr__


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return header, claims


def signed_by_another_key(token: str) -> Secret:
    """The same token, signed ES256 by a key that is not the WWSF's (same ``kid``)."""
    header, claims = _parts(token)
    key = ec.generate_private_key(ec.SECP256R1())
    extra = {k: v for k, v in header.items() if k not in ("alg",)}
    return Secret(jwt.encode(claims, key, algorithm="ES256", headers=extra), "signed by another key")


class KeyNotTheIssuers(ValueError):
    """The key the tester holds did not sign the genuine token: it cannot sign a copy the WWSF could have."""


def _signed_again(token: str, signing_key_pem: bytes, claims: dict[str, Any]) -> str:
    """``token``'s header with ``claims``, signed again with ``signing_key_pem``, after checking that
    this key signed ``token`` (so the copy is one the WWSF could have issued).

    Raises:
        KeyNotTheIssuers: ``signing_key_pem`` does not verify ``token``.
    """
    header = jwt.get_unverified_header(token)
    try:
        key: Any = serialization.load_pem_private_key(signing_key_pem, password=None)
        jwt.decode(
            token, key.public_key(), algorithms=[header.get("alg", "ES256")],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )  # fmt: skip
    except (jwt.PyJWTError, TypeError, ValueError) as exc:  # another signature, key type or algorithm; no key
        raise KeyNotTheIssuers(f"the tester's WWSF signing key did not sign the user's token: {exc}") from exc
    extra = {k: v for k, v in header.items() if k != "alg"}
    return jwt.encode(claims, key, algorithm=header.get("alg", "ES256"), headers=extra)


def not_valid_before(token: str, signing_key_pem: bytes, nbf: float) -> Secret:
    """The same token with its ``nbf`` set to ``nbf`` (RFC 7519 4.1.5; ``iat`` and ``exp`` kept),
    signed again with ``signing_key_pem``, which must be the key that signed ``token``.

    Raises:
        KeyNotTheIssuers: ``signing_key_pem`` does not verify ``token``.
    """
    _header, claims = _parts(token)
    claims["nbf"] = int(nbf)
    return Secret(_signed_again(token, signing_key_pem, claims), "not yet valid")


def issued_earlier(token: str, signing_key_pem: bytes, seconds: float) -> Secret:
    """The same token as if issued ``seconds`` earlier: ``iat``, ``nbf`` and ``exp`` each moved back
    by as much (RFC 7519 4.1.4-4.1.6), every other claim kept, signed again with
    ``signing_key_pem``, which must be the key that signed ``token``. What a SUT that does not read
    the tester's clock sees of a token after ``seconds`` have passed.

    Raises:
        KeyNotTheIssuers: ``signing_key_pem`` does not verify ``token``.
    """
    _header, claims = _parts(token)
    for claim in ("exp", "iat", "nbf"):
        if isinstance(claims.get(claim), int | float):
            claims[claim] = int(claims[claim] - seconds)
    return Secret(_signed_again(token, signing_key_pem, claims), f"issued {seconds:.0f} s earlier")


def unsigned(token: str) -> Secret:
    """The same claims as an unsecured JWS: ``alg`` none, empty signature."""
    _header, claims = _parts(token)

    def b64(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return Secret(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.", "unsigned")
