"""Attacks on the eP-CSCF through its WebSocket and its core-side SIP port (issue 13, items 1, 3, 5).

Each family counts attempted / rejected / wrongly accepted / unanswered
(``tally.Family``) and asserts zero wrongly accepted and zero unanswered. An attack is
"accepted" when the message it carries reaches a party it must not reach (the remote
party, another WIC) or reaches it with the attacker's choice of identity or route; it
is "unanswered" when no final response comes within the WIC's timeout. After each
family a legitimate WIC still registers and is reached.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from tally import Family

from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, web_login
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Header, Request, Response
from reference.sip.transaction import make_response
from reference.stack import Stack
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
REMOTE = "sip:dave@remote.example.org"
SCSCF_ORIG = "<sip:orig@scscf.ims.example.net;lr>"




async def open_wic(stack: Stack, user: str, name: str, *, register: bool = True) -> Wic:
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, user, f"{user}-password", ctx)
    wic = Wic(name, ssl_context=ctx, timeout=3.0)
    wic.answer_mode = "answer"
    await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    if register:
        response = await wic.register(login.identity, token=login.token)
        assert response.status == 200, response.start_line()
    return wic


def icscf(stack: Stack) -> Target:
    return Target("TCP", stack.config.host, stack.icscf.node.port)


def ep_core(stack: Stack, name: str = "ep-cscf1") -> Target:
    node = stack.ep_cscfs[name].pcscf.node
    return Target("TCP", node.host, node.port)


def wic_request(
    wic: Wic,
    method: str,
    uri: str,
    *,
    to_tag: str | None,
    extra: tuple[str, ...] = (),
    call_id: str | None = None,
    identity: str = ALICE,
    max_forwards: int = 70,
) -> Request:
    """A request in the JsSIP shape, with the headers an attacker chooses."""
    wic.cseq += 1
    to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/WSS {wic.host};branch=z9hG4bK{secrets.token_hex(8)}",
        f"Max-Forwards: {max_forwards}", f"To: {to}", f"From: <{identity}>;tag={secrets.token_hex(5)}",
        f"Call-ID: {call_id or secrets.token_hex(8) + '@' + wic.host}", f"CSeq: {wic.cseq} {method}",
        *extra, "Content-Length: 0",
    ]  # fmt: skip
    message = frame_websocket_message("\r\n".join(lines) + "\r\n\r\n")
    assert isinstance(message, Request)
    return message


async def answer_of(wic: Wic, request: Request) -> Response | None:
    try:
        return await wic.request(request)
    except TimeoutError:
        return None


async def settle() -> None:
    """Give a wrongly relayed message time to arrive before counting what arrived."""
    await asyncio.sleep(0.3)


async def established_call(stack: Stack, remote: RemoteParty, callee: Wic) -> Request:
    """The remote party calls alice and alice answers: the INVITE alice's WIC received."""
    final = await remote.call(ALICE, icscf(stack))
    assert final.status == 200, final.start_line()
    return callee.answered_invites()[-1]


async def still_served(stack: Stack, remote: RemoteParty, family: Family) -> None:
    """After a family: a legitimate WIC registers and is reached; nothing pending is left."""
    wic = await open_wic(stack, "alice", f"alice-after-{family.name[:12]}")
    final = await remote.call(ALICE, icscf(stack))
    assert final.status == 200, f"{family.name}: alice no longer reached ({final.start_line()})"
    await wic.close()
    for ep in stack.ep_cscfs.values():
        pending = [tx for tx in ep.pcscf.node.layer.servers.values() if tx.final_response is None]
        assert not pending, f"{family.name}: {len(pending)} server transactions never answered"


