"""WWSF service: web authentication and the security token (TR 23.701 5.2.2.5.2 step 1)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from reference.blocks import WimpuBlock
from reference.nodes.iwf.token_check import keys_from_jwks, validate
from reference.nodes.wwsf import DirectoryEntry, EpCscf, Token, TokenIssuer, UserStore, WwsfService
from reference.tls import TestPki

NOW = 1_800_000_000.0
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"
EP1 = EpCscf(uri="wss://127.0.0.1:7443", identity="sip:ep-cscf1.ims.example.net")
EP2 = {"uri": "wss://127.0.0.1:7444", "identity": "sip:ep-cscf2.ims.example.net"}
ALICE_PW = "alice-correct-horse"
BOB_PW = "bob-battery-staple"
USERS: dict[str, Any] = {
    "alice": {"password": ALICE_PW, "identity": "sip:wrtc-alice@block1.ims.example.net",
              "block": BLOCK1},
    "bob": {"password": BOB_PW, "identity": "sip:bob@enterprise.com", "block": BLOCK2},
}  # fmt: skip
BLOCKS: list[Any] = [
    DirectoryEntry(WimpuBlock.parse(BLOCK1, "A"), ep_cscf=EP1),
    {"wimpu": BLOCK2, "option": "B", "ep_cscf": EP2},
]


@pytest.fixture
def pki(tmp_path: Path) -> TestPki:
    return TestPki(tmp_path / "pki")


@pytest.fixture
async def wwsf(pki: TestPki) -> AsyncIterator[WwsfService]:
    async with WwsfService(pki=pki, users=USERS, blocks=BLOCKS, clock=lambda: NOW) as service:
        yield service


@pytest.fixture
async def http(pki: TestPki) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=pki.client_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def _login(
    http: aiohttp.ClientSession, wwsf: WwsfService, **kwargs: Any
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(f"{wwsf.origin}/login", **kwargs) as response:
        return response.status, await response.json(content_type=None), response


async def test_wwsf_issues_a_token_on_successful_json_login(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    status, body, response = await _login(
        http, wwsf, json={"username": "alice", "password": ALICE_PW}
    )
    assert status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["identity"] == "sip:wrtc-alice@block1.ims.example.net"
    assert body["ep_cscf"] == EP1.uri
    assert body["wimpu"] == BLOCK1


async def test_wwsf_token_carries_the_profile_claims(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    _, body, _ = await _login(http, wwsf, json={"username": "bob", "password": BOB_PW})
    async with http.get(f"{wwsf.origin}/.well-known/jwks.json") as response:
        jwks = await response.json()
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "ES256"
    assert header["kid"] == jwks["keys"][0]["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        body["token"], key, algorithms=["ES256"], audience=EP2["identity"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )  # fmt: skip
    assert claims["iss"] == wwsf.origin == f"https://127.0.0.1:{wwsf.port}"
    assert claims["sub"] == "sip:bob@enterprise.com"
    assert claims["aud"] == EP2["identity"]
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["exp"] == int(NOW) + 3600
    assert len(claims["jti"]) >= 16


async def test_wwsf_token_passes_the_ep_cscf_check(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    _, body, _ = await _login(http, wwsf, json={"username": "alice", "password": ALICE_PW})
    claims = validate(
        body["token"], identity=body["identity"], keys=keys_from_jwks(wwsf.jwks()),
        issuer=wwsf.origin, audience=EP1.identity, now=NOW + 10,
    )  # fmt: skip
    assert claims.sub == body["identity"]


async def test_wwsf_accepts_a_form_encoded_login(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await _login(http, wwsf, data={"username": "bob", "password": BOB_PW})
    assert status == 200
    assert body["identity"] == "sip:bob@enterprise.com"


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("mallory", ALICE_PW), ("alice", "")]
)
async def test_wwsf_rejects_a_failed_login_with_401_problem(
    wwsf: WwsfService, http: aiohttp.ClientSession, username: str, password: str
) -> None:
    status, body, response = await _login(
        http, wwsf, json={"username": username, "password": password}
    )
    assert status == 401
    assert response.content_type == "application/problem+json"
    assert body["status"] == 401 and body["title"] == "Unauthorized"
    assert "token" not in body


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"username": "alice"}}, 400),
        ({"json": ["alice", ALICE_PW]}, 400),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"alice", "headers": {"Content-Type": "text/plain"}}, 415),
    ],
)
async def test_wwsf_rejects_a_malformed_login(
    wwsf: WwsfService, http: aiohttp.ClientSession, kwargs: dict[str, Any], status: int
) -> None:
    got, body, response = await _login(http, wwsf, **kwargs)
    assert got == status == body["status"]
    assert response.content_type == "application/problem+json"


async def test_wwsf_logs_logins_without_password_or_token(
    wwsf: WwsfService, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, body, _ = await _login(http, wwsf, json={"username": "alice", "password": ALICE_PW})
    await _login(http, wwsf, json={"username": "alice", "password": "guess-" + BOB_PW})
    wwsf_lines = [r.getMessage() for r in caplog.records if r.name == "wimpu.wwsf"]
    assert any("login succeeded for user 'alice'" in line for line in wwsf_lines)
    assert any("login failed for user 'alice'" in line for line in wwsf_lines)
    for secret in (ALICE_PW, BOB_PW, body["token"], body["token"].split(".")[2]):
        assert secret not in caplog.text


async def test_wwsf_publishes_its_public_key_as_jwks(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{wwsf.origin}/.well-known/jwks.json") as response:
        assert response.status == 200
        jwks = await response.json()
    assert jwks == wwsf.jwks()
    (key,) = jwks["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    assert key["alg"] == "ES256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key


async def test_wwsf_directory_lists_each_block_and_its_ep_cscf(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{wwsf.origin}/directory") as response:
        directory = await response.json()
    assert directory == [
        {"wimpu": BLOCK1, "option": "A", "ep_cscf": {"uri": EP1.uri, "identity": EP1.identity}},
        {"wimpu": BLOCK2, "option": "B", "ep_cscf": EP2},
    ]


async def test_wwsf_announces_a_reallocated_block(
    wwsf: WwsfService, http: aiohttp.ClientSession
) -> None:
    standby = EpCscf(uri="wss://127.0.0.1:7445", identity="sip:ep-cscf3.ims.example.net")
    wwsf.set_block_ep_cscf(BLOCK1, standby)
    async with http.get(f"{wwsf.origin}/directory") as response:
        directory = await response.json()
    assert directory[0]["ep_cscf"] == {"uri": standby.uri, "identity": standby.identity}
    _, body, _ = await _login(http, wwsf, json={"username": "alice", "password": ALICE_PW})
    assert body["ep_cscf"] == standby.uri
    assert jwt.decode(body["token"], options={"verify_signature": False})["aud"] == (
        standby.identity
    )
    with pytest.raises(KeyError):
        wwsf.set_block_ep_cscf("sip:!.*!@nowhere.example.net", standby)


@pytest.mark.parametrize("path", ["/", "/wic.html"])
async def test_wwsf_serves_the_wic_page(
    wwsf: WwsfService, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(f"{wwsf.origin}{path}") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "<form" in await response.text()


async def test_client_not_trusting_the_test_ca_cannot_reach_the_wwsf(wwsf: WwsfService) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{wwsf.origin}/")


async def test_wwsf_issue_token_directly(wwsf: WwsfService) -> None:
    token = wwsf.issue_token("sip:wrtc-carol@block1.ims.example.net", EP1.identity)
    claims = jwt.decode(token.value, options={"verify_signature": False})
    assert claims["sub"] == token.sub == "sip:wrtc-carol@block1.ims.example.net"
    assert claims["iss"] == wwsf.origin
    assert claims["jti"] == token.jti
    assert claims["exp"] == token.exp


def test_token_repr_and_str_hide_the_value() -> None:
    token = TokenIssuer("https://wwsf.test", clock=lambda: NOW).issue("sip:a@b.example", "ep")
    for text in (repr(token), str(token), f"{token}", repr([token]), repr({"t": token})):
        assert token.value not in text
        assert token.value.split(".")[1] not in text
    assert repr(token) == f"Token(sub='sip:a@b.example', exp={int(NOW) + 3600}, jti={token.jti!r})"


def test_user_store_never_shows_passwords() -> None:
    store = UserStore(USERS)
    assert ALICE_PW not in repr(store)
    assert ALICE_PW not in repr(store.users())
    user = store.authenticate("alice", ALICE_PW)
    assert user is not None and ALICE_PW not in repr(user)
    assert store.authenticate("alice", BOB_PW) is None
    assert store.authenticate("nobody", ALICE_PW) is None


def test_signing_key_can_be_loaded_from_pem() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    one = TokenIssuer("https://wwsf.test", clock=lambda: NOW, signing_key_pem=pem)
    two = TokenIssuer("https://wwsf.test", clock=lambda: NOW, signing_key_pem=pem)
    assert one.kid == two.kid and one.jwks() == two.jwks()
    assert TokenIssuer("https://wwsf.test", clock=lambda: NOW).kid != one.kid
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="P-256"):
        TokenIssuer("https://wwsf.test", clock=lambda: NOW, signing_key_pem=p384)


def test_token_lifetime_is_configurable(pki: TestPki) -> None:
    service = WwsfService(
        pki=pki, users=USERS, blocks=BLOCKS, port=8443, token_lifetime=60, clock=lambda: NOW
    )
    token: Token = service.issue_token("sip:bob@enterprise.com", "ep")
    assert token.exp == int(NOW) + 60
    assert token.iss == service.origin == "https://127.0.0.1:8443"


def test_origin_is_unknown_before_start_with_port_zero(pki: TestPki) -> None:
    service = WwsfService(pki=pki, users=USERS, blocks=BLOCKS)
    with pytest.raises(RuntimeError, match="start"):
        service.issue_token("sip:bob@enterprise.com", "ep")


def test_user_of_an_unknown_block_is_a_configuration_error(pki: TestPki) -> None:
    users = {"eve": {"password": "x", "identity": "sip:eve@e.example", "block": "sip:!x!@nope"}}
    with pytest.raises(ValueError, match="not in the directory"):
        WwsfService(pki=pki, users=users, blocks=BLOCKS)


async def test_wwsf_page_loads_the_bundle_under_a_csp_naming_only_itself_and_the_ep_cscfs(
    pki: TestPki, tmp_path: Path
) -> None:
    bundle = tmp_path / "wic.js"
    bundle.write_text("/* the WIC */\n")
    async with (
        WwsfService(pki=pki, users=USERS, blocks=BLOCKS, wic_bundle=bundle) as wwsf,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{wwsf.origin}/", ssl=pki.client_context()) as page:
            assert page.headers["Content-Security-Policy"] == (
                "default-src 'self'; script-src 'self'; "
                "connect-src 'self' wss://127.0.0.1:7443 wss://127.0.0.1:7444"
            )
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            text = await page.text()
            assert '<script src="/wic.js" defer></script>' in text
            assert "bundle-missing" not in text and "<script>" not in text
        async with http.get(f"{wwsf.origin}/wic.js", ssl=pki.client_context()) as script:
            assert script.status == 200 and script.content_type == "text/javascript"
            assert await script.text() == "/* the WIC */\n"
        wwsf.set_block_ep_cscf(BLOCK2, {"uri": "wss://standby.example.net:9443/sip;x", "identity": "x"})
        async with http.get(f"{wwsf.origin}/", ssl=pki.client_context()) as page:
            assert page.headers["Content-Security-Policy"].endswith(
                "connect-src 'self' wss://127.0.0.1:7443"
            ), "a URL with ';' must not reach the CSP header"


async def test_wwsf_without_a_built_bundle_warns_and_the_page_says_so(
    pki: TestPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wimpu.wwsf")
    missing = tmp_path / "dist" / "wic.js"
    async with (
        WwsfService(pki=pki, users=USERS, blocks=BLOCKS, wic_bundle=missing) as wwsf,
        aiohttp.ClientSession() as http,
    ):
        assert any("WIC bundle" in r.getMessage() and "not built" in r.getMessage() for r in caplog.records)
        async with http.get(f"{wwsf.origin}/wic.html", ssl=pki.client_context()) as page:
            assert page.status == 200
            text = await page.text()
            assert 'id="bundle-missing"' in text and "scripts/install.sh" in text
            assert 'src="/wic.js"' not in text
        async with http.get(f"{wwsf.origin}/wic.js", ssl=pki.client_context()) as script:
            assert script.status == 404
