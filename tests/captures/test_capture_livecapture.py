"""LiveCapture: dumpcap (or scapy) on loopback, every packet sent before stop() in the file,
secrets in a Decryption Secrets Block, and a typed error when capturing is impossible."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from capturekit import sip_request

from captures import (
    CaptureIncomplete,
    CaptureReader,
    CaptureUnavailable,
    LiveCapture,
    bpf_for_ports,
    decode_file,
)
from captures import capture as capture_module
from captures.pcapfile import TLS_KEY_LOG, SecretsBlock


def burst(port: int, count: int, *, pause: float = 0.0) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(count):
            sock.sendto(sip_request(call_id=f"b{number}"), ("127.0.0.1", port))
            if pause:
                time.sleep(pause)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("method", ["dumpcap", "scapy"])
def test_every_datagram_sent_between_start_and_stop_is_captured(tmp_path: Path, method: str) -> None:
    port = free_udp_port()
    count = 2000 if method == "dumpcap" else 200
    capture = LiveCapture(tmp_path / "c.pcapng", [port], method=method)  # type: ignore[arg-type]
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.fail(f"capturing is impossible on this machine, and this test needs it: {exc}")
    burst(port, count, pause=0.0 if method == "dumpcap" else 0.002)  # right after start()
    (capture.keylog_path).write_text("CLIENT_RANDOM 00 11\n")
    stats = capture.stop()
    assert stats.method == method and stats.complete
    decoded = decode_file(capture.path)
    assert [m.message.call_id for m in decoded.messages if m.message] == [f"b{n}" for n in range(count)]
    with CaptureReader(capture.path) as reader:
        assert next(iter(reader)) == SecretsBlock(TLS_KEY_LOG, b"CLIENT_RANDOM 00 11\n")


def test_the_scapy_fallback_does_not_hide_what_it_drops(tmp_path: Path) -> None:
    """An in-process sniffer falls behind a burst: then stop() must say so."""
    port = free_udp_port()
    capture = LiveCapture(tmp_path / "c.pcapng", [port], method="scapy")
    capture.start()
    burst(port, 3000)
    try:
        stats = capture.stop()
    except CaptureIncomplete as exc:
        assert "dropped" in str(exc)
        stats = capture.stats  # type: ignore[assignment]
        assert stats is not None and not stats.complete
    else:
        assert stats.complete
        assert len(decode_file(capture.path).messages) == 3000


def test_without_dumpcap_and_without_a_usable_interface_the_reason_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture_module.shutil, "which", lambda name: None)
    capture = LiveCapture(tmp_path / "c.pcapng", [5060], interface="no-such-if0")
    with pytest.raises(CaptureUnavailable) as error:
        capture.start(timeout=2)
    message = str(error.value)
    assert "dumpcap: not installed" in message and "scapy:" in message and "no-such-if0" in message


def test_dumpcap_refusing_the_interface_is_reported(tmp_path: Path) -> None:
    capture = LiveCapture(tmp_path / "c.pcapng", [5060], interface="no-such-if0", method="dumpcap")
    with pytest.raises(CaptureUnavailable, match="dumpcap: "):
        capture.start(timeout=5)


def test_filter_names_every_port_once() -> None:
    assert bpf_for_ports([5061, 5060, 5061]) == "port 5060 or port 5061"
    with pytest.raises(ValueError):
        bpf_for_ports([])


def test_a_capture_within_addresses_leaves_out_the_same_port_on_another_address(tmp_path: Path) -> None:
    """Ports with ``within``: a second stack using the same port numbers on another loopback address
    at the same time (a shared lab machine; seen when a benchmark ran beside the Kamailio
    validation) stays out of the capture; the SUT's own packets are all in it."""
    port = free_udp_port()
    sut, elsewhere = "127.0.93.1", "127.0.93.2"
    capture = LiveCapture(tmp_path / "c.pcapng", [port], within=[sut, "127.0.0.1"])
    assert capture.filter == (
        f"(port {port}) and (src host 127.0.0.1 or src host {sut}) and (dst host 127.0.0.1 or dst host {sut})"
    )
    try:
        capture.start()
    except CaptureUnavailable as exc:
        pytest.fail(f"capturing is impossible on this machine, and this test needs it: {exc}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(20):
            sock.sendto(sip_request(call_id=f"sut{number}"), (sut, port))
            sock.sendto(sip_request(call_id=f"other{number}"), (elsewhere, port))
    capture.stop()
    found = [m.message.call_id for m in decode_file(capture.path).messages if m.message]
    assert found == [f"sut{n}" for n in range(20)]
