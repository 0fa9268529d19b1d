"""The WWSF's directory is judged by the identities and URLs it names, not by how it spells them
(5.2.2.5.1 step 1; RFC 3261 19.1.4, RFC 3986 6.2.2-6.2.3): a WWSF that writes the block's host in
capitals or the eP-CSCF's URL with its default port announces the same thing."""

from __future__ import annotations

import pytest

from conformance.harness import expect
from conformance.harness.views import DirectoryEntry

BLOCK = "sip:wrtc-!.*!@block1.ims.example.net"
EP = DirectoryEntry(BLOCK, "sip:ep-cscf1.ims.example.net", "wss://127.0.0.1:7443")


@pytest.mark.parametrize(
    "announced",
    [
        EP,
        DirectoryEntry("sip:wrtc-!.*!@BLOCK1.ims.example.net", "sip:EP-CSCF1.ims.example.net", "wss://127.0.0.1:7443/"),
        DirectoryEntry("<sip:wrtc-%21.*%21@block1.ims.example.net>", EP.ep_cscf_identity, "WSS://127.0.0.1:7443"),
    ],
)  # fmt: skip
def test_the_same_block_and_ep_cscf_spelled_otherwise_are_announced(announced: DirectoryEntry) -> None:
    expect.directory([announced], [(BLOCK, EP)])


def test_a_default_port_is_the_port_it_stands_for() -> None:
    on_443 = DirectoryEntry(BLOCK, EP.ep_cscf_identity, "wss://ep-cscf1.ims.example.net")
    expect.directory([dataclass_with(on_443, "wss://ep-cscf1.ims.example.net:443")], [(BLOCK, on_443)])


@pytest.mark.parametrize(
    ("announced", "why"),
    [
        (DirectoryEntry(BLOCK.replace("block1", "block2"), EP.ep_cscf_identity, EP.ep_cscf_uri), "announce"),
        (DirectoryEntry(BLOCK.replace("wrtc", "WRTC"), EP.ep_cscf_identity, EP.ep_cscf_uri), "announce"),
        (DirectoryEntry(BLOCK, "sip:ep-cscf2.ims.example.net", EP.ep_cscf_uri), "served by"),
        (DirectoryEntry(BLOCK, EP.ep_cscf_identity, "wss://127.0.0.1:7444"), "served by"),
        (DirectoryEntry(BLOCK, EP.ep_cscf_identity, "ws://127.0.0.1:7443"), "served by"),
        (DirectoryEntry("not an identity", EP.ep_cscf_identity, EP.ep_cscf_uri), "announce"),
    ],
)  # fmt: skip
def test_another_block_or_ep_cscf_fails(announced: DirectoryEntry, why: str) -> None:
    """The user part of an identity is case-sensitive (RFC 3261 19.1.4): WRTC is another block."""
    with pytest.raises(AssertionError, match=why):
        expect.directory([announced], [(BLOCK, EP)])


def test_one_ep_cscf_spelled_twice_serving_two_blocks_is_shared() -> None:
    second = DirectoryEntry(
        "sip:wrtc-!.*!@block2.ims.example.net", "sip:EP-CSCF1.ims.example.net", EP.ep_cscf_uri
    )
    with pytest.raises(AssertionError, match="a different eP-CSCF for each block"):
        expect.distinct_ep_cscfs([EP, second])


def dataclass_with(entry: DirectoryEntry, uri: str) -> DirectoryEntry:
    return DirectoryEntry(entry.wimpu, entry.ep_cscf_identity, uri)
