"""The wire is the truth: capture the reference stack while a WIC registers and receives a
call (TR 23.701 5.2.2.5.2 and 5.2.2.5.4), decode the capture, and check it against what
the harness saw and against tshark.

Capturing needs root or CAP_NET_RAW (CI runs as root). When it is impossible these
tests fail with the reason; they never skip.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from captures import (
    CaptureReader,
    CaptureUnavailable,
    Decoded,
    Legs,
    LiveCapture,
    WireMessage,
    decode_file,
    stack_ports,
)
from captures.pcapfile import Packet
from captures.tshark import decode_as_options, sip_labels_by_frame
from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.scenario_capture import release_host, scenario_host
from conformance.harness.wic import Wic, web_login
from reference.sip.message import Request, Response
from reference.stack import Stack, StackConfig
from reference.tls import DEFAULT_SANS
from reference.transport.endpoint import Target

ALICE = "sip:wrtc-alice@block1.ims.example.net"


class Run:
    """What one captured run left: the file, the port names, the WIC, the decoded messages."""

    def __init__(self, capture: LiveCapture, ports: dict[int, str], wic: Wic, wic_port: int) -> None:
        self.capture = capture
        self.ports = ports
        self.wic = wic
        self.wic_name = f"WIC@{wic_port}"
        self.decoded: Decoded = decode_file(capture.path)  # no key log: the file carries it
        self.legs = Legs(ports).learn(self.decoded.messages)

    def on(self, src: str, dst: str) -> list[WireMessage]:
        return self.legs.between(self.decoded.messages, src, dst)


async def scenario(directory: Path) -> Run:
    """Registration (5.2.2.5.2) then a terminating call answered by the WIC (5.2.2.5.4)."""
    # on a loopback address of its own, captured by that address: a capture filtered on ports
    # alone also took the packets of another run whose nodes had the same port numbers elsewhere
    host = scenario_host()
    stack = Stack(StackConfig(host=host))
    for name in ("ep-cscf", "wwsf"):  # the servers' certificates name the address
        stack.pki.issue(name, (*DEFAULT_SANS, host))
    await stack.start()
    remote = RemoteParty("remote.example.org", host=host)
    await remote.start()
    stack.resolver.add("remote.example.org", remote.target)
    try:
        ports = stack_ports(stack, remote=remote)
        capture = LiveCapture(directory / "registration_and_termination.pcapng", hosts=[host])
        stack.log_tls_secrets(str(capture.keylog_path))  # W6/W7 are TLS (docs/security.md)
        await asyncio.to_thread(capture.start)
        context = stack.pki.client_context(keylog_file=str(capture.keylog_path))
        login = await web_login(stack.wwsf.origin, "alice", "alice-password", context)
        wic = Wic("alice-1", ssl_context=context)
        wic.answer_mode = "answer"
        await wic.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
        assert wic.connection is not None
        wic_port = int(wic.connection.local_address[1])
        assert (await wic.register(login.identity, token=login.token)).status == 200
        icscf = Target("TCP", stack.config.host, stack.icscf.node.port)
        assert (await remote.call(ALICE, icscf)).status == 200
        await wait_until_async(lambda: any(r.method == "ACK" for r in wic.incoming), "the ACK at the WIC")
        await wic.close()
        await asyncio.to_thread(capture.stop)
    finally:
        await remote.stop()
        await stack.stop()
        release_host(host)
    return Run(capture, ports, wic, wic_port)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Run | str:
    try:
        return asyncio.run(scenario(tmp_path_factory.mktemp("live")))
    except CaptureUnavailable as exc:
        return f"capturing is impossible on this machine, and these tests need it: {exc}"


@pytest.fixture
def run(outcome: Run | str) -> Run:
    """The captured run; fails (never skips) the test when capturing was impossible."""
    if isinstance(outcome, str):
        pytest.fail(outcome)
    return outcome


def methods(messages: list[WireMessage]) -> list[str]:
    found = []
    for m in messages:
        if isinstance(m.message, Request):
            found.append(m.message.method)
        elif isinstance(m.message, Response):
            found.append(str(m.message.status))
    return found


def test_capture_is_complete_and_decodes_without_problems(run: Run) -> None:
    stats = run.capture.stats
    assert stats is not None and stats.complete and stats.dropped == 0
    with CaptureReader(run.capture.path) as reader:
        assert sum(isinstance(item, Packet) for item in reader) == stats.packets
    assert run.decoded.problems == []
    assert all(m.error is None for m in run.decoded.messages)


def test_register_and_its_200_on_the_wic_leg_over_wss(run: Run) -> None:
    up, down = run.on(run.wic_name, "ep-cscf1/wss"), run.on("ep-cscf1/wss", run.wic_name)
    register = next(m for m in up if isinstance(m.message, Request) and m.message.method == "REGISTER")
    assert register.transport == "WSS"
    ok = next(m for m in down if isinstance(m.message, Response) and m.message.cseq.method == "REGISTER")
    assert ok.transport == "WSS" and ok.message is not None and ok.message.status == 200
    assert register.index < ok.index


def test_where_the_harness_also_saw_a_message_the_two_agree(run: Run) -> None:
    sent = [m.raw for m in run.on(run.wic_name, "ep-cscf1/wss") if m.is_sip]
    received = [m.raw for m in run.on("ep-cscf1/wss", run.wic_name) if m.is_sip]
    register = next(raw for raw in run.wic.sent if raw.startswith(b"REGISTER"))
    assert register in sent
    assert sent == run.wic.sent
    assert received == run.wic.received


def test_invite_on_the_icscf_to_scscf_and_scscf_to_ep_cscf_legs(run: Run) -> None:
    assert methods(run.on("remote", "i-cscf"))[:1] == ["INVITE"]
    assert "INVITE" in methods(run.on("i-cscf", "s-cscf"))
    assert "INVITE" in methods(run.on("s-cscf", "ep-cscf1/sip"))
    assert methods(run.on("ep-cscf1/wss", run.wic_name)).count("INVITE") == 1
    assert methods(run.on(run.wic_name, "ep-cscf1/wss"))[-2:] == ["180", "200"]


def test_the_w7_query_of_the_icscf(run: Run) -> None:
    to_registrar = [m for m in run.decoded.messages if m.http and run.legs.name(m.dst) == "registrar"]
    w7 = [m for m in to_registrar if m.http and m.http.path.startswith("/w7/")]
    assert len(w7) == 1 and w7[0].transport == "HTTPS" and w7[0].http is not None  # mTLS (docs/security.md)
    assert w7[0].http.method == "GET" and "identity=" in w7[0].http.path
    answer = next(
        m for m in run.decoded.messages if m.http and m.http.status and m.http.path == w7[0].http.path
    )
    assert answer.http is not None and answer.http.status == 200


def test_tshark_reads_the_same_sip_from_the_file_alone(run: Run) -> None:
    """tshark with Decode As options from the port names and no key log option (the
    Decryption Secrets Block is in the file) finds the same SIP in the same frames."""
    theirs = sip_labels_by_frame(run.capture.path, decode_as_options(run.ports))
    ours: dict[int, list[str]] = defaultdict(list)
    for m in run.decoded.messages:
        if m.is_sip:
            ours[m.frame] += methods([m])
    assert {k: sorted(v) for k, v in ours.items()} == theirs
    wss_frames = {m.frame for m in run.decoded.messages if m.transport == "WSS"}
    tcp_frames = {m.frame for m in run.decoded.messages if m.transport == "TCP"}
    assert wss_frames <= theirs.keys() and tcp_frames <= theirs.keys()
    assert len(wss_frames) >= 6 and len(tcp_frames) >= 12
