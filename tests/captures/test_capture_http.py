"""HTTP/1.1 framing (RFC 9112 6.3, 7.1) for W6/W7 and the WWSF, and the first bytes of a
stream deciding what it carries."""

from __future__ import annotations

from pathlib import Path

from capturekit import Flow, TlsPair, sip_request, write

from captures import KeyLog, decode_file
from captures.model import WireMessage
from reference.tls import TestPki


def http_of(
    tmp_path: Path, client: list[bytes], server: list[bytes], *, segments: int = 1
) -> list[WireMessage]:
    flow = Flow(server=("127.0.0.1", 8080))
    packets = flow.handshake()
    for data in client:
        packets += flow.send(0, data, segments=segments)
    for data in server:
        packets += flow.send(1, data, segments=segments)
    packets += flow.fin()
    decoded = decode_file(write(tmp_path / "h.pcap", packets))
    return decoded.messages


W7 = b"GET /w7/v1/registration-status?identity=sip:a@b HTTP/1.1\r\nHost: r\r\n\r\n"
W6 = b"PUT /w6/v1/registrations/sip:a@b/contacts/c1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"


def test_pipelined_requests_and_their_responses_are_paired(tmp_path: Path) -> None:
    ok = b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: application/json\r\n\r\n{"found":true}'[:-1]
    created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    found = http_of(tmp_path, [W7 + W6], [ok + created])
    assert [(m.http.method, m.http.path.split("/")[1], m.http.status) for m in found if m.http] == [
        ("GET", "w7", None),
        ("PUT", "w6", None),
        ("GET", "w7", 200),
        ("PUT", "w6", 201),
    ]
    assert found[1].http is not None and found[1].http.body == b"{}"
    assert found[2].http is not None and found[2].http.header("content-type") == "application/json"


def test_chunked_body_and_interim_response(tmp_path: Path) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n"
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    found = http_of(tmp_path, [W6], [interim + chunked], segments=4)
    assert [m.http.status for m in found if m.http] == [None, 100, 200]
    assert found[2].http is not None and found[2].http.body == b"hello world"
    assert found[2].http.method == "PUT"


def test_a_response_without_length_ends_with_the_connection(tmp_path: Path) -> None:
    found = http_of(tmp_path, [W7], [b"HTTP/1.1 200 OK\r\n\r\nuntil the end"])
    assert found[-1].http is not None and found[-1].http.body == b"until the end"


def test_one_byte_at_a_time_still_finds_tls_http_and_sip(tmp_path: Path) -> None:
    request = sip_request()
    flow = Flow()
    packets = flow.handshake() + flow.send(0, b"\r\n\r\n" + request, segments=len(request) + 4)
    assert [m.raw for m in decode_file(write(tmp_path / "s.pcap", packets)).messages] == [request]
    found = http_of(tmp_path, [W7], [b"HTTP/1.1 204 No Content\r\n\r\n"], segments=len(W7))
    assert [m.http.status for m in found if m.http] == [None, 204]


def test_a_tls_stream_cut_into_single_bytes(tmp_path: Path) -> None:
    pki = TestPki(tmp_path / "pki")
    pair = TlsPair(pki.client_context(keylog_file=str(tmp_path / "keys")), pki.server_context("s"))
    pair.handshake()
    pair.send(0, sip_request())
    flow = Flow()
    packets = flow.handshake()
    for side, data in pair.chunks:
        packets += flow.send(side, data, segments=len(data) if side == 0 else 1)
    decoded = decode_file(write(tmp_path / "t.pcap", packets), keylog=KeyLog.from_file(tmp_path / "keys"))
    assert decoded.problems == [] and [m.transport for m in decoded.messages] == ["TLS"]
