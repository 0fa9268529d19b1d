"""The one wIMPU block model (reference.blocks, TR 23.701 5.2.2.1)."""

from __future__ import annotations

import pytest

from reference.blocks import Allocation, WimpuBlock, block_of
from reference.sip.identity import IdentityError

A = WimpuBlock.parse("sip:wrtc-!.*!@block1.ims.example.net", "A", name="block1")
B = WimpuBlock.parse("sip:wrtc-!.*!@block2.ims.example.net", "B", ("Enterprise.com",), name="block2")


def test_option_letters_go_both_ways() -> None:
    assert Allocation.from_letter("A") is Allocation.THIRD_PARTY and Allocation.THIRD_PARTY.letter == "A"
    assert Allocation.from_letter("B") is Allocation.EP_CSCF and Allocation.EP_CSCF.letter == "B"
    assert (A.option, B.option) == ("A", "B")
    with pytest.raises(ValueError, match="option must be"):
        Allocation.from_letter("C")


def test_block_of_finds_option_a_by_wildcard_and_option_b_by_domain() -> None:
    assert block_of([A, B], "sip:wrtc-alice@block1.ims.example.net") is A
    assert block_of([A, B], "sip:bob@enterprise.com") is B
    assert block_of([A, B], "sip:bob@ENTERPRISE.com:5060") is B
    assert block_of([A, B], "sip:carol@ims.example.net") is None


def test_an_allocated_impu_finds_its_block_only_when_asked() -> None:
    impu = B.allocate("sip:bob@enterprise.com")
    assert B.holds(impu) and not B.serves(impu)
    assert block_of([A, B], impu) is None
    assert block_of([A, B], impu, allocated=True) is B


def test_allocation_is_deterministic_and_inside_the_block() -> None:
    assert B.allocate("sip:bob@enterprise.com") == B.allocate("sip:bob@ENTERPRISE.COM")
    assert B.allocate("sip:bob@enterprise.com").startswith("sip:wrtc-")


def test_a_malformed_identity_raises_in_block_of_and_never_in_the_predicates() -> None:
    with pytest.raises(IdentityError):
        block_of([A, B], "mailto:x@y")
    assert not A.holds("mailto:x@y") and not A.serves("not a uri") and not B.serves("sip:@")


def test_a_block_knows_its_own_wildcard_however_written_and_never_raises() -> None:
    block = WimpuBlock.parse("sip:wrtc-!.*!@block1.ims.example.net", "A")
    assert block.is_block("sip:wrtc-!.*!@block1.ims.example.net")
    assert not block.is_block("sip:wrtc-!.*!@block2.ims.example.net")
    assert not block.is_block("not a wildcard")
