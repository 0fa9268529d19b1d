"""The token check of the Kamailio eP-CSCF's helper (interop/kamailio/wimpu_helper.py), without Kamailio.

It backs an entry of docs/validation.md: the suite cannot run TP_WIMPU_SEC_007 (a token for another
eP-CSCF) against a SUT whose WWSF announces a single eP-CSCF, so the audience check is shown here,
with every other check of the solution profile's "Token" (docs/solution-profile.md). The helper's
JWKS read is replaced by the test's key set; nothing listens. Also its identity option B part
(ep-cscf2): the IMPU it allocates from block2, and the W6 calls of a registration (read by external
identity first, then the write of the binding), against a fake registrar.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

Helper: TypeAlias = tuple[ModuleType, ec.EllipticCurvePrivateKey]
HELPER = Path(__file__).resolve().parents[2] / "interop" / "kamailio" / "wimpu_helper.py"
WWSF = "https://127.0.0.1:8443"
EP = "sip:ep-cscf1.ims.example.net"
ALICE = "sip:wrtc-alice@block1.ims.example.net"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wimpu_helper", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch) -> Helper:
    module = _load()
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}

    class Registrar:
        def http(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
            assert (method, url) == ("GET", f"{WWSF}/.well-known/jwks.json")
            return 200, jwks

    monkeypatch.setattr(module, "Registrar", Registrar)
    monkeypatch.setenv("KAM_WWSF", WWSF)
    monkeypatch.setenv("KAM_IDENTITY", EP)
    monkeypatch.delenv("KAM_CLOCK_OFFSET_FILE", raising=False)
    return module, key


def _token(key: ec.EllipticCurvePrivateKey, kid: str = "k1", **claims: Any) -> str:
    now = time.time()
    body = {"iss": WWSF, "aud": EP, "sub": ALICE, "iat": now, "nbf": now, "exp": now + 600, "jti": "j"}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="ES256",
                      headers={"kid": kid})  # fmt: skip


def _verdict(module: ModuleType, authorization: list[str], body: str = "", content_type: str = "") -> str:
    request = {"authorization": authorization, "body": body, "content_type": content_type, "to": ALICE}
    return str(module.check_token(request)["verdict"])


def test_a_genuine_token_passes_in_each_carriage(helper: Helper) -> None:
    module, key = helper
    token = _token(key)
    assert _verdict(module, [f"Bearer {token}"]) == "ok"
    assert _verdict(module, [f'Bearer access_token="{token}"']) == "ok"  # TS 24.371
    assert _verdict(module, ['Digest username="x"'], token, "application/jwt") == "ok"
    assert _verdict(module, ['Digest username="x"']) == "missing"


@pytest.mark.parametrize(
    ("claims", "verdict"),
    [
        ({"aud": "sip:ep-cscf2.ims.example.net"}, "invalid"),  # TP_WIMPU_SEC_007: another eP-CSCF
        ({"iss": "https://wwsf.elsewhere.example"}, "invalid"),
        ({"exp": -1}, "invalid"),  # seconds from now: resolved when the test runs, not at collection
        ({"nbf": 300}, "invalid"),
        ({"exp": None}, "invalid"),
        ({"sub": "sip:wrtc-dave@block1.ims.example.net"}, "mismatch"),  # 403
    ],
)
def test_a_token_failing_one_check_is_refused(helper: Helper, claims: dict[str, Any], verdict: str) -> None:
    module, key = helper
    now = time.time()  # a full run reaches this test minutes after collecting it
    claims = {k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in claims.items()}
    assert _verdict(module, [f"Bearer {_token(key, **claims)}"]) == verdict


def test_another_key_and_no_signature_are_refused(helper: Helper) -> None:
    module, key = helper
    assert _verdict(module, [f"Bearer {_token(ec.generate_private_key(ec.SECP256R1()))}"]) == "invalid"
    assert _verdict(module, [f"Bearer {_token(key, kid='unknown')}"]) == "invalid"
    claims = {"iss": WWSF, "aud": EP, "sub": ALICE, "exp": time.time() + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]  # alg none takes no key
    assert _verdict(module, [f"Bearer {unsigned}"]) == "invalid"


# ----- identity option B (ep-cscf2): allocation and the W6 binding --------------------------------

BLOCK2 = "sip:wrtc-!.*!@block2.ims.example.net"
REGISTRAR = "https://127.0.0.1:8180"
BOB = "sip:bob@enterprise.com"


class FakeW6:
    """The registrar's W6 API as the helper calls it: the calls, and an entry bound to BOB (or none)."""

    def __init__(self, bound: str | None) -> None:
        self.bound = bound
        self.calls: list[tuple[str, str, Any]] = []

    def http(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        self.calls.append((method, url, body))
        if method == "GET" and "?external=" in url:
            return (200, {"impu": self.bound, "contacts": []}) if self.bound else (404, None)
        if method == "GET":
            return 404, None
        return 201, None


@pytest.fixture
def option_b(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = _load()
    monkeypatch.setenv("KAM_WIMPU", BLOCK2)
    monkeypatch.setenv("KAM_OPTION", "B")
    monkeypatch.setenv("KAM_REGISTRAR", REGISTRAR)
    return module


def _register(module: ModuleType, monkeypatch: pytest.MonkeyPatch, w6: FakeW6) -> dict[str, Any]:
    monkeypatch.setattr(module, "Registrar", lambda: w6)
    contact = {"uri": "sip:x@y.invalid;transport=ws", "flow": "f", "expires": 600, "path": []}
    answer: dict[str, Any] = module.w6_sync({"impu": f"<{BOB}>", "contacts": {"c1": contact}})
    return answer


def test_the_allocated_impu_is_of_the_block_and_the_same_for_the_same_external_identity(
    option_b: ModuleType,
) -> None:
    impu = option_b.allocate(BOB)
    assert impu.startswith("sip:wrtc-") and impu.endswith("@block2.ims.example.net")
    assert option_b.allocate("<sip:bob@Enterprise.COM>") == impu  # PROFILE_LIFE_IMPU_STABLE
    assert option_b.allocate("sip:carol@enterprise.com") != impu


def test_a_first_option_b_registration_reads_by_external_identity_then_writes_the_binding(
    option_b: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    w6 = FakeW6(bound=None)
    answer = _register(option_b, monkeypatch, w6)
    impu = option_b.allocate(BOB)
    assert answer == {"ok": True, "detail": "", "impu": impu}
    assert w6.calls[0][:2] == ("GET", f"{REGISTRAR}/w6/v1/registrations?external=sip%3Abob%40enterprise.com")
    [(_, url, body)] = [c for c in w6.calls if c[0] == "PUT"]
    assert "/registrations/sip%3Awrtc-" in url and url.endswith("/contacts/c1")
    assert body["wimpu"] == BLOCK2 and body["allocated_by"] == "ep-cscf" and body["external_identity"] == BOB


def test_an_option_b_registration_keeps_the_impu_the_registrar_already_binds(
    option_b: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = "sip:wrtc-given-before@block2.ims.example.net"
    answer = _register(option_b, monkeypatch, FakeW6(bound=bound))
    assert answer["impu"] == bound
