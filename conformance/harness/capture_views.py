"""The views read out of a scenario's captured messages, no node's state read.

Pure functions over decoded :class:`~captures.WireMessage` lists and the names of their
ends (:class:`~captures.Legs`): the block registration of a wIMPU range as the REGISTER
transactions between an eP-CSCF and the S-CSCF show it (TR 23.701 5.2.2.5.1), the W6 and
W7 requests the registrar received (5.2.2.4), and the agreement between what the harness's
peers sent or received and what the wire carried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

from captures import Legs, WireMessage
from reference.sip.address import NameAddr
from reference.sip.errors import SipError
from reference.sip.message import Request, Response

from .views import BlockRegistrationView

__all__ = [
    "Disagreement", "block_registration", "block_registrations_accepted", "block_registrations_granted",
    "disagreements",
]  # fmt: skip


def _node(name: str) -> str:
    return name.split("/", 1)[0]


def _expires(response: Response, request: Request | None) -> int:
    """The lifetime a 200 OK to REGISTER granted (RFC 3261 10.2.4): Contact expires, else Expires."""
    for contact in response.addresses("Contact"):
        value = contact.param("expires")
        if value is not None and value.isdigit():
            return int(value)
    header = response.get("Expires") or (request.get("Expires") if request is not None else None)
    return int(header) if header is not None and header.strip().isdigit() else 3600


def block_registration(
    messages: Sequence[WireMessage], legs: Legs, wimpu: str, now: float
) -> BlockRegistrationView:
    """TR 23.701 5.2.2.5.1: the IMS registration of block ``wimpu``, from the captured REGISTERs.

    The S-CSCF's last 200 OK to a REGISTER of an address of record lists every binding of it
    (RFC 3261 10.3 step 8). A registration of the block is an address of record (an eP-CSCF's
    distinct IMPU) whose last 200 OK lists ``wimpu`` in P-Associated-URI and at least one
    binding still live at ``now`` (capture clock). ``made_by`` names the node the Path of the
    REGISTER that last sent each live binding leads to.
    """
    requests: dict[tuple[str, str], Request] = {}
    by_contact: dict[str, Request] = {}
    latest: dict[str, tuple[WireMessage, Response, Request | None]] = {}
    for m in messages:
        if m.message is None or m.transport in ("WS", "WSS") or not m.is_sip:
            continue
        src, dst = _node(legs.src(m)), _node(legs.dst(m))
        try:
            if isinstance(m.message, Request) and m.message.method == "REGISTER" and dst == "s-cscf":
                requests[(m.message.call_id, str(m.message.cseq))] = m.message
                for contact in m.message.addresses("Contact"):
                    by_contact[contact.uri] = m.message
            elif isinstance(m.message, Response) and src == "s-cscf" and m.message.cseq.method == "REGISTER":
                if m.message.status == 200:
                    request = requests.get((m.message.call_id, str(m.message.cseq)))
                    latest[m.message.address("To").uri] = (m, m.message, request)
        except SipError:
            continue
    registrations = 0
    made_by: list[str] = []
    contacts: list[str] = []
    first: tuple[Response, tuple[str, ...]] | None = None
    for wire, response, request in latest.values():
        associated = tuple(a.uri for a in response.addresses("P-Associated-URI"))
        if wimpu not in associated:
            continue
        live = [c for c in response.addresses("Contact") if wire.time + _lifetime(c, response, request) > now]
        if not live:
            continue
        registrations += 1
        first = first or (response, associated)
        for contact in live:
            contacts.append(contact.uri)
            sender = by_contact.get(contact.uri)
            for path in sender.addresses("Path") if sender is not None else []:
                uri = path.parsed_uri()
                node = legs.listening((uri.host, uri.port or 5060)) if uri.host else None
                made_by.append(_node(node) if node is not None else path.uri)
    return BlockRegistrationView(
        wimpu=wimpu,
        registrations=registrations,
        contacts=tuple(contacts),
        made_by=tuple(made_by),
        service_route=tuple(f"<{a.uri}>" for a in first[0].addresses("Service-Route")) if first else (),
        associated=first[1] if first else (),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _BlockAnswer:
    """A 200 OK of the S-CSCF to a REGISTER: when it was captured, to which node, what it lists."""

    time: float
    to: str
    associated: tuple[str, ...]
    lifetime: int
    "The longest lifetime it gives a binding (0: none left, a de-registration)."


def _block_answers(messages: Sequence[WireMessage], legs: Legs) -> Iterator[_BlockAnswer]:
    """Every 200 OK of the S-CSCF to a REGISTER in the capture, in capture order (TR 23.701 5.2.2.5.1)."""
    requests: dict[tuple[str, str], Request] = {}
    for m in messages:
        if m.message is None or m.transport in ("WS", "WSS") or not m.is_sip:
            continue
        src, dst = _node(legs.src(m)), _node(legs.dst(m))
        try:
            if isinstance(m.message, Request) and m.message.method == "REGISTER" and dst == "s-cscf":
                requests[(m.message.call_id, str(m.message.cseq))] = m.message
            elif (
                isinstance(m.message, Response) and src == "s-cscf" and m.message.cseq.method == "REGISTER"
                and m.message.status == 200
            ):  # fmt: skip
                request = requests.get((m.message.call_id, str(m.message.cseq)))
                lifetime = max(
                    (_lifetime(c, m.message, request) for c in m.message.addresses("Contact")), default=0
                )
                associated = tuple(a.uri for a in m.message.addresses("P-Associated-URI"))
                yield _BlockAnswer(m.time, dst, associated, lifetime)
        except SipError:
            continue


def block_registrations_granted(messages: Sequence[WireMessage], legs: Legs) -> dict[str, tuple[float, int]]:
    """TR 23.701 5.2.2.5.1: for each wIMPU block the captured REGISTERs registered, when the S-CSCF's
    last 200 OK listing it in P-Associated-URI was captured (capture clock) and the longest
    lifetime that 200 OK gave a binding (0: none left, de-registered)."""
    return {wimpu: (a.time, a.lifetime) for a in _block_answers(messages, legs) for wimpu in a.associated}


def block_registrations_accepted(messages: Sequence[WireMessage], legs: Legs, wimpu: str) -> list[str]:
    """TR 23.701 5.2.2.5.1 ("as per existing 23.228 procedures": a registration is refreshed before
    it runs out): the node each 200 OK of the S-CSCF to a REGISTER of block ``wimpu`` went to, in
    capture order, for every one that left a binding (a lifetime above 0: not a de-registration)."""
    return [a.to for a in _block_answers(messages, legs) if wimpu in a.associated and a.lifetime > 0]


def _lifetime(contact: NameAddr, response: Response, request: Request | None) -> int:
    """The lifetime of one binding in a 200 OK to REGISTER (RFC 3261 10.2.4): its expires, else Expires."""
    value = contact.param("expires")
    if value is not None and value.isdigit():
        return int(value)
    return _expires(response, request)


@dataclasses.dataclass(frozen=True, slots=True)
class Disagreement:
    """A message a peer of the harness sent or received that the wire did not carry as such."""

    peer: str
    direction: str
    start_line: str

    def __str__(self) -> str:
        return f"{self.peer} {self.direction} {self.start_line!r}, but no captured message has those bytes"


def disagreements(
    seen: Iterable[tuple[str, str, bytes]], messages: Sequence[WireMessage], transports: Sequence[str]
) -> list[Disagreement]:
    """What the harness saw (peer, 'sent'/'received', raw bytes) that the capture lacks, byte for byte.

    Only the messages on ``transports`` are compared (the WICs' WSS, the remote party's TCP/UDP).
    """
    on_wire: dict[bytes, int] = {}
    for m in messages:
        if m.is_sip and m.transport in transports:
            on_wire[m.raw] = on_wire.get(m.raw, 0) + 1
    missing = []
    for peer, direction, raw in seen:
        if on_wire.get(raw, 0) > 0:
            on_wire[raw] -= 1
        else:
            start = raw.split(b"\r\n", 1)[0].decode("utf-8", "replace")
            missing.append(Disagreement(peer, direction, start))
    return missing
