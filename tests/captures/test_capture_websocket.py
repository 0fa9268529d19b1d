"""SIP over WebSocket (RFC 7118) from captures of websockets' own framing: the upgrade
(RFC 6455 4), masking (5.3), fragmentation with control frames between fragments
(5.4, 5.5), and permessage-deflate (RFC 7692) with and without context takeover."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from capturekit import Flow, WsPair, sip_request, sip_response, write

from captures import ProblemKind, decode_file
from captures.websocket import negotiated_deflate, unmask

MESSAGES = [sip_request(call_id=f"c{i}", cseq=i, body=b"v=0\r\n" * 20) for i in range(1, 4)]


def ws_capture(tmp_path: Path, pair: WsPair) -> list[tuple[str, str, bytes]]:
    flow = Flow()
    decoded = decode_file(write(tmp_path / "ws.pcap", flow.handshake() + pair.packets(flow)))
    assert decoded.problems == []
    return [(m.transport, m.start_line(), m.raw) for m in decoded.messages]


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_compressed_masked_messages_in_both_directions(tmp_path: Path, no_context_takeover: bool) -> None:
    pair = WsPair(deflate=True, no_context_takeover=no_context_takeover)
    pair.handshake()
    pair.send(0, MESSAGES)
    pair.send(1, [sip_response(call_id="c1")])
    found = ws_capture(tmp_path, pair)
    assert [t for t, _, _ in found] == ["HTTP", "HTTP", "WS", "WS", "WS", "WS"]
    assert found[0][1] == "GET / HTTP/1.1" and found[1][1].startswith("HTTP/1.1 101")
    assert [raw for _, _, raw in found[2:]] == [*MESSAGES, sip_response(call_id="c1")]


def test_the_frames_really_are_compressed_and_masked(tmp_path: Path) -> None:
    pair = WsPair(deflate=True)
    pair.handshake()
    pair.send(0, MESSAGES[:1])
    frame = pair.chunks[-1][1]
    assert frame[0] & 0x40 and frame[1] & 0x80  # RSV1 (RFC 7692 6) and MASK (RFC 6455 5.3)
    assert b"REGISTER" not in frame


@pytest.mark.parametrize("deflate", [False, True])
def test_fragmented_messages_with_a_ping_between_fragments(tmp_path: Path, deflate: bool) -> None:
    pair = WsPair(deflate=deflate)
    pair.handshake()
    pair.send(0, MESSAGES, fragments=3, ping=True)
    found = ws_capture(tmp_path, pair)
    assert [raw for _, _, raw in found[2:]] == MESSAGES


def test_frames_cut_across_tcp_segments(tmp_path: Path) -> None:
    pair = WsPair(deflate=True)
    pair.handshake()
    pair.send(0, MESSAGES)
    flow = Flow()
    packets = flow.handshake()
    for side, data in pair.chunks:
        packets += flow.send(side, data, segments=min(7, len(data)))
    decoded = decode_file(write(tmp_path / "ws.pcap", packets))
    assert [m.raw for m in decoded.messages if m.is_sip] == MESSAGES


def test_a_refused_upgrade_stays_http(tmp_path: Path) -> None:
    flow = Flow()
    request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    refusal = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
    again = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    packets = flow.handshake() + flow.send(0, request) + flow.send(0, again) + flow.send(1, refusal)
    decoded = decode_file(write(tmp_path / "t.pcap", packets))
    assert [(m.http.method, m.http.path, m.http.status) for m in decoded.messages if m.http] == [
        ("GET", "/", None),
        ("GET", "/", 403),
        ("GET", "/health", None),
    ]


def test_rsv1_without_negotiated_deflate_is_a_problem(tmp_path: Path) -> None:
    pair = WsPair(deflate=False)
    pair.handshake()
    payload = b"\r\n\r\nxx"
    pair.chunks.append((0, struct.pack("!BB", 0xC1, 0x80 | len(payload)) + b"\0\0\0\0" + payload))
    flow = Flow()
    decoded = decode_file(write(tmp_path / "ws.pcap", flow.handshake() + pair.packets(flow)))
    assert [p.kind for p in decoded.problems if p.kind is not ProblemKind.NO_SIP] == [ProblemKind.GARBAGE]


def test_unmask_is_an_involution() -> None:
    key = b"\x01\x02\x03\x04"
    data = bytes(range(37))
    assert unmask(unmask(data, key), key) == data
    assert unmask(b"\x00\x00\x00\x00\x00", key) == b"\x01\x02\x03\x04\x01"


def test_negotiated_deflate_reads_the_101_extension_header() -> None:
    header = "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    deflate = negotiated_deflate(header)
    assert deflate is not None
    assert deflate.server_no_context_takeover and not deflate.client_no_context_takeover
    assert negotiated_deflate("x-webkit-deflate-frame") is None
