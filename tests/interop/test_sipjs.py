"""Interop: SIP.js 0.21, a second real WIC nobody here wrote, beside JsSIP (issue 17).

``interop/sipjs/wic.js`` drives SIP.js's own API in Node (UserAgent, Registerer, Inviter,
Invitation): web login at the WWSF (TR 23.701 5.2.2.5.2 step 1), WSS to the eP-CSCF with the
WWSF's Origin (step 2), ``Registerer.register()`` with ``Authorization: Bearer <token>`` as an
extra header (steps 3-7), and ``Registerer.unregister()`` (5.2.2.3.2). SIP.js sends no extra
header on its un-REGISTER, so that one carries no token: the solution profile accepts a
de-registration of a contact on the flow a token already authorised ("De-registration without
a token"); before, the binding stayed at the registrar. The registrar is observed only
through W6.

Then SIP.js as the called party of 5.2.2.5.4 with two instances of alice (the eP-CSCF forks,
the one that answers wins, the other gets CANCEL with ``Reason: SIP;cause=200``), and as the
calling party of 5.2.2.5.3 (the remote party gets alice's P-Asserted-Identity, never the
token). Node has no RTCPeerConnection: wic.js gives SIP.js a stand-in session description
handler (see interop/sipjs/README.md).

Node and ``interop/sipjs/node_modules`` are installed by ``scripts/install.sh``; CI runs it, so
their absence is a failure here, not a skip.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from node_wic import (
    ALICE,
    BEARER,
    BOB,
    DAVE,
    REMOTE_DOMAIN,
    NodeWic,
    RemoteCall,
    abridged,
    close_all,
    contact_uri,
    header,
    icscf,
)
from node_wic import status_of as status_of_text

from conformance.harness.expect import ABSENCE_WINDOW, EVENT_WAIT, wait_until_async
from conformance.harness.remote import RemoteParty
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.sip.message import Request, Response
from reference.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SIPJS_DIR = ROOT / "interop" / "sipjs"

TEST_TIMEOUT = 10 * EVENT_WAIT
"Longest run of one test (each wait in it is bounded by EVENT_WAIT); wic.js stops by itself after it."


class SipjsWic(NodeWic):
    """``node interop/sipjs/wic.js`` as a subprocess, followed through its JSON event lines."""

    package_dir = SIPJS_DIR
    packages = ("sip.js", "ws")
    wait = EVENT_WAIT
    timeout = TEST_TIMEOUT

    async def registered(self) -> dict[str, Any]:
        event = await self.expect("registered", "registrationFailed", what="(Registerer.register())")
        assert event["event"] == "registered", (
            f"{self.name}: expected registered, got {event}\n{self._context()}"
        )
        assert event["status"] == 200, event
        return event

    async def unregister(self) -> dict[str, Any]:
        """``Registerer.unregister()``: the outcome of the un-REGISTER SIP.js builds (the
        ``unregistered`` or ``unregistrationFailed`` event; :func:`_unregistered` checks it)."""
        self.command("unregister")
        return await self.expect("unregistered", "unregistrationFailed", what="(Registerer.unregister())")

    async def leave(self) -> int:
        """Stop an un-registered SIP.js (``UserAgent.stop()``): no REGISTER; its exit status."""
        self.command("stop")
        await self.expect("exit", unexpected=("unregistered", "unregistrationFailed"))
        return await asyncio.wait_for(self.proc.wait(), self.wait)


def _unregistered(wic: SipjsWic, event: dict[str, Any]) -> None:
    assert event["event"] == "unregistered" and event["status"] == 200, (
        f"{wic.name}: expected 200 to SIP.js's un-REGISTER, got {event}\n{wic._context()}"
    )


def _answer(offer: bytes) -> bytes:
    """An answer to ``offer``: each m-line with its first format, receive-only (no media flows)."""
    lines = [b"v=0", b"o=dave 2890844527 2 IN IP4 127.0.0.1", b"s=-", b"c=IN IP4 127.0.0.1", b"t=0 0"]
    for m in (ln for ln in offer.split(b"\r\n") if ln.startswith(b"m=")):
        media, _, proto, *formats = m[2:].split()
        lines += [b"m=" + b" ".join([media, b"49172", proto, formats[0] if formats else b"0"]), b"a=recvonly"]
    return b"\r\n".join(lines) + b"\r\n"


@pytest.fixture
async def w6(stack: Stack) -> AsyncIterator[RegistrarClient]:
    async with stack.observer() as client:
        yield client


@pytest.fixture
async def sipjs(stack: Stack) -> AsyncIterator[list[SipjsWic]]:
    """Every wic.js a test starts; killed at teardown, whatever the outcome."""
    started: list[SipjsWic] = []
    yield started
    await close_all(started)


@pytest.fixture
async def sdp_remote(stack: Stack) -> AsyncIterator[RemoteParty]:
    """The remote IMS party as ``remote`` is, answering SIP.js's offers (RFC 3264): SIP.js offers in
    its INVITE and hangs up on a 2xx without an answer."""
    party = RemoteParty(REMOTE_DOMAIN)
    party.answer_sdp = _answer
    await party.start()
    stack.resolver.add(REMOTE_DOMAIN, party.target)
    yield party
    await party.stop()


async def _start(sipjs: list[SipjsWic], stack: Stack, user: str, mode: str, name: str) -> SipjsWic:
    wic = await SipjsWic.start(stack, user, f"{user}-password", mode, name=name)
    sipjs.append(wic)
    return wic


# ----- registration and de-registration (5.2.2.5.2, 5.2.2.3.2) ---------------------------------


async def test_sipjs_option_a_registers_and_deregisters_without_a_token(
    stack: Stack, w6: RegistrarClient, sipjs: list[SipjsWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await _start(sipjs, stack, "alice", "register", "alice")
        login = await wic.expect("login")
        assert login["identity"] == ALICE, login
        assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf1"].wss_url, login
        registered = await wic.registered()
        assert registered["p_associated_uri"] == f"<{ALICE}>", registered

        [register] = wic.sent("REGISTER")
        assert header(register, "Authorization") == ["Bearer <token>"], (
            f"expected the token as SIP.js's extra header on its REGISTER:\n{register}"
        )
        [contact] = header(register, "Contact")
        entry = await w6.read(ALICE)
        assert entry is not None, "SIP.js got 200 but the registrar holds no entry for alice"
        assert entry.external_identity is None, entry
        [stored] = entry.contacts
        assert stored.uri == contact_uri(contact), f"expected SIP.js's contact {contact}, stored {stored}"
        assert stored.flow.startswith("ep-cscf1."), stored

        outcome = await wic.unregister()
        unregister = wic.sent("REGISTER")[-1]
        assert header(unregister, "Authorization") == [], (
            f"expected SIP.js's un-REGISTER without the token (extra headers are not resent):\n{unregister}"
        )
        assert header(unregister, "Contact") == [contact.replace(";expires=600", ";expires=0")], unregister
        # The finding: without a token, the eP-CSCF challenged the un-REGISTER and alice's binding
        # stayed until the WebSocket closed (solution profile, "De-registration without a token").
        entry = await w6.read(ALICE)
        assert entry is None, f"after SIP.js's un-REGISTER ({outcome}) the registrar still holds {entry}"
        _unregistered(wic, outcome)
        assert await wic.leave() == 0


async def test_sipjs_option_b_registers_its_external_identity_and_deregisters(
    stack: Stack, w6: RegistrarClient, sipjs: list[SipjsWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await _start(sipjs, stack, "bob", "register", "bob")
        login = await wic.expect("login")
        assert login["identity"] == BOB, login
        assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf2"].wss_url, login
        registered = await wic.registered()
        # 5.2.2.1 "IMS identities are only used within the IMS domain": the WIC sees only BOB.
        assert registered["p_associated_uri"] == f"<{BOB}>", registered

        entry = await w6.read_by_external(BOB)
        assert entry is not None, "SIP.js got 200 but the registrar holds no entry for its external identity"
        impu = entry.impu
        assert impu.startswith("sip:wrtc-") and impu.endswith("@block2.ims.example.net"), impu
        [stored] = entry.contacts
        [contact] = header(wic.sent("REGISTER")[0], "Contact")
        assert stored.uri == contact_uri(contact) and stored.flow.startswith("ep-cscf2."), stored

        outcome = await wic.unregister()
        assert header(wic.sent("REGISTER")[-1], "Authorization") == [], wic.sent("REGISTER")[-1]
        entry = await w6.read_by_external(BOB)
        assert entry is None, f"after SIP.js's un-REGISTER ({outcome}) the registrar still holds {entry}"
        assert await w6.read(impu) is None, f"the allocated IMPU {impu} outlived SIP.js's un-REGISTER"
        _unregistered(wic, outcome)
        assert await wic.leave() == 0


# ----- SIP.js called through the I-CSCF, forked to two instances (5.2.2.5.4) --------------------


def _check_invitation(wic: SipjsWic, event: dict[str, Any], called: str) -> None:
    assert event["from"] == DAVE, f"{wic.name}: From: expected {DAVE}, got {event['from']}"
    assert event["to"] == called, f"{wic.name}: To: expected {called}, got {event['to']}"
    assert event["has_sdp"], f"{wic.name}: the INVITE lost its SDP offer: {event}"


def _to_tag(message: str) -> str:
    found = re.search(r";tag=([^;\s>]+)", header(message, "To")[0])
    assert found is not None, f"no To tag in {abridged(message)}"
    return found.group(1)


async def test_sipjs_two_instances_of_alice_ring_the_one_that_answers_wins(
    stack: Stack, remote: RemoteParty, w6: RegistrarClient, sipjs: list[SipjsWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        ringer = await _start(sipjs, stack, "alice", "ring", "alice-1/rings")
        await ringer.registered()
        answerer = await _start(sipjs, stack, "alice", "ring", "alice-2/answers")
        await answerer.registered()
        entry = await w6.read(ALICE)
        assert entry is not None and len(entry.contacts) == 2, f"expected 2 contacts for alice, got {entry}"

        call = RemoteCall.place(remote, ALICE, icscf(stack))
        for wic in (ringer, answerer):  # both ring: SIP.js sends 180 before handing the Invitation over
            _check_invitation(wic, await wic.expect("invitation", what="(the forked INVITE)"), ALICE)
            assert [status_of_text(m) for m in wic.sent("SIP/2.0 180")] == [(180, "INVITE")], wic.trace()

        answerer.command("answer")
        await answerer.expect("answered", unexpected=("cancelled",), what="(Invitation.accept())")
        final = await call.answered()  # and ACKed along the route set
        assert final.status == 200, f"expected 200 to the INVITE; {call.describe()}"
        assert b"a=inactive" in final.body, f"expected wic.js's stand-in SDP answer, got {final.body!r}"
        [answer_200] = [m for m in answerer.sent("SIP/2.0 200") if status_of_text(m)[1] == "INVITE"]
        assert final.to.tag == _to_tag(answer_200), (
            f"the winning 200 is not alice-2's: To tag {final.to.tag}, alice-2's {_to_tag(answer_200)}"
        )
        await answerer.expect("ack", unexpected=("bye", "cancelled"), what="(the remote party's ACK)")

        cancelled = await ringer.expect("cancelled", unexpected=("answered",), what="(the loser's CANCEL)")
        reason = cancelled["reason"] or ""
        assert "cause=200" in reason and "Call completed elsewhere" in reason, (
            f'expected Reason: SIP;cause=200;text="Call completed elsewhere" on the CANCEL, got {reason!r}'
        )
        # SIP.js answers the CANCEL 200 and the INVITE 487; the eP-CSCF ACKs the 487 (hop by hop).
        await ringer.expect_wire("in", "ACK ")
        answers = [status_of_text(m) for m in ringer.sent("SIP/2.0")]
        assert answers[-2:] == [(200, "CANCEL"), (487, "INVITE")], (
            f"expected 200 (CANCEL) then 487 (INVITE) from alice-1, got {answers}\n{ringer._context()}"
        )
        assert answerer.received("CANCEL ") == [], f"the winner was cancelled\n{answerer._context()}"

        # alice-2 hangs up: its BYE crosses the eP-CSCF and the S-CSCF to the remote party.
        answerer.command("hangup")
        bye_response = await answerer.expect("byeResponse", what="(the answer to SIP.js's BYE)")
        assert bye_response["status"] == 200, bye_response
        await wait_until_async(
            lambda: any(r.method == "BYE" for r in remote.received), "alice-2's BYE at the remote party"
        )
        # A second final response (the loser's 487 let through) would have come by now: the named
        # window of the harness for what must not arrive.
        await asyncio.sleep(ABSENCE_WINDOW)
        finals = [r.status for r in call.finals()]
        assert finals == [200], f"expected exactly one final response, 200; {call.describe()}"
        assert await ringer.stop() == 0
        assert await answerer.stop() == 0


# ----- SIP.js calls out (5.2.2.5.3) -------------------------------------------------------------


async def test_sipjs_calls_the_remote_party_as_its_impu_without_the_token(
    stack: Stack, sdp_remote: RemoteParty, sipjs: list[SipjsWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await _start(sipjs, stack, "alice", "register", "alice/calls")
        await wic.registered()

        wic.command(f"call {DAVE}")
        answered = await wic.expect("answered", unexpected=("rejected",), what=f"(the 200 of {DAVE})")
        assert answered["direction"] == "outgoing" and answered["status"] == 200, answered
        [sent] = wic.sent("INVITE")
        await wait_until_async(
            lambda: any(r.method == "ACK" for r in sdp_remote.received), "SIP.js's ACK at the remote party"
        )
        [invite] = sdp_remote.invites()
        assert invite.get_all("P-Asserted-Identity") == [f"<{ALICE}>"], (
            f"expected the eP-CSCF to assert alice's IMPU, got {invite.get_all('P-Asserted-Identity')}"
        )
        assert invite.get_all("Authorization") == [] and b"Bearer" not in invite.to_bytes(), (
            f"a token reached the remote party:\n{_redacted(invite)}"
        )
        assert invite.call_id == header(sent, "Call-ID")[0], "the remote party got another INVITE"
        assert invite.body.startswith(b"v=0"), f"the INVITE lost SIP.js's offer: {invite.body!r}"

        wic.command("hangup")
        bye_response = await wic.expect("byeResponse", what="(the remote party's answer to SIP.js's BYE)")
        assert bye_response["status"] == 200, bye_response
        [bye] = [r for r in sdp_remote.received if r.method == "BYE"]
        assert b"Bearer" not in bye.to_bytes(), f"a token reached the remote party:\n{_redacted(bye)}"
        vias = [v.split(";", 1)[0].strip() for v in bye.get_all("Via")]
        assert len(vias) == 3 and len(set(vias)) == 3, (
            f"expected one Via per hop (S-CSCF, eP-CSCF, SIP.js) on SIP.js's BYE, got {vias}"
        )
        assert await wic.stop() == 0


def _redacted(message: Request | Response) -> str:
    return BEARER.sub(r"\1<token>", message.to_bytes().decode(errors="replace"))
