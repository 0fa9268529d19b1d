"""The S-CSCF registrar: block registration of a wIMPU range (TR 23.701 5.2.2.5.1).

"A single IMS registration is required to register the wIMPU block as per existing
23.228 procedures": RFC 3261 10.3 with digest, Path, Service-Route and P-Associated-URI.
"""

from __future__ import annotations

import dataclasses

from scscf_helpers import BLOCK1_IMPU, BLOCK1_WIMPU, EP_CONTACT, EP_PATH, BlockUa, fake_random

from reference.nodes.hss import HssData
from reference.nodes.s_cscf import Scscf, ScscfConfig
from reference.sip.digest import parse_auth_params

ALICE = "sip:wrtc-alice@block1.ims.example.net"


def challenge_params(value: str | None) -> dict[str, str]:
    assert value is not None and value.startswith("Digest ")
    return parse_auth_params(value.partition(" ")[2])


class TestBlockRegistration:
    """RFC 3261 10.3 steps 3 and 8, RFC 3327 5.3, RFC 3608 6, RFC 3455 4.1."""

    def test_registrar_sends_401_with_a_digest_challenge(self, scscf: Scscf, block_ua: BlockUa) -> None:
        response = scscf.receive_register(block_ua.request(), 0.0)
        assert response.status == 401
        params = challenge_params(response.get("WWW-Authenticate"))
        assert params["realm"] == "ims.example.net"
        assert params["algorithm"] == "MD5" and params["qop"] == "auth" and params["nonce"]
        assert response.to.tag is not None and response.call_id == "reg-block1@ims.example.net"
        assert scscf.registrar.bindings_for(BLOCK1_IMPU, 0.0) == ()

    def test_registrar_sends_200_with_bindings_path_service_route_and_associated_uris(
        self, scscf: Scscf, block_ua: BlockUa
    ) -> None:
        response = block_ua.register(0.0)
        assert response.status == 200
        assert response.get_all("Contact") == [EP_CONTACT + ";expires=600"]
        assert response.get_all("Path") == [EP_PATH]
        assert response.get_all("Service-Route") == ["<sip:orig@scscf.ims.example.net;lr>"]
        # the distinct IMPU first, the wildcarded IMPU after it (solution profile)
        assert response.get_all("P-Associated-URI") == [f"<{BLOCK1_IMPU}>", f"<{BLOCK1_WIMPU}>"]

    def test_registration_covers_the_implicit_set_and_its_wildcard(
        self, scscf: Scscf, block_ua: BlockUa
    ) -> None:
        block_ua.register(0.0)
        for identity in (BLOCK1_IMPU, ALICE, BLOCK1_WIMPU):
            (binding,) = scscf.registrar.bindings_for(identity, 1.0)
            assert binding.contact.uri == "sip:ep-cscf1.ims.example.net:5060;transport=tcp"
            assert binding.path == (EP_PATH,)
        assert scscf.registrar.bindings_for("sip:wrtc-alice@block2.ims.example.net", 1.0) == ()

    def test_associated_uris_can_leave_the_wildcards_out(self, config: ScscfConfig, hss: HssData) -> None:
        scscf = Scscf(dataclasses.replace(config, associate_wildcards=False), hss, nonce_key=b"k" * 32,
                      random_bytes=fake_random())  # fmt: skip
        response = BlockUa(scscf).register(0.0)
        assert response.get_all("P-Associated-URI") == [f"<{BLOCK1_IMPU}>"]

    def test_two_contacts_are_both_bound(self, scscf: Scscf, block_ua: BlockUa) -> None:
        second = "<sip:ep-cscf1b.ims.example.net;transport=tcp>;expires=900"
        response = block_ua.register(0.0, contacts=(EP_CONTACT, second))
        assert response.get_all("Contact") == [
            EP_CONTACT + ";expires=600", "<sip:ep-cscf1b.ims.example.net;transport=tcp>;expires=900"
        ]
        assert len(scscf.registrar.bindings_for(ALICE, 0.0)) == 2

    def test_sha256_is_offered_first_when_configured(self, config: ScscfConfig, hss: HssData) -> None:
        config = dataclasses.replace(config, digest_algorithms=("SHA-256", "MD5"))
        scscf = Scscf(config, hss, nonce_key=b"k" * 32, random_bytes=fake_random())
        ua = BlockUa(scscf)
        challenge = scscf.receive_register(ua.request(), 0.0)
        assert [challenge_params(v)["algorithm"] for v in challenge.get_all("WWW-Authenticate")] == [
            "SHA-256", "MD5"
        ]
        response = scscf.receive_register(ua.request(authorization=ua.authorization(challenge)), 0.0)
        assert response.status == 200


