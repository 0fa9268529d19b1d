"""The eP-CSCF's flows (``reference/nodes/p_cscf/flows.py``) driven without sockets: the
test answers each effect (W6 read/write/remove, REGISTER to the S-CSCF) itself.

TR 23.701 5.2.2.5.1 (block registration), 5.2.2.5.2 (WIC registration), 5.2.2.5.3
(origination), 5.2.2.5.4 steps 4-5 (termination).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import Any

import pytest

from reference.blocks import Allocation, WimpuBlock
from reference.nodes.p_cscf.flows import (
    STALE_RETRIES,
    BlockBinding,
    BlockCredentials,
    BlockRegistrationError,
    Fork,
    Onward,
    Registered,
    RegistrationPolicy,
    SendRegister,
    Trigger,
    W6Read,
    W6ReadByExternal,
    W6Remove,
    W6Write,
    block_registration_due,
    originate,
    register_block,
    register_wic,
    remove_other_bindings,
    terminate,
)
from reference.nodes.wimpu_registrar.client import RegistrarRejected, RegistrarUnavailable
from reference.nodes.wimpu_registrar.model import AllocatedBy, Contact, Entry, Outcome
from reference.sip.digest import digest_response, parse_auth_params
from reference.sip.identity import WildcardImpu
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
BLOCK_A = WimpuBlock(WildcardImpu.parse("sip:wrtc-!.*!@block1.ims.example.net"), Allocation.THIRD_PARTY)
BLOCK_B = WimpuBlock(
    WildcardImpu.parse("sip:wrtc-!.*!@block2.ims.example.net"), Allocation.EP_CSCF, ("enterprise.com",)
)
BOB_IMPU = BLOCK_B.allocate(BOB)
POLICY = RegistrationPolicy(ep_cscf="sip:ep-cscf1.ims.example.net", min_expires=60, max_expires=3600)
FLOW = "ep-cscf1.flow1"
INSTANCE = "urn:uuid:00000000-0000-0000-0000-000000000001"
T0 = 1_750_000_000.0

Answer = Callable[[object], Any]


def drive(flow: Generator[Any, Any, Any], answer: Answer) -> tuple[Any, list[object]]:
    """Run ``flow`` to its end, answering each effect with ``answer`` (which may raise:
    the exception is thrown into the flow, as the service's I/O would)."""
    effects: list[object] = []
    send: Callable[[], Any] = lambda: next(flow)  # noqa: E731
    while True:
        try:
            effect = send()
        except StopIteration as stop:
            return stop.value, effects
        effects.append(effect)
        try:
            result = answer(effect)
        except Exception as exc:  # noqa: BLE001 - handed to the flow
            send = lambda exc=exc: flow.throw(exc)  # noqa: E731
        else:
            send = lambda result=result: flow.send(result)  # noqa: E731


def request(start: str, *headers: str) -> Request:
    method, uri = start.split()
    lines = [
        f"{method} {uri} SIP/2.0",
        "Via: SIP/2.0/WSS wic.invalid;branch=z9hG4bK1",
        "Max-Forwards: 70",
        "Call-ID: call-1",
        f"CSeq: 1 {method}",
        *headers,
    ]
    parsed = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(parsed, Request)
    return parsed


def response(status: int, reason: str, *headers: str) -> Response:
    lines = [f"SIP/2.0 {status} {reason}", "Via: SIP/2.0/TCP ep.invalid;branch=z9hG4bK2", "Call-ID: r",
             "From: <sip:b@x>;tag=1", "To: <sip:b@x>;tag=2", "CSeq: 1 REGISTER", *headers]  # fmt: skip
    parsed = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(parsed, Response)
    return parsed


OUTBOUND = f'<sip:c1@wic.invalid;transport=ws>;+sip.instance="<{INSTANCE}>";reg-id=1'


def wic_register(identity: str, contact: str = OUTBOUND, *extra: str) -> Request:
    return request(
        f"REGISTER sip:{identity.partition('@')[2]}",
        f"From: <{identity}>;tag=w1",
        f"To: <{identity}>",
        f"Contact: {contact}",
        *extra,
    )


def entry(impu: str, *contacts: tuple[str, str, float], external: str | None = None) -> Entry:
    """An entry as the registrar answers it: (contact id, flow, expires_at) per contact."""
    return Entry(
        impu=impu,
        wimpu=str(BLOCK_B.wimpu if external else BLOCK_A.wimpu),
        external_identity=external,
        allocated_by=AllocatedBy.EP_CSCF if external else AllocatedBy.THIRD_PARTY,
        contacts=tuple(
            Contact(cid, f"sip:old{i}@wic.invalid;transport=ws", flow, None, None, (), POLICY.ep_cscf,
                    expires_at=at)
            for i, (cid, flow, at) in enumerate(contacts)
        ),
    )  # fmt: skip


def registrar(stored: dict[str, Entry], *, now: float = T0) -> Answer:
    """W6 answered from ``stored`` (IMPU -> entry), as the wIMPU Registrar would."""

    def answer(effect: object) -> Any:
        if isinstance(effect, W6Read):
            return stored.get(effect.impu)
        if isinstance(effect, W6ReadByExternal):
            return next((e for e in stored.values() if e.external_identity == effect.external_identity), None)
        if isinstance(effect, W6Write):
            w = effect.write
            old = stored.get(effect.impu)
            others = tuple(c for c in old.contacts if c.contact_id != w.contact.contact_id) if old else ()
            c = w.contact
            mine = Contact(c.contact_id, c.uri, c.flow, c.instance_id, c.reg_id, c.path, c.ep_cscf,
                           now + c.expires)  # fmt: skip
            contacts = (*others, mine)
            stored[effect.impu] = Entry(effect.impu, w.wimpu, w.external_identity, w.allocated_by, contacts)
            if old is None:
                return Outcome.NEW_REGISTRATION, stored[effect.impu]
            same = len(others) < len(old.contacts)
            return (Outcome.RE_REGISTRATION if same else Outcome.NEW_CONTACT), stored[effect.impu]
        if isinstance(effect, W6Remove):
            stored.pop(effect.impu, None)
            return None
        if isinstance(effect, Registered):
            return None
        raise AssertionError(f"unexpected effect {effect!r}")

    return answer


Run = tuple[Any, list[object]]


def register(req: Request, identity: str, block: WimpuBlock, stored: dict[str, Entry]) -> Run:
    flow = register_wic(req, identity=identity, block=block, flow=FLOW, path=(), policy=POLICY, to_tag="t1")
    return drive(flow, registrar(stored))


# ----- WIC registration (5.2.2.5.2) ------------------------------------------------------------


def test_option_a_new_registration_is_read_written_and_answered_200() -> None:
    stored: dict[str, Entry] = {}
    final, effects = register(wic_register(ALICE), ALICE, BLOCK_A, stored)
    read, write, registered = effects
    assert read == W6Read(ALICE)  # step 5
    assert isinstance(write, W6Write) and write.impu == ALICE  # step 6
    assert write.write.allocated_by is AllocatedBy.THIRD_PARTY and write.write.external_identity is None
    assert write.write.contact.flow == FLOW and write.write.contact.expires == 600
    assert (write.write.contact.instance_id, write.write.contact.reg_id) == (INSTANCE, 1)
    assert write.contact_id == f"{INSTANCE}#1"
    assert registered == Registered(ALICE, None, Outcome.NEW_REGISTRATION, f"{INSTANCE}#1", 600)
    assert final.status == 200  # step 7
    assert final.get("P-Associated-URI") == f"<{ALICE}>"
    assert final.get_all("Contact") == [
        f'<sip:c1@wic.invalid;transport=ws>;expires=600;+sip.instance="<{INSTANCE}>";reg-id=1'
    ]
    assert final.get("Require") == "outbound"  # RFC 5626 6: the flow is the registrar's outbound flow


def test_the_200_ok_lists_every_live_contact_with_its_remaining_time() -> None:
    """RFC 3261 10.3 step 8, counted on the registrar's clock (the written contact's interval)."""
    stored = {ALICE: entry(ALICE, ("sip:c2@wic.invalid", "ep-cscf1.flow0", T0 + 99.5))}
    final, effects = register(wic_register(ALICE, "<sip:c1@wic.invalid;transport=ws>;expires=300"), ALICE,
                              BLOCK_A, stored)  # fmt: skip
    assert isinstance(effects[2], Registered) and effects[2].outcome is Outcome.NEW_CONTACT
    assert final.get_all("Contact") == [
        "<sip:old0@wic.invalid;transport=ws>;expires=100",
        "<sip:c1@wic.invalid;transport=ws>;expires=300",
    ]
    assert final.get("Require") is None  # no instance and reg-id: RFC 3261 alone, no outbound


def test_option_b_allocates_an_impu_and_tells_the_wic_only_its_external_identity() -> None:
    stored: dict[str, Entry] = {}
    final, effects = register(wic_register(BOB), BOB, BLOCK_B, stored)
    assert effects[0] == W6ReadByExternal(BOB)
    write = effects[1]
    assert isinstance(write, W6Write) and write.impu == BOB_IMPU
    assert write.write.allocated_by is AllocatedBy.EP_CSCF and write.write.external_identity == BOB
    assert final.status == 200 and final.get("P-Associated-URI") == f"<{BOB}>"  # 5.2.2.1
    assert BOB_IMPU not in str(final.get_all("Contact"))


def test_option_b_keeps_the_impu_already_bound_to_the_external_identity() -> None:
    bound = "sip:wrtc-earlier@block2.ims.example.net"
    stored = {bound: entry(bound, ("x#1", "ep-cscf1.flow0", T0 + 50), external=BOB)}
    _, effects = register(wic_register(BOB), BOB, BLOCK_B, stored)
    assert isinstance(effects[1], W6Write) and effects[1].impu == bound


def test_expires_zero_deregisters_the_contact() -> None:
    stored = {ALICE: entry(ALICE, (f"{INSTANCE}#1", FLOW, T0 + 50))}
    contact = f'<sip:c1@wic.invalid;transport=ws>;+sip.instance="<{INSTANCE}>";reg-id=1;expires=0'
    final, effects = register(wic_register(ALICE, contact), ALICE, BLOCK_A, stored)
    assert effects == [W6Read(ALICE), W6Remove(ALICE, f"{INSTANCE}#1")]
    assert final.status == 200 and stored == {}


def test_deregistering_what_is_not_registered_writes_nothing() -> None:
    final, effects = register(wic_register(ALICE, "<sip:c1@wic.invalid>", "Expires: 0"), ALICE, BLOCK_A, {})
    assert effects == [W6Read(ALICE)] and final.status == 200


@pytest.mark.parametrize("zero", ["0", "00"])  # RFC 3261 20.19: delta-seconds
def test_contact_star_removes_every_binding_of_the_external_identity(zero: str) -> None:
    stored = {BOB_IMPU: entry(BOB_IMPU, ("a#1", FLOW, T0 + 50), external=BOB)}
    final, effects = register(wic_register(BOB, "*", f"Expires: {zero}"), BOB, BLOCK_B, stored)
    assert effects == [W6ReadByExternal(BOB), W6Remove(BOB_IMPU, None)] and final.status == 200


@pytest.mark.parametrize(
    ("contact", "extra", "status"),
    [
        ("*", (), 400),  # RFC 3261 10.3 step 6: "*" only with Expires: 0
        ("<sip:c1@wic.invalid>, <sip:c2@wic.invalid>", (), 400),  # one Contact per WIC REGISTER
        ('<sip:c1@wic.invalid>;+sip.instance="<http://x>";reg-id=1', (), 400),  # RFC 5626 4.1
    ],
)
def test_a_malformed_register_is_refused_before_any_registrar_query(
    contact: str, extra: tuple[str, ...], status: int
) -> None:
    final, effects = register(wic_register(ALICE, contact, *extra), ALICE, BLOCK_A, {})
    assert final.status == status and effects == []


def test_too_brief_an_interval_is_423_with_min_expires_and_stores_nothing() -> None:
    final, effects = register(wic_register(ALICE, "<sip:c1@wic.invalid>;expires=10"), ALICE, BLOCK_A, {})
    assert final.status == 423 and final.get("Min-Expires") == "60"
    assert effects == [W6Read(ALICE)]


def test_too_long_an_interval_is_cut_to_the_maximum() -> None:
    _, effects = register(wic_register(ALICE, "<sip:c1@wic.invalid>;expires=99999"), ALICE, BLOCK_A, {})
    assert isinstance(effects[1], W6Write) and effects[1].write.contact.expires == 3600


@pytest.mark.parametrize("fault", [RegistrarUnavailable("down"), RegistrarRejected(409, "bound elsewhere")])
def test_a_registrar_fault_ends_the_flow_with_that_fault_and_nothing_registered(fault: Exception) -> None:
    """The service answers 503 (unavailable) or 403/500 (refused) from the fault."""

    def failing(effect: object) -> Any:
        if isinstance(effect, W6Write):
            raise fault
        return registrar({})(effect)

    flow = register_wic(wic_register(ALICE), identity=ALICE, block=BLOCK_A, flow=FLOW, path=(), policy=POLICY,
                        to_tag="t1")  # fmt: skip
    with pytest.raises(type(fault)):
        drive(flow, failing)


# ----- origination (5.2.2.5.3) ---------------------------------------------------------------

ROUTE = ("<sip:orig@scscf.ims.example.net;lr>",)


def invite(identity: str, *extra: str) -> Request:
    return request(
        "INVITE sip:carol@remote.example.org",
        f"From: <{identity}>;tag=f1",
        "To: <sip:carol@remote.example.org>",
        "Authorization: Bearer abc.def.ghi",
        "Route: <sip:elsewhere.example.com;lr>",
        *extra,
    )


def orig(req: Request, block: WimpuBlock, registered: frozenset[str], answer: Answer) -> Run:
    flow = originate(req, block=block, flow=FLOW, registered=registered, service_route=ROUTE, to_tag="t1")
    return drive(flow, answer)


def no_registrar(effect: object) -> Any:
    raise AssertionError(f"option A origination queried the registrar: {effect!r}")


def test_option_a_origination_asserts_the_registered_impu_on_the_service_route() -> None:
    result, effects = orig(invite(ALICE, f"P-Preferred-Identity: <{ALICE}>"), BLOCK_A, frozenset({ALICE}),
                           no_registrar)  # fmt: skip
    assert effects == [] and isinstance(result, Onward)
    onward = result.request
    assert onward.get("P-Asserted-Identity") == f"<{ALICE}>"
    assert onward.get("P-Preferred-Identity") is None and onward.get("Authorization") is None
    assert onward.get_all("Route") == list(ROUTE)  # step 3: the WIC's own Route set is gone


@pytest.mark.parametrize(
    ("identity", "extra"),
    [
        ("sip:wrtc-mallory@block1.ims.example.net", ()),  # step 1: not registered over this flow
        (ALICE, ("P-Preferred-Identity: <sip:wrtc-other@block1.ims.example.net>",)),
    ],
)
def test_option_a_origination_with_an_unregistered_identity_is_403(
    identity: str, extra: tuple[str, ...]
) -> None:
    result, effects = orig(invite(identity, *extra), BLOCK_A, frozenset({ALICE}), no_registrar)
    assert isinstance(result, Response) and result.status == 403 and effects == []


def test_option_b_origination_asserts_the_allocated_impu_and_keeps_from() -> None:
    """Step 2: the registration context is retrieved; the From field is not touched."""
    stored = {BOB_IMPU: entry(BOB_IMPU, ("a#1", FLOW, T0 + 50), external=BOB)}
    req = invite(BOB)
    result, effects = orig(req, BLOCK_B, frozenset(), registrar(stored))
    assert effects == [W6ReadByExternal(BOB)] and isinstance(result, Onward)
    assert result.request.get("P-Asserted-Identity") == f"<{BOB_IMPU}>"
    assert result.request.get("From") == req.get("From")


@pytest.mark.parametrize(
    "stored",
    [{}, {BOB_IMPU: entry(BOB_IMPU, ("a#1", "ep-cscf1.other-flow", T0 + 50), external=BOB)}],
    ids=["not registered", "registered over another flow"],
)
def test_option_b_origination_not_registered_over_this_flow_is_403(stored: dict[str, Entry]) -> None:
    result, _ = orig(invite(BOB), BLOCK_B, frozenset(), registrar(stored))
    assert isinstance(result, Response) and result.status == 403


def test_option_b_origination_with_the_registrar_down_fails_with_the_fault() -> None:
    def down(effect: object) -> Any:
        raise RegistrarUnavailable("down")

    with pytest.raises(RegistrarUnavailable):
        orig(invite(BOB), BLOCK_B, frozenset(), down)


# ----- termination (5.2.2.5.4 steps 4-5) ---------------------------------------------------------


def incoming(called: str, *extra: str) -> Request:
    return request(
        f"INVITE {called}",
        "From: <sip:carol@remote.example.org>;tag=c1",
        f"To: <{called}>",
        f"P-Called-Party-ID: <{called}>",
        "P-Profile-Key: <sip:wrtc-!.*!@block1.ims.example.net>",
        *extra,
    )


def test_termination_forks_to_every_contact_of_the_called_impu() -> None:
    stored = {ALICE: entry(ALICE, ("a#1", "f1", T0 + 50), ("b#1", "f2", T0 + 50))}
    result, effects = drive(terminate(incoming(ALICE), to_tag="t1"), registrar(stored))
    assert effects == [W6Read(ALICE)]  # step 4
    assert isinstance(result, Fork)  # step 5
    assert [flow for _, flow in result.contacts] == ["f1", "f2"]
    assert result.request.get("P-Profile-Key") is None


def test_option_b_termination_calls_the_wic_by_its_external_identity() -> None:
    stored = {BOB_IMPU: entry(BOB_IMPU, ("a#1", "f1", T0 + 50), external=BOB)}
    result, _ = drive(terminate(incoming(BOB_IMPU), to_tag="t1"), registrar(stored))
    assert isinstance(result, Fork) and result.request.get("P-Called-Party-ID") == f"<{BOB}>"


def test_termination_to_an_unregistered_impu_is_480() -> None:
    result, _ = drive(terminate(incoming(ALICE), to_tag="t1"), registrar({}))
    assert isinstance(result, Response) and result.status == 480


# ----- block registration (5.2.2.5.1) ------------------------------------------------------------

CREDS = BlockCredentials(
    wimpu=str(BLOCK_A.wimpu), representative="sip:block1@wrtc.ims.example.net", impi="block1@ims.example.net",
    password="block1-secret", registrar="sip:ims.example.net", option=2, expires=600,
)  # fmt: skip
CHALLENGE = 'Digest realm="ims.example.net", nonce="n0nce", algorithm=MD5, qop="auth", opaque="op"'
OWN = "<sip:block1@127.0.0.1:5070;transport=tcp>"


def binding() -> BlockBinding:
    return BlockBinding(
        CREDS, contact_user="block1", host="127.0.0.1", port=5070, call_id="c@h", from_tag="ft"
    )


def s_cscf(*answers: Response) -> tuple[Answer, list[Request]]:
    """An S-CSCF answering each REGISTER with the next of ``answers``."""
    sent: list[Request] = []
    queue = list(answers)

    def answer(effect: object) -> Any:
        assert isinstance(effect, SendRegister)
        sent.append(effect.request)
        return queue.pop(0)

    return answer, sent


def ok(*contacts: str) -> Response:
    return response(200, "OK", *(f"Contact: {c}" for c in contacts),
                    "Service-Route: <sip:orig@scscf.ims.example.net;lr>",
                    "P-Associated-URI: <sip:block1@wrtc.ims.example.net>")  # fmt: skip


def test_block_registration_answers_the_digest_challenge_and_keeps_the_service_route() -> None:
    reg = binding()
    challenge = response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}")
    answer, sent = s_cscf(challenge, ok(f"{OWN};expires=300"))
    (final, granted), _ = drive(register_block(reg, cnonce="cn0nce"), answer)
    assert (final.status, granted) == (200, 300)
    first, second = sent
    assert first.get("Authorization") is None
    assert first.get("To") == "<sip:block1@wrtc.ims.example.net>" and first.get("Path") == reg.path
    assert first.get("Contact") == f"{OWN};expires=600"
    assert (first.call_id, second.call_id) == ("c@h", "c@h")
    assert [r.get("CSeq") for r in sent] == ["1 REGISTER", "2 REGISTER"]  # RFC 3261 10.2
    params = parse_auth_params((second.get("Authorization") or "").partition(" ")[2])
    expected = digest_response("MD5", username=CREDS.impi, realm="ims.example.net", password=CREDS.password,
                               method="REGISTER", uri=CREDS.registrar, nonce="n0nce", qop="auth",
                               nc="00000001", cnonce="cn0nce")  # fmt: skip
    assert params["response"] == expected and params["opaque"] == "op"
    assert reg.registered and reg.service_route == ("<sip:orig@scscf.ims.example.net;lr>",)
    assert reg.associated == ("sip:block1@wrtc.ims.example.net",)


