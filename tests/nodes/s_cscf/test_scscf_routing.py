"""S-CSCF routing of terminating and originating requests with a wIMPU block.

TR 23.701 5.2.2.5.4 step 3 and the solution profile ("Termination"): the S-CSCF matches
the Request-URI against the registered wildcard blocks, routes to the block's registered
contact through its Path, and carries the called identity in P-Called-Party-ID.
TR 23.701 5.2.2.5.3 step 3: standard originating procedures on the Service-Route.
"""

from __future__ import annotations

import dataclasses

import pytest
from scscf_helpers import EP_CONTACT, EP_PATH, BlockUa, fake_random, message

from reference.nodes.hss import HssData
from reference.nodes.s_cscf import Forward, Respond, Scscf, ScscfConfig
from reference.sip.message import Request

ALICE = "sip:wrtc-alice@block1.ims.example.net"
EP_CONTACT_URI = "sip:ep-cscf1.ims.example.net:5060;transport=tcp"
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def invite(uri: str, *, routes: tuple[str, ...] = ("<sip:scscf.ims.example.net;lr>",),
           extra: tuple[str, ...] = (), to_tag: str = "") -> Request:  # fmt: skip
    lines = [
        f"INVITE {uri} SIP/2.0",
        "Via: SIP/2.0/TCP icscf.ims.example.net;branch=z9hG4bKi1",
        "Via: SIP/2.0/UDP remote.example.org;branch=z9hG4bKr1",
        "Max-Forwards: 68",
        *(f"Route: {r}" for r in routes),
        'From: "Carol" <sip:carol@example.org>;tag=c1',
        f"To: <{uri}>{';tag=' + to_tag if to_tag else ''}",
        "Call-ID: call-1@example.org",
        "CSeq: 1 INVITE",
        "Contact: <sip:carol@192.0.2.1>",
        *extra,
        "Content-Type: application/sdp",
    ]
    return message("\n".join(lines), SDP)


def forwarded(decision: Respond | Forward) -> Request:
    assert isinstance(decision, Forward), decision
    (request,) = decision.branches
    return request


def rejected(decision: Respond | Forward) -> int:
    assert isinstance(decision, Respond), decision
    assert decision.response.to.tag is not None
    return decision.response.status


@pytest.fixture
def registered(scscf: Scscf, block_ua: BlockUa) -> Scscf:
    assert block_ua.register(0.0).status == 200
    return scscf


class TestTerminating:
    def test_individual_impu_is_routed_to_the_block_contact_through_its_path(self, registered: Scscf) -> None:
        request = invite(ALICE, extra=("P-Profile-Key: <sip:wrtc-!.*!@block1.ims.example.net>",))
        out = forwarded(registered.route_terminating(request, 10.0))
        assert out.uri == EP_CONTACT_URI
        assert out.get_all("Route") == [EP_PATH]  # our own Route popped, the Path in its place
        assert out.get_all("P-Called-Party-ID") == [f"<{ALICE}>"]
        assert out.get("P-Profile-Key") == "<sip:wrtc-!.*!@block1.ims.example.net>"
        # everything else is forwarded as received (Via, Max-Forwards: the proxy core's job)
        for name in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Type"):
            assert out.get_all(name) == request.get_all(name), name
        assert out.body == SDP

    def test_the_distinct_block_impu_is_routed_too(self, registered: Scscf) -> None:
        out = forwarded(registered.route_terminating(invite("sip:block1@wrtc.ims.example.net"), 10.0))
        assert out.uri == EP_CONTACT_URI
        assert out.get("P-Called-Party-ID") == "<sip:block1@wrtc.ims.example.net>"

    def test_request_without_our_route_is_routed_the_same(self, registered: Scscf) -> None:
        out = forwarded(registered.route_terminating(invite(ALICE, routes=()), 10.0))
        assert out.uri == EP_CONTACT_URI and out.get_all("Route") == [EP_PATH]

    def test_routes_after_ours_follow_the_path(self, registered: Scscf) -> None:
        request = invite(ALICE, routes=("<sip:scscf.ims.example.net;lr>", "<sip:as.ims.example.net;lr>"))
        assert forwarded(registered.route_terminating(request, 10.0)).get_all("Route") == [
            EP_PATH, "<sip:as.ims.example.net;lr>"
        ]

    def test_one_branch_per_registered_contact(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0, contacts=(EP_CONTACT, "<sip:ep-cscf1b.ims.example.net;transport=tcp>"))
        decision = scscf.route_terminating(invite(ALICE), 10.0)
        assert isinstance(decision, Forward)
        assert [b.uri for b in decision.branches] == [
            EP_CONTACT_URI, "sip:ep-cscf1b.ims.example.net;transport=tcp"
        ]

    @pytest.mark.parametrize(
        "uri",
        ["sip:wrtc-alice@block9.ims.example.net", "sip:carol@example.org", "sip:ims.example.net",
         "tel:+15550100"],
    )  # fmt: skip
    def test_unknown_identity_gets_404(self, registered: Scscf, uri: str) -> None:
        assert rejected(registered.route_terminating(invite(uri), 10.0)) == 404

    def test_block_not_registered_gets_480(self, registered: Scscf) -> None:
        request = invite("sip:wrtc-bob@block2.ims.example.net")
        assert rejected(registered.route_terminating(request, 10.0)) == 480

    def test_expired_block_registration_gets_480(self, registered: Scscf) -> None:
        assert rejected(registered.route_terminating(invite(ALICE), 600.0)) == 480

    def test_distinct_impu_beats_the_wildcard(self, registered: Scscf) -> None:
        """TS 29.228 6.1.4: sip:wrtc-vip@block1 is a distinct IMPU of another subscription."""
        vip = "sip:wrtc-vip@block1.ims.example.net"
        assert rejected(registered.route_terminating(invite(vip), 10.0)) == 480
        ua = BlockUa(registered, impi="vip@ims.example.net", password="vip-secret")
        assert ua.register(10.0, to=vip, contacts=("<sip:vip-ua.ims.example.net>",)).status == 200
        assert forwarded(registered.route_terminating(invite(vip), 20.0)).uri == "sip:vip-ua.ims.example.net"
        assert forwarded(registered.route_terminating(invite(ALICE), 20.0)).uri == EP_CONTACT_URI


