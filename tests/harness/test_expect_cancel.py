"""The step "receives a CANCEL" counts CANCEL transactions (RFC 3261 16.7 step 10, 17.2.3):
conformance/harness/expect.py; its Reason is the profile's (RFC 3326), judged by the rule
TERM_FORK_CANCEL (captures/rules/, ``has_sip_cause``), live and offline."""

from __future__ import annotations

import pytest

from captures.rules import has_sip_cause
from conformance.harness import expect
from reference.sip.message import Request
from reference.sip.parser import parse_message


def cancel(branch: str, reason: str | None = "SIP;cause=200") -> Request:
    head = (
        "CANCEL sip:c@w.invalid;transport=ws SIP/2.0\r\n"
        f"Via: SIP/2.0/WSS 127.0.0.1:7443;branch={branch}\r\n"
        "Max-Forwards: 70\r\nTo: <sip:wrtc-alice@block1.ims.example.net>\r\n"
        "From: <sip:dave@remote.example.org>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 CANCEL\r\n"
        + (f"Reason: {reason}\r\n" if reason is not None else "")
        + "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(head.encode())
    assert isinstance(message, Request)
    return message


def test_a_cancel_sent_again_in_its_transaction_is_one_cancel() -> None:
    first = cancel("z9hG4bK-1")
    assert expect.cancelled([first, cancel("z9hG4bK-1")], "alice-1") is first


def test_two_cancel_transactions_for_one_branch_fail() -> None:
    with pytest.raises(AssertionError, match="exactly one CANCEL transaction"):
        expect.cancelled([cancel("z9hG4bK-1"), cancel("z9hG4bK-2")], "alice-1")
    with pytest.raises(AssertionError):
        expect.cancelled([], "alice-1")


@pytest.mark.parametrize("reason", ["SIP;cause=200", 'SIP ;cause=200 ;text="Call completed elsewhere"',
                                    'Q.850;cause=16, SIP;cause=200'])  # fmt: skip
def test_the_reason_needs_cause_200_whatever_its_text(reason: str) -> None:
    assert has_sip_cause(cancel("z9hG4bK-1", reason).get_all("Reason"), "200")


@pytest.mark.parametrize(
    "reason",
    [None, "Q.850;cause=16", "SIP;cause=487", 'Q.850;cause=200;text="a, b"', "SIP;cause=2000", "SIP;cause"],
)
def test_a_cancel_without_cause_200_fails_the_profile_check(reason: str | None) -> None:
    assert not has_sip_cause(cancel("z9hG4bK-1", reason).get_all("Reason"), "200")
