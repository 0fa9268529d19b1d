"""The capture of an external SUT by its ports (``World``, :func:`capture_ends`): a packet needs both
ends among the SUT's and the suite's addresses and one end at least on an address of the SUT or of
the suite's nodes, not only on 127.0.0.1, where the suite's clients connect from.

docs/validation.md, harness assumption 16: a Kamailio lab on the default address, with the same
ports as the run's lab on an address of its own, registered its block1 between two 127.0.0.1 ends,
and the capture took it for the SUT's (``BLK_SINGLE`` counted a second registration of block1).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from captures import CaptureUnavailable, LiveCapture, decode_file
from conformance.harness.scenario_capture import CLIENT_HOST, capture_ends

LAB = "127.0.94.1"
"""The SUT's loopback address in these tests (the Kamailio validation moves its lab to one like it)."""


def sip_request(call_id: str) -> bytes:
    return (
        "REGISTER sip:ims.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1\r\n"
        "Max-Forwards: 70\r\nTo: <sip:block1@wrtc.ims.example.net>\r\n"
        "From: <sip:block1@wrtc.ims.example.net>;tag=abc\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def test_an_external_sut_on_an_address_of_its_own_anchors_the_capture_there_not_on_127_0_0_1() -> None:
    within, anchors = capture_ends({LAB, "127.0.94.2"}, CLIENT_HOST)
    assert within == [CLIENT_HOST, LAB, "127.0.94.2"]
    assert anchors == [LAB, "127.0.94.2"]


def test_the_suite_peers_host_anchors_the_capture_unless_it_is_127_0_0_1() -> None:
    assert capture_ends({LAB}, "127.0.94.9") == ([CLIENT_HOST, LAB, "127.0.94.9"], [LAB, "127.0.94.9"])


def test_an_external_sut_on_127_0_0_1_anchors_the_capture_there() -> None:
    """A SUT listening on the default address: its packets have both ends there, and are kept (a
    second lab on that address with the same ports cannot be told from it: move the SUT)."""
    assert capture_ends({CLIENT_HOST}, CLIENT_HOST) == ([CLIENT_HOST], [CLIENT_HOST])


@pytest.mark.parametrize("method", ["dumpcap", "scapy"])
def test_a_packet_between_two_127_0_0_1_ends_on_a_lab_port_is_not_the_suts(
    tmp_path: Path, method: str
) -> None:
    """Live: the capture the harness builds for a SUT on ``LAB`` drops a datagram from 127.0.0.1 to
    127.0.0.1 on the SUT's port (another lab on the default address) and keeps those from 127.0.0.1
    to the SUT (a client) and from the SUT to 127.0.0.1."""
    port = free_udp_port(LAB)
    within, anchors = capture_ends({LAB}, CLIENT_HOST)
    capture = LiveCapture(
        tmp_path / "c.pcapng",
        [port],
        within=within,
        anchors=anchors,
        method=method,  # type: ignore[arg-type]
    )
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.fail(f"capturing is impossible on this machine, and this test needs it: {exc}")
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sut,
    ):
        client.bind((CLIENT_HOST, 0))
        sut.bind((LAB, 0))
        for number in range(10):
            client.sendto(sip_request(f"other-lab{number}"), (CLIENT_HOST, port))
            client.sendto(sip_request(f"to-sut{number}"), (LAB, port))
            sut.sendto(sip_request(f"from-sut{number}"), (CLIENT_HOST, port))
    capture.stop()
    found = [m.message.call_id for m in decode_file(capture.path).messages if m.message]
    assert found == [c for n in range(10) for c in (f"to-sut{n}", f"from-sut{n}")]


def test_anchors_must_be_addresses_within(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="anchors"):
        LiveCapture(tmp_path / "c.pcapng", [5060], within=[CLIENT_HOST], anchors=[LAB])
