"""Contact values a WIC's REGISTER is refused for at the edge, with 400 and a reason (RFC 5626 4)."""

from __future__ import annotations

import pytest

from reference.nodes.p_cscf.flows import contact_problem
from reference.sip.address import parse_name_addr

BASE = "<sip:c@h.invalid;transport=ws>"


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (';+sip.instance="<urn:uuid:1>";reg-id=1', None),
        (";reg-id=1", None),  # RFC 5626 6: without an instance, RFC 3261 rules alone
        ("", None),
        (';+sip.instance="<urn:uuid:1>";reg-id=abc', "reg-id"),
        (';+sip.instance="<urn:uuid:1>";reg-id=0', "reg-id"),
        (';+sip.instance="<urn:uuid:1>";reg-id=2147483648', "reg-id"),
        (';+sip.instance="<http://x>";reg-id=1', "+sip.instance"),
        (';+sip.instance=urn:uuid:1;reg-id=1', "+sip.instance"),
        (';+sip.instance="<urn:uuid:' + "a" * 300 + '>";reg-id=1', "+sip.instance"),
    ],
)
def test_contact_problems(params: str, problem: str | None) -> None:
    found = contact_problem(parse_name_addr(BASE + params))
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_an_oversized_contact_uri_is_refused() -> None:
    found = contact_problem(parse_name_addr(f"<sip:{'a' * 1100}@h.invalid;transport=ws>"))
    assert found is not None and "Contact URI" in found
