"""Interop: JsSIP, a real WIC nobody here wrote, registers through the reference stack.

``interop/jssip/wic.js`` runs JsSIP 3.13 in Node: web login at the WWSF (step 1), WSS to
the eP-CSCF with the WWSF's Origin (step 2), REGISTER with ``Authorization: Bearer``
(steps 3-7), and later its un-REGISTER (``Expires: 0``, TR 23.701 5.2.2.3.2). The
registrar is observed only through W6, as the suite does.

Then JsSIP as the called party of TR 23.701 5.2.2.5.4: a remote IMS party (the suite's
:class:`RemoteParty`) places a call through the I-CSCF; the S-CSCF and the eP-CSCF deliver
it over JsSIP's WebSocket. With two JsSIP instances registered for the same identity the
eP-CSCF forks, the first 2xx wins and the other branch gets CANCEL with ``Reason: SIP;
cause=200`` (RFC 3326). The remote party offers SDP in its INVITE (the suite's
``RemoteParty.call`` sends none: JsSIP would then offer in its 200 and want the answer in
the ACK, RFC 3261 13.2.1), so these tests build that INVITE, its ACK and a BYE
(``RemoteCall`` of ``node_wic.py``, shared with the SIP.js tests).
Node has no RTCPeerConnection: wic.js answers with a stand-in SDP (see its README).

Node and ``interop/jssip/node_modules`` are installed by ``scripts/install.sh``; CI runs
it, so their absence is a failure here, not a skip.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import node_wic
import pytest
from node_wic import ALICE, BOB, DAVE, NodeWic, close_all
from node_wic import BEARER as _BEARER
from node_wic import contact_uri as _contact_uri
from node_wic import header as _header
from node_wic import icscf as _icscf
from node_wic import status_of as _status_of

from conformance.harness.remote import RemoteParty
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.sip.message import Response
from reference.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
JSSIP_DIR = ROOT / "interop" / "jssip"

STEP_TIMEOUT = 10.0
"Longest wait for one event of wic.js or one SIP answer."
TEST_TIMEOUT = 60.0
"Longest run of one test; the fixtures then kill every wic.js left."


class JssipWic(NodeWic):
    """``node interop/jssip/wic.js`` as a subprocess, followed through its JSON event lines."""

    package_dir = JSSIP_DIR
    packages = ("jssip", "ws")
    wait = STEP_TIMEOUT
    timeout = TEST_TIMEOUT


class RemoteCall(node_wic.RemoteCall):
    """One INVITE the remote party places through the I-CSCF (with an SDP offer), and its dialog."""

    wait = STEP_TIMEOUT


@pytest.fixture
async def w6(stack: Stack) -> AsyncIterator[RegistrarClient]:
    async with stack.observer() as client:
        yield client


@pytest.fixture
async def jssip(stack: Stack) -> AsyncIterator[list[JssipWic]]:
    """Every wic.js a test starts; killed at teardown, whatever the outcome."""
    started: list[JssipWic] = []
    yield started
    await close_all(started)


async def _eventually(check: Callable[[], bool], what: str, context: Callable[[], str]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"expected {what} within {STEP_TIMEOUT}s, got none\n{context()}")
        await asyncio.sleep(0.02)


async def _registered(wic: JssipWic) -> dict[str, Any]:
    event = await wic.expect("registered", "registrationFailed")
    assert event["event"] == "registered", f"{wic.name}: expected registered, got {event}"
    return event


async def test_jssip_option_a_registers_and_deregisters(
    stack: Stack, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    wic = await JssipWic.start(stack, "alice", "alice-password")
    jssip.append(wic)
    login = await wic.expect("login")
    assert login["identity"] == ALICE
    assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf1"].wss_url

    registered = await wic.expect("registered", "registrationFailed")
    assert registered["event"] == "registered", registered
    assert registered["status"] == 200
    assert registered["p_associated_uri"] == f"<{ALICE}>"

    register = wic.sent("REGISTER")[0]
    assert _header(register, "Authorization") == ["Bearer <token>"]
    [contact] = _header(register, "Contact")
    entry = await w6.read(ALICE)
    assert entry is not None, "JsSIP got 200 but the registrar holds no entry"
    assert entry.external_identity is None
    [stored] = entry.contacts
    assert stored.uri == _contact_uri(contact)
    assert stored.reg_id == 1 and stored.instance_id and stored.instance_id in contact
    assert stored.flow.startswith("ep-cscf1.")

    assert await wic.stop() == 0
    unregister = wic.sent("REGISTER")[-1]
    assert _header(unregister, "Expires") == ["0"]
    assert await w6.read(ALICE) is None


async def test_jssip_option_b_gets_an_allocated_impu_and_deregisters(
    stack: Stack, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    wic = await JssipWic.start(stack, "bob", "bob-password")
    jssip.append(wic)
    login = await wic.expect("login")
    assert login["identity"] == BOB
    assert login["ep_cscf"] == stack.ep_cscfs["ep-cscf2"].wss_url

    registered = await wic.expect("registered", "registrationFailed")
    assert registered["event"] == "registered", registered
    assert registered["status"] == 200

    entry = await w6.read_by_external(BOB)
    assert entry is not None, "JsSIP got 200 but the registrar holds no entry for its external identity"
    impu = entry.impu
    assert impu.startswith("sip:wrtc-") and impu.endswith("@block2.ims.example.net")
    assert entry.external_identity == BOB
    assert len(entry.contacts) == 1 and entry.contacts[0].flow.startswith("ep-cscf2.")
    # 5.2.2.1 "IMS identities are only used within the IMS domain": the WIC sees only BOB.
    assert registered["p_associated_uri"] == f"<{BOB}>"

    assert await wic.stop() == 0
    assert await w6.read_by_external(BOB) is None
    assert await w6.read(impu) is None


# ----- JsSIP called through the I-CSCF (TR 23.701 5.2.2.5.4) ---------------------------------


def _check_incoming(wic: JssipWic, event: dict[str, Any], called: str) -> None:
    assert event["originator"] == "remote" and event["direction"] == "incoming", (
        f"{wic.name}: expected an incoming session, got {event}"
    )
    assert event["from"] == DAVE, f"{wic.name}: From: expected {DAVE}, got {event['from']}"
    assert event["to"] == called, f"{wic.name}: To: expected {called}, got {event['to']}"
    assert event["has_sdp"], f"{wic.name}: the INVITE lost its SDP offer: {event}"


def _check_answer(call: RemoteCall, final: Response, wic: JssipWic) -> None:
    assert final.status == 200, (
        f"expected 200 to the INVITE, got {final.status} {final.reason}; {call.describe()}"
    )
    assert b"a=inactive" in final.body, f"expected wic.js's stand-in SDP answer, got body {final.body!r}"
    assert final.contacts, f"the 200 has no Contact: {final.start_line()}"
    assert final.get_all("Record-Route"), (
        f"the 200 has no Record-Route; dialog routing cannot work: {final!r}"
    )


async def test_jssip_option_a_answers_a_call_from_the_remote_party_and_hangs_up(
    stack: Stack, remote: RemoteParty, jssip: list[JssipWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await JssipWic.start(stack, "alice", "alice-password", "answer", name="alice/answer")
        jssip.append(wic)
        await _registered(wic)

        call = RemoteCall.place(remote, ALICE, _icscf(stack))
        session = await wic.expect("newRTCSession", what="(the INVITE from the remote party)")
        _check_incoming(wic, session, ALICE)
        await wic.expect("accepted", unexpected=("failed", "ended"))
        final = await call.answered()
        _check_answer(call, final, wic)
        assert [r.status for r in call.responses if r.is_provisional][-1:] == [180], call.describe()

        confirmed = await wic.expect(
            "confirmed", unexpected=("failed", "ended"), what="(the remote party's ACK)"
        )
        assert confirmed["originator"] == "remote" and confirmed["ack"]["method"] == "ACK", confirmed
        assert len(wic.received("ACK ")) == 1, wic.trace(last=10)

        # JsSIP hangs up: its BYE goes back through the eP-CSCF, S-CSCF to the remote party.
        wic.command("hangup")
        ended = await wic.expect("ended", what="(after hangup)")
        assert ended["originator"] == "local" and ended["cause"] == "Terminated", ended
        [bye] = wic.sent("BYE")
        await _eventually(
            lambda: any(r.method == "BYE" for r in remote.received),
            "JsSIP's BYE at the remote party",
            lambda: f"JsSIP sent:\n{bye}\n{wic._context()}",
        )
        bye_response = await wic.expect_where(
            lambda e: (
                e["event"] == "wire"
                and e["dir"] == "in"
                and e["data"].startswith("SIP/2.0 ")
                and _status_of(e["data"])[1] == "BYE"
            ),
            "the response to JsSIP's BYE",
        )
        assert _status_of(bye_response["data"]) == (200, "BYE"), bye_response["data"]
        assert await wic.stop() == 0


async def test_jssip_option_b_is_called_by_its_external_identity_and_the_remote_party_hangs_up(
    stack: Stack, remote: RemoteParty, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic = await JssipWic.start(stack, "bob", "bob-password", "answer", name="bob/answer")
        jssip.append(wic)
        await _registered(wic)
        entry = await w6.read_by_external(BOB)
        assert entry is not None, (
            "bob is registered but the registrar holds no entry for sip:bob@enterprise.com"
        )

        call = RemoteCall.place(remote, BOB, _icscf(stack))
        session = await wic.expect("newRTCSession", what="(the INVITE from the remote party)")
        _check_incoming(wic, session, BOB)
        await wic.expect("accepted", unexpected=("failed", "ended"))
        final = await call.answered()
        _check_answer(call, final, wic)
        confirmed = await wic.expect(
            "confirmed", unexpected=("failed", "ended"), what="(the remote party's ACK)"
        )
        assert confirmed["originator"] == "remote", confirmed

        # The remote party hangs up: BYE on its route set (the 200's Record-Route reversed).
        response = await call.bye()
        assert response.status == 200, (
            f"expected 200 to the remote party's BYE, got {response.status} {response.reason}\n"
            f"{wic._context()}"
        )
        ended = await wic.expect("ended", what="(after the remote party's BYE)")
        assert ended["originator"] == "remote" and ended["method"] == "BYE", ended
        assert wic.sent("BYE") == [], "JsSIP sent a BYE of its own"
        assert await wic.stop() == 0


async def test_jssip_two_instances_of_alice_both_ring_the_one_that_answers_wins(
    stack: Stack, remote: RemoteParty, w6: RegistrarClient, jssip: list[JssipWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        ringer = await JssipWic.start(stack, "alice", "alice-password", "ring", name="alice-1/ring")
        jssip.append(ringer)
        await _registered(ringer)
        answerer = await JssipWic.start(
            stack, "alice", "alice-password", "answer", answer_after_ms=300, name="alice-2/answer"
        )
        jssip.append(answerer)
        await _registered(answerer)
        entry = await w6.read(ALICE)
        assert entry is not None and len(entry.contacts) == 2, (
            f"expected 2 contacts for alice, got {entry}"
        )

        call = RemoteCall.place(remote, ALICE, _icscf(stack))
        for wic in (ringer, answerer):  # both ring
            session = await wic.expect("newRTCSession", what="(the forked INVITE)")
            _check_incoming(wic, session, ALICE)
            await wic.expect_wire("out", "SIP/2.0 180")  # JsSIP rings once it emitted newRTCSession

        await answerer.expect("accepted", unexpected=("failed", "ended"))
        final = await call.answered()
        _check_answer(call, final, answerer)
        [answer_200] = [m for m in answerer.sent("SIP/2.0 200") if _status_of(m)[1] == "INVITE"]
        [to_tag] = re.findall(r";tag=([^;\s>]+)", _header(answer_200, "To")[0])
        assert final.to.tag == to_tag, (
            f"the winning 200 is not alice-2's: To tag {final.to.tag}, alice-2's {to_tag}"
        )
        await answerer.expect("confirmed", unexpected=("failed", "ended"), what="(the remote party's ACK)")

        failed = await ringer.expect("failed", unexpected=("ended", "accepted"), what="(the CANCEL)")
        print(json.dumps({"ringer_failed": failed}))
        assert failed["originator"] == "remote" and failed["cause"] == "Canceled", failed
        assert failed["method"] == "CANCEL", f"expected the CANCEL on the 'failed' event, got {failed}"
        assert failed["reason"] is not None and "cause=200" in failed["reason"], (
            f"expected Reason: SIP;cause=200 on the CANCEL, got {failed['reason']!r}"
        )
        assert "Call completed elsewhere" in failed["reason"], failed["reason"]
        # JsSIP answers the CANCEL 200 and the INVITE 487 (before 'failed'); the eP-CSCF ACKs the 487.
        assert [_status_of(m) for m in ringer.sent("SIP/2.0")][-2:] == [(200, "CANCEL"), (487, "INVITE")], (
            f"expected 200 (CANCEL) then 487 (INVITE) from alice-1\n{ringer._context()}"
        )
        await ringer.expect_wire("in", "ACK ")
        assert answerer.received("CANCEL ") == [], f"the winner was cancelled\n{answerer._context()}"

        await asyncio.sleep(0.3)  # let any straggling final response arrive
        finals = call.finals()
        assert [r.status for r in finals] == [200], f"expected exactly one final 200; {call.describe()}"

        answerer.command("hangup")
        ended = await answerer.expect("ended", what="(after hangup)")
        assert ended["originator"] == "local", ended
        await _eventually(
            lambda: any(r.method == "BYE" for r in remote.received),
            "alice-2's BYE at the remote party",
            answerer._context,
        )
        assert await ringer.stop() == 0
        assert await answerer.stop() == 0


# ----- what JsSIP's calls showed of the reference (two bugs, fixed: kept as regression tests) ----


async def _answered_call(
    stack: Stack, remote: RemoteParty, jssip: list[JssipWic]
) -> tuple[JssipWic, RemoteCall]:
    """alice (JsSIP, answer mode) in a confirmed call from the remote party."""
    wic = await JssipWic.start(stack, "alice", "alice-password", "answer", name="alice/answer")
    jssip.append(wic)
    await _registered(wic)
    call = RemoteCall.place(remote, ALICE, _icscf(stack))
    await wic.expect("accepted", unexpected=("failed", "ended"))
    _check_answer(call, await call.answered(), wic)
    await wic.expect("confirmed", unexpected=("failed", "ended"), what="(the remote party's ACK)")
    return wic, call


def _sent_bys(vias: list[str]) -> list[str]:
    return [v.split(";", 1)[0].strip() for v in vias]


@pytest.mark.parametrize("hangs_up", ["jssip", "remote"])
async def test_jssip_bye_crosses_each_proxy_once(
    stack: Stack, remote: RemoteParty, jssip: list[JssipWic], hangs_up: str
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic, call = await _answered_call(stack, remote, jssip)
        if hangs_up == "jssip":
            wic.command("hangup")
            await wic.expect("ended", what="(after hangup)")
            await _eventually(
                lambda: any(r.method == "BYE" for r in remote.received),
                "JsSIP's BYE at the remote party",
                wic._context,
            )
            [bye] = [r for r in remote.received if r.method == "BYE"]
            vias, hops = _sent_bys(bye.get_all("Via")), "S-CSCF, eP-CSCF, JsSIP"
            max_forwards, wire = (
                bye.int_header("Max-Forwards"),
                _BEARER.sub(r"\1<token>", bye.to_bytes().decode()),
            )
            sent = int(_header(wic.sent("BYE")[0], "Max-Forwards")[0])
        else:
            assert (await call.bye()).status == 200
            await wic.expect("ended", what="(after the remote party's BYE)")
            [received] = wic.received("BYE ")
            vias, hops = _sent_bys(_header(received, "Via")), "eP-CSCF, S-CSCF, remote party"
            max_forwards, wire = int(_header(received, "Max-Forwards")[0]), received
            sent = 70
        assert len(vias) == 3 and len(set(vias)) == 3, (
            f"expected one Via per hop ({hops}), got {vias}; Max-Forwards {sent} -> {max_forwards}\n{wire}"
        )
        assert max_forwards == sent - 2, (
            f"expected Max-Forwards {sent - 2} after 2 proxies, got {max_forwards}"
        )
        assert await wic.stop() == 0


async def test_jssip_token_does_not_leave_the_ep_cscf(
    stack: Stack, remote: RemoteParty, jssip: list[JssipWic]
) -> None:
    async with asyncio.timeout(TEST_TIMEOUT):
        wic, _ = await _answered_call(stack, remote, jssip)
        wic.command("hangup")
        await wic.expect("ended", what="(after hangup)")
        assert _header(wic.sent("BYE")[0], "Authorization") == ["Bearer <token>"], "JsSIP's BYE has no token"
        await _eventually(
            lambda: any(r.method == "BYE" for r in remote.received),
            "JsSIP's BYE at the remote party",
            wic._context,
        )
        [bye] = [r for r in remote.received if r.method == "BYE"]
        leaked = [_BEARER.sub(r"\1<token>", v) for v in bye.get_all("Authorization")]
        assert leaked == [], f"expected no Authorization at the remote party, got {leaked}"
        assert await wic.stop() == 0
