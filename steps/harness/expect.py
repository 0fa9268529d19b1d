"""Checks shared by the steps: each failure says what was expected and what arrived."""

from __future__ import annotations

from typing import Any

from reference.sip.identity import WildcardImpu, same_identity
from reference.sip.message import Response

__all__ = [
    "bearer_challenge",
    "handshake_accepted",
    "handshake_refused",
    "live_contacts",
    "no_entry",
    "option_b_binding",
    "same_impu",
    "status",
]


def _describe(response: Response | None) -> str:
    return "no response" if response is None else f"'{response.start_line()}'"


def status(response: Response | None, expected: int) -> None:
    assert response is not None and response.status == expected, (
        f"expected a {expected} response from the eP-CSCF, got {_describe(response)}"
    )


def handshake_accepted(outcome: Any) -> None:
    assert outcome.refused is None, f"the eP-CSCF refused the WebSocket handshake: {outcome.refused}"


def handshake_refused(outcome: Any, expected: int) -> None:
    assert outcome.refused is not None, "the eP-CSCF accepted the WebSocket handshake"
    assert outcome.refused.status == expected, (
        f"expected the handshake to be refused with HTTP {expected}, got HTTP {outcome.refused.status}"
    )


def live_contacts(entry: dict[str, Any] | None, count: int, what: str) -> None:
    assert entry is not None, f"the wIMPU Registrar has no entry for {what}"
    found = len(entry["contacts"])
    assert found == count, f"expected {count} live contact(s) in {what}, the registrar holds {found}"


def no_entry(entry: dict[str, Any] | None, identity: str) -> None:
    assert entry is None, f"the wIMPU Registrar still holds an entry for {identity}: {entry}"


def option_b_binding(entry: dict[str, Any] | None, external: str, wimpu: str) -> None:
    assert entry is not None, f"no registrar entry is bound to the external identity {external}"
    assert entry["allocated_by"] == "ep-cscf", f"the IMPU was allocated by {entry['allocated_by']}"
    assert same_identity(entry["external_identity"], external)
    assert WildcardImpu.parse(wimpu).matches(entry["impu"]), (
        f"the allocated IMPU {entry['impu']} is not in block {wimpu}"
    )
    assert not same_identity(entry["impu"], external), "the IMPU is the external identity itself"


def same_impu(entry: dict[str, Any] | None, impu: str | None) -> None:
    assert entry is not None and impu is not None
    assert same_identity(entry["impu"], impu), f"the IMPU changed from {impu} to {entry['impu']}"


def bearer_challenge(response: Response | None, wwsf_origin: str) -> None:
    assert response is not None
    challenge = response.get("WWW-Authenticate") or ""
    assert challenge.startswith("Bearer"), f"expected a Bearer challenge, got {challenge!r}"
    assert f'authz_server="{wwsf_origin}"' in challenge, (
        f"the challenge does not name the WWSF: {challenge!r}"
    )
