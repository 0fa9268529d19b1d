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
the ACK, RFC 3261 13.2.1), so these tests build that INVITE, its ACK and a BYE here.
Node has no RTCPeerConnection: wic.js answers with a stand-in SDP (see its README).

Node and ``interop/jssip/node_modules`` are installed by ``scripts/install.sh``; CI runs
it, so their absence is a failure here, not a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.harness.remote import RemoteParty
from reference.nodes.wimpu_registrar.client import RegistrarClient
from reference.sip.message import Header, Request, Response
from reference.stack import Stack
from reference.transport.endpoint import Target
from reference.transport.resolver import Resolver, next_hop_uri
from reference.transport.sip_node import ClientHandle

ROOT = Path(__file__).resolve().parents[2]
JSSIP_DIR = ROOT / "interop" / "jssip"
WIC_JS = JSSIP_DIR / "wic.js"

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
REMOTE_DOMAIN = "remote.example.org"
DAVE = f"sip:dave@{REMOTE_DOMAIN}"
STEP_TIMEOUT = 10.0
"Longest wait for one event of wic.js or one SIP answer."
TEST_TIMEOUT = 60.0
"Longest run of one test; the fixtures then kill every wic.js left."

# The remote party's offer (RFC 3264): one audio stream. JsSIP's stand-in answers inactive.
OFFER = (
    b"v=0\r\n"
    b"o=dave 2890844526 2890844526 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=sendrecv\r\n"
)

_BEARER = re.compile(r"(Bearer\s+)[^\s,]+", re.IGNORECASE)
"A bearer token wherever it appears: never kept in events or failure messages (tooling notes)."


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run `bash scripts/install.sh` (it installs nodejs and npm)")
    modules = JSSIP_DIR / "node_modules"
    if not (modules / "jssip").is_dir() or not (modules / "ws").is_dir():
        pytest.fail(
            "interop/jssip/node_modules is missing: run `bash scripts/install.sh` "
            "(or `npm ci --prefix interop/jssip`)"
        )
    return node


