"""Which P-CSCF a stand-alone IWF hands each WIC message to (sans-I/O).

TR 23.701 5.2.2.2: "The IWF can communicate with any P-CSCF since this is internal.
Hence extensibility is easily supported both at the IWF and at the P-CSCF level through
the ability of the WIF to communicate with any P-CSCF allocated to the third party
(identified by the allocated wIMPU ranges belonging to third party). This decomposed
architecture of the eP-CSCF promotes scalability at different levels, resiliency, and
redundancy". So a P-CSCF is chosen by the wIMPU block of the WIC's identity: the one
that serves the block now (it holds the block's lease, ``reference.nodes.p_cscf.lease``).

Rules, in order:

1. a response from a WIC goes to the P-CSCF whose Via is on top (it sent the request);
2. a request whose top Route names a P-CSCF (an in-dialog request, its Record-Route)
   goes to it; if that P-CSCF is gone the dialog is gone: 503 (an ACK is dropped);
3. a CANCEL goes where its INVITE went;
4. any other request goes to the P-CSCF serving the block of the identity (the
   token-checked identity of a REGISTER, else the From URI); none serves it now:
   503 with Retry-After, answered by the IWF itself. An identity in no block of any
   P-CSCF that said hello is no one's to serve, now or later: the request goes to any
   P-CSCF whose link is up, which refuses it as the bundled eP-CSCF does (403,
   ``PROFILE_SEC_FOREIGN_403``; one place decides, not a 503 inviting the WIC to retry).

Resilience: the IWF remembers the last successful REGISTER of each (flow, identity).
When another P-CSCF starts serving a block (the previous one failed), the IWF sends it
those REGISTERs again, with a new branch, and swallows the answers: the WICs stay
registered without knowing (5.2.2.2 "resiliency, and redundancy"). Requests pending at
a P-CSCF when its link goes down are answered 503 with Retry-After at once.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import secrets

from reference.blocks import WimpuBlock, block_of
from reference.nodes.internal_interface import Hello, Sip
from reference.sip.address import parse_name_addr, parse_uri
from reference.sip.errors import SipError
from reference.sip.identity import IdentityError
from reference.sip.message import Request, Response
from reference.sip.transaction_base import make_response
from reference.spec import clause

__all__ = ["Deliver", "Forward", "PcscfRouter", "Reply"]

MAX_PENDING = 10_000
"Most WIC requests remembered while their P-CSCF answers (oldest forgotten first)."


@dataclasses.dataclass(frozen=True, slots=True)
class Forward:
    """Send ``frame`` to the P-CSCF ``link``."""

    link: str
    frame: Sip


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """The IWF answers the WIC on ``flow`` itself."""

    flow: str
    message: Response


@dataclasses.dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``message`` (from a P-CSCF) to the WIC on ``flow``."""

    flow: str
    message: Request | Response


Action = Forward | Reply | Deliver


@dataclasses.dataclass(slots=True)
class _Link:
    name: str
    identity: str
    via: tuple[str, int | None]
    blocks: tuple[WimpuBlock, ...]
    serving: set[str]
    up: bool = True


@dataclasses.dataclass(slots=True)
class _Pending:
    link: str
    request: Request
    identity: str | None


@dataclasses.dataclass(slots=True)
class _Registration:
    request: Request
    link: str


def _sent_by(value: str) -> tuple[str, int | None]:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host.lower(), int(port) if port.isdigit() else None


def _with_branch(request: Request, branch: str) -> Request:
    top = request.get_all("Via")[0]
    new = re.sub(r"(?i)branch=[^;,\s]+", f"branch={branch}", top)
    return request.without_first_value("Via").with_header("Via", new, first=True)


def _deregisters(request: Request) -> bool:
    if request.contact_is_star:
        return True
    contacts = request.contacts
    expires = contacts[0].param("expires") if contacts else None
    return (expires or request.get("Expires") or "").strip() == "0"


