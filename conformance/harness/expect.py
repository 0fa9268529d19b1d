"""Checks shared by the steps: each failure says what was expected and what arrived.

Also the harness's one policy on time (issue 14, "a suite that never flakes"): a wait for
something that should happen (a response, a connection, a message at a peer, a capture
catching up) is bounded by :data:`EVENT_WAIT`, generous because it costs nothing when the
event comes and a loaded 2-core machine can be seconds late; only a window that measures
*absence* ("nothing more arrives") is short, and it is named (:data:`ABSENCE_WINDOW`).
Timers the text or the solution profile prescribes (registration expiry, a block lease,
the SUT's failover time, ``[timing] failover_within`` of its PIXIT) are not these and keep
their values.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from captures.flows import BlockRecord, block_key
from reference.nodes.wimpu_registrar.model import AllocatedBy, Entry
from reference.sip.address import parse_uri
from reference.sip.identity import IdentityError, WildcardImpu, same_identity
from reference.sip.message import Request, Response

from .errors import HarnessError
from .sut import Unobservable
from .views import DirectoryEntry, Session

__all__ = [
    "DEFAULT_EVENT_WAIT",
    "FAULT_RUN_EVENT_WAIT",
    "ABSENCE_WINDOW",
    "EVENT_WAIT",
    "all_status",
    "associated_uris",
    "bearer_challenge",
    "block_not_registered",
    "block_refreshed",
    "body_text",
    "cancelled",
    "count",
    "directory",
    "distinct_ep_cscfs",
    "granted_interval",
    "handshake_accepted",
    "handshake_refused",
    "impu",
    "in_block",
    "live_contacts",
    "no_entry",
    "no_deviation",
    "none",
    "one_block_registration",
    "not_accepted",
    "option_b_binding",
    "route",
    "rules_pass",
    "same_body",
    "same_identity_as",
    "same_impu",
    "service_route",
    "session_rejected",
    "session_status",
    "single",
    "single_block_registration",
    "status",
    "token_invalid",
    "wait_until",
    "wait_until_async",
    "wic_page",
    "within",
]

T = TypeVar("T")

DEFAULT_EVENT_WAIT = 30.0
FAULT_RUN_EVENT_WAIT = 15.0
"""The ``WIMPU_EVENT_WAIT`` the fault runs set (see :func:`_event_wait`). Above the longest answer
the reference legitimately delays in process, with room: a WIC's REGISTER while its block's
registration is under way waits up to ``WIC_WAIT`` (8 s) for it (TP_WIMPU_BLK_009);
``tests/mutants/test_mutants.py`` runs every guarding scenario without a fault at this wait."""


def _event_wait(environ: Mapping[str, str]) -> float:
    """``WIMPU_EVENT_WAIT`` if set (a positive number of seconds), else :data:`DEFAULT_EVENT_WAIT`.

    The fault runs (``tests/mutants``, ``scripts/blind_mutants.py``) set
    :data:`FAULT_RUN_EVENT_WAIT`: every node is in the
    harness's process on loopback there, and each fault a scenario catches by an event that never
    comes would otherwise cost 30 s of waiting (issue 18: the whole suite's wall time)."""
    raw = environ.get("WIMPU_EVENT_WAIT", "").strip()
    if not raw:
        return DEFAULT_EVENT_WAIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ValueError(f"WIMPU_EVENT_WAIT={raw!r}: expected a positive number of seconds")
    return seconds


EVENT_WAIT = _event_wait(os.environ)
"""Seconds the harness waits at most for an event that should come (a response, a WebSocket
handshake, a request at a peer, the capture's sync probe). Never a measure of speed: the wait
ends as soon as the event comes; 2-3 s bounds were seen to fire under a CPU hog on 2 cores."""

ABSENCE_WINDOW = 1.2
"""Seconds after a session attempt during which a message that must *not* come is looked for
(a second 200, an INVITE at a WIC that must not ring, a CANCEL at the winner). A late message
after it goes unseen: that is the measure, not a race."""

POLL_INTERVAL = 0.02
"Seconds between two looks at a condition polled by :func:`wait_until`."


def wait_until(predicate: Callable[[], T], what: str, within: float = EVENT_WAIT) -> T:
    """``predicate()``'s first true value, looked at every :data:`POLL_INTERVAL` s.

    Raises:
        AssertionError: still false after ``within`` s; the message names ``what`` was awaited.
    """
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {within:g} s for {what}, in vain")
        time.sleep(POLL_INTERVAL)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]], what: str, within: float = EVENT_WAIT
) -> T:
    """:func:`wait_until` on an event loop (``predicate`` may be a coroutine function)."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {within:g} s for {what}, in vain")
        await asyncio.sleep(POLL_INTERVAL)


def within(took: float, bound: float, what: str) -> None:
    """``what`` took at most ``bound`` seconds."""
    assert took <= bound, f"{what} took {took:.2f} s, more than the {bound:g} s of the PIXIT"


def _describe(response: Response | None) -> str:
    return "no response" if response is None else f"'{response.start_line()}'"


def status(response: Response | None, expected: int, who: str = "the eP-CSCF") -> None:
    assert response is not None and response.status == expected, (
        f"expected a {expected} response from {who}, got {_describe(response)}"
    )


def _same_uri(a: str, b: str) -> bool:
    """User, host (case-insensitive) and port alike (RFC 3261 19.1.4, without the parameters)."""
    x, y = parse_uri(a), parse_uri(b)
    return (x.user, x.host.lower(), x.port) == (y.user, y.host.lower(), y.port)


def granted_seconds(response: Response | None, contact_uri: str) -> int:
    """The interval a 2xx to a REGISTER grants ``contact_uri`` (compared as URIs): its ``expires``
    parameter, else the ``Expires`` header (RFC 3261 10.3 step 8)."""
    assert response is not None and 200 <= response.status < 300, f"expected a 2xx, got {_describe(response)}"
    mine = [c for c in response.contacts if _same_uri(c.uri, contact_uri)]
    assert mine, f"the 200 OK lists {[c.uri for c in response.contacts]}, not the WIC's contact {contact_uri}"
    value = mine[0].param("expires") or response.get("Expires")
    assert value is not None and value.strip().isdigit(), f"the WIC's contact has no interval: {mine[0]}"
    return int(value)


def granted_interval(response: Response | None, contact_uri: str, asked: int) -> None:
    """The 2xx lists ``contact_uri`` (compared as URIs) with an ``expires`` of 1..``asked``."""
    granted = granted_seconds(response, contact_uri)
    assert 1 <= granted <= asked, f"granted {granted} s to a WIC that asked {asked} s (RFC 3261 10.3 step 8)"


def not_accepted(response: Response | None, who: str = "the eP-CSCF") -> None:
    """A final response that is not a 2xx (a refusal, whatever its code)."""
    assert response is not None, f"expected {who} to refuse the request, got no response"
    assert response.status >= 300, f"expected {who} to refuse the request, got {_describe(response)}"


def not_accepted_if_answered(response: Response | None, who: str = "the eP-CSCF") -> None:
    """No 2xx: either no final response came, or one that refuses the request."""
    assert response is None or response.status >= 300, (
        f"expected {who} not to accept the request, got {_describe(response)}"
    )


def all_status(responses: Sequence[Response], expected: int, what: str) -> None:
    found = [r.start_line() for r in responses]
    assert responses and all(r.status == expected for r in responses), (
        f"expected {what} to be answered {expected}, got {found}"
    )


def handshake_accepted(outcome: Any) -> None:
    assert outcome.refused is None, f"the eP-CSCF refused the WebSocket handshake: {outcome.refused}"
    assert outcome.failed is None, str(outcome.failed)


def handshake_refused(outcome: Any, expected: int) -> None:
    assert outcome.refused is not None, "the eP-CSCF accepted the WebSocket handshake"
    assert outcome.refused.status == expected, (
        f"expected the handshake to be refused with HTTP {expected}, got HTTP {outcome.refused.status}"
    )


def live_contacts(entry: Entry | None, count: int, what: str) -> None:
    assert entry is not None, f"the wIMPU Registrar has no entry for {what}"
    found = len(entry.contacts)
    assert found == count, f"expected {count} live contact(s) in {what}, the registrar holds {found}"


def no_entry(entry: Entry | None, identity: str) -> None:
    assert entry is None, f"the wIMPU Registrar still holds an entry for {identity}: {entry}"


def option_b_binding(entry: Entry | None, external: str, wimpu: str) -> None:
    assert entry is not None, f"no registrar entry is bound to the external identity {external}"
    assert entry.allocated_by is AllocatedBy.EP_CSCF, (
        f"expected an IMPU allocated by the eP-CSCF, the registrar says {entry.allocated_by.value}"
    )
    assert entry.external_identity is not None and same_identity(entry.external_identity, external), (
        f"expected the entry bound to {external}, it is bound to {entry.external_identity}"
    )
    assert WildcardImpu.parse(wimpu).matches(entry.impu), (
        f"expected an IMPU of block {wimpu}, the registrar holds {entry.impu}"
    )
    assert not same_identity(entry.impu, external), (
        f"expected an individual IMPU other than the external identity, got {entry.impu}"
    )


def same_impu(entry: Entry | None, impu: str | None) -> None:
    assert impu is not None, "no individual IMPU was remembered from the first registration"
    assert entry is not None, f"expected the registrar to still hold IMPU {impu}, it holds no entry"
    assert same_identity(entry.impu, impu), f"the IMPU changed from {impu} to {entry.impu}"


def bearer_challenge(response: Response | None, wwsf_origin: str) -> None:
    assert response is not None, "expected a response with a Bearer challenge, got no response"
    challenge = response.get("WWW-Authenticate") or ""
    assert challenge.startswith("Bearer"), f"expected a Bearer challenge, got {challenge!r}"
    assert f'authz_server="{wwsf_origin}"' in challenge, (
        f"the challenge does not name the WWSF: {challenge!r}"
    )


def token_invalid(response: Response | None, wwsf_origin: str) -> None:
    """A Bearer challenge naming the WWSF with ``error="invalid_token"`` (RFC 6750 3.1). The code is
    its own step's check (``the eP-CSCF answers 401``, the same profile choice), not made again here."""
    bearer_challenge(response, wwsf_origin)
    assert response is not None  # bearer_challenge said so; for the type checker
    challenge = response.get("WWW-Authenticate") or ""
    assert 'error="invalid_token"' in challenge, (
        f'expected error="invalid_token" in the challenge, got {challenge!r}'
    )


