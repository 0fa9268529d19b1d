"""The tokens the tester makes from a user's genuine one (conformance/harness/tokens.py): each
differs from the genuine token only where its scenario needs it to, and is signed by the WWSF's
key, so that a refusal can only be for that difference (TR 23.701 5.2.2.5.2 step 4)."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.harness.tokens import KeyNotTheIssuers, issued_earlier, not_valid_before
from reference.nodes.iwf.token_check import TokenInvalid, keys_from_jwks, validate
from reference.nodes.wwsf.tokens import TokenIssuer

T0 = 1_800_000_000
WWSF = "https://wwsf.example.net"
EP = "sip:ep-cscf1.ims.example.net"
ALICE = "sip:wrtc-alice@block1.ims.example.net"


def _pem(kind: str = "ec") -> bytes:
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture
def wwsf() -> TokenIssuer:
    return TokenIssuer(WWSF, lifetime=1200, clock=lambda: T0, signing_key_pem=_pem())


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def _check(wwsf: TokenIssuer, token: str, now: float) -> None:
    validate(token, identity=ALICE, keys=keys_from_jwks(wwsf.jwks()), issuer=WWSF, audience=EP, now=now)


def test_a_token_issued_earlier_moves_every_time_claim_and_nothing_else(wwsf: TokenIssuer) -> None:
    genuine = wwsf.issue(ALICE, EP).value
    copy = issued_earlier(genuine, wwsf.signing_key_pem(), 1200 + 600)
    before, after = _claims(genuine), _claims(copy.value)
    assert {c: before[c] - after[c] for c in ("iat", "nbf", "exp")} == {"iat": 1800, "nbf": 1800, "exp": 1800}
    assert {k: v for k, v in after.items() if k not in ("iat", "nbf", "exp")} == {
        k: v for k, v in before.items() if k not in ("iat", "nbf", "exp")
    }
    assert jwt.get_unverified_header(copy.value) == jwt.get_unverified_header(genuine)
    assert "eyJ" not in repr(copy)  # never shown
    _check(wwsf, genuine, T0)
    with pytest.raises(TokenInvalid, match="expired"):  # its lifetime ran out ten minutes ago
        _check(wwsf, copy.value, T0)


def test_a_token_issued_earlier_keeps_the_lifetime_the_wwsf_gave_it(wwsf: TokenIssuer) -> None:
    """Whatever the WWSF's lifetime (here 1,200 s, not the 3,600 s a tester's own issuer would
    have given), the copy has the same one: it runs out by the genuine token's own exp."""
    genuine = wwsf.issue(ALICE, EP).value
    copy = _claims(issued_earlier(genuine, wwsf.signing_key_pem(), 1800).value)
    assert copy["exp"] - copy["iat"] == 1200 and copy["exp"] == T0 - 600  # type: ignore[operator]


def test_a_token_not_yet_valid_moves_nbf_only(wwsf: TokenIssuer) -> None:
    genuine = wwsf.issue(ALICE, EP).value
    copy = not_valid_before(genuine, wwsf.signing_key_pem(), T0 + 600).value
    before, after = _claims(genuine), _claims(copy)
    assert after == {**before, "nbf": T0 + 600}
    with pytest.raises(TokenInvalid, match="not valid before"):
        _check(wwsf, copy, T0)


@pytest.mark.parametrize(
    "make", [lambda t, k: issued_earlier(t, k, 1800), lambda t, k: not_valid_before(t, k, T0)]
)
def test_a_key_that_did_not_sign_the_genuine_token_signs_no_copy(wwsf: TokenIssuer, make) -> None:  # noqa: ANN001
    """A PIXIT's [wwsf] signing_key that is not the WWSF's would make a copy the eP-CSCF refuses for
    its signature, not for the claim the scenario moved: refused before any copy is made."""
    genuine = wwsf.issue(ALICE, EP).value
    with pytest.raises(KeyNotTheIssuers):
        make(genuine, _pem())
    with pytest.raises(KeyNotTheIssuers):  # a key of another type: refused the same way, not an error
        make(genuine, _pem("rsa"))


@pytest.mark.parametrize("variant", ["another key", "unsigned", "not yet valid"])
def test_a_copy_of_a_token_that_is_no_jwt_is_inconclusive(variant: str) -> None:
    """A WWSF may issue tokens of another form (PICS_PROFILE_WWSF_TOKEN_TIMES = no): a copy that breaks
    one check of a JWT cannot be made of it, so the scenario is INCONCLUSIVE, not in ERROR."""
    from types import SimpleNamespace

    from conformance.harness.sut import Unobservable
    from conformance.harness.world import World

    world = SimpleNamespace(logins={"alice": SimpleNamespace(token="opaque-session-handle-0123")})
    with pytest.raises(Unobservable, match="not a JWT"):
        World.forged_token(world, "alice", variant)  # type: ignore[arg-type]
