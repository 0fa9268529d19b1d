"""The dialects of the emulated WIC (conformance.harness.dialects, docs/dialects.md): each one's
REGISTER, de-REGISTER, INVITE, in-dialog request and answers as an incoming INVITE's UAS, in the
shapes its source says; the suite's own shape stays the default of every WIC."""

from __future__ import annotations

import re
import ssl

import pytest

from conformance.harness import dialects
from conformance.harness.dialects import HARNESS, JSSIP, SIPJS, SIPML5, Dialect
from conformance.harness.wic import Wic
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response

ALICE = "sip:wrtc-alice@block1.ims.example.net"
DAVE = "sip:dave@remote.example.org"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"


def wic(dialect: Dialect = HARNESS) -> Wic:
    return Wic("A1", ssl_context=ssl.create_default_context(), dialect=dialect)


def names(message: Request | Response) -> list[str]:
    """The header field names of ``message``, in order, as written."""
    head = message.to_bytes().split(b"\r\n\r\n", 1)[0].decode()
    return [line.split(":", 1)[0] for line in head.split("\r\n")[1:]]


def line(message: Request | Response, name: str) -> str | None:
    """The value of the first ``name`` line exactly as written."""
    head = message.to_bytes().split(b"\r\n\r\n", 1)[0].decode()
    found = [v.strip() for n, _, v in (x.partition(":") for x in head.split("\r\n")[1:]) if n == name]
    return found[0] if found else None