def wic_page(status_code: int, media_type: str, page: str) -> None:
    assert status_code == 200, f"expected the WWSF to serve the WIC with HTTP 200, got HTTP {status_code}"
    assert media_type == "text/html", f"expected the WIC as text/html, got {media_type!r}"
    assert "<html" in page.lower(), f"expected an HTML page, got {page[:80]!r}"


def login_accepted(status: int) -> None:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token": the log-in
    of a user with the right password is accepted (a 2xx)."""
    assert 200 <= status < 300, (
        f"the WWSF refused the log-in of a user with the right password (HTTP {status})"
    )


def logins_accepted_or_throttled(statuses: Sequence[int]) -> None:
    """5.2.2.5.2 step 1: "The WWSF authenticates the user using a common web authentication procedure.
    Upon successful authentication, the WWSF issues a security token": log-ins of a user with the right
    password, one after the other (each answer's status), the first accepted (a 2xx), no other refused
    as a failed authentication (a 4xx other than 429). A 429 (RFC 6585 4) refuses the attempt before
    any authentication, which the text leaves to the WWSF's procedure; whether it was the profile's is
    judged on the wire (``WWSF_THROTTLE_FAILURES``).

    Raises:
        AssertionError: the first refused, or one refused as a failed authentication.
        Unobservable: a 5xx: whether the WWSF authenticated that log-in is not known.
    """
    assert statuses, "no log-in was tried"
    login_accepted(statuses[0])
    wrong = [f"log-in {n} answered {s}" for n, s in enumerate(statuses, 1) if 400 <= s < 500 and s != 429]
    refused = "the WWSF refused log-ins of a user with the right password as failed authentications"
    assert not wrong, f"{refused}: {', '.join(wrong)}"
    troubled = [f"log-in {n} answered {s}" for n, s in enumerate(statuses, 1) if s >= 500]
    if troubled:
        failed = ", ".join(troubled)
        raise Unobservable(f"the WWSF failed ({failed}): whether it authenticated the user is not known")


def login_refused(status: int) -> None:
    """5.2.2.5.2 step 1: "Upon successful authentication, the WWSF issues a security token": a log-in
    that fails the authentication is not accepted (no 2xx). That the refusal carries no token is on
    the wire and judged by the capture rule ``WWSF_LOGIN``, not here (one judge per requirement)."""
    assert not 200 <= status < 300, (
        f"the WWSF accepted a log-in that fails the authentication (HTTP {status})"
    )


def in_block(entry: Entry | None, wimpu: str, what: str) -> None:
    assert entry is not None, f"the wIMPU Registrar has no entry for {what}"
    assert block_key(entry.wimpu) == block_key(wimpu), (
        f"expected {what} in block {wimpu}, the registrar records {entry.wimpu}"
    )
    assert WildcardImpu.parse(wimpu).matches(entry.impu), (
        f"the individual IMPU {entry.impu} of {what} is not in block {wimpu}"
    )


def impu(entry: Entry | None, user: str) -> str:
    """The individual IMPU of a registrar entry (the entry must exist)."""
    assert entry is not None, f"the wIMPU Registrar has no entry for {user}, so no individual IMPU"
    return entry.impu


def same_identity_as(found: str, expected: str, what: str) -> None:
    try:
        same = same_identity(found, expected)
    except IdentityError:
        same = False
    assert same, f"expected {what} to be {expected}, got {found}"


def single(items: Sequence[T], what: str) -> T:
    assert len(items) == 1, f"expected exactly one {what}, got {len(items)}"
    return items[0]


def count(items: Sequence[Any], expected: int, what: str) -> None:
    assert len(items) == expected, f"expected {expected} {what}, got {len(items)}"


def none(items: Sequence[Any], what: str) -> None:
    assert not items, f"expected no {what}, got {len(items)}: " + "; ".join(
        i.start_line() if isinstance(i, Request | Response) else repr(i) for i in items
    )


# ----- block registration (5.2.2.5.1) ----------------------------------------------------


def block_not_registered(live: Sequence[BlockRecord], wimpu: str) -> None:
    """No registration of block ``wimpu`` is live (``live``: the world's live block registrations)."""
    assert not live, (
        f"expected block {wimpu} not to be registered with the S-CSCF yet, it holds {len(live)} "
        f"registration(s): {_block_records(live)}"
    )


def _block_records(records: Sequence[BlockRecord]) -> str:
    return "; ".join(f"by {r.ep_cscf} (Call-ID {r.call_id}, frame {r.frame})" for r in records) or "none"


def block_refreshed(accepted: Sequence[str], ep_cscf: str, wimpu: str) -> None:
    """At least two accepted registrations of block ``wimpu`` (the first and a refresh), every one
    by eP-CSCF ``ep_cscf`` (``accepted``: the node each 200 OK of the S-CSCF went to)."""
    assert len(accepted) >= 2, (
        f"expected eP-CSCF {ep_cscf} to have registered block {wimpu} again before its registration ran "
        f"out; the S-CSCF accepted {len(accepted)} registration(s) of it"
    )
    others = sorted({node for node in accepted if node != ep_cscf})
    assert not others, (
        f"expected every registration of block {wimpu} to be by {ep_cscf}, some were by {others}"
    )


def one_block_registration(live: Sequence[BlockRecord], wimpu: str) -> BlockRecord:
    """The S-CSCF holds one registration of block ``wimpu`` (``live``); returns it."""
    assert len(live) == 1, (
        f"expected a single IMS registration of block {wimpu}, the S-CSCF holds {len(live)}: "
        f"{_block_records(live)}"
    )
    return live[0]


def single_block_registration(live: Sequence[BlockRecord], wimpu: str, ep_cscf: str) -> None:
    """The S-CSCF holds one registration of block ``wimpu`` (``live``), made by ``ep_cscf``."""
    one_block_registration(live, wimpu)
    assert live[0].ep_cscf == ep_cscf, (
        f"expected the registration of block {wimpu} to be made by eP-CSCF {ep_cscf}, it was made "
        f"{_block_records(live)}"
    )


def service_route(record: BlockRecord, wimpu: str) -> None:
    assert record.service_route, (
        f"the 200 OK to the registration of block {wimpu} (frame {record.frame}) carried no Service-Route"
    )


def associated_uris(record: BlockRecord, wimpu: str, distinct: str) -> None:
    found = list(record.associated)
    keys = [block_key(uri) for uri in found]  # as identities compare (RFC 3261 19.1.4), not as written
    assert keys and keys[0] == block_key(distinct), (
        f"expected P-Associated-URI of block {wimpu} to start with the distinct IMPU {distinct}, "
        f"got {found} (frame {record.frame})"
    )
    assert block_key(wimpu) in keys[1:], (
        f"expected the wildcarded IMPU {wimpu} after the distinct IMPU in P-Associated-URI, got {found}"
    )


def directory(entries: Sequence[DirectoryEntry], wanted: Sequence[tuple[str, DirectoryEntry]]) -> None:
    """5.2.2.5.1 step 1: the WWSF announces each block with the eP-CSCF serving it (compared as the
    identities and URLs they name, :class:`DirectoryEntry`)."""
    for wimpu, ep in wanted:
        got = next((e for e in entries if e.is_block(wimpu)), None)
        assert got is not None, (
            f"expected the WWSF to announce block {wimpu}, it announces {sorted(e.wimpu for e in entries)}"
        )
        assert got.same_ep_cscf(ep), (
            f"expected block {wimpu} served by {ep.ep_cscf_identity} at {ep.ep_cscf_uri}, "
            f"the WWSF announces {got.ep_cscf_identity} at {got.ep_cscf_uri}"
        )


def distinct_ep_cscfs(entries: Sequence[DirectoryEntry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        other = seen.setdefault(entry.ep_cscf_key, entry.wimpu)
        assert other == entry.wimpu, (
            f"expected a different eP-CSCF for each block, "
            f"{entry.ep_cscf_identity} serves {other} and {entry.wimpu}"
        )


# ----- sessions (5.2.2.5.3, 5.2.2.5.4) ----------------------------------------------------


def session_status(session: Session | None, expected: int) -> None:
    if session is None:
        raise HarnessError("no session was attempted")
    assert session.status == expected, (
        f"expected {session.caller} to receive {expected} for the session to {session.called}, "
        f"got {session.status}"
    )


def session_rejected(session: Session | None) -> None:
    """The last attempt got a final response that is not a 2xx (whatever its code)."""
    if session is None:
        raise HarnessError("no session was attempted")
    assert session.status is not None and session.status >= 300, (
        f"expected the request of {session.caller} to {session.called} to be rejected, got "
        + (f"{session.status}" if session.status is not None else "no final response")
    )


def same_body(received: Request, sent: Request, what: str) -> None:
    """``received`` carries the body ``sent`` carried, byte for byte, with its Content-Type."""
    assert received.body == sent.body and received.get("Content-Type") == sent.get("Content-Type"), (
        f"expected {what} to carry the body the sender wrote ({sent.get('Content-Type')}: {sent.body!r}), "
        f"got ({received.get('Content-Type')}: {received.body!r})"
    )


def body_text(request: Request, text: str, what: str) -> None:
    """``request`` carries ``text`` as its text/plain body."""
    assert request.body == text.encode() and (request.get("Content-Type") or "").startswith("text/plain"), (
        f"expected {what} to carry the text/plain body {text!r}, got "
        f"({request.get('Content-Type')}: {request.body!r})"
    )


_NODES = re.compile(r"\s*(?:,|\band\b)\s*")


def route(hops: Sequence[str], nodes: str) -> None:
    """``hops`` (originator first) went through ``nodes``: "the eP-CSCF and the S-CSCF"."""
    wanted = [n.strip().removeprefix("the ").strip() for n in _NODES.split(nodes) if n.strip()]
    assert list(hops[1:]) == wanted, f"expected the request to pass through {wanted}, it passed {list(hops)}"


def rules_pass(findings: Sequence[Any], rules: Sequence[str]) -> None:
    """Every finding of the named verify rules passed, and each rule judged something. A
    ``deviation`` from a solution-profile choice is the caller's to record (:func:`no_deviation`).
    A rule that said only ``inconclusive`` where nothing failed leaves the step inconclusive.

    Raises:
        AssertionError: a rule failed, or judged no flow.
        Unobservable: no rule failed, and one could not judge (a leg or message missing from the capture).
    """
    unsure = []
    for rule in rules:
        found = [f for f in findings if f.rule_id == rule]
        assert found, f"rule {rule} judged no flow of the session's capture"
        bad = [f for f in found if f.verdict not in ("pass", "deviation", "inconclusive")]
        assert not bad, "; ".join(_finding(f) for f in bad)
        unsure += [f for f in found if f.verdict == "inconclusive"]
    if unsure:
        raise Unobservable("; ".join(_finding(f) for f in unsure))


def no_deviation(findings: Sequence[Any]) -> None:
    """No rule found a deviation from a solution-profile choice (that choice's profile check)."""
    found = [f for f in findings if f.verdict == "deviation"]
    assert not found, "; ".join(_finding(f) for f in found)


def _finding(f: Any) -> str:
    return f"{f.rule_id} {f.verdict.upper()} ({f.clause}) on {f.flow_id}: {f.detail}" + (
        f" [frame {f.message.frame}, {f.leg}]" if f.message is not None else ""
    )


def cancelled(cancels: Sequence[Request], wic: str) -> Request:
    """RFC 3261 16.7 step 10: once a 2xx is forwarded, the proxy "MUST generate a CANCEL" for every
    pending branch: exactly one CANCEL transaction reaches the WIC. A copy of the same request (the
    same top Via branch and CSeq: RFC 3261 17.2.3 matches it to the same server transaction, which
    absorbs it) is the same CANCEL sent again, not a second one: Kamailio's ``tm`` sent one such copy
    2 ms after the first to one branch of a three-way fork (issue 16; docs/validation.md, harness
    assumption 12)."""
    transactions: dict[tuple[str | None, str | None], Request] = {}
    for cancel in cancels:
        transactions.setdefault((cancel.branch, cancel.get("CSeq")), cancel)
    return single(list(transactions.values()), f"CANCEL transaction at WIC {wic}")
