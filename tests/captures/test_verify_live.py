"""``wimpu-conformance verify`` on a live capture of the reference stack (loopback).

One run, captured from before the stack starts (so option 1's block registration at
start-up is in it): WICs of both options register (5.2.2.5.2; block 2 is registered on the
first of its WICs, option 2 of 5.2.2.5.1), each option originates (5.2.2.5.3), the remote
party calls a webRTC user registered from two WICs (5.2.2.5.4, forking), an option B user,
an ordinary IMS user (no W7) and an unregistered webRTC user (480). Then:

- the capture verifies: every rule passes, none is inconclusive;
- the capture with one header of the INVITE on the clear-text eP-CSCF to S-CSCF leg
  rewritten (lengths, sequence numbers and checksums fixed) fails that one rule, on that frame;
- the capture without its TLS secrets names the connections it cannot read, and the rules
  that need the WIC's leg are inconclusive, never pass or fail.
- a lab's capture, with no secrets in it and no key log of any client (a browser's): the
  stack's own key log (``StackConfig.keylog``, ``wimpu-ref up --keylog``) decrypts every
  connection, its WSS and HTTPS as server and W6/W7 as client, and every rule passes.

The stack writes its key log to a file of its own (``stack.keys``); the suite's clients write
theirs into the capture (``client_context(keylog_file=...)``, not the PKI's key log).

Capturing needs root or CAP_NET_RAW (CI runs as root); when it is impossible these tests
fail with the reason, they never skip.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from ports import free_ports
from scapy.layers.inet import IP, TCP
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, rdpcap

from captures import CaptureReader, CaptureUnavailable, LiveCapture, inject_secrets
from captures.cli import main
from captures.pcapfile import SecretsBlock
from captures.rules import RULES
from conformance.harness.expect import wait_until_async
from conformance.harness.remote import RemoteParty
from conformance.harness.wic import Wic, login_attempt, web_login
from conformance.pixit import load_pixit
from reference.stack import Stack, StackConfig
from reference.transport.endpoint import Target

NOT_IN_THIS_RUN = {"SESSION_TIMER_C"}
"""Rules this run gives nothing to judge: no session here rings past the eP-CSCF's Timer C (more than
3 minutes; the stack runs on real time). TP_WIMPU_ORIG_016 and TP_WIMPU_FORK_004 let it pass on a clock
the tester moves, and their captures are verified offline (tests/conformance/test_offline_verdicts.py)."""

ALICE = "sip:wrtc-alice@block1.ims.example.net"
BOB = "sip:bob@enterprise.com"
DAVE = "sip:dave@remote.example.org"


def pixit_text(ports: dict[str, int]) -> str:
    """The PIXIT of the run: the reference nodes at the ports they were started on."""
    h = "127.0.0.1"
    return f"""