async def test_in_dialog_requests_from_a_websocket_that_never_registered(
    stack: Stack, remote: RemoteParty
) -> None:
    family = Family("in-dialog requests from an unregistered WebSocket")
    alice = await open_wic(stack, "alice", "alice")
    invite = await established_call(stack, remote, alice)
    alice_route = invite.get_all("Record-Route")[0]  # ours, naming alice's flow
    token = alice_route.partition("sip:")[2].partition("@")[0]
    guessed = f"<sip:{token.rpartition('.')[0]}.{secrets.token_hex(16)}@{alice_route.partition('@')[2]}"
    old_style = f"<sip:ep-cscf1.1@{alice_route.partition('@')[2]}"
    mallory = await open_wic(stack, "alice", "mallory", register=False)
    remote_addr = f"sip:dave@{remote.node.host}:{remote.node.port};transport=tcp"
    attacks = {
        "MESSAGE to the S-CSCF's orig Route with a forged P-Asserted-Identity": wic_request(
            mallory, "MESSAGE", REMOTE, to_tag="x1",
            extra=(f"Route: {SCSCF_ORIG}", f"P-Asserted-Identity: <{ALICE}>"),
        ),
        "BYE on alice's Record-Route and Call-ID": wic_request(
            mallory, "BYE", f"sip:{alice.contact_user}@{alice.host};transport=ws", to_tag=invite.from_.tag,
            call_id=invite.call_id, extra=(f"Route: {alice_route}",),
        ),
        "BYE on a guessed flow token": wic_request(
            mallory, "BYE", "sip:x@invalid", to_tag="x2", call_id=invite.call_id, extra=(f"Route: {guessed}",)
        ),
        "BYE on an old-style sequential flow token": wic_request(
            mallory, "BYE", "sip:x@invalid", to_tag="x3", call_id=invite.call_id,
            extra=(f"Route: {old_style}",),
        ),
        "MESSAGE to the remote party's address in the Request-URI": wic_request(
            mallory, "MESSAGE", remote_addr, to_tag="x4"
        ),
        **{
            f"{m} without a To tag": wic_request(
                mallory, m, REMOTE, to_tag=None, extra=(f"Route: {SCSCF_ORIG}",)
            )
            for m in ("BYE", "UPDATE", "INFO", "PRACK")
        },
        "INVITE from an identity never registered": wic_request(mallory, "INVITE", REMOTE, to_tag=None),
    }  # fmt: skip
    for label, request in attacks.items():
        before_remote, before_alice = len(remote.received), len(alice.incoming)
        response = await answer_of(mallory, request)
        await settle()
        leaked = len(remote.received) > before_remote or len(alice.incoming) > before_alice
        family.judge(label, refused=None if response is None else (response.status >= 400 and not leaked))
    await mallory.close()
    await alice.close()
    await still_served(stack, remote, family)
    family.assert_clean()


async def test_a_registered_wic_cannot_spoof_its_identity_or_steer_its_requests(
    stack: Stack, remote: RemoteParty
) -> None:
    family = Family("identity spoofing and route steering by a registered WIC")
    alice = await open_wic(stack, "alice", "alice")
    other = await open_wic(stack, "alice", "alice-2")  # a second WIC of the same user
    invite = await established_call(stack, remote, alice)
    routes = invite.get_all("Record-Route")
    direct = f"<sip:{remote.node.host}:{remote.node.port};transport=tcp;lr>"

    # Initial requests: the P-Asserted-Identity is the eP-CSCF's, the Route its Service-Route.
    spoof = wic_request(alice, "MESSAGE", REMOTE, to_tag=None, extra=(f"P-Asserted-Identity: <{BOB}>",))
    steer = wic_request(alice, "MESSAGE", REMOTE, to_tag=None, extra=(f"Route: {direct}",))
    for label, request in (("MESSAGE with a forged P-Asserted-Identity", spoof),
                           ("MESSAGE with a preloaded Route to the remote party", steer)):  # fmt: skip
        before = len(remote.received)
        response = await answer_of(alice, request)
        await settle()
        arrived = [r for r in remote.received[before:] if r.call_id == request.call_id]
        if response is None:
            family.no_answer(label)
            continue
        bad = [r for r in arrived if r.addresses("P-Asserted-Identity")[0].uri != ALICE
               or not any(f":{stack.scscf.node.port}" in v for v in r.get_all("Via"))]  # fmt: skip
        family.judge(label, refused=not bad)

    # In-dialog: alice's dialog with a forged identity, with a route set of her choosing,
    # and another WIC of the same user on alice's dialog.
    target = f"sip:dave@{remote.node.host}:{remote.node.port};transport=tcp"
    in_dialog = {
        "INFO on her dialog with a forged P-Asserted-Identity": (alice, wic_request(
            alice, "INFO", target, to_tag=invite.from_.tag, call_id=invite.call_id,
            extra=(*(f"Route: {r}" for r in routes), f"P-Asserted-Identity: <{BOB}>"),
        )),
        "INFO on her dialog skipping the S-CSCF": (alice, wic_request(
            alice, "INFO", target, to_tag=invite.from_.tag, call_id=invite.call_id,
            extra=(f"Route: {routes[0]}", f"Route: {direct}"),
        )),
        "INFO on her dialog from another WebSocket of the same user": (other, wic_request(
            other, "INFO", target, to_tag=invite.from_.tag, call_id=invite.call_id,
            extra=tuple(f"Route: {r}" for r in routes),
        )),
    }  # fmt: skip
    for label, (wic, request) in in_dialog.items():
        before = len(remote.received)
        response = await answer_of(wic, request)
        await settle()
        arrived = [r for r in remote.received[before:] if r.method == "INFO"]
        if response is None:
            family.no_answer(label)
        elif "forged" in label:  # relayed, with the identity the eP-CSCF asserts
            asserted = {r.addresses("P-Asserted-Identity")[0].uri for r in arrived}
            family.judge(label, refused=response.status == 200 and asserted == {ALICE})
        else:
            family.judge(label, refused=response.status >= 400 and not arrived)
    await alice.close()
    await other.close()
    await still_served(stack, remote, family)
    family.assert_clean()


