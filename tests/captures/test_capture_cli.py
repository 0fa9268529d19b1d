"""``wimpu-conformance decode``: one line per SIP message, one line per problem, and an
exit status that says whether the capture decoded cleanly."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from capturekit import CLIENT, SERVER, Flow, sip_request, sip_response, udp, write
from scapy.utils import PcapWriter

from captures.cli import main


def run(*argv: str) -> tuple[int, list[str], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def clean_capture(tmp_path: Path) -> Path:
    flow = Flow()
    packets = (
        flow.handshake()
        + flow.send(0, sip_request(call_id="c-1"))
        + flow.send(1, sip_response(call_id="c-1"))
    )
    return write(tmp_path / "t.pcapng", packets, pcapng=True)


def test_one_line_per_sip_message_with_leg_names(tmp_path: Path) -> None:
    ports = tmp_path / "ports.json"
    ports.write_text(json.dumps({"5060": "s-cscf", "i-cscf": 40000}))
    status, out, err = run("decode", str(clean_capture(tmp_path)), "--ports", str(ports))
    assert (status, err) == (0, [])
    assert len(out) == 2
    assert "i-cscf -> s-cscf" in out[0] and "TCP" in out[0]
    assert "REGISTER sip:block1.ims.example.net SIP/2.0" in out[0]
    assert "Call-ID: c-1" in out[0] and "CSeq: 1 REGISTER" in out[0]
    assert "s-cscf -> i-cscf" in out[1] and "SIP/2.0 200 OK" in out[1]


def test_missing_file(tmp_path: Path) -> None:
    status, out, err = run("decode", str(tmp_path / "nothing.pcapng"))
    assert status == 1 and out == []
    assert err == [f"wimpu-conformance: error: {tmp_path / 'nothing.pcapng'}: no such file"]


def test_truncated_file_prints_what_it_could_and_warns(tmp_path: Path) -> None:
    path = clean_capture(tmp_path)
    path.write_bytes(path.read_bytes()[:-30])
    status, out, err = run("decode", str(path))
    assert status == 1 and len(out) == 1
    assert len(err) == 1 and err[0].startswith("wimpu-conformance: truncated: ")


def test_unknown_link_type(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    writer = PcapWriter(str(path), linktype=147)
    writer.write(bytes(udp(CLIENT, SERVER, sip_request())))
    writer.close()
    status, _, err = run("decode", str(path))
    assert status == 1
    assert err == [
        "wimpu-conformance: unknown-link-type: link type 147: 1 frames skipped",
        "wimpu-conformance: no-sip: capture: no SIP message in 1 frames",
    ]


def tls_record(handshake_type: int, body: bytes) -> bytes:
    message = bytes([handshake_type]) + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(message).to_bytes(2, "big") + message


def test_tls_without_secrets_names_the_connection(tmp_path: Path) -> None:
    flow = Flow()
    hello = tls_record(1, b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x02" + b"\x01\x00")
    extensions = b"\x00\x2b\x00\x02\x03\x04"  # supported_versions: TLS 1.3
    server = tls_record(2, b"\x03\x03" + bytes(32) + b"\x00\x13\x02\x00" + b"\x00\x06" + extensions)
    path = write(tmp_path / "t.pcap", flow.handshake() + flow.send(0, hello) + flow.send(1, server))
    status, _, err = run("decode", str(path))
    assert status == 1
    assert err[0].startswith("wimpu-conformance: tls-no-secrets: 127.0.0.1:40000 -> 127.0.0.1:5060: TLS 1.3")


def test_garbage_in_a_stream(tmp_path: Path) -> None:
    flow = Flow()
    path = write(tmp_path / "t.pcap", flow.handshake() + flow.send(0, b"\x00\xffnot sip\r\n\r\n"))
    status, _, err = run("decode", str(path))
    assert status == 1
    assert err[0].startswith(
        "wimpu-conformance: garbage: 127.0.0.1:40000 -> 127.0.0.1:5060: not TLS, HTTP or SIP"
    )


def test_no_sip_at_all(tmp_path: Path) -> None:
    flow = Flow()
    path = write(tmp_path / "t.pcap", flow.handshake() + flow.fin())
    assert run("decode", str(path)) == (
        1,
        [],
        ["wimpu-conformance: no-sip: capture: no SIP message in 5 frames"],
    )


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "captures.cli", "decode", str(clean_capture(tmp_path))],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
