"""The HSS data set: subscriptions with wildcarded IMPUs (TS 23.228, TS 29.228 6.1.4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reference.nodes.hss import HssData, HssDataError
from reference.sip.errors import WildcardError
from reference.sip.identity import AmbiguousIdentity, IdentityError, WildcardImpu

SCSCF = "sip:scscf.ims.example.net"
DATA: dict[str, Any] = {
    "subscription": [
        {
            "impi": "block1@ims.example.net",
            "password": "block1-secret",
            "impus": ["sip:block1@wrtc.ims.example.net"],
            "wildcard_impus": ["sip:wrtc-!.*!@block1.ims.example.net"],
            "scscf": SCSCF,
        },
        {
            "impi": "bob@ims.example.net",
            "password": "bob-secret",
            "impus": ["sip:bob@ims.example.net", "sip:wrtc-vip@block1.ims.example.net"],
            "scscf": "sip:scscf2.ims.example.net",
        },
    ]
}


def data(**changes: Any) -> dict[str, Any]:
    """DATA with the first subscription's fields changed."""
    result = copy.deepcopy(DATA)
    result["subscription"][0].update(changes)
    return result


@pytest.fixture
def hss() -> HssData:
    return HssData.from_mapping(DATA)


class TestLookups:
    def test_subscription_for_impi(self, hss: HssData) -> None:
        sub = hss.subscription_for_impi("block1@ims.example.net")
        assert sub is not None and sub.password == "block1-secret"
        assert sub.representative == "sip:block1@wrtc.ims.example.net"
        assert hss.subscription_for_impi("nobody@ims.example.net") is None

    def test_implicit_set_lists_the_distinct_impu_first(self, hss: HssData) -> None:
        sub = hss.subscription_for_impi("block1@ims.example.net")
        assert sub is not None
        assert sub.implicit_set == ("sip:block1@wrtc.ims.example.net", "sip:wrtc-!.*!@block1.ims.example.net")

    def test_distinct_impu_is_found_as_itself(self, hss: HssData) -> None:
        found = hss.lookup_public_identity("<SIP:block1@WRTC.ims.example.net;transport=tcp>")
        assert found is not None and not found.wildcarded
        assert found.entry == "sip:block1@wrtc.ims.example.net"
        assert found.subscription.impi == "block1@ims.example.net"

    def test_individual_impu_matches_the_wildcard_of_its_block(self, hss: HssData) -> None:
        found = hss.lookup_public_identity("sip:wrtc-alice@block1.ims.example.net")
        assert found is not None and found.wildcarded
        assert isinstance(found.entry, WildcardImpu)
        assert found.entry.text == "sip:wrtc-!.*!@block1.ims.example.net"
        assert found.identity == "sip:wrtc-alice@block1.ims.example.net"

    def test_distinct_impu_beats_a_wildcard_match(self, hss: HssData) -> None:
        """TS 29.228 6.1.4: a distinct IMPU inside a wildcard range is its own entry."""
        found = hss.lookup_public_identity("sip:wrtc-vip@block1.ims.example.net")
        assert found is not None and not found.wildcarded
        assert found.subscription.impi == "bob@ims.example.net"

    def test_unknown_identity(self, hss: HssData) -> None:
        assert hss.lookup_public_identity("sip:wrtc-alice@block2.ims.example.net") is None
        assert hss.serving_scscf("sip:carol@example.org") is None

    def test_serving_scscf_answers_the_location_query(self, hss: HssData) -> None:
        assert hss.serving_scscf("sip:wrtc-alice@block1.ims.example.net") == SCSCF
        assert hss.serving_scscf("sip:wrtc-vip@block1.ims.example.net") == "sip:scscf2.ims.example.net"

    def test_an_invalid_identity_raises(self, hss: HssData) -> None:
        with pytest.raises(IdentityError):
            hss.lookup_public_identity("sip:no-user-part.example.net")

    def test_overlapping_wildcards_are_ambiguous_at_lookup(self) -> None:
        second = {"impi": "block9@ims.example.net", "password": "x", "scscf": SCSCF,
                  "impus": ["sip:block9@wrtc.ims.example.net"],
                  "wildcard_impus": ["sip:wrtc-a!.*!@block1.ims.example.net"]}  # fmt: skip
        hss = HssData.from_mapping({"subscription": [*DATA["subscription"], second]})
        with pytest.raises(AmbiguousIdentity):
            hss.lookup_public_identity("sip:wrtc-alice@block1.ims.example.net")

    def test_password_is_not_in_repr(self, hss: HssData) -> None:
        assert "block1-secret" not in repr(hss.subscriptions)


class TestValidation:
    def test_same_distinct_impu_in_two_subscriptions(self) -> None:
        with pytest.raises(HssDataError, match="distinct IMPU 'sip:bob@ims.example.net'"):
            HssData.from_mapping(data(impus=["sip:bob@IMS.example.net"]))

    def test_same_wildcard_in_two_subscriptions(self) -> None:
        twice = copy.deepcopy(DATA)
        twice["subscription"][1]["wildcard_impus"] = ["sip:wrtc-!.*!@BLOCK1.ims.example.net"]
        with pytest.raises(HssDataError, match="wildcarded IMPU"):
            HssData.from_mapping(twice)

    def test_same_impi_twice(self) -> None:
        with pytest.raises(HssDataError, match="private identity"):
            HssData.from_mapping(data(impi="bob@ims.example.net"))

    def test_a_wildcard_that_does_not_compile(self) -> None:
        with pytest.raises(WildcardError):
            HssData.from_mapping(data(wildcard_impus=["sip:wrtc-!(a+)+!@block1.ims.example.net"]))

    def test_an_implicit_set_without_a_distinct_impu(self) -> None:
        with pytest.raises(HssDataError, match="no distinct IMPU"):
            HssData.from_mapping(data(impus=[]))

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"password": ""}, "'password'"),
            ({"impus": "sip:block1@wrtc.ims.example.net"}, "list of strings"),
            ({"colour": "blue"}, "unknown field"),
        ],
    )
    def test_malformed_fields(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(HssDataError, match=message):
            HssData.from_mapping(data(**changes))

    def test_a_distinct_impu_that_is_not_an_identity(self) -> None:
        with pytest.raises(IdentityError):
            HssData.from_mapping(data(impus=["mailto:block1@example.net"]))
