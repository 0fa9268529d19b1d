"""Parser: every kind of bad input gives a typed error, never a crash (RFC 3261 7, 18.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.sip.errors import (
    ContentLengthError,
    EncodingError,
    HeaderSyntaxError,
    MessageTooLarge,
    MissingHeaderError,
    ParseError,
    SipError,
    StartLineError,
)
from reference.sip.message import Request, Response
from reference.sip.parser import parse_message

REGISTER = (
    b"REGISTER sip:block1.ims.example.net SIP/2.0\r\n"
    b"Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:wrtc-alice@block1.ims.example.net>\r\n"
    b"From: <sip:wrtc-alice@block1.ims.example.net>;tag=a73kszlfl\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:h7kjh12s@df7jal23ls0d.invalid;transport=ws>"
    b';+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1;expires=600\r\n'
    b"Supported: path, gruu, outbound\r\n"
    b"Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def replace(old: bytes, new: bytes) -> bytes:
    assert old in REGISTER
    return REGISTER.replace(old, new)


def test_parser_reads_a_jssip_style_register() -> None:
    msg = parse_message(REGISTER)
    assert isinstance(msg, Request)
    assert msg.method == "REGISTER" and msg.uri == "sip:block1.ims.example.net"
    contact = msg.contacts[0]
    assert contact.param("+sip.instance") == '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'
    assert contact.param("reg-id") == "1" and contact.param("expires") == "600"
    assert msg.get_all("Supported") == ["path", "gruu", "outbound"]
    assert msg.top_via.transport == "WSS"
    assert msg.branch == "z9hG4bKnashds7"


def test_parser_keeps_contact_parameters_byte_for_byte() -> None:
    # sipmessage would percent-encode +sip.instance on re-serialising (tooling notes).
    msg = parse_message(REGISTER)
    assert msg.to_bytes() == REGISTER
    changed = msg.with_header("Path", "<sip:flow1@127.0.0.1;lr;ob>", first=True)
    assert b'+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"' in changed.to_bytes()
    instance = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'
    assert str(msg.contacts[0]).endswith(f";{instance};reg-id=1;expires=600")


def test_parser_reads_a_response() -> None:
    raw = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        b"To: <sip:a@b.example>;tag=x\r\nFrom: <sip:a@b.example>;tag=y\r\nCall-ID: c\r\n"
        b"CSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n"
    )
    msg = parse_message(raw)
    assert isinstance(msg, Response) and msg.status == 200 and msg.is_final


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (b"", ParseError, "no empty line"),
        (b"\x16\x03\x01\x02\x00garbage", ParseError, "no empty line"),
        (replace(b"REGISTER sip:block1", b"REGISTER  sip:block1"), StartLineError, "Method SP"),
        (replace(b" SIP/2.0\r\nVia", b" SIP/3.0\r\nVia"), StartLineError, "not supported"),
        (replace(b" SIP/2.0\r\nVia", b" HTTP/1.1\r\nVia"), StartLineError, "not a SIP version"),
        (replace(b"Max-Forwards: 70", b"Max-Forwards 70"), HeaderSyntaxError, "is not 'name: value'"),
        (replace(b"Max-Forwards: 70", b"Max-Forwards: seventy"), HeaderSyntaxError, "Max-Forwards"),
        (replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), HeaderSyntaxError, "Max-Forwards"),
        (replace(b"CSeq: 1 REGISTER", b"CSeq: one REGISTER"), HeaderSyntaxError, "CSeq"),
        (replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE"), HeaderSyntaxError, "differs"),
        (replace(b"Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\r\n", b""), MissingHeaderError, "Call-Id"),
        (replace(b"Via: SIP/2.0/WSS", b"Via: SIP/2.0 WSS"), HeaderSyntaxError, "Via"),
        (replace(b"To: <sip:wrtc", b"To: <sip wrtc"), HeaderSyntaxError, "To"),
        (replace(b"Content-Length: 0", b"Content-Length: 10"), ContentLengthError, "larger"),
        (replace(b"Content-Length: 0", b"Content-Length: x"), ContentLengthError, "not a number"),
        (replace(b"tag=a73kszlfl", b"tag=\xff\xfe"), EncodingError, "not UTF-8"),
        (replace(b"Contact: <sip:h7", b"Contact: *, <sip:h7"), HeaderSyntaxError, "only value"),
        (b"\r\n \r\n\r\n", ParseError, ""),
    ],
    ids=[
        "empty", "tls-bytes", "double-space", "sip-3.0", "http", "no-colon", "mf-text", "mf-256",
        "cseq-text", "cseq-method", "no-call-id", "via-syntax", "to-uri", "cl-too-big", "cl-text",
        "non-utf8", "contact-star-mixed", "whitespace-only",
    ],
)
def test_parser_rejects_bad_input_with_a_typed_error(
    data: bytes, error: type[SipError], fragment: str
) -> None:
    with pytest.raises(error) as info:
        parse_message(data)
    assert fragment in str(info.value)
    assert info.value.status in (400, 505)


def test_parser_rejects_oversized_messages() -> None:
    with pytest.raises(MessageTooLarge) as info:
        parse_message(REGISTER + b"x" * 100, max_size=len(REGISTER))
    assert info.value.status == 513


def test_garbage_that_is_not_sip_is_marked_for_dropping() -> None:
    with pytest.raises(ParseError) as info:
        parse_message(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert info.value.drop


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_parser_never_raises_anything_but_sip_errors_on_random_bytes(data: bytes) -> None:
    try:
        parse_message(data)
    except SipError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=len(REGISTER) - 1), st.binary(min_size=1, max_size=8))
def test_parser_never_crashes_on_a_mutated_register(position: int, noise: bytes) -> None:
    data = REGISTER[:position] + noise + REGISTER[position + len(noise) :]
    try:
        msg = parse_message(data)
    except SipError:
        return
    # Whatever parses must also serialise and expose its typed views without crashing.
    msg.to_bytes()
    for view in ("vias", "cseq", "from_", "to", "contacts"):
        try:
            getattr(msg, view)
        except SipError:
            pass
