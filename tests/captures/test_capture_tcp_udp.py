"""SIP over TCP and UDP from synthetic captures: reassembly by sequence number
(RFC 9293 3.4), framing by Content-Length (RFC 3261 18.3), one message per datagram."""

from __future__ import annotations

from pathlib import Path

from capturekit import CLIENT, SERVER, Flow, sip_request, sip_response, udp, write

from captures import ProblemKind, decode_file
from captures.tcp import Reassembler


def starts(path: Path) -> list[str]:
    return [m.start_line() for m in decode_file(path).messages]


def test_segments_out_of_order_are_delivered_in_sequence_order(tmp_path: Path) -> None:
    flow = Flow()
    first, second = sip_request(call_id="a"), sip_request(call_id="b")
    packets = flow.handshake() + flow.send(0, first) + flow.send(0, second)
    packets[3], packets[4] = packets[4], packets[3]
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [m.message.call_id for m in decoded.messages if m.message] == ["a", "b"]
    assert [m.raw for m in decoded.messages] == [first, second]
    assert decoded.problems == []


def test_retransmitted_segments_are_not_decoded_twice(tmp_path: Path) -> None:
    flow = Flow()
    data = sip_request()
    packets = flow.handshake() + flow.send(0, data, segments=2)
    packets += [packets[3], packets[4], packets[3]]  # both halves again
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [m.raw for m in decoded.messages] == [data]


def test_a_repacketised_retransmission_adds_only_the_new_bytes(tmp_path: Path) -> None:
    flow = Flow()
    data = sip_request()
    packets = flow.handshake()
    start = flow.seq[0]
    packets += flow.send(0, data[:50])
    flow.seq[0] = start  # the sender resends from the start, with more bytes
    packets += flow.send(0, data)
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [m.raw for m in decoded.messages] == [data]


def test_two_messages_in_one_segment(tmp_path: Path) -> None:
    flow = Flow()
    both = sip_request(call_id="a") + sip_response(call_id="a")
    decoded = decode_file(write(tmp_path / "t.pcap", flow.handshake() + flow.send(0, both)))
    assert [m.start_line() for m in decoded.messages] == [
        "REGISTER sip:block1.ims.example.net SIP/2.0",
        "SIP/2.0 200 OK",
    ]


def test_one_message_over_three_segments(tmp_path: Path) -> None:
    flow = Flow()
    data = sip_request(method="MESSAGE", body=b"x" * 300)
    packets = flow.handshake() + flow.send(0, data, segments=3)
    assert len(packets) == 6
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [m.raw for m in decoded.messages] == [data]
    assert decoded.messages[0].time == 1_700_000_000 + 5 / 1000  # the segment that completed it


def test_both_directions_and_endpoints(tmp_path: Path) -> None:
    flow = Flow()
    packets = flow.handshake() + flow.send(0, sip_request()) + flow.send(1, sip_response()) + flow.fin()
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    request, response = decoded.messages
    assert (request.src, request.dst, request.transport) == (CLIENT, SERVER, "TCP")
    assert (response.src, response.dst) == (SERVER, CLIENT)
    assert request.connection == response.connection == 1
    assert decoded.problems == []


def test_udp_datagrams_carry_one_message_each(tmp_path: Path) -> None:
    packets = [udp(CLIENT, SERVER, sip_request(call_id="u")), udp(SERVER, CLIENT, sip_response(call_id="u"))]
    packets.append(udp(CLIENT, SERVER, b"\r\n\r\n"))  # keep-alive: not a message
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [(m.transport, m.start_line()) for m in decoded.messages] == [
        ("UDP", "REGISTER sip:block1.ims.example.net SIP/2.0"),
        ("UDP", "SIP/2.0 200 OK"),
    ]


def test_a_datagram_that_does_not_parse_keeps_its_bytes_and_error(tmp_path: Path) -> None:
    bad = sip_request().replace(b"CSeq: 1 REGISTER", b"CSeq: x REGISTER")
    decoded = decode_file(write(tmp_path / "t.pcap", [udp(CLIENT, SERVER, bad)]))
    (message,) = decoded.messages
    assert message.message is None and message.error is not None and message.raw == bad


