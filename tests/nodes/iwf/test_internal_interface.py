"""The IWF <-> P-CSCF internal interface: frames, garbage, and the IWF's routing (5.2.2.2)."""

from __future__ import annotations

import pytest

from reference.blocks import WimpuBlock
from reference.nodes.internal_interface import (
    CloseFlow,
    FlowClosed,
    FlowOpened,
    FrameReader,
    Hello,
    LinkError,
    Serving,
    Sip,
    encode,
)
from reference.nodes.iwf.routing import Deliver, Forward, PcscfRouter, Reply
from reference.sip.framing import frame_websocket_message
from reference.sip.message import Request, Response
from reference.sip.transaction_base import make_response

B3 = "sip:wrtc-!.*!@block3.ims.example.net"
BLOCK = WimpuBlock.parse(B3, "A", name="block3")
ALICE = "sip:wrtc-alice@block3.ims.example.net"


def register(branch: str = "z9hG4bKr1", expires: int = 600, cseq: int = 1) -> Request:
    text = (
        f"REGISTER sip:block3.ims.example.net SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch={branch}\r\n"
        f"Max-Forwards: 70\r\nTo: <{ALICE}>\r\nFrom: <{ALICE}>;tag=t1\r\nCall-ID: c1@abc.invalid\r\n"
        f"CSeq: {cseq} REGISTER\r\nContact: <sip:u@abc.invalid;transport=ws>;expires={expires}\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    message = frame_websocket_message(text)
    assert isinstance(message, Request)
    return message


def invite(caller: str) -> Request:
    text = (
        f"INVITE sip:bob@ims.example.net SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKi1\r\n"
        f"Max-Forwards: 70\r\nTo: <sip:bob@ims.example.net>\r\nFrom: <{caller}>;tag=t9\r\n"
        "Call-ID: c2@abc.invalid\r\nCSeq: 1 INVITE\r\nContact: <sip:u@abc.invalid;transport=ws>\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    message = frame_websocket_message(text)
    assert isinstance(message, Request)
    return message


def hello(name: str, port: int, serving: tuple[str, ...] = ()) -> Hello:
    return Hello("p-cscf", name, f"sip:{name}.ims.example.net", f"127.0.0.1:{port}", (BLOCK,), serving)


class TestFrames:
    @pytest.mark.parametrize(
        "frame",
        [
            hello("p-cscf3a", 5084, (B3,)),
            Hello("iwf", "ep-cscf3", "sip:ep-cscf3.ims.example.net", flows=("ep-cscf3.7",)),
            Serving((B3,)),
            Sip("ep-cscf3.7", register(), ALICE),
            FlowOpened("ep-cscf3.7"),
            FlowClosed("ep-cscf3.7"),
            CloseFlow("ep-cscf3.7", "block moved"),
        ],
        ids=lambda f: type(f).__name__,
    )
    def test_every_frame_survives_a_round_trip_split_anywhere(self, frame: object) -> None:
        data = encode(frame)  # type: ignore[arg-type]
        reader = FrameReader()
        got = []
        for i in range(0, len(data), 7):
            reader.receive_data(data[i : i + 7])
            while (f := reader.next_frame()) is not None:
                got.append(f)
        assert len(got) == 1
        if isinstance(frame, Sip):
            assert isinstance(got[0], Sip) and got[0].message.to_bytes() == frame.message.to_bytes()
            assert got[0].identity == ALICE
        else:
            assert got == [frame]

    @pytest.mark.parametrize(
        ("line", "why"),
        [
            (b"\x16\x03\x01garbage{{{", "not a JSON frame"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"op": "dance"}', "unknown frame op"),
            (b'{"op": "sip", "flow": "f", "message": "SIP/2.0 2OO OK"}', "does not parse"),
            (b'{"op": "flow-opened", "flow": 7}', "must be a string"),
            (b'{"op": "hello", "role": "p-cscf", "name": "x", "identity": "y",'
             b' "blocks": [{"wimpu": "nope"}]}',
             "bad block"),
        ],
    )  # fmt: skip
    def test_garbage_is_a_link_error_naming_the_fault(self, line: bytes, why: str) -> None:
        reader = FrameReader()
        reader.receive_data(line + b"\n")
        with pytest.raises(LinkError, match=why):
            reader.next_frame()

    def test_an_endless_line_is_refused(self) -> None:
        reader = FrameReader(max_frame=100)
        reader.receive_data(b"x" * 101)
        with pytest.raises(LinkError, match="longer than 100"):
            reader.next_frame()


class TestRouting:
    """TR 23.701 5.2.2.2: the IWF uses the P-CSCF serving the block; losing it is transparent."""

    def router(self) -> PcscfRouter:
        r = PcscfRouter(name="ep-cscf3", retry_after=2)
        r.link_up("a", hello("a", 5084, (B3,)))
        r.link_up("b", hello("b", 5086))
        return r

    def test_register_goes_to_the_p_cscf_serving_the_block(self) -> None:
        r = self.router()
        actions = r.from_wic("f.1", register(), ALICE)
        assert actions == [Forward("a", Sip("f.1", register(), ALICE))]

    def test_no_p_cscf_serving_the_block_is_503_with_retry_after(self) -> None:
        r = PcscfRouter(name="ep-cscf3")
        r.link_up("b", hello("b", 5086))
        [reply] = r.from_wic("f.1", register(), ALICE)
        assert isinstance(reply, Reply) and reply.message.status == 503
        assert reply.message.get("Retry-After") == "5" and "no P-CSCF serves" in (
            reply.message.get("Warning") or ""
        )

    def test_an_identity_of_no_block_goes_to_a_p_cscf_to_refuse_not_told_to_retry(self) -> None:
        """Found by the conformance run against the decomposed eP-CSCF (TP_WIMPU_SEC_008): the IWF
        answered 503 with Retry-After for an identity no P-CSCF will ever serve. Now a P-CSCF whose
        link is up gets it and refuses it as the bundled eP-CSCF does (403; its own check, one place),
        whether or not it serves a block now."""
        r = self.router()
        foreign = "sip:mallory@evil.example.com"
        assert r.from_wic("f.1", register(), foreign) == [Forward("a", Sip("f.1", register(), foreign))]
        r.link_down("a")
        assert r.from_wic("f.1", invite(foreign), None) == [Forward("b", Sip("f.1", invite(foreign)))]
        # the ACK of the 403 goes to the P-CSCF that refused the INVITE (RFC 3261 17.2.1: it ends
        # its server transaction, else retransmitted until Timer H)
        ack = frame_websocket_message(
            invite(foreign)
            .to_bytes()
            .decode()
            .replace("INVITE sip:", "ACK sip:")
            .replace("1 INVITE", "1 ACK")
        )
        assert r.from_wic("f.1", ack, None) == [Forward("b", Sip("f.1", ack))]

    def test_a_block_whose_p_cscfs_are_all_down_is_503_not_403(self) -> None:
        """Its P-CSCF restarting (one per eP-CSCF, as in the IWF workers' PIXIT): the block is still
        known, the WIC is told to come back."""
        r = PcscfRouter(name="ep-cscf3", retry_after=2)
        r.link_up("a", hello("a", 5084, (B3,)))
        r.link_down("a")
        foreign = "sip:mallory@evil.example.com"  # no P-CSCF to refuse it either
        for message, identity in ((register(), ALICE), (invite(ALICE), None), (register(), foreign)):
            [reply] = r.from_wic("f.1", message, identity)
            assert isinstance(reply, Reply) and reply.message.status == 503, message.method
            assert reply.message.get("Retry-After") == "2"

    def test_before_any_p_cscf_said_hello_every_identity_is_503(self) -> None:
        """No block is known yet: the IWF cannot tell a foreign identity from a block's."""
        [reply] = PcscfRouter(name="ep-cscf3").from_wic("f.1", register(), "sip:mallory@evil.example.com")
        assert isinstance(reply, Reply) and reply.message.status == 503

    def test_a_lost_link_answers_what_was_pending_there_at_once(self) -> None:
        r = self.router()
        r.from_wic("f.1", register(), ALICE)
        [reply] = r.link_down("a")
        assert isinstance(reply, Reply) and reply.flow == "f.1" and reply.message.status == 503
        assert reply.message.get("Retry-After") == "2"

    def test_the_new_p_cscf_gets_the_registrations_again_and_the_answers_are_swallowed(self) -> None:
        r = self.router()
        r.from_wic("f.1", register(), ALICE)
        ok = make_response(register(), 200, to_tag="x")
        assert r.from_pcscf("a", Sip("f.1", ok)) == [Deliver("f.1", ok)]
        r.link_down("a")
        [replay] = r.serving("b", (B3,))
        assert isinstance(replay, Forward) and replay.link == "b" and replay.frame.identity == ALICE
        assert isinstance(replay.frame.message, Request) and replay.frame.message.branch != "z9hG4bKr1"
        answer = make_response(replay.frame.message, 200, to_tag="y")
        assert r.from_pcscf("b", Sip("f.1", answer)) == [] and r.replayed == 1
        # Now registered through b: b's next gain of the block replays nothing more.
        assert r.serving("b", (B3,)) == []

    def test_a_deregistered_or_closed_flow_is_not_replayed(self) -> None:
        r = self.router()
        r.from_wic("f.1", register(), ALICE)
        r.from_pcscf("a", Sip("f.1", make_response(register(), 200, to_tag="x")))
        r.from_wic("f.1", register("z9hG4bKr2", expires=0, cseq=2), ALICE)
        r.from_pcscf("a", Sip("f.1", make_response(register("z9hG4bKr2", 0, 2), 200, to_tag="x")))
        r.link_down("a")
        assert r.serving("b", (B3,)) == []
        r2 = self.router()
        r2.from_wic("f.2", register(), ALICE)
        r2.from_pcscf("a", Sip("f.2", make_response(register(), 200, to_tag="x")))
        r2.flow_closed("f.2")
        r2.link_down("a")
        assert r2.serving("b", (B3,)) == []

    def test_responses_from_a_wic_go_to_the_p_cscf_whose_via_is_on_top(self) -> None:
        r = self.router()
        invite = frame_websocket_message(
            "INVITE sip:u@abc.invalid SIP/2.0\r\nVia: SIP/2.0/WSS 127.0.0.1:5086;branch=z9hG4bKt1\r\n"
            "Max-Forwards: 70\r\nTo: <sip:x@y>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        assert isinstance(invite, Request)
        ringing: Response = make_response(invite, 180, to_tag="z")
        assert r.from_wic("f.1", ringing, None) == [Forward("b", Sip("f.1", ringing))]
