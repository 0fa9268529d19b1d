"""Fixtures of the S-CSCF tests: an HSS data set, an S-CSCF with deterministic randomness
and the block's UA (helpers in ``scscf_helpers``)."""

from __future__ import annotations

import pytest
from scscf_helpers import HSS_DATA, REALM, BlockUa, fake_random

from reference.nodes.hss import HssData
from reference.nodes.s_cscf import Scscf, ScscfConfig


@pytest.fixture
def hss() -> HssData:
    return HssData.from_mapping(HSS_DATA)


@pytest.fixture
def config() -> ScscfConfig:
    return ScscfConfig(
        uri="sip:scscf.ims.example.net",
        orig_uri="sip:orig@scscf.ims.example.net;lr",
        realm=REALM,
        i_cscf_uri="sip:icscf.ims.example.net;lr",
        remote_party_uri="sip:ibcf.ims.example.net;lr",
        i_cscf_domains=("enterprise.com",),
        min_expires=60,
        max_expires=7200,
    )


@pytest.fixture
def scscf(config: ScscfConfig, hss: HssData) -> Scscf:
    return Scscf(config, hss, nonce_key=b"k" * 32, random_bytes=fake_random())


@pytest.fixture
def block_ua(scscf: Scscf) -> BlockUa:
    return BlockUa(scscf)