def test_garbage_on_a_stream_is_reported_and_the_rest_of_it_skipped(tmp_path: Path) -> None:
    flow = Flow()
    packets = flow.handshake() + flow.send(0, b"\x00\x01garbage\r\n") + flow.send(1, sip_response())
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [p.kind for p in decoded.problems] == [ProblemKind.GARBAGE]
    assert [m.start_line() for m in decoded.messages] == ["SIP/2.0 200 OK"]


def test_a_missing_segment_is_reported_as_a_gap(tmp_path: Path) -> None:
    flow = Flow()
    packets = flow.handshake() + flow.send(0, sip_request(), segments=3)
    del packets[4]
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert decoded.messages == []
    assert ProblemKind.GAP in [p.kind for p in decoded.problems]


class TestReassembler:
    """RFC 9293 3.4: sequence numbers modulo 2**32."""

    def test_sequence_numbers_wrap_around(self) -> None:
        r = Reassembler()
        assert r.receive(0xFFFFFFFE, 0x02, b"") == b""  # SYN
        assert r.receive(0xFFFFFFFF, 0x18, b"ab") == b"ab"
        assert r.receive(3, 0x18, b"e") == b""  # ahead of a hole
        assert r.receive(1, 0x18, b"cd") == b"cde"
        assert r.receive(2, 0x18, b"def") == b"f"  # overlaps what was delivered

    def test_without_a_syn_the_first_segment_starts_the_stream(self) -> None:
        r = Reassembler()
        assert r.receive(500, 0x18, b"xy") == b"xy"
        assert r.receive(500, 0x18, b"xy") == b""

    def test_fin_ends_the_stream_once_every_byte_is_in(self) -> None:
        r = Reassembler()
        r.receive(10, 0x02, b"")
        assert r.receive(14, 0x11, b"") == b"" and not r.eof  # FIN before the data
        assert r.receive(11, 0x18, b"abc") == b"abc" and r.eof


def test_ipv6_and_linux_cooked_captures(tmp_path: Path) -> None:
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import CookedLinux
    from scapy.packet import Raw
    from scapy.utils import PcapWriter

    path = tmp_path / "t.pcap"
    writer = PcapWriter(str(path), linktype=113)
    writer.write(
        CookedLinux(proto=0x86DD)
        / IPv6(src="::1", dst="::1")
        / UDP(sport=5070, dport=5060)
        / Raw(sip_request())
    )
    writer.close()
    (message,) = decode_file(path).messages
    assert (message.src, message.dst, message.transport) == (("::1", 5070), ("::1", 5060), "UDP")


def test_each_connection_tells_who_opened_it_when_each_side_first_sent_and_when_it_closed(
    tmp_path: Path,
) -> None:
    """What the rules learn of a connection itself (``TcpConnection``): a client that sent and a
    server that never answered (a wIMPU Registrar that did not even complete a TLS handshake), and a
    connection that closed (a WIC's WebSocket gone)."""
    answered, silent = Flow(), Flow(server=(SERVER[0], SERVER[1] + 1))
    packets = answered.handshake() + answered.send(0, sip_request()) + answered.send(1, sip_response())
    packets += answered.fin() + silent.handshake() + silent.send(0, b"\x16\x03\x01 a ClientHello")
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    first, second = decoded.connections
    start = 1_700_000_000.0
    assert (first.client, first.server, first.frame, first.handshake) == (CLIENT, SERVER, 1, True)
    assert (first.opened, first.client_data, first.server_data) == (start, start + 0.003, start + 0.004)
    assert (
        first.closed == start + 0.005
        and first.closed_by(start + 0.005)
        and not first.closed_by(start + 0.004)
    )
    assert (second.client, second.frame, second.opened) == (CLIENT, 8, start + 0.007)
    assert second.client_data == start + 0.010 and second.server_data is None and second.closed is None
    assert not second.answered_by(start + 60)


def test_a_connection_joined_under_way_is_marked_so(tmp_path: Path) -> None:
    """The capture began after the SYN: which end opened it is a guess, and the rules that ask who
    opened a connection leave it out."""
    flow = Flow()
    flow.handshake()
    decoded = decode_file(
        write(tmp_path / "t.pcap", flow.send(1, sip_response()) + flow.send(0, sip_request()))
    )
    (connection,) = decoded.connections
    assert not connection.handshake and connection.client == SERVER