[sut]
description = "wIMPU reference stack, captured on loopback"
[wwsf]
url = "https://{h}:{ports["wwsf"]}"
[registrar]
url = "http://{h}:{ports["registrar"]}"
[i_cscf]
sip = "tcp://{h}:{ports["i-cscf"]}"
[s_cscf]
sip = "tcp://{h}:{ports["s-cscf"]}"
[remote]
sip = "tcp://{h}:{ports["remote"]}"
[[ep_cscf]]
name = "ep-cscf1"
url = "wss://{h}:{ports["ep-cscf1/wss"]}"
sip = "tcp://{h}:{ports["ep-cscf1/sip"]}"
[[ep_cscf]]
name = "ep-cscf2"
url = "wss://{h}:{ports["ep-cscf2/wss"]}"
sip = "tcp://{h}:{ports["ep-cscf2/sip"]}"
[[block]]
wimpu = "sip:wrtc-!.*!@block1.ims.example.net"
option = "A"
ep_cscf = "ep-cscf1"
registration = 1
[[block]]
wimpu = "sip:wrtc-!.*!@block2.ims.example.net"
option = "B"
ep_cscf = "ep-cscf2"
registration = 2
external_domains = ["enterprise.com"]
"""


class Run:
    def __init__(self, capture: Path, pixit: Path, outcomes: dict[str, int], stack_keys: Path) -> None:
        self.capture, self.pixit, self.outcomes = capture, pixit, outcomes
        self.stack_keys = stack_keys
        "The stack's own key log: every TLS server and client of the stack."


async def scenario(directory: Path) -> Run:
    remote = RemoteParty("remote.example.org")
    await remote.start()
    p = free_ports(8)
    names = [
        "registrar",
        "wwsf",
        "i-cscf",
        "s-cscf",
        "ep-cscf1/wss",
        "ep-cscf1/sip",
        "ep-cscf2/wss",
        "ep-cscf2/sip",
    ]
    ports = dict(zip(names, p, strict=True)) | {"remote": remote.node.port}
    config = StackConfig(
        ports={"registrar": p[0], "wwsf": p[1], "i_cscf": p[2], "s_cscf": p[3]},
        ep_ports={"ep-cscf1": (p[4], p[5]), "ep-cscf2": (p[6], p[7])},
        keylog=str(directory / "stack.keys"),
    )
    pixit = directory / "pixit.toml"
    pixit.write_text(pixit_text(ports))
    capture = LiveCapture(directory / "run.pcapng", ports.values())
    outcomes: dict[str, int] = {}
    stack = Stack(config)
    try:
        await asyncio.to_thread(capture.start)
        await stack.start()  # block 1 registers now (5.2.2.5.1 option 1), inside the capture
        stack.resolver.add("remote.example.org", remote.target)
        context = stack.pki.client_context(keylog_file=str(capture.keylog_path))
        icscf = Target("TCP", "127.0.0.1", p[2])

        async def wic(user: str, name: str, mode: str, delay: float = 0.0) -> Wic:
            login = await web_login(stack.wwsf.origin, user, f"{user}-password", context)
            w = Wic(name, ssl_context=context)
            w.answer_mode, w.answer_delay = mode, delay
            await w.connect(login.ep_cscf_url, origin=stack.wwsf.origin)
            outcomes[f"register {name}"] = (await w.register(login.identity, token=login.token)).status
            return w

        wics = [
            await wic("alice", "alice-1", "ring"),
            await wic("alice", "alice-2", "answer", 0.3),
            await wic("bob", "bob-1", "answer"),  # block 2 registers first (option 2)
        ]
        carol = await remote.register_in_ims(
            "sip:carol@ims.example.net", impi="ims-user-0@ims.example.net",
            password=stack.secrets.get("ims-user-0"),  # generated, none is built in (docs/security.md)
            registrar="sip:ims.example.net", scscf=Target("TCP", "127.0.0.1", p[3]),
        )  # fmt: skip
        outcomes["register carol"] = carol.status
        answer = await wics[0].invite(ALICE, DAVE)
        outcomes["originate A"] = answer.status
        invite = wics[0].last_invite
        assert invite is not None
        bye = wics[0].in_dialog_request(invite, answer, "BYE", invite.cseq.number + 1)
        outcomes["bye A"] = (await wics[0].request(bye)).status  # ORIG_IN_DIALOG_ROUTE_SET
        # a BYE that names no dialog (no To tag): refused, sent on nowhere (ORIG_DIALOG_METHOD_REFUSED)
        outcomes["bye in no dialog"] = (await wics[0].outside_dialog("BYE", ALICE, DAVE)).status
        outcomes["originate B"] = (await wics[2].invite(BOB, DAVE)).status
        outcomes["terminate fork"] = (await remote.call(ALICE, icscf)).status
        await wait_until_async(wics[0].cancels, "the CANCEL of the losing branch (alice-1)")
        outcomes["terminate B"] = (await remote.call(BOB, icscf)).status
        # the caller ends bob's session (its last) through the I-CSCF, its Route the route set
        # (TERM_ICSCF_IN_DIALOG_ROUTE), once bob-1 has its ACK
        await wait_until_async(lambda: any(r.method == "ACK" for r in wics[2].incoming), "the ACK at bob-1")
        ended = await remote.in_dialog("BYE", via=icscf)
        outcomes["bye B through the I-CSCF"] = ended.status if ended is not None else 0
        acks = sum(r.method == "ACK" for r in remote.received)
        outcomes["terminate IMS user"] = (await remote.call("sip:carol@ims.example.net", icscf)).status
        if outcomes["terminate IMS user"] == 200:  # carol's UE is this remote party: its ACK comes back here
            await wait_until_async(
                lambda: sum(r.method == "ACK" for r in remote.received) > acks, "the ACK at carol's UE"
            )
        outcomes["terminate unregistered"] = (
            await remote.call("sip:wrtc-nobody@block1.ims.example.net", icscf)
        ).status
        # someone guesses a password from this address until the WWSF slows it (WWSF_THROTTLE_GUESSING):
        # the reference refuses the sixth failure of one user from one address 429
        for n in range(1, 8):
            guess = await login_attempt(stack.wwsf.origin, "mallory", f"guess-{n}", context)
            outcomes[f"guess {n}"] = guess.status
            if guess.status == 429:
                break
        for w in wics:
            await w.close()  # returns once the closing handshake is done; stop() then syncs on a probe
        await asyncio.to_thread(capture.stop)
    finally:
        await remote.stop()
        await stack.stop()
    return Run(capture.path, pixit, outcomes, Path(config.keylog or ""))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Run | str:
    try:
        return asyncio.run(asyncio.wait_for(scenario(tmp_path_factory.mktemp("verify-live")), 60))
    except CaptureUnavailable as exc:
        return f"capturing is impossible on this machine, and these tests need it: {exc}"


@pytest.fixture
def run(outcome: Run | str) -> Run:
    if isinstance(outcome, str):
        pytest.fail(outcome)
    return outcome


def verify(*argv: str) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["verify", *argv], out=out, err=err, load_topology=load_pixit)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def findings(report: Path) -> list[dict[str, Any]]:
    data = json.loads(report.read_text())
    return [{**f, "flow": flow["id"]} for flow in data["flows"] for f in flow["findings"]]


def test_the_run_did_what_the_scenario_says(run: Run) -> None:
    assert run.outcomes == {
        "register alice-1": 200, "register alice-2": 200, "register bob-1": 200, "register carol": 200,
        "originate A": 200, "originate B": 200, "terminate fork": 200, "terminate B": 200,
        "terminate IMS user": 200, "terminate unregistered": 480, "bye A": 200,
        "bye B through the I-CSCF": 200, "bye in no dialog": 403,
        "guess 1": 401, "guess 2": 401, "guess 3": 401, "guess 4": 401, "guess 5": 401, "guess 6": 429,
    }  # fmt: skip


def test_the_live_capture_verifies_every_rule_passes(run: Run, tmp_path: Path) -> None:
    report = tmp_path / "verdicts.json"
    status, out, err = verify(
        str(run.capture), "--pixit", str(run.pixit), "--keylog", str(run.stack_keys), "--json", str(report)
    )
    assert err == []
    assert status == 0, "\n".join(line for line in out if "PASS" not in line)
    assert out[-1] == "verdict: PASS"
    found = findings(report)
    assert {f["verdict"] for f in found} == {"pass"}
    assert {f["rule"] for f in found} == set(
        RULES
    ) - NOT_IN_THIS_RUN  # every other rule had something to check
    kinds = {k for flow in json.loads(report.read_text())["flows"] for k in flow["kinds"]}
    assert kinds >= {"block-registration", "wic-registration", "origination", "termination"}


def rewrite(packets: list[Packet], index: int, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` in the TCP segment ``packets[index]``; shift the sequence
    numbers after it in that direction and the acknowledgements of the other; recompute
    lengths and checksums."""
    segment = packets[index]
    ip, tcp = segment[IP], segment[TCP]
    payload = bytes(tcp.payload)
    tcp.remove_payload()
    tcp.add_payload(Raw(payload.replace(old, new, 1)))
    delta, end = len(new) - len(old), (tcp.seq + len(payload)) % 2**32
    ends = ((ip.src, tcp.sport), (ip.dst, tcp.dport))
    for packet in packets[index:]:
        if TCP not in packet:
            continue
        pip, ptcp = packet[IP], packet[TCP]
        side = ((pip.src, ptcp.sport), (pip.dst, ptcp.dport))
        if side == ends and packet is not segment and (ptcp.seq - end) % 2**32 < 2**31:
            ptcp.seq = (ptcp.seq + delta) % 2**32
        elif side == ends[::-1] and ptcp.flags.A and (ptcp.ack - end) % 2**32 < 2**31:
            ptcp.ack = (ptcp.ack + delta) % 2**32
        else:
            continue
        del pip.len, pip.chksum, ptcp.chksum
    del ip.len, ip.chksum, tcp.chksum


