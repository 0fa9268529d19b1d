"""``wimpu-conformance verify``: exit status, output, the JSON report, and one clear line per
bad input (partial results kept where possible), on small synthetic captures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from capturekit import Flow, udp, write
from scapy.utils import PcapWriter

from captures.cli import main
from conformance.pixit import load_pixit

EP_SIP, SCSCF = ("127.0.0.1", 5080), ("127.0.0.1", 5070)
CLIENT = ("127.0.0.1", 40000)
PROG = "wimpu-conformance"
BLOCK1 = "sip:wrtc-!.*!@block1.ims.example.net"
PIXIT = f"""
[s_cscf]
sip = "tcp://127.0.0.1:5070"
[i_cscf]
sip = "tcp://127.0.0.1:5060"
[registrar]
url = "http://127.0.0.1:8180"
[[ep_cscf]]
name = "ep-cscf1"
url = "wss://127.0.0.1:7443"
sip = "tcp://127.0.0.1:5080"
[[block]]
wimpu = "{BLOCK1}"
option = "A"
ep_cscf = "ep-cscf1"
"""

EP_CSCF2 = '[[ep_cscf]]\nname = "ep-cscf2"\n'


def run(*argv: str) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["verify", *argv], out=out, err=err, load_topology=load_pixit)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


@pytest.fixture
def pixit(tmp_path: Path) -> Path:
    path = tmp_path / "pixit.toml"
    path.write_text(PIXIT)
    return path


def register(cseq: int, *, authorization: bool) -> bytes:
    auth = (
        'Authorization: Digest username="block1@ims", realm="ims", nonce="n", uri="sip:ims", response="r"\r\n'
    )
    return (
        f"REGISTER sip:ims.example.net SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bKb{cseq}\r\n"
        "Max-Forwards: 70\r\nTo: <sip:block1@wrtc.ims.example.net>\r\n"
        "From: <sip:block1@wrtc.ims.example.net>;tag=a\r\nCall-ID: blk@127.0.0.1\r\n"
        f"CSeq: {cseq} REGISTER\r\nContact: <sip:block1@127.0.0.1:5080>;expires=600\r\n"
        "Path: <sip:term@127.0.0.1:5080;lr>\r\nExpires: 600\r\n"
        f"{auth if authorization else ''}Content-Length: 0\r\n\r\n"
    ).encode()


def answer(cseq: int, status: int) -> bytes:
    extra = (
        'WWW-Authenticate: Digest realm="ims", nonce="n"\r\n'
        if status == 401
        else f"P-Associated-URI: <sip:block1@wrtc.ims.example.net>, <{BLOCK1}>\r\n"
        "Contact: <sip:block1@127.0.0.1:5080>;expires=600\r\n"
    )
    return (
        f"SIP/2.0 {status} X\r\nVia: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bKb{cseq}\r\n"
        "To: <sip:block1@wrtc.ims.example.net>;tag=s\r\nFrom: <sip:block1@wrtc.ims.example.net>;tag=a\r\n"
        f"Call-ID: blk@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()


def block_registration(tmp_path: Path, *, challenged: bool = True, name: str = "b.pcap") -> Path:
    """5.2.2.5.1 from an ephemeral port of the eP-CSCF (its Via names 5080) to the S-CSCF."""
    flow = Flow(CLIENT, SCSCF)
    packets = flow.handshake()
    if challenged:
        packets += flow.send(0, register(1, authorization=False)) + flow.send(1, answer(1, 401))
    packets += flow.send(0, register(2, authorization=True)) + flow.send(1, answer(2, 200))
    return write(tmp_path / name, packets)


class TestExitStatus:
    def test_every_rule_passes_exit_0(self, tmp_path: Path, pixit: Path) -> None:
        status, out, err = run(str(block_registration(tmp_path)), "--pixit", str(pixit))
        assert (status, err) == (0, [])
        assert out[0].startswith("flow-1 block-registration  Call-ID blk@127.0.0.1  frames 4-7")
        assert any(line.split()[:2] == ["PASS", "BLK_CHALLENGE"] for line in out)
        assert "frame 7 s-cscf -> ep-cscf1/sip: challenged (frame 5), then 200 OK" in "\n".join(out)
        assert out[-1] == "verdict: PASS"

    def test_inconclusive_only_exit_3(self, tmp_path: Path, pixit: Path) -> None:
        status, out, err = run(str(block_registration(tmp_path, challenged=False)), "--pixit", str(pixit))
        assert (status, err) == (3, [])
        (line,) = [ln for ln in out if "BLK_CHALLENGE" in ln and "INCONCLUSIVE" in ln]
        assert "the challenge is not in the capture" in line
        assert out[-1] == "verdict: INCONCLUSIVE"

    def test_a_failed_rule_exit_1_names_rule_frame_and_leg(self, tmp_path: Path, pixit: Path) -> None:
        other = tmp_path / "other.toml"
        other.write_text(PIXIT.replace('ep_cscf = "ep-cscf1"', 'ep_cscf = "ep-cscf2"') + EP_CSCF2)
        status, out, _ = run(str(block_registration(tmp_path)), "--pixit", str(other))
        assert status == 1
        (line,) = [ln for ln in out if ln.split()[:1] == ["FAIL"]]
        assert line.split()[1] == "BLK_FROM_ITS_EP_CSCF"
        assert "frame 7 s-cscf -> ep-cscf1/sip:" in line and "belongs to ep-cscf2" in line
        assert out[-1] == "verdict: FAIL"

    def test_ports_alone_name_the_nodes(self, tmp_path: Path) -> None:
        ports = tmp_path / "ports.json"
        ports.write_text(json.dumps({"5070": "s-cscf", "5080": "ep-cscf1/sip"}))
        status, out, _ = run(str(block_registration(tmp_path)), "--ports", str(ports))
        assert status == 3  # no PIXIT: which block belongs to which eP-CSCF is unknown
        assert any("BLK_FROM_ITS_EP_CSCF" in ln and "the PIXIT gives no blocks" in ln for ln in out)

    def test_the_json_report(self, tmp_path: Path, pixit: Path) -> None:
        report = tmp_path / "out.json"
        status, _, _ = run(str(block_registration(tmp_path)), "--pixit", str(pixit), "--json", str(report))
        data = json.loads(report.read_text())
        assert status == data["summary"]["exit_status"] == 0
        (flow,) = data["flows"]
        assert flow["kinds"] == ["block-registration"] and flow["frames"] == [4, 7]
        assert {f["rule"]: f["verdict"] for f in flow["findings"]}["BLK_PATH"] == "pass"
        assert data["summary"]["verdicts"] == {"pass": 4} and data["problems"] == []

    def test_runs_as_a_module(self, tmp_path: Path, pixit: Path) -> None:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance.cli",
                "verify",
                str(block_registration(tmp_path)),
                "--pixit",
                str(pixit),
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent.parent.parent,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "verdict: PASS"


class TestUsage:
    def test_pixit_needs_the_suites_loader(self, tmp_path: Path, pixit: Path) -> None:
        """captures knows no PIXIT (the import graph runs one way): alone, it says who reads one."""
        out, err = io.StringIO(), io.StringIO()
        status = main(["verify", str(tmp_path / "x.pcap"), "--pixit", str(pixit)], out=out, err=err)
        assert status == 2 and out.getvalue() == ""
        assert "wimpu-conformance verify" in err.getvalue()

    def test_without_pixit_or_ports(self, tmp_path: Path) -> None:
        status, out, err = run(str(tmp_path / "x.pcap"))
        assert (status, out) == (2, [])
        assert err == [
            f"{PROG}: verify: error: give --pixit PIXIT.toml (or --ports PORTS.json) to name the nodes "
            "(no x.topology.json beside the capture)"
        ]

    def test_an_invalid_pixit(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.toml"
        bad.write_text("[[block]]\nwimpu = 'sip:x@y'\noption = 'A'\nep_cscf = 'nobody'\n")
        status, out, err = run(str(tmp_path / "x.pcap"), "--pixit", str(bad))
        assert (status, out, len(err)) == (2, [], 1)
        assert err[0].startswith(f"wimpu-conformance: verify: error: {bad}: ")

    def test_a_pixit_without_addresses_names_nothing(self, tmp_path: Path) -> None:
        reference = Path(__file__).parent.parent.parent / "conformance" / "reference-pixit.toml"
        status, _, err = run(str(tmp_path / "x.pcap"), "--pixit", str(reference))
        assert status == 2 and len(err) == 1 and "gives no node address (url, sip)" in err[0]

    def test_a_missing_pixit(self, tmp_path: Path) -> None:
        status, _, err = run(str(tmp_path / "x.pcap"), "--pixit", str(tmp_path / "none.toml"))
        assert status == 2 and err == [
            f"wimpu-conformance: verify: error: {tmp_path / 'none.toml'}: no such file"
        ]


class TestBadInput:
    """One clear line on stderr per problem, a non-zero exit, and what could be read still verified."""

    def test_missing_capture(self, tmp_path: Path, pixit: Path) -> None:
        status, _, err = run(str(tmp_path / "none.pcapng"), "--pixit", str(pixit))
        assert status == 1
        assert err == [f"wimpu-conformance: error: {tmp_path / 'none.pcapng'}: no such file"]

    def test_truncated_capture_keeps_what_came_before(self, tmp_path: Path, pixit: Path) -> None:
        path = block_registration(tmp_path)
        path.write_bytes(path.read_bytes()[:-40])
        status, out, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        assert len(err) == 1 and err[0].startswith("wimpu-conformance: truncated: ")
        assert any("BLK_CHALLENGE" in ln for ln in out)  # the 401 and the REGISTER before the cut
        assert out[-1] == "verdict: PROBLEMS"

    def test_unknown_link_type(self, tmp_path: Path, pixit: Path) -> None:
        path = tmp_path / "t.pcap"
        writer = PcapWriter(str(path), linktype=147)
        writer.write(bytes(udp(CLIENT, SCSCF, register(1, authorization=False))))
        writer.close()
        status, _, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        assert err == [
            "wimpu-conformance: unknown-link-type: link type 147: 1 frames skipped",
            "wimpu-conformance: no-sip: capture: no SIP message in 1 frames",
        ]

    def test_missing_key_log_is_reported_and_the_rest_verified(self, tmp_path: Path, pixit: Path) -> None:
        keys = tmp_path / "none.keys"
        status, out, err = run(
            str(block_registration(tmp_path)), "--pixit", str(pixit), "--keylog", str(keys)
        )
        assert status == 1
        assert err == [
            f"{PROG}: error: key log {keys}: no such file; verifying with the secrets in the capture only"
        ]
        assert "summary: 1 flows, 4 checks: 4 pass" in "\n".join(out)

    def test_tls_without_secrets_names_the_connection_and_its_nodes(
        self, tmp_path: Path, pixit: Path
    ) -> None:
        flow = Flow(CLIENT, ("127.0.0.1", 7443))
        hello = tls_record(1, b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x02" + b"\x01\x00")
        extensions = b"\x00\x2b\x00\x02\x03\x04"
        server = tls_record(2, b"\x03\x03" + bytes(32) + b"\x00\x13\x02\x00" + b"\x00\x06" + extensions)
        path = write(tmp_path / "t.pcap", flow.handshake() + flow.send(0, hello) + flow.send(1, server))
        status, _, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        connection = "127.0.0.1:40000 -> 127.0.0.1:7443 (WIC@40000 -> ep-cscf1/wss)"
        assert err[0].startswith(f"{PROG}: tls-no-secrets: {connection}: TLS 1.3")

    def test_garbage_in_a_stream(self, tmp_path: Path, pixit: Path) -> None:
        flow = Flow(CLIENT, SCSCF)
        path = write(tmp_path / "t.pcap", flow.handshake() + flow.send(0, b"\x00\xffnot sip\r\n\r\n"))
        status, _, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        assert err[0].startswith("wimpu-conformance: garbage: 127.0.0.1:40000 -> 127.0.0.1:5070")
        assert "(127.0.0.1:40000 -> s-cscf)" in err[0]

    def test_no_sip_at_all(self, tmp_path: Path, pixit: Path) -> None:
        flow = Flow(CLIENT, SCSCF)
        path = write(tmp_path / "t.pcap", flow.handshake() + flow.fin())
        status, out, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        assert err == ["wimpu-conformance: no-sip: capture: no SIP message in 5 frames"]
        assert (
            out[0]
            == "summary: 0 flows, 0 checks: 0 pass, 0 fail, 0 profile deviation, 0 inconclusive; 1 problems"
        )

    def test_sip_that_does_not_parse(self, tmp_path: Path, pixit: Path) -> None:
        bad = register(1, authorization=False).replace(b"CSeq: 1 REGISTER", b"CSeq: x REGISTER")
        path = write(tmp_path / "t.pcap", [udp(CLIENT, SCSCF, bad)])
        status, _, err = run(str(path), "--pixit", str(pixit))
        assert status == 1
        assert err[0].startswith(f"{PROG}: unparsable-sip: frame 1 127.0.0.1:40000 -> s-cscf: CSeq:")


def tls_record(handshake_type: int, body: bytes) -> bytes:
    message = bytes([handshake_type]) + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message


class TestStreaming:
    """Bounded memory on large traces: flows are judged and dropped as they close."""

    def test_flows_are_judged_as_they_close_and_not_kept(self) -> None:
        from test_flows import BLOCKS, WIC1, Wire, ends

        from captures.verify import Verifier

        w = Wire()
        for i in range(300):
            w.wic_registration(WIC1, call_id=f"r{i}")
            w.termination(call_id=f"t{i}", contacts=(WIC1,))
            w.time += 30
        verifier = Verifier(ends(), BLOCKS, quiet=64.0)
        judged, most_open = 0, 0
        for message in w.messages:
            verifier.receive_message(message)
            judged += len(verifier.results_ready())
            most_open = max(most_open, len(verifier.tracker._open))
        assert judged >= 590 and most_open <= 8
        judged += len(verifier.finish())
        assert judged == 600 == verifier.summary.flows
        assert verifier.summary.verdicts["fail"] == 0

    def test_the_knowledge_tables_are_bounded(self) -> None:
        from test_flows import WIC1, Wire, ends

        from captures.flows import FlowTracker, Knowledge

        w = Wire()
        for i in range(50):
            identity = f"sip:wrtc-u{i}@block1.ims.example.net"
            w.wic_registration(WIC1, identity=identity, call_id=f"r{i}", token=f"tok{i}x.y.z")
        knowledge = Knowledge(limit=10)
        tracker = FlowTracker(ends(), knowledge)
        for message in w.messages:
            tracker.receive(message)
        assert len(knowledge.tokens) == 10 and len(knowledge.contacts) == 10