def originating(uri: str, asserted: tuple[str, ...], *,
                routes: tuple[str, ...] = ("<sip:orig@scscf.ims.example.net;lr>",)) -> Request:  # fmt: skip
    lines = [
        f"INVITE {uri} SIP/2.0",
        "Via: SIP/2.0/TCP ep-cscf1.ims.example.net;branch=z9hG4bKo1",
        "Max-Forwards: 69",
        *(f"Route: {r}" for r in routes),
        *(f"P-Asserted-Identity: {a}" for a in asserted),
        f"From: <{ALICE}>;tag=a1",
        f"To: <{uri}>",
        "Call-ID: call-2@ep-cscf1",
        "CSeq: 1 INVITE",
        "Contact: <sip:ep-cscf1.ims.example.net;transport=tcp>",
    ]
    return message("\n".join(lines))


class TestOriginating:
    def test_wildcard_matched_caller_is_accepted_and_sent_to_the_i_cscf(self, registered: Scscf) -> None:
        request = originating("sip:wrtc-bob@block1.ims.example.net", (f"<{ALICE}>",))
        out = forwarded(registered.route_originating(request, 10.0))
        assert out.uri == "sip:wrtc-bob@block1.ims.example.net"
        assert out.get_all("Route") == ["<sip:icscf.ims.example.net;lr>"]
        assert out.get_all("P-Asserted-Identity") == [f"<{ALICE}>"]

    def test_configured_webrtc_domain_goes_to_the_i_cscf(self, registered: Scscf) -> None:
        request = originating("sip:bob@enterprise.com", (f"<{ALICE}>",))
        out = forwarded(registered.route_originating(request, 1.0))
        assert out.get_all("Route") == ["<sip:icscf.ims.example.net;lr>"]

    def test_other_targets_go_to_the_remote_party_next_hop(self, registered: Scscf) -> None:
        request = originating("sip:carol@example.org", ("<tel:+15550100>", f"<{ALICE}>"))
        assert forwarded(registered.route_originating(request, 10.0)).get_all("Route") == [
            "<sip:ibcf.ims.example.net;lr>"
        ]

    def test_without_a_remote_next_hop_the_request_uri_routes(
        self, config: ScscfConfig, hss: HssData
    ) -> None:
        scscf = Scscf(dataclasses.replace(config, remote_party_uri=None), hss, nonce_key=b"k" * 32,
                      random_bytes=fake_random())  # fmt: skip
        BlockUa(scscf).register(0.0)
        out = forwarded(scscf.route_originating(originating("sip:carol@example.org", (f"<{ALICE}>",)), 1.0))
        assert out.get_all("Route") == [] and out.uri == "sip:carol@example.org"

    def test_a_route_set_left_after_ours_is_followed(self, registered: Scscf) -> None:
        routes = ("<sip:orig@scscf.ims.example.net;lr>", "<sip:as.ims.example.net;lr>")
        out = forwarded(registered.route_originating(originating("sip:carol@example.org", (f"<{ALICE}>",),
                                                                 routes=routes), 1.0))  # fmt: skip
        assert out.get_all("Route") == ["<sip:as.ims.example.net;lr>"]

    @pytest.mark.parametrize(
        "asserted",
        [(), ("<sip:mallory@example.org>",), ("<sip:wrtc-bob@block2.ims.example.net>",)],
        ids=["none", "unknown", "block-not-registered"],
    )
    def test_caller_outside_a_registered_set_gets_403(
        self, registered: Scscf, asserted: tuple[str, ...]
    ) -> None:
        request = originating("sip:carol@example.org", asserted)
        assert rejected(registered.route_originating(request, 10.0)) == 403

    def test_request_not_on_our_service_route_gets_403(self, registered: Scscf) -> None:
        request = originating("sip:carol@example.org", (f"<{ALICE}>",), routes=())
        assert rejected(registered.route_originating(request, 10.0)) == 403


class TestDispatch:
    def test_receive_request_picks_the_procedure(self, registered: Scscf, block_ua: BlockUa) -> None:
        assert isinstance(registered.receive_request(block_ua.request(), 1.0), Respond)
        orig = registered.receive_request(originating("sip:carol@example.org", (f"<{ALICE}>",)), 1.0)
        assert forwarded(orig).get_all("Route") == ["<sip:ibcf.ims.example.net;lr>"]
        term = registered.receive_request(invite(ALICE), 1.0)
        assert forwarded(term).uri == EP_CONTACT_URI

    def test_in_dialog_request_follows_its_route_set(self, registered: Scscf) -> None:
        request = invite(ALICE, routes=("<sip:scscf.ims.example.net;lr>", "<sip:icscf.ims.example.net;lr>"),
                         to_tag="x1")  # fmt: skip
        out = forwarded(registered.receive_request(request, 1.0))
        assert out.uri == ALICE and out.get_all("Route") == ["<sip:icscf.ims.example.net;lr>"]
        assert not out.has("P-Called-Party-ID")