class PcscfRouter:
    """The IWF's routing of WIC messages to P-CSCFs, and REGISTER replay on failover."""

    def __init__(self, *, name: str, retry_after: int = 5) -> None:
        self.name = name
        self.retry_after = retry_after
        self.links: dict[str, _Link] = {}
        self._pending: collections.OrderedDict[tuple[str, str], _Pending] = collections.OrderedDict()
        self._registered: dict[tuple[str, str], _Registration] = {}
        self._replays: dict[str, tuple[str, str, str]] = {}
        "branch -> (flow, identity, link) of a REGISTER sent again."
        self.replayed = 0
        "REGISTERs sent again to a new P-CSCF (for tests and logs)."

    # ----- P-CSCF links --------------------------------------------------------------

    def link_up(self, name: str, hello: Hello) -> list[Action]:
        """A P-CSCF said hello; it may serve blocks at once."""
        blocks = hello.blocks
        self.links[name] = _Link(name, hello.identity, _sent_by(hello.via), blocks, set())
        return self.serving(name, hello.serving)

    def link_down(self, name: str) -> list[Action]:
        """A P-CSCF's link broke: what was pending there is answered 503 at once."""
        link = self.links.get(name)
        if link is not None:
            link.up = False
            link.serving.clear()
        actions: list[Action] = []
        for key, pending in list(self._pending.items()):
            if pending.link == name:
                del self._pending[key]
                if pending.request.method != "ACK":
                    actions.append(Reply(key[0], self._unavailable(pending.request, f"P-CSCF {name} failed")))
        for branch, (_, _, target) in list(self._replays.items()):
            if target == name:
                del self._replays[branch]
        return actions

    @clause("TR 23.701 5.2.2.2")
    def serving(self, name: str, wimpus: tuple[str, ...] | list[str]) -> list[Action]:
        """P-CSCF ``name`` serves ``wimpus`` now: replay the REGISTERs of their WICs there
        (TR 23.701 5.2.2.2: the decomposed eP-CSCF's "resiliency, and redundancy")."""
        link = self.links.get(name)
        if link is None:
            return []
        gained = set(wimpus) - link.serving
        link.serving = set(wimpus)
        for other in self.links.values():
            if other is not link:
                other.serving -= gained
        actions: list[Action] = []
        for (flow, identity), registration in list(self._registered.items()):
            block = self._block(identity)
            if block is None or str(block.wimpu) not in gained or registration.link == name:
                continue
            branch = f"z9hG4bK-{self.name}-replay-{secrets.token_hex(6)}"
            self._replays[branch] = (flow, identity, name)
            self.replayed += 1
            actions.append(Forward(name, Sip(flow, _with_branch(registration.request, branch), identity)))
        return actions

    def _block(self, identity: str) -> WimpuBlock | None:
        blocks = [b for link in self.links.values() for b in link.blocks]
        try:
            return block_of(blocks, identity)
        except IdentityError:
            return None

    def serving_link(self, identity: str) -> _Link | None:
        """The P-CSCF serving the block of ``identity`` now, if any."""
        block = self._block(identity)
        if block is None:
            return None
        return next(
            (link for link in self.links.values() if link.up and str(block.wimpu) in link.serving), None
        )

    # ----- from WICs -----------------------------------------------------------------

    def flow_closed(self, flow: str) -> None:
        for key in [k for k in self._registered if k[0] == flow]:
            del self._registered[key]
        for key in [k for k in self._pending if k[0] == flow]:
            del self._pending[key]

    @clause("TR 23.701 5.2.2.2")
    def from_wic(self, flow: str, message: Request | Response, identity: str | None) -> list[Action]:
        """Where a message from a WIC goes (rules 1-4 of the module docstring): TR 23.701
        5.2.2.2, "the ability of the WIF to communicate with any P-CSCF allocated to the
        third party (identified by the allocated wIMPU ranges belonging to third party)"."""
        try:
            if isinstance(message, Response):
                via = message.top_via
                link = self._link_by_sent_by(via.host, via.port)
                return [] if link is None else [Forward(link.name, Sip(flow, message))]
            return self._request(flow, message, identity)
        except (SipError, ValueError):
            return []  # the IWF's framing accepted it; a P-CSCF would refuse it the same way

    def _request(self, flow: str, request: Request, identity: str | None) -> list[Action]:
        routes = request.get_all("Route")
        if routes:
            top = parse_uri(parse_name_addr(routes[0]).uri)
            for link in self.links.values():
                if link.via == (top.host.lower(), top.port):
                    if link.up:
                        return self._send(link, flow, request, identity)
                    if request.method == "ACK":
                        return []
                    why = f"the dialog's P-CSCF {link.name} failed"
                    return [Reply(flow, self._unavailable(request, why))]
        branch = request.branch or ""
        if request.method == "CANCEL":
            pending = self._pending.get((flow, branch))
            if pending is not None and self.links[pending.link].up:
                return self._send(self.links[pending.link], flow, request, None)
        who = identity if request.method == "REGISTER" and identity else request.from_.uri
        serving = self.serving_link(who)
        if serving is None:
            anyone = next((link for link in self.links.values() if link.up), None)
            if anyone is not None and self._block(who) is None:
                # the ACK of that P-CSCF's 403 too (the same first link up): its transaction ends
                return self._send(anyone, flow, request, identity)
            if request.method == "ACK":
                return []
            return [Reply(flow, self._unavailable(request, "no P-CSCF serves the wIMPU block now"))]
        return self._send(serving, flow, request, identity)

    def _send(self, link: _Link, flow: str, request: Request, identity: str | None) -> list[Action]:
        if request.method != "ACK":
            self._pending[(flow, request.branch or "")] = _Pending(link.name, request, identity)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return [Forward(link.name, Sip(flow, request, identity if request.method == "REGISTER" else None))]

    def _link_by_sent_by(self, host: str, port: int | None) -> _Link | None:
        key = (host.lower(), port)
        return next((link for link in self.links.values() if link.up and link.via == key), None)

    def _unavailable(self, request: Request, why: str) -> Response:
        response = make_response(request, 503, "Service Unavailable", to_tag=secrets.token_hex(4))
        return response.with_header("Retry-After", str(self.retry_after)).with_header(
            "Warning", f'399 {self.name} "{why}"'
        )

    # ----- from P-CSCFs --------------------------------------------------------------

    def from_pcscf(self, name: str, frame: Sip) -> list[Action]:
        """A message from P-CSCF ``name`` for a WIC; swallow the answers to replays."""
        message = frame.message
        if isinstance(message, Request):
            return [Deliver(frame.flow, message)]
        branch = message.branch or ""
        replay = self._replays.get(branch)
        if replay is not None:
            if message.is_final:
                del self._replays[branch]
                flow, identity, target = replay
                registration = self._registered.get((flow, identity))
                if message.status < 300 and registration is not None:
                    registration.link = target
            return []
        pending = self._pending.get((frame.flow, branch))
        if pending is not None and message.is_final:
            del self._pending[(frame.flow, branch)]
            if pending.request.method == "REGISTER" and message.status < 300 and pending.identity:
                key = (frame.flow, pending.identity)
                if _deregisters(pending.request):
                    self._registered.pop(key, None)
                else:
                    self._registered[key] = _Registration(pending.request, name)
        return [Deliver(frame.flow, message)]
