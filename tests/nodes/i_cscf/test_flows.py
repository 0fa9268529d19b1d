"""The enhanced I-CSCF's terminating flow (``reference/nodes/i_cscf/flows.py``) driven
without sockets: the test answers the W7 query and the HSS location query itself.

TR 23.701 5.2.2.5.4 steps 1-3, 5.2.2.3.3.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from reference.nodes.i_cscf.flows import Forward, HssLocation, W7Query, route_terminating, webrtc_domain_of
from reference.nodes.wimpu_registrar.client import RegistrarRejected, RegistrarUnavailable
from reference.nodes.wimpu_registrar.model import RegistrationStatus
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

WIMPU = "sip:wrtc-!.*!@block1.ims.example.net"
ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
BOB_IMPU = "sip:wrtc-bob@block2.ims.example.net"
SCSCF = "sip:scscf.ims.example.net"
WEBRTC = ("block1.ims.example.net", "block2.ims.example.net", "enterprise.com")
EXTERNAL = ("enterprise.com",)

Answer = Callable[[object], Any]


def drive(flow: Generator[Any, Any, Any], answer: Answer) -> tuple[Any, list[object]]:
    """Run ``flow``, answering each effect with ``answer`` (an exception is thrown in)."""
    effects: list[object] = []
    result: Any = None
    fault: Exception | None = None
    while True:
        try:
            effect = flow.throw(fault) if fault is not None else flow.send(result)
        except StopIteration as stop:
            return stop.value, effects
        effects.append(effect)
        fault = None
        try:
            result = answer(effect)
        except Exception as exc:  # noqa: BLE001 - handed to the flow
            fault = exc


def invite(uri: str) -> Request:
    text = (
        f"INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TCP remote.example.org;branch=z9hG4bK1\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:carol@remote.example.org>;tag=c\r\n"
        f"To: <{uri}>\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    parsed = parse_message(text.encode())
    assert isinstance(parsed, Request)
    return parsed


def network(statuses: dict[str, RegistrationStatus], hss: dict[str, str]) -> Answer:
    """The wIMPU Registrar (W7) and the HSS (identity -> serving S-CSCF)."""

    def answer(effect: object) -> Any:
        if isinstance(effect, W7Query):
            return statuses.get(effect.identity, RegistrationStatus(effect.identity, registered=False))
        if isinstance(effect, HssLocation):
            return hss.get(effect.identity)
        raise AssertionError(f"unexpected effect {effect!r}")

    return answer


def route(uri: str, answer: Answer) -> tuple[Any, list[object]]:
    flow = route_terminating(invite(uri), webrtc_domains=WEBRTC, external_domains=EXTERNAL, to_tag="t")
    return drive(flow, answer)


def test_a_registered_webrtc_impu_is_checked_then_routed_to_its_s_cscf() -> None:
    answer = network({ALICE: RegistrationStatus(ALICE, True, ALICE, WIMPU)}, {ALICE: SCSCF})
    result, effects = route(ALICE, answer)
    assert effects == [W7Query(ALICE), HssLocation(ALICE)]  # steps 2 and 3
    assert isinstance(result, Forward) and result.scscf == SCSCF and result.webrtc
    assert result.request.uri == ALICE
    assert result.request.get("P-Profile-Key") == f"<{WIMPU}>"  # RFC 5002


def test_an_external_identity_is_retargeted_to_its_allocated_impu() -> None:
    """Option B: the I-CSCF locates the individual IMPU associated with the called user."""
    status = RegistrationStatus(BOB, True, BOB_IMPU, "sip:wrtc-!.*!@block2.ims.example.net", BOB)
    result, effects = route(BOB, network({BOB: status}, {BOB_IMPU: SCSCF}))
    assert effects == [W7Query(BOB), HssLocation(BOB_IMPU)]
    assert isinstance(result, Forward) and result.request.uri == BOB_IMPU
    assert result.request.get("To") == f"<{BOB}>"


def test_another_domain_takes_the_standard_procedure_without_w7() -> None:
    """Step 1: the configured domains only."""
    called = "sip:dave@ims.example.net"
    result, effects = route(called, network({}, {called: SCSCF}))
    assert effects == [HssLocation(called)]
    assert isinstance(result, Forward) and not result.webrtc


@pytest.mark.parametrize(
    ("called", "hss", "status"),
    [
        (ALICE, {ALICE: SCSCF}, 480),  # a user of a block, who may register later
        ("sip:eve@enterprise.com", {}, 480),  # of an option B domain
        ("sip:nobody@block1.ims.example.net", {}, 404),  # in no block
    ],
)
def test_a_webrtc_user_who_is_not_registered_is_rejected(
    called: str, hss: dict[str, str], status: int
) -> None:
    """Step 2: "otherwise the session is rejected" (5.2.2.3.3)."""
    result, effects = route(called, network({}, hss))
    assert isinstance(result, Response) and result.status == status
    assert effects[0] == W7Query(called) and not any(isinstance(e, Forward) for e in effects)


def test_a_registered_user_the_hss_does_not_know_is_404() -> None:
    result, _ = route(ALICE, network({ALICE: RegistrationStatus(ALICE, True, ALICE, WIMPU)}, {}))
    assert isinstance(result, Response) and result.status == 404


def test_a_request_uri_that_is_no_public_identity_is_404_without_any_query() -> None:
    result, effects = route("sip:block1.ims.example.net", network({}, {}))
    assert isinstance(result, Response) and result.status == 404 and effects == []


@pytest.mark.parametrize("fault", [RegistrarUnavailable("down"), RegistrarRejected(400, "bad identity")])
def test_a_w7_fault_ends_the_flow_with_that_fault_before_any_routing(fault: Exception) -> None:
    """The service answers 503 (unavailable) or 500 (refused)."""

    def failing(effect: object) -> Any:
        if isinstance(effect, W7Query):
            raise fault
        raise AssertionError(f"routed after a W7 fault: {effect!r}")

    with pytest.raises(type(fault)):
        route(ALICE, failing)


@pytest.mark.parametrize(
    ("identity", "domain"),
    [
        ("sip:x@Block1.IMS.example.net", "block1.ims.example.net"),
        ("sip:x@block1.ims.example.net:5060", "block1.ims.example.net"),
        ("sip:x@other.example.net", None),
        ("not a uri", None),
    ],
)
def test_the_webrtc_domain_of_an_identity(identity: str, domain: str | None) -> None:
    assert webrtc_domain_of(identity, WEBRTC) == domain