async def test_a_wic_cannot_assert_an_identity_in_its_responses(stack: Stack, remote: RemoteParty) -> None:
    """RFC 3325 9.1 for responses: the 200 of the called WIC reaches the caller with the
    identity the eP-CSCF asserts (the called IMPU), never with one the WIC wrote."""
    family = Family("identity asserted in a response of the WIC")
    alice = await open_wic(stack, "alice", "alice")
    alice.answer_mode = "ring"
    for claim in (BOB, "sip:wrtc-mallory@block1.ims.example.net", "tel:+15550100"):
        seen = len(alice.answered_invites())
        call = asyncio.ensure_future(remote.call(ALICE, icscf(stack)))
        await wait_until_async(lambda seen=seen: len(alice.answered_invites()) > seen, "the INVITE at alice")
        invite = alice.answered_invites()[-1]
        ok = make_response(invite, 200, to_tag=alice.tag)
        ok = ok.with_header("Contact", f"<sip:a@{alice.host};transport=ws>")
        ok = ok.with_header_set("Record-Route", *invite.get_all("Record-Route"))
        await alice.send(ok.with_header("P-Asserted-Identity", f"<{claim}>"))
        try:
            final = await asyncio.wait_for(call, 5)
        except TimeoutError:
            family.no_answer(claim)
            continue
        asserted = {a.uri for a in final.addresses("P-Asserted-Identity")}
        family.judge(f"200 asserting {claim}", refused=final.status == 200 and asserted == {ALICE})
    await alice.close()
    await still_served(stack, remote, family)
    family.assert_clean()


async def test_flow_tokens_from_the_core_side_give_no_oracle(stack: Stack, remote: RemoteParty) -> None:
    family = Family("flow token probing from the core side")
    alice = await open_wic(stack, "alice", "alice")
    invite = await established_call(stack, remote, alice)
    alice_route = invite.get_all("Record-Route")[0]
    host = alice_route.partition("@")[2]
    gone = await open_wic(stack, "alice", "gone")
    gone_invite = await established_call(stack, remote, gone)
    gone_route = gone_invite.get_all("Record-Route")[0]
    flows = stack.ep_cscfs["ep-cscf1"].iwf.listener.flows
    before = len(flows)
    await gone.close()
    await wait_until_async(lambda: len(flows) < before, "the IWF forgetting the closed WIC's flow")

    def bye(route: str, call_id: str) -> Request:
        headers = (
            Header("Via", f"{remote.node.via()};branch=z9hG4bK{secrets.token_hex(8)}"),
            Header("Max-Forwards", "70"), Header("To", f"<{ALICE}>;tag=a"),
            Header("From", f"<{REMOTE}>;tag=b"), Header("Call-ID", call_id), Header("CSeq", "9 BYE"),
            Header("Route", route), Header("Content-Length", "0"),
        )  # fmt: skip
        return Request(headers=headers, body=b"", method="BYE", uri="sip:x@invalid;transport=ws")

    probes = {
        "forged token": bye(f"<sip:ep-cscf1.7.{'0' * 32}@{host}", invite.call_id),
        "old-style sequential token": bye(f"<sip:ep-cscf1.7@{host}", invite.call_id),
        "token of a closed flow": bye(gone_route, gone_invite.call_id),
        "alice's live token on another Call-ID": bye(alice_route, f"{secrets.token_hex(6)}@x"),
        "no Route: to the eP-CSCF's own address (a loop before)": Request(
            headers=bye(alice_route, "loop@x").without_header("Route").headers, body=b"", method="BYE",
            uri=f"sip:x@{host.split(';')[0]};transport=tcp",
        ),
    }
    answers: dict[str, Response] = {}
    sent_before = len(remote.received)
    for label, request in probes.items():
        before = len(alice.incoming)
        try:
            answer = await asyncio.wait_for(remote.node.request(request, ep_core(stack)), 5)
        except TimeoutError:
            family.no_answer(label)
            continue
        answers[label] = answer
        await settle()
        family.judge(label, refused=answer.status >= 400 and len(alice.incoming) == before)
    # Forged, old-style and closed: one and the same answer (no oracle).
    same = {(answers[k].status, answers[k].reason) for k in probes if "token" in k and "live" not in k}
    assert len(same) == 1, f"a forged and a closed flow are told apart: {same}"
    assert len(remote.received) - sent_before < 5, "a probe was amplified"
    await alice.close()
    await still_served(stack, remote, family)
    family.assert_clean()