def write_pcapng(packets: list[Packet], path: Path, secrets_of: Path | None) -> Path:
    """Write ``packets``; with ``secrets_of``, put that capture's TLS secrets in a Decryption
    Secrets Block again (scapy cannot write one)."""
    writer = PcapNgWriter(str(path))
    for packet in packets:
        writer.write(packet)
    writer.close()
    if secrets_of is not None:
        with CaptureReader(secrets_of) as reader:
            keys = b"".join(item.data for item in reader if isinstance(item, SecretsBlock))
        inject_secrets(path, keys)
    return path


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (b"\r\nFrom: <sip:wrtc-alice@", b"\r\nFrom: <sip:wrtc-mallory@", "ORIG_FROM_UNTOUCHED"),
        (b"P-Asserted-Identity: <sip:wrtc-alice@", b"P-Asserted-Identity: <sip:wrtc-eve@", "ORIG_PAI_IMPU"),
    ],
)
def test_an_edited_capture_fails_that_rule_on_that_frame(
    run: Run, tmp_path: Path, old: bytes, new: bytes, rule: str
) -> None:
    """The INVITE of option A's origination on the clear-text eP-CSCF to S-CSCF leg: the only
    copy that carries both the P-Asserted-Identity the eP-CSCF added and the Service-Route
    it put on top as Route (5.2.2.5.3 steps 2-3)."""
    packets = list(rdpcap(str(run.capture)))
    index = next(
        i
        for i, p in enumerate(packets)
        if TCP in p
        and bytes(p[TCP].payload).startswith(b"INVITE sip:dave@remote.example.org SIP/2.0\r\n")
        and b"Route: <sip:orig@scscf" in bytes(p[TCP].payload)
        and old in bytes(p[TCP].payload)
    )
    rewrite(packets, index, old, new)
    path = write_pcapng(packets, tmp_path / "edited.pcapng", secrets_of=run.capture)
    report = tmp_path / "verdicts.json"
    status, out, err = verify(
        str(path), "--pixit", str(run.pixit), "--keylog", str(run.stack_keys), "--json", str(report)
    )
    assert status == 1 and err == []
    frame = index + 1
    failed = [f for f in findings(report) if f["verdict"] != "pass"]
    assert [(f["rule"], f["verdict"], f["frame"], f["leg"]) for f in failed] == [
        (rule, "fail", frame, "ep-cscf1/sip -> s-cscf")
    ]
    (line,) = [ln for ln in out if ln.split()[:1] == ["FAIL"]]
    assert line.split()[1] == rule and f"frame {frame} ep-cscf1/sip -> s-cscf:" in line
    assert out[-1] == "verdict: FAIL"


