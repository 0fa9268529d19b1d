"""The message model's header look-ups: names compared in their long lower-case form
(RFC 3261 7.3.3 compact forms, 7.3.5 case-insensitive names), lines kept in order, and
every copy seeing its own lines (the per-message index is built from the copy, not shared)."""

from __future__ import annotations

import pytest

from reference.sip.errors import HeaderSyntaxError
from reference.sip.message import Header, Request, canonical_name
from reference.sip.parser import parse_message

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/TCP a.example;branch=z9hG4bK1, SIP/2.0/TCP b.example;branch=z9hG4bK2\r\n"
    b"VIA: SIP/2.0/WSS c.invalid;branch=z9hG4bK3\r\n"
    b"f: <sip:alice@example.com>;tag=1\r\n"
    b"t: <sip:bob@example.com>\r\n"
    b"i: call-1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Max-Forwards: 70\r\n"
    b"l: 0\r\n"
    b"\r\n"
)


def test_a_header_line_knows_its_long_lower_case_name() -> None:
    assert Header("v", "x").key == "via"
    assert Header("CALL-ID", "x").key == "call-id"
    assert Header("X-Odd", "x").key == canonical_name("x-odd") == "x-odd"


def test_compact_and_long_names_find_the_same_lines_in_order() -> None:
    msg = parse_message(INVITE)
    vias = [
        "SIP/2.0/TCP a.example;branch=z9hG4bK1",
        "SIP/2.0/TCP b.example;branch=z9hG4bK2",
        "SIP/2.0/WSS c.invalid;branch=z9hG4bK3",
    ]
    assert msg.get_all("Via") == msg.get_all("v") == vias
    assert msg.get("call-id") == msg.call_id == "call-1"
    assert msg.has("Content-Length") and not msg.has("Route")
    assert msg.get("Route") is None and msg.get_all("Route") == []


def test_every_copy_sees_its_own_lines_after_a_look_up() -> None:
    msg = parse_message(INVITE)
    assert isinstance(msg, Request)
    assert msg.get("Record-Route") is None  # the original's index is built here
    added = msg.with_header("Record-Route", "<sip:p.example;lr>", first=True)
    assert added.get_all("Record-Route") == ["<sip:p.example;lr>"]
    assert msg.get("Record-Route") is None
    stripped = added.without_first_value("Via")
    assert stripped.get_all("Via")[0] == "SIP/2.0/TCP b.example;branch=z9hG4bK2"
    assert stripped.without_header("Via").get_all("Via") == []
    assert added.with_header_set("Max-Forwards", "69").get("Max-Forwards") == "69"
    assert added.with_uri("sip:x@example.com").get_all("Record-Route") == ["<sip:p.example;lr>"]


def test_copies_compare_and_hash_by_their_lines_only() -> None:
    msg = parse_message(INVITE)
    again = parse_message(INVITE)
    msg.get("Via")  # one has its index, the other not
    assert msg == again and hash(msg) == hash(again)


def test_the_top_via_is_the_first_value_of_the_first_line() -> None:
    msg = parse_message(INVITE)
    assert msg.first_value("Via") == "SIP/2.0/TCP a.example;branch=z9hG4bK1"
    assert msg.top_via.host == "a.example" and msg.branch == "z9hG4bK1"
    assert str(msg.top_via) == str(msg.vias[0])
    assert msg.first_value("Route") is None


def test_a_first_value_with_quotes_or_brackets_keeps_their_commas() -> None:
    msg = Request(
        headers=(Header("Route", '"a, b" <sip:p.example;lr>, <sip:q.example;lr>'),), body=b"", method="BYE"
    )
    assert msg.first_value("Route") == '"a, b" <sip:p.example;lr>'
    assert msg.first_value("Route") == msg.get_all("Route")[0]


def test_a_top_via_that_is_empty_or_unterminated_is_a_syntax_error() -> None:
    for value in (", SIP/2.0/TCP b.example;branch=z9hG4bK2", 'SIP/2.0/TCP a.example;x="open'):
        msg = Request(headers=(Header("Via", value),), body=b"", method="BYE")
        with pytest.raises(HeaderSyntaxError):
            _ = msg.top_via
    with pytest.raises(HeaderSyntaxError):
        _ = Request(headers=(), body=b"", method="BYE").top_via
