"""Framing on streams (RFC 3261 18.3, RFC 5626 3.5.1) and on WebSocket (RFC 7118 5.2)."""

from __future__ import annotations

import pytest

from reference.sip.errors import FramingError, HeaderSyntaxError, MessageTooLarge
from reference.sip.framing import Framed, KeepAlive, StreamFramer, frame_websocket_message


def options(n: int, body: bytes = b"") -> bytes:
    return (
        f"OPTIONS sip:ep-cscf.example.net SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK{n}\r\n"
        f"To: <sip:ep-cscf.example.net>\r\nFrom: <sip:s-cscf.example.net>;tag={n}\r\n"
        f"Call-ID: call-{n}\r\nCSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def drain(framer: StreamFramer) -> list[Framed | KeepAlive]:
    return list(framer.events())


def test_stream_framer_cuts_two_messages_in_one_segment() -> None:
    framer = StreamFramer()
    framer.receive_data(options(1, b"hello") + options(2))
    items = drain(framer)
    assert [type(i) for i in items] == [Framed, Framed]
    first, second = items
    assert isinstance(first, Framed) and first.message is not None
    assert first.message.body == b"hello"
    assert isinstance(second, Framed) and second.message is not None
    assert second.message.cseq.number == 2
    assert framer.buffered == 0


def test_stream_framer_joins_one_message_over_many_segments() -> None:
    framer = StreamFramer()
    data = options(7, b"body with\r\n\r\nblank lines")
    collected: list[Framed | KeepAlive] = []
    for i in range(len(data)):
        framer.receive_data(data[i : i + 1])
        collected += drain(framer)
    assert len(collected) == 1
    item = collected[0]
    assert isinstance(item, Framed) and item.message is not None
    assert item.message.body == b"body with\r\n\r\nblank lines"


def test_stream_framer_reports_keepalive_ping_and_ignores_pong() -> None:
    framer = StreamFramer()
    framer.receive_data(b"\r\n\r\n")
    assert drain(framer) == [KeepAlive()]
    framer.receive_data(b"\r\n" + options(3))
    items = drain(framer)
    assert len(items) == 1 and isinstance(items[0], Framed)


def test_stream_framer_waits_on_a_partial_ping() -> None:
    framer = StreamFramer()
    framer.receive_data(b"\r\n\r")
    assert drain(framer) == []
    framer.receive_data(b"\n")
    assert drain(framer) == [KeepAlive()]


def test_stream_framer_requires_content_length() -> None:
    framer = StreamFramer()
    framer.receive_data(options(4).replace(b"Content-Length: 0\r\n", b""))
    with pytest.raises(FramingError, match="Content-Length"):
        drain(framer)
    # The stream is dead: it keeps failing, and new bytes are not buffered.
    framer.receive_data(options(5))
    with pytest.raises(FramingError):
        drain(framer)


def test_stream_framer_enforces_the_size_limit_on_headers_and_body() -> None:
    framer = StreamFramer(max_size=300)
    framer.receive_data(b"OPTIONS sip:x SIP/2.0\r\n" + b"X: " + b"a" * 400)
    with pytest.raises(FramingError, match="no end of headers"):
        drain(framer)
    framer = StreamFramer(max_size=400)
    framer.receive_data(options(6).replace(b"Content-Length: 0", b"Content-Length: 99999"))
    with pytest.raises(FramingError, match="over the limit"):
        drain(framer)


def test_stream_framer_survives_a_framed_but_invalid_message() -> None:
    framer = StreamFramer()
    framer.receive_data(options(8).replace(b"CSeq: 8 OPTIONS", b"CSeq: 8 INVITE") + options(9))
    bad, good = drain(framer)
    assert isinstance(bad, Framed) and bad.message is None
    assert isinstance(bad.error, HeaderSyntaxError)
    assert isinstance(good, Framed) and good.message is not None


def test_websocket_message_carries_exactly_one_sip_message() -> None:
    msg = frame_websocket_message(options(10, b"x").decode())
    assert msg.body == b"x"
    with pytest.raises(FramingError, match="one SIP message per WebSocket message"):
        frame_websocket_message(options(11) + options(12))


def test_websocket_message_size_limit() -> None:
    with pytest.raises(MessageTooLarge):
        frame_websocket_message(options(13, b"y" * 500), max_size=300)