class JssipWic:
    """``node interop/jssip/wic.js`` as a subprocess, followed through its JSON event lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.name = "wic.js"
        self.events: list[dict[str, Any]] = []
        self._seen = 0
        "Events already handed out by expect*(); later calls look at the rest first."
        self._stderr = b""
        self._stderr_task = asyncio.get_running_loop().create_task(self._drain_stderr())

    @classmethod
    async def start(
        cls,
        stack: Stack,
        username: str,
        password: str,
        mode: str = "register",
        *,
        answer_after_ms: int = 0,
        name: str | None = None,
    ) -> JssipWic:
        proc = await asyncio.create_subprocess_exec(
            _node(),
            str(WIC_JS),
            "--origin", stack.wwsf.origin,
            "--username", username,
            "--password", password,
            "--ca", str(stack.pki.ca_path),
            "--mode", mode,
            "--answer-after", str(answer_after_ms),
            "--timeout", str(int(TEST_TIMEOUT)),
            "--trace",
            cwd=JSSIP_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        wic = cls(proc)
        wic.name = name or f"{username}/{mode}"
        return wic

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = await self.proc.stderr.read()

    def _context(self) -> str:
        return (
            f"events of {self.name} (SIP messages abridged; newest last):\n{self.trace(last=25)}\n"
            f"stderr:\n{self._stderr.decode(errors='replace')[-2000:]}"
        )

    def trace(self, *, last: int | None = None, full: bool = False) -> str:
        """The JSON event lines so far; SIP messages whole (``full``) or abridged."""
        out = []
        for e in self.events[-last:] if last else self.events:
            if e["event"] == "wire" and not full:
                out.append(f"  wire {e['dir']}: {_abridged(e['data'])}")
            else:
                out.append("  " + json.dumps(e))
        return "\n".join(out)

    async def expect(self, *names: str, unexpected: tuple[str, ...] = (), what: str = "") -> dict[str, Any]:
        """The next event among ``names``; fails on ``error``, ``exit`` or ``unexpected`` first."""
        return await self.expect_where(lambda e: e["event"] in names, f"{names} {what}".strip(), unexpected)

    async def expect_wire(self, dir: str, start: str) -> str:
        """The next SIP message JsSIP sent (``out``) or got (``in``) whose first line starts so."""
        event = await self.expect_where(
            lambda e: e["event"] == "wire" and e["dir"] == dir and e["data"].startswith(start),
            f"a SIP message {dir} starting {start!r}",
        )
        data: str = event["data"]
        return data

    async def expect_where(
        self, match: Callable[[dict[str, Any]], bool], what: str, unexpected: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for earlier in self.events[self._seen :]:
            self._seen += 1
            if match(earlier):
                return earlier
        stop = ("error", "exit", *unexpected)
        while True:
            line: bytes | None = None
            with contextlib.suppress(TimeoutError):
                line = await asyncio.wait_for(self.proc.stdout.readline(), STEP_TIMEOUT)
            if line is None:  # fail outside an except block: no chained traceback
                pytest.fail(
                    f"{self.name}: expected {what} within {STEP_TIMEOUT}s, got none\n{self._context()}"
                )
            if not line:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._stderr_task), STEP_TIMEOUT)
                pytest.fail(f"{self.name}: expected {what}, got end of output\n{self._context()}")
            event: dict[str, Any] = json.loads(line)
            if event["event"] == "wire":  # never keep the token (tooling notes)
                event["data"] = _BEARER.sub(r"\1<token>", event["data"])
            self.events.append(event)
            self._seen = len(self.events)
            if match(event):
                return event
            if event["event"] in stop:
                pytest.fail(f"{self.name}: expected {what}, got {json.dumps(event)}\n{self._context()}")

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    def sent(self, method: str) -> list[str]:
        """The SIP requests of ``method`` JsSIP sent so far (token redacted)."""
        return [
            e["data"]
            for e in self.events
            if e["event"] == "wire" and e["dir"] == "out" and e["data"].startswith(method + " ")
        ]

    def received(self, start: str) -> list[str]:
        """The SIP messages JsSIP received so far whose first line starts so."""
        return [
            e["data"]
            for e in self.events
            if e["event"] == "wire" and e["dir"] == "in" and e["data"].startswith(start)
        ]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    async def stop(self) -> int:
        """Ask JsSIP to un-REGISTER and leave; returns its exit status."""
        self.command("stop")
        await self.expect("unregistered")
        await self.expect("exit")
        return await asyncio.wait_for(self.proc.wait(), STEP_TIMEOUT)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._stderr_task.cancel()
        with contextlib.suppress(BaseException):
            await self._stderr_task


@pytest.fixture
async def w6(stack: Stack) -> AsyncIterator[RegistrarClient]:
    async with stack.observer() as client:
        yield client


@pytest.fixture
async def jssip(stack: Stack) -> AsyncIterator[list[JssipWic]]:
    """Every wic.js a test starts; killed at teardown, whatever the outcome."""
    started: list[JssipWic] = []
    yield started
    for wic in started:
        await wic.close()
        # Shown by pytest under "Captured stdout teardown" when the test failed.
        print(f"===== SIP trace of {wic.name} (token redacted) =====\n{wic.trace(full=True)}")


def _abridged(message: str) -> str:
    """First line, Call-ID, CSeq and Reason of a SIP message, for failure messages."""
    lines = message.split("\r\n")
    keep = [ln for ln in lines[1:] if ln.lower().split(":", 1)[0] in ("cseq", "reason", "call-id")]
    return " | ".join([lines[0], *keep])


# ----- the remote party as UAC, with an SDP offer (RFC 3261 12, 13, 15) -----------------------


class RemoteCall:
    """One INVITE the remote party places through the I-CSCF, and its dialog."""

    def __init__(self, party: RemoteParty, handle: ClientHandle, responses: list[Response]) -> None:
        self.party = party
        self.handle = handle
        self.responses = responses
        self.final: Response | None = None
        self.ack: Request | None = None

    @classmethod
    def place(cls, party: RemoteParty, called: str, via: Target) -> RemoteCall:
        invite = party.invite_request(called).with_body(OFFER, "application/sdp")
        responses: list[Response] = []

        def heard(response: Response) -> None:
            responses.append(response)
            party.responses.append(response)

        handle = party.node.send_request(invite, via, on_response=heard)
        return cls(party, handle, responses)

    @property
    def invite(self) -> Request:
        return self.handle.request

    def finals(self) -> list[Response]:
        return [r for r in self.responses if r.is_final]

    def describe(self) -> str:
        return "remote party got: " + ", ".join(
            f"{r.status} {r.reason} (To tag {r.to.tag})" for r in self.responses
        )

    async def answered(self) -> Response:
        """Wait for the final response; ACK it if 2xx (end to end, on the route set)."""
        with contextlib.suppress(TimeoutError):
            self.final = await asyncio.wait_for(asyncio.shield(self.handle.final), STEP_TIMEOUT)
        if self.final is None:
            pytest.fail(
                f"remote party: no final response to its INVITE in {STEP_TIMEOUT}s; {self.describe()}"
            )
        if 200 <= self.final.status < 300:
            self.ack = self._in_dialog("ACK", self.invite.cseq.number)
            routes = self.ack.get_all("Route")
            via = f"{self.party.node.via()};branch=z9hG4bK{secrets.token_hex(8)}"
            self.ack = self.ack.with_header("Via", via, first=True)
            await self.party.node.send_ack(self.ack, Resolver().resolve(next_hop_uri(self.ack.uri, routes)))
        return self.final

    def _in_dialog(self, method: str, cseq: int) -> Request:
        """A request in the dialog the 2xx made: Record-Route reversed is the route set
        (RFC 3261 12.1.2), the remote target is the 2xx's Contact (12.2.1.1)."""
        assert self.final is not None
        routes = list(reversed(self.final.get_all("Record-Route")))
        target = self.final.contacts[0].uri
        headers = [
            Header("Max-Forwards", "70"),
            Header("To", self.final.get("To") or ""),
            Header("From", self.invite.get("From") or ""),
            Header("Call-ID", self.invite.call_id),
            Header("CSeq", f"{cseq} {method}"),
            *(Header("Route", r) for r in routes),
            Header("Content-Length", "0"),
        ]
        return Request(headers=tuple(headers), body=b"", method=method, uri=target)

    async def bye(self) -> Response:
        """Hang up from the remote side: BYE along the route set (RFC 3261 15.1.1)."""
        bye = self._in_dialog("BYE", self.invite.cseq.number + 1)
        target = Resolver().resolve(next_hop_uri(bye.uri, bye.get_all("Route")))
        response: Response | None = None
        with contextlib.suppress(TimeoutError):
            response = await asyncio.wait_for(self.party.node.request(bye, target), STEP_TIMEOUT)
        if response is None:
            pytest.fail(f"remote party: no response to its BYE in {STEP_TIMEOUT}s")
        return response


def _icscf(stack: Stack) -> Target:
    return Target("TCP", stack.config.host, stack.icscf.node.port)


async def _eventually(check: Callable[[], bool], what: str, context: Callable[[], str]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"expected {what} within {STEP_TIMEOUT}s, got none\n{context()}")
        await asyncio.sleep(0.02)


def _status_of(message: str) -> tuple[int, str]:
    """(status, CSeq method) of a SIP response as text."""
    status = int(message.split(" ", 2)[1])
    [cseq] = _header(message, "CSeq")
    return status, cseq.split()[-1]


async def _registered(wic: JssipWic) -> dict[str, Any]:
    event = await wic.expect("registered", "registrationFailed")
    assert event["event"] == "registered", f"{wic.name}: expected registered, got {event}"
    return event


def _header(message: str, name: str) -> list[str]:
    prefix = name.lower() + ":"
    return [
        line.split(":", 1)[1].strip() for line in message.split("\r\n") if line.lower().startswith(prefix)
    ]


def _contact_uri(contact: str) -> str:
    return contact[contact.index("<") + 1 : contact.index(">")]


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