def test_the_granted_interval_is_read_from_this_eP_CSCFs_own_contact_only() -> None:
    """RFC 3261 10.2.4: another binding whose URI is a prefix of this one's (port 5070 and
    50701) does not give its interval to ours."""
    reg = dataclasses.replace(binding(), port=50701)
    answer, _ = s_cscf(ok("<sip:block1@127.0.0.1:5070>;expires=30", f"{reg.contact};expires=300"))
    (_, granted), _ = drive(register_block(reg, cnonce="x"), answer)
    assert granted == 300


def test_a_refresh_without_challenge_is_one_register() -> None:
    reg = binding()
    answer, sent = s_cscf(ok())
    (_, granted), _ = drive(register_block(reg, cnonce="x"), answer)
    assert len(sent) == 1 and granted == 600  # no expires in the answer: the interval asked


def test_deregistering_the_block_forgets_its_service_route() -> None:
    reg = binding()
    drive(register_block(reg, cnonce="x"), s_cscf(ok())[0])
    answer, sent = s_cscf(ok())
    (_, granted), _ = drive(register_block(reg, expires=0, cnonce="x"), answer)
    assert granted == 0 and not reg.registered and reg.service_route == ()
    assert sent[0].get("Expires") == "0"


@pytest.mark.parametrize("stale", [1, STALE_RETRIES])
def test_credentials_found_stale_are_answered_again_with_the_new_nonce(stale: int) -> None:
    """RFC 7616 3.3: a 401 with ``stale=true`` to the answered challenge (the nonce went stale
    between the 401 and the answer: a tester's clock jump did it once, out of process) is answered
    with the new nonce, up to STALE_RETRIES times; the block is then registered."""
    reg = binding()
    stale_challenge = response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}, stale=TRUE")
    challenge = response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}")
    answer, sent = s_cscf(challenge, *[stale_challenge] * stale, ok(f"{OWN};expires=300"))
    (final, granted), _ = drive(register_block(reg, cnonce="x"), answer)
    assert (final.status, granted, reg.registered) == (200, 300, True)
    assert len(sent) == 2 + stale and all(r.get("Authorization") for r in sent[1:])