class TestAuthenticationFailures:
    """RFC 3261 22.4 and RFC 7616: wrong password, stale and forged nonces."""

    def test_wrong_password_gets_403_and_registers_nothing(self, scscf: Scscf, block_ua: BlockUa) -> None:
        challenge = scscf.receive_register(block_ua.request(), 0.0)
        auth = block_ua.authorization(challenge, password="guess")
        response = scscf.receive_register(block_ua.request(authorization=auth), 0.0)
        assert response.status == 403
        assert scscf.registrar.bindings_for(BLOCK1_IMPU, 0.0) == ()

    def test_unknown_private_identity_gets_403(self, scscf: Scscf) -> None:
        ua = BlockUa(scscf, impi="mallory@ims.example.net", password="x")
        assert ua.scscf.receive_register(ua.request(), 0.0).status == 401
        assert ua.register(0.0).status == 403

    def test_stale_nonce_gets_a_new_challenge_with_stale_true(self, scscf: Scscf, block_ua: BlockUa) -> None:
        challenge = scscf.receive_register(block_ua.request(), 0.0)
        auth = block_ua.authorization(challenge)
        response = scscf.receive_register(block_ua.request(authorization=auth), 301.0)
        assert response.status == 401
        params = challenge_params(response.get("WWW-Authenticate"))
        assert params["stale"] == "true"
        assert params["nonce"] != challenge_params(challenge.get("WWW-Authenticate"))["nonce"]
        again = block_ua.request(authorization=block_ua.authorization(response))
        retry = scscf.receive_register(again, 302.0)
        assert retry.status == 200

    def test_forged_nonce_gets_a_fresh_challenge(self, scscf: Scscf, block_ua: BlockUa) -> None:
        challenge = scscf.receive_register(block_ua.request(), 0.0)
        auth = block_ua.authorization(challenge).replace('nonce="', 'nonce="X')
        response = scscf.receive_register(block_ua.request(authorization=auth), 1.0)
        assert response.status == 401
        assert "stale" not in challenge_params(response.get("WWW-Authenticate"))

    def test_digest_uri_other_than_the_request_uri_gets_400(self, scscf: Scscf, block_ua: BlockUa) -> None:
        challenge = scscf.receive_register(block_ua.request(), 0.0)
        auth = block_ua.authorization(challenge, uri="sip:elsewhere.example.net")
        assert scscf.receive_register(block_ua.request(authorization=auth), 1.0).status == 400

    def test_malformed_authorization_gets_400(self, scscf: Scscf, block_ua: BlockUa) -> None:
        auth = 'Digest username="block1@ims.example.net", realm="ims.example.net", nonce="n'
        assert scscf.receive_register(block_ua.request(authorization=auth), 1.0).status == 400


class TestWhatCanBeRegistered:
    """Only a distinct IMPU of the authenticated subscription (RFC 3261 10.3 steps 4, 5)."""

    def test_the_wildcarded_impu_itself_gets_403(self, block_ua: BlockUa) -> None:
        response = block_ua.register(0.0, to=BLOCK1_WIMPU)
        assert response.status == 403 and "wildcarded" in response.reason

    def test_an_individual_impu_of_the_block_gets_403(self, block_ua: BlockUa) -> None:
        response = block_ua.register(0.0, to=ALICE)
        assert response.status == 403 and "distinct" in response.reason

    def test_an_impu_of_another_subscription_gets_403(self, block_ua: BlockUa) -> None:
        assert block_ua.register(0.0, to="sip:block2@wrtc.ims.example.net").status == 403

    def test_an_unknown_impu_gets_404(self, block_ua: BlockUa) -> None:
        assert block_ua.register(0.0, to="sip:nobody@wrtc.ims.example.net").status == 404

    def test_an_unsupported_required_extension_gets_420(self, scscf: Scscf, block_ua: BlockUa) -> None:
        response = scscf.receive_register(block_ua.request(extra=("Require: path, foo",)), 0.0)
        assert response.status == 420 and response.get("Unsupported") == "foo"


