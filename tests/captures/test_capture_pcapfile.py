"""The pcap/pcapng reader against scapy's raw readers, and what it does that they do not:
report a file cut short, keep full 64 KiB loopback frames, read Decryption Secrets Blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from capturekit import CLIENT, SERVER, Flow, sip_request, udp, write
from scapy.utils import PcapWriter, RawPcapNgReader, RawPcapReader

from captures import CaptureFileError, CaptureReader, ProblemKind, decode_file, inject_secrets
from captures.pcapfile import TLS_KEY_LOG, Packet, SecretsBlock


def packets_of(path: Path) -> list[bytes]:
    with CaptureReader(path) as reader:
        return [item.data for item in reader if isinstance(item, Packet)]


def sample(tmp_path: Path, *, pcapng: bool) -> Path:
    flow = Flow()
    packets = (
        flow.handshake() + flow.send(0, sip_request(), segments=2) + [udp(CLIENT, SERVER, sip_request())]
    )
    return write(tmp_path / ("s.pcapng" if pcapng else "s.pcap"), packets, pcapng=pcapng)


@pytest.mark.parametrize("pcapng", [False, True])
def test_same_frames_as_scapys_raw_reader(tmp_path: Path, pcapng: bool) -> None:
    path = sample(tmp_path, pcapng=pcapng)
    reader = RawPcapNgReader if pcapng else RawPcapReader
    theirs = [data for data, _ in reader(str(path))]  # type: ignore[no-untyped-call]
    assert packets_of(path) == theirs and len(theirs) == 6


@pytest.mark.parametrize(("endianness", "nano"), [(">", False), ("<", True), (">", True)])
def test_both_byte_orders_and_nanosecond_pcap(tmp_path: Path, endianness: str, nano: bool) -> None:
    path = tmp_path / "t.pcap"
    writer = PcapWriter(str(path), linktype=1, endianness=endianness, nano=nano)
    packet = udp(CLIENT, SERVER, sip_request())
    packet.time = 1_700_000_000.5
    writer.write(packet)
    writer.close()
    (message,) = decode_file(path).messages
    assert message.time == pytest.approx(1_700_000_000.5)


def test_a_full_64k_loopback_frame_is_not_cut(tmp_path: Path) -> None:
    """scapy's raw readers cut frames at 65,535 bytes; a loopback frame can be 65,549."""
    flow = Flow()
    size = 65_495 - len(sip_request(method="MESSAGE")) - 4  # IP total length 65,535
    message = sip_request(method="MESSAGE", body=b"x" * size)
    assert len(message) == 65_495
    packets = flow.handshake() + flow.send(0, message)
    path = write(tmp_path / "big.pcap", packets)
    assert len(packets_of(path)[3]) > 65_535
    assert [m.raw for m in decode_file(path).messages] == [message]


@pytest.mark.parametrize("pcapng", [False, True])
def test_a_file_cut_short_keeps_what_came_before(tmp_path: Path, pcapng: bool) -> None:
    path = sample(tmp_path, pcapng=pcapng)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    with CaptureReader(path) as reader:
        assert len([i for i in reader if isinstance(i, Packet)]) == 5
        assert reader.truncated is not None and "ends inside" in reader.truncated
    decoded = decode_file(path)
    assert [p.kind for p in decoded.problems] == [ProblemKind.TRUNCATED]
    assert len(decoded.messages) == 1


def test_secrets_block_comes_out_before_the_packets(tmp_path: Path) -> None:
    path = sample(tmp_path, pcapng=True)
    inject_secrets(path, b"CLIENT_RANDOM 00 11\n")
    with CaptureReader(path) as reader:
        items = list(reader)
    assert items[0] == SecretsBlock(TLS_KEY_LOG, b"CLIENT_RANDOM 00 11\n")
    assert packets_of(path) == [data for data, _ in RawPcapNgReader(str(path))]  # type: ignore[no-untyped-call]


def test_secrets_cannot_go_into_a_pcap_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureFileError, match="not a pcapng"):
        inject_secrets(sample(tmp_path, pcapng=False), b"CLIENT_RANDOM 00 11\n")


def test_unknown_link_type_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    writer = PcapWriter(str(path), linktype=147)
    writer.write(bytes(udp(CLIENT, SERVER, sip_request())))
    writer.close()
    decoded = decode_file(path)
    assert [p.kind for p in decoded.problems] == [ProblemKind.LINK_TYPE, ProblemKind.NO_SIP]
    assert decoded.problems[0].where == "link type 147"


@pytest.mark.parametrize("content", [b"", b"not a capture file at all, really not"])
def test_not_a_capture_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureFileError):
        CaptureReader(path)
    with pytest.raises(CaptureFileError, match="no such file"):
        CaptureReader(tmp_path / "missing.pcap")
