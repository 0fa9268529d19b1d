"""IP fragments put back together (RFC 791 3.2, RFC 8200 4.5) so that SIP over UDP from lab
traces decodes, and bounded: what cannot be reassembled is dropped and reported."""

from __future__ import annotations

from pathlib import Path

from capturekit import CLIENT, SERVER, Flow, sip_request, write
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from captures import ProblemKind, decode_file
from captures.packets import Datagram, Defragmenter, Fragment, parse_frame

INVITE = sip_request("INVITE", call_id="frag-1", body=b"v=0\r\n" + b"a=x-filler:" + b"y" * 3000 + b"\r\n")


def v4_fragments(payload: bytes = INVITE, size: int = 1200, ident: int = 7) -> list[Packet]:
    datagram = (
        IP(src=CLIENT[0], dst=SERVER[0], id=ident) / UDP(sport=CLIENT[1], dport=SERVER[1]) / Raw(payload)
    )
    return [Ether() / f for f in fragment(datagram, fragsize=size)]


def v6_fragments(payload: bytes = INVITE, size: int = 1280) -> list[Packet]:
    datagram = (
        IPv6(src="::1", dst="::1")
        / IPv6ExtHdrFragment(id=0x1234)
        / UDP(sport=CLIENT[1], dport=SERVER[1])
        / Raw(payload)
    )
    return [Ether() / f for f in fragment6(datagram, size)]


def decoded_raw(tmp_path: Path, packets: list[Packet]) -> tuple[list[bytes], list[str]]:
    decoded = decode_file(write(tmp_path / "f.pcap", packets))
    return [m.raw for m in decoded.messages], [str(p) for p in decoded.problems]


class TestIpv4:
    """RFC 791 3.2: fragments of one datagram share source, destination, protocol and id."""

    def test_an_invite_over_three_fragments_decodes_as_one_message(self, tmp_path: Path) -> None:
        packets = v4_fragments()
        assert len(packets) == 3
        raws, problems = decoded_raw(tmp_path, packets)
        assert (raws, problems) == ([INVITE], [])

    def test_out_of_order_and_duplicated_fragments(self, tmp_path: Path) -> None:
        first, second, third = v4_fragments()
        raws, problems = decoded_raw(tmp_path, [third, first, third, second])
        assert (raws, problems) == ([INVITE], [])

    def test_two_datagrams_interleaved_are_kept_apart_by_their_id(self, tmp_path: Path) -> None:
        other = sip_request("INVITE", call_id="frag-2", body=b"z" * 2500)
        a, b = v4_fragments(ident=1), v4_fragments(other, ident=2)
        raws, problems = decoded_raw(tmp_path, [a[0], b[0], a[1], b[1], b[2], a[2]])
        assert (raws, problems) == ([other, INVITE], [])

    def test_a_missing_fragment_is_reported_and_nothing_decoded(self, tmp_path: Path) -> None:
        first, _, third = v4_fragments()
        decoded = decode_file(write(tmp_path / "f.pcap", [first, third]))
        assert decoded.messages == []
        kinds = [p.kind for p in decoded.problems]
        assert ProblemKind.NOT_DECODED in kinds
        (problem,) = [p for p in decoded.problems if p.kind is ProblemKind.NOT_DECODED]
        assert problem.where == "IPv4 fragments: incomplete at the end of the capture"
        assert "1 datagrams dropped (first: 127.0.0.1 -> 127.0.0.1 id 0x7)" in problem.detail

    def test_overlapping_fragments_with_different_bytes_are_dropped(self) -> None:
        first, second, third = v4_fragments()
        forged = second.copy()
        forged[Raw].load = b"X" * len(second[Raw].load)
        defrag = Defragmenter()
        for packet in (first, second, forged, third):
            frame = parse_frame(1, bytes(packet))
            assert isinstance(frame, Fragment)
            assert defrag.receive(frame, 0.0) is None
        assert list(defrag.dropped) == [
            "IPv4 fragments: overlapping fragments with different bytes (RFC 5722)"
        ]


class TestIpv6:
    """RFC 8200 4.5: the Fragment header; the first fragment's Next Header is the payload's."""

    def test_fragmented_udp_over_ipv6(self, tmp_path: Path) -> None:
        packets = v6_fragments()
        assert len(packets) >= 3
        decoded = decode_file(write(tmp_path / "f.pcap", packets[::-1]))
        (message,) = decoded.messages
        assert message.raw == INVITE and message.src == ("::1", CLIENT[1]) and message.transport == "UDP"
        assert decoded.problems == []

    def test_an_atomic_fragment_is_a_whole_datagram(self) -> None:
        packet = Ether() / IPv6(src="::1", dst="::1") / IPv6ExtHdrFragment(id=5, m=0, offset=0)
        frame = parse_frame(1, bytes(packet / UDP(sport=1000, dport=5060) / Raw(b"hello")))
        assert frame == Datagram(("::1", 1000), ("::1", 5060), b"hello")


class TestBounds:
    def test_a_datagram_waiting_longer_than_the_timeout_is_dropped(self) -> None:
        defrag = Defragmenter(timeout=30.0)
        first, second, third = (parse_frame(1, bytes(p)) for p in v4_fragments())
        assert isinstance(first, Fragment) and isinstance(second, Fragment) and isinstance(third, Fragment)
        assert defrag.receive(first, 0.0) is None
        assert defrag.receive(second, 31.0) is None  # the first one expired: a new datagram starts
        assert defrag.receive(third, 31.5) is None
        assert defrag.dropped["IPv4 fragments: incomplete after 30 s"] == 1

    def test_at_most_max_pending_datagrams_wait(self) -> None:
        defrag = Defragmenter(max_pending=4)
        for ident in range(10):
            frame = parse_frame(1, bytes(v4_fragments(ident=ident)[0]))
            assert isinstance(frame, Fragment)
            defrag.receive(frame, 0.0)
        assert len(defrag._pending) == 4
        assert defrag.dropped["IPv4 fragments: more than 4 datagrams in reassembly at once"] == 6

    def test_a_datagram_over_65535_bytes_is_dropped(self) -> None:
        frame = parse_frame(1, bytes(v4_fragments()[0]))
        assert isinstance(frame, Fragment)
        defrag = Defragmenter()
        assert defrag.receive(frame._replace(offset=65_000, more=False), 0.0) is None
        assert defrag.dropped["IPv4 fragments: larger than 65,535 bytes"] == 1


def test_tcp_segments_over_fragments_still_reassemble(tmp_path: Path) -> None:
    flow = Flow()
    packets = flow.handshake()
    data = sip_request("MESSAGE", call_id="t", body=b"q" * 2000)
    (segment,) = flow.send(0, data)
    pieces = [Ether() / f for f in fragment(segment[IP], fragsize=800)]
    raws, problems = decoded_raw(tmp_path, packets + pieces)
    assert (raws, problems) == ([data], [])