async def test_every_malformed_or_looping_request_is_answered(stack: Stack, remote: RemoteParty) -> None:
    family = Family("requests that used to go unanswered")
    alice = await open_wic(stack, "alice", "alice")
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", stack.pki.client_context())
    contact = f"<sip:{alice.contact_user}@{alice.host};transport=ws>"
    bad_registers = {
        "reg-id=abc": f'{contact};+sip.instance="<urn:uuid:{secrets.token_hex(4)}>";reg-id=abc',
        "reg-id=0": f'{contact};+sip.instance="<urn:uuid:{secrets.token_hex(4)}>";reg-id=0',
        "oversized +sip.instance": f'{contact};+sip.instance="<urn:uuid:{"a" * 400}>";reg-id=1',
        "+sip.instance that is not a URN": f'{contact};+sip.instance="<http://x>";reg-id=1',
        "oversized Contact URI": f"<sip:{'a' * 1100}@{alice.host};transport=ws>",
    }
    for label, value in bad_registers.items():
        request = alice.register_request(ALICE, token=login.token)
        request = request.with_header_set("Contact", value)
        response = await answer_of(alice, request)
        family.judge(label, refused=None if response is None else response.status == 400)
    for n in range(20):  # Max-Forwards 0 from the WIC: 483, many times, nothing left pending
        request = wic_request(alice, "MESSAGE", REMOTE, to_tag=None, max_forwards=0)
        response = await answer_of(alice, request)
        refused = None if response is None else response.status == 483
        family.judge(f"Max-Forwards 0 from the WIC #{n}", refused=refused)
    core = remote.invite_request(ALICE).with_header_set("Max-Forwards", "0")
    try:
        answer = await asyncio.wait_for(remote.node.request(core, icscf(stack)), 5)
        family.judge("Max-Forwards 0 from the core", refused=answer.status == 483)
    except TimeoutError:
        family.no_answer("Max-Forwards 0 from the core")
    await alice.close()
    await still_served(stack, remote, family)
    family.assert_clean()


async def test_a_websocket_reconnect_keeps_the_registration(stack: Stack, remote: RemoteParty) -> None:
    """RFC 5626 4.2.1/6: a new flow with the same +sip.instance and reg-id replaces the old
    one; closing the old flow afterwards removes nothing the new one holds (JsSIP does this)."""
    family = Family("WebSocket reconnect with the same instance and reg-id")
    first = await open_wic(stack, "alice", "ws-1")
    ctx = stack.pki.client_context()
    login = await web_login(stack.wwsf.origin, "alice", "alice-password", ctx)
    second = Wic("ws-2", ssl_context=ctx)
    second.answer_mode = "answer"
    second.instance, second.contact_user, second.host = first.instance, first.contact_user, first.host
    await second.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
    assert (await second.register(ALICE, token=login.token)).status == 200
    await first.close()
    await asyncio.sleep(0.5)  # absence: the close must not wipe the new flow's contact within this window
    entry = stack.registrar.store.read(ALICE, time.time())
    flows = [c.flow for c in entry.contacts] if entry else []
    family.judge("the old flow's close wipes the new flow's contact", refused=len(flows) == 1)
    final = await remote.call(ALICE, icscf(stack))
    reached = final.status == 200 and bool(second.answered_invites())
    family.judge("calls fail after the old flow closed", refused=reached)
    await second.close()
    await still_served(stack, remote, family)
    family.assert_clean()