def test_without_the_tls_secrets_the_wic_legs_are_inconclusive(run: Run, tmp_path: Path) -> None:
    path = write_pcapng(list(rdpcap(str(run.capture))), tmp_path / "no-secrets.pcapng", secrets_of=None)
    report = tmp_path / "verdicts.json"
    status, _, err = verify(str(path), "--pixit", str(run.pixit), "--json", str(report))
    assert status == 1
    assert err and all("tls-no-secrets" in line for line in err)
    assert any("(WIC@" in line and "-> ep-cscf1/wss): TLS 1.3" in line for line in err)
    found = findings(report)
    assert "fail" not in {f["verdict"] for f in found}
    unsure = {f["rule"] for f in found if f["verdict"] == "inconclusive"}
    assert {"ORIG_FROM_UNTOUCHED", "TERM_FORK_ALL"} <= unsure
    unsure_details = [f for f in found if f["verdict"] == "inconclusive"]
    vague = [f for f in unsure_details if "could not be decrypted" not in f["detail"]]
    assert not vague, vague


def test_a_lab_capture_decrypts_with_the_stack_key_log_alone(run: Run, tmp_path: Path) -> None:
    """Issue 17: a lab captures the stack beside equipment whose key logs it does not have (a
    browser WIC). The capture without secrets, and only the stack's key log: every WSS and
    HTTPS connection decrypts (the stack logs as server, and as W6/W7 client) and every rule
    passes. The key log is as secret as a private key: mode 0600."""
    assert run.stack_keys.stat().st_mode & 0o777 == 0o600
    path = write_pcapng(list(rdpcap(str(run.capture))), tmp_path / "lab.pcapng", secrets_of=None)
    report = tmp_path / "verdicts.json"
    status, out, err = verify(
        str(path), "--pixit", str(run.pixit), "--keylog", str(run.stack_keys), "--json", str(report)
    )
    assert err == []  # no tls-no-secrets: every connection had its secrets in the stack's key log
    assert status == 0, "\n".join(line for line in out if "PASS" not in line)
    found = findings(report)
    assert {f["verdict"] for f in found} == {"pass"}
    assert {f["rule"] for f in found} == set(RULES) - NOT_IN_THIS_RUN
