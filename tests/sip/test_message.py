"""The message model's header look-ups: names compared in their long lower-case form
(RFC 3261 7.3.3 compact forms, 7.3.5 case-insensitive names), lines kept in order, and
every copy seeing its own lines (the per-message index is built from the copy, not shared)."""

from __future__ import annotations

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
