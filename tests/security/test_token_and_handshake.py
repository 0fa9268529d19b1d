"""Attacks that the eP-CSCF already refused before issue 13, kept as counted families so
they stay refused: WebSocket handshakes (5.2.2.5.2 step 2) and security tokens (step 4).

Each token is the genuine one of alice with exactly one thing broken, signed with the
WWSF's own key where the claim is what is wrong (so only the claim check can refuse it).
After each family: nothing was stored for alice, and a legitimate WIC still registers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tally import Family

from conformance.harness.wic import HandshakeRefused, Wic, web_login
from reference.stack import Stack

ALICE = "sip:wrtc-alice@block1.ims.example.net"



def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def forged_tokens(stack: Stack, genuine: str) -> dict[str, str]:
    """Alice's token with one property broken per entry."""
    header = jwt.get_unverified_header(genuine)
    claims: dict[str, Any] = jwt.decode(genuine, options={"verify_signature": False})
    wwsf_key = serialization.load_pem_private_key(stack.wwsf.signing_key_pem(), password=None)
    public_pem = wwsf_key.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())

    def signed(changes: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
        body = {k: v for k, v in {**claims, **changes}.items() if k not in drop}
        return jwt.encode(body, wwsf_key, algorithm="ES256", headers={"kid": header["kid"], "typ": "JWT"})

    other_key = ec.generate_private_key(ec.SECP256R1())
    head, _payload, signature = genuine.split(".")
    return {
        "signed by another key": jwt.encode(
            claims, other_key, algorithm="ES256", headers={"kid": header["kid"]}
        ),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_payload}.",
        "HS256 keyed with the public key": hs256_with(public_pem, header["kid"], claims),
        "expired": signed({"exp": now - 120, "iat": now - 3720, "nbf": now - 3720}),
        "not yet valid": signed({"nbf": now + 3600}),
        "without exp": signed({}, drop=("exp",)),
        "for another eP-CSCF (aud)": signed({"aud": "sip:ep-cscf2.ims.example.net"}),
        "from another issuer (iss)": signed({"iss": "https://evil.example.com"}),
        "for another identity (sub)": signed({"sub": "sip:wrtc-mallory@block1.ims.example.net"}),
        "payload changed under the genuine signature": (
            f"{head}.{_b64({**claims, 'exp': now + 86400})}.{signature}"
        ),
        "truncated signature": genuine[:-10],
        "not a JWT": "not-a-token",
        "8 KiB of garbage": "a" * 8192,
        "unknown kid": signed({}).replace(head, _b64({**header, "kid": "nope"}), 1),
    }  # fmt: skip


def hs256_with(secret: bytes, kid: str, claims: dict[str, Any]) -> str:
    """The claims as HS256 with the WWSF's public key PEM as the HMAC secret (the classic
    confusion attack on verifiers that take ``alg`` from the token)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def connected(stack: Stack, name: str) -> tuple[Wic, str]:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    wic = Wic(name, ssl_context=ctx)
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    return wic, login.token


async def assert_alice_still_registers(stack: Stack, family: Family) -> None:
    assert stack.registrar.store.read(ALICE, time.time()) is None, f"{family.name}: something was stored"
    wic, token = await connected(stack, "legit")
    response = await wic.register(ALICE, token=token)
    assert response.status == 200, f"{family.name}: alice no longer registers ({response.start_line()})"
    await wic.close()


async def test_forged_tokens_are_refused(stack: Stack) -> None:
    family = Family("forged WWSF tokens on REGISTER")
    wic, genuine = await connected(stack, "mallory")
    for label, token in forged_tokens(stack, genuine).items():
        for in_body in (False, True):
            try:
                response = await wic.register(ALICE, token=token, carriage="body" if in_body else "header")
            except TimeoutError:
                family.no_answer(label)
                continue
            where = "body" if in_body else "header"
            family.judge(f"{label} ({where})", refused=response.status in (401, 403))
    bob = await web_login(stack.wwsf.origin, "bob", "bob-password", stack.pki.client_context())
    bare = wic.register_request(ALICE, token=None)
    for label, request in {
        "no token": bare,
        "empty Bearer": bare.with_header("Authorization", "Bearer "),
        "bob's genuine token for alice's identity": bare.with_header("Authorization", f"Bearer {bob.token}"),
    }.items():
        response = await wic.request(request)
        family.judge(label, refused=response.status in (401, 403))
    await wic.close()
    await assert_alice_still_registers(stack, family)
    family.assert_clean()


async def test_bad_websocket_handshakes_are_refused(stack: Stack) -> None:
    family = Family("bad WebSocket handshakes")
    url = stack.ep_cscfs["ep-cscf1"].wss_url
    cases: dict[str, dict[str, Any]] = {
        "another Origin": {"origin": "https://evil.example.com"},
        "no Origin": {"origin": None},
        "the WWSF Origin over http": {"origin": stack.wwsf.origin.replace("https:", "http:")},
        "the WWSF Origin with another port": {"origin": stack.wwsf.origin.rsplit(":", 1)[0] + ":1"},
        "Origin null": {"origin": "null"},
        "no sip subprotocol": {"origin": stack.wwsf.origin, "subprotocols": ()},
        "another subprotocol only": {"origin": stack.wwsf.origin, "subprotocols": ("msrp",)},
    }
    for label, options in cases.items():
        wic = Wic("h", ssl_context=stack.pki.client_context(), timeout=3.0)
        try:
            await wic.connect(url, **options)
        except HandshakeRefused as exc:
            family.judge(label, refused=exc.status in (400, 403, 426))
            continue
        except TimeoutError:
            family.no_answer(label)
            continue
        family.wrongly_accepted(label)
        await wic.close()
    await assert_alice_still_registers(stack, family)
    family.assert_clean()
