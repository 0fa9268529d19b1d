"""eP-CSCF token check: TR 23.701 5.2.2.5.2 steps 3 (carriage) and 4 (validation)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reference.nodes.iwf.token_check import (
    Claims,
    TokenIdentityMismatch,
    TokenInvalid,
    TokenMissing,
    challenge,
    extract_bearer,
    keys_from_jwks,
    removes_contacts_only,
    validate,
)
from reference.nodes.wwsf.tokens import TokenIssuer
from reference.sip.errors import RemoteProtocolError
from reference.sip.identity import IdentityError
from reference.sip.message import Request
from reference.sip.parser import parse_message
from reference.spec import references_of

NOW = 1_800_000_000
WWSF = "https://127.0.0.1:8443"
EP = "sip:ep-cscf1.ims.example.net"
ALICE = "sip:wrtc-alice@block1.ims.example.net"
KID = "k1"
KEY = ec.generate_private_key(ec.SECP256R1())
KEYS = {KID: KEY.public_key()}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    base = {"iss": WWSF, "aud": EP, "sub": ALICE, "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
            "jti": "j-1"}  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = KEY, kid: str | None = KID) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm="ES256", headers=headers)


def check(token: str | None, *, identity: str = ALICE, now: float = NOW + 1, **kw: Any) -> Claims:
    return validate(token, identity=identity, keys=KEYS, issuer=WWSF, audience=EP, now=now, **kw)


def unsigned(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = b"" if secret is None else hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return head + "." + _b64(signature)


# -- step 4: accepted tokens ------------------------------------------------------------


def test_ep_cscf_accepts_a_valid_token_for_the_registered_identity() -> None:
    result = check(sign(claims()))
    assert result.sub == ALICE and result.iss == WWSF and result.aud == (EP,)
    assert result.exp == NOW + 3600 and result.jti == "j-1" and result.kid == KID


def test_ep_cscf_accepts_a_token_of_the_wwsf_issuer_through_its_jwks() -> None:
    issuer = TokenIssuer(WWSF, clock=lambda: NOW)
    token = issuer.issue("sip:bob@enterprise.com", EP)
    for keys in (keys_from_jwks(issuer.jwks()), keys_from_jwks(json.dumps(issuer.jwks())),
                 jwt.PyJWKSet.from_dict(issuer.jwks())):  # fmt: skip
        result = validate(token.value, identity="sip:bob@enterprise.com", keys=keys,
                          issuer=WWSF, audience=EP, now=NOW)  # fmt: skip
        assert result.sub == "sip:bob@enterprise.com"


def test_ep_cscf_accepts_an_audience_array_containing_itself() -> None:
    assert check(sign(claims(aud=["sip:other.example", EP]))).aud == ("sip:other.example", EP)


def test_ep_cscf_compares_identities_with_case_insensitive_scheme_and_host() -> None:
    token = sign(claims(sub="SIP:wrtc-alice@Block1.IMS.example.net"))
    assert check(token, identity=ALICE).sub == "SIP:wrtc-alice@Block1.IMS.example.net"


def test_ep_cscf_accepts_a_single_key_token_without_kid() -> None:
    assert check(sign(claims(), kid=None)).kid is None


def test_leeway_tolerates_clock_skew() -> None:
    token = sign(claims())
    assert check(token, now=NOW + 3600 + 10, leeway=30).sub == ALICE
    assert check(sign(claims(nbf=NOW + 20, iat=NOW + 20)), leeway=30).sub == ALICE


# -- step 4: rejected tokens ------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (sign(claims(), key=ec.generate_private_key(ec.SECP256R1())), "signature does not verify"),
        (unsigned({"alg": "none", "kid": KID}, claims()), "alg 'none'"),
        (unsigned({"alg": "HS256", "kid": KID}, claims(),
                  KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)),
         "alg 'HS256' is not one of"),
        (unsigned({"kid": KID}, claims()), "alg None"),
        (sign(claims(), kid="k2"), "unknown kid 'k2'"),
        (sign(claims(aud="sip:ep-cscf2.ims.example.net")), "does not include this eP-CSCF"),
        (sign(claims(iss="https://evil.example")), "iss 'https://evil.example' is not"),
        (sign(claims(sub=None)), "required claim 'sub' is missing"),
        (sign(claims(exp=None)), "required claim 'exp' is missing"),
        (sign(claims(aud=None)), "required claim 'aud' is missing"),
        (sign(claims(exp=NOW + 1)), "expired at"),
        (sign(claims(exp=NOW - 100)), "expired at"),
        (sign(claims(nbf=NOW + 60)), "not valid before"),
        (sign(claims(iat=NOW + 60)), "issued in the future"),
        (sign(claims(exp="tomorrow")), "not a NumericDate"),
        (sign(claims(aud=[1, 2])), "'aud' is not a string"),
        ("not-a-jwt", "malformed token"),
        ("a.b.c", "malformed token"),
    ],
    ids=["forged-signature", "alg-none", "alg-confusion-hs256", "no-alg", "unknown-kid",
         "wrong-aud", "wrong-iss", "missing-sub", "missing-exp", "missing-aud", "expired-at-exp",
         "expired", "nbf-future", "iat-future", "exp-not-number", "aud-not-strings",
         "malformed", "garbage"],
)  # fmt: skip
def test_ep_cscf_rejects_an_invalid_token_with_401(token: str, detail: str) -> None:
    with pytest.raises(TokenInvalid, match=detail) as caught:
        check(token)
    assert caught.value.status == 401 and caught.value.reason == "Unauthorized"
    assert caught.value.error == "invalid_token"
    assert detail in caught.value.detail
    assert isinstance(caught.value, RemoteProtocolError)


def test_ep_cscf_refuses_a_token_whose_alg_does_not_fit_the_key() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenInvalid, match="does not fit the key"):
        validate(sign(claims()), identity=ALICE, keys={KID: rsa_key.public_key()},
                 issuer=WWSF, audience=EP, now=NOW, algorithms=("ES256", "RS256"))  # fmt: skip


def test_ep_cscf_never_verifies_with_symmetric_algorithms() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        check(sign(claims()), algorithms=("ES256", "HS256"))
    with pytest.raises(ValueError, match="asymmetric"):
        check(sign(claims()), algorithms=("none",))


def test_token_without_kid_is_refused_when_the_wwsf_has_several_keys() -> None:
    keys = {KID: KEY.public_key(), "k2": ec.generate_private_key(ec.SECP256R1()).public_key()}
    with pytest.raises(TokenInvalid, match="no kid"):
        validate(sign(claims(), kid=None), identity=ALICE, keys=keys, issuer=WWSF,
                 audience=EP, now=NOW)  # fmt: skip


def test_ep_cscf_answers_403_to_a_valid_token_for_another_identity() -> None:
    token = sign(claims(sub="sip:wrtc-mallory@block1.ims.example.net"))
    with pytest.raises(TokenIdentityMismatch) as caught:
        check(token)
    assert caught.value.status == 403 and caught.value.reason == "Forbidden"
    assert "wrtc-mallory" in caught.value.detail and ALICE in caught.value.detail


def test_ep_cscf_rejects_a_sub_that_is_no_public_user_identity() -> None:
    with pytest.raises(TokenInvalid, match="not a public user identity"):
        check(sign(claims(sub="alice")))


def test_registered_identity_that_is_no_public_user_identity_is_the_request_fault() -> None:
    with pytest.raises(IdentityError):
        check(sign(claims()), identity="not an identity")


def test_ep_cscf_user_part_is_case_sensitive() -> None:
    with pytest.raises(TokenIdentityMismatch):
        check(sign(claims(sub="sip:WRTC-ALICE@block1.ims.example.net")))


@pytest.mark.parametrize("token", [None, ""])
def test_ep_cscf_challenges_a_request_without_token(token: str | None) -> None:
    with pytest.raises(TokenMissing) as caught:
        check(token)
    assert caught.value.status == 401 and caught.value.error is None


def test_validate_is_registered_for_step_4() -> None:
    (ref,) = references_of(validate)
    assert (ref.document, ref.clause, ref.steps) == ("TR 23.701", "5.2.2.5.2", ("4",))


# -- step 3: carriage -------------------------------------------------------------------

TOKEN = sign(claims())


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {TOKEN}",
        f"bearer   {TOKEN}",
        f'Bearer access_token="{TOKEN}"',
        f"Bearer access_token={TOKEN.split('.')[0]}.x",
        f'Bearer realm="ims.example.net", access_token="{TOKEN}"',
    ],
    ids=["rfc6750", "case-and-lws", "ts24371", "ts24371-unquoted", "ts24371-with-params"],
)
def test_ep_cscf_receives_a_bearer_authorization(value: str) -> None:
    expected = value.split("access_token=")[-1].strip('"') if "access_token" in value else TOKEN
    assert extract_bearer([value], b"", None) == expected


def test_ep_cscf_ignores_digest_credentials() -> None:
    digest = 'Digest username="alice", realm="ims.example.net", nonce="n", uri="sip:x", response="r"'
    assert extract_bearer([digest], b"", None) is None
    assert extract_bearer([digest, f"Bearer {TOKEN}"], b"", None) == TOKEN


def test_ep_cscf_receives_the_token_as_an_application_jwt_body() -> None:
    assert extract_bearer([], TOKEN.encode() + b"\r\n", "application/jwt") == TOKEN
    assert extract_bearer([], TOKEN.encode(), "Application/JWT; charset=us-ascii") == TOKEN


def test_ep_cscf_receives_the_token_as_a_multipart_attachment() -> None:
    body = (
        b"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--b1\r\nContent-Type: application/jwt\r\n\r\n" + TOKEN.encode() + b"\r\n--b1--\r\n"
    )
    assert extract_bearer([], body, 'multipart/mixed; boundary="b1"') == TOKEN


def test_ep_cscf_finds_no_token_in_other_bodies() -> None:
    assert extract_bearer([], b"v=0\r\n", "application/sdp") is None
    assert extract_bearer([], b"", None) is None


def test_same_token_in_header_and_body_is_one_token() -> None:
    assert extract_bearer([f"Bearer {TOKEN}"], TOKEN.encode(), "application/jwt") == TOKEN


@pytest.mark.parametrize(
    ("values", "body", "detail"),
    [
        (["Bearer"], b"", "without a token"),
        (['Bearer realm="x"'], b"", "without access_token"),
        (['Bearer access_token="unterminated'], b"", "do not parse"),
        ([f"Bearer {TOKEN}", "Bearer other.token.value"], b"", "2 different tokens"),
        ([f"Bearer {TOKEN}"], b"other.token.value", "2 different tokens"),
        ([], "jwt\u00e9".encode(), "not ASCII"),
    ],
)
def test_ep_cscf_rejects_unusable_bearer_credentials(values: list[str], body: bytes, detail: str) -> None:
    with pytest.raises(TokenInvalid, match=detail):
        extract_bearer(values, body, "application/jwt" if body else None)


# -- challenge --------------------------------------------------------------------------


def test_challenge_without_token_has_no_error() -> None:
    assert challenge("ims.example.net", WWSF, None) == (
        'Bearer realm="ims.example.net", authz_server="https://127.0.0.1:8443"'
    )


def test_challenge_for_a_bad_token_says_invalid_token() -> None:
    assert challenge("ims.example.net", WWSF, TokenInvalid.error) == (
        'Bearer realm="ims.example.net", authz_server="https://127.0.0.1:8443", error="invalid_token"'
    )


def test_challenge_escapes_quoted_strings() -> None:
    assert challenge('a"b\\c', WWSF, None).startswith('Bearer realm="a\\"b\\\\c"')
    with pytest.raises(ValueError):
        challenge("a\r\nInjected: yes", WWSF, None)


def _register(contact: str, expires: str | None) -> Request:
    alice = "sip:wrtc-alice@block1.ims.example.net"
    lines = ["REGISTER sip:block1.ims.example.net SIP/2.0", "Via: SIP/2.0/WSS w.invalid;branch=z9hG4bK1",
             f"To: <{alice}>", f"From: <{alice}>;tag=1", "Call-ID: c1", "CSeq: 2 REGISTER",
             f"Contact: {contact}"]  # fmt: skip
    if expires is not None:
        lines.append(f"Expires: {expires}")
    message = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


@pytest.mark.parametrize(
    ("contact", "expires", "removal"),
    [
        ("<sip:c@w.invalid;transport=ws>;expires=0", None, True),
        ("<sip:c@w.invalid;transport=ws>", "0", True),
        ("<sip:c@w.invalid;transport=ws>", "00", True),  # delta-seconds (RFC 3261 20.19)
        ("<sip:c@w.invalid;transport=ws>;expires=0, <sip:d@w.invalid;transport=ws>;expires=0", "600", True),
        ("<sip:c@w.invalid;transport=ws>;expires=0, <sip:d@w.invalid;transport=ws>", "600", False),
        ("<sip:c@w.invalid;transport=ws>;expires=600", "0", False),  # the parameter wins (RFC 3261 10.2.1.1)
        ("<sip:c@w.invalid;transport=ws>", None, False),
        ("*", "0", False),  # every contact of the identity: other WICs' too
    ],
)
def test_a_register_that_only_removes_contacts_is_told_apart(
    contact: str, expires: str | None, removal: bool
) -> None:
    assert removes_contacts_only(_register(contact, expires)) is removal