class TestExpiry:
    """RFC 3261 10.3 step 6: expires parameter, Expires header, default, minimum."""

    def test_interval_below_the_minimum_gets_423_with_min_expires(
        self, scscf: Scscf, block_ua: BlockUa
    ) -> None:
        response = block_ua.register(0.0, expires=30)
        assert response.status == 423 and response.get("Min-Expires") == "60"
        assert scscf.registrar.bindings_for(BLOCK1_IMPU, 0.0) == ()

    def test_contact_expires_parameter_overrides_the_header(self, block_ua: BlockUa) -> None:
        assert block_ua.register(0.0, contacts=(EP_CONTACT + ";expires=30",), expires=600).status == 423
        response = block_ua.register(0.0, contacts=(EP_CONTACT + ";expires=900",), expires=30)
        assert response.status == 200
        assert response.get_all("Contact") == [EP_CONTACT + ";expires=900"]

    def test_default_and_maximum_intervals(self, block_ua: BlockUa) -> None:
        assert block_ua.register(0.0, expires=None).get_all("Contact") == [EP_CONTACT + ";expires=3600"]
        assert block_ua.register(1.0, expires=86400).get_all("Contact") == [EP_CONTACT + ";expires=7200"]

    def test_bindings_expire_with_the_clock(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(100.0)
        assert scscf.get_timer() == 700.0
        assert scscf.registrar.bindings_for(ALICE, 699.0)
        assert scscf.registrar.bindings_for(ALICE, 700.0) == ()  # gone before any sweep
        assert scscf.registrar.expire(650.0) == ()
        assert scscf.registrar.expire(700.0) == (BLOCK1_IMPU,)
        assert scscf.get_timer() is None and scscf.registrar.registrations == ()

    def test_refresh_extends_the_binding(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0)
        block_ua.register(500.0)
        (binding,) = scscf.registrar.bindings_for(ALICE, 1000.0)
        assert binding.expires_at == 1100.0

    def test_reregister_with_an_old_cseq_fails(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0)
        response = block_ua.register(1.0, cseq=1)
        assert response.status == 400
        (binding,) = scscf.registrar.bindings_for(ALICE, 2.0)
        assert binding.expires_at == 600.0


class TestDeregistration:
    """RFC 3261 10.2.2 and 10.3 step 6: Expires 0, and Contact: * with Expires: 0."""

    def test_expires_zero_removes_the_contact(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0)
        response = block_ua.register(10.0, expires=0)
        assert response.status == 200 and response.get_all("Contact") == []
        assert scscf.registrar.bindings_for(ALICE, 10.0) == ()
        assert scscf.registrar.registrations == ()

    def test_star_with_expires_zero_removes_every_contact(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0, contacts=(EP_CONTACT, "<sip:ep-cscf1b.ims.example.net>"))
        response = block_ua.register(10.0, contacts=("*",), expires=0)
        assert response.status == 200
        assert scscf.registrar.bindings_for(BLOCK1_IMPU, 10.0) == ()

    def test_star_without_expires_zero_gets_400(self, scscf: Scscf, block_ua: BlockUa) -> None:
        block_ua.register(0.0)
        assert block_ua.register(10.0, contacts=("*",), expires=600).status == 400
        assert scscf.registrar.bindings_for(BLOCK1_IMPU, 10.0)

    def test_query_without_contact_lists_the_bindings(self, block_ua: BlockUa) -> None:
        block_ua.register(0.0)
        response = block_ua.register(100.0, contacts=(), expires=None)
        assert response.status == 200 and response.get_all("Contact") == [EP_CONTACT + ";expires=500"]