def ok_to(invite: Request) -> Response:
    """A 2xx to ``invite`` through one record-routing proxy, with the remote target's Contact."""
    text = (
        "SIP/2.0 200 OK\r\n"
        f"Via: {invite.get('Via')}\r\nFrom: {invite.get('From')}\r\nTo: {invite.get('To')};tag=r1\r\n"
        f"Call-ID: {invite.call_id}\r\nCSeq: {invite.cseq.number} INVITE\r\n"
        "Record-Route: <sip:flow@127.0.0.1:5080;transport=tcp;lr>\r\n"
        "Contact: <sip:remote@127.0.0.1:5999;transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    )
    response = frame_websocket_message(text)
    assert isinstance(response, Response)
    return response


def incoming_invite() -> Request:
    text = (
        "INVITE sip:u@h.invalid;transport=ws SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bKabc\r\n"
        "Record-Route: <sip:flow@127.0.0.1:5080;transport=tcp;lr>\r\n"
        f"From: <{DAVE}>;tag=d1\r\nTo: <{ALICE}>\r\nCall-ID: c1@remote\r\nCSeq: 1 INVITE\r\n"
        "Max-Forwards: 68\r\nContent-Length: 0\r\n\r\n"
    )
    request = frame_websocket_message(text)
    assert isinstance(request, Request)
    return request


# ----- the registry -----------------------------------------------------------------------------


def test_the_suites_shape_is_every_wics_default() -> None:
    assert wic().dialect is HARNESS
    assert set(dialects.DIALECTS) == {"harness", "jssip", "sipjs", "sipml5"}


def test_a_feature_names_a_dialect_by_its_client() -> None:
    assert dialects.by_client("JsSIP 3.13") is JSSIP
    assert dialects.by_client("SIP.js 0.21") is SIPJS
    assert dialects.by_client("a sipML5-like client") is SIPML5
    with pytest.raises(ValueError, match="no dialect of client 'Linphone'"):
        dialects.by_client("Linphone")


def test_each_dialect_is_frozen_and_tagged() -> None:
    with pytest.raises(AttributeError):
        JSSIP.max_forwards = 70  # type: ignore[misc]
    assert [d.tag for d in (JSSIP, SIPJS, SIPML5)] == ["dialect_jssip", "dialect_sipjs", "dialect_sipml5"]
    assert "modelled" in SIPML5.source and "capture" in JSSIP.source and "capture" in SIPJS.source


# ----- the suite's own shape (unchanged) -----------------------------------------------------------


def test_harness_register_is_the_suites_shape() -> None:
    w = wic()
    register = w.register_request(ALICE, token=TOKEN)
    assert names(register) == [
        "Via", "Max-Forwards", "To", "From", "Call-ID", "CSeq", "Contact", "Expires", "Authorization",
        "Supported", "User-Agent", "Content-Length",
    ]  # fmt: skip
    assert re.fullmatch(
        r"SIP/2\.0/WSS [0-9a-f]{12}\.invalid;branch=z9hG4bK[0-9a-f]{16}", line(register, "Via") or ""
    )
    assert line(register, "Contact") == (
        f'<{w.contact_uri}>;+sip.instance="<{w.instance}>";reg-id=1;expires=600'
    )
    assert (register.cseq.number, line(register, "Max-Forwards")) == (1, "69")
    assert line(register, "Supported") == "path, gruu, outbound"
    assert line(register, "User-Agent") == "wimpu-harness-wic A1"
    assert w.contact_uri.endswith(";transport=ws")


def test_harness_invite_and_ack() -> None:
    w = wic()
    w.register_request(ALICE, token=TOKEN)
    invite = w.invite_request(ALICE, DAVE)
    assert names(invite) == [
        "Via", "Max-Forwards", "To", "From", "Call-ID", "CSeq", "Contact", "Supported", "Content-Type",
        "Content-Length",
    ]  # fmt: skip
    assert invite.cseq.number == 2  # one counter for REGISTER and INVITE
    assert line(invite, "Contact") == f"<{w.contact_uri};ob>"
    assert invite.get("Authorization") is None
    ack = w.ack_for(invite, ok_to(invite))
    assert names(ack) == ["Via", "Max-Forwards", "To", "From", "Call-ID", "CSeq", "Route", "Content-Length"]
    assert line(ack, "Max-Forwards") == "70"


def test_harness_answers_180_then_200() -> None:
    w, invite = wic(), incoming_invite()
    sent = dialects.provisionals(HARNESS, invite, to_tag="t", contact=w.contact_uri)
    assert [r.status for r in sent] == [180] and sent[0].get("Contact") is None
    ok = dialects.answer(HARNESS, invite, to_tag="t", contact=w.contact_uri)
    assert line(ok, "Contact") == f"<{w.contact_uri}>" and ok.get("Allow") is None
    assert ok.get_all("Record-Route") == ["<sip:flow@127.0.0.1:5080;transport=tcp;lr>"]


# ----- JsSIP 3.13 (interop/jssip/README.md) ----------------------------------------------------------


def test_jssip_register_as_captured() -> None:
    w = wic(JSSIP)
    register = w.register_request(ALICE, token=TOKEN)
    assert names(register) == [
        "Via", "Max-Forwards", "To", "From", "Call-ID", "CSeq", "Authorization", "Expires", "Contact",
        "Allow", "Supported", "User-Agent", "Content-Length",
    ]  # fmt: skip
    assert re.fullmatch(r"SIP/2\.0/WSS [0-9a-z]{12}\.invalid;branch=\S+", line(register, "Via") or "")
    assert re.fullmatch(
        rf"<sip:[0-9a-z]{{8}}@{re.escape(w.host)};transport=ws>;\+sip\.ice;reg-id=1;"
        rf'\+sip\.instance="<{w.instance}>";expires=600',
        line(register, "Contact") or "",
    )
    assert (register.cseq.number, line(register, "Expires"), line(register, "Max-Forwards")) == (
        1,
        "600",
        "69",
    )
    assert line(register, "Supported") == "path,gruu,outbound"
    assert line(register, "Authorization") == f"Bearer {TOKEN}"


def test_jssip_deregisters_with_the_token_and_a_new_from_tag() -> None:
    w = wic(JSSIP)
    register = w.register_request(ALICE, token=TOKEN)
    bye = w.register_request(ALICE, token=TOKEN, expires=0)
    assert bye.from_.tag != register.from_.tag and bye.call_id == register.call_id
    assert bye.cseq.number == register.cseq.number + 1
    assert (line(bye, "Expires"), bye.contacts[0].param("expires")) == ("0", "0")
    assert line(bye, "Authorization") == f"Bearer {TOKEN}"


def test_jssip_repeats_the_token_on_invite_and_ack() -> None:
    w = wic(JSSIP)
    w.register_request(ALICE, token=TOKEN)
    invite = w.invite_request(ALICE, DAVE)
    assert line(invite, "Authorization") == f"Bearer {TOKEN}"
    assert line(invite, "Contact") == f"<{w.contact_uri};ob>"
    assert 1 <= invite.cseq.number < 10000
    ack = w.ack_for(invite, ok_to(invite))
    assert line(ack, "Authorization") == f"Bearer {TOKEN}" and line(ack, "Max-Forwards") == "69"


def test_jssip_answers_100_180_with_contact_then_200_with_allow() -> None:
    w, invite = wic(JSSIP), incoming_invite()
    sent = dialects.provisionals(JSSIP, invite, to_tag="t", contact=w.contact_uri)
    assert [r.status for r in sent] == [100, 180]
    assert sent[0].to.tag is None and line(sent[1], "Contact") == f"<{w.contact_uri}>"
    ok = dialects.answer(JSSIP, invite, to_tag="t", contact=w.contact_uri)
    assert line(ok, "Allow") == JSSIP.allow and ok.body == dialects.ANSWER_SDP


# ----- SIP.js 0.21 (interop/sipjs/README.md) -----------------------------------------------------------


def test_sipjs_register_as_captured() -> None:
    w = wic(SIPJS)
    register = w.register_request(ALICE, token=TOKEN)
    assert names(register) == [
        "Via", "To", "From", "CSeq", "Call-ID", "Max-Forwards", "Authorization", "Contact", "Allow",
        "Supported", "User-Agent", "Content-Length",
    ]  # fmt: skip
    assert ";rport" not in (line(register, "Via") or "")
    assert line(register, "Contact") == f"<{w.contact_uri}>;expires=600"
    assert register.get("Expires") is None
    assert (register.cseq.number, line(register, "Max-Forwards")) == (2, "70")
    assert line(register, "Supported") == "outbound, path, gruu"
    assert SIPJS.outbound is False and JSSIP.outbound is True


def test_sipjs_deregisters_without_the_token_and_with_the_same_from_tag() -> None:
    w = wic(SIPJS)
    register = w.register_request(ALICE, token=TOKEN)
    bye = w.register_request(ALICE, token=TOKEN, expires=0)
    assert bye.from_.tag == register.from_.tag and bye.cseq.number == 3
    assert line(bye, "Contact") == f"<{w.contact_uri}>;expires=0"
    assert bye.get("Expires") is None and bye.get("Authorization") is None and not bye.body


def test_sipjs_contact_star_still_carries_expires_and_the_token() -> None:
    star = wic(SIPJS).register_request(ALICE, token=TOKEN, expires=0, contact_star=True)
    assert (line(star, "Contact"), line(star, "Expires")) == ("*", "0")
    assert line(star, "Authorization") == f"Bearer {TOKEN}"


def test_sipjs_sends_the_token_on_register_only() -> None:
    w = wic(SIPJS)
    w.register_request(ALICE, token=TOKEN)
    invite = w.invite_request(ALICE, DAVE)
    assert invite.get("Authorization") is None and line(invite, "Contact") == f"<{w.contact_uri};ob>"
    assert w.ack_for(invite, ok_to(invite)).get("Authorization") is None


def test_sipjs_answers_100_180_then_200_allowing_prack() -> None:
    w, invite = wic(SIPJS), incoming_invite()
    assert [r.status for r in dialects.provisionals(SIPJS, invite, to_tag="t", contact=w.contact_uri)] == [
        100,
        180,
    ]
    ok = dialects.answer(SIPJS, invite, to_tag="t", contact=w.contact_uri)
    assert "PRACK" in (line(ok, "Allow") or "")


# ----- a sipML5-like client (modelled) -----------------------------------------------------------------


def test_sipml5_register_as_modelled() -> None:
    w = wic(SIPML5)
    register = w.register_request(ALICE, token=TOKEN)
    assert names(register)[:7] == ["Via", "From", "To", "Contact", "Call-ID", "CSeq", "Content-Length"]
    assert (line(register, "Via") or "").endswith(";rport")
    assert line(register, "Contact") == (
        f'"wrtc-alice"<sip:wrtc-alice@{w.host};transport=ws>;+sip.ice;+g.oma.sip-im;language="en,fr"'
    )
    contact = register.contacts
    assert len(contact) == 1 and contact[0].param("expires") is None  # the comma is quoted
    assert line(register, "Expires") == "600" and line(register, "Supported") == "path"
    assert 1 <= register.cseq.number < 2**31
    assert line(register, "Authorization") == f"Bearer {TOKEN}"


def test_sipml5_deregisters_with_the_token_in_the_expires_header() -> None:
    w = wic(SIPML5)
    register = w.register_request(ALICE, token=TOKEN)
    bye = w.register_request(ALICE, token=TOKEN, expires=0)
    assert bye.from_.tag == register.from_.tag and bye.cseq.number == register.cseq.number + 1
    assert line(bye, "Expires") == "0" and bye.contacts[0].param("expires") is None
    assert line(bye, "Authorization") == f"Bearer {TOKEN}"


def test_sipml5_repeats_the_token_and_writes_no_ob() -> None:
    w = wic(SIPML5)
    w.register_request(ALICE, token=TOKEN)
    invite = w.invite_request(ALICE, DAVE)
    assert line(invite, "Contact") == f'"wrtc-alice"<{w.contact_uri}>;+sip.ice;+g.oma.sip-im'
    assert line(invite, "Authorization") == f"Bearer {TOKEN}" and invite.get("Supported") is None
    ack = w.ack_for(invite, ok_to(invite))
    assert line(ack, "Authorization") == f"Bearer {TOKEN}" and (line(ack, "Via") or "").endswith(";rport")


def test_sipml5_answers_180_then_200_with_its_feature_tags() -> None:
    w, invite = wic(SIPML5), incoming_invite()
    w.register_request(ALICE, token=TOKEN)
    assert [r.status for r in dialects.provisionals(SIPML5, invite, to_tag="t", contact=w.contact_uri)] == [
        180
    ]
    ok = dialects.answer(SIPML5, invite, to_tag="t", contact=w.contact_uri)
    assert line(ok, "Contact") == f'"wrtc-alice"<{w.contact_uri}>;+sip.ice;+g.oma.sip-im'


@pytest.mark.parametrize("dialect", [JSSIP, SIPJS, SIPML5], ids=lambda d: d.name)
def test_every_shape_parses_and_keeps_the_token_in_body_carriage(dialect: Dialect) -> None:
    w = wic(dialect)
    register = w.register_request(ALICE, token=TOKEN, carriage="body")
    assert register.body == TOKEN.encode() and register.get("Content-Type") == "application/jwt"
    assert register.get("Authorization") is None
    assert frame_websocket_message(register.to_bytes()) == register


@pytest.mark.parametrize("dialect", [JSSIP, SIPJS, SIPML5], ids=lambda d: d.name)
def test_every_shape_carries_the_token_in_ts_24371_form(dialect: Dialect) -> None:
    """TS 24.371's ``Authorization: Bearer access_token="<token>"`` (TP_WIMPU_REG_006's third row)."""
    w = wic(dialect)
    register = w.register_request(ALICE, token=TOKEN, carriage="header-24371")
    assert register.get("Authorization") == f'Bearer access_token="{TOKEN}"' and register.body == b""
    assert register.get("Content-Type") is None
    assert frame_websocket_message(register.to_bytes()) == register