def test_credentials_found_stale_too_often_end_the_attempt() -> None:
    reg = binding()
    stale_challenge = response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}, stale=true")
    challenge = response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}")
    answer, sent = s_cscf(challenge, *[stale_challenge] * (STALE_RETRIES + 1))
    with pytest.raises(BlockRegistrationError, match="401"):
        drive(register_block(reg, cnonce="x"), answer)
    assert len(sent) == STALE_RETRIES + 2 and not reg.registered


@pytest.mark.parametrize(
    "answers",
    [
        (response(403, "Forbidden"),),
        (response(401, "Unauthorized", f"WWW-Authenticate: {CHALLENGE}"), response(401, "Unauthorized")),
        (response(401, "Unauthorized", 'WWW-Authenticate: Bearer realm="x"'),),
        (response(408, "Request Timeout"),),  # no answer from the S-CSCF
    ],
    ids=["refused", "wrong password", "not digest", "timeout"],
)
def test_a_refused_block_registration_raises_and_leaves_the_block_unregistered(
    answers: tuple[Response, ...],
) -> None:
    reg = binding()
    reg.registered = True  # a refresh that fails
    with pytest.raises(BlockRegistrationError):
        drive(register_block(reg, cnonce="x"), s_cscf(*answers)[0])
    assert not reg.registered


