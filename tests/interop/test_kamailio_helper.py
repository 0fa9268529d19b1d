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
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
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


BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
BLOCKS = [
    {"name": "block1", "wimpu": BLOCK1, "option": "A", "aor": "sip:block1@wrtc.ims.example.net",
     "auth_username": "block1@ims.example.net", "role": "primary"},
    {"name": "block2", "wimpu": BLOCK2, "option": "B", "aor": "sip:block2@wrtc.ims.example.net",
     "auth_username": "block2@ims.example.net", "role": "standby"},
]  # fmt: skip
"KAM_BLOCKS of ep-cscf1 (start.sh): block1 its own, block2 the one it stands by for."


@pytest.fixture
def option_b(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = _load()
    monkeypatch.setenv("KAM_BLOCKS", json.dumps(BLOCKS))
    monkeypatch.setenv("KAM_REGISTRAR", REGISTRAR)
    return module


def _register(module: ModuleType, monkeypatch: pytest.MonkeyPatch, w6: FakeW6) -> dict[str, Any]:
    monkeypatch.setattr(module, "Registrar", lambda: w6)
    contact = {"uri": "sip:x@y.invalid;transport=ws", "flow": "f", "expires": 600, "path": []}
    request = {"impu": f"<{BOB}>", "contacts": {"c1": contact}, "option": "B"}
    answer: dict[str, Any] = module.w6_sync(request)
    return answer


def test_the_allocated_impu_is_of_the_block_and_the_same_for_the_same_external_identity(
    option_b: ModuleType,
) -> None:
    impu = option_b.allocate(BOB, BLOCK2)
    assert impu.startswith("sip:wrtc-") and impu.endswith("@block2.ims.example.net")
    assert option_b.allocate("<sip:bob@Enterprise.COM>", BLOCK2) == impu  # PROFILE_LIFE_IMPU_STABLE
    assert option_b.allocate("sip:carol@enterprise.com", BLOCK2) != impu


def test_a_first_option_b_registration_reads_by_external_identity_then_writes_the_binding(
    option_b: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    w6 = FakeW6(bound=None)
    answer = _register(option_b, monkeypatch, w6)
    impu = option_b.allocate(BOB, BLOCK2)
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


# ----- the block leases (5.2.2.2): the helper's lease and cleanup, the KEMI script's ticks ----------


class FakeLeases:
    """The registrar's lease API as the helper calls it: PUT (granted or 409), GET, the block's
    registrations and their removal."""

    def __init__(self, *, held_by_other: set[str], leases: dict[str, Any]) -> None:
        self.held_by_other, self.leases = held_by_other, leases
        self.calls: list[tuple[str, str, Any]] = []

    def http(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        self.calls.append((method, url, body))
        wimpu = url.split("/w6/v1/blocks/")[-1].split("/")[0].replace("%21", "!").replace("%2A", "*")
        wimpu = wimpu.replace("%3A", ":").replace("%40", "@")
        if method == "PUT" and url.endswith("/lease"):
            if wimpu in self.held_by_other:
                return 409, None
            return 200, {
                "lease": {"holder": body["holder"]},
                "previous_holder": "sip:ep-cscf2.ims.example.net",
            }
        if method == "GET" and url.endswith("/lease"):
            lease = self.leases.get(wimpu)
            return (200, lease) if lease is not None else (404, None)
        if method == "GET" and url.endswith("/registrations"):
            contacts = [{"contact_id": "mine", "ep_cscf": EP}, {"contact_id": "theirs", "ep_cscf": "other"}]
            return 200, {"entries": [{"impu": "sip:wrtc-alice@block1.ims.example.net", "contacts": contacts}]}
        return 200, None


@pytest.fixture
def leases_env(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = _load()
    for name, value in (("IDENTITY", EP), ("ACCESS", "wss://127.0.0.1:7443"), ("LEASE_DURATION", "6"),
                        ("REGISTRAR", REGISTRAR), ("BLOCKS", json.dumps(BLOCKS))):  # fmt: skip
        monkeypatch.setenv(f"KAM_{name}", value)
    return module


def test_the_helper_claims_each_block_asked_and_reads_the_others(
    leases_env: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLeases(held_by_other={BLOCK2}, leases={BLOCK2: {"holder": "other", "live": False}})
    monkeypatch.setattr(leases_env, "Registrar", lambda: fake)
    answers = leases_env.leases({"claim": [BLOCK1, BLOCK2], "observe": [BLOCK2]})
    assert answers[BLOCK1]["outcome"] == "granted" and answers[BLOCK2]["outcome"] == "read"
    puts = [c for c in fake.calls if c[0] == "PUT"]
    assert puts[0][2] == {
        "holder": EP,
        "duration": 6.0,
        "access": {"uri": "wss://127.0.0.1:7443", "identity": EP},
    }
    assert len(puts) == 2  # block2's claim got 409 ("held"), then its read replaced that answer


def test_the_clean_up_of_a_block_taken_over_removes_only_the_other_ep_cscfs_contacts(
    leases_env: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLeases(held_by_other=set(), leases={})
    monkeypatch.setattr(leases_env, "Registrar", lambda: fake)
    assert leases_env.cleanup({"wimpu": BLOCK1}) == {"ok": True, "removed": 1, "detail": ""}
    [(_, url, _)] = [c for c in fake.calls if c[0] == "DELETE"]
    assert url.endswith("/contacts/theirs")


def _epcscf(monkeypatch: pytest.MonkeyPatch, script: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    """epcscf.py's Leases with a stand-in for Kamailio's KSR module and for the helper: each tick
    gets the next answers of ``script``; returns the Leases and the requests it made."""
    monkeypatch.setitem(sys.modules, "KSR", SimpleNamespace(warn=lambda _: None, info=lambda _: None))
    spec = importlib.util.spec_from_file_location("epcscf", HELPER.with_name("epcscf.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    asked: list[Any] = []

    def helper(command: str, request: dict[str, Any]) -> dict[str, Any]:
        asked.append(request)
        return script.pop(0) if script else {}

    monkeypatch.setattr(module, "_helper", helper)
    for name, value in (("BLOCKS", json.dumps(BLOCKS)), ("IDENTITY", EP), ("LEASE_RENEW", "2")):
        monkeypatch.setenv(f"KAM_{name}", value)
    return module.Leases(), asked


def test_a_primary_claims_its_block_at_once_and_stands_by_once_another_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leases, asked = _epcscf(monkeypatch, [{BLOCK1: {"outcome": "held"}}])
    leases.tick()
    assert asked[0]["claim"] == [BLOCK1] and leases.events == []
    for _ in range(6):  # block1 is another's now (TP_WIMPU_LIFE_010): it is read, not claimed
        leases.tick()
    assert len(asked) > 1 and all(BLOCK1 not in a["claim"] for a in asked[1:])
    assert BLOCK1 in asked[-1]["observe"]


def test_a_standby_claims_only_a_lease_that_lapsed_on_three_ticks_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lapsed = {"outcome": "read", "holder": "sip:ep-cscf2.ims.example.net", "live": False}
    live = {"outcome": "read", "holder": "sip:ep-cscf2.ims.example.net", "live": True}
    never = {"outcome": "read", "holder": None, "live": False}
    granted = {"outcome": "granted", "previous": "sip:ep-cscf2.ims.example.net"}
    own = {BLOCK1: {"outcome": "granted", "previous": None}}
    script = [own, {BLOCK2: never}, {BLOCK2: never}, {BLOCK2: lapsed}, {BLOCK2: live},  # ticks 1-5
              {BLOCK2: lapsed}, {BLOCK2: lapsed}, {BLOCK2: lapsed}, {BLOCK2: granted}]  # fmt: skip
    leases, asked = _epcscf(monkeypatch, script)
    # reads from tick 3 (STANDBY_DELAY - GRACE); tick 5 lapsed, tick 6 live again (a clock jump the
    # holder renewed after), ticks 7-9 lapsed: the claim at tick 10, past STANDBY_DELAY
    for _ in range(9):
        leases.tick()
        assert all(BLOCK2 not in a.get("claim", []) for a in asked), "claimed before its grace"
    leases.tick()
    assert BLOCK2 in asked[-1]["claim"]
    assert [(kind, block["name"], previous) for kind, block, previous in leases.events] == [
        ("acquired", "block1", None),
        ("acquired", "block2", "sip:ep-cscf2.ims.example.net"),
    ]


def test_the_ep_cscf_is_ready_once_its_primary_blocks_lease_is_claimed_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kamailio.cfg accepts WebSocket handshakes only once :meth:`Leases.ready` (block registration
    option 2: nothing else shows that the eP-CSCF knows which blocks it serves)."""
    leases, _ = _epcscf(monkeypatch, [{}, {BLOCK1: {"outcome": "granted", "previous": None}}])
    assert not leases.ready()
    leases.tick()  # the registrar did not answer: not claimed
    assert not leases.ready()
    leases.tick()
    assert not leases.ready(), "acquired, not yet reported to the configuration"
    leases.events.clear()
    assert leases.ready()


def test_the_ep_cscf_is_ready_once_it_finds_its_primary_block_held_by_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started again after a failure, its block taken over (TP_WIMPU_LIFE_010): ready, standing by."""
    leases, _ = _epcscf(monkeypatch, [{BLOCK1: {"outcome": "held"}}])
    leases.tick()
    assert leases.ready() and leases.events == []


def test_leases_tick_reports_ready_on_the_tick_the_primary_block_is_acquired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kamailio.cfg's route[LEASES] accepts WebSocket handshakes from the tick ``$var(leases_ready)``
    is 1: the very tick that acquires and reports the primary block (not one later)."""
    leases, _ = _epcscf(monkeypatch, [{BLOCK1: {"outcome": "granted", "previous": None}}])
    values: dict[str, object] = {}
    pv = SimpleNamespace(sets=values.__setitem__, seti=values.__setitem__)
    module = type(leases).tick.__globals__  # epcscf.py's, loaded by path
    monkeypatch.setitem(module, "KSR", SimpleNamespace(pv=pv, warn=lambda _: None, info=lambda _: None))
    ep = module["EpCscf"]()
    ep.leases = leases
    ep.leases_tick(None)
    assert values["$var(acquired)"] == "block1" and values["$var(acquired_registration)"] == 1
    assert values["$var(leases_ready)"] == 1