def test_the_other_eP_CSCFs_bindings_are_removed_and_not_our_own() -> None:
    """5.2.2.2 after a take-over; RFC 3261 10.2.2."""
    reg = binding()
    other = "<sip:block1@10.0.0.9:5060;transport=tcp>"
    answer, sent = s_cscf(ok())
    removed, _ = drive(remove_other_bindings(reg, ok(OWN, other), cnonce="x"), answer)
    assert removed == [other]
    assert sent[0].get_all("Contact") == [f"{other};expires=0"] and sent[0].get("Expires") == "0"


def test_nothing_to_remove_sends_nothing() -> None:
    removed, effects = drive(remove_other_bindings(binding(), ok(OWN), cnonce="x"), s_cscf()[0])
    assert removed == [] and effects == []


def test_a_refused_removal_raises() -> None:
    answer, _ = s_cscf(response(500, "Server Internal Error"))
    with pytest.raises(BlockRegistrationError):
        drive(remove_other_bindings(binding(), ok(OWN, "<sip:x@10.0.0.9>"), cnonce="x"), answer)


@pytest.mark.parametrize(
    ("option", "trigger", "registered", "due"),
    [
        (1, Trigger.START, False, True),  # option 1: upon initialisation
        (2, Trigger.START, False, False),  # option 2: not before a WIC registers
        (2, Trigger.WIC_REGISTRATION, False, True),  # option 2: upon the first WIC registration
        (2, Trigger.WIC_REGISTRATION, True, False),  # ... only the first
        (1, Trigger.WIC_REGISTRATION, False, True),  # option 1 whose start-up registration failed
        (2, Trigger.TAKE_OVER, True, True),  # 5.2.2.2: re-allocated from a failed eP-CSCF
    ],
)
def test_when_a_block_is_registered(option: int, trigger: Trigger, registered: bool, due: bool) -> None:
    assert block_registration_due(option, trigger, registered) is due


def test_block_credentials_hide_the_password() -> None:
    assert "block1-secret" not in repr(dataclasses.replace(CREDS))
